"""Helpers to run real stations against real CSMSs on 127.0.0.1 (fixtures live in conftest.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

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


async def until(check: Callable[[], bool], timeout: float = 10) -> None:
    """Wait until ``check()`` holds (TimeoutError after ``timeout`` s)."""
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.02)


def notified(csms: CentralSystem, event_type: str, text: str = "") -> list[dict[str, Any]]:
    """The SecurityEventNotification.req payloads of ``event_type`` the CSMS received (whose techInfo
    holds ``text``)."""
    return [
        e.payload
        for e in csms.log
        if e.action == "SecurityEventNotification"
        and e.kind == "CALL"
        and e.payload.get("type") == event_type
        and text in e.payload.get("techInfo", "")
    ]
