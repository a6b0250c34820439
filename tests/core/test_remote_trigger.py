"""Remote Trigger (OCPP 1.6 §5.17 TriggerMessage): the OCTT 1.6 test cases of §2.21 (TC_054_CS,
TC_055_CS) and unit tests of the rules around them, driven through the engine with the scripted CSMS of
``tests/core/harness.py`` (which checks every message we send against the schemas)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from ocpp_station.core.effects import SendFrame
from ocpp_station.core.events import CablePlugged, FaultRaised, MeterRead, MeterReading
from ocpp_station.core.settings import ConnectorSpec, EngineSettings
from tests.core.harness import Harness, Unanswered, charging

TWO_CONNECTORS = EngineSettings(connectors=(ConnectorSpec(), ConnectorSpec()))
ALL_MESSAGES = (
    "DiagnosticsStatusNotification",
    "FirmwareStatusNotification",
    "Heartbeat",
    "MeterValues",
    "StatusNotification",
)


def harness(settings: EngineSettings | None = None, **kwargs: Any) -> Harness:
    h = Harness(settings, **kwargs)
    h.responders["DiagnosticsStatusNotification"] = lambda p: {}
    h.responders["FirmwareStatusNotification"] = lambda p: {}
    return h


def trigger(
    h: Harness, requested: str, connector_id: int | None = None, message_id: str | None = None
) -> str:
    payload: dict[str, Any] = {"requestedMessage": requested}
    if connector_id is not None:
        payload["connectorId"] = connector_id
    status: str = h.csms_result("TriggerMessage", payload, message_id)["status"]
    return status


def sent_since(h: Harness, mark: int, action: str | None = None) -> list[tuple[str, dict[str, Any]]]:
    return [(name, payload) for name, payload in h.calls[mark:] if action is None or name == action]


def meter(energy_wh: float) -> MeterReading:
    return MeterReading(
        energy_wh=energy_wh,
        power_w=7000.0,
        current_a=(10.0, 10.0, 10.0),
        voltage_v=(230.0, 231.0, 229.0),
        offered_a=16.0,
    )


# -- OCTT 2.21 RemoteTrigger --------------------------------------------------------------------------


def test_TC_054_trigger_message() -> None:
    h = harness(config={"MeterValuesSampledData": "Energy.Active.Import.Register,Voltage"})
    h.feed(MeterRead({1: meter(1234.0)}))
    # Steps 1-4: MeterValues for the configured connector, the most recent measurements, context Trigger.
    mark = h.mark()
    assert trigger(h, "MeterValues", 1) == "Accepted"
    [(_, values)] = sent_since(h, mark)
    assert values["connectorId"] == 1
    samples = values["meterValue"][0]["sampledValue"]
    assert {s["context"] for s in samples} == {"Trigger"}
    assert [(s["measurand"], s["value"]) for s in samples] == [
        ("Energy.Active.Import.Register", "1234"),
        ("Voltage", "230.0"),
        ("Voltage", "231.0"),
        ("Voltage", "229.0"),
    ]
    # Steps 5-8: Heartbeat.
    mark = h.mark()
    assert trigger(h, "Heartbeat") == "Accepted"
    assert sent_since(h, mark) == [("Heartbeat", {})]
    # Steps 9-12: StatusNotification of the configured connector.
    mark = h.mark()
    assert trigger(h, "StatusNotification", 1) == "Accepted"
    [(action, status)] = sent_since(h, mark)
    assert action == "StatusNotification"
    assert (status["connectorId"], status["status"], status["errorCode"]) == (1, "Available", "NoError")
    # Steps 13-16: DiagnosticsStatusNotification Idle.
    mark = h.mark()
    assert trigger(h, "DiagnosticsStatusNotification") == "Accepted"
    assert sent_since(h, mark) == [("DiagnosticsStatusNotification", {"status": "Idle"})]
    # Steps 17-20: FirmwareStatusNotification Idle (Accepted OR NotImplemented; we send it).
    mark = h.mark()
    assert trigger(h, "FirmwareStatusNotification") == "Accepted"
    assert sent_since(h, mark) == [("FirmwareStatusNotification", {"status": "Idle"})]


def test_TC_055_trigger_message_rejected() -> None:
    h = harness()
    connectors = int(h.engine.config.get("NumberOfConnectors") or 0)
    mark = h.mark()
    assert trigger(h, "MeterValues", connectors + 1) == "Rejected"
    h.advance(10)
    assert h.actions(mark) == []


# -- unit tests ---------------------------------------------------------------------------------------


def test_profile_is_announced() -> None:
    h = harness()
    conf = h.csms_result("GetConfiguration", {"key": ["SupportedFeatureProfiles"]})
    assert "RemoteTrigger" in conf["configurationKey"][0]["value"].split(",")


@pytest.mark.parametrize("requested", ALL_MESSAGES)
def test_reply_goes_out_before_the_triggered_message(requested: str) -> None:
    h = harness()
    before = len(h.effects)
    assert trigger(h, requested, message_id="trigger-1") == "Accepted"
    frames = [orjson.loads(e.data) for e in h.effects[before:] if isinstance(e, SendFrame)]
    assert frames[0] == [3, "trigger-1", {"status": "Accepted"}]
    assert [f[2] for f in frames[1:] if f[0] == 2][:1] == [requested]


@pytest.mark.parametrize("requested", ["MeterValues", "StatusNotification"])
@pytest.mark.parametrize("connector_id", [2, 99, -1])
def test_unknown_connector_is_rejected(requested: str, connector_id: int) -> None:
    h = harness()  # one connector
    mark = h.mark()
    assert trigger(h, requested, connector_id) == "Rejected"
    assert h.actions(mark) == []


def test_meter_values_of_connector_0_rejected_no_main_meter() -> None:
    h = harness()
    mark = h.mark()
    assert trigger(h, "MeterValues", 0) == "Rejected"
    assert h.actions(mark) == []


@pytest.mark.parametrize(
    "requested", ["Heartbeat", "DiagnosticsStatusNotification", "FirmwareStatusNotification"]
)
def test_irrelevant_connector_id_is_ignored(requested: str) -> None:
    """§5.17: "if the specified connectorId is not relevant to the message, it should be ignored"."""
    h = harness()
    mark = h.mark()
    assert trigger(h, requested, 7) == "Accepted"
    assert h.actions(mark) == [requested]


def test_not_implemented_when_the_message_has_no_trigger() -> None:
    h = harness()
    del h.engine.remote_trigger.requestable["FirmwareStatusNotification"]
    mark = h.mark()
    assert trigger(h, "FirmwareStatusNotification") == "NotImplemented"
    assert h.actions(mark) == []


def test_unknown_requested_message_is_a_call_error() -> None:
    h = harness()
    answer = h.csms_call("TriggerMessage", {"requestedMessage": "StartTransaction"})
    assert answer[0] == 4


def test_boot_notification_rejected_once_accepted() -> None:
    """Errata 3.35 (RECOMMENDED) and 3.40: no triggered BootNotification after Accepted."""
    h = harness()
    mark = h.mark()
    assert trigger(h, "BootNotification") == "Rejected"
    h.advance(10)
    assert h.actions(mark) == []
    assert h.engine.ctx.registration == "Accepted"


def test_status_notification_for_every_connector_and_the_station() -> None:
    h = harness(TWO_CONNECTORS)
    h.feed(CablePlugged(2))
    h.feed(FaultRaised(1, "GroundFailure", info="leak"))
    mark = h.mark()
    assert trigger(h, "StatusNotification") == "Accepted"
    sent = [p for _, p in sent_since(h, mark)]
    assert [(p["connectorId"], p["status"], p["errorCode"]) for p in sent] == [
        (0, "Available", "NoError"),
        (1, "Faulted", "GroundFailure"),
        (2, "Preparing", "NoError"),
    ]
    assert sent[1]["info"] == "leak"


def test_status_notification_of_connector_0_is_the_station() -> None:
    h = harness(TWO_CONNECTORS)
    mark = h.mark()
    assert trigger(h, "StatusNotification", 0) == "Accepted"
    assert [p["connectorId"] for _, p in sent_since(h, mark)] == [0]


def test_meter_values_for_every_connector_with_the_transaction() -> None:
    h = harness(TWO_CONNECTORS)
    transaction_id = charging(h, connector_id=2)
    h.feed(MeterRead({1: meter(10.0), 2: meter(5000.0)}))
    mark = h.mark()
    assert trigger(h, "MeterValues") == "Accepted"
    sent = [p for _, p in sent_since(h, mark, "MeterValues")]
    assert [p["connectorId"] for p in sent] == [1, 2]
    assert "transactionId" not in sent[0]
    assert sent[1]["transactionId"] == transaction_id
    energy = [p["meterValue"][0]["sampledValue"][0] for p in sent]
    assert [(s["measurand"], s["value"], s["context"]) for s in energy] == [
        ("Energy.Active.Import.Register", "10", "Trigger"),
        ("Energy.Active.Import.Register", "5000", "Trigger"),
    ]


def test_heartbeat_already_waiting_complies() -> None:
    h = harness()
    h.responders["StatusNotification"] = lambda p: Unanswered()
    h.feed(FaultRaised(1, "OtherError"))  # a StatusNotification in flight, unanswered
    assert trigger(h, "Heartbeat") == "Accepted"
    assert trigger(h, "Heartbeat") == "Accepted"
    queued = [call.action for call in h.engine.outbox]
    assert queued == ["Heartbeat"]
    h.answer("StatusNotification", {})
    assert h.actions().count("Heartbeat") == 1


def test_replayed_trigger_is_answered_again_but_sent_once() -> None:
    h = harness()
    mark = h.mark()
    assert trigger(h, "Heartbeat", message_id="same") == "Accepted"
    assert trigger(h, "Heartbeat", message_id="same") == "Accepted"
    assert h.actions(mark) == ["Heartbeat"]


# -- while Pending (§4.2) -----------------------------------------------------------------------------


def test_triggered_messages_go_out_while_pending() -> None:
    """§4.2: while Pending the charge point SHALL NOT send requests "unless it has been instructed by
    the Central System to do so with a TriggerMessage.req"."""
    h = harness(boot_status="Pending")
    assert h.actions() == ["BootNotification"]
    assert h.engine.ctx.registration == "Pending"
    for requested in ALL_MESSAGES:
        mark = h.mark()
        assert trigger(h, requested, 1 if requested == "MeterValues" else None) == "Accepted"
        assert h.actions(mark)[:1] == [requested]
    assert h.engine.ctx.registration == "Pending"
    # What was not asked for still waits for Accepted.
    mark = h.mark()
    h.feed(FaultRaised(1, "OtherError"))
    h.advance(10)
    assert h.actions(mark) == []


