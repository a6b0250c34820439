"""The link on each websocket library (issue 11: ``connection.transport``, transport/ws.py).

test_connection.py, test_tls.py and test_unread_answers.py run on both libraries too (subprotocol,
Basic auth over TLS, TLS refusals as security events, ping rounds, the 4 MB rule); here: what they do
not cover, against real servers on 127.0.0.1 (python-websockets servers and the development CSMS).
"""

from __future__ import annotations

import asyncio
import base64
import importlib.util
import json
import logging
from typing import Any

import pytest
from websockets.asyncio.server import Request, Response, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from ocpp_station.config import station as config_module
from ocpp_station.config.station import ConfigError, parse_config
from ocpp_station.sim.csms import CentralSystem, LogEntry
from ocpp_station.transport.ws import WebsocketsClient, client_for
from tests.stations import StationFactory, station_config
from tests.transport.transports import HAS_PICOWS
from tests.transport.transports import each_transport as each_transport  # every test runs on each library

NOW = "2026-11-25T12:00:00.000Z"
BOOT = {"status": "Accepted", "currentTime": NOW, "interval": 300}


def port_of(server: Any) -> int:
    return int(next(iter(server.sockets)).getsockname()[1])


def called(action: str) -> Any:
    return lambda e: e.direction == "in" and e.kind == "CALL" and e.action == action


async def answer(ws: ServerConnection, frame: list[Any]) -> None:
    result = BOOT if frame[2] == "BootNotification" else {}
    await ws.send(json.dumps([3, frame[1], result]))


async def test_the_station_uses_the_configured_library(
    each_transport: str, start_station: StationFactory
) -> None:
    async with serve(lambda ws: _answer_all(ws), "127.0.0.1", 0, subprotocols=["ocpp1.6"]) as server:
        station = await start_station(station_config(f"ws://127.0.0.1:{port_of(server)}/ocpp/"))
        assert station.config.transport == each_transport
        assert type(station.link._client) is type(client_for(each_transport))
        assert station.link.ws is not None and station.link.ws.subprotocol == "ocpp1.6"


async def _answer_all(ws: ServerConnection) -> None:
    async for message in ws:
        frame = json.loads(message)
        if frame[0] == 2:
            await answer(ws, frame)


async def test_boot_transaction_and_reconnect_after_the_csms_restarts(start_station: StationFactory) -> None:
    """End to end against the development CSMS: boot, a charging session, the CSMS gone and back."""
    first = CentralSystem(port=0)
    await first.start()
    port = first.port
    try:
        station = await start_station(station_config(first.url, ocpp={"MeterValueSampleInterval": 1}))
        station.plug(1)
        station.present_id_tag("CARD1")
        state = await station.wait_for(lambda s: s["connectors"][1]["transactionId"] is not None)
        tx = state["connectors"][1]["transactionId"]
        sample: LogEntry = await first.wait_for(
            lambda e: called("MeterValues")(e) and e.payload.get("transactionId") == tx
        )
        assert len(sample.payload["meterValue"][0]["sampledValue"]) >= 1
    finally:
        await first.stop()
    await station.wait_for(lambda s: not s["connected"])
    station.unplug(1)  # while the CSMS is down: StopTransaction waits in the queue
    second = CentralSystem(port=port)
    await second.start()
    try:
        await station.wait_for(lambda s: s["connected"] and s["queue"] == 0, timeout=15)
        stop = await second.wait_for(called("StopTransaction"))
        assert stop.payload["transactionId"] == tx and stop.payload["reason"] == "EVDisconnected"
    finally:
        await second.stop()


