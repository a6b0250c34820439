"""The development CSMS over real loopback websockets, with aiohttp's client as a stand-in station."""

from __future__ import annotations

import asyncio
import contextlib
import re
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest

from ocpp_station.sim.csms import (
    CentralSystem,
    LogEntry,
)

BOOT = {"chargePointVendor": "ocpp-station", "chargePointModel": "Test"}
TS = "2026-11-25T17:40:01.123Z"

Frame = list[Any]
Answer = Callable[[str, dict[str, Any]], Frame]


async def call(ws: aiohttp.ClientWebSocketResponse, action: str, payload: dict[str, Any]) -> Frame:
    """Send a CALL as the station and return the frame that answers it."""
    message_id = str(uuid.uuid4())
    await ws.send_json([2, message_id, action, payload])
    reply: Frame = await asyncio.wait_for(ws.receive_json(), 5)
    assert reply[1] == message_id
    return reply


@contextlib.asynccontextmanager
async def answering(ws: aiohttp.ClientWebSocketResponse, answer: Answer) -> AsyncIterator[None]:
    """Play a station that answers every CSMS CALL with ``answer(message_id, {action, payload})``."""

    async def loop() -> None:
        async for message in ws:
            frame = message.json()
            if frame[0] == 2:
                await ws.send_json(answer(frame[1], {"action": frame[2], "payload": frame[3]}))

    task = asyncio.create_task(loop())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def is_(kind: str, action: str, direction: str = "in") -> Callable[[LogEntry], bool]:
    return lambda e: e.kind == kind and e.action == action and e.direction == direction


# --- connection ---


async def test_boot_accepted(csms: CentralSystem, http: aiohttp.ClientSession) -> None:
    async with http.ws_connect(csms.url + "CP_1", protocols=("ocpp1.6",)) as ws:
        assert ws.protocol == "ocpp1.6"
        station = await csms.wait_connected("CP_1")
        assert station.connected
        reply = await call(ws, "BootNotification", BOOT)
    assert reply[0] == 3
    assert reply[2]["status"] == "Accepted"
    assert reply[2]["interval"] == 300
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", reply[2]["currentTime"])
    assert csms.stations["CP_1"].boot == BOOT
    assert csms.stations["CP_1"].boot_status == "Accepted"
    assert [(e.direction, e.kind, e.action) for e in csms.log] == [
        ("in", "CALL", "BootNotification"),
        ("out", "CALLRESULT", "BootNotification"),
    ]
    await csms.wait_disconnected("CP_1")
    assert not csms.stations["CP_1"].connected


async def test_any_prefix_and_percent_encoded_id(csms: CentralSystem, http: aiohttp.ClientSession) -> None:
    url = f"ws://127.0.0.1:{csms.port}/webServices/ocpp/RDAM%20123"
    async with http.ws_connect(url, protocols=("ocpp1.5", "ocpp1.6")) as ws:
        assert ws.protocol == "ocpp1.6"
        await csms.wait_connected("RDAM 123")


async def test_subprotocol_required(csms: CentralSystem, http: aiohttp.ClientSession) -> None:
    for protocols in ((), ("ocpp2.0.1",)):
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await http.ws_connect(csms.url + "CP_1", protocols=protocols)
        assert info.value.status == 400
    async with http.get(csms.url.replace("ws:", "http:") + "CP_1") as response:  # not a websocket
        assert response.status == 426
        assert "ocpp1.6" in await response.text()
    assert csms.stations == {}


async def test_allowed_stations(http: aiohttp.ClientSession) -> None:
    async with CentralSystem(port=0, allowed_stations=["CP_1"]) as csms:
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await http.ws_connect(csms.url + "CP_X", protocols=("ocpp1.6",))
        assert info.value.status == 404
        async with http.ws_connect(csms.url + "CP_1", protocols=("ocpp1.6",)):
            await csms.wait_connected("CP_1")


async def test_new_connection_replaces_the_old(csms: CentralSystem, http: aiohttp.ClientSession) -> None:
    async with http.ws_connect(csms.url + "CP_1", protocols=("ocpp1.6",)) as first:
        await csms.wait_connected("CP_1")
        async with http.ws_connect(csms.url + "CP_1", protocols=("ocpp1.6",)) as second:
            closing = await asyncio.wait_for(first.receive(), 5)
            assert closing.type is aiohttp.WSMsgType.CLOSE
            assert (await call(second, "Heartbeat", {}))[0] == 3
            assert csms.stations["CP_1"].connected


