"""Who owns the log handler behind the per-station diagnostics logs (transport/transfers.py): it is on
the ``ocpp_station`` logger only while a station log is open, never left behind for the process."""

from __future__ import annotations

import gc
import logging

from ocpp_station.transport import transfers
from ocpp_station.transport.station import Station
from ocpp_station.transport.transfers import StationLog
from tests.stations import station_config

log = logging.getLogger("ocpp_station.test")


def _attached() -> bool:
    return transfers._HANDLER in logging.getLogger("ocpp_station").handlers


def _users() -> int:
    gc.collect()  # logs of earlier tests that nobody closed
    return transfers._HANDLER.users


def test_closing_the_last_station_log_takes_the_handler_off() -> None:
    before = _users()
    first, second = StationLog(), StationLog()
    assert transfers._HANDLER.users == before + 2 and _attached()
    assert logging.getLogger("ocpp_station").handlers.count(transfers._HANDLER) == 1
    first.close()
    first.close()  # idempotent
    assert transfers._HANDLER.users == before + 1 and _attached()
    log.setLevel(logging.INFO)
    with second.active():
        log.info("still fed")
    assert [text for _, text in second.lines] == ["INFO ocpp_station.test: still fed"]
    second.close()
    assert transfers._HANDLER.users == before
    if before == 0:
        assert not _attached()


def test_a_closed_station_log_keeps_its_lines_and_takes_no_more() -> None:
    other = StationLog()  # keeps the handler attached
    station_log = StationLog()
    station_log.add("before close", at=1.0)
    station_log.close()
    with station_log.active():
        log.warning("after close")
    station_log.frame(True, "[2]")
    assert list(station_log.lines) == [(1.0, "before close")]
    other.close()


def test_a_forgotten_station_log_releases_the_handler_when_collected() -> None:
    before = _users()
    station_log = StationLog()
    assert transfers._HANDLER.users == before + 1
    del station_log
    assert _users() == before


def test_a_log_that_keeps_no_lines_needs_no_handler() -> None:
    before = _users()
    off = StationLog(0)
    assert transfers._HANDLER.users == before
    off.close()
    assert transfers._HANDLER.users == before


def test_two_stations_keep_separate_logs_and_a_closed_station_leaves_no_handler() -> None:
    before = _users()
    config = station_config("ws://127.0.0.1:9/ocpp/")
    first, second = Station(config), Station(config)
    assert transfers._HANDLER.users == before + 2 and _attached()
    log.setLevel(logging.INFO)
    with first.log.active():
        log.info("first's")
    with second.log.active():
        log.info("second's")
    assert [text for _, text in first.log.lines] == ["INFO ocpp_station.test: first's"]
    assert [text for _, text in second.log.lines] == ["INFO ocpp_station.test: second's"]
    first.close()
    second.close()
    del first, second
    assert _users() == before
    if before == 0:
        assert not _attached()


def test_a_huge_frame_is_kept_cut_with_its_length() -> None:
    log = StationLog(10)
    try:
        log.frame(False, "x" * 200_000)
        log.frame(True, b"y" * 5000)
        log.frame(False, '[2,"1","Heartbeat",{}]')
        texts = [text for _, text in log.lines]
        assert len(texts[0]) < 4200 and texts[0].endswith("(200000 characters in all)")
        assert texts[1].startswith("-> yyy") and texts[1].endswith("(5000 bytes in all)")
        assert texts[2] == '<- [2,"1","Heartbeat",{}]'
    finally:
        log.close()


def test_the_log_is_bounded_in_bytes_too() -> None:
    """fileTransfer.logBytes (issue #9): whatever the lines hold, the text kept stays under the budget,
    the oldest lines going first."""
    log = StationLog(1000, max_bytes=10_000)
    try:
        for n in range(100):
            log.frame(False, f"{n:03d}" + "x" * 997)  # about 1 KB each
        texts = [text for _, text in log.lines]
        assert sum(len(t) for t in texts) <= 10_000
        assert len(texts) == 9 and texts[-1].startswith("<- 099")  # the newest kept
        for _ in range(2000):  # the line bound and the byte bound together
            log.add("y")
        assert len(log.lines) == 1000 and sum(len(t) for _, t in log.lines) == 1000
    finally:
        log.close()


def test_a_log_without_bytes_keeps_nothing() -> None:
    log = StationLog(2000, max_bytes=0)
    log.add("anything")
    assert list(log.lines) == [] and not log.enabled
