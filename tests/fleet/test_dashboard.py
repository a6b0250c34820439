"""The fleet's dashboard over HTTP (fleet/dashboard.py), against the real development CSMS: the page and
its assets, the aggregate over Server-Sent Events, the station table's id match and reconnect order,
and one station's own routes under ``/stations/{id}/``: mounted in one process, forwarded by the
parent to the worker running the station with two (its event stream too, streamed)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from ocpp_station.fleet.config import parse_fleet
from ocpp_station.fleet.control import LocalBackend, StationGroup, start_fleet_api
from ocpp_station.fleet.stats import FleetStats, merge, summarize
from ocpp_station.sim.csms import CentralSystem
from tests.fleet.serving import serving_fleet

COUNT = 4
IDS = [f"FD-{n}" for n in range(1, COUNT + 1)]


class Fleet:
    def __init__(
        self,
        csms: CentralSystem,
        http: aiohttp.ClientSession,
        base: str,
        run: asyncio.Task[dict[str, Any]],
        stop: asyncio.Event,
    ) -> None:
        self.csms, self.http, self.base, self.run, self.stop = csms, http, base, run, stop

    async def get(self, path: str, status: int = 200) -> Any:
        async with self.http.get(self.base + path) as response:
            assert response.status == status, await response.text()
            return await response.json()

    async def post(self, path: str, body: Any = None, status: int = 200) -> Any:
        async with self.http.post(self.base + path, json=body) as response:
            assert response.status == status, await response.text()
            return await response.json()

    async def until(self, path: str, check: Any, timeout: float = 10) -> Any:
        """``GET path`` until ``check(answer)`` holds (the gauges are sampled once a second)."""
        async with asyncio.timeout(timeout):
            while not check(answer := await self.get(path)):
                await asyncio.sleep(0.1)
        return answer


@pytest.fixture(params=[1, 2], ids=["one-process", "two-processes"])
async def fleet(request: pytest.FixtureRequest) -> AsyncIterator[Fleet]:
    async with (
        CentralSystem(port=0) as csms,
        serving_fleet(csms, count=COUNT, id_pattern="FD-{n}", processes=request.param) as (base, run, stop),
        aiohttp.ClientSession() as http,
    ):
        fleet = Fleet(csms, http, base, run, stop)
        await fleet.until("/state", lambda s: s["gauges"]["booted"] == COUNT, 15)
        yield fleet


async def events(response: aiohttp.ClientResponse) -> AsyncIterator[tuple[str, Any]]:
    """The (event, data) of an SSE stream as they come."""
    name, data = "message", ""
    async for raw in response.content:
        line = raw.decode().rstrip("\r\n")
        if not line:
            if data:
                yield name, json.loads(data)
            name, data = "message", ""
        elif line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data += line[5:].strip()


async def test_page_and_assets(fleet: Fleet) -> None:
    async with fleet.http.get(fleet.base + "/") as response:
        assert response.status == 200 and response.content_type == "text/html"
        page = await response.text()
    assert 'src="static/fleet.js"' in page and 'href="static/fleet.css"' in page
    for name, kind in (("fleet.js", "text/javascript"), ("fleet.css", "text/css")):
        async with fleet.http.get(f"{fleet.base}/static/{name}") as response:
            assert response.status == 200 and response.content_type == kind
    assert "no asset" in (await fleet.get("/static/..%2Fcontrol.py", 404))["error"]


async def test_events_push_the_aggregate_every_second(fleet: Fleet) -> None:
    async with fleet.http.get(fleet.base + "/events") as response:
        assert response.status == 200 and response.content_type == "text/event-stream"
        stream = events(response)
        name, first = await anext(stream)  # at once, not a second later
        assert name == "fleet" and first["count"] == COUNT
        assert first["actions"]["BootNotification"]["answered"] == COUNT
        assert first["rates"]["spanSeconds"] is None  # the run's averages: no earlier figures
        async with asyncio.timeout(10):
            async for _name, figures in stream:
                if figures["statuses"] == {"Available": COUNT} and figures["rates"]["spanSeconds"]:
                    break
        assert figures["rates"]["spanSeconds"]  # a later sample (rates over the last one), pushed unasked
        assert figures["gauges"]["booted"] == COUNT
        assert set(figures["rates"]["actions"]) == set(figures["actions"])
        await fleet.post("/actions/plug", {"id": "FD-2"})
        async with asyncio.timeout(10):
            async for _name, figures in stream:
                if figures["statuses"] == {"Available": COUNT - 1, "Preparing": 1}:
                    break


async def test_station_table_match_and_reconnect_order(fleet: Fleet) -> None:
    page = await fleet.get("/stations?match=D-3")
    assert [s["id"] for s in page["stations"]] == ["FD-3"] and page["total"] == 1
    assert all(s["reconnects"] == 0 for s in (await fleet.get("/stations"))["stations"])
    await fleet.post("/actions/drop-network", {"id": "FD-3"})
    await fleet.until("/stations?connected=false", lambda p: p["total"] == 1)
    await fleet.post("/actions/restore-network", {"id": "FD-3"})
    page = await fleet.until("/stations?sort=reconnects", lambda p: p["stations"][0]["reconnects"] == 1, 30)
    assert [s["id"] for s in page["stations"]] == ["FD-3", "FD-1", "FD-2", "FD-4"]
    page = await fleet.get("/stations?sort=reconnects&offset=1&limit=2")
    assert [s["id"] for s in page["stations"]] == ["FD-1", "FD-2"] and page["total"] == COUNT
    assert "sort: no order 'queue'" in (await fleet.get("/stations?sort=queue", 400))["error"]
    state = await fleet.until("/state", lambda s: s["reconnects"] == 1)
    assert state["connects"] == COUNT + 1


async def test_one_station_routes_under_its_path(fleet: Fleet) -> None:
    state = await fleet.get("/stations/FD-2/state")
    assert state["chargePointId"] == "FD-2" and state["registration"] == "Accepted"
    assert (await fleet.get("/stations/FD-2"))["chargePointId"] == "FD-2"  # the fleet's JSON, kept
    state = await fleet.post("/stations/FD-2/connectors/1/plug")
    assert state["connectors"][1]["status"] == "Preparing"
    assert "no connector 5" in (await fleet.post("/stations/FD-2/connectors/5/plug", status=404))["error"]
    assert "idTag" in (await fleet.post("/stations/FD-2/id-tag", {"idTag": 7}, status=400))["error"]
    assert "no station 'NOPE'" in (await fleet.get("/stations/NOPE/state", 404))["error"]
    await fleet.until("/stations?status=Preparing", lambda p: [s["id"] for s in p["stations"]] == ["FD-2"])
    async with fleet.http.get(fleet.base + "/stations/FD-2/") as response:
        assert response.status == 200 and response.content_type == "text/html"


async def test_one_station_event_stream_through_the_fleet(fleet: Fleet) -> None:
    async with fleet.http.get(fleet.base + "/stations/FD-3/events") as response:
        assert response.status == 200 and response.content_type == "text/event-stream"
        stream = events(response)
        name, hello = await anext(stream)
        assert name == "hello" and hello["state"]["chargePointId"] == "FD-3"
        await fleet.post("/stations/FD-3/connectors/1/plug")
        async with asyncio.timeout(10):
            async for name, data in stream:
                if name == "state" and data["connectors"][1]["status"] == "Preparing":
                    break


async def test_the_fleet_stops_with_pages_listening(fleet: Fleet) -> None:
    async with (
        fleet.http.get(fleet.base + "/events") as overview,
        fleet.http.get(fleet.base + "/stations/FD-1/events") as station,
    ):
        assert overview.status == 200 and station.status == 200
        await anext(events(overview))
        await anext(events(station))
        fleet.stop.set()
        report = await asyncio.wait_for(fleet.run, 30)  # the streams end, the API stops
        assert report["totals"]["sent"] > 0
        await overview.content.read()  # the rest of the stream, to its end
        await station.content.read()
        assert overview.content.at_eof() and station.content.at_eof()


async def test_a_station_the_ramp_has_not_started() -> None:
    """The API is up before the first station starts: the station's routes are a 404 naming why, the
    overview's stream has its figures (nothing started) at once."""
    config = parse_fleet(
        {"url": "ws://127.0.0.1:9/ocpp/", "count": 3, "idPattern": "FD-{n}", "controlPort": 0}, "<test>"
    )
    backend = LocalBackend(StationGroup(config, [], range(config.count)))
    runner, port = await start_fleet_api(config, backend, FleetStats().snapshot, lambda: 1.0)
    try:
        base = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession() as http:
            async with http.get(base + "/stations/FD-1/state") as response:
                assert response.status == 404
                assert (await response.json()) == {"error": "station 'FD-1' has not started yet"}
            async with http.get(base + "/stations/FD-9/") as response:
                assert response.status == 404 and "no station 'FD-9'" in (await response.json())["error"]
            async with http.get(base + "/events") as response:
                _name, figures = await anext(events(response))
        assert figures["count"] == 3 and figures["gauges"]["stations"] == 0 and figures["actions"] == {}
    finally:
        await runner.cleanup()


def test_connectors_per_status_add_up_across_processes() -> None:
    one, two = FleetStats(), FleetStats()
    one.statuses = {"Available": 3, "Charging": 1}
    two.statuses = {"Available": 2, "Faulted": 1}
    total = merge([one.snapshot(), two.snapshot()])
    assert summarize(total, 1.0)["statuses"] == {"Available": 5, "Charging": 1, "Faulted": 1}
