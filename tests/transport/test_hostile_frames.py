"""Fuzz over a real websocket (issue #8 §4): a CSMS that sends thousands of malformed and hostile
frames to a running station. The station answers every CALL whose id it can read with the spec's
CALLERROR, ignores the rest (OCPP-J 1.6 §4.1.3, §4.2.3), never drops the connection, keeps answering
valid CALLs, and its state is unchanged. ``bench/bench_hostile.py`` sends 100,000."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from websockets.asyncio.server import ServerConnection, serve

from ocpp_station.sim.hostile import hostile_frames
from tests.core.test_hostile_frames import expected_ok
from tests.stations import StationFactory, station_config

NOW = "2026-11-25T12:00:00.000Z"
FRAMES = 3000
CHECK_EVERY = 100


class HostileCsms:
    """Answers the station's CALLs; on demand sends hostile frames and records what comes back."""

    def __init__(self) -> None:
        self.connections = 0
        self.ws: ServerConnection | None = None
        self.answers: dict[str, list[list[Any]]] = {}
        self.unaddressed: list[list[Any]] = []
        self.connected = asyncio.Event()

    async def handler(self, ws: ServerConnection) -> None:
        self.connections += 1
        self.ws = ws
        self.connected.set()
        answers = {
            "BootNotification": {"status": "Accepted", "currentTime": NOW, "interval": 300},
            "Heartbeat": {"currentTime": NOW},
        }
        async for message in ws:
            frame = json.loads(message)
            if frame[0] == 2:
                await ws.send(json.dumps([3, frame[1], answers.get(frame[2], {})]))
            elif frame[1] == "-1":
                self.unaddressed.append(frame)
            else:
                self.answers.setdefault(frame[1], []).append(frame)


async def test_fuzz_hostile_frames_over_a_real_websocket(start_station: StationFactory) -> None:
    csms = HostileCsms()
    async with serve(csms.handler, "127.0.0.1", 0, subprotocols=["ocpp1.6"], max_size=None) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        station = await start_station(station_config(f"ws://127.0.0.1:{port}/ocpp/"))
        await asyncio.sleep(0.2)  # the StatusNotifications after the boot
        supported = set(station.engine.rpc.answered())
        state_before = station.state()
        config_before = {key.name: value for key, value in station.engine.config.items()}
        ws = csms.ws
        assert ws is not None
        frames = list(hostile_frames(seed=8, count=FRAMES))
        checks: list[str] = []
        for n, frame in enumerate(frames):
            await ws.send(frame.data.decode())
            if n % CHECK_EVERY == 0:
                check_id = f"valid-{n}"
                checks.append(check_id)
                await ws.send(json.dumps([2, check_id, "GetConfiguration", {"key": ["HeartbeatInterval"]}]))
        # Everything that must be answered is answered (the checks go last, so they come last).
        expected = {f.message_id for f in frames if f.answer == "error"} | set(checks)
        for _ in range(600):
            if expected <= set(csms.answers):
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)  # anything late (and wrong) would show up now

        wrong = [
            (f.kind, f.data[:60])
            for f in frames
            if not expected_ok(f, csms.answers.get(f.message_id or "", []) if f.message_id else [], supported)
        ]
        assert wrong == []
        for check_id in checks:
            assert csms.answers[check_id] == [
                [
                    3,
                    check_id,
                    {"configurationKey": [{"key": "HeartbeatInterval", "readonly": False, "value": "300"}]},
                ]
            ]
        assert set(csms.answers) <= expected  # nothing answered that must be ignored
        assert all(frame[0] == 4 for frame in csms.unaddressed)
        assert csms.connections == 1  # never dropped
        assert station.state() == state_before
        assert {key.name: value for key, value in station.engine.config.items()} == config_before
        # The station still works for real: a valid CALL that changes something is carried out.
        await ws.send(
            json.dumps([2, "final", "ChangeConfiguration", {"key": "HeartbeatInterval", "value": "301"}])
        )
        for _ in range(100):
            if "final" in csms.answers:
                break
            await asyncio.sleep(0.05)
        assert csms.answers["final"] == [[3, "final", {"status": "Accepted"}]]
