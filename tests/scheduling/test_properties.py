"""Schedule invariants under hypothesis (OCPP 1.6 §3.13.2, §3.13.3, §5.7, §7.12)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

from hypothesis import given, settings
from hypothesis import strategies as st
from msgspec import UNSET

from ocpp_station.scheduling import (
    ChargingProfile,
    ChargingProfileKind,
    ChargingProfilePurpose,
    ChargingRateUnit,
    ChargingSchedule,
    ChargingSchedulePeriod,
    ConnectorContext,
    InstalledProfile,
    Limit,
    RecurrencyKind,
    charge_point_limit,
    composite_schedule,
    convert,
    fair_shares,
    limit_for_connector,
    profile_from_wire,
    profile_to_wire,
    round_limit,
    schedule_at,
    shared_limits,
)
from ocpp_station.scheduling.limits import fewest_phases
from ocpp_station.wire.messages import ChargingSchedulePeriod as ChargingSchedulePeriodType

T0 = 1_700_006_400  # a midnight UTC
DAY = 86_400
A = ChargingRateUnit.A
P = ChargingProfilePurpose
KINDS = {
    P.ChargePointMaxProfile: [ChargingProfileKind.Absolute, ChargingProfileKind.Recurring],
    P.TxDefaultProfile: list(ChargingProfileKind),
    P.TxProfile: [ChargingProfileKind.Absolute, ChargingProfileKind.Relative],
}

instants = st.integers(T0 - 2 * DAY, T0 + 3 * DAY).map(float)


@st.composite
def profiles(
    draw: st.DrawFn, purpose: ChargingProfilePurpose, *, units: Sequence[ChargingRateUnit] = (A,)
) -> ChargingProfile:
    kind = draw(st.sampled_from(KINDS[purpose]))
    starts = draw(st.lists(st.integers(1, 2 * DAY), max_size=4, unique=True))
    unit = draw(st.sampled_from(units))
    scale = 1 if unit is A else 230
    periods = tuple(
        ChargingSchedulePeriod(
            s, float(draw(st.integers(0, 64)) * scale), draw(st.sampled_from([None, 1, 3]))
        )
        for s in [0, *sorted(starts)]
    )
    valid_from = draw(st.none() | instants)
    valid_to = draw(st.none() | instants)
    if valid_from is not None and valid_to is not None and valid_to <= valid_from:
        valid_to = None
    return ChargingProfile(
        charging_profile_id=draw(st.integers(1, 10_000)),
        stack_level=draw(st.integers(0, 5)),
        purpose=purpose,
        kind=kind,
        schedule=ChargingSchedule(
            charging_rate_unit=unit,
            periods=periods,
            duration=draw(st.none() | st.integers(1, 3 * DAY)),
            start_schedule=None if kind is ChargingProfileKind.Relative else float(draw(instants)),
        ),
        recurrency_kind=draw(st.sampled_from(list(RecurrencyKind)))
        if kind is ChargingProfileKind.Recurring
        else None,
        valid_from=valid_from,
        valid_to=valid_to,
    )


@st.composite
def installations(draw: st.DrawFn, *, units: Sequence[ChargingRateUnit] = (A,)) -> list[InstalledProfile]:
    result = [
        InstalledProfile(0, p)
        for p in draw(st.lists(profiles(P.ChargePointMaxProfile, units=units), max_size=2))
    ]
    for p in draw(st.lists(profiles(P.TxDefaultProfile, units=units), max_size=3)):
        result.append(InstalledProfile(draw(st.integers(0, 2)), p))
    for p in draw(st.lists(profiles(P.TxProfile, units=units), max_size=2)):
        result.append(InstalledProfile(draw(st.integers(1, 2)), p))
    return result


tx_starts = st.none() | instants


@settings(max_examples=150, deadline=None)
@given(installations(units=list(ChargingRateUnit)), instants, tx_starts)
def test_never_above_charge_point_max(
    installed: list[InstalledProfile], now: float, tx_start: float | None
) -> None:
    cp_limit, _ = limit_for_connector(installed, 0, now)
    limit, _ = limit_for_connector(installed, 1, now, tx_start=tx_start)
    if cp_limit is not None:
        assert limit is not None
        assert limit.value <= cp_limit.value + 1e-9


@settings(max_examples=150, deadline=None)
@given(st.lists(profiles(P.TxDefaultProfile), min_size=1, max_size=4), instants, tx_starts)
def test_highest_stack_level_in_force_wins(
    stack: list[ChargingProfile], now: float, tx_start: float | None
) -> None:
    by_level = {p.stack_level: p for p in stack}  # §3.13.2: one profile per stackLevel and purpose
    installed = [InstalledProfile(1, p) for p in by_level.values()]
    expected = None
    for level in sorted(by_level, reverse=True):
        limit, _ = schedule_at(by_level[level], now, tx_start=tx_start)
        if limit is not None:
            expected = Limit(limit.value, A, limit.phases)
            break
    assert limit_for_connector(installed, 1, now, tx_start=tx_start)[0] == expected


@settings(max_examples=150, deadline=None)
@given(installations(units=list(ChargingRateUnit)), instants, tx_starts, st.floats(0, 1, exclude_max=True))
def test_next_change_is_in_the_future_and_nothing_changes_before(
    installed: list[InstalledProfile], now: float, tx_start: float | None, fraction: float
) -> None:
    limit, nxt = limit_for_connector(installed, 1, now, tx_start=tx_start)
    if nxt is None:
        later = now + 10 * DAY * fraction
    else:
        assert nxt > now
        later = min(now + (nxt - now) * fraction, math.nextafter(nxt, -math.inf))
    assert limit_for_connector(installed, 1, later, tx_start=tx_start)[0] == limit


@settings(max_examples=150, deadline=None)
@given(profiles(P.TxDefaultProfile, units=list(ChargingRateUnit)), instants, tx_starts)
def test_schedule_at_next_change_is_a_change(
    profile: ChargingProfile, now: float, tx_start: float | None
) -> None:
    limit, nxt = schedule_at(profile, now, tx_start=tx_start)
    if nxt is not None:
        assert nxt > now
        later, _ = schedule_at(profile, nxt, tx_start=tx_start)
        assert later != limit or profile.kind is ChargingProfileKind.Recurring  # recurring: may hit the cap


@given(st.floats(0, 1000), st.sampled_from([None, 1, 2, 3]), st.sampled_from([110.0, 230.0]))
def test_amps_watts_round_trip(amps: float, phases: int | None, voltage: float) -> None:
    limit = Limit(amps, A, phases)
    watts = convert(limit, ChargingRateUnit.W, voltage_v=voltage)
    back = convert(watts, A, voltage_v=voltage)
    assert math.isclose(back.value, amps, rel_tol=1e-12, abs_tol=1e-12)
    assert back.phases == phases
    assert watts.value == amps * voltage * (phases or 3)


def _check_shape(periods: Sequence[ChargingSchedulePeriodType], duration: int) -> None:
    assert periods and periods[0].start_period == 0
    starts = [p.start_period for p in periods if isinstance(p.start_period, int)]
    assert len(starts) == len(periods) and all(0 <= s < duration for s in starts)
    assert starts == sorted(set(starts))  # sorted, one period per start: contiguous by construction
    for before, after in itertools.pairwise(periods):
        assert (before.limit, before.number_phases) != (after.limit, after.number_phases)


def _period_at(periods: Sequence[ChargingSchedulePeriodType], offset: float) -> ChargingSchedulePeriodType:
    current = periods[0]
    for period in periods:
        start = period.start_period
        assert isinstance(start, int)
        if start <= offset:
            current = period
    return current


def _at(periods: Sequence[ChargingSchedulePeriodType], offset: float) -> object:
    return _period_at(periods, offset).limit


def _phases_at(periods: Sequence[ChargingSchedulePeriodType], offset: float) -> object:
    """The period's numberPhases, None where it names none (§7.14)."""
    phases = _period_at(periods, offset).number_phases
    return None if phases is UNSET else phases


