"""MeterValues sampled values from one meter reading (core/measurands.py, OCPP 1.6 §7.45,
errata 3.14.3 multiple phases)."""

from __future__ import annotations

from ocpp_station.core.events import MeterReading
from ocpp_station.core.measurands import sampled_values

READING = MeterReading(
    energy_wh=1234.0,
    power_w=6900.0,
    current_a=(10.0, 10.0, 10.0),
    voltage_v=(230.0, 230.0, 230.0),
    offered_a=16.0,
    soc_percent=None,
    temperature_c=28.5,
    frequency_hz=50.0,
)


def values(measurands: list[str], phases: int = 3) -> list[tuple[str, str | None, str, str | None]]:
    samples = sampled_values(measurands, READING, "Sample.Periodic", phases=phases, voltage_v=230.0)
    return [(s["measurand"], s.get("phase"), s["value"], s.get("unit")) for s in samples]


def test_per_phase_measurands_give_every_phase_unless_one_is_named() -> None:
    assert values(["Current.Import"]) == [
        ("Current.Import", "L1", "10.0", "A"),
        ("Current.Import", "L2", "10.0", "A"),
        ("Current.Import", "L3", "10.0", "A"),
    ]
    assert values(["Voltage.L2-N"]) == [("Voltage", "L2-N", "230.0", "V")]
    assert values(["Current.Import"], phases=1) == [("Current.Import", "L1", "10.0", "A")]


def test_power_is_the_total_or_one_phase() -> None:
    assert values(["Power.Active.Import"]) == [("Power.Active.Import", None, "6900.0", "W")]
    assert values(["Power.Active.Import.L3"]) == [("Power.Active.Import", "L3", "2300.0", "W")]
    assert values(["Power.Active.Import.L3"], phases=1) == []  # no such phase on this connector


def test_temperature_and_frequency_when_the_meter_has_them() -> None:
    assert values(["Temperature", "Frequency"]) == [
        ("Temperature", None, "28.5", "Celsius"),
        ("Frequency", None, "50.00", None),  # erratum 3.86: Hertz, no UnitOfMeasure
    ]
    assert values(["SoC"]) == []  # no EV reporting it
