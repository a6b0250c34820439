"""Parsing and validation of ChargingProfile (OCPP 1.6 §7.8, §7.13, §7.14 and errata)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest

from ocpp_station.scheduling import (
    ChargingProfileKind,
    ChargingProfilePurpose,
    ChargingRateUnit,
    ChargingSchedulePeriod,
    ProfileError,
    RecurrencyKind,
    parse_charging_profile,
    profile_from_wire,
    profile_to_message,
    profile_to_wire,
)
from ocpp_station.wire import messages
from ocpp_station.wire.timestamps import strict_dec_hook

# OCPP 1.6 §3.13.7: a daily default profile limiting the power to 6 kW between 08:00h and 20:00h.
# The spec prints startSchedule as "2013-01-01T00:00Z": without the seconds RFC 3339 asks (§3.15),
# which the schema's date-time check refuses on the wire; the same instant is written in full here.
EXAMPLE_3_13_7: dict[str, Any] = {
    "chargingProfileId": 100,
    "stackLevel": 0,
    "chargingProfilePurpose": "TxDefaultProfile",
    "chargingProfileKind": "Recurring",
    "recurrencyKind": "Daily",
    "chargingSchedule": {
        "duration": 86400,
        "startSchedule": "2013-01-01T00:00:00Z",
        "chargingRateUnit": "W",
        "chargingSchedulePeriod": [
            {"startPeriod": 0, "limit": 11000, "numberPhases": 3},
            {"startPeriod": 28800, "limit": 6000, "numberPhases": 3},
            {"startPeriod": 72000, "limit": 11000, "numberPhases": 3},
        ],
    },
}


def test_parses_the_example_of_3_13_7() -> None:
    profile = profile_from_wire(EXAMPLE_3_13_7)
    assert profile.charging_profile_id == 100
    assert profile.stack_level == 0
    assert profile.purpose is ChargingProfilePurpose.TxDefaultProfile
    assert profile.kind is ChargingProfileKind.Recurring
    assert profile.recurrency_kind is RecurrencyKind.Daily
    assert profile.schedule.duration == 86400
    assert profile.schedule.start_schedule == datetime(2013, 1, 1, tzinfo=UTC).timestamp()
    assert profile.schedule.charging_rate_unit is ChargingRateUnit.W
    assert profile.schedule.periods == (
        ChargingSchedulePeriod(0, 11000.0, 3),
        ChargingSchedulePeriod(28800, 6000.0, 3),
        ChargingSchedulePeriod(72000, 11000.0, 3),
    )


def test_round_trips_through_the_wire_form() -> None:
    wire = copy.deepcopy(EXAMPLE_3_13_7)
    wire["validFrom"] = "2020-01-01T00:00:00.000Z"
    wire["validTo"] = "2030-01-01T00:00:00.000Z"
    wire["chargingSchedule"]["minChargingRate"] = 1380.0
    profile = profile_from_wire(wire)
    assert profile_from_wire(profile_to_wire(profile)) == profile


def _typed(wire: dict[str, Any]) -> messages.ChargingProfile:
    """The typed ChargingProfile of a wire dict, as SetChargingProfile.req delivers it."""
    return msgspec.convert(wire, messages.ChargingProfile, dec_hook=strict_dec_hook)


def test_the_typed_profile_and_its_wire_form_give_the_same_model() -> None:
    typed = _typed(EXAMPLE_3_13_7)
    profile = parse_charging_profile(typed)
    assert profile == profile_from_wire(EXAMPLE_3_13_7)
    assert profile_to_message(profile) == typed


def test_a_record_stored_before_typed_messages_loads_and_is_written_alike() -> None:
    """Records of kind charging_profiles keep their wire form: one written by the dict-based
    profile_to_wire (its key order, limits as floats, instants with milliseconds) reads back."""
    record = {
        "chargingProfileId": 7,
        "stackLevel": 1,
        "chargingProfilePurpose": "TxDefaultProfile",
        "chargingProfileKind": "Recurring",
        "chargingSchedule": {
            "chargingRateUnit": "W",
            "chargingSchedulePeriod": [
                {"startPeriod": 0, "limit": 11000.0, "numberPhases": 3},
                {"startPeriod": 3600, "limit": 6000.5},
            ],
            "duration": 86400,
            "startSchedule": "2024-01-01T06:30:00.250Z",
            "minChargingRate": 1380.0,
        },
        "recurrencyKind": "Weekly",
        "validFrom": "2024-01-01T00:00:00.000Z",
        "validTo": "2030-01-01T00:00:00.000Z",
    }
    profile = profile_from_wire(record)
    assert profile.schedule.start_schedule == datetime(2024, 1, 1, 6, 30, 0, 250_000, tzinfo=UTC).timestamp()
    assert profile.schedule.periods[1] == ChargingSchedulePeriod(3600, 6000.5, None)
    assert profile_to_wire(profile) == record


def test_relative_ignores_start_schedule() -> None:
    wire = {
        "chargingProfileId": 1,
        "transactionId": 7,
        "stackLevel": 2,
        "chargingProfilePurpose": "TxProfile",
        "chargingProfileKind": "Relative",
        "chargingSchedule": {
            "chargingRateUnit": "A",
            "startSchedule": "2024-01-01T00:00:00+01:00",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.5}],
        },
    }
    profile = profile_from_wire(wire)
    assert profile.schedule.start_schedule is None
    assert profile.transaction_id == 7


def _broken(path: list[str | int], value: Any) -> dict[str, Any]:
    wire = copy.deepcopy(EXAMPLE_3_13_7)
    target: Any = wire
    for key in path[:-1]:
        target = target[key]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return wire


_DELETE = object()
_PERIODS = ["chargingSchedule", "chargingSchedulePeriod"]


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (["recurrencyKind"], _DELETE, "recurrencyKind"),
        (["chargingProfileKind"], "Absolute", "recurrencyKind"),  # erratum 3.56
        (["chargingProfileKind"], "Sometimes", "chargingProfileKind"),
        (["chargingProfileId"], _DELETE, "chargingProfileId"),
        (["chargingProfileId"], True, "chargingProfileId"),
        (["stackLevel"], -1, "stackLevel"),
        (["transactionId"], 5, "transactionId"),  # only on TxProfile
        (["validFrom"], "yesterday", "validFrom"),
        (["validFrom"], "2030-01-01T00:00:00Z", "validTo"),
        (["surprise"], 1, "surprise"),
        (["chargingSchedule", "startSchedule"], _DELETE, "chargingSchedule.startSchedule"),
        (["chargingSchedule", "chargingRateUnit"], "kW", "chargingSchedule.chargingRateUnit"),
        (["chargingSchedule", "duration"], -5, "chargingSchedule.duration"),
        (_PERIODS, [], "chargingSchedule.chargingSchedulePeriod"),
        ([*_PERIODS, 0, "startPeriod"], 10, "chargingSchedule.chargingSchedulePeriod[0].startPeriod"),
        ([*_PERIODS, 2, "startPeriod"], 28800, "chargingSchedule.chargingSchedulePeriod[2].startPeriod"),
        ([*_PERIODS, 1, "limit"], -1, "chargingSchedule.chargingSchedulePeriod[1].limit"),
        ([*_PERIODS, 1, "limit"], "6000", "chargingSchedule.chargingSchedulePeriod[1].limit"),
        ([*_PERIODS, 1, "numberPhases"], 4, "chargingSchedule.chargingSchedulePeriod[1].numberPhases"),
    ],
)
def test_rejects_inconsistent_input_naming_the_field(path: list[str | int], value: Any, field: str) -> None:
    wire = _broken(path, value)
    if path == ["validFrom"] and field == "validTo":
        wire["validTo"] = "2029-01-01T00:00:00Z"
    with pytest.raises(ProfileError) as caught:
        profile_from_wire(wire)
    assert caught.value.field == field
    assert isinstance(caught.value, ValueError)


def test_invalid_enumeration_hints_property_constraint_violation() -> None:
    """Erratum 3.38: an invalid enumeration value is a CALLERROR PropertyConstraintViolation."""
    with pytest.raises(ProfileError) as caught:
        profile_from_wire(_broken(["chargingSchedule", "chargingRateUnit"], "kW"))
    assert caught.value.error_code == "PropertyConstraintViolation"


def test_charge_point_max_profile_cannot_be_relative() -> None:
    wire = _broken(["chargingProfilePurpose"], "ChargePointMaxProfile")
    wire["chargingProfileKind"] = "Relative"
    del wire["recurrencyKind"]
    with pytest.raises(ProfileError) as caught:
        profile_from_wire(wire)
    assert caught.value.field == "chargingProfileKind"


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (["recurrencyKind"], _DELETE, "recurrencyKind"),
        (["stackLevel"], -1, "stackLevel"),
        (["transactionId"], 5, "transactionId"),
        (["chargingSchedule", "duration"], -5, "chargingSchedule.duration"),
        (["chargingSchedule", "chargingSchedulePeriod"], [], "chargingSchedule.chargingSchedulePeriod"),
        (
            ["chargingSchedule", "chargingSchedulePeriod", 1, "limit"],
            -1,
            "chargingSchedule.chargingSchedulePeriod[1].limit",
        ),
    ],
)
def test_a_typed_profile_the_schema_allows_is_still_checked(
    path: list[str | int], value: Any, field: str
) -> None:
    """What the schema cannot say (signs, order, the errata's rules) is checked on the typed struct."""
    typed = _typed(_broken(path, value))
    with pytest.raises(ProfileError) as caught:
        parse_charging_profile(typed)
    assert caught.value.field == field
