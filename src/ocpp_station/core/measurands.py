"""The measurands this charge point reports, one row each (OCPP 1.6 §7.31 Measurand, §7.45 SampledValue,
errata 3.14.3 phases, 3.14.4 unsupported measurands, 3.86 Frequency).

:data:`MEASURAND_TABLE` is the one place that says what the meter can give: the configuration keys
(MeterValuesSampledData, MeterValuesAlignedData, StopTxnSampledData, StopTxnAlignedData, §9.1.15-§9.1.28)
accept exactly its measurands and phases, and metering (:func:`samples`) builds every
sampledValue from its rows. A §7.31 measurand without a row is one this charge point cannot give: a
ChangeConfiguration naming it is Rejected (erratum 3.14.4). A row whose reader answers None leaves the
value out of that reading (SoC without an EV reporting it, an Interval outside clock-aligned data).

A measurand may be named with a phase (``Voltage.L1-N``, ``Current.Import.L2``) when its row reads
per phase; the phases it accepts are :attr:`MeasurandRow.phases`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec
from msgspec import UNSET

from ocpp_station.wire.messages import (
    Location,
    Measurand,
    Phase,
    ReadingContext,
    SampledValue,
    StopTransactionSampledValue,
    StopTransactionUnitOfMeasure,
    UnitOfMeasure,
    ValueFormat,
)
from ocpp_station.wire.schemas import to_builtins

if TYPE_CHECKING:  # a type only: importing core.events here would pull the engine into config.keys
    from ocpp_station.core.events import MeterReading

#: The phases L1, L2, L3 by index (a MeterReading's per-phase tuples hold them in this order).
LINES = (Phase.L1, Phase.L2, Phase.L3)
_TO_NEUTRAL = (Phase.L1_N, Phase.L2_N, Phase.L3_N)


@dataclass(frozen=True, slots=True)
class MeterInputs:
    """What a reader may use: one meter reading and the connector it comes from."""

    reading: MeterReading
    #: Phases the connector has (per-phase values beyond them are not reported).
    phases: int
    #: Nominal voltage per phase (Power.Offered).
    voltage_v: float
    #: Energy since the previous clock-aligned boundary (Energy.Active.Import.Interval), or None.
    interval_energy_wh: float | None = None


TotalReader = Callable[[MeterInputs], float | None]
PhaseReader = Callable[[MeterInputs, int], float | None]


@dataclass(frozen=True, slots=True)
class MeasurandRow:
    """How one measurand is read and reported (§7.45 SampledValue)."""

    measurand: Measurand
    unit: UnitOfMeasure | None
    #: The value's number of decimals in ``value``.
    digits: int
    #: The value as a whole (None: only per phase). Answering None leaves it out.
    total: TotalReader | None
    #: The value of phase index 0..2 (None: not measured per phase). Answering None leaves it out.
    per_phase: PhaseReader | None = None
    #: The ``phase`` of the value of phase index 0..2 (Voltage is measured line to neutral).
    phase_names: tuple[Phase, Phase, Phase] = LINES
    location: Location = Location.Outlet

    @property
    def phases(self) -> frozenset[Phase]:
        """The phases this measurand may be named with in a configuration key (``Voltage.L1``)."""
        if self.per_phase is None:
            return frozenset()
        return frozenset(LINES) | frozenset(self.phase_names)

    def phase_index(self, phase: str) -> int | None:
        """Which phase index ``phase`` names (``L2`` and ``L2-N`` both name index 1 of Voltage)."""
        for index, (line, name) in enumerate(zip(LINES, self.phase_names, strict=True)):
            if phase in (line, name):
                return index
        return None


def _phase_value(values: Callable[[MeterReading], tuple[float, ...]]) -> PhaseReader:
    def read(inputs: MeterInputs, index: int) -> float | None:
        per_phase = values(inputs.reading)
        return per_phase[index] if index < len(per_phase) else None

    return read


def _phase_power(inputs: MeterInputs, index: int) -> float | None:
    """One phase's active power: its current times its voltage."""
    reading = inputs.reading
    if index < min(len(reading.current_a), len(reading.voltage_v)):
        return reading.current_a[index] * reading.voltage_v[index]
    return None


