"""A central system that sends CALLs and never reads our answers cannot make the station buffer them
for ever: past MAX_UNSENT_BYTES the link is dropped as dead, and the station reconnects."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest
from websockets.asyncio.server import ServerConnection, serve

from tests.stations import StationFactory, station_config
from tests.transport.transports import each_transport as each_transport  # every test runs on each library

NOW = "2026-11-25T12:00:00.000Z"


async def test_a_peer_that_reads_nothing_is_dropped(
    start_station: StationFactory, caplog: pytest.LogCaptureFixture
) -> None:
    connections = 0

    async def handler(ws: ServerConnection) -> None:
        nonlocal connections
        connections += 1
        first = connections == 1
        async for message in ws:
            frame = json.loads(message)
            if frame[0] != 2:
                continue
            answer = {"BootNotification": {"status": "Accepted", "currentTime": NOW, "interval": 300}}
            await ws.send(json.dumps([3, frame[1], answer.get(frame[2], {})]))
            if first and frame[2] == "BootNotification":
                assert ws.transport is not None
                ws.transport.pause_reading()  # from now on nothing the station writes is read
                for n in range(5000):  # each answer is the whole configuration, about 5 KB
                    await ws.send(json.dumps([2, f"c{n}", "GetConfiguration", {}]))
                await ws.wait_closed()  # open until the station gives up on it
                return

    async with serve(handler, "127.0.0.1", 0, subprotocols=["ocpp1.6"], max_queue=None) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        with caplog.at_level(logging.ERROR, "ocpp_station"):
            station = await start_station(station_config(f"ws://127.0.0.1:{port}/ocpp/"), wait_accepted=False)
            for _ in range(300):
                if connections >= 2 and station.state()["connected"]:
                    break
                await asyncio.sleep(0.1)
        assert "reads nothing" in caplog.text
        assert connections >= 2 and station.state()["connected"]
