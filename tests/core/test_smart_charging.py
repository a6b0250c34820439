"""Smart Charging (OCPP 1.6 §3.13, §5.5, §5.7, §5.16, §9.4): the OCTT cases of the profile (test case
document FINAL 2024-04) and unit tests of statuses, errata 3.24/3.38/3.39/3.41, the connectors'
supply, connector 0, the ChargePointMaxProfile shared between connectors, limits applied over time,
persistence and restarts, and a CSMS clock jump."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ocpp_station.core.clock import format_datetime
from ocpp_station.core.effects import ApplyChargingLimit, Energize, Persist
from ocpp_station.core.engine import Engine
from ocpp_station.core.events import Booted, CablePlugged, CableUnplugged, Connected, IdTagPresented
from ocpp_station.core.model import Restored
from ocpp_station.core.settings import ConnectorSpec, EngineSettings
from ocpp_station.storage.base import encode_record
from ocpp_station.wire import messages
from ocpp_station.wire.errors import ErrorCode, OcppError
from ocpp_station.wire.frames import Call
from ocpp_station.wire.timestamps import strict_dec_hook
from tests.core.harness import Harness, charging

TWO = EngineSettings(connectors=(ConnectorSpec(), ConnectorSpec()))


def profile(
    profile_id: int,
    purpose: str,
    periods: Sequence[tuple[int, float]],
    *,
    stack_level: int = 0,
    kind: str = "Absolute",
    start: float | None = None,
    duration: int | None = None,
    unit: str = "A",
    transaction_id: int | None = None,
    valid_from: float | None = None,
    valid_to: float | None = None,
) -> dict[str, Any]:
    schedule: dict[str, Any] = {
        "chargingRateUnit": unit,
        "chargingSchedulePeriod": [{"startPeriod": s, "limit": limit} for s, limit in periods],
    }
    if duration is not None:
        schedule["duration"] = duration
    if start is not None:
        schedule["startSchedule"] = format_datetime(start)
    wire: dict[str, Any] = {
        "chargingProfileId": profile_id,
        "stackLevel": stack_level,
        "chargingProfilePurpose": purpose,
        "chargingProfileKind": kind,
        "chargingSchedule": schedule,
    }
    if transaction_id is not None:
        wire["transactionId"] = transaction_id
    if valid_from is not None:
        wire["validFrom"] = format_datetime(valid_from)
    if valid_to is not None:
        wire["validTo"] = format_datetime(valid_to)
    return wire


def set_profile(h: Harness, connector_id: int, wire: dict[str, Any]) -> str:
    result = h.csms_result("SetChargingProfile", {"connectorId": connector_id, "csChargingProfiles": wire})
    status: str = result["status"]
    return status


def composite(h: Harness, connector_id: int, duration: int, unit: str | None = None) -> dict[str, Any]:
    payload: dict[str, Any] = {"connectorId": connector_id, "duration": duration}
    if unit is not None:
        payload["chargingRateUnit"] = unit
    return h.csms_result("GetCompositeSchedule", payload)


def periods(result: dict[str, Any]) -> list[tuple[int, float]]:
    return [(p["startPeriod"], p["limit"]) for p in result["chargingSchedule"]["chargingSchedulePeriod"]]


def limits(h: Harness, connector_id: int = 1) -> list[float]:
    return [e.limit_a for e in h.effects_of(ApplyChargingLimit) if e.connector_id == connector_id]


def stored(h: Harness, kind: str = "charging_profiles") -> dict[str, dict[str, Any]]:
    records: dict[str, dict[str, Any]] = {}
    for effect in h.effects:
        if isinstance(effect, Persist) and effect.kind == kind:
            if effect.value is None:
                records.pop(effect.key, None)
            else:
                records[effect.key] = effect.value
    return records


def power_cycle(h: Harness, *, plugged: tuple[int, ...] = ()) -> Harness:
    """A crash: a new engine from what ``h`` stored (profiles, transactions, queued messages), the
    EV still in on ``plugged``, then Booted and the link up."""
    kinds = ("charging_profiles", "transactions", "outbox")
    restored = Restored.from_records({kind: stored(h, kind) for kind in kinds})
    after = Harness(h.settings, config=h.stored_config, now=h.now, connect=False)
    after.next_tx_id = h.next_tx_id
    after.engine = Engine(h.settings, now=h.now, config_values=h.stored_config, restored=restored)
    for connector_id in plugged:
        after.feed(CablePlugged(connector_id))
    after.feed(Booted())
    after.feed(Connected())
    return after


def call_error(h: Harness, action: str, payload: dict[str, Any]) -> str:
    answer = h.csms_call(action, payload)
    assert answer[0] == 4, answer
    code: str = answer[2]
    return code


# -- OCTT ------------------------------------------------------------------------------------------


def test_TC_056_central_smart_charging_tx_default_profile() -> None:
    h = Harness()
    wire = profile(1, "TxDefaultProfile", [(0, 6), (60, 10)], start=h.now, duration=300)
    assert set_profile(h, 1, wire) == "Accepted"
    result = composite(h, 1, 300)
    assert result["status"] == "Accepted"
    assert result["connectorId"] == 1
    assert result["scheduleStart"] == format_datetime(h.now)
    assert result["chargingSchedule"]["duration"] == 300
    assert result["chargingSchedule"]["chargingRateUnit"] == "A"
    assert periods(result) == [(0, 6), (60, 10)]


def test_TC_057_central_smart_charging_tx_profile() -> None:
    h = Harness()
    transaction_id = charging(h)
    wire = profile(
        2, "TxProfile", [(0, 8), (100, 12)], start=h.now, duration=300, transaction_id=transaction_id
    )
    assert set_profile(h, 1, wire) == "Accepted"
    assert limits(h)[-1] == 8
    result = composite(h, 1, 400)
    assert result["status"] == "Accepted"
    # After the TxProfile's duration, the connector's hardware maximum (32 A).
    assert periods(result) == [(0, 8), (100, 12), (300, 32)]


def test_TC_058_1_tx_profile_without_transaction_is_rejected() -> None:
    h = Harness()
    wire = profile(3, "TxProfile", [(0, 8)], start=h.now, transaction_id=1234)
    assert set_profile(h, 1, wire) == "Rejected"
    assert stored(h) == {}


def test_TC_058_2_tx_profile_for_another_transaction_is_rejected() -> None:
    h = Harness()
    transaction_id = charging(h)
    wire = profile(3, "TxProfile", [(0, 8)], start=h.now, transaction_id=transaction_id + 1)
    assert set_profile(h, 1, wire) == "Rejected"
    assert limits(h) == [32]


def test_TC_066_get_composite_schedule() -> None:
    h = Harness()
    charging(h)
    start = h.now
    assert set_profile(h, 0, profile(1, "ChargePointMaxProfile", [(0, 10)], start=start, duration=86400)) == (
        "Accepted"
    )
    tx_default = profile(
        2,
        "TxDefaultProfile",
        [(0, 6), (60, 10), (120, 8), (180, 15), (260, 8)],
        start=start,
        duration=300,
        valid_from=start,
        valid_to=start + 401,
    )
    assert set_profile(h, 1, tx_default) == "Accepted"
    tx = profile(
        3,
        "TxProfile",
        [(0, 8), (50, 11), (140, 16), (200, 6), (240, 12)],
        start=start,
        duration=260,
        valid_from=start,
        valid_to=start + 401,
    )
    assert set_profile(h, 1, tx) == "Accepted"
    result = composite(h, 1, 400)
    assert result["status"] == "Accepted"
    assert periods(result) == [(0, 8), (50, 10), (200, 6), (240, 10), (260, 8), (300, 10)]


def test_TC_059_remote_start_transaction_with_charging_profile() -> None:
    h = Harness()
    h.feed(CablePlugged(1))
    wire = profile(9, "TxProfile", [(0, 7), (30, 11)], kind="Relative", duration=100)
    result = h.csms_result(
        "RemoteStartTransaction", {"connectorId": 1, "idTag": "TAG", "chargingProfile": wire}
    )
    assert result == {"status": "Accepted"}
    assert h.statuses(1)[-1] == "Charging"
    assert limits(h) == [7]
    h.advance(10)
    result = composite(h, 1, 200, "A")
    assert result["status"] == "Accepted" and result["connectorId"] == 1
    assert result["scheduleStart"] == format_datetime(h.now)
    assert result["chargingSchedule"]["duration"] == 200
    assert result["chargingSchedule"]["chargingRateUnit"] == "A"
    # Followed from the transaction start: 20 s of 7 A left, then 11 A, then the connector's 32 A.
    assert periods(result) == [(0, 7), (20, 11), (90, 32)]
    h.advance(20)
    assert limits(h) == [7, 11]


def test_the_tx_profile_of_a_remote_start_is_stored_in_its_wire_form() -> None:
    """The transaction's record keeps the TxProfile of RemoteStartTransaction.req as JSON, in the
    wire form it had before typed messages (an existing data directory still loads)."""
    h = Harness()
    h.feed(CablePlugged(1))
    wire = profile(9, "TxProfile", [(0, 7), (30, 11)], kind="Relative", duration=100)
    h.csms_result("RemoteStartTransaction", {"connectorId": 1, "idTag": "TAG", "chargingProfile": wire})
    [record] = stored(h, "transactions").values()
    assert record["txProfile"] == wire
    assert orjson.loads(encode_record(record)) == record


@pytest.mark.parametrize("purpose", ["TxDefaultProfile", "ChargePointMaxProfile"])
def test_TC_060_remote_start_transaction_with_charging_profile_rejected(purpose: str) -> None:
    h = Harness()
    h.feed(CablePlugged(1))
    wire = profile(9, purpose, [(0, 7)], start=h.now)
    result = h.csms_result(
        "RemoteStartTransaction", {"connectorId": 1, "idTag": "TAG", "chargingProfile": wire}
    )
    assert result == {"status": "Rejected"}
    assert "StartTransaction" not in h.actions()
    assert stored(h) == {}


def test_remote_start_tx_profile_with_transaction_id_or_unusable_is_rejected() -> None:
    """Erratum 3.41: transactionId SHALL NOT be set; a profile that cannot be executed (Absolute
    without startSchedule, a stackLevel above ChargeProfileMaxStackLevel) is refused before the
    transaction starts, not dropped after."""
    h = Harness()
    h.feed(CablePlugged(1))
    for wire in (
        profile(9, "TxProfile", [(0, 7)], kind="Relative", transaction_id=5),
        profile(9, "TxProfile", [(0, 7)]),
        profile(9, "TxProfile", [(0, 7)], kind="Relative", stack_level=9),  # above ChargeProfileMaxStackLevel
    ):
        result = h.csms_result(
            "RemoteStartTransaction", {"connectorId": 1, "idTag": "TAG", "chargingProfile": wire}
        )
        assert result == {"status": "Rejected"}
    assert "StartTransaction" not in h.actions()


@pytest.mark.parametrize(("unit", "scale"), [("A", 1), ("W", 1000)])
def test_TC_072_stacking_charging_profiles(unit: str, scale: int) -> None:
    h = Harness()
    start = h.now
    end = start + 401

    def stacked(profile_id: int, level: int, duration: int, steps: list[tuple[int, float]]) -> dict[str, Any]:
        periods = [(offset, limit * scale) for offset, limit in steps]
        return profile(
            profile_id,
            "TxDefaultProfile",
            periods,
            stack_level=level,
            start=start,
            duration=duration,
            unit=unit,
            valid_from=start,
            valid_to=end,
        )

    assert set_profile(h, 1, stacked(1, 0, 400, [(0, 6), (100, 8), (200, 10)])) == "Accepted"
    assert set_profile(h, 1, stacked(2, 1, 150, [(0, 7), (100, 9)])) == "Accepted"
    x = 3
    h.advance(x)
    result = composite(h, 1, 350, unit)
    assert result["status"] == "Accepted" and result["connectorId"] == 1
    assert result["chargingSchedule"]["duration"] == 350
    assert result["chargingSchedule"]["chargingRateUnit"] == unit
    assert periods(result) == [
        (0, 7 * scale),
        (100 - x, 9 * scale),
        (150 - x, 8 * scale),
        (200 - x, 10 * scale),
    ]


@pytest.mark.parametrize(("unit", "limit", "applied_a"), [("A", 6, 6), ("W", 6000, 8.6)])
def test_TC_082_tx_default_profile_with_ongoing_transaction(
    unit: str, limit: float, applied_a: float
) -> None:
    h = Harness()
    charging(h)
    wire = profile(1, "TxDefaultProfile", [(0, limit)], stack_level=1, start=h.now, duration=300, unit=unit)
    wire["chargingSchedule"]["chargingSchedulePeriod"][0]["numberPhases"] = 3
    assert set_profile(h, 1, wire) == "Accepted"
    assert limits(h) == [32, applied_a]  # 6000 W / (230 V x 3) = 8.69 A, applied rounded down
    result = composite(h, 1, 300, unit)
    assert result["status"] == "Accepted" and result["connectorId"] == 1
    assert result["scheduleStart"] == format_datetime(h.now)
    assert result["chargingSchedule"]["duration"] == 300
    assert result["chargingSchedule"]["chargingRateUnit"] == unit
    assert result["chargingSchedule"]["chargingSchedulePeriod"] == [
        {"startPeriod": 0, "limit": limit, "numberPhases": 3}
    ]
    h.advance(300)
    assert limits(h)[-1] == 32


def test_TC_067_clear_charging_profile() -> None:
    h = Harness()
    assert set_profile(h, 1, profile(5, "TxDefaultProfile", [(0, 6)], start=h.now)) == "Accepted"
    assert h.csms_result("ClearChargingProfile", {"id": 5}) == {"status": "Accepted"}
    assert h.csms_result("ClearChargingProfile", {"id": 5}) == {"status": "Unknown"}
    assert stored(h) == {}
    assert periods(composite(h, 1, 60)) == [(0, 32)]


# -- statuses ----------------------------------------------------------------------------------------


def test_supported_profile_and_keys() -> None:
    h = Harness()
    conf = h.csms_result(
        "GetConfiguration",
        {
            "key": [
                "SupportedFeatureProfiles",
                "ChargeProfileMaxStackLevel",
                "ChargingScheduleAllowedChargingRateUnit",
                "ChargingScheduleMaxPeriods",
                "MaxChargingProfilesInstalled",
            ]
        },
    )
    values = {k["key"]: k for k in conf["configurationKey"]}
    assert "SmartCharging" in values["SupportedFeatureProfiles"]["value"].split(",")
    assert values["ChargeProfileMaxStackLevel"]["value"] == "8"
    assert values["ChargingScheduleAllowedChargingRateUnit"]["value"] == "Current,Power"
    assert all(k["readonly"] for k in values.values())


def test_set_charging_profile_rejections() -> None:
    h = Harness()
    now = h.now
    # ChargePointMaxProfile only on connector 0; TxDefaultProfile on 0 is fine.
    assert set_profile(h, 1, profile(1, "ChargePointMaxProfile", [(0, 10)], start=now)) == "Rejected"
    assert set_profile(h, 0, profile(1, "TxDefaultProfile", [(0, 10)], start=now)) == "Accepted"
    # Stack level above the maximum, too many periods (an unknown connector: see the errata test).
    assert (
        set_profile(h, 1, profile(2, "TxDefaultProfile", [(0, 10)], start=now, stack_level=9)) == "Rejected"
    )
    many = [(i * 10, 10) for i in range(25)]
    assert set_profile(h, 1, profile(2, "TxDefaultProfile", many, start=now)) == "Rejected"
    # Not parseable (Absolute without startSchedule).
    assert set_profile(h, 1, profile(2, "TxDefaultProfile", [(0, 10)])) == "Rejected"
    assert list(stored(h)) == ["1"]


def test_replacement_and_max_installed() -> None:
    h = Harness(config={"MaxChargingProfilesInstalled": "2"})
    now = h.now
    assert (
        set_profile(h, 1, profile(1, "TxDefaultProfile", [(0, 10)], start=now, stack_level=1)) == "Accepted"
    )
    # Same purpose and stackLevel on the same connector replaces.
    assert (
        set_profile(h, 1, profile(2, "TxDefaultProfile", [(0, 12)], start=now, stack_level=1)) == "Accepted"
    )
    assert sorted(stored(h)) == ["2"]
    assert (
        set_profile(h, 1, profile(3, "TxDefaultProfile", [(0, 14)], start=now, stack_level=2)) == "Accepted"
    )
    # Full: a third is rejected, but the same id replaces.
    assert (
        set_profile(h, 1, profile(4, "TxDefaultProfile", [(0, 14)], start=now, stack_level=3)) == "Rejected"
    )
    assert set_profile(h, 1, profile(3, "TxDefaultProfile", [(0, 9)], start=now, stack_level=3)) == "Accepted"
    assert sorted(stored(h)) == ["2", "3"]
    assert periods(composite(h, 1, 60)) == [(0, 9)]


def test_clear_by_filters() -> None:
    h = Harness()
    now = h.now
    assert set_profile(h, 0, profile(1, "ChargePointMaxProfile", [(0, 20)], start=now)) == "Accepted"
    assert (
        set_profile(h, 1, profile(2, "TxDefaultProfile", [(0, 10)], start=now, stack_level=1)) == "Accepted"
    )
    assert (
        set_profile(h, 1, profile(3, "TxDefaultProfile", [(0, 12)], start=now, stack_level=2)) == "Accepted"
    )
    cleared = h.csms_result(
        "ClearChargingProfile",
        {"connectorId": 1, "chargingProfilePurpose": "TxDefaultProfile", "stackLevel": 3},
    )
    assert cleared == {"status": "Unknown"}
    cleared = h.csms_result("ClearChargingProfile", {"chargingProfilePurpose": "TxDefaultProfile"})
    assert cleared == {"status": "Accepted"}
    assert sorted(stored(h)) == ["1"]
    assert h.csms_result("ClearChargingProfile", {}) == {"status": "Accepted"}
    assert stored(h) == {}


def test_composite_schedule_unknown_connector_and_power_unit() -> None:
    h = Harness()
    assert composite(h, 7, 60) == {"status": "Rejected"}
    assert set_profile(h, 1, profile(1, "TxDefaultProfile", [(0, 10)], start=h.now)) == "Accepted"
    result = composite(h, 1, 60, "W")
    assert result["chargingSchedule"]["chargingRateUnit"] == "W"
    assert periods(result) == [(0, 6900)]  # 10 A x 230 V x 3 phases


# -- the limit applied -------------------------------------------------------------------------------


def test_limit_follows_the_schedule_on_the_fake_clock() -> None:
    h = Harness()
    charging(h)
    assert limits(h) == [32]
    wire = profile(1, "TxDefaultProfile", [(0, 16), (60, 10)], start=h.now, duration=120)
    assert set_profile(h, 1, wire) == "Accepted"
    assert limits(h) == [32, 16]
    h.advance(59)
    assert limits(h) == [32, 16]
    h.advance(1)
    assert limits(h) == [32, 16, 10]
    h.advance(60)
    assert limits(h) == [32, 16, 10, 32]
    # Nothing more changes: no timer left.
    assert h.engine.ctx.timers.due_at("smart-charging") is None


def test_default_profile_applies_when_a_transaction_starts() -> None:
    h = Harness()
    assert set_profile(h, 0, profile(1, "TxDefaultProfile", [(0, 13)], start=h.now)) == "Accepted"
    assert limits(h) == []  # nothing energized
    charging(h)
    assert limits(h) == [13]


def test_remote_start_tx_profile_is_installed_and_removed_at_the_end() -> None:
    h = Harness()
    h.feed(CablePlugged(1))
    wire = profile(9, "TxProfile", [(0, 7), (30, 11)], kind="Relative")
    result = h.csms_result(
        "RemoteStartTransaction", {"connectorId": 1, "idTag": "TAG", "chargingProfile": wire}
    )
    assert result == {"status": "Accepted"}
    assert limits(h) == [7]
    assert list(stored(h)) == ["9"]
    h.advance(30)
    assert limits(h) == [7, 11]
    h.feed(CableUnplugged(1))  # StopTransactionOnEVSideDisconnect
    assert limits(h)[-1] == 0
    assert stored(h) == {}
    assert h.engine.ctx.timers.due_at("smart-charging") is None


def test_charge_point_max_profile_caps_the_connector() -> None:
    h = Harness()
    charging(h)
    assert set_profile(h, 0, profile(1, "ChargePointMaxProfile", [(0, 20)], start=h.now, duration=50)) == (
        "Accepted"
    )
    assert limits(h) == [32, 20]
    h.advance(50)
    assert limits(h) == [32, 20, 32]


def test_profiles_survive_a_restart() -> None:
    h = Harness()
    now = h.now
    assert set_profile(h, 0, profile(1, "ChargePointMaxProfile", [(0, 20)], start=now)) == "Accepted"
    assert set_profile(h, 1, profile(2, "TxDefaultProfile", [(0, 10), (60, 14)], start=now)) == "Accepted"
    assert set_profile(h, 1, profile(3, "TxDefaultProfile", [(0, 5)], start=now, stack_level=1)) == "Accepted"
    assert h.csms_result("ClearChargingProfile", {"id": 3}) == {"status": "Accepted"}
    before = periods(composite(h, 1, 120))
    engine = Engine(
        h.settings,
        now=h.now,
        restored=Restored.from_records({"charging_profiles": stored(h)}),
    )
    assert sorted(engine.smart_charging.installed) == [1, 2]
    h.engine = engine
    h.feed(Connected())
    assert periods(composite(h, 1, 120)) == before == [(0, 10), (60, 14)]


# -- errata 3.24, 3.38, 3.39 --------------------------------------------------------------------------


@pytest.mark.parametrize("strict", [True, False])
def test_invalid_enumerations_are_property_constraint_violations(strict: bool) -> None:
    """Errata 3.38 (an invalid enumeration in ChargingProfile or ChargingSchedule) and 3.24
    (GetCompositeSchedule chargingRateUnit): CALLERROR PropertyConstraintViolation, in strict and in
    lenient mode alike; nothing is installed."""
    h = Harness(EngineSettings(strict=strict))
    bad_unit = profile(1, "TxDefaultProfile", [(0, 6)], start=h.now)
    bad_unit["chargingSchedule"]["chargingRateUnit"] = "kW"
    bad_purpose = profile(1, "TxDefaultProfile", [(0, 6)], start=h.now)
    bad_purpose["chargingProfilePurpose"] = "TxMaxProfile"
    bad_kind = profile(1, "TxDefaultProfile", [(0, 6)], start=h.now, kind="Once")
    bad_recurrency = profile(1, "TxDefaultProfile", [(0, 6)], start=h.now, kind="Recurring")
    bad_recurrency["recurrencyKind"] = "Monthly"
    for wire in (bad_unit, bad_purpose, bad_kind, bad_recurrency):
        code = call_error(h, "SetChargingProfile", {"connectorId": 1, "csChargingProfiles": wire})
        assert code == "PropertyConstraintViolation"
    code = call_error(h, "GetCompositeSchedule", {"connectorId": 1, "duration": 60, "chargingRateUnit": "kW"})
    assert code == "PropertyConstraintViolation"
    code = call_error(
        h,
        "RemoteStartTransaction",
        {"idTag": "TAG", "chargingProfile": {**bad_unit, "chargingProfilePurpose": "TxProfile"}},
    )
    assert code == "PropertyConstraintViolation"
    assert stored(h) == {}


def test_enumeration_error_found_by_the_parser_is_a_call_error() -> None:
    """Should a request built unchecked reach the handler (a struct is not checked when it is
    built, only when it is decoded), the parser's enumeration error is still the CALLERROR of
    erratum 3.38 (not a Rejected)."""
    h = Harness()
    wire = profile(1, "TxDefaultProfile", [(0, 6)], start=h.now)
    typed = msgspec.convert(wire, messages.ChargingProfile, dec_hook=strict_dec_hook)
    unchecked = msgspec.structs.replace(
        typed, charging_schedule=msgspec.structs.replace(typed.charging_schedule, charging_rate_unit="kW")
    )
    payload = {"connectorId": 1, "csChargingProfiles": wire}
    request = messages.SetChargingProfileRequest(connector_id=1, cs_charging_profiles=unchecked)
    with pytest.raises(OcppError) as raised:
        h.engine.smart_charging._set(request, Call("id", "SetChargingProfile", payload))
    assert raised.value.code == ErrorCode.PropertyConstraintViolation


def test_unknown_connector_is_a_property_constraint_violation() -> None:
    """Erratum 3.39 for SetChargingProfile; GetCompositeSchedule keeps §5.7's Rejected."""
    h = Harness()
    wire = profile(1, "TxDefaultProfile", [(0, 6)], start=h.now)
    assert call_error(h, "SetChargingProfile", {"connectorId": 5, "csChargingProfiles": wire}) == (
        "PropertyConstraintViolation"
    )
    assert composite(h, 5, 60) == {"status": "Rejected"}


