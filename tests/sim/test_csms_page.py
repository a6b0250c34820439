"""The development CSMS's page without a browser (src/ocpp_station/sim/csms_page.py, the events stream of
csms_api.py): the form's examples against the official schemas, the page and its assets over HTTP, and
the Server-Sent Events read with aiohttp's client while a real station connects."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
import tomllib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from ocpp_station.sim.csms import CentralSystem
from ocpp_station.sim.csms_api import QUEUE_EVENTS, EventHub
from ocpp_station.sim.csms_page import ASSETS, CSMS_ACTIONS, PAGE, call_examples
from ocpp_station.wire.actions import ACTIONS, Initiator
from ocpp_station.wire.schemas import validate_request
from tests.stations import StationFactory, station_config

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "src" / "ocpp_station" / "sim" / "static"


def test_the_form_offers_every_action_the_central_system_sends() -> None:
    sent_by_csms = {a for a, who in ACTIONS.items() if Initiator.CENTRAL_SYSTEM in who}
    assert set(CSMS_ACTIONS) == sent_by_csms
    assert len(sent_by_csms) == 26  # OCPP 1.6 §5 (19 with DataTransfer) + security whitepaper §4 (7)
    assert set(call_examples("http://127.0.0.1:9000", time.time())) == sent_by_csms


@pytest.mark.parametrize("action", sorted(CSMS_ACTIONS))
def test_each_example_is_valid_against_the_official_schema(action: str) -> None:
    example = call_examples("http://127.0.0.1:9000", time.time())[action]
    validate_request(action, example)  # raises OcppError if the schema rejects it


def test_examples_point_at_this_csms_and_trigger_a_status() -> None:
    examples = call_examples("http://10.0.0.1:9000", 0.0)
    assert examples["UpdateFirmware"]["location"] == "http://10.0.0.1:9000/files/firmware/2.0.0.img"
    assert examples["UpdateFirmware"]["retrieveDate"].startswith("1970-01-01T00:00:00")
    assert examples["GetDiagnostics"]["location"] == "http://10.0.0.1:9000/files/diagnostics"
    assert examples["TriggerMessage"] == {"requestedMessage": "StatusNotification", "connectorId": 1}
    assert call_examples("x", 0.0) is not call_examples("x", 0.0)  # a fresh copy each time


def test_the_assets_are_package_data() -> None:
    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert "sim/static/*" in globs["ocpp_station"]
    assert {p.name for p in STATIC.iterdir()} == {PAGE, *ASSETS}


def test_the_page_never_parses_text_as_html() -> None:
    script = (STATIC / "csms.js").read_text()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in script


async def test_the_page_and_its_assets(csms: CentralSystem, http: aiohttp.ClientSession) -> None:
    async with http.get(csms.http_url + "/") as response:
        assert response.status == 200 and response.content_type == "text/html"
        assert 'src="/ui/csms.js"' in await response.text()
    for name, content_type in ASSETS.items():
        async with http.get(f"{csms.http_url}/ui/{name}") as response:
            assert response.status == 200 and response.content_type == content_type
    async with http.get(csms.http_url + "/ui/csms_page.py") as response:
        assert response.status == 404
    async with http.get(csms.http_url + "/api/examples") as response:
        examples = await response.json()
    assert set(examples) == set(CSMS_ACTIONS)
    assert examples["GetLog"]["log"]["remoteLocation"] == csms.http_url + "/files/diagnostics"


async def test_a_websocket_at_the_root_is_still_refused(
    csms: CentralSystem, http: aiohttp.ClientSession
) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
        await http.ws_connect(csms.http_url + "/", protocols=("ocpp1.6",))
    assert caught.value.status == 404


class EventReader:
    """Server-Sent Events from an aiohttp response (HTML Living Standard §9.2.6, the parts we send)."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response

    async def next(self) -> tuple[str, Any] | None:
        """The next event (name, JSON data), or None at the end of the stream."""
        event, data = "message", b""
        while True:
            line = await asyncio.wait_for(self._response.content.readline(), 10)
            if not line:
                return None
            line = line.rstrip(b"\n")
            if not line:
                if data:
                    return event, orjson.loads(data)
                continue
            field, _, value = line.partition(b": ")
            if field == b"event":
                event = value.decode()
            elif field == b"data":
                data = value

    async def until(self, event: str, check: Any = lambda data: True) -> Any:
        while True:
            got = await self.next()
            assert got is not None, f"the stream ended before a {event!r} event"
            if got[0] == event and check(got[1]):
                return got[1]


