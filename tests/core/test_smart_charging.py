"""Smart Charging (OCPP 1.6 §3.13, §5.5, §5.7, §5.16, §9.4): the OCTT cases of the profile (test case
document FINAL 2024-04) and unit tests of statuses, limits applied over time and persistence."""

from __future__ import annotations

from typing import Any

from ocpp_station.core.clock import format_datetime
from ocpp_station.core.effects import ApplyChargingLimit, Persist
from ocpp_station.core.engine import Engine
from ocpp_station.core.events import CablePlugged, CableUnplugged, Connected
from ocpp_station.core.model import Restored
from tests.core.harness import Harness, charging


def profile(
    profile_id: int,
    purpose: str,
    periods: list[tuple[int, float]],
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


def stored(h: Harness) -> dict[str, dict[str, Any]]:
    records: dict[str, dict[str, Any]] = {}
    for effect in h.effects:
        if isinstance(effect, Persist) and effect.kind == "charging_profiles":
            if effect.value is None:
                records.pop(effect.key, None)
            else:
                records[effect.key] = effect.value
    return records


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
    # Unknown connector, stack level above the maximum, too many periods.
    assert set_profile(h, 5, profile(2, "TxDefaultProfile", [(0, 10)], start=now)) == "Rejected"
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
