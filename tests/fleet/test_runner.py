"""The fleet runner against the real development CSMS: ~20 stations in one process and in two worker
processes for a few seconds; every station boots, the report's counts are what the CSMS saw, the
latency percentiles are there; the CLI as a real process, stopped by its duration and by SIGTERM."""

from __future__ import annotations

import asyncio
import gc
import json
import os
import signal
import sys
import weakref
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from ocpp_station.fleet import runner
from ocpp_station.fleet.config import Overrides, parse_fleet
from ocpp_station.fleet.runner import run_fleet, run_stations, sample_gauges, sample_gauges_sliced
from ocpp_station.fleet.stats import FleetStats, merge, percentile_s, summarize
from ocpp_station.sim.csms import CentralSystem
from ocpp_station.transport.station import Station
from tests.stations import until

COUNT = 20
REPO = Path(__file__).resolve().parents[2]


def seen_by_csms(csms: CentralSystem) -> tuple[Counter[str], Counter[str], Counter[str]]:
    """The stations' CALLs the CSMS received, those it answered with a CALLRESULT, and its own CALLs
    the stations answered, per action."""
    calls, results, ours = Counter[str](), Counter[str](), Counter[str]()
    for e in csms.log:
        if e.direction == "in" and e.kind == "CALL":
            calls[str(e.action)] += 1
        elif e.direction == "out" and e.kind == "CALLRESULT":
            results[str(e.action)] += 1
        elif e.direction == "in" and e.kind == "CALLRESULT":
            ours[str(e.action)] += 1
    return calls, results, ours


def fleet_data(csms: CentralSystem, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "url": csms.url,
        "count": COUNT,
        "idPattern": "FL-{n:03d}",
        "ramp": "200/s",
        "templates": [
            {"name": "ac", "share": 3, "ocpp": {"WebSocketPingInterval": 0}},
            {"name": "twin", "count": 5, "connectors": {"count": 2}, "durability": {"shutdownGrace": 1}},
        ],
    }
    data.update(extra)
    return data


async def run_and_poke(csms: CentralSystem, processes: int, tmp_path: Path) -> dict[str, Any]:
    """Run the fleet for a few seconds (Heartbeat every second); once all are booted, the CSMS asks
    three stations for their configuration."""
    config = parse_fleet(
        fleet_data(csms, processes=processes, duration="4s", report=str(tmp_path / "out.json")),
        str(tmp_path / "fleet.json"),
    )
    run = asyncio.create_task(run_fleet(config))
    await until(lambda: len({e.charge_point_id for e in csms.log if e.action == "Heartbeat"}) == COUNT, 15)
    for cp_id in ("FL-001", "FL-010", "FL-020"):
        await csms.call(cp_id, "GetConfiguration", {"key": ["HeartbeatInterval"]})
    report = await asyncio.wait_for(run, 60)
    return report


