"""Hostile-frame bench (issue #8 §4): 100,000 malformed and hostile frames to a running station over a
real websocket, every answer checked against OCPP-J; prints the count, the time and the rate.

    .venv/bin/python bench/bench_hostile.py [--frames 100000] [--seed 8]

The CSMS side is a bare websockets server in this process; it sends every frame of
``ocpp_station.sim.hostile`` (a valid GetConfiguration every 100 frames), then waits for every answer
that OCPP-J asks for. The run fails (exit 1) if an answer is wrong or missing, the connection dropped,
or the station's state changed. Times are wall-clock on a shared machine: read them as an order of
magnitude; correctness is the point.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

from websockets.asyncio.server import ServerConnection, serve

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.core.test_hostile_frames import expected_ok

from ocpp_station.config.station import parse_config
from ocpp_station.sim.hostile import hostile_frames
from ocpp_station.transport.station import Station

NOW = "2026-11-25T12:00:00.000Z"


async def run(count: int, seed: int) -> int:
    answers: dict[str, list[list[Any]]] = {}
    connections = 0
    ready = asyncio.Event()
    socket: list[ServerConnection] = []

    async def handler(ws: ServerConnection) -> None:
        nonlocal connections
        connections += 1
        socket.append(ws)
        ready.set()
        replies = {"BootNotification": {"status": "Accepted", "currentTime": NOW, "interval": 300}}
        async for message in ws:
            frame = json.loads(message)
            if frame[0] == 2:
                await ws.send(json.dumps([3, frame[1], replies.get(frame[2], {"currentTime": NOW})]))
            else:
                answers.setdefault(frame[1], []).append(frame)

    frames = list(hostile_frames(seed=seed, count=count))
    kinds = collections.Counter(frame.kind for frame in frames)
    size = sum(len(frame.data) for frame in frames)
    async with serve(handler, "127.0.0.1", 0, subprotocols=["ocpp1.6"], max_size=None) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        config = parse_config(
            {
                "development": {"WS_URL": f"ws://127.0.0.1:{port}/ocpp/", "chargePointID": "FUZZ"},
                "fileTransfer": {"logLines": 0},
            },
            "<bench>",
        )
        station = Station(config)
        task = asyncio.create_task(station.run())
        await station.wait_for(lambda s: s["registration"] == "Accepted", timeout=10)
        await asyncio.sleep(0.3)
        supported = set(station.engine.rpc.answered())
        before = station.state()
        ws = socket[0]
        checks = []
        started = time.perf_counter()
        cpu_started = time.process_time()
        for n, frame in enumerate(frames):
            await ws.send(frame.data.decode())
            if n % 100 == 0:
                checks.append(f"valid-{n}")
                await ws.send(json.dumps([2, checks[-1], "GetConfiguration", {"key": ["HeartbeatInterval"]}]))
        expected = {f.message_id for f in frames if f.answer == "error"} | set(checks)
        while not expected <= set(answers):
            await asyncio.sleep(0.01)
            if time.perf_counter() - started > 600:
                break
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        await asyncio.sleep(0.3)
        wrong = [f.kind for f in frames if not expected_ok(f, answers.get(f.message_id or "", []), supported)]
        wrong += ["check"] * sum(1 for c in checks if answers.get(c, [[0]])[0][0] != 3)
        stray = set(answers) - expected - {"-1"}
        changed = station.state() != before
        await station.stop()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 5)
        station.close()

    print(f"frames sent        {count:,} hostile + {len(checks):,} valid checks ({size / 1e6:.1f} MB)")
    print(f"time               {elapsed:.2f} s wall, {cpu:.2f} s CPU (both ends in this process)")
    print(f"rate               {count / elapsed:,.0f} frames/s")
    print(f"wrong answers      {len(wrong)}  {collections.Counter(wrong).most_common(5) if wrong else ''}")
    print(f"stray answers      {len(stray)}")
    print(f"connections        {connections} (1 = never dropped)")
    print(f"state changed      {changed}")
    print("kinds              " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
    return 0 if not wrong and not stray and connections == 1 and not changed else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=8)
    args = parser.parse_args()
    logging.basicConfig(level=logging.CRITICAL)
    return asyncio.run(run(args.frames, args.seed))


if __name__ == "__main__":
    sys.exit(main())