def test_values_the_schema_allows_but_cannot_be_executed_are_rejected() -> None:
    """Not enumerations: §5.16 lets the Charge Point answer Rejected (negative stackLevel or limit,
    numberPhases above 3, periods not starting at 0 or not ascending)."""
    h = Harness()
    now = h.now
    negative_level = profile(1, "TxDefaultProfile", [(0, 6)], start=now, stack_level=-1)
    negative_limit = profile(1, "TxDefaultProfile", [(0, -6)], start=now)
    phases = profile(1, "TxDefaultProfile", [(0, 6)], start=now)
    phases["chargingSchedule"]["chargingSchedulePeriod"][0]["numberPhases"] = 4
    late_start = profile(1, "TxDefaultProfile", [(10, 6)], start=now)
    unordered = profile(1, "TxDefaultProfile", [(0, 6), (60, 8), (30, 7)], start=now)
    for wire in (negative_level, negative_limit, phases, late_start, unordered):
        assert set_profile(h, 1, wire) == "Rejected"
    assert stored(h) == {}


# -- supply: voltage and phases ------------------------------------------------------------------------

MIXED = EngineSettings(
    connectors=(
        ConnectorSpec(max_current_a=16, phases=1, voltage_v=230),
        ConnectorSpec(max_current_a=32, phases=3, voltage_v=120),
    )
)


