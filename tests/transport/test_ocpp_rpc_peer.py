"""End to end against an independent CSMS: npm ``ocpp-rpc`` in strict mode (tests/peers/ocpp_rpc).

ocpp-rpc validates every CALL we send and every CALLRESULT we return with its own copy of the
OCPP 1.6 schemas (Ajv): a second opinion on "strict on output". Skipped when Node or the npm package
is missing (``scripts/setup --with-peers`` installs it).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.stations import StationFactory, station_config

PEER = Path(__file__).resolve().parent.parent / "peers" / "ocpp_rpc"
NODE = shutil.which("node")

pytestmark = pytest.mark.skipif(
    NODE is None or not (PEER / "node_modules" / "ocpp-rpc").exists(),
    reason="node or tests/peers/ocpp_rpc/node_modules missing (scripts/setup --with-peers)",
)


class RpcCsms:
    def __init__(self, proc: asyncio.subprocess.Process, port: int) -> None:
        self.proc = proc
        self.port = port
        self.events: list[dict[str, Any]] = []
        self._changed = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ocpp/"

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            self.events.append(json.loads(line))
            self._changed.set()

    async def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 15
    ) -> dict[str, Any]:
        async def scan() -> dict[str, Any]:
            seen = 0
            while True:
                for event in self.events[seen:]:
                    if predicate(event):
                        return event
                seen = len(self.events)
                self._changed.clear()
                await self._changed.wait()

        return await asyncio.wait_for(scan(), timeout)

    async def call(self, identity: str, action: str, params: dict[str, Any]) -> dict[str, Any]:
        assert self.proc.stdin is not None
        token = len(self.events) + 1000
        self.proc.stdin.write(
            (
                json.dumps(
                    {"cmd": "call", "identity": identity, "action": action, "params": params, "id": token}
                )
                + "\n"
            ).encode()
        )
        await self.proc.stdin.drain()
        return await self.wait_for(
            lambda e: e.get("event") in ("result", "callError") and e.get("id") == token
        )

    def errors(self) -> list[dict[str, Any]]:
        return [
            e
            for e in self.events
            if e.get("event") == "error" or (e.get("event") == "reply" and "error" in e)
        ]


@pytest.fixture
async def rpc_csms() -> AsyncIterator[RpcCsms]:
    assert NODE is not None
    proc = await asyncio.create_subprocess_exec(
        NODE,
        str(PEER / "csms.js"),
        "--port",
        "0",
        "--valid-tags",
        "GOOD1,GOOD2",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    first = json.loads(await asyncio.wait_for(proc.stdout.readline(), 20))
    assert first["event"] == "listening", first
    peer = RpcCsms(proc, first["port"])
    yield peer
    proc.terminate()
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(proc.wait(), 5)
    peer._reader.cancel()


def is_call(action: str) -> Callable[[dict[str, Any]], bool]:
    return lambda e: e.get("event") == "call" and e.get("action") == action


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