@settings(max_examples=100, deadline=None)
@given(
    installations(),
    instants,
    st.integers(1, 2 * DAY),
    tx_starts,
    st.lists(st.floats(0, 1, exclude_max=True), min_size=1, max_size=8),
)
def test_composite_matches_sampling_for_a_connector(
    installed: list[InstalledProfile],
    start: float,
    duration: int,
    tx_start: float | None,
    samples: list[float],
) -> None:
    connectors = {1: ConnectorContext(tx_start=tx_start), 2: ConnectorContext()}
    result = composite_schedule(installed, 1, start, duration, A, connectors=connectors, default_limit=48)
    assert result.duration == duration and result.charging_rate_unit == "A"
    periods = result.charging_schedule_period
    _check_shape(periods, duration)
    for fraction in samples:
        t = start + math.floor(duration * fraction)
        limit, _ = limit_for_connector(installed, 1, t, tx_start=tx_start)
        assert _at(periods, t - start) == round_limit(48 if limit is None else limit.value)
        assert _phases_at(periods, t - start) == (None if limit is None else limit.phases)


@settings(max_examples=100, deadline=None)
@given(
    installations(),
    instants,
    st.integers(1, 2 * DAY),
    tx_starts,
    st.lists(st.floats(0, 1, exclude_max=True), min_size=1, max_size=8),
)
def test_composite_for_connector_0_is_the_capped_sum(
    installed: list[InstalledProfile],
    start: float,
    duration: int,
    tx_start: float | None,
    samples: list[float],
) -> None:
    connectors = {1: ConnectorContext(tx_start=tx_start), 2: ConnectorContext(hardware_max=Limit(20, A))}
    result = composite_schedule(installed, 0, start, duration, A, connectors=connectors, default_limit=48)
    periods = result.charging_schedule_period
    _check_shape(periods, duration)
    for fraction in samples:
        t = start + math.floor(duration * fraction)
        total = 0.0
        for c, context in connectors.items():
            limit, _ = limit_for_connector(
                installed, c, t, tx_start=context.tx_start, hardware_max=context.hardware_max
            )
            total += 48 if limit is None else limit.value
        cp_limit, _ = limit_for_connector(installed, 0, t)
        expected = total if cp_limit is None else min(total, cp_limit.value)
        assert _at(periods, t - start) == round_limit(expected)
        # The grid connection: the numberPhases of the ChargePointMaxProfile in force (erratum 3.30).
        assert _phases_at(periods, t - start) == (None if cp_limit is None else cp_limit.phases)


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(list(P)).flatmap(lambda p: profiles(p, units=list(ChargingRateUnit))))
def test_wire_round_trip(profile: ChargingProfile) -> None:
    assert profile_from_wire(profile_to_wire(profile)) == profile