def test_conversions_use_the_connectors_voltage_and_phases() -> None:
    h = Harness(MIXED)
    # Without profiles: each connector's rating on its own supply; connector 0 is their sum.
    assert periods(composite(h, 1, 60, "W")) == [(0, 16 * 230)]
    assert periods(composite(h, 2, 60, "W")) == [(0, 32 * 120 * 3)]
    assert periods(composite(h, 0, 60, "W")) == [(0, 16 * 230 + 32 * 120 * 3)]
    assert periods(composite(h, 0, 60, "A")) == [(0, 48)]
    # A power limit becomes a current on each connector's own supply.
    assert set_profile(h, 0, profile(1, "TxDefaultProfile", [(0, 2300)], start=h.now, unit="W")) == "Accepted"
    assert periods(composite(h, 1, 60, "A")) == [(0, 10)]  # 2300 W / 230 V / 1 phase
    assert periods(composite(h, 2, 60, "A")) == [(0, 6.3)]  # 2300 W / 120 V / 3 phases, rounded down
    charging(h, 1)
    charging(h, 2, "TAG2")
    assert limits(h, 1) == [10]
    assert limits(h, 2) == [6.3]


def test_number_phases_of_a_period_is_used() -> None:
    h = Harness()  # 32 A, 3 phases, 230 V
    wire = profile(1, "TxDefaultProfile", [(0, 4600), (60, 4600)], start=h.now, unit="W")
    wire["chargingSchedule"]["chargingSchedulePeriod"][1]["numberPhases"] = 1
    assert set_profile(h, 1, wire) == "Accepted"
    # 4600 W on 3 phases: 6.6 A per phase; on one phase: 20 A.
    assert periods(composite(h, 1, 120, "A")) == [(0, 6.6), (60, 20)]


