"""The measurands this charge point reports, one row each (OCPP 1.6 §7.31 Measurand, §7.45 SampledValue,
errata 3.14.3 phases, 3.14.4 unsupported measurands, 3.86 Frequency).

:data:`MEASURAND_TABLE` is the one place that says what the meter can give: the configuration keys
(MeterValuesSampledData, MeterValuesAlignedData, StopTxnSampledData, StopTxnAlignedData, §9.1.15-§9.1.28)
accept exactly its measurands and phases, and metering (:func:`sampled_values`) builds every
sampledValue from its rows. A §7.31 measurand without a row is one this charge point cannot give: a
ChangeConfiguration naming it is Rejected (erratum 3.14.4). A row whose reader answers None leaves the
value out of that reading (SoC without an EV reporting it, an Interval outside clock-aligned data).

A measurand may be named with a phase (``Voltage.L1-N``, ``Current.Import.L2``) when its row reads
per phase; the phases it accepts are :attr:`MeasurandRow.phases`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ocpp_station.wire.messages import Location, Measurand, Phase, ReadingContext, UnitOfMeasure, ValueFormat

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


def _wire_fields(row: MeasurandRow) -> dict[str, str]:
    fields = {
        "format": ValueFormat.Raw.value,
        "measurand": row.measurand.value,
        "location": row.location.value,
    }
    if row.unit is not None:
        fields["unit"] = row.unit.value
    return fields


#: Each row's constant sampledValue fields, as wire text.
_WIRE_FIELDS: dict[Measurand, dict[str, str]] = {
    row.measurand: _wire_fields(row) for row in MEASURAND_TABLE.values()
}
_PHASE_TEXT: dict[Phase, str] = {phase: phase.value for phase in Phase}

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


def sampled_values(
    measurands: Iterable[str],
    reading: MeterReading,
    context: ReadingContext | str,
    *,
    phases: int,
    voltage_v: float,
    interval_energy_wh: float | None = None,
) -> list[dict[str, Any]]:
    """The sampledValue elements (§7.45) for ``measurands`` (configuration items) from one reading.

    A measurand read per phase and named without a phase gives its total, or one value per phase the
    connector has when it has no total (Current.Import, Voltage); named with a phase (``Voltage.L1``)
    it gives just that phase. Items without a row and values a reader does not have are left out.
    """
    inputs = MeterInputs(reading, phases, voltage_v, interval_energy_wh)
    out: list[dict[str, Any]] = []
    context_text = str(context)

    def add(row: MeasurandRow, value: float | None, phase: Phase | None = None) -> None:
        if value is None:
            return
        # The row's constant fields as plain text, made once (this runs for every value of every sample).
        sample: dict[str, Any] = {"value": f"{value:.{row.digits}f}", "context": context_text}
        sample.update(_WIRE_FIELDS[row.measurand])
        if phase is not None:
            sample["phase"] = _PHASE_TEXT[phase]
        out.append(sample)

    for item in measurands:
        name, only_phase = split_phase(item)
        row = MEASURAND_TABLE.get(name)
        if row is None:
            continue
        if row.per_phase is None or (only_phase is None and row.total is not None):
            assert row.total is not None
            add(row, row.total(inputs))
            continue
        wanted = None if only_phase is None else row.phase_index(only_phase)
        for index in range(min(phases, len(LINES))):
            if only_phase is None or index == wanted:
                add(row, row.per_phase(inputs, index), row.phase_names[index])
    return out
