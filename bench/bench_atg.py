"""ATG memory bench (issue 11): the bytes the automatic transaction generator keeps per station,
for N stations of each packaged scenario template that has an ``atg``.

    .venv/bin/python bench/bench_atg.py [--stations 1000] [--scenario message-mix-day] [--lines]

Measured with tracemalloc (Python allocations; the stations themselves are made before the first
snapshot and are not counted), once a garbage collection has run:

* ``plan``: :class:`~ocpp_station.fleet.atg.AtgPlan` of each station, as made (every connector
  waiting for its first EV);
* ``between``: the same plans stepped on until every connector is between sessions again, after
  at least one session each (a station idling between sessions; faults and drops wherever their
  plan is);
* ``driver``: :func:`~ocpp_station.fleet.atg.start_atg` on each station (a real, unstarted
  :class:`~ocpp_station.fleet.runner.FleetStation`): the plan, the driver's state and its timer
  on the loop: what a fleet keeps per station without a task;
* ``task``: :func:`~ocpp_station.fleet.atg.run_atg` as a task per station, asleep (the driver plus
  the task, its coroutine and the wait on ``stop``).

``--lines`` lists the biggest allocations per station of the ``driver`` case. No timing: the
figures do not depend on the machine's load.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import tracemalloc
from collections.abc import Callable
from typing import Any

from ocpp_station.fleet.atg import PLUG, AtgConfig, AtgDriver, AtgPlan, run_atg, start_atg
from ocpp_station.fleet.config import FleetConfig, Overrides, parse_fleet
from ocpp_station.fleet.runner import FleetStation
from ocpp_station.fleet.scenarios import load_scenario, scenario_names
from ocpp_station.fleet.stats import FleetStats

#: Steps a plan may take to find every connector between sessions at once.
_MAX_STEPS = 20_000


def _measured(make: Callable[[], Any], count: int, lines: bool = False) -> tuple[float, Any]:
    """Bytes per station that ``make()`` allocates and keeps, and what it made (kept alive)."""
    gc.collect()
    tracemalloc.start(2)
    before = tracemalloc.take_snapshot()
    made = make()
    gc.collect()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    diffs = after.compare_to(before, "lineno")
    own = [d for d in diffs if __file__ not in str(d.traceback)]
    if lines:
        for diff in own[:12]:
            print(f"    {diff.size_diff / count:7.0f} B  {diff.traceback}", file=sys.stderr)
    return sum(d.size_diff for d in own) / count, made


def _between_sessions(state: AtgPlan) -> AtgPlan:
    """``state`` stepped on until each connector has had a session and none is in one."""
    lanes = [lane for lane in state._lanes if lane.kind == PLUG]
    for _ in range(_MAX_STEPS):
        if all(lane.kind == PLUG and lane.session > 1 for lane in lanes):
            break
        state.next_step()
    return state


async def _measure(config: FleetConfig, template: int, lines: bool) -> dict[str, float]:
    atg: AtgConfig = config.templates[template].atg
    stats = FleetStats()
    indices = [i for i in range(config.count) if config.template_of[i] == template]
    specs = [config.station_config(i) for i in indices]
    count = len(specs)
    figures: dict[str, float] = {}

    def plans() -> list[AtgPlan]:
        return [
            AtgPlan(
                atg,
                config.seed + indices[i],
                s.connectors,
                s.ev,
                charge_point_id=s.charge_point_id,
                start_hour=12.0,
            )
            for i, s in enumerate(specs)
        ]

    figures["plan"], _ = _measured(plans, count)
    fresh = plans()

    def stepped() -> list[AtgPlan]:
        return [_between_sessions(p) for p in fresh]

    # The same objects, stepped on: what stepping adds to them, plus what they held before.
    figures["between"] = _measured(stepped, count)[0] + figures["plan"]
    stations = [FleetStation(s, stats) for s in specs]

    def drivers() -> list[AtgDriver]:
        return [start_atg(s, atg, config.seed + indices[i]) for i, s in enumerate(stations)]

    figures["driver"], made = _measured(drivers, count, lines)
    for driver in made:
        driver.close()
    del made
    stop = asyncio.Event()

    def tasks() -> list[asyncio.Task[None]]:
        return [
            asyncio.create_task(run_atg(s, atg, config.seed + indices[i], stop))
            for i, s in enumerate(stations)
        ]

    gc.collect()
    tracemalloc.start(2)
    before = tracemalloc.take_snapshot()
    running = tasks()
    await asyncio.sleep(0)  # each task runs to its wait on stop
    gc.collect()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    figures["task"] = sum(d.size_diff for d in after.compare_to(before, "filename")) / count
    stop.set()
    await asyncio.gather(*running)
    for station in stations:
        station.close()
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stations", type=int, default=1000)
    parser.add_argument("--scenario", action="append", help="a packaged scenario (default: all with an atg)")
    parser.add_argument("--lines", action="store_true", help="list the driver's biggest allocations")
    args = parser.parse_args()
    names = args.scenario or scenario_names()
    print(f"ATG bytes per station (tracemalloc, {args.stations} stations)")
    print(f"{'scenario / template':36} {'plan':>7} {'between':>8} {'driver':>7} {'task':>7}")
    for name in names:
        config = parse_fleet(
            load_scenario(name),
            name,
            Overrides(url="ws://127.0.0.1:1/ocpp/", count=args.stations, processes=1),
        )
        for number, template in enumerate(config.templates):
            if template.atg is None:
                continue
            figures = asyncio.run(_measure(config, number, args.lines))
            label = f"{name} / {template.name}"
            print(
                f"{label:36} {figures['plan']:7.0f} {figures['between']:8.0f} "
                f"{figures['driver']:7.0f} {figures['task']:7.0f}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
