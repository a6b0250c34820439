"""Fleet runner bench (issue 11): N stations of ``ocpp-station fleet`` in this process against the
minimal CSMS of bench_stations.py in another; prints the connect time and the RSS per station.

    .venv/bin/python bench/bench_fleet.py [--stations 2000] [--ramp 500] [--hold 10] [--tracemalloc]

The stations are what ``ocpp-station fleet`` builds (one template, the fleet defaults: memory store,
no diagnostics log), run by :func:`ocpp_station.fleet.runner.run_stations` with one shared
FleetStats. Measured: the time from the first start until every station is booted (BootNotification
Accepted, sampled once a second as the fleet does, so to within a second), and
(RSS once all are booted and ``--hold`` seconds have passed - RSS before the first) / N. With
``--tracemalloc`` the Python allocations per station are listed by line, biggest first. Timings are
never asserted: the machine is shared.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import multiprocessing
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_stations import _csms_main, _free_port, _raise_nofile, _rss, _stop

from ocpp_station.fleet.config import Overrides, parse_fleet
from ocpp_station.fleet.runner import event_loop_factory, run_stations
from ocpp_station.fleet.stats import FleetStats, summarize


async def measure(url: str, args: argparse.Namespace) -> dict[str, float]:
    config = parse_fleet(
        {"templates": [{"ocpp": {"HeartbeatInterval": 300, "WebSocketPingInterval": 0}}]},
        "<bench>",
        Overrides(url=url, count=args.stations, ramp=str(args.ramp), processes=1),
    )
    stats = FleetStats()
    stop = asyncio.Event()
    gc.collect()
    if args.tracemalloc:
        tracemalloc.start(3)
    rss_before = _rss()
    before = tracemalloc.take_snapshot() if args.tracemalloc else None
    started = time.perf_counter()
    booted_at: list[float] = []

    def sampled() -> None:
        if not booted_at and stats.gauges["booted"] == args.stations:
            booted_at.append(time.perf_counter() - started)

    run = asyncio.create_task(
        run_stations(config, range(args.stations), stats, stop, ramp_per_s=args.ramp, on_sample=sampled)
    )
    budget = args.stations / args.ramp + 120
    while not booted_at and time.perf_counter() - started < budget:
        await asyncio.sleep(0.2)
    gc.collect()
    gc.freeze()
    await asyncio.sleep(args.hold)
    rss_after = _rss()
    if before is not None:
        after = tracemalloc.take_snapshot()
        print(f"tracemalloc: top allocations per station ({args.stations} stations)", file=sys.stderr)
        for diff in after.compare_to(before, "lineno")[:25]:
            print(f"  {diff.size_diff / args.stations:8.0f} B  {diff.traceback}", file=sys.stderr)
    stop.set()
    await run
    figures = summarize(stats.snapshot(), time.perf_counter() - started)
    return {
        "stations": args.stations,
        "connect_s": booted_at[0] if booted_at else float("nan"),
        "rss_kb_per_station": (rss_after - rss_before) / 1024 / args.stations,
        "rss_mb": rss_after / 1024 / 1024,
        "boot_p99_ms": figures["actions"].get("BootNotification", {}).get("p99Ms") or float("nan"),
        "errors": figures["totals"]["callErrors"] + figures["totals"]["timeouts"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stations", type=int, default=2000)
    parser.add_argument("--ramp", type=float, default=500.0, help="stations started per second")
    parser.add_argument(
        "--hold", type=float, default=10.0, help="seconds after all booted before RSS is read"
    )
    parser.add_argument("--tracemalloc", action="store_true", help="list what the stations allocate")
    args = parser.parse_args()
    nofile = args.stations * 2 + 1024
    _raise_nofile(nofile)
    ctx = multiprocessing.get_context("spawn")
    port = _free_port()
    ready = ctx.Event()
    csms = ctx.Process(target=_csms_main, args=(port, 300, nofile, ready), daemon=True)
    csms.start()
    try:
        if not ready.wait(30):
            raise RuntimeError("the bench CSMS did not start")
        with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
            result = runner.run(measure(f"ws://127.0.0.1:{port}/ocpp/", args))
    finally:
        _stop(csms, 0)
    loop = "uvloop" if event_loop_factory() is not None else "asyncio"
    print(
        f"{result['stations']:.0f} stations in one process ({loop}): all booted in {result['connect_s']:.1f} s "
        f"(ramp {args.ramp:g}/s), RSS {result['rss_kb_per_station']:.1f} KB/station "
        f"({result['rss_mb']:.0f} MB in all), BootNotification p99 {result['boot_p99_ms']:.1f} ms, "
        f"errors {result['errors']:.0f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
