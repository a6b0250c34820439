"""The shell across wall-clock jumps (issue #8 §1), over a real websocket.

The station is driven with a fake wall clock (the real time plus a skew the test changes) and the real
monotonic clock. A CSMS on the same wall clock (both set by NTP, say) answers every CALL. In the middle
of a transaction the wall clock jumps back an hour, forward an hour, or from 1970 to now (a charger
without RTC at its first NTP sync). Heartbeats, sampled and clock-aligned meter values keep coming at
their interval (nothing stalls, nothing comes in a burst) and, after the next clock sync, the clock-aligned
timestamps sit on the grid of the new wall clock. The exact cadence is checked on the fake clock in
``tests/core/test_clock_jumps.py``; here the bounds are loose, for a shared machine.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve

from ocpp_station.core.clock import format_datetime, parse_datetime
from tests.stations import StationFactory, station_config

#: 1970-01-01T00:00:00.4Z: the fake wall clock of a charger without RTC (not on the real time's grid).
EPOCH_START = 0.4
JUMPS = {"back-1h": -3600.0, "forward-1h": 3600.0, "1970-to-now": None}
ALIGNED_S = 2


class WallClock:
    def __init__(self, skew: float) -> None:
        self.skew = skew

    def __call__(self) -> float:
        return time.time() + self.skew


class RecordingCsms:
    """Answers every CALL at once, with ``currentTime`` from the given wall clock; records the CALLs
    with the monotonic time they arrived."""

    def __init__(self, wall: WallClock) -> None:
        self.wall = wall
        self.calls: list[tuple[float, str, dict[str, Any]]] = []
        self.connections = 0

    async def handler(self, ws: ServerConnection) -> None:
        self.connections += 1
        async for message in ws:
            frame = json.loads(message)
            if frame[0] != 2:
                continue
            self.calls.append((time.monotonic(), frame[2], frame[3]))
            now = format_datetime(self.wall())
            answer: dict[str, Any] = {
                "BootNotification": {"status": "Accepted", "currentTime": now, "interval": 1},
                "Heartbeat": {"currentTime": now},
                "Authorize": {"idTagInfo": {"status": "Accepted"}},
                "StartTransaction": {"transactionId": 1, "idTagInfo": {"status": "Accepted"}},
            }.get(frame[2], {})
            await ws.send(json.dumps([3, frame[1], answer]))

    def times(self, action: str, context: str | None = None, since: float = 0.0) -> list[float]:
        return [t for t, a, p in self.calls if a == action and t >= since and _context(p) in (context, None)]

    def aligned_stamps(self, since: float) -> list[float]:
        return [
            parse_datetime(p["meterValue"][0]["timestamp"])
            for t, a, p in self.calls
            if a == "MeterValues" and t >= since and _context(p) == "Sample.Clock"
        ]


def _context(payload: dict[str, Any]) -> str | None:
    values = payload.get("meterValue")
    return values[0]["sampledValue"][0].get("context") if values else None


def gaps(times: list[float]) -> list[float]:
    return [b - a for a, b in itertools.pairwise(times)]


@pytest.mark.parametrize("jump", list(JUMPS))
async def test_wall_clock_jump_mid_transaction_keeps_every_cadence(
    jump: str, start_station: StationFactory
) -> None:
    step = JUMPS[jump]
    wall = WallClock(EPOCH_START - time.time() if step is None else 0.0)
    csms = RecordingCsms(wall)
    async with serve(csms.handler, "127.0.0.1", 0, subprotocols=["ocpp1.6"]) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        config = station_config(
            f"ws://127.0.0.1:{port}/ocpp/",
            ocpp={"MeterValueSampleInterval": 1, "ClockAlignedDataInterval": ALIGNED_S},
        )
        station = await start_station(config, wall_clock=wall)
        station.plug(1)
        station.present_id_tag("TAG")
        await station.wait_for(lambda s: s["connectors"][1]["transactionId"] == 1, timeout=10)
        await asyncio.sleep(3.2)
        jumped_at = time.monotonic()
        wall.skew = 0.0 if step is None else wall.skew + step
        await asyncio.sleep(6.2)

        beats_before = [t for t in csms.times("Heartbeat") if t < jumped_at]
        beats_after = csms.times("Heartbeat", since=jumped_at)
        samples_after = csms.times("MeterValues", "Sample.Periodic", since=jumped_at)
        aligned_after = csms.times("MeterValues", "Sample.Clock", since=jumped_at)
        assert beats_before and len(beats_after) >= 4, (beats_before, beats_after)
        assert len(samples_after) >= 4 and len(aligned_after) >= 2
        # Nothing stalled (the old shell waited out a backward jump) ...
        assert max(gaps(csms.times("Heartbeat"))) < 3.0
        assert max(gaps(csms.times("MeterValues", "Sample.Periodic"))) < 3.0
        assert max(gaps(csms.times("MeterValues", "Sample.Clock"))) < 3 * ALIGNED_S
        # ... and nothing came in a burst (a forward jump must not fire what was "due" meanwhile).
        assert len(beats_after) <= 6.2 / 1 + 2
        assert len(samples_after) <= 6.2 / 1 + 2
        assert len(aligned_after) <= 6.2 / ALIGNED_S + 2
        # After the next clock sync the clock-aligned values are stamped on the new wall clock's grid.
        resynced = beats_after[0] + 1.5
        stamps = csms.aligned_stamps(since=resynced)
        assert stamps, csms.calls[-5:]
        for stamp in stamps:
            assert stamp % ALIGNED_S == pytest.approx(0, abs=1e-3)
            assert abs(stamp - wall()) < 10  # today, not 1970 nor an hour off
        assert csms.connections == 1
