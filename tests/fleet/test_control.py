"""The fleet's control API against the real development CSMS: a fleet of a few stations in one process
and in two worker processes (the parent forwarding over the pipes); every command checked by what the
CSMS then sees; bad requests named."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from ocpp_station.sim.csms import CentralSystem
from tests.fleet.serving import serving_fleet
from tests.stations import until

COUNT = 4
IDS = [f"FC-{n}" for n in range(1, COUNT + 1)]


class Fleet:
    def __init__(self, csms: CentralSystem, http: aiohttp.ClientSession, base: str) -> None:
        self.csms, self.http, self.base = csms, http, base

    async def get(self, path: str, status: int = 200) -> Any:
        async with self.http.get(self.base + path) as response:
            assert response.status == status, await response.text()
            return await response.json()

    async def post(self, path: str, body: Any, status: int = 200) -> Any:
        async with self.http.post(self.base + path, json=body) as response:
            assert response.status == status, await response.text()
            return await response.json()

    def calls(self, cp_id: str, action: str) -> list[dict[str, Any]]:
        return [
            e.payload
            for e in self.csms.log
            if e.charge_point_id == cp_id and e.action == action and e.direction == "in" and e.kind == "CALL"
        ]


@pytest.fixture(params=[1, 2], ids=["one-process", "two-processes"])
async def fleet(request: pytest.FixtureRequest) -> AsyncIterator[Fleet]:
    async with (
        CentralSystem(port=0) as csms,
        serving_fleet(csms, count=COUNT, id_pattern="FC-{n}", processes=request.param) as (base, _, _),
        aiohttp.ClientSession() as http,
    ):
        fleet = Fleet(csms, http, base)
        await until(lambda: all(fleet.calls(i, "BootNotification") for i in IDS), 15)
        yield fleet


async def test_state_in_aggregate_and_by_station(fleet: Fleet) -> None:
    async def booted() -> int:
        state = await fleet.get("/state")
        return int(state["gauges"]["booted"])

    deadline = asyncio.get_running_loop().time() + 5
    while await booted() < COUNT:  # the gauges are sampled once a second
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.2)
    state = await fleet.get("/state")
    assert state["count"] == COUNT and state["actions"]["BootNotification"]["answered"] == COUNT
    page = await fleet.get("/stations")
    assert page["total"] == COUNT and [s["id"] for s in page["stations"]] == IDS
    assert all(s["booted"] and s["connected"] and s["connectors"] == ["Available"] for s in page["stations"])
    page = await fleet.get("/stations?offset=1&limit=2")
    assert page["total"] == COUNT and [s["id"] for s in page["stations"]] == IDS[1:3]
    page = await fleet.get("/stations?ids=FC-3,FC-1,NOPE")
    assert [s["id"] for s in page["stations"]] == ["FC-1", "FC-3"] and page["unknown"] == ["NOPE"]
    assert (await fleet.get("/stations?connected=false"))["total"] == 0
    one = await fleet.get("/stations/FC-2")
    assert one["chargePointId"] == "FC-2" and one["registration"] == "Accepted"
    assert [c["id"] for c in one["connectors"]] == [0, 1]
    assert "no station 'NOPE'" in (await fleet.get("/stations/NOPE", 404))["error"]


async def test_plug_swipe_suspend_unplug_start_and_stop_a_transaction(fleet: Fleet) -> None:
    done = await fleet.post("/actions/plug", {"id": "FC-2"})
    assert done == {
        "do": "plug",
        "requested": 1,
        "affected": ["FC-2"],
        "refused": {},
        "notStarted": [],
        "unknown": [],
    }
    done = await fleet.post("/actions/swipe", {"ids": ["FC-2", "NOPE"], "idTag": "TAG-1"})
    assert done["affected"] == ["FC-2"] and done["unknown"] == ["NOPE"]
    await until(lambda: bool(fleet.calls("FC-2", "StartTransaction")), 10)
    assert fleet.calls("FC-2", "StartTransaction")[0]["idTag"] == "TAG-1"
    assert not any(fleet.calls(i, "StartTransaction") for i in IDS if i != "FC-2")

    async def charging() -> list[str]:
        page = await fleet.get("/stations?status=Charging")
        return [s["id"] for s in page["stations"]]

    await until_async(charging, ["FC-2"])
    await fleet.post("/actions/ev-suspend", {"id": "FC-2"})
    await until(lambda: any(p["status"] == "SuspendedEV" for p in fleet.calls("FC-2", "StatusNotification")))
    # plugging in again is refused by the station: named, not an error of the request
    again = await fleet.post("/actions/plug", {"id": "FC-2"})
    assert again["affected"] == [] and "FC-2" in again["refused"]
    await fleet.post("/actions/unplug", {"id": "FC-2"})
    await until(lambda: bool(fleet.calls("FC-2", "StopTransaction")), 10)


async def test_drop_and_restore_the_network(fleet: Fleet) -> None:
    done = await fleet.post("/actions/drop-network", {"ids": ["FC-1", "FC-4"]})
    assert done["affected"] == ["FC-1", "FC-4"]
    await fleet.csms.wait_disconnected("FC-1")
    await fleet.csms.wait_disconnected("FC-4")
    assert "FC-2" in fleet.csms.stations and fleet.csms.stations["FC-2"].connected
    await fleet.post("/actions/restore-network", {"ids": ["FC-1", "FC-4"]})
    await fleet.csms.wait_connected("FC-1")
    await fleet.csms.wait_connected("FC-4")

    async def reconnects() -> int:
        return int((await fleet.get("/state"))["reconnects"])

    await until_async(reconnects, 2)


async def test_a_seeded_share_of_the_fleet_faults_and_clears(fleet: Fleet) -> None:
    body = {"share": 0.5, "seed": 7, "errorCode": "GroundFailure", "connector": 1}
    done = await fleet.post("/actions/fault", body)
    assert done["requested"] == 2 and len(done["affected"]) == 2
    chosen = done["affected"]

    def faulted(cp_id: str) -> bool:
        return any(p["status"] == "Faulted" for p in fleet.calls(cp_id, "StatusNotification"))

    await until(lambda: all(faulted(i) for i in chosen), 10)
    assert not any(faulted(i) for i in IDS if i not in chosen)
    # the same seed picks the same stations
    assert (await fleet.post("/actions/clear-fault", {"share": 0.5, "seed": 7}))["affected"] == chosen
    await until(
        lambda: all(fleet.calls(i, "StatusNotification")[-1]["status"] == "Available" for i in chosen)
    )


BAD_ACTIONS: list[tuple[str, Any, str]] = [
    ("/actions/explode", {"id": "FC-1"}, "no action 'explode'"),
    ("/actions/plug", {}, "give one of id"),
    ("/actions/plug", {"id": "FC-1", "share": 1}, "give one of id"),
    ("/actions/plug", {"ids": "FC-1"}, "ids must be a list"),
    ("/actions/plug", {"share": 2}, "share must be a number from 0 to 1"),
    ("/actions/plug", {"id": "FC-1", "seed": 1}, "seed goes with share"),
    ("/actions/plug", {"id": "FC-1", "connector": 0}, "connector must be >= 1"),
    ("/actions/plug", {"id": "FC-1", "ev": {"soc": 300}}, "ev: "),
    ("/actions/plug", {"id": "FC-1", "idTag": "X"}, "idTag: not a field of plug"),
    ("/actions/swipe", {"id": "FC-1"}, "idTag is required"),
    ("/actions/fault", {"id": "FC-1", "errorCode": 5}, "errorCode must be a string"),
    ("/actions/plug", [1], "body must be a JSON object"),
]
BAD_QUERIES = [
    ("limit=5000", "limit must be between 1 and 1000"),
    ("offset=-1", "offset must be >= 0"),
    ("connected=maybe", "connected must be true or false"),
    ("template=nope", "template: no template 'nope'"),
    ("colour=red", "colour: unknown parameter"),
]


async def test_bad_requests_get_400_naming_the_field(fleet: Fleet) -> None:
    for path, body, message in BAD_ACTIONS:
        answer = await fleet.post(path, body, status=400)
        assert message in answer["error"], (path, body)
    for query, message in BAD_QUERIES:
        answer = await fleet.get(f"/stations?{query}", 400)
        assert message in answer["error"], query
    # nothing was done
    assert not any(fleet.calls(i, "StatusNotification")[-1]["status"] != "Available" for i in IDS)


async def until_async(read: Any, wanted: Any, timeout: float = 10) -> None:
    """Wait until ``await read()`` is ``wanted`` (the gauges are sampled once a second)."""
    async with asyncio.timeout(timeout):
        while (got := await read()) != wanted:
            del got
            await asyncio.sleep(0.1)
