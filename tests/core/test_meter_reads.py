"""Meter readings are pulled when a feature needs one (issue #9, lean hot path), once per engine step."""

from __future__ import annotations

from ocpp_station.core.events import CablePlugged, FrameReceived, IdTagPresented, MeterReading
from tests.core.harness import Harness, charging

OFFLINE = {"LocalAuthorizeOffline": "true", "AllowOfflineTxForUnknownId": "true"}


class Meter:
    """A meter the engine reads through ``ctx.meter_source``; counts the reads."""

    def __init__(self) -> None:
        self.energy_wh = 1000.0
        self.reads: list[int] = []

    def __call__(self, connector_id: int) -> MeterReading:
        self.reads.append(connector_id)
        return MeterReading(energy_wh=self.energy_wh, power_w=7000.0)


def test_meter_is_read_for_a_sample_a_start_and_a_stop_not_for_other_events() -> None:
    h = Harness(config={"MeterValueSampleInterval": "60"})
    meter = Meter()
    h.engine.ctx.meter_source = meter
    charging(h)
    start = h.sent("StartTransaction")[-1]
    assert start["meterStart"] == 1000
    meter.reads.clear()
    h.csms_result("GetConfiguration", {"key": ["HeartbeatInterval"]})  # a CALL and its answer
    h.advance(30)
    assert meter.reads == []
    meter.energy_wh = 1500.0
    h.advance(30)  # the sample is due
    assert meter.reads == [1]
    sample = h.sent("MeterValues")[-1]["meterValue"][0]["sampledValue"][0]
    assert sample["value"] == "1500"
    meter.reads.clear()
    h.csms_result("RemoteStopTransaction", {"transactionId": h.next_tx_id})
    assert meter.reads == [1]  # one read per step, however many features look
    assert h.sent("StopTransaction")[-1]["meterStop"] == 1500


def test_energy_allowance_on_an_invalid_id_is_rechecked_while_readings_are_pulled() -> None:
    """MaxEnergyOnInvalidId (§9.1.18) with pulled readings: checked again every second until used up."""
    h = Harness(
        config={**OFFLINE, "StopTransactionOnInvalidId": "true", "MaxEnergyOnInvalidId": "100"},
        valid_tags=set(),
    )
    meter = Meter()
    h.engine.ctx.meter_source = meter
    h.disconnect()
    h.feed(CablePlugged(1))
    h.feed(IdTagPresented("BAD"))
    h.reconnect()  # StartTransaction.conf: Invalid
    h.advance(5)
    assert "StopTransaction" not in h.actions()
    meter.energy_wh = 1100.0
    h.advance(1)
    stops = h.sent("StopTransaction")
    assert len(stops) == 1 and stops[0]["reason"] == "DeAuthorized"


def test_pushed_readings_still_work_without_a_source() -> None:
    h = Harness()
    h.feed(FrameReceived(b'[3, "nobody", {}]'))
    assert h.engine.ctx.meter(1) == MeterReading()