def _cp_max_switching_phases(h: Harness) -> None:
    """The issue-8 ChargePointMaxProfile: 10 A, from 80 s 20 A on 2 phases, from 160 s 20 A on 3."""
    wire = profile(1, "ChargePointMaxProfile", [(0, 10), (80, 20), (160, 20)], start=h.now)
    wire["chargingSchedule"]["chargingSchedulePeriod"][1]["numberPhases"] = 2
    wire["chargingSchedule"]["chargingSchedulePeriod"][2]["numberPhases"] = 3
    assert set_profile(h, 0, wire) == "Accepted"


def schedule_periods(result: dict[str, Any]) -> list[dict[str, Any]]:
    periods: list[dict[str, Any]] = result["chargingSchedule"]["chargingSchedulePeriod"]
    return periods


SWITCHING_PHASES = [
    {"startPeriod": 0, "limit": 10},
    {"startPeriod": 80, "limit": 20, "numberPhases": 2},
    {"startPeriod": 160, "limit": 20, "numberPhases": 3},
]


def test_composite_keeps_number_phases_of_the_charge_point_max_profile() -> None:
    """§5.7 with erratum 3.30, §7.14: periods that differ only in numberPhases stay apart, for an idle
    connector, a charging one and connector 0 (the grid connection) alike."""
    h = Harness()
    _cp_max_switching_phases(h)
    assert schedule_periods(composite(h, 1, 240)) == SWITCHING_PHASES  # idle
    assert schedule_periods(composite(h, 0, 240)) == SWITCHING_PHASES
    charging(h)
    assert schedule_periods(composite(h, 1, 240)) == SWITCHING_PHASES  # charging: its share, all of it
    assert schedule_periods(composite(h, 0, 240)) == SWITCHING_PHASES
    # The limit applied follows the schedule (the hardware offers a current per phase, see
    # docs/smart_charging.md on phases).
    assert limits(h) == [10]
    h.advance(80)
    assert limits(h) == [10, 20]
    h.advance(80)
    assert limits(h) == [10, 20]  # the same 20 A per phase


