"""The shell's transfer helpers: per-station diagnostics log and upload targets (transport/transfers.py)."""

from __future__ import annotations

import logging

from ocpp_station.transport.transfers import StationLog, target_url

log = logging.getLogger("ocpp_station.test")


def test_each_station_keeps_its_own_log_lines() -> None:
    log.setLevel(logging.INFO)
    first, second = StationLog(), StationLog()
    with first.active():
        log.info("one %s", 1)
        with second.active():
            log.warning("two")
        log.info("three")
    log.info("nobody's")
    first.frame(True, b'[2,"1","Heartbeat",{}]')
    assert [text for _, text in first.lines] == [
        "INFO ocpp_station.test: one 1",
        "INFO ocpp_station.test: three",
        '-> [2,"1","Heartbeat",{}]',
    ]
    assert [text for _, text in second.lines] == ["WARNING ocpp_station.test: two"]


def test_log_keeps_the_newest_lines_and_can_be_off() -> None:
    small = StationLog(2)
    for n in range(5):
        small.add(f"line {n}", at=float(n))
    assert list(small.lines) == [(3.0, "line 3"), (4.0, "line 4")]
    off = StationLog(0)
    off.add("x")
    off.frame(False, "y")
    with off.active():
        log.warning("z")
    assert not off.lines


def test_upload_target_is_a_directory_for_ftp() -> None:
    assert target_url("ftp://h/logs") == "ftp://h/logs/"
    assert target_url("ftp://h/logs/") == "ftp://h/logs/"
    assert target_url("https://h/upload") == "https://h/upload"