@pytest.fixture
async def events(csms: CentralSystem, http: aiohttp.ClientSession) -> AsyncIterator[EventReader]:
    async with http.get(csms.http_url + "/api/events") as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "text/event-stream"
        yield EventReader(response)


async def test_events_follow_a_station(
    csms: CentralSystem, events: EventReader, start_station: StationFactory
) -> None:
    snapshot = await events.until("snapshot")
    assert snapshot == {"stations": [], "log": []}
    station = await start_station(station_config(csms.url, "CP_SSE"))
    connected = await events.until("station", lambda s: s["connected"])
    assert connected["id"] == "CP_SSE" and connected["connectedSince"] is not None
    boot = await events.until("frame", lambda f: f["action"] == "BootNotification")
    assert boot["kind"] == "CALL" and boot["direction"] == "in" and boot["index"] >= 0
    booted = await events.until("station", lambda s: s["bootStatus"] == "Accepted")
    assert booted["boot"]["chargePointModel"]
    statused = await events.until("station", lambda s: s["statuses"].get("1") == "Available")
    assert statused["errorCodes"]["1"] == "NoError"
    # A CSMS-initiated CALL and its answer, in order.
    answer = asyncio.create_task(csms.call("CP_SSE", "TriggerMessage", {"requestedMessage": "Heartbeat"}))
    call = await events.until("frame", lambda f: f["action"] == "TriggerMessage")
    result = await events.until("frame", lambda f: f["action"] == "TriggerMessage")
    assert (call["kind"], call["direction"]) == ("CALL", "out")
    assert (result["kind"], result["direction"], result["message_id"]) == (
        "CALLRESULT",
        "in",
        call["message_id"],
    )
    assert await answer == {"status": "Accepted"}
    beat = await events.until("station", lambda s: s["lastHeartbeat"] is not None)
    assert beat["lastHeartbeat"] == csms.stations["CP_SSE"].last_heartbeat
    await station.stop()
    gone = await events.until("station", lambda s: not s["connected"])
    assert gone["connectedSince"] is None


async def test_a_new_stream_starts_with_the_stations_and_the_log(
    csms: CentralSystem, http: aiohttp.ClientSession, start_station: StationFactory
) -> None:
    await start_station(station_config(csms.url, "CP_SNAP"))
    async with http.get(csms.http_url + "/api/events") as response:
        snapshot = await EventReader(response).until("snapshot")
    assert [s["id"] for s in snapshot["stations"]] == ["CP_SNAP"]
    assert [e["index"] for e in snapshot["log"]] == list(range(len(snapshot["log"])))
    assert snapshot["log"][0]["action"] == "BootNotification"


async def test_stopping_the_csms_ends_the_streams(csms: CentralSystem, events: EventReader) -> None:
    await events.until("snapshot")
    await asyncio.wait_for(csms.stop(), 5)
    assert await events.next() is None


async def test_a_stream_too_far_behind_is_ended_not_grown() -> None:
    hub = EventHub()
    hub.publish("frame", {})  # nobody listens: nothing kept
    queue = hub.subscribe()
    assert hub.active
    for n in range(QUEUE_EVENTS + 1):
        hub.publish("frame", {"n": n})
    assert not hub.active  # unsubscribed: the page reconnects to a fresh snapshot
    assert queue.qsize() == 1 and queue.get_nowait() is None


async def test_the_csms_command_prints_the_page_url(http: aiohttp.ClientSession) -> None:
    command = [sys.executable, "-m", "ocpp_station", "csms", "--port", "0", "--quiet"]
    process = await asyncio.create_subprocess_exec(
        *command,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        async with asyncio.timeout(20):
            lines = [(await process.stdout.readline()).decode() for _ in range(2)]
        assert lines[0].startswith("Development CSMS listening on ws://127.0.0.1:"), lines
        match = re.fullmatch(r"Development CSMS page: (http://127\.0\.0\.1:\d+/)\n", lines[1])
        assert match is not None, lines
        async with http.get(match.group(1)) as response:
            assert response.status == 200 and "<title>Development CSMS</title>" in await response.text()
    finally:
        process.terminate()
        await process.wait()
