"""Run a test module once per websocket transport (issue 11): import :func:`each_transport` into it.

The config file's ``connection.transport`` defaults to :data:`~ocpp_station.config.station.DEFAULT_TRANSPORT`;
the fixture points that default at each library in turn, so every station the module builds without
naming a transport uses it.
"""

from __future__ import annotations

import importlib.util

import pytest

from ocpp_station.config import station as station_config_module

#: picows is a dev dependency (the optional extra ``picows``): without it its runs are skipped.
HAS_PICOWS = importlib.util.find_spec("picows") is not None

TRANSPORT_PARAMS = [
    "websockets",
    pytest.param("picows", marks=pytest.mark.skipif(not HAS_PICOWS, reason="picows is not installed")),
]


@pytest.fixture(autouse=True, params=TRANSPORT_PARAMS)
def each_transport(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    name: str = request.param
    monkeypatch.setattr(station_config_module, "DEFAULT_TRANSPORT", name)
    return name
