"""The dashboard's HTTP side over real HTTP: the page and its files, the trace, the configuration
changed as a CSMS would, and the Server-Sent Events feed, against a real station and the dev CSMS."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from ocpp_station.sim.csms import CentralSystem
from ocpp_station.transport.station import Station
from ocpp_station.transport.trace import FrameTrace
from tests.control.test_api import request
from tests.stations import until


class Events:
    """An SSE client: ``await events.next("state")`` is the next event of that name (others skipped)."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response

    async def any(self) -> tuple[str, Any]:
        name, data = "message", b""
        async for raw in self._response.content:
            line = raw.rstrip(b"\r\n")
            if not line:
                return name, orjson.loads(data)
            field, _, value = line.partition(b": ")
            if field == b"event":
                name = value.decode()
            elif field == b"data":
                data += value
        raise EOFError("the stream ended")

    async def next(self, name: str, timeout: float = 10) -> Any:
        async with asyncio.timeout(timeout):
            while True:
                got, data = await self.any()
                if got == name:
                    return data


async def test_the_page_and_its_files(api: tuple[str, Station]) -> None:
    base, _ = api
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/") as response:
            assert response.status == 200 and response.content_type == "text/html"
            page = await response.text()
            assert 'src="static/app.js"' in page and "script-src" not in page
            assert "default-src 'self'" in response.headers["Content-Security-Policy"]
        for name, kind in [
            ("app.js", "text/javascript"),
            ("chart.js", "text/javascript"),
            ("style.css", "text/css"),
        ]:
            async with http.get(f"{base}/static/{name}") as response:
                assert response.status == 200 and response.content_type == kind
        # Only the listed files: nothing in the URL names a path.
        for name in ["../api.py", "..%2Fapi.py", "__init__.py", "index.htm"]:
            async with http.get(f"{base}/static/{name}") as response:
                assert response.status == 404, name


async def test_trace_is_off_until_asked(api: tuple[str, Station]) -> None:
    base, station = api
    assert station.trace is None and station.frame_logger is None
    assert await request("GET", f"{base}/trace") == (200, {"enabled": False, "size": 0, "entries": []})


async def test_trace_links_results_to_their_calls(api: tuple[str, Station]) -> None:
    base, station = api
    station.enable_trace(50)
    station.plug(1)
    station.present_id_tag("CARD", 1)
    await station.wait_for(lambda s: s["connectors"][1]["status"] == "Charging")
    status, trace = await request("GET", f"{base}/trace")
    assert status == 200 and trace["enabled"] and trace["size"] == 50
    entries = trace["entries"]
    assert [e["seq"] for e in entries] == sorted(e["seq"] for e in entries)
    start = next(e for e in entries if e["action"] == "StartTransaction" and e["type"] == "CALL")
    assert start["direction"] == "out" and start["connectorId"] == 1 and start["payload"]["idTag"] == "CARD"
    result = next(e for e in entries if e.get("callSeq") == start["seq"])
    assert result["type"] == "CALLRESULT" and result["direction"] == "in"
    assert result["action"] == "StartTransaction" and result["messageId"] == start["messageId"]
    assert result["latencyMs"] >= 0 and "transactionId" in result["payload"]
    status, last = await request("GET", f"{base}/trace?limit=2")
    assert last["entries"] == entries[-2:] or len(last["entries"]) == 2
    for bad in ["0", "x", "-3"]:
        status, body = await request("GET", f"{base}/trace?limit={bad}")
        assert status == 400 and "limit" in body["error"]


async def test_the_trace_keeps_the_last_frames_and_the_logger() -> None:
    seen: list[tuple[str, bool]] = []
    trace = FrameTrace(3, lambda cp, out, data: seen.append((cp, out)))
    trace("CP", True, b'[2,"a","Heartbeat",{}]')
    trace("CP", False, b'[4,"a","NotImplemented","no",{}]')
    trace("CP", False, b"not json")
    trace("CP", False, b'[3,"zz",{}]')
    assert seen == [("CP", True), ("CP", False), ("CP", False), ("CP", False)]
    entries = trace.recent()
    assert [e["seq"] for e in entries] == [2, 3, 4]
    error, garbage, stray = entries
    assert error["type"] == "CALLERROR" and error["action"] == "Heartbeat" and error["callSeq"] == 1
    assert error["payload"]["errorCode"] == "NotImplemented"
    assert garbage["type"] == "?" and garbage["payload"] == "not json"
    assert stray["action"] is None and "latencyMs" not in stray
    with pytest.raises(ValueError):
        FrameTrace(0)


