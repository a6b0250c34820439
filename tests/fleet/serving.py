"""A fleet served on a free port for the control API and dashboard tests: every station of one
template (no pings, a one-second grace), the control API on port 0."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from ocpp_station.fleet.config import parse_fleet
from ocpp_station.fleet.runner import run_fleet
from ocpp_station.sim.csms import CentralSystem


@asynccontextmanager
async def serving_fleet(
    csms: CentralSystem, *, count: int, id_pattern: str, processes: int, ramp: int = 200, stop_s: float = 30
) -> AsyncIterator[tuple[str, asyncio.Task[object], asyncio.Event]]:
    """Run the fleet against ``csms``; yields (its control API's base URL without a trailing slash,
    the running fleet, the event that stops it). Stopped and awaited on the way out."""
    config = parse_fleet(
        {
            "url": csms.url,
            "count": count,
            "idPattern": id_pattern,
            "ramp": ramp,
            "processes": processes,
            "controlPort": 0,
            "templates": [{"ocpp": {"WebSocketPingInterval": 0}, "durability": {"shutdownGrace": 1}}],
        },
        "<test>",
    )
    stop = asyncio.Event()
    port: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    run: asyncio.Task[object] = asyncio.create_task(
        run_fleet(config, stop=stop, control_ready=port.set_result)
    )
    try:
        yield f"http://127.0.0.1:{await asyncio.wait_for(port, 10)}", run, stop
    finally:
        stop.set()
        await asyncio.wait_for(run, stop_s)