#: Every measurand this charge point reports (and so accepts in the measurand configuration keys), by
#: wire name.
MEASURAND_TABLE: dict[str, MeasurandRow] = {
    row.measurand.value: row
    for row in (
        MeasurandRow(
            Measurand.Energy_Active_Import_Register, UnitOfMeasure.Wh, 0, lambda m: m.reading.energy_wh
        ),
        MeasurandRow(
            Measurand.Energy_Active_Import_Interval, UnitOfMeasure.Wh, 0, lambda m: m.interval_energy_wh
        ),
        MeasurandRow(
            Measurand.Power_Active_Import, UnitOfMeasure.W, 1, lambda m: m.reading.power_w, _phase_power
        ),
        MeasurandRow(
            Measurand.Power_Offered,
            UnitOfMeasure.W,
            1,
            lambda m: m.reading.offered_a * m.voltage_v * m.phases,
        ),
        MeasurandRow(Measurand.Current_Import, UnitOfMeasure.A, 1, None, _phase_value(lambda r: r.current_a)),
        MeasurandRow(Measurand.Current_Offered, UnitOfMeasure.A, 1, lambda m: m.reading.offered_a),
        MeasurandRow(
            Measurand.Voltage, UnitOfMeasure.V, 1, None, _phase_value(lambda r: r.voltage_v), _TO_NEUTRAL
        ),
        MeasurandRow(
            Measurand.SoC, UnitOfMeasure.Percent, 0, lambda m: m.reading.soc_percent, location=Location.EV
        ),
        MeasurandRow(
            Measurand.Temperature,
            UnitOfMeasure.Celsius,
            1,
            lambda m: m.reading.temperature_c,
            location=Location.Body,
        ),
        # Erratum 3.86: Hertz is no 1.6 UnitOfMeasure; the value goes without a unit.
        MeasurandRow(Measurand.Frequency, None, 2, lambda m: m.reading.frequency_hz),
    )
}


#: Every §7.31 measurand by wire name (those without a row are known but not supported).
_MEASURANDS = frozenset(measurand.value for measurand in Measurand)
_PHASE_SUFFIXES = tuple(sorted((phase.value for phase in Phase), key=len, reverse=True))


def split_phase(item: str) -> tuple[str, str | None]:
    """``Voltage.L1-N`` -> (``Voltage``, ``L1-N``); an item without a §7.34 phase suffix -> (item, None)."""
    for phase in _PHASE_SUFFIXES:
        if item.endswith("." + phase):
            return item[: -len(phase) - 1], phase
    return item, None


def check_item(item: str) -> None:
    """Raise ValueError naming what is wrong with a measurand configuration item (``Voltage.L1``):
    not a §7.31 measurand, one this charge point cannot give (erratum 3.14.4), or a phase it does not
    measure it on."""
    name, phase = split_phase(item)
    if name not in _MEASURANDS:
        raise ValueError(f"unknown measurand {item!r}")
    row = MEASURAND_TABLE.get(name)
    if row is None:
        raise ValueError(f"measurand {item!r} is not supported by this charge point")
    if phase is not None and phase not in row.phases:
        raise ValueError(f"measurand {name!r} is not measured on phase {phase}")


#: A sampledValue of MeterValues.req or of StopTransaction.req transactionData (OCPP 1.6 §7.45): distinct
#: types in the schemas (their units differ).
_Sample = TypeVar("_Sample", SampledValue, StopTransactionSampledValue)

#: What a configuration item reads: its row, and None for the row's total or the phase indexes it
#: gives (all of them, or the one it names; none for a phase the row is not measured on).
_Plan = tuple[MeasurandRow, tuple[int, ...] | None] | None
_PLANS: dict[str, _Plan] = {}
#: sampledValue elements with their constant fields and no value yet, by (type, measurand, phase,
#: context): each sample is one of them with its value put in (a copy costs a fifth of building one).
_TEMPLATES: dict[tuple[type[Any], Measurand, Phase | None, ReadingContext], Any] = {}
#: The format spec of a value by its number of decimals (``.1f``).
_SPECS = {row.digits: f".{row.digits}f" for row in MEASURAND_TABLE.values()}
_UNITS: dict[type[Any], type[UnitOfMeasure] | type[StopTransactionUnitOfMeasure]] = {
    SampledValue: UnitOfMeasure,
    StopTransactionSampledValue: StopTransactionUnitOfMeasure,
}