def test_composite_of_connectors_sharing_the_charge_point_max_keeps_number_phases() -> None:
    h = Harness(TWO)
    _cp_max_switching_phases(h)
    charging(h, 1)
    charging(h, 2, "TAG2")
    shares = [{**p, "limit": p["limit"] / 2} for p in SWITCHING_PHASES]
    assert schedule_periods(composite(h, 1, 240)) == shares
    assert schedule_periods(composite(h, 2, 240)) == shares
    assert schedule_periods(composite(h, 0, 240)) == SWITCHING_PHASES


def test_composite_in_watts_converts_with_the_number_phases_in_force() -> None:
    """§7.12 / §7.14: 20 A on 2 phases is 2 x 20 x 230 W; for a charging connector and connector 0."""
    h = Harness()
    _cp_max_switching_phases(h)
    charging(h)
    expected = [
        {"startPeriod": 0, "limit": 10 * 230 * 3},
        {"startPeriod": 80, "limit": 20 * 230 * 2, "numberPhases": 2},
        {"startPeriod": 160, "limit": 20 * 230 * 3, "numberPhases": 3},
    ]
    assert schedule_periods(composite(h, 1, 240, "W")) == expected
    assert schedule_periods(composite(h, 0, 240, "W")) == expected


# -- connector 0 and the ChargePointMaxProfile shared ----------------------------------------------------


