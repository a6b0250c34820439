"""The limit in force now, and when it next changes (OCPP 1.6 §3.13, §5.16, §7.8, §7.13).

Everything here is a pure function of an explicit ``now`` (POSIX seconds). Each profile, each stack
and each connector is a piecewise-constant function of time; the raw helpers return the value at
``t`` and the next *boundary* strictly after ``t`` where it may change; the public functions skip
boundaries where nothing actually changes (up to :data:`MAX_COALESCE` of them, after which the
returned instant is merely one at which to look again).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from ocpp_station.scheduling.limits import DEFAULT_PHASES, DEFAULT_VOLTAGE_V, Limit, tightest
from ocpp_station.scheduling.profiles import (
    RECURRENCE_PERIOD_S,
    ChargingProfile,
    ChargingProfileKind,
    ChargingProfilePurpose,
    ChargingRateUnit,
    ChargingSchedulePeriod,
)

__all__ = [
    "MAX_COALESCE",
    "ConnectorContext",
    "InstalledProfile",
    "charge_point_limit",
    "charge_point_max_stack",
    "limit_for_connector",
    "schedule_at",
    "stack_raw",
    "tx_stack",
]

MAX_COALESCE = 64

_Raw = tuple[Limit | None, float | None]


@dataclass(frozen=True)
class ConnectorContext:
    """What the schedule maths needs to know about one connector at the time of the request.

    ``voltage_v`` and ``phases`` describe its supply (the nominal line voltage and the number of
    phases wired to it); A<->W conversions for this connector use them (§7.12), except that a
    period's own ``numberPhases`` wins over ``phases``.
    """

    tx_start: float | None = None
    transaction_id: int | None = None
    hardware_max: Limit | None = None
    voltage_v: float = DEFAULT_VOLTAGE_V
    phases: int = DEFAULT_PHASES


class InstalledProfile(NamedTuple):
    """A profile as installed by SetChargingProfile.req on ``connector_id`` (0: the Charge Point)."""

    connector_id: int
    profile: ChargingProfile


def _min_opt(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)


def _schedule_raw(
    profile: ChargingProfile, t: float, tx_start: float | None
) -> tuple[ChargingSchedulePeriod | None, float | None]:
    """The period of ``profile``'s schedule executing at ``t`` (ignoring validity) and the next
    boundary > t. §7.9 kinds; §7.13 duration (absent: the last period runs on); §5.16.4 periods past
    the duration are not executed; erratum 3.44: nothing past the recurrence period is executed."""
    schedule = profile.schedule
    if profile.kind is ChargingProfileKind.Relative:
        if tx_start is None:
            return None, None  # relative to a transaction that has not started
        start = tx_start
    else:
        assert schedule.start_schedule is not None  # guaranteed by parse_charging_profile
        start = schedule.start_schedule
    length = math.inf if schedule.duration is None else float(schedule.duration)
    recurrence: float | None = None
    if profile.kind is ChargingProfileKind.Recurring and t >= start:
        assert profile.recurrency_kind is not None
        recurrence = float(RECURRENCE_PERIOD_S[profile.recurrency_kind])
        start += math.floor((t - start) / recurrence) * recurrence
        while start > t:
            start -= recurrence
        while start + recurrence <= t:
            start += recurrence
        length = min(length, recurrence)
    if t < start:
        return None, start
    end = start + length
    restart = None if recurrence is None else start + recurrence
    if t >= end:
        return None, restart
    starts = [start + p.start_period for p in schedule.periods]
    index = bisect_right(starts, t) - 1
    following = starts[index + 1] if index + 1 < len(starts) else math.inf
    boundary = min(following, end)
    return schedule.periods[index], (restart if math.isinf(boundary) else boundary)


def _profile_raw(profile: ChargingProfile, t: float, tx_start: float | None) -> _Raw:
    """Limit of one profile at ``t`` within its validity window [validFrom, validTo) (§7.8)."""
    if profile.valid_from is not None and t < profile.valid_from:
        return None, profile.valid_from
    if profile.valid_to is not None and t >= profile.valid_to:
        return None, None
    period, boundary = _schedule_raw(profile, t, tx_start)
    if profile.valid_to is not None:
        boundary = _min_opt(boundary, profile.valid_to)
    if period is None:
        return None, boundary
    return Limit(period.limit, profile.schedule.charging_rate_unit, period.number_phases), boundary


def _stack_raw(stack: Sequence[ChargingProfile], t: float, tx_start: float | None) -> _Raw:
    """§3.13.2: the prevailing profile is the highest in ``stack`` (ordered by precedence) that is in
    force at ``t``; erratum 3.43: past its duration (or before its start) the next lower one applies.
    The boundary is the earliest of the winner's and those of every profile above it."""
    boundary: float | None = None
    for profile in stack:
        limit, nxt = _profile_raw(profile, t, tx_start)
        boundary = _min_opt(boundary, nxt)
        if limit is not None:
            return limit, boundary
    return None, boundary


