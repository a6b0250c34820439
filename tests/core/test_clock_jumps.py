"""Wall-clock jumps (issue #8 §1): timers run on the monotonic clock, the wall clock only stamps.

The harness's ``now`` is the monotonic clock; ``h.wall_skew`` makes the wall clock differ from it. Three
jumps in the middle of a transaction: back an hour (NTP fixing an RTC that ran fast), forward an hour,
and forward 56 years (a charger without RTC that starts in 1970 and gets its first NTP time).
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ocpp_station.core.clock import format_datetime, parse_datetime
from ocpp_station.core.events import CablePlugged, Connected, IdTagPresented
from ocpp_station.core.settings import EngineSettings
from tests.core.harness import T0, Harness, charging

#: 1970-01-01T00:00:07Z on the wall clock at T0: not on the 60 s grid of the real time.
FROM_1970 = -(T0 - 7.0)
JUMPS = {"back-1h": (0.0, -3600.0), "forward-1h": (0.0, 3600.0), "1970-to-now": (FROM_1970, -FROM_1970)}
CONFIG = {"MeterValueSampleInterval": "10", "ClockAlignedDataInterval": "60"}
HEARTBEAT_S = 30


class Recorder:
    """Every CALL the engine sends, with the monotonic time it went out."""

    def __init__(self, h: Harness) -> None:
        self.sent: list[tuple[float, str, dict[str, Any]]] = []
        forward = h._on_sent

        def on_sent(frame: list[Any]) -> None:
            if frame[0] == 2:
                self.sent.append((h.now, frame[2], frame[3]))
            forward(frame)

        h._on_sent = on_sent  # type: ignore[method-assign]

    def times(self, action: str, context: str | None = None, since: float = 0.0) -> list[float]:
        return [t for t, a, p in self.sent if a == action and t >= since and _context(p) in (context, None)]

    def stamps(self, context: str, since: float = 0.0) -> list[float]:
        return [
            parse_datetime(p["meterValue"][0]["timestamp"])
            for t, a, p in self.sent
            if a == "MeterValues" and t >= since and _context(p) == context
        ]


def _context(payload: dict[str, Any]) -> str | None:
    values = payload.get("meterValue")
    return values[0]["sampledValue"][0].get("context") if values else None


def booted(wall_skew: float, csms_follows_wall: bool, settings: EngineSettings | None = None) -> Harness:
    """A charging station: connected, Accepted, a transaction running. The CSMS's clock is the true
    time (``now``), or the station's own wall clock (both set by NTP, say)."""
    h = Harness(settings, config=CONFIG, connect=False)
    h.wall_skew = wall_skew

    def csms_time() -> str:
        return format_datetime(h.now + (h.wall_skew or 0.0 if csms_follows_wall else 0.0))

    h.responders["BootNotification"] = lambda p: {
        "status": "Accepted",
        "currentTime": csms_time(),
        "interval": HEARTBEAT_S,
    }
    h.responders["Heartbeat"] = lambda p: {"currentTime": csms_time()}
    h.feed(Connected())
    charging(h)
    return h


def diffs(values: list[float]) -> set[float]:
    return {round(b - a, 6) for a, b in itertools.pairwise(values)}


@pytest.mark.parametrize("jump", list(JUMPS))
def test_wall_clock_jump_moves_no_timer_and_keeps_csms_time(jump: str) -> None:
    """The CSMS clock is right and does not jump: heartbeats, samples and clock-aligned values keep
    their cadence to the microsecond, and every timestamp stays on the CSMS clock."""
    start_skew, step = JUMPS[jump]
    h = booted(start_skew, csms_follows_wall=False)
    rec = Recorder(h)
    h.advance(95)
    jumped_at = h.now
    h.wall_skew = start_skew + step
    h.advance(300)
    beats = rec.times("Heartbeat")
    samples = rec.times("MeterValues", "Sample.Periodic")
    aligned = rec.times("MeterValues", "Sample.Clock")
    assert diffs(beats) == {HEARTBEAT_S} and len(beats) == 13
    assert diffs(samples) == {10.0} and len(samples) == 39
    assert diffs(aligned) == {60.0} and len(aligned) == 6
    assert any(t > jumped_at for t in beats) and any(t < jumped_at for t in beats)
    # Timestamps: the OCPP clock (the CSMS's) went on as if nothing happened.
    for t, stamp in zip(samples, rec.stamps("Sample.Periodic"), strict=True):
        assert stamp == pytest.approx(t, abs=1e-3)
    assert all(stamp % 60 == 0 for stamp in rec.stamps("Sample.Clock"))