async def test_stop_closes_stations_with_1001(http: aiohttp.ClientSession) -> None:
    csms = CentralSystem(port=0)
    await csms.start()
    async with http.ws_connect(csms.url + "CP_1", protocols=("ocpp1.6",)) as ws:
        await csms.wait_connected("CP_1")
        stopping = asyncio.create_task(csms.stop())
        message = await asyncio.wait_for(ws.receive(), 5)
        await stopping
    assert message.type is aiohttp.WSMsgType.CLOSE
    assert message.data == 1001


# --- answers to the station's CALLs ---


async def test_session_messages_and_state(csms: CentralSystem, http: aiohttp.ClientSession) -> None:
    async with http.ws_connect(csms.url + "CP_1", protocols=("ocpp1.6",)) as ws:
        assert (await call(ws, "Heartbeat", {}))[2]["currentTime"].endswith("Z")
        status = {"connectorId": 1, "errorCode": "NoError", "status": "Preparing"}
        assert (await call(ws, "StatusNotification", status))[2] == {}
        assert (await call(ws, "Authorize", {"idTag": "GOOD"}))[2] == {"idTagInfo": {"status": "Accepted"}}
        assert (await call(ws, "Authorize", {"idTag": "BAD"}))[2] == {"idTagInfo": {"status": "Invalid"}}
        start = {"connectorId": 1, "idTag": "GOOD", "meterStart": 100, "timestamp": TS}
        first = (await call(ws, "StartTransaction", start))[2]
        second = (await call(ws, "StartTransaction", start | {"connectorId": 2, "idTag": "BAD"}))[2]
        assert first == {"transactionId": 1, "idTagInfo": {"status": "Accepted"}}
        assert second == {"transactionId": 2, "idTagInfo": {"status": "Invalid"}}
        sample = {"timestamp": TS, "sampledValue": [{"value": "150"}]}
        meter = {"connectorId": 1, "transactionId": 1, "meterValue": [sample]}
        assert (await call(ws, "MeterValues", meter))[2] == {}
        stop = {"transactionId": 1, "idTag": "GOOD", "meterStop": 200, "timestamp": TS, "reason": "Local"}
        assert (await call(ws, "StopTransaction", stop))[2] == {"idTagInfo": {"status": "Accepted"}}
        stop2 = {"transactionId": 2, "meterStop": 100, "timestamp": TS}
        assert (await call(ws, "StopTransaction", stop2))[2] == {}
        transfer = {"vendorId": "acme"}
        assert (await call(ws, "DataTransfer", transfer))[2] == {"status": "UnknownVendorId"}
        for action in ("FirmwareStatusNotification", "DiagnosticsStatusNotification"):
            assert (await call(ws, action, {"status": "Idle"}))[2] == {}
    station = csms.stations["CP_1"]
    assert station.statuses == {1: "Preparing"}
    tx = station.transactions[1]
    assert (tx.connector_id, tx.id_tag, tx.meter_start, tx.meter_stop, tx.reason) == (
        1,
        "GOOD",
        100,
        200,
        "Local",
    )
    assert tx.meter_values == [sample]
    assert not tx.active
    assert station.transactions[2].meter_stop == 100


# --- HTTP API ---


