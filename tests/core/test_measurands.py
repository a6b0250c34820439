"""The measurand table (core/measurands.py): the configuration keys and metering both work over it
(OCPP 1.6 §7.31, §7.45, errata 3.14.3, 3.14.4). These tests walk every row and every §7.31 measurand."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ocpp_station.config.keys import KEYS_BY_NAME, InvalidValue
from ocpp_station.core.events import MeterReading
from ocpp_station.core.measurands import LINES, MEASURAND_TABLE, sampled_values, samples
from ocpp_station.wire.messages import (
    Measurand,
    Phase,
    ReadingContext,
    SampledValue,
    StopTransactionSampledValue,
    StopTransactionUnitOfMeasure,
    UnitOfMeasure,
)
from ocpp_station.wire.schemas import to_builtins, validate_request

#: A reading that has every value (a three-phase meter, an EV reporting its SoC).
FULL = MeterReading(
    energy_wh=1234.0,
    power_w=6900.0,
    current_a=(10.0, 10.0, 10.0),
    voltage_v=(230.0, 230.0, 230.0),
    offered_a=16.0,
    soc_percent=55.0,
    temperature_c=28.5,
    frequency_hz=50.0,
)
MEASURAND_KEYS = (
    "MeterValuesSampledData",
    "MeterValuesAlignedData",
    "StopTxnSampledData",
    "StopTxnAlignedData",
)


def _samples(items: list[str], phases: int = 3) -> list[dict[str, object]]:
    return sampled_values(items, FULL, "Sample.Clock", phases=phases, voltage_v=230.0, interval_energy_wh=5.0)


@pytest.mark.parametrize("key", MEASURAND_KEYS)
def test_the_keys_accept_exactly_the_rows_and_their_phases(key: str) -> None:
    check = KEYS_BY_NAME[key].check
    for measurand in Measurand:
        row = MEASURAND_TABLE.get(measurand.value)
        if row is None:  # known to §7.31, not given by this charge point: erratum 3.14.4
            with pytest.raises(InvalidValue, match="not supported"):
                check(measurand.value)
            continue
        assert check(measurand.value) == measurand.value
        for phase in Phase:
            item = f"{measurand.value}.{phase.value}"
            if phase in row.phases:
                assert check(item) == item
            else:
                with pytest.raises(InvalidValue, match="not measured on phase"):
                    check(item)


def test_every_row_is_reported_with_its_unit_and_location() -> None:
    for name, row in MEASURAND_TABLE.items():
        samples = _samples([name])
        assert samples, name
        expected_phases = [None] if row.total is not None else [p.value for p in row.phase_names]
        assert [s.get("phase") for s in samples] == expected_phases, name
        for sample in samples:
            assert sample["measurand"] == name
            assert sample["location"] == row.location.value
            assert sample.get("unit") == (None if row.unit is None else row.unit.value)


def test_every_phase_a_key_accepts_gives_one_value_of_that_phase() -> None:
    for name, row in MEASURAND_TABLE.items():
        for phase in row.phases:
            samples = _samples([f"{name}.{phase.value}"])
            index = row.phase_index(phase)
            assert index is not None and index < len(LINES)
            assert [s["phase"] for s in samples] == [row.phase_names[index].value], (name, phase)
            # A single-phase connector has no L2 / L3.
            assert len(_samples([f"{name}.{phase.value}"], phases=1)) == (1 if index == 0 else 0)


def test_a_missing_value_is_left_out() -> None:
    empty = MeterReading()
    samples = sampled_values(list(MEASURAND_TABLE), empty, "Sample.Periodic", phases=3, voltage_v=230.0)
    # No per-phase values, no SoC / temperature / frequency, no interval outside aligned data.
    assert {s["measurand"] for s in samples} == {
        "Energy.Active.Import.Register",
        "Power.Active.Import",
        "Power.Offered",
        "Current.Offered",
    }


def test_every_row_and_phase_in_one_meter_value_is_schema_valid() -> None:
    items = list(MEASURAND_TABLE) + [
        f"{n}.{p.value}" for n, row in MEASURAND_TABLE.items() for p in row.phases
    ]
    payload = {
        "connectorId": 1,
        "meterValue": [{"timestamp": "2026-01-01T00:00:00Z", "sampledValue": _samples(items)}],
    }
    validate_request("MeterValues", payload)


def test_the_key_table_imports_alone() -> None:
    """config.keys reaches the table without an import cycle through the core package."""
    code = (
        "from ocpp_station.config.keys import KEYS_BY_NAME;"
        "assert KEYS_BY_NAME['MeterValuesSampledData'].check('Voltage.L1') == 'Voltage.L1'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_stop_transaction_data_has_its_own_types_and_the_same_wire_form() -> None:
    """StopTransaction.req transactionData gets StopTransactionSampledValue (its unit is
    StopTransactionUnitOfMeasure in the schema), MeterValues.req SampledValue: the same JSON."""
    items = ["Energy.Active.Import.Register", "Voltage", "Temperature", "Frequency", "Current.Import.L2"]
    context = ReadingContext.Transaction_End
    stop = samples(StopTransactionSampledValue, items, FULL, context, phases=3, voltage_v=230.0)
    meter = samples(SampledValue, items, FULL, context, phases=3, voltage_v=230.0)
    assert all(type(s) is StopTransactionSampledValue for s in stop)
    assert all(type(s) is SampledValue for s in meter)
    assert stop[0].unit is StopTransactionUnitOfMeasure.Wh and meter[0].unit is UnitOfMeasure.Wh
    assert [to_builtins(s) for s in stop] == [to_builtins(s) for s in meter]
    assert [to_builtins(s) for s in meter] == sampled_values(items, FULL, context, phases=3, voltage_v=230.0)
    assert len(meter) == 7  # energy, 3 voltages, temperature, frequency, one current
