"""The Station's Python API (transport/api.py): waiting for a state without fire-and-forget tasks."""

from __future__ import annotations

import asyncio

import pytest

from ocpp_station.transport.station import Station
from tests.stations import station_config


def _station() -> Station:
    return Station(station_config("ws://127.0.0.1:9/ocpp/"))  # never run: no connection needed


async def test_wait_for_wakes_on_a_state_change_without_starting_a_task() -> None:
    station = _station()
    try:
        waiter = asyncio.create_task(
            station.wait_for(lambda s: s["connectors"][1]["status"] == "Preparing", timeout=5)
        )
        await asyncio.sleep(0)  # the waiter is parked on the next state change
        tasks = asyncio.all_tasks()
        station.plug(1)
        assert asyncio.all_tasks() == tasks  # notifying started nothing
        state = await waiter
        assert state["connectors"][1]["status"] == "Preparing"
        assert not station._state_waiters  # nothing left behind
    finally:
        station.close()


async def test_wait_for_returns_at_once_when_the_state_already_holds() -> None:
    station = _station()
    try:
        state = await station.wait_for(lambda s: s["connectors"][1]["status"] == "Available", timeout=0)
        assert state["chargePointId"] == "CP_1"
    finally:
        station.close()


async def test_wait_for_times_out_and_leaves_no_waiter() -> None:
    station = _station()
    try:
        with pytest.raises(TimeoutError):
            await station.wait_for(lambda s: False, timeout=0.05)
        assert not station._state_waiters
    finally:
        station.close()
