"""The station's own CPU per CALL, without a network: what bench_stations' ratio is made of (issue 9).

    .venv/bin/python bench/bench_hot_path.py [--calls 60000] [--profile FILE]

bench_stations measures whole processes on a shared 2-core machine, where two runs of the same code
differ by 15-20 %. This measures the part of a station's CPU that ocpp-station's code decides, with
nothing else running: one :class:`~ocpp_station.transport.station.Station` exactly as bench_stations
runs it (memory store, diagnostics log off, 9 sampled measurands every 2 s, Heartbeat every 10 s, an
EV charging in a transaction) on a fake clock and a fake websocket that keeps what is sent. Each CALL
is one timer firing (the engine's deadline reached: MeterValues or Heartbeat built, checked, encoded,
the transaction checkpoint stored, the frame handed to the link) and one CALLRESULT received and
matched (the bench CSMS's answer, pre-encoded). The time is the process's CPU time over ``--calls``
CALLs, best of ``--repeat`` rounds; the websocket library's own work (framing, the socket) is not in
it: bench_stations has that for both the raw client and the station.

Timings are never asserted anywhere; a test runs this script tiny to keep it working.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import os
import sys
import time
from typing import Any

import orjson

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_stations import HEARTBEAT_S, ID_TAG, MEASURANDS, SAMPLE_S, csms_answerer

from ocpp_station.config.station import parse_config
from ocpp_station.transport.station import Station

#: The fake wall clock's reading at fake monotonic time 0.
WALL_START = 1_764_000_000.0


class FakeWs:
    """The :class:`~ocpp_station.transport.ws.WsConnection` the link writes to: frames kept, not sent."""

    transport = None
    subprotocol = "ocpp1.6"

    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def is_open(self) -> bool:
        return True

    def send_text(self, data: bytes) -> None:
        self.sent.append(data)

    async def ping(self) -> Any:  # pragma: no cover - pings are off
        raise ConnectionError("no pings here")

    async def close(self, code: int, reason: str) -> None:  # pragma: no cover
        pass

    async def serve(self, on_message: Any) -> None:  # pragma: no cover
        pass


class HotPath:
    """One station on a fake clock and a fake websocket, answered by the bench CSMS's answerer."""

    def __init__(self, index: int) -> None:
        config = parse_config(
            {
                "development": {"WS_URL": "ws://127.0.0.1:9/", "chargePointID": f"HOT{index:05d}"},
                "ocpp": {
                    "MeterValueSampleInterval": SAMPLE_S,
                    "MeterValuesSampledData": MEASURANDS,
                    "WebSocketPingInterval": 0,
                },
                "fileTransfer": {"logLines": 0},
            },
            "<bench>",
        )
        self.clock = 1000.0
        self.station = Station(
            config,
            monotonic_clock=lambda: self.clock,
            wall_clock=lambda: WALL_START + self.clock,
        )
        self.ws = FakeWs()
        self.answer = csms_answerer(HEARTBEAT_S)
        self.calls = 0

    def _answer_all(self) -> None:
        ws, station = self.ws, self.station
        while ws.sent:
            frame = orjson.loads(ws.sent.pop(0))
            if frame[0] == 2:
                self.calls += 1
                station.frame_received(orjson.dumps([3, frame[1], self.answer(frame[2], frame[3])]))

    def start(self) -> None:
        """Connected, booted, an EV plugged and charging in a transaction."""
        station = self.station
        station.link.ws = self.ws  # type: ignore[assignment]
        station.link_opened()
        self._answer_all()
        station.plug(1)
        self._answer_all()
        station.present_id_tag(ID_TAG)
        self._answer_all()
        self._tick_until(lambda: station.engine.ctx.connectors[1].transaction is not None)
        assert station.engine.ctx.connectors[1].transaction is not None, "no transaction started"

    def _tick(self) -> None:
        deadline = self.station.engine.next_deadline()
        assert deadline is not None
        self.clock = max(self.clock, deadline - self.station._anchor)
        self.station.alarm_fired()
        self._answer_all()

    def _tick_until(self, done: Any, limit: int = 100) -> None:
        for _ in range(limit):
            if done():
                return
            self._tick()

    def call(self, replies: dict[str, bytes]) -> int:
        """One timer firing and the CALLRESULT of each CALL it sent; returns the CALLs."""
        ws, station = self.ws, self.station
        deadline = station.engine.next_deadline()
        assert deadline is not None
        self.clock = deadline - station._anchor
        station.alarm_fired()
        done = 0
        while ws.sent:
            data = ws.sent.pop()
            # [2,"<uuid>","Action",...
            id_end = data.index(b'"', 4)
            action_end = data.index(b'"', id_end + 3)
            action = data[id_end + 3 : action_end].decode()
            if action == "Heartbeat":
                # The CSMS's time as the station's (fake) wall clock reads it: on the bench, both
                # read the same clock, so a Heartbeat answer moves the OCPP clock by under a second.
                wall = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(WALL_START + self.clock))
                reply = orjson.dumps([3, "{id}", {"currentTime": wall}])
            else:
                reply = replies.get(action)
                if reply is None:
                    reply = replies[action] = orjson.dumps([3, "{id}", self.answer(action, {})])
            station.frame_received(reply.replace(b"{id}", data[4:id_end], 1))
            done += 1
        return done


#: The answers of the cycle (MeterValues, Heartbeat) pre-encoded: only the message id differs.
REPLIES: dict[str, bytes] = {}


def run(paths: list[HotPath], calls: int) -> float:
    """CPU seconds for ``calls`` CALLs, the stations taking turns (as a fleet's do: each CALL touches
    another station's objects, so the caches see what a fleet's do)."""
    done = 0
    cpu0 = time.process_time()
    while done < calls:
        for path in paths:
            done += path.call(REPLIES)
    return time.process_time() - cpu0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=60000, help="CALLs per round (default 60000)")
    parser.add_argument(
        "--stations", type=int, default=1000, help="stations taking turns (default 1000, as bench_stations)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="rounds; the best is printed (default 3)")
    parser.add_argument("--profile", metavar="FILE", help="write a cProfile of one round to FILE")
    args = parser.parse_args()
    if args.calls < 1 or args.repeat < 1 or args.stations < 1:
        parser.error("--calls, --stations and --repeat must be positive")

    async def measure() -> list[float]:
        paths = [HotPath(i) for i in range(args.stations)]
        for path in paths:
            path.start()
        gc.collect()
        gc.freeze()  # as bench_stations does once its clients are up
        run(paths, min(args.calls, 2 * args.stations))  # warm-up: validators compiled, caches filled
        if args.profile:
            profiler = cProfile.Profile()
            profiler.enable()
            run(paths, args.calls)
            profiler.disable()
            profiler.dump_stats(args.profile)
        return [run(paths, args.calls) for _ in range(args.repeat)]

    rounds = asyncio.run(measure())
    best = min(rounds)
    print(
        f"station hot path: {best / args.calls * 1e6:.1f} us CPU per CALL (timer + CALLRESULT, no network, "
        f"{args.stations} stations taking turns; best of {args.repeat} rounds of {args.calls}: "
        + ", ".join(f"{r / args.calls * 1e6:.1f}" for r in rounds)
        + ")"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
