"""Shared fixtures: real stations against the real development CSMS on 127.0.0.1."""

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ocpp_station.sim.csms import CentralSystem
from ocpp_station.transport.station import Station
from tests.stations import StationFactory


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