async def test_http_call_endpoint(csms: CentralSystem, http: aiohttp.ClientSession) -> None:
    def answer(message_id: str, call: dict[str, Any]) -> Frame:
        if call["action"] == "Reset":
            return [3, message_id, {"status": "Rejected"}]
        return [4, message_id, "NotImplemented", "no", {}]

    api = csms.http_url + "/api/stations"
    async with http.ws_connect(csms.url + "CP_1", protocols=("ocpp1.6",)) as ws:
        await csms.wait_connected("CP_1")

        async def post(body: Any, cp_id: str = "CP_1", raw: bytes | None = None) -> tuple[int, Any]:
            kwargs: dict[str, Any] = {"data": raw} if raw is not None else {"json": body}
            async with http.post(f"{api}/{cp_id}/call", **kwargs) as response:
                assert response.content_type == "application/json"
                return response.status, await response.json()

        async with answering(ws, answer):
            assert await post({"action": "Reset", "payload": {"type": "Soft"}}) == (
                200,
                {"result": {"status": "Rejected"}},
            )
            error = {"code": "NotImplemented", "description": "no", "details": {}}
            assert await post({"action": "ClearCache"}) == (200, {"error": error})
            status, body = await post({"action": "Reset", "payload": {"type": "Soft"}}, cp_id="CP_9")
            assert status == 404 and "CP_9" in body["error"]
            status, body = await post(None, raw=b"{not json")
            assert status == 400 and "JSON" in body["error"]
            status, body = await post({"payload": {}})
            assert status == 400 and "action" in body["error"]
            status, body = await post({"action": "Reset", "payload": {}})
            assert status == 400 and "type" in body["error"] and body["code"] == "ProtocolError"
        status, body = await post({"action": "Reset", "payload": {"type": "Soft"}, "timeout": 0.1})
        assert status == 504 and "Reset" in body["error"]


async def test_http_read_endpoints(csms: CentralSystem, http: aiohttp.ClientSession) -> None:
    async with http.ws_connect(csms.url + "CP_1", protocols=("ocpp1.6",)) as ws:
        await call(ws, "BootNotification", BOOT)
        await call(
            ws, "StatusNotification", {"connectorId": 0, "errorCode": "NoError", "status": "Available"}
        )
        async with http.get(csms.http_url + "/api/stations") as response:
            stations = await response.json()
    assert stations[0]["id"] == "CP_1"
    assert stations[0]["connected"] is True
    assert stations[0]["statuses"] == {"0": "Available"}
    assert stations[0]["boot"] == BOOT
    async with http.get(csms.http_url + "/api/log", params={"station": "CP_1", "since": "2"}) as response:
        entries = await response.json()
    assert [(e["index"], e["direction"], e["action"]) for e in entries] == [
        (2, "in", "StatusNotification"),
        (3, "out", "StatusNotification"),
    ]
    async with http.get(csms.http_url + "/api/log", params={"station": "CP_2"}) as response:
        assert await response.json() == []
    for path, status in (("/api/log?since=x", 400), ("/api/nothing", 404), ("/api/stations/CP_9", 404)):
        async with http.get(csms.http_url + path) as response:
            assert response.status == status
            assert "error" in await response.json()


# --- waiting and printing ---


async def test_wait_for(csms: CentralSystem, http: aiohttp.ClientSession) -> None:
    async with http.ws_connect(csms.url + "CP_1", protocols=("ocpp1.6",)) as ws:
        await call(ws, "Heartbeat", {})
        done = await csms.wait_for(is_("CALLRESULT", "Heartbeat", "out"))  # already logged
        assert done is csms.log[1]
        waiting = asyncio.create_task(csms.wait_for(is_("CALL", "BootNotification"), since=len(csms.log)))
        await asyncio.sleep(0)
        assert not waiting.done()
        await call(ws, "BootNotification", BOOT)
        entry = await waiting
        assert entry.payload == BOOT and entry.charge_point_id == "CP_1"
    with pytest.raises(TimeoutError, match=r"(?s)no log entry matched.*CP_1 -> CSMS  CALL BootNotification"):
        await csms.wait_for(is_("CALL", "Reset"), timeout=0.05)
    with pytest.raises(TimeoutError, match="CP_2 did not connect"):
        await csms.wait_connected("CP_2", timeout=0.05)


async def test_log_messages_prints_frames(
    http: aiohttp.ClientSession, capsys: pytest.CaptureFixture[str]
) -> None:
    async with CentralSystem(port=0, log_messages=True) as csms:
        async with http.ws_connect(csms.url + "CP_1", protocols=("ocpp1.6",)) as ws:
            await call(ws, "BootNotification", BOOT)
    out = capsys.readouterr().out
    assert re.search(
        r"^\d\d:\d\d:\d\d\.\d{3}  CP_1 -> CSMS  CALL BootNotification \{\"chargePointVendor\"", out, re.M
    )
    assert re.search(r"^\d\d:\d\d:\d\d\.\d{3}  CSMS -> CP_1  CALLRESULT BootNotification \{", out, re.M)