# -- the ChargePointMaxProfile shared between connectors (§3.13.3) ----------------------------------------

caps_strategy = st.dictionaries(
    st.integers(1, 6), st.floats(0, 100) | st.just(math.inf), min_size=1, max_size=6
)


@given(st.floats(0, 200), caps_strategy)
def test_fair_shares_stay_within_the_total_and_the_caps(total: float, caps: dict[int, float]) -> None:
    shares = fair_shares(total, caps)
    assert shares.keys() == caps.keys()
    assert math.fsum(shares.values()) <= total * (1 + 1e-12) + 1e-9
    for key, share in shares.items():
        assert 0 <= share <= caps[key]
    # Max-min fair: one held below its cap gets at least as much as any other.
    for key, share in shares.items():
        if share < caps[key] - 1e-9:
            assert all(share >= other - 1e-9 for other in shares.values())
    # Nothing is left over while someone could take more.
    if any(shares[k] < caps[k] - 1e-9 for k in caps):
        assert math.isclose(math.fsum(shares.values()), total, rel_tol=1e-9, abs_tol=1e-9)


supplies = st.sampled_from([(230.0, 3), (230.0, 1), (120.0, 3), (120.0, 2)])


@st.composite
def drawing_connectors(draw: st.DrawFn) -> dict[int, ConnectorContext]:
    ids = draw(st.sets(st.integers(1, 3), min_size=1, max_size=3))
    result: dict[int, ConnectorContext] = {}
    for c in sorted(ids):
        voltage, phases = draw(supplies)
        result[c] = ConnectorContext(
            tx_start=draw(instants),
            hardware_max=Limit(float(draw(st.integers(6, 64))), A),
            voltage_v=voltage,
            phases=phases,
        )
    return result