def test_connector_0_composite_is_the_sum_capped() -> None:
    h = Harness(TWO)
    now = h.now
    assert periods(composite(h, 0, 60)) == [(0, 64)]  # hardware: 2 x 32 A
    assert set_profile(h, 0, profile(1, "ChargePointMaxProfile", [(0, 100), (30, 40)], start=now)) == (
        "Accepted"
    )
    # ChargePointMaxProfile above the hardware maximum: the hardware maximum.
    assert periods(composite(h, 0, 60)) == [(0, 64), (30, 40)]
    assert set_profile(h, 0, profile(2, "TxDefaultProfile", [(0, 10)], start=now)) == "Accepted"
    assert periods(composite(h, 0, 60)) == [(0, 20)]  # 10 A on each connector


def test_charge_point_max_profile_is_shared_between_charging_connectors() -> None:
    h = Harness(TWO)
    now = h.now
    assert set_profile(h, 0, profile(1, "ChargePointMaxProfile", [(0, 40), (60, 20)], start=now)) == (
        "Accepted"
    )
    charging(h, 1)
    assert limits(h, 1) == [32]  # alone: its own 32 A (below 40)
    mark = len(h.effects)
    charging(h, 2, "TAG2")
    assert limits(h, 1) == [32, 20] and limits(h, 2) == [20]
    # Within the step, connector 1 is lowered before connector 2 gets its share.
    applied = [e for e in h.effects[mark:] if isinstance(e, ApplyChargingLimit)]
    assert [(e.connector_id, e.limit_a) for e in applied] == [(1, 20), (2, 20)]
    # The composite of a charging connector is its share; connector 0 the capped sum.
    assert periods(composite(h, 1, 120)) == [(0, 20), (60, 10)]
    assert periods(composite(h, 0, 120)) == [(0, 40), (60, 20)]
    # A lower TxProfile on connector 2: connector 1 takes what connector 2 cannot.
    tx2 = h.engine.ctx.connectors[2].transaction
    assert tx2 is not None
    wire = profile(5, "TxProfile", [(0, 8)], start=now, transaction_id=tx2.transaction_id)
    assert set_profile(h, 2, wire) == "Accepted"
    assert limits(h, 1)[-1] == 32 and limits(h, 2)[-1] == 8
    h.advance(60)  # the ChargePointMaxProfile drops to 20 A
    assert limits(h, 1)[-1] == 12 and limits(h, 2)[-1] == 8
    h.feed(CableUnplugged(2))  # connector 2 stops: connector 1 gets it all again
    assert limits(h, 1)[-1] == 20
    assert limits(h, 2)[-1] == 0


