"""Helpers to run real stations against real CSMSs on 127.0.0.1 (fixtures live in conftest.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from ocpp_station.config.station import parse_config
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
