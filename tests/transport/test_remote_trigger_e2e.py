"""TriggerMessage (OCPP 1.6 §5.17) over real websockets against the development CSMS."""

from __future__ import annotations

from collections.abc import Callable

from ocpp_station.sim.csms import CentralSystem, LogEntry
from tests.stations import StationFactory, station_config


def called(action: str) -> Callable[[LogEntry], bool]:
    return lambda e: e.direction == "in" and e.kind == "CALL" and e.action == action


def answered(action: str) -> Callable[[LogEntry], bool]:
    return lambda e: e.direction == "in" and e.kind == "CALLRESULT" and e.action == action


async def test_trigger_message_while_pending_and_accepted(
    csms: CentralSystem, start_station: StationFactory
) -> None:
    csms.boot_status = "Pending"
    station = await start_station(station_config(csms.url), wait_accepted=False)
    await station.wait_for(lambda s: s["registration"] == "Pending", timeout=10)

    # While Pending a triggered message goes out (§4.2), after the TriggerMessage.conf (§5.17).
    since = len(csms.log)
    result = await csms.call(
        "CP_1", "TriggerMessage", {"requestedMessage": "StatusNotification", "connectorId": 1}
    )
    assert result == {"status": "Accepted"}
    status = await csms.wait_for(called("StatusNotification"), since=since)
    reply = await csms.wait_for(answered("TriggerMessage"), since=since)
    assert csms.log.index(reply) < csms.log.index(status)
    assert status.payload["connectorId"] == 1
    assert status.payload["status"] == "Available"
    assert station.state()["registration"] == "Pending"

    # A triggered BootNotification goes out at once, not after the Pending interval.
    csms.boot_status = "Accepted"
    since = len(csms.log)
    result = await csms.call("CP_1", "TriggerMessage", {"requestedMessage": "BootNotification"})
    assert result == {"status": "Accepted"}
    await csms.wait_for(called("BootNotification"), since=since)
    await station.wait_for(lambda s: s["registration"] == "Accepted", timeout=10)

    # Accepted: no more BootNotification on request (errata 3.35); MeterValues with context Trigger.
    result = await csms.call("CP_1", "TriggerMessage", {"requestedMessage": "BootNotification"})
    assert result == {"status": "Rejected"}
    since = len(csms.log)
    result = await csms.call("CP_1", "TriggerMessage", {"requestedMessage": "MeterValues", "connectorId": 1})
    assert result == {"status": "Accepted"}
    values = await csms.wait_for(called("MeterValues"), since=since)
    assert values.payload["connectorId"] == 1
    samples = values.payload["meterValue"][0]["sampledValue"]
    assert samples and {s["context"] for s in samples} == {"Trigger"}