THREE = EngineSettings(connectors=(ConnectorSpec(), ConnectorSpec(), ConnectorSpec(max_current_a=16)))
TAGS = {1: "TAG", 2: "TAG2", 3: "PARENT_A"}
steps = st.lists(
    st.tuples(
        st.sampled_from(["start", "stop", "cp_max", "tx_profile", "wait"]),
        st.integers(1, 3),
        st.integers(0, 64),
    ),
    max_size=12,
)


@settings(max_examples=40, deadline=None)
@given(steps)
def test_applied_limits_never_sum_above_charge_point_max(script: list[tuple[str, int, int]]) -> None:
    """§3.13.3 through the engine: after every effect of every step (the CSMS lowering the
    ChargePointMaxProfile aside, which the hardware can only follow), the limits offered on the
    energized connectors add up to at most the ChargePointMaxProfile."""
    h = Harness(THREE)
    cp_max = 50
    assert set_profile(h, 0, profile(100, "ChargePointMaxProfile", [(0, cp_max)], start=h.now)) == "Accepted"
    applied: dict[int, float] = {}
    energized: set[int] = set()

    def check(effects: list[Any], *, lowering: bool) -> None:
        for effect in effects:
            if isinstance(effect, ApplyChargingLimit):
                applied[effect.connector_id] = effect.limit_a
            elif isinstance(effect, Energize):
                (energized.add if effect.on else energized.discard)(effect.connector_id)
            if not lowering:
                assert sum(applied[c] for c in energized) <= cp_max + 1e-9
        assert sum(applied[c] for c in energized) <= cp_max + 1e-9

    for action, c, value in script:
        mark = len(h.effects)
        tx = h.engine.ctx.connectors[c].transaction
        lowering = False
        if action == "start" and tx is None:
            charging(h, c, TAGS[c])
        elif action == "stop" and tx is not None:
            h.feed(CableUnplugged(c))
        elif action == "cp_max":
            lowering = value < cp_max
            cp_max = value
            wire = profile(100, "ChargePointMaxProfile", [(0, value)], start=h.now)
            assert set_profile(h, 0, wire) == "Accepted"
        elif action == "tx_profile" and tx is not None:
            wire = profile(200 + c, "TxProfile", [(0, value), (30, 64 - value)], kind="Relative")
            assert set_profile(h, c, wire) == "Accepted"
        else:
            h.advance(value)
        check(h.effects[mark:], lowering=lowering)


# -- restart and clock ----------------------------------------------------------------------------------


def test_tx_profile_of_a_transaction_not_resumed_is_removed_after_a_restart() -> None:
    h = Harness(config={"MaxChargingProfilesInstalled": "1"})
    h.feed(CablePlugged(1))
    wire = profile(9, "TxProfile", [(0, 7)], kind="Relative")
    assert h.csms_result(
        "RemoteStartTransaction", {"connectorId": 1, "idTag": "TAG", "chargingProfile": wire}
    ) == {"status": "Accepted"}
    assert list(stored(h)) == ["9"]
    after = power_cycle(h, plugged=(1,))  # resume_transactions is off: stopped, PowerLoss
    assert [p["reason"] for p in after.sent("StopTransaction")] == ["PowerLoss"]
    assert after.engine.smart_charging.installed == {}
    assert any(
        isinstance(e, Persist) and e.kind == "charging_profiles" and e.key == "9" and e.value is None
        for e in after.effects
    )
    # It no longer counts toward MaxChargingProfilesInstalled.
    assert set_profile(after, 1, profile(1, "TxDefaultProfile", [(0, 10)], start=after.now)) == "Accepted"