def check_report(report: dict[str, Any], csms: CentralSystem, processes: int, tmp_path: Path) -> None:
    calls, results, ours = seen_by_csms(csms)
    assert report["processes"] == processes
    assert report["config"]["count"] == COUNT
    assert [(t["name"], t["stations"]) for t in report["config"]["templates"]] == [("ac", 15), ("twin", 5)]
    # every station booted and connected once; all stopped cleanly at the end
    assert report["actions"]["BootNotification"]["answered"] == COUNT
    assert {e.charge_point_id for e in csms.log if e.action == "BootNotification"} == {
        f"FL-{n:03d}" for n in range(1, COUNT + 1)
    }
    assert report["connects"] == COUNT and report["reconnects"] == 0
    assert report["gauges"]["stations"] == COUNT and report["gauges"]["booted"] == COUNT
    assert report["gauges"]["connected"] == 0
    # the counts are what the CSMS saw, action by action
    assert {a: v["sent"] for a, v in report["actions"].items()} == dict(calls)
    assert {a: v["answered"] for a, v in report["actions"].items()} == dict(results)
    assert {a: v["count"] for a, v in report["received"].items()} == dict(ours) == {"GetConfiguration": 3}
    assert calls["Heartbeat"] >= COUNT and calls["StatusNotification"] == 15 * 2 + 5 * 3
    for action, figures in report["actions"].items():
        assert figures["callErrors"] == {} and figures["timeouts"] == 0 and figures["lost"] == 0, action
        assert 0 < figures["p50Ms"] <= figures["p95Ms"] <= figures["p99Ms"], action
    assert report["totals"]["sent"] == sum(calls.values())
    on_disk = json.loads((tmp_path / "out.json").read_text())
    assert on_disk == json.loads(json.dumps(report))
    page = (tmp_path / "out.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "<td>Heartbeat</td>" in page
    assert "<script" not in page and "src=" not in page and "href=" not in page  # no external asset


async def test_twenty_stations_in_one_process(tmp_path: Path) -> None:
    async with CentralSystem(port=0, heartbeat_interval=1) as csms:
        report = await run_and_poke(csms, 1, tmp_path)
        check_report(report, csms, 1, tmp_path)


async def test_twenty_stations_in_two_processes(tmp_path: Path) -> None:
    async with CentralSystem(port=0, heartbeat_interval=1) as csms:
        report = await run_and_poke(csms, 2, tmp_path)
        check_report(report, csms, 2, tmp_path)


async def test_stop_before_the_ramp_ends_stops_what_started(tmp_path: Path) -> None:
    async with CentralSystem(port=0) as csms:
        config = parse_fleet(fleet_data(csms, ramp=10, processes=1), "<test>")
        stop = asyncio.Event()
        run = asyncio.create_task(run_fleet(config, stop=stop))
        await until(lambda: any(e.action == "BootNotification" for e in csms.log), 10)
        stop.set()
        report = await asyncio.wait_for(run, 30)
        assert 1 <= report["gauges"]["stations"] < COUNT
        assert report["gauges"]["connected"] == 0
        assert not csms.stations or all(not s.connected for s in csms.stations.values())


async def test_the_gauges_sampled_in_slices_are_the_whole_sample(monkeypatch: pytest.MonkeyPatch) -> None:
    """The runner samples its stations a slice at a time (the event loop runs their frames between
    two slices): the gauges are those of one pass over every station."""
    monkeypatch.setattr(runner, "SAMPLE_SLICE", 3)
    async with CentralSystem(port=0) as csms:
        config = parse_fleet(fleet_data(csms, processes=1), "<test>")
        stats, stop, stations = FleetStats(), asyncio.Event(), list[Station]()
        run = asyncio.create_task(
            run_stations(config, range(COUNT), stats, stop, ramp_per_s=200, stations=stations)
        )
        try:
            await until(lambda: stats.gauges["booted"] == COUNT, 20)
            stations[4].plug(1)
            await until(lambda: stations[4].view.connector_statuses()[0] == "Preparing", 10)
            whole, sliced = FleetStats(), FleetStats()
            sample_gauges(stations, whole)
            await sample_gauges_sliced(stations, sliced)
            assert sliced.gauges == whole.gauges and sliced.statuses == whole.statuses
            assert whole.gauges["booted"] == COUNT and whole.statuses["Preparing"] == 1
            assert sum(whole.statuses.values()) == 15 + 5 * 2  # connectors: 15 stations of 1, 5 of 2
        finally:
            stop.set()
            await asyncio.wait_for(run, 30)


async def test_the_collector_is_settled_once_every_station_has_started() -> None:
    """After the ramp (``tune_gc``: the command and the workers ask for it): what exists is frozen out
    of later collections, the youngest generation collected every GC_THRESHOLD0 allocations (the
    process's own settings restored after the test)."""
    before = gc.get_threshold()
    try:
        async with CentralSystem(port=0) as csms:
            config = parse_fleet(fleet_data(csms, processes=1), "<test>")
            stats, stop = FleetStats(), asyncio.Event()
            run = asyncio.create_task(
                run_stations(config, range(3), stats, stop, ramp_per_s=100, tune_gc=True)
            )
            await until(lambda: gc.get_threshold()[0] == runner.GC_THRESHOLD0, 10)
            assert gc.get_freeze_count() > 0
            stop.set()
            await asyncio.wait_for(run, 30)
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


# -- the statistics ---------------------------------------------------------------------------------------


def test_histograms_merge_exactly_and_give_percentiles() -> None:
    a, b = FleetStats(), FleetStats()
    for i in range(100):
        a.sent("MeterValues")
        a.answered("MeterValues", 0.001 * (i + 1), None)  # 1..100 ms
    b.sent("MeterValues")
    b.answered("MeterValues", 5.0, "InternalError")
    b.sent("Heartbeat")
    b.answered("Heartbeat", 30.0, "Timeout")
    b.received("Reset", None)
    b.received("Reset", "NotSupported")
    b.connects, b.reconnects = 2, 1
    both = merge([a.snapshot(), b.snapshot()])
    assert both["sent"] == {"MeterValues": 101, "Heartbeat": 1}
    assert sum(both["latency"]["MeterValues"].values()) == 101  # the CALLERROR has a latency too
    assert "Heartbeat" not in both["latency"]  # a timeout has none
    figures = summarize(both, 10.0)
    mv = figures["actions"]["MeterValues"]
    assert mv["answered"] == 100 and mv["callErrors"] == {"InternalError": 1}
    assert mv["perSecond"] == 10.1
    # within a bucket (±4.4 %) of the true percentiles: 50, 95, 99 ms
    assert mv["p50Ms"] == pytest.approx(50, rel=0.05)
    assert mv["p95Ms"] == pytest.approx(95, rel=0.05)
    assert mv["p99Ms"] == pytest.approx(99, rel=0.05)
    assert figures["actions"]["Heartbeat"]["timeouts"] == 1
    assert figures["received"] == {"Reset": {"count": 2, "callErrors": {"NotSupported": 1}}}
    assert (figures["connects"], figures["reconnects"]) == (2, 1)
    assert percentile_s({}, 0.5) is None
    # a snapshot is plain data: it survives JSON (and the pipe between processes)
    assert merge([json.loads(json.dumps(a.snapshot(), sort_keys=True))])["sent"] == a.snapshot()["sent"]


# -- the command line, as a real process ----------------------------------------------------------------


async def fleet_process(csms: CentralSystem, *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ocpp_station",
        "fleet",
        "--url",
        csms.url,
        "--count",
        "6",
        "--ramp",
        "100/s",
        "--processes",
        "1",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO / "src")},
    )


