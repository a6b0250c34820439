"""ExtendedTriggerMessage (security whitepaper ed. 3, §5.5, §5.6) from an independent CSMS: npm
``ocpp-rpc`` in strict mode. Its schema set (``lib/schemas/ocpp1_6.json``) has the security messages,
``urn:ExtendedTriggerMessage.req`` and ``.conf`` among them, so it checks the request it sends and the
ExtendedTriggerMessage.conf the station answers; the triggered StatusNotification.req it checks against
its 1.6 schema (csms.js handles StatusNotification).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from tests.peers.rpc_csms import PEER_MISSING, Predicate, RpcCsms, is_call, running_rpc_csms
from tests.stations import StationFactory, station_config

pytestmark = pytest.mark.skipif(PEER_MISSING is not None, reason=PEER_MISSING or "")

CP = "RPC_EXT_CP"


def status_of(connector_id: int) -> Predicate:
    return lambda e: is_call("StatusNotification")(e) and e["params"]["connectorId"] == connector_id


@pytest.fixture
async def rpc_csms() -> AsyncIterator[RpcCsms]:
    async with running_rpc_csms() as peer:
        yield peer


async def test_extended_trigger_status_notification_against_ocpp_rpc(
    rpc_csms: RpcCsms, start_station: StationFactory
) -> None:
    await start_station(station_config(rpc_csms.url, cp_id=CP))
    # The statuses after the boot first, so the next StatusNotification is the triggered one.
    for connector_id in (0, 1):
        await rpc_csms.wait_for(status_of(connector_id))
    mark = len(rpc_csms.events)
    answer = await rpc_csms.result(
        CP, "ExtendedTriggerMessage", {"requestedMessage": "StatusNotification", "connectorId": 1}
    )
    assert answer == {"status": "Accepted"}
    call = await rpc_csms.wait_for(is_call("StatusNotification"), since=mark)
    assert (call["params"]["connectorId"], call["params"]["status"]) == (1, "Available")
    # §5.6 as §5.17 of 1.6: the conf first, then the triggered message.
    frames = [
        json.loads(e["raw"])
        for e in rpc_csms.events[mark:]
        if e.get("event") == "frame" and e["direction"] == "in"
    ]
    kinds = [(f[0], f[2] if f[0] == 2 else None) for f in frames]
    assert kinds.index((3, None)) < kinds.index((2, "StatusNotification"))

    # The refusals are schema-valid too: connector 0 (§5.5 "connectorId > 0") and a certificate
    # without CpoName (A02's prerequisite).
    refused = {"requestedMessage": "StatusNotification", "connectorId": 0}
    assert await rpc_csms.result(CP, "ExtendedTriggerMessage", refused) == {"status": "Rejected"}
    no_cpo_name = {"requestedMessage": "SignChargePointCertificate"}
    assert await rpc_csms.result(CP, "ExtendedTriggerMessage", no_cpo_name) == {"status": "Rejected"}
    assert rpc_csms.errors() == []


async def test_A02_sign_certificate_against_ocpp_rpc(
    rpc_csms: RpcCsms, start_station: StationFactory
) -> None:
    """ExtendedTriggerMessage SignChargePointCertificate, then SignCertificate.req with its CSR: both
    checked against ocpp-rpc's strict 1.6 schemas, answered Accepted."""
    await start_station(station_config(rpc_csms.url, cp_id=CP, ocpp={"CpoName": "Test CPO"}))
    mark = len(rpc_csms.events)
    request = {"requestedMessage": "SignChargePointCertificate"}
    assert await rpc_csms.result(CP, "ExtendedTriggerMessage", request) == {"status": "Accepted"}
    call = await rpc_csms.wait_for(is_call("SignCertificate"), since=mark)
    assert call["params"]["csr"].startswith("-----BEGIN CERTIFICATE REQUEST-----")
    assert rpc_csms.errors() == []


async def test_N01_get_log_and_log_status_notification_against_ocpp_rpc(
    rpc_csms: RpcCsms, start_station: StationFactory
) -> None:
    """GetLog.req / GetLog.conf, LogStatusNotification (the upload to a closed port fails at once:
    Uploading, then UploadFailure, with the requestId) and ExtendedTriggerMessage LogStatusNotification
    (Idle, no requestId): all checked against ocpp-rpc's strict 1.6 schemas."""
    await start_station(station_config(rpc_csms.url, cp_id=CP))
    mark = len(rpc_csms.events)
    request = {
        "logType": "SecurityLog",
        "requestId": 7,
        "retries": 0,
        "log": {"remoteLocation": "ftp://127.0.0.1:9/"},
    }
    answer = await rpc_csms.result(CP, "GetLog", request)
    assert answer["status"] == "Accepted" and answer["filename"].endswith(".txt")
    failed = await rpc_csms.wait_for(
        lambda e: is_call("LogStatusNotification")(e) and e["params"]["status"] == "UploadFailure", since=mark
    )
    assert failed["params"]["requestId"] == 7
    mark = len(rpc_csms.events)
    trigger = {"requestedMessage": "LogStatusNotification"}
    assert await rpc_csms.result(CP, "ExtendedTriggerMessage", trigger) == {"status": "Accepted"}
    idle = await rpc_csms.wait_for(is_call("LogStatusNotification"), since=mark)
    assert idle["params"] == {"status": "Idle"}
    # Every SecurityEventNotification the station sent (StartupOfTheDevice at least) passed too.
    assert any(is_call("SecurityEventNotification")(e) for e in rpc_csms.events)
    assert rpc_csms.errors() == []
