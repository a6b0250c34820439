"""The HTTP control API over real HTTP, driving a real station connected to the development CSMS."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from ocpp_station.sim.csms import CentralSystem
from ocpp_station.transport.station import Station


async def request(method: str, url: str, body: Any = None, raw: str | None = None) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http:
        kwargs: dict[str, Any] = {"json": body} if raw is None else {"data": raw}
        async with http.request(method, url, **kwargs) as response:
            return response.status, await response.json()


async def test_state_shape(api: tuple[str, Station]) -> None:
    base, _ = api
    status, state = await request("GET", f"{base}/state")
    assert status == 200
    assert (
        state["chargePointId"] == "CP_1"
        and state["connected"] is True
        and state["registration"] == "Accepted"
    )
    assert [c["id"] for c in state["connectors"]] == [0, 1, 2]
    assert set(state["connectors"][1]) >= {
        "id",
        "status",
        "errorCode",
        "transactionId",
        "idTag",
        "meterWh",
        "powerW",
    }


async def test_session_through_the_api(api: tuple[str, Station], csms: CentralSystem) -> None:
    base, station = api
    assert (await request("POST", f"{base}/connectors/2/plug", {"maxCurrent": 10, "phases": 1}))[0] == 200
    assert (await request("POST", f"{base}/id-tag", {"idTag": "CARD", "connectorId": 2}))[0] == 200
    state = await station.wait_for(lambda s: s["connectors"][2]["transactionId"] is not None)
    assert state["connectors"][2]["idTag"] == "CARD"
    assert state["connectors"][2]["powerW"] == pytest.approx(2300)
    assert (await request("POST", f"{base}/connectors/2/ev/suspend"))[0] == 200
    await station.wait_for(lambda s: s["connectors"][2]["status"] == "SuspendedEV")
    assert (await request("POST", f"{base}/connectors/2/ev/resume"))[0] == 200
    await station.wait_for(lambda s: s["connectors"][2]["status"] == "Charging")
    status, body = await request(
        "POST", f"{base}/connectors/2/fault", {"errorCode": "GroundFailure", "info": "RCD"}
    )
    assert status == 200
    await station.wait_for(lambda s: s["connectors"][2]["status"] == "Faulted")
    stop = await csms.wait_for(lambda e: e.action == "StopTransaction" and e.direction == "in")
    assert stop.payload["reason"] == "Other"
    assert (await request("DELETE", f"{base}/connectors/2/fault"))[0] == 200
    assert (await request("POST", f"{base}/connectors/2/unplug"))[0] == 200
    await station.wait_for(lambda s: s["connectors"][2]["status"] == "Available")
    status, body = await request(
        "POST", f"{base}/call", {"action": "DataTransfer", "payload": {"vendorId": "v"}}
    )
    assert (status, body) == (200, {"result": {"status": "UnknownVendorId"}})


async def test_network_switch(api: tuple[str, Station]) -> None:
    base, station = api
    assert (await request("POST", f"{base}/network/disconnect"))[0] == 200
    await station.wait_for(lambda s: not s["connected"])
    assert (await request("POST", f"{base}/network/connect"))[0] == 200
    await station.wait_for(lambda s: s["connected"], timeout=10)


@pytest.mark.parametrize(
    ("method", "path", "body", "raw", "status", "words"),
    [
        ("POST", "/connectors/9/plug", None, None, 404, "no connector 9"),
        ("POST", "/connectors/x/plug", None, None, 400, "must be a number"),
        ("POST", "/connectors/1/unplug", None, None, 400, "no EV"),
        ("POST", "/connectors/1/plug", {"speed": 3}, None, 400, "unknown EV field"),
        ("POST", "/connectors/1/plug", None, "{nope", 400, "not JSON"),
        ("POST", "/id-tag", {}, None, 400, "idTag"),
        ("POST", "/id-tag", {"idTag": "x" * 21}, None, 400, "20 characters"),
        ("POST", "/id-tag", {"idTag": "A", "connectorId": "one"}, None, 400, "connectorId"),
        ("POST", "/connectors/1/fault", {"errorCode": "Oops"}, None, 400, "errorCode must be one of"),
        ("POST", "/connectors/1/fault", None, None, 400, "JSON body is required"),
        ("POST", "/call", {"payload": {}}, None, 400, "action"),
        ("POST", "/connectors/1/ev/suspend", None, None, 400, "no EV"),
    ],
)
async def test_bad_requests_get_4xx_json(
    api: tuple[str, Station], method: str, path: str, body: Any, raw: str | None, status: int, words: str
) -> None:
    base, station = api
    got, answer = await request(method, base + path, body, raw)
    assert got == status, answer
    assert words in answer["error"]
    assert station.state()["connected"]  # nothing crashed