def test_triggered_boot_notification_while_pending() -> None:
    h = harness(boot_status="Pending")  # the CSMS said: again in 300 s
    h.advance(20)
    mark = h.mark()
    h.responders["BootNotification"] = lambda p: {
        "status": "Accepted",
        "currentTime": "2025-11-24T16:00:20.000Z",
        "interval": 60,
    }
    assert trigger(h, "BootNotification") == "Accepted"
    # §4.2: sooner than the interval, because it was asked for; the registration goes on from there.
    assert h.actions(mark)[0] == "BootNotification"
    assert h.engine.ctx.registration == "Accepted"
    assert sorted(p["connectorId"] for _, p in sent_since(h, mark, "StatusNotification")) == [0, 1]


def test_triggered_boot_notification_while_pending_does_not_reset_registration() -> None:
    h = harness(boot_status="Pending")
    h.responders["BootNotification"] = lambda p: Unanswered()
    mark = h.mark()
    assert trigger(h, "BootNotification") == "Accepted"
    assert h.actions(mark) == ["BootNotification"]
    assert h.engine.ctx.registration == "Pending"  # until the CSMS answers
    # One BootNotification at a time: a second trigger does not queue another.
    assert trigger(h, "BootNotification") == "Accepted"
    assert "BootNotification" not in [call.action for call in h.engine.outbox]
    assert h.actions(mark) == ["BootNotification"]