@pytest.mark.parametrize("jump", list(JUMPS))
def test_wall_clock_jump_with_a_csms_on_the_same_clock_regrids_at_the_next_sync(jump: str) -> None:
    """The CSMS and the station's wall clock agree (both corrected by NTP): the next Heartbeat answer
    moves the OCPP clock, the clock-aligned grid follows the new wall clock (§9.1.5, aligned to its
    midnight) from the next boundary, and no interval changes: nothing fires in a burst."""
    start_skew, step = JUMPS[jump]
    h = booted(start_skew, csms_follows_wall=True)
    rec = Recorder(h)
    h.advance(95)
    h.wall_skew = start_skew + step
    jumped_at = h.now
    h.advance(300)
    assert diffs(rec.times("Heartbeat")) == {HEARTBEAT_S}
    assert diffs(rec.times("MeterValues", "Sample.Periodic")) == {10.0}
    # Strictly after the answer that moved the clock (a boundary due at that instant may go first).
    resynced = min(rec.times("Heartbeat", since=jumped_at)) + 1e-6
    aligned_after = rec.times("MeterValues", "Sample.Clock", since=resynced)
    stamps_after = rec.stamps("Sample.Clock", since=resynced)
    assert diffs(aligned_after) == {60.0} and len(aligned_after) >= 4
    wall = [t + h.wall_skew for t in aligned_after]
    assert stamps_after == pytest.approx(wall, abs=1e-3)  # on the new wall clock ...
    assert all(stamp % 60 == pytest.approx(0, abs=1e-3) for stamp in stamps_after)  # ... and its grid
    samples_after = rec.times("MeterValues", "Sample.Periodic", since=resynced)
    for t, stamp in zip(samples_after, rec.stamps("Sample.Periodic", since=resynced), strict=True):
        assert stamp == pytest.approx(t + h.wall_skew, abs=1e-3)
    # No burst: the clock-aligned values keep coming one interval apart, through the re-gridding too.
    assert diffs(rec.times("MeterValues", "Sample.Clock")) <= {60.0, 53.0, 67.0}


def test_offline_transaction_stamped_before_the_first_ntp_time_is_sent_with_the_new_time() -> None:
    """A charger without RTC starts in 1970, offline; a transaction starts; NTP then sets the wall
    clock (+56 years). The queued StartTransaction moves with the clock (it was stamped with the
    clock just corrected), so the CSMS gets the real time of the start."""
    h = Harness(
        config={"LocalAuthorizeOffline": "true", "AllowOfflineTxForUnknownId": "true"},
        connect=False,
        wall_skew=FROM_1970,
    )
    h.responders["BootNotification"] = lambda p: {
        "status": "Accepted",
        "currentTime": format_datetime(h.now + (h.wall_skew or 0.0)),
        "interval": HEARTBEAT_S,
    }
    h.online = False
    h.feed(CablePlugged(1))
    h.feed(IdTagPresented("TAG"))
    started_at = h.now
    h.advance(20)
    h.wall_skew = 0.0  # NTP: the wall clock is now the true time
    h.advance(20)
    h.online = True
    h.feed(Connected())
    start = h.sent("StartTransaction")
    assert len(start) == 1
    assert parse_datetime(start[0]["timestamp"]) == pytest.approx(started_at, abs=1e-3)
    assert all(parse_datetime(p["meterValue"][0]["timestamp"]) >= started_at for p in h.sent("MeterValues"))


def test_set_system_clock_jump_is_not_counted_twice() -> None:
    """connection.setSystemClock: the CSMS is an hour ahead; the station sets the OS clock to it (the
    wall clock jumps by exactly the offset). OCPP time stays on the CSMS clock, and the stored offset
    against the wall clock becomes 0."""
    h = Harness(EngineSettings(set_system_clock=True), config=CONFIG, connect=False, wall_skew=0.0)
    h.responders["BootNotification"] = lambda p: {
        "status": "Accepted",
        "currentTime": format_datetime(h.now + 3600),
        "interval": HEARTBEAT_S,
    }
    h.responders["Heartbeat"] = lambda p: {"currentTime": format_datetime(h.now + 3600)}
    h.feed(Connected())
    assert h.records["station"]["clock"]["offsetS"] == pytest.approx(3600, abs=1e-3)
    h.wall_skew = 3600.0  # the OS clock was set
    charging(h)
    h.advance(20)
    stamps = [parse_datetime(p["meterValue"][0]["timestamp"]) for p in h.sent("MeterValues")]
    assert stamps and all(abs(s - (h.now + 3600)) <= 20 for s in stamps)
    assert h.records["station"]["clock"]["offsetS"] == pytest.approx(0, abs=1e-3)
    # After a restart the stored offset applies to the (now correct) wall clock.
    after = h.reboot(restore=True, connect=False)
    assert after.engine.ctx.ocpp_time() == pytest.approx(h.now + 3600, abs=1e-3)


def test_small_drift_is_not_a_jump() -> None:
    h = booted(0.0, csms_follows_wall=False)
    offset = h.engine.ctx.clock_offset_s
    for _ in range(10):
        h.wall_skew = (h.wall_skew or 0.0) + 0.5  # slewed by NTP, half a second at a time
        h.advance(60)
    assert h.engine.ctx.clock_offset_s == offset


@given(st.floats(min_value=0, max_value=4_102_444_800, allow_nan=False))  # 1970 .. 2100
def test_format_datetime_matches_the_datetime_module(epoch_s: float) -> None:
    """The cached formatting (issue #9 hot path) gives exactly what datetime gives, to the millisecond."""
    moment = datetime.fromtimestamp(epoch_s, UTC)
    expected = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    assert format_datetime(epoch_s) == expected
