"""The worked examples of OCPP 1.6 §3.13 and §5.16.4 (with errata 3.43, 3.44, 3.79).

The figures of §3.13.2 and §5.16.4 are pictures; their situations are reproduced from the text with
concrete numbers. §3.13.7 is reproduced exactly.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from ocpp_station.scheduling import (
    ChargingProfile,
    ChargingRateUnit,
    InstalledProfile,
    Limit,
    composite_schedule,
    limit_for_connector,
    profile_from_wire,
    schedule_at,
)
from ocpp_station.scheduling.composite import ConnectorContext
from ocpp_station.wire.messages import ChargingSchedule, ChargingSchedulePeriod
from ocpp_station.wire.schemas import to_builtins
from tests.scheduling.test_profiles import EXAMPLE_3_13_7

A = ChargingRateUnit.A
W = ChargingRateUnit.W
H = 3600


def ts(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def profile(
    *,
    pid: int = 1,
    stack: int = 0,
    purpose: str = "TxDefaultProfile",
    kind: str = "Absolute",
    start: str | None = "2024-01-01T00:00:00",
    periods: list[tuple[int, float]] | None = None,
    unit: str = "A",
    duration: int | None = None,
    **extra: Any,
) -> ChargingProfile:
    schedule: dict[str, Any] = {
        "chargingRateUnit": unit,
        "chargingSchedulePeriod": [{"startPeriod": s, "limit": v} for s, v in (periods or [(0, 16)])],
    }
    if start is not None:
        schedule["startSchedule"] = start + "Z"
    if duration is not None:
        schedule["duration"] = duration
    wire: dict[str, Any] = {
        "chargingProfileId": pid,
        "stackLevel": stack,
        "chargingProfilePurpose": purpose,
        "chargingProfileKind": kind,
        "chargingSchedule": schedule,
        **extra,
    }
    return profile_from_wire(wire)


# --- §3.13.7 example data structure -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("at", "limit_w", "next_change"),
    [
        ("2024-05-10T07:00:00", 11000.0, "2024-05-10T08:00:00"),
        ("2024-05-10T08:00:00", 6000.0, "2024-05-10T20:00:00"),
        ("2024-05-10T19:59:59", 6000.0, "2024-05-10T20:00:00"),
        ("2024-05-10T20:00:00", 11000.0, "2024-05-11T08:00:00"),  # the daily restart is no change
        ("2024-05-10T23:30:00", 11000.0, "2024-05-11T08:00:00"),
    ],
)
def test_3_13_7_daily_6kw_between_8_and_20(at: str, limit_w: float, next_change: str) -> None:
    daily = profile_from_wire(EXAMPLE_3_13_7)
    assert schedule_at(daily, ts(at)) == (Limit(limit_w, W, 3), ts(next_change))


def test_3_13_7_in_amperes_at_230_v() -> None:
    installed = [InstalledProfile(0, profile_from_wire(EXAMPLE_3_13_7))]
    limit, nxt = limit_for_connector(installed, 1, ts("2024-05-10T12:00:00"), unit=A)
    assert limit is not None
    assert limit.value == pytest.approx(6000 / (230 * 3))  # 8.69 A per phase
    assert nxt == ts("2024-05-10T20:00:00")


def test_3_13_7_composite_for_one_day() -> None:
    installed = [InstalledProfile(0, profile_from_wire(EXAMPLE_3_13_7))]
    result = composite_schedule(
        installed,
        1,
        ts("2024-05-10T00:00:00"),
        86400,
        W,
        connectors={1: ConnectorContext()},
        default_limit=22000,
    )
    assert result == ChargingSchedule(
        duration=86400,
        charging_rate_unit=W,
        charging_schedule_period=[
            ChargingSchedulePeriod(start_period=0, limit=11000.0, number_phases=3),
            ChargingSchedulePeriod(start_period=28800, limit=6000.0, number_phases=3),
            ChargingSchedulePeriod(start_period=72000, limit=11000.0, number_phases=3),
        ],
    )
    assert to_builtins(result) == {
        "duration": 86400,
        "chargingRateUnit": "W",
        "chargingSchedulePeriod": [
            {"startPeriod": 0, "limit": 11000.0, "numberPhases": 3},
            {"startPeriod": 28800, "limit": 6000.0, "numberPhases": 3},
            {"startPeriod": 72000, "limit": 11000.0, "numberPhases": 3},
        ],
    }


# --- §3.13.2 stacking ------------------------------------------------------------------------------

MONDAY = "2024-01-01T00:00:00"  # 2024-01-01 is a Monday
FULL, REDUCED = 32.0, 6.0


def _weekly_policy() -> ChargingProfile:
    """Full current on weekdays 23:00-06:00 and all weekend, reduced at other times (§3.13.2)."""
    periods: list[tuple[int, float]] = [(0, FULL)]
    for day in range(5):
        periods.append((day * 24 * H + 6 * H, REDUCED))
        periods.append((day * 24 * H + 23 * H, FULL))
    return profile(pid=10, kind="Recurring", recurrencyKind="Weekly", start=MONDAY, periods=periods)


def _holiday() -> ChargingProfile:
    """An exception for a holiday (Wednesday 2024-05-01), one stack level up."""
    return profile(
        pid=11, stack=1, start="2024-05-01T00:00:00", periods=[(0, FULL)],
        validFrom="2024-05-01T00:00:00Z", validTo="2024-05-02T00:00:00Z",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("at", "expected", "next_change"),
    [
        ("2024-04-30T12:00:00", REDUCED, "2024-04-30T23:00:00"),  # Tuesday
        ("2024-04-30T23:30:00", FULL, "2024-05-02T06:00:00"),  # the holiday keeps it full
        ("2024-05-01T12:00:00", FULL, "2024-05-02T06:00:00"),  # holiday Wednesday
        ("2024-05-02T12:00:00", REDUCED, "2024-05-02T23:00:00"),  # back to the calendar
        ("2024-05-04T12:00:00", FULL, "2024-05-06T06:00:00"),  # Saturday, until Monday 06:00
    ],
)
def test_3_13_2_weekly_calendar_with_holiday_exception(at: str, expected: float, next_change: str) -> None:
    installed = [InstalledProfile(0, _weekly_policy()), InstalledProfile(0, _holiday())]
    assert limit_for_connector(installed, 1, ts(at)) == (Limit(expected, A), ts(next_change))


def test_3_13_2_future_valid_from_reverts_to_default_until_valid() -> None:
    """A replacement with validFrom in the future: default behaviour (the lower stack level, or no
    limit) until validFrom is reached."""
    now = ts("2024-03-01T10:00:00")
    lower = profile(pid=1, stack=0, periods=[(0, 10)])
    update = profile(pid=2, stack=1, periods=[(0, 16)], validFrom="2024-03-01T11:00:00Z")
    assert limit_for_connector([InstalledProfile(1, lower), InstalledProfile(1, update)], 1, now) == (
        Limit(10, A),
        ts("2024-03-01T11:00:00"),
    )
    assert limit_for_connector([InstalledProfile(1, update)], 1, now) == (None, ts("2024-03-01T11:00:00"))
    assert limit_for_connector([InstalledProfile(1, update)], 1, now + H)[0] == Limit(16, A)


def test_3_13_2_no_duration_on_top_never_falls_back() -> None:
    lower = profile(pid=1, stack=0, periods=[(0, 10)])
    top = profile(pid=2, stack=5, periods=[(0, 20), (H, 12)])
    installed = [InstalledProfile(1, lower), InstalledProfile(1, top)]
    assert limit_for_connector(installed, 1, ts("2030-01-01T00:00:00")) == (Limit(12, A), None)


# --- §3.13.3 combining purposes ----------------------------------------------------------------------


def test_3_13_3_minimum_of_purposes_with_different_intervals() -> None:
    cp_max = profile(pid=1, purpose="ChargePointMaxProfile", periods=[(0, 32), (2 * H, 10), (5 * H, 32)])
    default = profile(pid=2, periods=[(0, 16), (3 * H, 20)])
    installed = [InstalledProfile(0, cp_max), InstalledProfile(0, default)]
    start = ts(MONDAY)
    result = composite_schedule(
        installed, 1, start, 6 * H, A, connectors={1: ConnectorContext()}, default_limit=32
    )
    assert result.charging_schedule_period == [
        ChargingSchedulePeriod(start_period=0, limit=16.0),
        ChargingSchedulePeriod(start_period=2 * H, limit=10.0),
        ChargingSchedulePeriod(start_period=5 * H, limit=20.0),
    ]


def test_3_13_3_charge_point_max_caps_the_sum_of_connectors() -> None:
    """§5.7 connector 0: the total the Charge Point expects to draw, capped by ChargePointMaxProfile."""
    cp_max = profile(pid=1, purpose="ChargePointMaxProfile", periods=[(0, 40), (H, 20)])
    default = profile(pid=2, periods=[(0, 16)])
    installed = [InstalledProfile(0, cp_max), InstalledProfile(0, default)]
    connectors = {1: ConnectorContext(), 2: ConnectorContext(hardware_max=Limit(10, A))}
    result = composite_schedule(installed, 0, ts(MONDAY), 2 * H, A, connectors=connectors, default_limit=32)
    assert result.charging_schedule_period == [
        ChargingSchedulePeriod(start_period=0, limit=26.0),
        ChargingSchedulePeriod(start_period=H, limit=20.0),
    ]


# --- §3.13.1 purposes ----------------------------------------------------------------------------------


def test_3_13_1_tx_profile_overrules_default_only_during_its_transaction() -> None:
    tx_start = ts("2024-02-01T09:00:00")
    default = profile(pid=1, stack=3, periods=[(0, 16)])
    tx = profile(pid=2, stack=0, purpose="TxProfile", kind="Relative", start=None, periods=[(0, 8), (H, 24)])
    installed = [InstalledProfile(0, default), InstalledProfile(1, tx)]
    now = tx_start + 10
    assert limit_for_connector(installed, 1, now) == (Limit(16, A), None)  # no transaction
    assert limit_for_connector(installed, 1, now, tx_start=tx_start) == (Limit(8, A), tx_start + H)
    assert limit_for_connector(installed, 2, now, tx_start=tx_start) == (
        Limit(16, A),
        None,
    )  # other connector


def test_3_13_1_tx_profile_for_another_transaction_is_ignored() -> None:
    tx = profile(pid=2, purpose="TxProfile", kind="Relative", start=None, periods=[(0, 8)], transactionId=41)
    installed = [InstalledProfile(1, tx)]
    assert limit_for_connector(installed, 1, 100.0, tx_start=0.0, transaction_id=42) == (None, None)
    assert limit_for_connector(installed, 1, 100.0, tx_start=0.0, transaction_id=41) == (Limit(8, A), None)


def test_3_13_1_connector_default_replaces_the_connector_0_one_for_that_connector() -> None:
    everywhere = profile(pid=1, stack=0, periods=[(0, 16)])
    here = profile(pid=2, stack=0, periods=[(0, 10)])
    installed = [InstalledProfile(0, everywhere), InstalledProfile(2, here)]
    now = ts("2024-06-01T00:00:00")
    assert limit_for_connector(installed, 1, now)[0] == Limit(16, A)
    assert limit_for_connector(installed, 2, now)[0] == Limit(10, A)


def test_hardware_max_caps_and_units_mix() -> None:
    default = profile(pid=1, periods=[(0, 11040)], unit="W")  # 16 A on 3 phases at 230 V
    limit, _ = limit_for_connector([InstalledProfile(0, default)], 1, ts(MONDAY) + 1, unit=A)
    assert limit is not None and limit.value == pytest.approx(16.0)
    capped, _ = limit_for_connector(
        [InstalledProfile(0, default)], 1, ts(MONDAY) + 1, unit=W, hardware_max=Limit(10, A)
    )
    assert capped == Limit(6900.0, W)


# --- §5.16.4 duration and periods; errata 3.43 and 3.44 ------------------------------------------------


def test_5_16_4_duration_longer_than_periods_keeps_the_last_value() -> None:
    p = profile(periods=[(0, 10), (H, 20)], duration=4 * H)
    start = ts(MONDAY)
    assert schedule_at(p, start + 2 * H) == (Limit(20, A), start + 4 * H)
    assert schedule_at(p, start + 4 * H) == (None, None)


def test_5_16_4_periods_past_the_duration_are_not_executed_and_fall_back() -> None:
    """Erratum 3.43: after the duration, the profile with a lower stackLevel applies."""
    p = profile(pid=2, stack=1, periods=[(0, 10), (H, 20), (3 * H, 30)], duration=2 * H)
    lower = profile(pid=1, stack=0, periods=[(0, 6)])
    start = ts(MONDAY)
    installed = [InstalledProfile(1, p), InstalledProfile(1, lower)]
    assert limit_for_connector(installed, 1, start + 90 * 60) == (Limit(20, A), start + 2 * H)
    assert limit_for_connector(installed, 1, start + 3 * H + 1) == (Limit(6, A), None)


def test_erratum_3_44_recurrence_truncates_a_longer_schedule() -> None:
    p = profile(
        kind="Recurring",
        recurrencyKind="Daily",
        periods=[(0, 10), (20 * H, 20), (30 * H, 30)],
        duration=40 * H,
    )
    day = ts(MONDAY)
    assert schedule_at(p, day + 21 * H) == (Limit(20, A), day + 24 * H)
    assert schedule_at(p, day + 24 * H + 7 * H) == (Limit(10, A), day + 24 * H + 20 * H)


def test_recurring_with_short_duration_idles_until_the_next_occurrence() -> None:
    p = profile(kind="Recurring", recurrencyKind="Daily", start="2024-01-01T22:00:00", duration=4 * H)
    day = ts(MONDAY)
    assert schedule_at(p, day + 12 * H) == (None, day + 22 * H)  # before the first occurrence
    assert schedule_at(p, day + 23 * H) == (Limit(16, A), day + 26 * H)
    assert schedule_at(p, day + 30 * H) == (None, day + 46 * H)


def test_relative_profile_runs_from_the_transaction_start() -> None:
    p = profile(kind="Relative", start=None, periods=[(0, 6), (600, 16)], duration=3600)
    assert schedule_at(p, 1000.0) == (None, None)
    assert schedule_at(p, 1000.0, tx_start=900.0) == (Limit(6, A), 1500.0)
    assert schedule_at(p, 2000.0, tx_start=900.0) == (Limit(16, A), 4500.0)
    assert schedule_at(p, 1000.0, tx_start=1200.0) == (None, 1200.0)


def test_valid_to_ends_a_profile() -> None:
    p = profile(periods=[(0, 6)], validTo="2024-01-01T05:00:00Z")
    assert schedule_at(p, ts(MONDAY) + H) == (Limit(6, A), ts(MONDAY) + 5 * H)
    assert schedule_at(p, ts(MONDAY) + 5 * H) == (None, None)


def test_absolute_before_its_start() -> None:
    p = profile(start="2024-01-02T00:00:00")
    assert schedule_at(p, ts(MONDAY)) == (None, ts("2024-01-02T00:00:00"))


def test_example_profile_is_not_mutated() -> None:
    before = copy.deepcopy(EXAMPLE_3_13_7)
    profile_from_wire(EXAMPLE_3_13_7)
    assert before == EXAMPLE_3_13_7
