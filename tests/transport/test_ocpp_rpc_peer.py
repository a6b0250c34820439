"""End to end against an independent CSMS: npm ``ocpp-rpc`` in strict mode (tests/peers/ocpp_rpc).

ocpp-rpc validates every CALL we send and every CALLRESULT we return with its own copy of the
OCPP 1.6 schemas (Ajv): a second opinion on "strict on output". Skipped when Node or the npm package
is missing (``scripts/setup --with-peers`` installs it).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.peers.rpc_csms import PEER_MISSING, RpcCsms, is_call, running_rpc_csms
from tests.stations import StationFactory, station_config

pytestmark = pytest.mark.skipif(PEER_MISSING is not None, reason=PEER_MISSING or "")


@pytest.fixture
async def rpc_csms() -> AsyncIterator[RpcCsms]:
    async with running_rpc_csms() as peer:
        yield peer


async def test_full_session_against_strict_ocpp_rpc(rpc_csms: RpcCsms, start_station: StationFactory) -> None:
    config = station_config(
        rpc_csms.url,
        cp_id="RPC_CP",
        ocpp={
            "MeterValueSampleInterval": 1,
            "StopTxnSampledData": "Energy.Active.Import.Register",
            "ClockAlignedDataInterval": 2,
        },
    )
    station = await start_station(config)
    station.plug(1)
    station.present_id_tag("GOOD1")
    await station.wait_for(lambda s: s["connectors"][1]["transactionId"] is not None)
    await rpc_csms.wait_for(
        lambda e: (
            is_call("MeterValues")(e)
            and e["params"]["meterValue"][0]["sampledValue"][0]["context"] == "Sample.Periodic"
        )
    )
    await rpc_csms.wait_for(
        lambda e: (
            is_call("MeterValues")(e)
            and e["params"]["meterValue"][0]["sampledValue"][0]["context"] == "Sample.Clock"
        )
    )
    # CSMS-initiated messages, our answers validated by ocpp-rpc
    result = await rpc_csms.call("RPC_CP", "GetConfiguration", {})
    assert result["event"] == "result", result
    assert len(result["result"]["configurationKey"]) >= 34
    result = await rpc_csms.call(
        "RPC_CP", "ChangeConfiguration", {"key": "HeartbeatInterval", "value": "120"}
    )
    assert result["result"] == {"status": "Accepted"}
    result = await rpc_csms.call("RPC_CP", "DataTransfer", {"vendorId": "x"})
    assert result["result"] == {"status": "UnknownVendorId"}
    transaction_id = station.state()["connectors"][1]["transactionId"]
    result = await rpc_csms.call("RPC_CP", "RemoteStopTransaction", {"transactionId": transaction_id})
    assert result["result"] == {"status": "Accepted"}
    stop = await rpc_csms.wait_for(is_call("StopTransaction"))
    assert stop["params"]["reason"] == "Remote"
    assert stop["params"]["transactionData"]
    station.unplug(1)
    # remote start, then a card the CSMS rejects
    station.plug(1)
    result = await rpc_csms.call("RPC_CP", "RemoteStartTransaction", {"idTag": "GOOD2", "connectorId": 1})
    assert result["result"] == {"status": "Accepted"}
    await rpc_csms.wait_for(lambda e: is_call("StartTransaction")(e) and e["params"]["idTag"] == "GOOD2")
    result = await rpc_csms.call("RPC_CP", "Reset", {"type": "Hard"})
    assert result["result"] == {"status": "Accepted"}
    await rpc_csms.wait_for(
        lambda e: is_call("StopTransaction")(e) and e["params"].get("reason") == "HardReset"
    )
    boots = [e for e in rpc_csms.events if is_call("BootNotification")(e)]
    await rpc_csms.wait_for(lambda e: is_call("BootNotification")(e) and e not in boots)
    assert rpc_csms.errors() == []