def test_tx_profile_of_a_resumed_transaction_is_kept_after_a_restart() -> None:
    h = Harness(EngineSettings(resume_transactions=True))
    h.feed(CablePlugged(1))
    wire = profile(9, "TxProfile", [(0, 7), (600, 9)], kind="Relative")
    assert h.csms_result(
        "RemoteStartTransaction", {"connectorId": 1, "idTag": "TAG", "chargingProfile": wire}
    ) == {"status": "Accepted"}
    h.advance(60)
    after = power_cycle(h, plugged=(1,))
    assert "StopTransaction" not in after.actions()
    assert sorted(after.engine.smart_charging.installed) == [9]
    assert limits(after) == [7]
    after.advance(540)
    assert limits(after) == [7, 9]


def test_stored_tx_profile_without_any_transaction_is_dropped_at_boot() -> None:
    h = Harness(connect=False)
    record = {"connectorId": 1, "profile": profile(9, "TxProfile", [(0, 7)], kind="Relative")}
    restored = Restored.from_records({"charging_profiles": {"9": record}})
    h.engine = Engine(h.settings, now=h.now, restored=restored)
    assert sorted(h.engine.smart_charging.installed) == [9]  # kept until the recovery has run
    h.feed(Booted())
    assert h.engine.smart_charging.installed == {}
    assert [(e.key, e.value) for e in h.effects_of(Persist) if e.kind == "charging_profiles"] == [("9", None)]


def test_clock_jump_reapplies_limits_and_rearms_the_timer() -> None:
    """The first sync moves the OCPP clock 10 min ahead (engine._clock_corrected): the limit of the
    schedule at the new time applies at once and the timer follows the new clock."""
    now = 1_764_000_000.0
    config = {"LocalAuthorizeOffline": "true", "AllowOfflineTxForUnknownId": "true"}
    record = {
        "connectorId": 1,
        "profile": profile(1, "TxDefaultProfile", [(0, 16), (600, 10), (1200, 6)], start=now),
    }
    h = Harness(config=config, now=now, connect=False)
    h.engine = Engine(
        h.settings,
        now=now,
        config_values=config,
        restored=Restored.from_records({"charging_profiles": {"1": record}}),
    )
    h.feed(CablePlugged(1))
    h.feed(IdTagPresented("TAG"))
    assert limits(h) == [16]
    assert h.engine.ctx.timers.due_at("smart-charging") == now + 600
    h.responders["BootNotification"] = lambda p: {
        "status": "Accepted",
        "currentTime": format_datetime(h.now + 660),
        "interval": 300,
    }
    h.responders["Heartbeat"] = lambda p: {"currentTime": format_datetime(h.now + 660)}
    h.feed(Connected())
    assert limits(h) == [16, 10]
    assert h.engine.ctx.timers.due_at("smart-charging") == now + 540
    h.advance(540)
    assert limits(h) == [16, 10, 6]


def test_a_later_clock_jump_rearms_the_timer_too() -> None:
    """Not only the first sync: a Heartbeat that moves the OCPP clock re-applies the limits."""
    h = Harness()
    h.feed(CablePlugged(1))
    h.feed(IdTagPresented("TAG", 1))
    start = h.now
    profile = {
        "chargingProfileId": 7,
        "stackLevel": 0,
        "chargingProfilePurpose": "TxDefaultProfile",
        "chargingProfileKind": "Absolute",
        "chargingSchedule": {
            "startSchedule": format_datetime(start),
            "chargingRateUnit": "A",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16}, {"startPeriod": 1000, "limit": 8}],
        },
    }
    assert h.csms_result("SetChargingProfile", {"connectorId": 1, "csChargingProfiles": profile}) == {
        "status": "Accepted"
    }
    h.responders["Heartbeat"] = lambda p: {"currentTime": format_datetime(h.now + 900)}
    h.advance(300)  # the heartbeat: the OCPP clock is now start + 1200, in the second period
    limits = [e.limit_a for e in h.effects_of(ApplyChargingLimit) if e.connector_id == 1]
    assert limits[-1] == 8


def test_power_off_without_ending_the_transaction_shares_its_limit_out() -> None:
    """SuspendedEVSE after an invalid idTag (StopTransactionOnInvalidId false, §3.5.4): the
    transaction goes on without power, and the other connector takes the whole ChargePointMaxProfile."""
    h = Harness(TWO, config={"StopTransactionOnInvalidId": "false"})
    assert set_profile(h, 0, profile(1, "ChargePointMaxProfile", [(0, 40)], start=h.now)) == "Accepted"
    charging(h, 1)
    h.responders["StartTransaction"] = lambda p: {"transactionId": 900, "idTagInfo": {"status": "Blocked"}}
    h.feed(CablePlugged(2))
    h.feed(IdTagPresented("TAG2", 2))
    assert h.sent("StartTransaction")[-1]["connectorId"] == 2
    assert h.statuses(2)[-1] == "SuspendedEVSE"
    assert h.engine.ctx.connectors[2].transaction is not None
    assert limits(h, 2)[-1] == 0 and limits(h, 1)[-1] == 32
