"""A charging-rate limit and its conversion between amperes and watts (OCPP 1.6 §7.12, erratum 3.69).

``A`` is the current per phase; ``W`` is the total power. For AC:
``current per phase = power / (line voltage * number of phases)``.

The voltage is the nominal line voltage of the connector's supply (230 V, 120 V, ...: a configured
one, ``ConnectorSpec.voltage_v``, never a measured one). The number of phases is the period's
``numberPhases`` (§7.14) where given, else the phases wired to the connector
(``ConnectorSpec.phases``): §7.14 assumes 3 when numberPhases is absent, but a connector cannot
charge on more phases than it has, so a single-phase connector converts with 1; for the same reason
a numberPhases above the connector's phases counts as the connector's phases. ``DEFAULT_VOLTAGE_V`` /
``DEFAULT_PHASES`` (230 V, 3 phases) are only the defaults of a caller that knows no supply.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ocpp_station.scheduling.profiles import ChargingRateUnit

__all__ = [
    "DEFAULT_PHASES",
    "DEFAULT_VOLTAGE_V",
    "Limit",
    "amps_to_watts",
    "convert",
    "fewest_phases",
    "tightest",
    "watts_to_amps",
]

DEFAULT_VOLTAGE_V = 230.0
DEFAULT_PHASES = 3


@dataclass(frozen=True)
class Limit:
    """A limit in force: ``value`` in ``unit``; ``phases`` is numberPhases when known, else None."""

    value: float
    unit: ChargingRateUnit
    phases: int | None = None


def amps_to_watts(
    amps: float, *, voltage_v: float = DEFAULT_VOLTAGE_V, phases: int = DEFAULT_PHASES
) -> float:
    """Total power of ``amps`` per phase on ``phases`` phases at nominal ``voltage_v`` (§7.12)."""
    return amps * voltage_v * phases


def watts_to_amps(
    watts: float, *, voltage_v: float = DEFAULT_VOLTAGE_V, phases: int = DEFAULT_PHASES
) -> float:
    """Current per phase for a total of ``watts`` on ``phases`` phases at ``voltage_v`` (§7.12)."""
    return watts / (voltage_v * phases)


def convert(
    limit: Limit,
    unit: ChargingRateUnit,
    *,
    voltage_v: float = DEFAULT_VOLTAGE_V,
    phases: int = DEFAULT_PHASES,
) -> Limit:
    """``limit`` expressed in ``unit`` on a supply of ``phases`` phases at ``voltage_v``; the limit's
    own ``phases`` (a period's numberPhases, §7.14) is used instead when it is fewer."""
    if limit.unit is unit:
        return limit
    n = phases if limit.phases is None else min(limit.phases, phases)
    if unit is ChargingRateUnit.W:
        return Limit(amps_to_watts(limit.value, voltage_v=voltage_v, phases=n), unit, limit.phases)
    return Limit(watts_to_amps(limit.value, voltage_v=voltage_v, phases=n), unit, limit.phases)


def fewest_phases(*phases: int | None) -> int | None:
    """The fewest of the numberPhases given (§7.14), None (not named) counting as no restriction."""
    named = [n for n in phases if n is not None]
    return min(named) if named else None


def tightest(
    limits: Iterable[Limit | None],
    unit: ChargingRateUnit,
    *,
    voltage_v: float = DEFAULT_VOLTAGE_V,
    phases: int = DEFAULT_PHASES,
) -> Limit | None:
    """The minimum of ``limits`` in ``unit`` (§3.13.3: the composite takes the minimum); None entries
    mean "no limit". The result's ``phases`` is the fewest phases any contributor names, else None."""
    best: float | None = None
    fewest: int | None = None
    for limit in limits:
        if limit is None:
            continue
        value = convert(limit, unit, voltage_v=voltage_v, phases=phases).value
        best = value if best is None else min(best, value)
        fewest = fewest_phases(fewest, limit.phases)
    return None if best is None else Limit(best, unit, fewest)
