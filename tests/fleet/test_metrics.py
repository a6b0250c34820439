"""The fleet's Prometheus /metrics: the collector over figures made by hand (exact buckets), a real
fleet scraped while it runs (one and two processes), and the CLI's --control-port."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from ocpp_station.fleet.config import parse_fleet
from ocpp_station.fleet.metrics import LATENCY_EDGES, render_metrics
from ocpp_station.fleet.runner import run_fleet
from ocpp_station.fleet.stats import FleetStats
from ocpp_station.sim.csms import CentralSystem
from tests.stations import until

REPO = Path(__file__).resolve().parents[2]


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the exposition: (name, sorted labels) -> value."""
    found = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


def test_the_collector_reads_the_snapshot() -> None:
    stats = FleetStats()
    for _ in range(3):
        stats.sent("MeterValues")
        stats.answered("MeterValues", 0.001, None)  # 1 ms: above the 0.8 ms edge, below 1.6 ms
    stats.sent("MeterValues")
    stats.answered("MeterValues", 0.2, "InternalError")
    stats.sent("Heartbeat")
    stats.answered("Heartbeat", 30.0, "Timeout")
    stats.received("Reset", None)
    stats.received("Reset", "NotSupported")
    stats.connects, stats.reconnects = 5, 1
    stats.gauges.update(stations=4, connected=3, booted=2, charging=1, faulted=1, queue=7)
    text = render_metrics(stats.snapshot).decode()
    families = {f.name: f.type for f in text_string_to_metric_families(text)}
    assert families["ocpp_fleet_calls_sent"] == "counter"
    assert families["ocpp_fleet_call_latency_seconds"] == "histogram"
    assert families["ocpp_fleet_booted"] == "gauge"
    got = samples(text)
    assert got[("ocpp_fleet_calls_sent_total", (("action", "MeterValues"),))] == 4
    outcome = "ocpp_fleet_call_outcomes_total"
    assert got[(outcome, (("action", "MeterValues"), ("outcome", "CALLRESULT")))] == 3
    assert got[(outcome, (("action", "MeterValues"), ("outcome", "InternalError")))] == 1
    assert got[(outcome, (("action", "Heartbeat"), ("outcome", "Timeout")))] == 1
    csms = "ocpp_fleet_csms_calls_total"
    assert got[(csms, (("action", "Reset"), ("outcome", "CALLRESULT")))] == 1
    assert got[(csms, (("action", "Reset"), ("outcome", "NotSupported")))] == 1
    assert got[("ocpp_fleet_connects_total", ())] == 5
    assert got[("ocpp_fleet_reconnects_total", ())] == 1
    for name, value in (("stations", 4), ("connected", 3), ("booted", 2), ("charging", 1)):
        assert got[(f"ocpp_fleet_{name}", ())] == value
    assert got[("ocpp_fleet_faulted", ())] == 1 and got[("ocpp_fleet_queue_depth", ())] == 7

    def bucket(le: str) -> float:
        return got[("ocpp_fleet_call_latency_seconds_bucket", (("action", "MeterValues"), ("le", le)))]

    assert len(LATENCY_EDGES) == 21 and LATENCY_EDGES[0] == pytest.approx(1e-4)
    assert LATENCY_EDGES[-1] == pytest.approx(1e-4 * 2**20)
    assert bucket("0.0008") == 0 and bucket("0.0016") == 3  # exact: the edges are the fleet's
    assert bucket("0.1024") == 3 and bucket("0.2048") == 4 and bucket("+Inf") == 4
    assert got[("ocpp_fleet_call_latency_seconds_count", (("action", "MeterValues"),))] == 4
    total = got[("ocpp_fleet_call_latency_seconds_sum", (("action", "MeterValues"),))]
    assert total == pytest.approx(0.203, rel=0.05)  # each answer at its bucket's middle
    # no latency for an answer that never came
    assert ("ocpp_fleet_call_latency_seconds_count", (("action", "Heartbeat"),)) not in got


async def scrape(base: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    async with aiohttp.ClientSession() as http, http.get(base + "/metrics") as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=")
        return samples(await response.text())


@pytest.mark.parametrize("processes", [1, 2])
async def test_a_running_fleet_is_scraped(processes: int) -> None:
    count = 4
    async with CentralSystem(port=0, heartbeat_interval=1) as csms:
        config = parse_fleet(
            {"url": csms.url, "count": count, "ramp": 200, "processes": processes, "controlPort": 0},
            "<test>",
        )
        stop = asyncio.Event()
        port: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        run = asyncio.create_task(run_fleet(config, stop=stop, control_ready=port.set_result))
        base = f"http://127.0.0.1:{await asyncio.wait_for(port, 10)}"
        boot = ("ocpp_fleet_calls_sent_total", (("action", "BootNotification"),))
        got: dict[Any, float] = {}

        async def ready() -> bool:
            nonlocal got
            got = await scrape(base)
            return got.get(("ocpp_fleet_booted", ())) == count and boot in got

        async with asyncio.timeout(15):
            while not await ready():
                await asyncio.sleep(0.3)
        stop.set()
        await asyncio.wait_for(run, 30)
    assert got[boot] == count
    answered = ("ocpp_fleet_call_outcomes_total", (("action", "BootNotification"), ("outcome", "CALLRESULT")))
    assert got[answered] == count
    inf = ("ocpp_fleet_call_latency_seconds_bucket", (("action", "BootNotification"), ("le", "+Inf")))
    assert got[inf] == count
    edges = [
        value
        for (name, labels), value in got.items()
        if name == "ocpp_fleet_call_latency_seconds_bucket" and ("action", "BootNotification") in labels
    ]
    assert edges == sorted(edges)  # cumulative
    assert got[("ocpp_fleet_connects_total", ())] == count
    assert got[("ocpp_fleet_connected", ())] == count


async def test_the_cli_serves_metrics_on_control_port() -> None:
    async with CentralSystem(port=0) as csms:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "ocpp_station",
            "fleet",
            "--url",
            csms.url,
            "--count",
            "2",
            "--processes",
            "1",
            "--duration",
            "20s",
            "--control-port",
            "0",
            "--no-live",
            stderr=asyncio.subprocess.PIPE,
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO / "src")},
        )
        try:
            assert process.stderr is not None
            port = None
            async with asyncio.timeout(15):
                while port is None:
                    line = (await process.stderr.readline()).decode()
                    assert line, "the fleet ended before it served its API"
                    if m := re.search(r"control API and /metrics on http://127\.0\.0\.1:(\d+)/", line):
                        port = int(m.group(1))
            await until(lambda: len(csms.stations) == 2, 10)
            got = await scrape(f"http://127.0.0.1:{port}")
            assert got[("ocpp_fleet_calls_sent_total", (("action", "BootNotification"),))] == 2
        finally:
            process.terminate()
            await asyncio.wait_for(process.wait(), 30)
        assert process.returncode == 0
