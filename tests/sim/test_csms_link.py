"""One station's websocket to the development CSMS (``sim/csms_link.py``): the station's CALLs
checked and answered through the handlers, the CSMS's CALLs to the station awaited, over real loopback
websockets with aiohttp's client as a stand-in station."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import aiohttp
import pytest

from ocpp_station.sim.csms import CallErrorReceived, CentralSystem, StationDisconnected, StationNotConnected
from ocpp_station.wire.errors import ErrorCode, OcppError
from tests.sim.test_csms import BOOT, TS, Frame, answering, call, is_

# Fixtures ``csms`` and ``http``: tests/sim/conftest.py.


async def test_invalid_calls_get_callerrors(csms: CentralSystem, http: aiohttp.ClientSession) -> None:
    async with http.ws_connect(csms.url + "CP_1", protocols=("ocpp1.6",)) as ws:
        no_model = {"chargePointVendor": "ocpp-station"}
        cases: list[tuple[str, dict[str, Any], str]] = [
            ("BootNotification", no_model, ErrorCode.ProtocolError),
            ("Heartbeat", {"extra": 1}, ErrorCode.FormationViolation),
            (
                "StatusNotification",
                {"connectorId": 1, "errorCode": "NoError", "status": "Sleepy"},
                "PropertyConstraintViolation",
            ),
            ("Authorize", {"idTag": 5}, ErrorCode.TypeConstraintViolation),
            ("FlyToTheMoon", {}, ErrorCode.NotImplemented),
            ("Reset", {"type": "Soft"}, ErrorCode.NotSupported),  # an OCPP action, but CSMS -> station
        ]
        for action, payload, code in cases:
            reply = await call(ws, action, payload)
            assert reply[0] == 4, action
            assert reply[2] == code, (action, reply)
        await ws.send_str('[2, "short-call", "Heartbeat"]')  # 3 elements: answerable
        assert await asyncio.wait_for(ws.receive_json(), 5) == [
            4,
            "short-call",
            "FormationViolation",
            "a CALL has exactly 4 elements",
            {},
        ]
        await ws.send_str("not json")  # unanswerable: ignored, the connection lives on
        assert (await call(ws, "Heartbeat", {}))[0] == 3
    errors = [e for e in csms.log if e.kind == "CALLERROR"]
    assert errors[0].payload["errorCode"] == "ProtocolError"
    assert "chargePointModel" in errors[0].payload["errorDescription"]


async def test_handler_override(csms: CentralSystem, http: aiohttp.ClientSession) -> None:
    csms.handlers["BootNotification"] = lambda cp, p: {"status": "Pending", "currentTime": TS, "interval": 5}

    def refuse(cp_id: str, payload: dict[str, Any]) -> dict[str, Any]:
        raise OcppError(ErrorCode.SecurityError, f"{cp_id} may not authorize")

    csms.handlers["Authorize"] = refuse
    csms.handlers["Heartbeat"] = lambda cp, p: {"bogus": True}
    async with http.ws_connect(csms.url + "CP_1", protocols=("ocpp1.6",)) as ws:
        assert (await call(ws, "BootNotification", BOOT))[2] == {
            "status": "Pending",
            "currentTime": TS,
            "interval": 5,
        }
        assert (await call(ws, "Authorize", {"idTag": "GOOD"}))[2:4] == [
            "SecurityError",
            "CP_1 may not authorize",
        ]
        invalid = await call(ws, "Heartbeat", {})
        assert invalid[2] == "InternalError"
        assert "Heartbeat" in invalid[3]
    assert csms.stations["CP_1"].boot_status == "Pending"


async def test_async_handler_may_call_the_same_station(
    csms: CentralSystem, http: aiohttp.ClientSession
) -> None:
    async def transfer(cp_id: str, payload: dict[str, Any]) -> dict[str, Any]:
        config = await csms.call(cp_id, "GetConfiguration", {"key": ["HeartbeatInterval"]})
        return {"status": "Accepted", "data": config["configurationKey"][0]["value"]}

    csms.handlers["DataTransfer"] = transfer
    async with http.ws_connect(csms.url + "CP_1", protocols=("ocpp1.6",)) as ws:
        await ws.send_json([2, "dt-1", "DataTransfer", {"vendorId": "acme"}])
        get = await asyncio.wait_for(ws.receive_json(), 5)
        assert get[2] == "GetConfiguration"
        key = {"key": "HeartbeatInterval", "readonly": False, "value": "300"}
        await ws.send_json([3, get[1], {"configurationKey": [key]}])
        assert await asyncio.wait_for(ws.receive_json(), 5) == [
            3,
            "dt-1",
            {"status": "Accepted", "data": "300"},
        ]


async def test_call_round_trip_and_callerror(csms: CentralSystem, http: aiohttp.ClientSession) -> None:
    def answer(message_id: str, call: dict[str, Any]) -> Frame:
        if call["action"] == "Reset":
            return [3, message_id, {"status": "Accepted"}]
        if call["action"] == "UnlockConnector":
            return [3, message_id, {"status": "Maybe"}]
        return [4, message_id, "NotSupported", "not here", {"hint": 1}]

    async with http.ws_connect(csms.url + "CP_1", protocols=("ocpp1.6",)) as ws:
        await csms.wait_connected("CP_1")
        async with answering(ws, answer):
            assert await csms.call("CP_1", "Reset", {"type": "Soft"}) == {"status": "Accepted"}
            with pytest.raises(CallErrorReceived) as error:
                await csms.call("CP_1", "ClearCache", {})
            assert (error.value.code, error.value.description, error.value.details) == (
                "NotSupported",
                "not here",
                {"hint": 1},
            )
            with pytest.raises(OcppError) as invalid:  # the station's answer breaks the schema
                await csms.call("CP_1", "UnlockConnector", {"connectorId": 1})
            assert invalid.value.code is ErrorCode.PropertyConstraintViolation
            sent = len(csms.log)
            with pytest.raises(OcppError) as bad_input:
                await csms.call("CP_1", "Reset", {"type": "Sideways"})
            assert bad_input.value.code is ErrorCode.PropertyConstraintViolation
            assert len(csms.log) == sent  # nothing was sent
    calls = [e for e in csms.log if e.kind == "CALL"]
    assert len({e.message_id for e in calls}) == len(calls) == 3
    assert all(uuid.UUID(e.message_id) for e in calls)
    with pytest.raises(StationNotConnected):
        await csms.call("CP_9", "Reset", {"type": "Soft"})


async def test_call_timeout(csms: CentralSystem, http: aiohttp.ClientSession) -> None:
    async with http.ws_connect(csms.url + "CP_1", protocols=("ocpp1.6",)):
        await csms.wait_connected("CP_1")
        with pytest.raises(TimeoutError, match="did not answer Reset"):
            await csms.call("CP_1", "Reset", {"type": "Hard"}, timeout=0.1)


async def test_disconnect_fails_the_pending_call(csms: CentralSystem, http: aiohttp.ClientSession) -> None:
    async with http.ws_connect(csms.url + "CP_1", protocols=("ocpp1.6",)):
        await csms.wait_connected("CP_1")
        pending = asyncio.create_task(csms.call("CP_1", "Reset", {"type": "Hard"}))
        await csms.wait_for(is_("CALL", "Reset", "out"))
    with pytest.raises(StationDisconnected, match="before answering Reset"):
        await pending
    assert not (await csms.wait_disconnected("CP_1")).connected