@settings(max_examples=200, deadline=None)
@given(installations(units=list(ChargingRateUnit)), drawing_connectors(), instants)
def test_shared_limits_never_sum_above_charge_point_max(
    installed: list[InstalledProfile], drawing: dict[int, ConnectorContext], now: float
) -> None:
    limits, nxt = shared_limits(installed, drawing, now)
    assert nxt is None or nxt > now
    assert limits.keys() == drawing.keys()  # every connector has its hardware maximum at least
    cp_limit, _ = charge_point_limit(installed, now)
    for c, limit in limits.items():
        context = drawing[c]
        assert limit.unit is A and limit.value >= 0
        own, _ = limit_for_connector(
            [i for i in installed if i.profile.purpose is not P.ChargePointMaxProfile],
            c,
            now,
            tx_start=context.tx_start,
            hardware_max=context.hardware_max,
            voltage_v=context.voltage_v,
            phases=context.phases,
        )
        assert own is not None and limit.value <= own.value + 1e-9  # never above its own limits
        # Drawn under its own limits and the ChargePointMaxProfile: the fewest phases either names.
        assert limit.phases == fewest_phases(own.phases, None if cp_limit is None else cp_limit.phases)
    if cp_limit is not None:
        total = math.fsum(
            convert(limit, cp_limit.unit, voltage_v=drawing[c].voltage_v, phases=drawing[c].phases).value
            for c, limit in limits.items()
        )
        assert total <= cp_limit.value * (1 + 1e-9) + 1e-9


@settings(max_examples=100, deadline=None)
@given(installations(units=list(ChargingRateUnit)), drawing_connectors(), instants)
def test_shared_limits_do_not_change_before_the_next_change(
    installed: list[InstalledProfile], drawing: dict[int, ConnectorContext], now: float
) -> None:
    limits, nxt = shared_limits(installed, drawing, now)
    later = now + DAY if nxt is None else math.nextafter(nxt, -math.inf)
    if later > now:
        assert shared_limits(installed, drawing, later)[0] == limits


@settings(max_examples=100, deadline=None)
@given(
    installations(units=list(ChargingRateUnit)),
    drawing_connectors(),
    instants,
    st.integers(1, DAY),
    st.sampled_from(list(ChargingRateUnit)),
)
def test_composite_periods_sorted_contiguous_with_mixed_supplies(
    installed: list[InstalledProfile],
    connectors: dict[int, ConnectorContext],
    start: float,
    duration: int,
    unit: ChargingRateUnit,
) -> None:
    for connector_id in (0, *connectors):
        result = composite_schedule(
            installed, connector_id, start, duration, unit, connectors=connectors, default_limit=48
        )
        _check_shape(result.charging_schedule_period, duration)


@settings(max_examples=100, deadline=None)
@given(
    installations(),
    drawing_connectors(),
    instants,
    st.integers(1, DAY),
    st.lists(st.floats(0, 1, exclude_max=True), min_size=1, max_size=8),
)
def test_composite_of_a_drawing_connector_is_its_share(
    installed: list[InstalledProfile],
    drawing: dict[int, ConnectorContext],
    start: float,
    duration: int,
    samples: list[float],
) -> None:
    connector_id = min(drawing)
    result = composite_schedule(
        installed, connector_id, start, duration, A, connectors=drawing, default_limit=48, drawing=drawing
    )
    periods = result.charging_schedule_period
    _check_shape(periods, duration)
    for fraction in samples:
        t = start + math.floor(duration * fraction)
        shares, _ = shared_limits(installed, drawing, t)
        assert _at(periods, t - start) == round_limit(shares[connector_id].value)
        assert _phases_at(periods, t - start) == shares[connector_id].phases


@settings(max_examples=50, deadline=None)
@given(installations(), instants, tx_starts, st.sampled_from([0, 1]))
def test_composite_of_duration_0_is_the_limit_at_start(
    installed: list[InstalledProfile], start: float, tx_start: float | None, connector_id: int
) -> None:
    """§7.13 chargingSchedulePeriod is 1..*: even a zero-length composite has its first period."""
    connectors = {1: ConnectorContext(tx_start=tx_start), 2: ConnectorContext()}
    result = composite_schedule(installed, connector_id, start, 0, A, connectors=connectors, default_limit=48)
    [period] = result.charging_schedule_period
    assert period.start_period == 0
    if connector_id == 1:
        limit, _ = limit_for_connector(installed, 1, start, tx_start=tx_start)
        assert period.limit == round_limit(48 if limit is None else limit.value)