async def test_the_cli_runs_for_its_duration_and_writes_the_report(tmp_path: Path) -> None:
    async with CentralSystem(port=0) as csms:
        process = await fleet_process(
            csms, "--duration", "2s", "--report", str(tmp_path / "r.json"), "--progress-every", "1"
        )
        _out, err = await asyncio.wait_for(process.communicate(), 60)
        assert process.returncode == 0, err.decode()
        report = json.loads((tmp_path / "r.json").read_text())
        assert report["actions"]["BootNotification"]["answered"] == 6
        assert (tmp_path / "r.html").is_file()
        assert "connected 6" in err.decode() and "done: " in err.decode()


async def test_sigterm_mid_run_still_writes_the_report(tmp_path: Path) -> None:
    async with CentralSystem(port=0) as csms:
        process = await fleet_process(csms, "--duration", "10m", "--report", str(tmp_path / "r.json"))
        await until(
            lambda: sum(e.action == "BootNotification" and e.kind == "CALLRESULT" for e in csms.log) == 6, 30
        )
        process.send_signal(signal.SIGTERM)
        _out, err = await asyncio.wait_for(process.communicate(), 60)
        assert process.returncode == 0, err.decode()
        report = json.loads((tmp_path / "r.json").read_text())
        assert report["actions"]["BootNotification"]["answered"] == 6
        assert all(not s.connected for s in csms.stations.values())


