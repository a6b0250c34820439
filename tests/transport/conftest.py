"""Real stations against the real development CSMS on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from ocpp_station.config.station import parse_config
from ocpp_station.sim.csms import CentralSystem
from ocpp_station.transport.station import Station

StationFactory = Callable[..., Awaitable[Station]]


def station_config(url: str, cp_id: str = "CP_1", **extra: Any) -> Any:
    data: dict[str, Any] = {
        "development": {"WS_URL": url, "chargePointID": cp_id},
        "connection": {"reconnect": {"initialDelay": 0.05, "maxDelay": 0.2}, "callTimeout": 5},
    }
    for key, value in extra.items():
        data[key] = value
    return parse_config(data, "<test>")


@pytest.fixture
async def csms() -> AsyncIterator[CentralSystem]:
    system = CentralSystem(port=0)
    await system.start()
    yield system
    await system.stop()


@pytest.fixture
async def start_station(tmp_path: Path) -> AsyncIterator[StationFactory]:
    running: list[tuple[Station, asyncio.Task[None]]] = []

    async def start(config: Any, *, wait_accepted: bool = True, **kwargs: Any) -> Station:
        station = Station(config, **kwargs)
        task = asyncio.create_task(station.run())
        running.append((station, task))
        if wait_accepted:
            await station.wait_for(lambda s: s["registration"] == "Accepted", timeout=10)
        return station

    yield start
    for station, task in running:
        await station.stop()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(task, 5)
        station.close()
