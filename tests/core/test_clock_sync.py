"""The OCPP clock follows the CSMS (§4.2, §4.6); the first sync corrects what was stamped before it."""

from __future__ import annotations

import time

import pytest

from ocpp_station.core.clock import format_datetime, parse_datetime
from ocpp_station.core.effects import SetSystemClock
from ocpp_station.core.events import CablePlugged, Connected, IdTagPresented
from ocpp_station.core.settings import EngineSettings
from tests.core.harness import T0, Harness, Unanswered


def test_first_sync_shifts_unsent_timestamps_of_an_offline_start() -> None:
    h = Harness(connect=False, config={"AllowOfflineTxForUnknownId": "true"})
    h.feed(CablePlugged(1))
    h.feed(IdTagPresented("TAG"))  # offline: started at once, StartTransaction queued
    skew = -3600.0
    h.responders["BootNotification"] = lambda p: {
        "status": "Accepted",
        "currentTime": format_datetime(h.now + skew),
        "interval": 300,
    }
    h.feed(Connected())
    start = h.sent("StartTransaction")[0]
    assert parse_datetime(start["timestamp"]) == h.now + skew
    h.feed(IdTagPresented("TAG"))
    stop = h.sent("StopTransaction")[0]
    assert parse_datetime(stop["timestamp"]) >= parse_datetime(start["timestamp"])


def test_clock_offset_is_stored() -> None:
    h = Harness()
    from ocpp_station.core.effects import Persist

    assert (
        any(isinstance(e, Persist) and e.kind == "station" and e.key == "clock" for e in h.effects) is False
    )
    h.responders["Heartbeat"] = lambda p: {"currentTime": format_datetime(h.now + 120)}
    h.advance(301)
    stored = [e for e in h.effects if isinstance(e, Persist) and e.kind == "station" and e.key == "clock"]
    assert stored and abs(stored[-1].value["offsetS"] - 120) < 1  # type: ignore[index]


# -- how far a currentTime moves the clock: by as little as its stamp allows (§4.2, §4.6) ----------------
def _whole_seconds(epoch_s: float) -> str:
    """A CSMS time as many CSMSs write it: truncated to the second."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch_s))


def _heartbeat_answered_late(
    h: Harness, csms_ahead_s: float, stamp_after_s: float, answer_after_s: float
) -> float:
    """The next Heartbeat, stamped by a CSMS ``csms_ahead_s`` ahead of our clock ``stamp_after_s``
    after the CALL went out (in whole seconds) and answered ``answer_after_s`` after it. Returns the
    CSMS's stamp."""
    ctx = h.engine.ctx
    h.responders["Heartbeat"] = lambda p: Unanswered()
    h.advance(300)
    assert h.pending() and h.pending()[-1][1] == "Heartbeat"
    sent_at = h.now
    stamp = _whole_seconds(ctx.ocpp_time() + stamp_after_s + csms_ahead_s)
    h.now = sent_at + answer_after_s
    h.answer("Heartbeat", {"currentTime": stamp})
    return parse_datetime(stamp)


def _clock_changes(h: Harness) -> int:
    return sum(1 for p in h.sent("SecurityEventNotification") if p["type"] == "SettingSystemTime")


def test_a_whole_second_time_answered_late_moves_no_clock() -> None:
    """A loaded CSMS on the same clock as ours: its whole-second stamp plus a 1.5-s round trip put it
    2 s behind our clock on arrival, yet it agrees with our clock when it was stamped. Adopting it as
    the time of arrival would move the clock back (and forward again at the next answer), each time a
    SettingSystemTime security event and every clock-bound timer re-armed; it moves nothing."""
    h = Harness()
    ctx = h.engine.ctx
    h.now += 0.6  # our clock between two whole seconds
    h.advance(1)
    offset = ctx.clock_offset_s
    for _ in range(10):
        _heartbeat_answered_late(h, csms_ahead_s=0.0, stamp_after_s=0.4, answer_after_s=1.5)
        assert ctx.clock_offset_s == offset
    assert _clock_changes(h) == 0


def test_a_csms_ahead_moves_the_clock_onto_its_stamp() -> None:
    h = Harness()
    ctx = h.engine.ctx
    stamp = _heartbeat_answered_late(h, csms_ahead_s=5.0, stamp_after_s=0.1, answer_after_s=0.2)
    assert ctx.ocpp_time() == pytest.approx(stamp)  # at least this late now: moved forward to it
    assert _clock_changes(h) == 1


def test_a_csms_behind_sets_the_clock_to_its_time() -> None:
    """More than a second off: the clock is wrong; it takes the CSMS's time as of the answer."""
    h = Harness()
    ctx = h.engine.ctx
    stamp = _heartbeat_answered_late(h, csms_ahead_s=-5.0, stamp_after_s=0.1, answer_after_s=0.2)
    assert ctx.ocpp_time() == pytest.approx(stamp)
    assert _clock_changes(h) == 1


def test_two_clocks_a_millisecond_apart_at_a_second_boundary_move_by_a_millisecond() -> None:
    """Found in the 19,500-station bench (2026-11-30): the stations' clocks (the wall clock at start
    plus the monotonic clock) a few milliseconds ahead of the CSMS's; a CALL leaving at x.001 by ours
    was stamped x-1 (x - 0.001 by the CSMS's clock, truncated). Taking the stamp moved our clock back a
    second, a SettingSystemTime each time (2 a second in the boot storm); the stamp allows our clock
    1 ms slower, and that is all it moves."""
    h = Harness(now=T0 + 0.001)  # the Heartbeat leaves at x.001
    ctx = h.engine.ctx
    offset = ctx.clock_offset_s
    _heartbeat_answered_late(h, csms_ahead_s=-0.002, stamp_after_s=0.0, answer_after_s=0.001)
    assert ctx.clock_offset_s == pytest.approx(offset - 0.001, abs=1e-6)
    assert _clock_changes(h) == 0


def test_a_millisecond_time_is_held_to_its_precision() -> None:
    """A CSMS writing milliseconds, 0.5 s behind when it stamped: outside what its stamp allows, so
    the clock moves (by half a second: not a clock change to announce)."""
    h = Harness()
    ctx = h.engine.ctx
    h.responders["Heartbeat"] = lambda p: {"currentTime": format_datetime(ctx.ocpp_time() - 0.5)}
    before = ctx.ocpp_time()
    h.advance(300)
    assert ctx.ocpp_time() == pytest.approx(before + 300 - 0.5, abs=0.002)
    assert _clock_changes(h) == 0


def test_set_system_clock_gets_the_ocpp_time() -> None:
    h = Harness(EngineSettings(set_system_clock=True))
    ctx = h.engine.ctx
    _heartbeat_answered_late(h, csms_ahead_s=0.0, stamp_after_s=0.4, answer_after_s=1.5)
    assert h.effects_of(SetSystemClock)[-1] == SetSystemClock(ctx.ocpp_time())