async def test_the_cli_refuses_a_bad_fleet_with_exit_code_2(tmp_path: Path) -> None:
    (tmp_path / "f.json").write_text(json.dumps({"url": "ws://h/", "count": 2, "idPattern": "a b{n}"}))
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ocpp_station", "fleet", "--config", str(tmp_path / "f.json"),
        stderr=asyncio.subprocess.PIPE, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO / "src")},
    )  # fmt: skip
    _out, err = await process.communicate()
    assert process.returncode == 2
    assert "configuration error" in err.decode() and "idPattern" in err.decode()


def test_overrides_are_plain_data() -> None:
    assert Overrides().url is None


@pytest.mark.parametrize("processes", [1, 2])
async def test_a_fleet_with_an_atg_charges_and_reports_its_sessions(processes: int, tmp_path: Path) -> None:
    """The template's ``atg`` drives every station (start_atg: a timer each, no task): sessions reach
    the CSMS; the report and /metrics carry the ATG's counters, summed over the processes."""
    from ocpp_station.fleet.metrics import render_metrics

    fast = {
        "arrival": {"uniform": [0.1, 0.3]},
        "authDelay": 0.1,
        "duration": {"uniform": [0.8, 1.2]},
        "unplugDelay": 0.1,
        "idTags": ["CARD-1"],
    }
    async with CentralSystem(port=0) as csms:
        data = {
            "url": csms.url,
            "count": 4,
            "idPattern": "ATG-{n}",
            "ramp": "100/s",
            "processes": processes,
            "duration": "4s",
            "report": str(tmp_path / "out.json"),
            "templates": [{"name": "ac", "atg": fast}],
        }
        report = await asyncio.wait_for(run_fleet(parse_fleet(data, str(tmp_path / "f.json"))), 60)
        starts = {e.charge_point_id for e in csms.log if e.action == "StartTransaction" and e.kind == "CALL"}
        assert starts == {f"ATG-{n}" for n in range(1, 5)}
    atg = report["atg"]
    assert atg["started"] >= 4 and atg["plugged"] >= atg["started"] and atg["errors"] == 0
    assert atg["running"] == 0  # every ATG closed at the stop
    # (a session plugged just before the stop may start without the ATG seeing it: at least as many)
    assert report["actions"]["StartTransaction"]["answered"] >= atg["started"]
    assert "<h2>Automatic transaction generator</h2>" in (tmp_path / "out.html").read_text()
    metrics = render_metrics(lambda: {**FleetStats().snapshot(), "atg": atg}).decode()
    assert f'ocpp_fleet_atg_events_total{{event="started"}} {float(atg["started"])}' in metrics


# -- the collector of a fleet process (runner.settle_gc, runner.tend_gc) ----------------------------------
class _Node:
    def __init__(self) -> None:
        self.me: _Node | None = None


def test_tend_gc_collects_young_cycles_and_freezes_the_survivors() -> None:
    gc.collect()
    frozen_before = gc.get_freeze_count()
    try:
        survivors = [[index] for index in range(1000)]  # young objects that stay alive
        node = _Node()
        node.me = node  # young cyclic garbage once the name is gone
        gone = weakref.ref(node)
        del node
        runner.tend_gc()
        assert gone() is None  # collected: it died within the second
        assert gc.get_freeze_count() >= frozen_before + len(survivors)  # never scanned again
        assert gc.get_count()[1] == 0 and gc.get_count()[2] == 0
    finally:
        gc.unfreeze()  # this test process keeps its collector as it was


async def test_every_repeats_until_cancelled() -> None:
    ticks: list[float] = []
    loop = asyncio.get_running_loop()
    every = runner.Every(loop, 0.01, lambda: ticks.append(loop.time()))
    await asyncio.sleep(0.08)
    every.cancel()
    count = len(ticks)
    assert count >= 3
    await asyncio.sleep(0.05)
    assert len(ticks) == count
