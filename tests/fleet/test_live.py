"""The live terminal view: rendered to a recording rich Console (no terminal needed), from figures made
by hand and from a real fleet of a few stations against the development CSMS."""

from __future__ import annotations

import asyncio
import io

from rich.console import Console

from ocpp_station.fleet.config import parse_fleet
from ocpp_station.fleet.live import LiveProgress, rates_between, render
from ocpp_station.fleet.runner import PlainProgress, choose_progress, run_fleet
from ocpp_station.fleet.stats import FleetStats, summarize
from ocpp_station.sim.csms import CentralSystem


def recording() -> Console:
    return Console(record=True, width=160, file=io.StringIO(), color_system=None)


def text_of(renderable: object) -> str:
    console = recording()
    console.print(renderable)
    return console.export_text()


def made_up() -> FleetStats:
    stats = FleetStats()
    for i in range(100):
        stats.sent("MeterValues")
        stats.answered("MeterValues", 0.001 * (i + 1), None)
    stats.sent("StartTransaction")
    stats.answered("StartTransaction", 0.004, "InternalError")
    stats.sent("Heartbeat")
    stats.answered("Heartbeat", 30.0, "Timeout")
    stats.received("Reset", "NotSupported")
    stats.connects, stats.reconnects = 12, 2
    stats.gauges.update(stations=10, connected=9, booted=8, charging=3, faulted=1, queue=5)
    return stats


def test_the_view_shows_gauges_rates_errors_and_percentiles() -> None:
    stats = made_up()
    earlier = summarize(FleetStats().snapshot(), 0.0)
    summary = summarize(stats.snapshot(), 10.0)
    rates, total = rates_between(earlier | {"elapsedSeconds": 8.0}, summary)
    assert rates["MeterValues"] == 50.0 and total == 51.0  # 100 in the last 2 s
    text = text_of(render(summary, rates, total))
    assert "stations 10  connected 9  booted 8  charging 3  faulted 1  queue 5" in text
    assert "connects 12  reconnects 2" in text
    lines = {line.split()[0]: line.split() for line in text.splitlines() if line.strip()}
    # action, CALLs/s, sent, answered, CALLERRORs, timeouts, lost, p50, p95, p99
    meter = lines["MeterValues"]
    assert meter[1:5] == ["50.0", "100", "100", "0"]
    assert 48 <= float(meter[7]) <= 53 and 93 <= float(meter[8]) <= 100 and 97 <= float(meter[9]) <= 104
    assert "InternalError 1" in " ".join(lines["StartTransaction"])
    assert lines["Heartbeat"][5] == "1"  # one timeout
    assert lines["all"][1:3] == ["51.0", "102"]
    assert "CSMS's CALLs: Reset 1 (refused: NotSupported 1)" in text


def test_the_final_view_shows_the_runs_averages() -> None:
    summary = summarize(made_up().snapshot(), 10.0)
    text = text_of(render(summary, final=True))
    assert "10.0 s  (done)" in text
    assert next(w for w in text.split("\n") if w.startswith("MeterValues")).split()[1] == "10.0"


def test_live_or_plain() -> None:
    assert isinstance(choose_progress(True), LiveProgress)
    assert isinstance(choose_progress(False), PlainProgress)
    assert isinstance(choose_progress(None), PlainProgress)  # stderr is not a terminal under pytest


async def test_a_real_fleet_drives_the_live_view() -> None:
    async with CentralSystem(port=0, heartbeat_interval=1) as csms:
        config = parse_fleet(
            {"url": csms.url, "count": 3, "ramp": 100, "duration": "2.5s", "processes": 1}, "<test>"
        )
        console = recording()
        progress = LiveProgress(console)
        updates: list[float] = []
        original = progress.update

        def update(summary: dict[str, object], final: bool = False) -> None:
            updates.append(float(summary["elapsedSeconds"]))  # type: ignore[arg-type]
            original(summary, final)

        progress.update = update  # type: ignore[method-assign]
        report = await asyncio.wait_for(run_fleet(config, progress=progress), 30)
    assert len(updates) >= 3  # about once a second, and the final one
    text = console.export_text()
    assert "(done)" in text and "stations 3  connected 0  booted 3" in text
    assert "BootNotification" in text and "Heartbeat" in text
    boot = [line for line in text.splitlines() if line.startswith("BootNotification")][-1].split()
    assert boot[2:4] == ["3", "3"] and report["actions"]["BootNotification"]["answered"] == 3