async def test_basic_auth_header_and_401_as_a_security_event(
    start_station: StationFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """ws:// with Basic auth (security profile 1): the header is user = charge point id; a 401 is the
    security event FailedToAuthenticationAtCentralSystem, and the station keeps trying."""
    headers: list[str | None] = []
    password = {"value": "wrong"}

    def check(connection: ServerConnection, request: Request) -> Response | None:
        headers.append(request.headers.get("Authorization"))
        if request.headers.get("Authorization") != "Basic " + base64.b64encode(b"CP_1:right").decode():
            return connection.respond(401, "bad credentials\n")
        return None

    async with serve(_answer_all, "127.0.0.1", 0, subprotocols=["ocpp1.6"], process_request=check) as server:
        url = f"ws://127.0.0.1:{port_of(server)}/ocpp/"
        with caplog.at_level(logging.ERROR, "ocpp_station"):
            station = await start_station(
                station_config(url, connection={"basicAuthPassword": password["value"]}), wait_accepted=False
            )
            for _ in range(200):
                if len(headers) >= 2:
                    break
                await asyncio.sleep(0.02)
        assert headers[0] == "Basic " + base64.b64encode(b"CP_1:wrong").decode()
        assert "HTTP 401" in caplog.text and "FailedToAuthenticationAtCentralSystem" in caplog.text
        assert not station.state()["connected"]
        ok = await start_station(station_config(url, connection={"basicAuthPassword": "right"}))
        assert ok.state()["registration"] == "Accepted"


async def test_close_codes_both_ways(start_station: StationFactory) -> None:
    """The CSMS closes with 1001: the station answers the closing handshake and reconnects; the station
    stopping closes with 1000 "station stopping"."""
    closes: list[tuple[int | None, str | None]] = []
    connections = 0

    async def handler(ws: ServerConnection) -> None:
        nonlocal connections
        connections += 1
        first = connections == 1
        try:
            async for message in ws:
                frame = json.loads(message)
                if frame[0] == 2:
                    await answer(ws, frame)
                    if first and frame[2] == "BootNotification":
                        await ws.close(1001, "going away")
        except ConnectionClosed:
            pass  # a frame the station sent before it saw our close
        closes.append((ws.close_code, ws.close_reason))

    async with serve(handler, "127.0.0.1", 0, subprotocols=["ocpp1.6"]) as server:
        station = await start_station(station_config(f"ws://127.0.0.1:{port_of(server)}/ocpp/"))
        await station.wait_for(lambda s: s["connected"] and connections >= 2, timeout=10)
        assert closes[0] == (1001, "going away")  # the station echoed the code (a clean closing handshake)
        await station.stop()
        for _ in range(100):
            if len(closes) >= 2:
                break
            await asyncio.sleep(0.02)
        assert closes[1:] == [(1000, "station stopping")], closes


async def test_pings_from_the_csms_are_answered_and_fragments_put_together(
    start_station: StationFactory,
) -> None:
    pongs: list[float] = []

    async def handler(ws: ServerConnection) -> None:
        async for message in ws:
            frame = json.loads(message)
            if frame[0] != 2:
                continue
            if frame[2] == "BootNotification":
                text = json.dumps([3, frame[1], BOOT])
                await ws.send([text[:10], text[10:30], text[30:]])  # three fragments of one message
                waiter = await ws.ping()
                pongs.append(await asyncio.wait_for(waiter, 5))
            else:
                await answer(ws, frame)

    async with serve(handler, "127.0.0.1", 0, subprotocols=["ocpp1.6"]) as server:
        station = await start_station(station_config(f"ws://127.0.0.1:{port_of(server)}/ocpp/"))
        assert station.state()["registration"] == "Accepted"
        for _ in range(100):
            if pongs:
                break
            await asyncio.sleep(0.02)
        assert len(pongs) == 1


def test_config_transport_names_a_known_library(each_transport: str) -> None:
    base = {"development": {"WS_URL": "ws://127.0.0.1:9/ocpp/", "chargePointID": "CP_1"}}
    assert parse_config(base, "<test>").transport == each_transport  # the default, pointed by the fixture
    assert config_module.StationConfig("<t>", "development", "CP_1", "ws://h/CP_1").transport == "websockets"
    websockets = {**base, "connection": {"transport": "websockets"}}
    assert parse_config(websockets, "<test>").transport == "websockets"
    with pytest.raises(ConfigError) as caught:
        parse_config({**base, "connection": {"transport": "aiohttp"}}, "cfg.json")
    assert str(caught.value).startswith("cfg.json: connection.transport: must be one of websockets, picows")
    with pytest.raises(ConfigError, match=r"connection\.transport: must be a non-empty string"):
        parse_config({**base, "connection": {"transport": 3}}, "cfg.json")
    if HAS_PICOWS:
        assert parse_config({**base, "connection": {"transport": "picows"}}, "<test>").transport == "picows"


def test_config_picows_not_installed_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whether picows is installed is asked of importlib; here it answers no (the one thing that
    cannot be real in an environment that has picows)."""
    real = importlib.util.find_spec
    monkeypatch.setattr(
        config_module.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "picows" else real(name, *a),
    )
    base = {"development": {"WS_URL": "ws://127.0.0.1:9/ocpp/", "chargePointID": "CP_1"}}
    with pytest.raises(ConfigError, match=r"cfg\.json: connection\.transport: picows is not installed"):
        parse_config({**base, "connection": {"transport": "picows"}}, "cfg.json")


def test_client_for_refuses_an_unknown_name() -> None:
    assert isinstance(client_for("websockets"), WebsocketsClient)
    with pytest.raises(ValueError, match="unknown websocket transport"):
        client_for("nope")


async def test_network_drop_and_restore_with_a_queued_transaction_message(
    csms: CentralSystem, start_station: StationFactory
) -> None:
    """The network API aborts the connection (no closing handshake); frames made offline wait in the
    queue and go once the link is back, on either library."""
    station = await start_station(station_config(csms.url))
    station.plug(1)
    station.present_id_tag("CARD1")
    await station.wait_for(lambda s: s["connectors"][1]["transactionId"] is not None)
    station.network_disconnect()
    await station.wait_for(lambda s: not s["connected"])
    station.unplug(1)
    await station.wait_for(lambda s: s["queue"] >= 1)
    station.network_connect()
    await station.wait_for(lambda s: s["connected"] and s["queue"] == 0, timeout=10)
    stop = await csms.wait_for(called("StopTransaction"))
    assert stop.payload["reason"] == "EVDisconnected"
