"""The control API's fixtures."""

from collections.abc import AsyncIterator

import pytest

from ocpp_station.control.api import bound_port, start_control_api
from ocpp_station.sim.csms import CentralSystem
from ocpp_station.transport.station import Station
from tests.stations import StationFactory, station_config


@pytest.fixture
async def api(csms: CentralSystem, start_station: StationFactory) -> AsyncIterator[tuple[str, Station]]:
    """A station with 2 connectors against the dev CSMS, behind its control API: (base URL, station)."""
    station = await start_station(station_config(csms.url, connectors={"count": 2}))
    runner = await start_control_api(station, "127.0.0.1", 0)
    yield f"http://127.0.0.1:{bound_port(runner)}", station
    await runner.cleanup()