async def test_change_configuration_as_a_csms_would(api: tuple[str, Station], csms: CentralSystem) -> None:
    base, station = api
    status, config = await request("GET", f"{base}/config")
    keys = {k["key"]: k for k in config["keys"]}
    assert keys["MeterValueSampleInterval"]["readonly"] is False
    assert keys["NumberOfConnectors"]["readonly"] is True and "AuthorizationKey" not in keys
    before = len(csms.log)
    status, answer = await request(
        "POST", f"{base}/config", {"key": "MeterValueSampleInterval", "value": "7"}
    )
    assert (status, answer) == (200, {"key": "MeterValueSampleInterval", "value": "7", "status": "Accepted"})
    assert station.view.readable_config()["MeterValueSampleInterval"] == "7"
    assert len(csms.log) == before  # answered to the page, not to the CSMS
    # What a CSMS would be told: read-only, a bad value, an unknown key, a reboot.
    for key, value, expected in [
        ("NumberOfConnectors", "5", "Rejected"),
        ("MeterValueSampleInterval", "soon", "Rejected"),
        ("NoSuchKey", "1", "NotSupported"),
    ]:
        status, answer = await request("POST", f"{base}/config", {"key": key, "value": value})
        assert (status, answer["status"]) == (200, expected), key
    assert station.view.readable_config()["NumberOfConnectors"] == "2"
    status, answer = await request("POST", f"{base}/config", {"key": "K" * 60, "value": "1"})
    assert status == 200 and "status" not in answer  # the engine's CALLERROR (a key is at most 50 chars)
    assert answer["error"].endswith("Violation") and answer["description"]
    for body in [{"key": "MeterValueSampleInterval"}, {"key": 1, "value": "1"}, [1]]:
        status, answer = await request("POST", f"{base}/config", body)
        assert status == 400 and "key" in answer["error"]
    assert (await request("POST", f"{base}/config", raw="{"))[0] == 400


async def test_events_hello_state_trace_sample(api: tuple[str, Station]) -> None:
    base, station = api
    async with aiohttp.ClientSession() as http, http.get(f"{base}/events") as response:
        assert response.headers["Content-Type"] == "text/event-stream"
        events = Events(response)
        hello = await events.next("hello")
        assert station.trace is not None  # made when the page subscribed
        assert hello["state"]["registration"] == "Accepted" and hello["traceSize"] == 500
        assert "ConnectorLockFailure" in hello["errorCodes"] and "NoError" not in hello["errorCodes"]
        assert any(k["key"] == "HeartbeatInterval" for k in hello["config"])
        station.plug(2)
        state = await events.next("state")
        while state["connectors"][2]["status"] != "Preparing":
            state = await events.next("state")
        station.present_id_tag("CARD", 2)
        frame = await events.next("trace")
        assert frame["action"] == "Authorize" or frame["type"] in ("CALL", "CALLRESULT")
        while True:
            sample = await events.next("sample")
            two = sample["connectors"][1]
            if two["powerW"] > 0:
                break
        assert two["id"] == 2 and two["limitW"] == 32 * 230 * 3 and two["meterWh"] >= 0
        station.change_configuration("HeartbeatInterval", "123")
        assert (await events.next("config"))["HeartbeatInterval"] == "123"
    trace = station.trace
    await until(lambda: not trace.listeners)  # the page went away: seen at the next write (<= 1 s)


async def _lines_until(stream: asyncio.StreamReader, prefix: str) -> str:
    async with asyncio.timeout(30):
        while True:
            line = (await stream.readline()).decode()
            assert line, f"the process ended before printing {prefix!r}"
            if line.startswith(prefix):
                return line.removeprefix(prefix).strip()


async def test_run_prints_the_dashboard_with_its_history(csms: CentralSystem, tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"development": {"WS_URL": csms.url, "chargePointID": "CLI_DASH"}}))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ocpp_station", "run", "--config", str(path), "--control-port", "0",
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None
    try:
        url = await _lines_until(proc.stdout, "dashboard: ")
        assert url.startswith("http://127.0.0.1:") and url.endswith("/")
        await csms.wait_for(lambda e: e.action == "BootNotification" and e.direction == "out", timeout=20)
        async with aiohttp.ClientSession() as http:
            async with http.get(url) as response:
                assert response.status == 200 and "static/app.js" in await response.text()
            async with http.get(url + "trace") as response:
                trace = await response.json()
        # The trace was on from the start: the BootNotification is in it.
        assert trace["enabled"] and trace["entries"][0]["action"] == "BootNotification"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 20) == 0


async def test_demo_dashboard_runs_until_ctrl_c() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ocpp_station", "demo", "--dashboard", "--port", "0",
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None
    try:
        url = await _lines_until(proc.stdout, "Station dashboard: ")
        async with aiohttp.ClientSession() as http:
            async with http.get(url) as response:
                assert response.status == 200
            async with http.get(url + "events") as response:
                hello = await Events(response).next("hello")
        assert hello["state"]["chargePointId"] == "DEMO_CP" and len(hello["state"]["connectors"]) == 3
    finally:
        proc.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(proc.wait(), 20) == 0