def _coalesce(raw: Callable[[float], _Raw], now: float) -> _Raw:
    """Skip boundaries at which the value does not change."""
    value, boundary = raw(now)
    for _ in range(MAX_COALESCE):
        if boundary is None:
            return value, None
        later, after = raw(boundary)
        if later != value:
            return value, boundary
        boundary = after
    return value, boundary


def schedule_at(profile: ChargingProfile, now: float, *, tx_start: float | None = None) -> _Raw:
    """The limit ``profile`` imposes at ``now`` and the next instant (> now) it changes, or None.

    Absolute: from startSchedule. Recurring: from startSchedule, restarting every 24 h / 7 days
    (erratum 3.79), not before the first startSchedule. Relative: from ``tx_start`` (the transaction
    start, §7.9); without a transaction it imposes nothing. A limit of None means the profile is not
    in force (outside validFrom/validTo, before its start, past its duration).
    """
    return _coalesce(lambda t: _profile_raw(profile, t, tx_start), now)


def _by_precedence(items: Iterable[InstalledProfile]) -> list[ChargingProfile]:
    """Highest stackLevel first; at equal stackLevel a connector-specific profile replaces the
    connector-0 one for that connector (§3.13.1 TxDefaultProfile), then the higher profile id."""
    ordered = sorted(
        items,
        key=lambda i: (i.profile.stack_level, i.connector_id != 0, i.profile.charging_profile_id),
        reverse=True,
    )
    return [i.profile for i in ordered]


def charge_point_max_stack(installed: Iterable[InstalledProfile]) -> list[ChargingProfile]:
    """The ChargePointMaxProfile stack (§3.13.1: only at connector 0), by precedence."""
    return _by_precedence(
        i
        for i in installed
        if i.connector_id == 0 and i.profile.purpose is ChargingProfilePurpose.ChargePointMaxProfile
    )


def charge_point_limit(installed: Iterable[InstalledProfile], now: float) -> _Raw:
    """The ChargePointMaxProfile limit at ``now`` in the unit of the prevailing profile, and when it
    next changes (> now), or None: the limit for the whole Charge Point (§3.13.1), before any split
    between connectors."""
    stack = charge_point_max_stack(installed)
    return _coalesce(lambda t: _stack_raw(stack, t, None), now)


def tx_stack(
    installed: Iterable[InstalledProfile],
    connector_id: int,
    *,
    tx_start: float | None,
    transaction_id: int | None,
) -> list[ChargingProfile]:
    """The transaction-level stack of ``connector_id``: its TxProfiles above all TxDefaultProfiles
    (§3.13.1: TxProfile overrules TxDefaultProfile during the transaction). TxProfiles count only
    while a transaction runs (``tx_start`` given) and, when both ids are known, only for a matching
    transactionId. TxDefaultProfiles of connector 0 apply to every connector (§3.13.1)."""
    items = list(installed)
    tx_profiles: list[ChargingProfile] = []
    if tx_start is not None:
        tx_profiles = _by_precedence(
            i
            for i in items
            if i.connector_id == connector_id
            and i.profile.purpose is ChargingProfilePurpose.TxProfile
            and (transaction_id is None or i.profile.transaction_id in (None, transaction_id))
        )
    defaults = _by_precedence(
        i
        for i in items
        if i.connector_id in (0, connector_id)
        and i.profile.purpose is ChargingProfilePurpose.TxDefaultProfile
    )
    return tx_profiles + defaults


def stack_raw(stack: Sequence[ChargingProfile], t: float, tx_start: float | None) -> _Raw:
    """Public alias of the raw stack evaluation (value at t, next boundary), for the composite."""
    return _stack_raw(stack, t, tx_start)


def limit_for_connector(
    installed: Iterable[InstalledProfile],
    connector_id: int,
    now: float,
    *,
    tx_start: float | None = None,
    transaction_id: int | None = None,
    hardware_max: Limit | None = None,
    unit: ChargingRateUnit = ChargingRateUnit.A,
    voltage_v: float = DEFAULT_VOLTAGE_V,
    phases: int = DEFAULT_PHASES,
) -> _Raw:
    """The limit for ``connector_id`` at ``now`` in ``unit``, and when it next changes (> now) or None.

    §3.13.3: the minimum of the transaction-level stack (TxProfile, else TxDefaultProfile), the
    ChargePointMaxProfile stack (connector 0; for one connector the whole Charge Point limit caps
    it) and the connector's ``hardware_max``. ``connector_id`` 0 gives the ChargePointMaxProfile
    stack alone (capped by ``hardware_max``). A limit of None means no constraint applies (§3.13.6:
    charge as if no constraints apply).
    """
    items = list(installed)
    cp_max = charge_point_max_stack(items)
    tx_level = (
        []
        if connector_id == 0
        else tx_stack(items, connector_id, tx_start=tx_start, transaction_id=transaction_id)
    )

    def raw(t: float) -> _Raw:
        cp_limit, cp_next = _stack_raw(cp_max, t, tx_start)
        tx_limit, tx_next = _stack_raw(tx_level, t, tx_start)
        limit = tightest((tx_limit, cp_limit, hardware_max), unit, voltage_v=voltage_v, phases=phases)
        return limit, _min_opt(cp_next, tx_next)

    return _coalesce(raw, now)