def _plan(item: str) -> _Plan:
    if item in _PLANS:
        return _PLANS[item]
    name, only_phase = split_phase(item)
    row = MEASURAND_TABLE.get(name)
    plan: _Plan
    if row is None:
        plan = None
    elif row.per_phase is None or (only_phase is None and row.total is not None):
        plan = (row, None)
    elif only_phase is None:
        plan = (row, tuple(range(len(LINES))))
    else:
        wanted = row.phase_index(only_phase)
        plan = (row, () if wanted is None else (wanted,))
    if len(_PLANS) < 4096:  # configuration items: a handful; bounded all the same
        _PLANS[item] = plan
    return plan


def _template(
    kind: type[_Sample], row: MeasurandRow, phase: Phase | None, context: ReadingContext
) -> _Sample:
    key = (kind, row.measurand, phase, context)
    template: _Sample | None = _TEMPLATES.get(key)
    if template is None:
        # The unit's type differs between the two (UnitOfMeasure / StopTransactionUnitOfMeasure).
        unit: Any = UNSET if row.unit is None else _UNITS[kind](row.unit.value)
        template = kind(
            value="",
            context=context,
            format=ValueFormat.Raw,
            measurand=row.measurand,
            location=row.location,
            phase=UNSET if phase is None else phase,
            unit=unit,
        )
        _TEMPLATES[key] = template
    return template


#: One sampledValue a reading gives: its reader (of the inputs), the phase index it reads (None: the
#: total), the format spec of its value and its template (the constant fields).
_Step = tuple[Callable[..., float | None], int | None, str, Any]
#: The steps of the items of a configuration list, by (kind, items, context, phases): a sample is one
#: pass over them (a configuration list, a context and a make-up: a handful of keys; bounded all the same).
_STEPS: dict[tuple[type[Any], tuple[str, ...], ReadingContext, int], tuple[_Step, ...]] = {}


def _steps(
    kind: type[_Sample], items: tuple[str, ...], context: ReadingContext, phases: int
) -> tuple[_Step, ...]:
    key = (kind, items, context, phases)
    steps = _STEPS.get(key)
    if steps is not None:
        return steps
    built: list[_Step] = []
    for item in items:
        plan = _plan(item)
        if plan is None:
            continue
        row, indexes = plan
        spec = _SPECS[row.digits]
        if indexes is None:
            assert row.total is not None
            built.append((row.total, None, spec, _template(kind, row, None, context)))
            continue
        assert row.per_phase is not None
        for index in indexes:
            if index < phases:
                template = _template(kind, row, row.phase_names[index], context)
                built.append((row.per_phase, index, spec, template))
    steps = tuple(built)
    if len(_STEPS) < 4096:
        _STEPS[key] = steps
    return steps


def samples(
    kind: type[_Sample],
    measurands: Iterable[str],
    reading: MeterReading,
    context: ReadingContext,
    *,
    phases: int,
    voltage_v: float,
    interval_energy_wh: float | None = None,
) -> list[_Sample]:
    """The sampledValue elements (§7.45) of type ``kind`` for ``measurands`` (configuration items)
    from one reading.

    A measurand read per phase and named without a phase gives its total, or one value per phase the
    connector has when it has no total (Current.Import, Voltage); named with a phase (``Voltage.L1``)
    it gives just that phase. Items without a row and values a reader does not have are left out.
    """
    inputs = MeterInputs(reading, phases, voltage_v, interval_energy_wh)
    out: list[_Sample] = []
    replace = msgspec.structs.replace
    items = measurands if type(measurands) is tuple else tuple(measurands)
    for reader, index, spec, template in _steps(kind, items, context, phases):
        value = reader(inputs) if index is None else reader(inputs, index)
        if value is not None:
            out.append(replace(template, value=format(value, spec)))
    return out


def sampled_values(
    measurands: Iterable[str],
    reading: MeterReading,
    context: ReadingContext | str,
    *,
    phases: int,
    voltage_v: float,
    interval_energy_wh: float | None = None,
) -> list[dict[str, Any]]:
    """The MeterValues.req sampledValue elements of :func:`samples` in their wire form (JSON-ready
    dicts: example payloads, tests)."""
    values = samples(
        SampledValue,
        measurands,
        reading,
        ReadingContext(context),
        phases=phases,
        voltage_v=voltage_v,
        interval_energy_wh=interval_energy_wh,
    )
    return [to_builtins(value) for value in values]
