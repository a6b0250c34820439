"""The composite schedule reported by GetCompositeSchedule.conf (OCPP 1.6 §5.7, §3.13.3, §7.13).

Reading of §5.7 (with errata 3.28/3.29/3.30/3.57) used here:

- The schedule covers [start, start + duration), ``start`` being the moment the request is received;
  ``startPeriod`` is in seconds from ``start``. The ``chargingSchedule`` omits ``startSchedule``
  (erratum 3.57); the handler reports ``start`` as the response's ``scheduleStart``.
- Connector > 0: the limit :func:`limit_for_connector` gives at each instant (TxProfile or
  TxDefaultProfile, capped by ChargePointMaxProfile and the connector's hardware maximum); for a
  connector drawing power next to others, its share of the ChargePointMaxProfile
  (:func:`ocpp_station.scheduling.sharing.shared_limits`), assuming the same connectors keep
  drawing (which sessions will start or stop is not known in advance).
- Connector 0 ("the total expected power or current the Charge Point expects to consume from the
  grid", erratum 3.30): the sum over every connector of its own limit, capped by the
  ChargePointMaxProfile stack (§3.13.3: the combined flow of all connectors SHALL NOT exceed it)
  and by the Charge Point's own maximum; its ``numberPhases`` is the prevailing
  ChargePointMaxProfile period's (the limit on the grid connection; the phases the connectors'
  own profiles name are not added up: which phases they pick is not known).
- ``numberPhases`` (§7.14) is reported wherever a profile in force names it (for a connector, the
  fewest its TxProfile / TxDefaultProfile and the ChargePointMaxProfile name), so periods that
  differ only in it stay apart: §7.14 reads a period without it as 3 phases.
- Where nothing limits a connector, ``default_limit`` (its rating) is reported for it.
- ``startPeriod`` is an integer: a boundary at a fractional offset is rounded up to the next whole
  second; limits are rounded down to one decimal (the schema's multipleOf 0.1), never up.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping

import msgspec

from ocpp_station.scheduling.limits import DEFAULT_PHASES, DEFAULT_VOLTAGE_V, Limit, convert, tightest
from ocpp_station.scheduling.profiles import ChargingRateUnit
from ocpp_station.scheduling.schedule import (
    ConnectorContext,
    InstalledProfile,
    charge_point_max_stack,
    limit_for_connector,
    stack_raw,
)
from ocpp_station.scheduling.sharing import shared_limits
from ocpp_station.wire.messages import ChargingSchedule, ChargingSchedulePeriod

__all__ = ["ConnectorContext", "composite_schedule", "round_limit"]  # ConnectorContext: re-exported


def round_limit(value: float) -> float:
    """Round down to one decimal (§7.14: at most one digit fraction), never above ``value``."""
    return math.floor(value * 10 + 1e-9) / 10


def _connector_value(
    installed: list[InstalledProfile],
    connector_id: int,
    context: ConnectorContext,
    t: float,
    unit: ChargingRateUnit,
    default_limit: float,
) -> tuple[Limit, float | None]:
    limit, nxt = limit_for_connector(
        installed,
        connector_id,
        t,
        tx_start=context.tx_start,
        transaction_id=context.transaction_id,
        hardware_max=context.hardware_max,
        unit=unit,
        voltage_v=context.voltage_v,
        phases=context.phases,
    )
    return (limit if limit is not None else Limit(default_limit, unit)), nxt


def composite_schedule(
    installed: Iterable[InstalledProfile],
    connector_id: int,
    start: float,
    duration: int,
    unit: ChargingRateUnit,
    *,
    connectors: Mapping[int, ConnectorContext],
    default_limit: float,
    charge_point_max: Limit | None = None,
    voltage_v: float = DEFAULT_VOLTAGE_V,
    phases: int = DEFAULT_PHASES,
    drawing: Collection[int] = (),
) -> ChargingSchedule:
    """The ``chargingSchedule`` of GetCompositeSchedule.conf for ``connector_id`` over
    [start, start + duration) in ``unit`` (see the module docstring for the reading of §5.7).

    ``connectors`` maps every connector id > 0 of the Charge Point to its context (connectors absent
    from it have no transaction and no hardware maximum); ``default_limit`` (in ``unit``) is what a
    connector without any constraint reports. Each connector's limits are converted with its own
    supply (``ConnectorContext.voltage_v`` / ``phases``); ``voltage_v`` / ``phases`` here are the
    Charge Point's supply, used for the ChargePointMaxProfile and ``charge_point_max`` (the Charge
    Point's hardware maximum) of connector 0. ``drawing`` are the connectors with an energized
    transaction, assumed to keep drawing over the whole schedule: for one of them (connector > 0)
    the schedule is its share of the ChargePointMaxProfile (:mod:`ocpp_station.scheduling.sharing`).
    Periods are sorted, contiguous, start at 0 and are merged when equal.
    """
    items = list(installed)
    end = start + duration
    cp_stack = charge_point_max_stack(items)
    ids = sorted(c for c in connectors if c > 0)
    sharing = {c: connectors.get(c, ConnectorContext()) for c in drawing if c > 0}

    def value_at(t: float) -> tuple[Limit, float | None]:
        if connector_id > 0 and connector_id in sharing:
            context = sharing[connector_id]
            shares, nxt = shared_limits(items, sharing, t)
            share = shares.get(connector_id)
            if share is None:
                return Limit(default_limit, unit), nxt
            return convert(share, unit, voltage_v=context.voltage_v, phases=context.phases), nxt
        if connector_id > 0:
            context = connectors.get(connector_id, ConnectorContext())
            return _connector_value(items, connector_id, context, t, unit, default_limit)
        total = 0.0
        boundary: float | None = None
        for c in ids:
            limit, nxt = _connector_value(items, c, connectors[c], t, unit, default_limit)
            total += limit.value
            boundary = nxt if boundary is None else (boundary if nxt is None else min(boundary, nxt))
        cp_limit, cp_next = stack_raw(cp_stack, t, None)
        if cp_next is not None:
            boundary = cp_next if boundary is None else min(boundary, cp_next)
        capped = tightest(
            (Limit(total, unit), cp_limit, charge_point_max), unit, voltage_v=voltage_v, phases=phases
        )
        assert capped is not None
        # The grid connection is held to the phases the ChargePointMaxProfile names (§7.14); which
        # phase each connector's own numberPhases picks is not known, so those are not summed.
        return Limit(capped.value, unit, None if cp_limit is None else cp_limit.phases), boundary

    #: (startPeriod, limit, numberPhases) of each period.
    periods: list[tuple[int, float, int | None]] = []
    t = start
    # At least the value at ``start``: §7.13 chargingSchedulePeriod is 1..*, even for duration 0.
    while t < end or not periods:
        limit, nxt = value_at(t)
        offset = 0 if t == start else math.ceil(t - start - 1e-9)
        period = (offset, round_limit(limit.value), limit.phases)
        if periods and periods[-1][0] == offset:
            periods.pop()  # two boundaries within one second: the later value wins
        if not periods or (offset < duration and periods[-1][1:] != period[1:]):
            periods.append(period)
        if nxt is None:
            break
        t = nxt
    return ChargingSchedule(
        duration=duration,
        charging_rate_unit=unit,
        charging_schedule_period=[
            ChargingSchedulePeriod(
                start_period=offset,
                limit=value,
                number_phases=msgspec.UNSET if phases is None else phases,
            )
            for offset, value, phases in periods
        ],
    )
