"""Every Core message we send, CALL or CALLRESULT, is valid against the official OCPP 1.6 schema.

The harness validates every CALL the engine sends; this test drives the engine through every Core
action in both directions and checks each of our answers too, then that nothing was left out.
"""

from __future__ import annotations

import orjson

from ocpp_station.core.events import (
    CablePlugged,
    CableUnplugged,
    CallRequested,
    IdTagPresented,
    MeterRead,
    MeterReading,
    UnlockCompleted,
)
from ocpp_station.core.settings import ConnectorSpec, EngineSettings
from ocpp_station.wire import schemas
from tests.core.harness import Harness

CORE_CP_ACTIONS = {
    "Authorize",
    "BootNotification",
    "DataTransfer",
    "Heartbeat",
    "MeterValues",
    "StartTransaction",
    "StatusNotification",
    "StopTransaction",
}
CORE_CSMS_ACTIONS = {
    "ChangeAvailability",
    "ChangeConfiguration",
    "ClearCache",
    "DataTransfer",
    "GetConfiguration",
    "RemoteStartTransaction",
    "RemoteStopTransaction",
    "Reset",
    "UnlockConnector",
}


def test_every_core_action_in_both_directions_is_schema_valid() -> None:
    settings = EngineSettings(
        connectors=(ConnectorSpec(), ConnectorSpec(phases=1)),
        data_transfer_handlers={"acme": lambda message_id, data: ("Accepted", "pong")},
    )
    h = Harness(
        settings,
        config={
            "MeterValueSampleInterval": "10",
            "ClockAlignedDataInterval": "60",
            "StopTxnSampledData": "Energy.Active.Import.Register,Current.Import",
            "StopTxnAlignedData": "Energy.Active.Import.Interval",
            "MeterValuesAlignedData": "Energy.Active.Import.Register,Energy.Active.Import.Interval,Voltage",
        },
    )
    reading = MeterReading(
        energy_wh=1500.4,
        power_w=11000,
        current_a=(16, 16, 16),
        voltage_v=(230, 231, 229),
        offered_a=32,
        soc_percent=55,
    )
    h.feed(MeterRead({0: reading, 1: reading, 2: MeterReading(energy_wh=10)}))
    h.feed(CablePlugged(1))
    h.feed(IdTagPresented("TAG"))
    h.advance(120)
    h.feed(CallRequested("DataTransfer", {"vendorId": "acme", "data": "ping"}, ref=1))
    h.advance(400)  # heartbeat
    answered: set[str] = set()

    def csms(action: str, payload: dict, message_id: str) -> dict:
        answered.add(action)
        return h.csms_result(action, payload, message_id)

    csms("GetConfiguration", {}, "g1")
    csms("ChangeConfiguration", {"key": "HeartbeatInterval", "value": "200"}, "c1")
    csms("ClearCache", {}, "cc")
    assert csms("DataTransfer", {"vendorId": "acme", "messageId": "x"}, "d1") == {
        "status": "Accepted",
        "data": "pong",
    }
    csms("ChangeAvailability", {"connectorId": 2, "type": "Inoperative"}, "a1")
    tx_id = h.sent("StartTransaction") and h.engine.snapshot()["connectors"][1]["transactionId"]
    csms("RemoteStopTransaction", {"transactionId": tx_id}, "rs")
    h.feed(CableUnplugged(1))
    h.feed(CablePlugged(1))
    csms("RemoteStartTransaction", {"idTag": "TAG2", "connectorId": 1}, "r1")
    h.feed(FrameCall("u1", "UnlockConnector", {"connectorId": 1}))
    h.feed(UnlockCompleted(1, True))
    answered.add("UnlockConnector")
    csms("Reset", {"type": "Soft"}, "rr")

    sent = {action for action, _ in h.calls}
    assert CORE_CP_ACTIONS <= sent, CORE_CP_ACTIONS - sent
    assert CORE_CSMS_ACTIONS <= answered, CORE_CSMS_ACTIONS - answered
    for frame in h.replies:  # every CALLRESULT we sent, already checked by csms_result
        assert frame[0] == 3, frame


def FrameCall(message_id: str, action: str, payload: dict):
    from ocpp_station.core.events import FrameReceived

    return FrameReceived(orjson.dumps([2, message_id, action, payload]))


def test_unlock_reply_is_schema_valid() -> None:
    h = Harness()
    h.feed(FrameCall("u1", "UnlockConnector", {"connectorId": 1}))
    h.feed(UnlockCompleted(1, False))
    reply = next(r for r in h.replies if r[1] == "u1")
    schemas.validate_response("UnlockConnector", reply[2])
    assert reply[2] == {"status": "UnlockFailed"}
