"""ExtendedTriggerMessage (OCPP 1.6 security whitepaper ed. 3, §5.5, §5.6, §6.16, §6.17): one test per
requestedMessage of MessageTriggerEnumType, the connector cases and the CALLERROR for a value outside
the enumeration, driven through the engine with the scripted CSMS of ``tests/core/harness.py`` (which
checks every message we send, and our answer, against the schemas).

The whitepaper has no use case for the extended trigger itself; the tests are named after the use case
or requirement that names the requested message (A02, L01.FR.28-29, N01.FR.12) or after the section.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from ocpp_station.core.effects import SendFrame
from ocpp_station.core.events import CablePlugged, FaultRaised, MeterRead
from ocpp_station.core.settings import ConnectorSpec, EngineSettings
from tests.core.harness import Harness, charging
from tests.core.test_remote_trigger import meter

TWO_CONNECTORS = EngineSettings(connectors=(ConnectorSpec(), ConnectorSpec()))
#: The requestedMessages whose message TriggerMessage can ask for too (the same triggers).
SHARED = ("BootNotification", "Heartbeat", "MeterValues", "StatusNotification")
#: Nothing the station has can send these (none left). SignCertificate (A02):
#: tests/core/test_station_certificate.py; SignedFirmwareStatusNotification (L01):
#: tests/core/test_signed_firmware.py; LogStatusNotification: tests/core/test_logs.py.
NOT_BUILT: tuple[str, ...] = ()


def extended(
    h: Harness, requested: str, connector_id: int | None = None, message_id: str | None = None
) -> str:
    payload: dict[str, Any] = {"requestedMessage": requested}
    if connector_id is not None:
        payload["connectorId"] = connector_id
    status: str = h.csms_result("ExtendedTriggerMessage", payload, message_id)["status"]
    return status


def sent_since(h: Harness, mark: int, action: str | None = None) -> list[dict[str, Any]]:
    return [payload for name, payload in h.calls[mark:] if action is None or name == action]


# -- one test per requestedMessage (§6.16) ------------------------------------------------------------


def test_6_16_boot_notification_while_pending_then_rejected_once_accepted() -> None:
    """The same trigger as TriggerMessage: allowed while Pending (it passes the §4.2 gate), Rejected
    once Accepted (errata 3.35, 3.40)."""
    h = Harness(boot_status="Pending")
    h.responders["BootNotification"] = lambda p: {
        "status": "Accepted",
        "currentTime": "2025-11-24T16:00:20.000Z",
        "interval": 60,
    }
    mark = h.mark()
    assert extended(h, "BootNotification") == "Accepted"
    assert h.actions(mark)[0] == "BootNotification"
    assert h.engine.ctx.registration == "Accepted"
    mark = h.mark()
    assert extended(h, "BootNotification") == "Rejected"
    h.advance(10)
    assert h.actions(mark) == []


def test_6_16_heartbeat() -> None:
    h = Harness()
    mark = h.mark()
    assert extended(h, "Heartbeat") == "Accepted"
    assert h.actions(mark) == ["Heartbeat"]


def test_6_16_meter_values_of_a_connector_context_trigger() -> None:
    h = Harness(config={"MeterValuesSampledData": "Energy.Active.Import.Register"})
    h.feed(MeterRead({1: meter(1234.0)}))
    mark = h.mark()
    assert extended(h, "MeterValues", 1) == "Accepted"
    [values] = sent_since(h, mark)
    assert values["connectorId"] == 1
    [sample] = values["meterValue"][0]["sampledValue"]
    assert (sample["measurand"], sample["value"], sample["context"]) == (
        "Energy.Active.Import.Register",
        "1234",
        "Trigger",
    )


def test_6_16_meter_values_of_every_connector_with_the_transaction() -> None:
    h = Harness(TWO_CONNECTORS)
    transaction_id = charging(h, connector_id=2)
    h.feed(MeterRead({1: meter(10.0), 2: meter(5000.0)}))
    mark = h.mark()
    assert extended(h, "MeterValues") == "Accepted"
    sent = sent_since(h, mark, "MeterValues")
    assert [p["connectorId"] for p in sent] == [1, 2]
    assert "transactionId" not in sent[0]
    assert sent[1]["transactionId"] == transaction_id


def test_6_16_status_notification_of_a_connector() -> None:
    h = Harness(TWO_CONNECTORS)
    h.feed(FaultRaised(2, "GroundFailure", info="leak"))
    mark = h.mark()
    assert extended(h, "StatusNotification", 2) == "Accepted"
    [status] = sent_since(h, mark)
    assert (status["connectorId"], status["status"], status["errorCode"], status["info"]) == (
        2,
        "Faulted",
        "GroundFailure",
        "leak",
    )


def test_6_16_status_notification_without_connector_is_the_whole_charge_point() -> None:
    """§5.5: connectorId is "only filled in when request applies to a specific connector"; without it,
    every connector and the charge point itself (connector 0), as TriggerMessage does."""
    h = Harness(TWO_CONNECTORS)
    h.feed(CablePlugged(2))
    mark = h.mark()
    assert extended(h, "StatusNotification") == "Accepted"
    assert [(p["connectorId"], p["status"]) for p in sent_since(h, mark)] == [
        (0, "Available"),
        (1, "Available"),
        (2, "Preparing"),
    ]


def test_L01_FR_28_29_firmware_status_notification_is_the_signed_status() -> None:
    """§6.16: FirmwareStatusNotification asks for the SignedFirmwareStatusNotification.req ("the status
    of the secure firmware update introduced in this document"), whose status L01.FR.28-29 define: Idle,
    without requestId, when no signed update ever reported one (more in
    tests/core/test_signed_firmware.py); the plain 1.6 FirmwareStatusNotification is not sent in its
    place."""
    h = Harness()
    mark = h.mark()
    assert extended(h, "FirmwareStatusNotification") == "Accepted"
    h.advance(10)
    assert h.calls[mark:] == [("SignedFirmwareStatusNotification", {"status": "Idle"})]


def test_N01_FR_12_log_status_notification_idle() -> None:
    """GetLog (N01) is built: with no upload running the LogStatusNotification.req is Idle, without a
    requestId (N01.FR.12; more in tests/core/test_logs.py)."""
    h = Harness()
    h.responders["LogStatusNotification"] = lambda p: {}
    mark = h.mark()
    assert extended(h, "LogStatusNotification") == "Accepted"
    h.advance(10)
    assert h.calls[mark:] == [("LogStatusNotification", {"status": "Idle"})]


def test_A02_sign_charge_point_certificate_without_cpo_name_is_rejected() -> None:
    """A02's prerequisite "CpoName MUST be set": without it no CSR can carry the organization
    (A02.FR.13), so the request is Rejected and nothing is sent (the rest: test_station_certificate.py)."""
    h = Harness()
    mark = h.mark()
    assert extended(h, "SignChargePointCertificate") == "Rejected"
    h.advance(10)
    assert h.actions(mark) == []


# -- connectorId (§5.5 "integer connectorId > 0") ------------------------------------------------------


@pytest.mark.parametrize("requested", ["MeterValues", "StatusNotification"])
@pytest.mark.parametrize("connector_id", [2, 99])
def test_5_5_unknown_connector_is_rejected(requested: str, connector_id: int) -> None:
    h = Harness()  # one connector
    mark = h.mark()
    assert extended(h, requested, connector_id) == "Rejected"
    h.advance(10)
    assert h.actions(mark) == []


@pytest.mark.parametrize("requested", SHARED)
@pytest.mark.parametrize("connector_id", [0, -1])
def test_5_5_connector_id_not_above_0_is_rejected(requested: str, connector_id: int) -> None:
    """Connector 0, which TriggerMessage takes for StatusNotification, is outside the field (> 0)."""
    h = Harness(boot_status="Pending")  # BootNotification would be Accepted otherwise
    mark = h.mark()
    assert extended(h, requested, connector_id) == "Rejected"
    assert h.actions(mark) == []


@pytest.mark.parametrize("requested", NOT_BUILT)
def test_6_17_not_implemented_whatever_the_connector(requested: str) -> None:
    h = Harness()
    assert extended(h, requested, 1) == "NotImplemented"
    assert extended(h, requested, 0) == "NotImplemented"


def test_5_5_irrelevant_connector_id_is_ignored() -> None:
    """As TriggerMessage (§5.17): a connectorId that does not matter to the message is ignored."""
    h = Harness()
    mark = h.mark()
    assert extended(h, "Heartbeat", 7) == "Accepted"
    assert h.actions(mark) == ["Heartbeat"]


# -- order, Pending, bad requests ---------------------------------------------------------------------


@pytest.mark.parametrize("requested", ["Heartbeat", "MeterValues", "StatusNotification"])
def test_5_6_conf_goes_out_before_the_triggered_message(requested: str) -> None:
    h = Harness()
    before = len(h.effects)
    assert extended(h, requested, message_id="ext-1") == "Accepted"
    frames = [orjson.loads(e.data) for e in h.effects[before:] if isinstance(e, SendFrame)]
    assert frames[0] == [3, "ext-1", {"status": "Accepted"}]
    assert [f[2] for f in frames[1:] if f[0] == 2][:1] == [requested]


def test_triggered_messages_go_out_while_pending() -> None:
    h = Harness(boot_status="Pending")
    for requested, connector_id in (("Heartbeat", None), ("MeterValues", 1), ("StatusNotification", 1)):
        mark = h.mark()
        assert extended(h, requested, connector_id) == "Accepted"
        assert h.actions(mark) == [requested]
    assert h.engine.ctx.registration == "Pending"


@pytest.mark.parametrize(
    "payload",
    [
        {"requestedMessage": "DiagnosticsStatusNotification"},  # TriggerMessage's, not §6.16's
        {"requestedMessage": "SignCertificate"},
        {"requestedMessage": "heartbeat"},
    ],
)
def test_6_16_value_outside_the_enumeration_is_a_call_error(payload: dict[str, Any]) -> None:
    h = Harness()
    mark = h.mark()
    answer = h.csms_call("ExtendedTriggerMessage", payload)
    assert answer[0] == 4
    assert answer[2] == "PropertyConstraintViolation"
    h.advance(10)
    # Nothing triggered; the invalid message is a security event (whitepaper §8, InvalidMessages).
    assert h.actions(mark) == ["SecurityEventNotification"]
    assert h.calls[-1][1]["techInfo"] == "CALL ExtendedTriggerMessage: PropertyConstraintViolation"


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({}, "ProtocolError"),
        ({"requestedMessage": "Heartbeat", "connectorId": "1"}, "TypeConstraintViolation"),
        ({"requestedMessage": "Heartbeat", "evse": {"id": 1}}, "FormationViolation"),
    ],
)
def test_5_5_malformed_request_is_a_call_error(payload: dict[str, Any], code: str) -> None:
    h = Harness()
    answer = h.csms_call("ExtendedTriggerMessage", payload)
    assert (answer[0], answer[2]) == (4, code)
