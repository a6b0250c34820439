"""Sharing the ChargePointMaxProfile between connectors that charge at the same time (OCPP 1.6
§3.13.1, §3.13.3).

§3.13.1: a ChargePointMaxProfile limits "the maximum power or current available for an entire
Charge Point"; §3.13.3: the combined energy flow of all connectors SHALL NOT be greater than it.
Capping each connector by the whole ChargePointMaxProfile, as :func:`limit_for_connector` does for
one connector alone, lets two charging connectors draw twice the limit. So the limit *applied* to
each connector drawing power is a share of it.

Policy (max-min fair, "water-filling"): every drawing connector is first held to its own limit (its
TxProfile or TxDefaultProfile and its hardware maximum); the ChargePointMaxProfile is split equally
between the drawing connectors, and what a connector cannot take because its own limit is lower is
split equally between the others. The shares sum to at most the ChargePointMaxProfile (exactly to it
when the connectors can take it all) and no connector gets more than its own limit. Connectors
without an energized transaction take nothing and get no share.

The split is made in the unit of the prevailing ChargePointMaxProfile: in W the connectors' powers
add up; in A their currents per phase add up (conservative when single-phase connectors may share
a phase). Each share is converted back to amperes with the connector's own supply (§7.12). A share
carries the fewest phases (§7.14 numberPhases) that the connector's own limit or the prevailing
ChargePointMaxProfile period names, and converts with them as every limit does
(:mod:`ocpp_station.scheduling.limits`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from ocpp_station.scheduling.limits import Limit, convert, fewest_phases
from ocpp_station.scheduling.profiles import ChargingProfilePurpose, ChargingRateUnit
from ocpp_station.scheduling.schedule import (
    ConnectorContext,
    InstalledProfile,
    charge_point_limit,
    limit_for_connector,
)

__all__ = ["fair_shares", "shared_limits"]


def fair_shares(total: float, caps: Mapping[int, float]) -> dict[int, float]:
    """Split ``total`` between the keys of ``caps``, max-min fair: each gets at most its cap (``inf``
    for none), those capped below an equal share keep their cap and the rest is split equally
    between the others. The shares sum to at most ``total`` (up to float rounding, a few ULPs) and
    none is below 0."""
    shares: dict[int, float] = {}
    remaining = max(total, 0.0)
    pending = sorted(caps.items(), key=lambda item: item[1])
    for index, (key, cap) in enumerate(pending):
        equal = remaining / (len(pending) - index)
        share = max(0.0, min(cap, equal))
        shares[key] = share
        remaining = max(0.0, remaining - share)
    return shares


def shared_limits(
    installed: Iterable[InstalledProfile],
    drawing: Mapping[int, ConnectorContext],
    now: float,
) -> tuple[dict[int, Limit], float | None]:
    """The limit in A to apply at ``now`` to each connector in ``drawing`` (those with an energized
    transaction), and the next instant (> now) any of them may change, or None (see the module
    docstring for the policy). A connector with nothing limiting it is absent from the result."""
    items = list(installed)
    own_items = [i for i in items if i.profile.purpose is not ChargingProfilePurpose.ChargePointMaxProfile]
    own: dict[int, Limit | None] = {}
    boundary: float | None = None
    for connector_id, context in drawing.items():
        limit, nxt = limit_for_connector(
            own_items,
            connector_id,
            now,
            tx_start=context.tx_start,
            transaction_id=context.transaction_id,
            hardware_max=context.hardware_max,
            unit=ChargingRateUnit.A,
            voltage_v=context.voltage_v,
            phases=context.phases,
        )
        own[connector_id] = limit
        if nxt is not None:
            boundary = nxt if boundary is None else min(boundary, nxt)
    cp_limit, cp_next = charge_point_limit(items, now)
    if cp_next is not None:
        boundary = cp_next if boundary is None else min(boundary, cp_next)
    if cp_limit is None:
        return {c: limit for c, limit in own.items() if limit is not None}, boundary
    unit = cp_limit.unit

    def in_unit(limit: Limit, context: ConnectorContext) -> float:
        return convert(limit, unit, voltage_v=context.voltage_v, phases=context.phases).value

    caps = {c: math.inf if limit is None else in_unit(limit, drawing[c]) for c, limit in own.items()}
    result: dict[int, Limit] = {}
    for c, share in fair_shares(cp_limit.value, caps).items():
        context = drawing[c]
        limit = own[c]
        # The share is drawn under both: the fewest phases either names (§7.14 numberPhases).
        phases = fewest_phases(None if limit is None else limit.phases, cp_limit.phases)
        amps = convert(
            Limit(share, unit, phases), ChargingRateUnit.A, voltage_v=context.voltage_v, phases=context.phases
        ).value
        if limit is not None:
            amps = min(amps, limit.value)
        result[c] = Limit(amps, ChargingRateUnit.A, phases)
    return result, boundary
