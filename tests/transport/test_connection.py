"""The websocket link: TLS with a CA bundle, Basic auth, the ocpp1.6 subprotocol, ping, back-off."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import random
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trustme
from websockets.asyncio.server import Request, Response, ServerConnection, serve

from ocpp_station.config.station import ReconnectPolicy
from ocpp_station.core import effects as fx
from ocpp_station.transport.backoff import backoff_delays
from ocpp_station.transport.station import Station
from tests.stations import StationFactory, station_config
from tests.transport.transports import each_transport as each_transport  # every test runs on each library

NOW = "2026-11-25T12:00:00.000Z"


async def answer_calls(ws: ServerConnection) -> None:
    answers = {"BootNotification": {"status": "Accepted", "currentTime": NOW, "interval": 300}}
    async for message in ws:
        frame = json.loads(message)
        if frame[0] == 2:
            await ws.send(json.dumps([3, frame[1], answers.get(frame[2], {})]))


class MiniCsms:
    """A bare websockets server: what the development CSMS cannot do (TLS, auth checks, no subprotocol)."""

    def __init__(self) -> None:
        self.auth_headers: list[str | None] = []
        self.connections = 0


@pytest.fixture
def certs(tmp_path: Path) -> tuple[ssl.SSLContext, Path]:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_ctx)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    return server_ctx, ca_file


@pytest.fixture
async def tls_csms(certs: tuple[ssl.SSLContext, Path]) -> AsyncIterator[tuple[MiniCsms, int]]:
    mini = MiniCsms()

    def check(connection: ServerConnection, request: Request) -> Response | None:
        mini.auth_headers.append(request.headers.get("Authorization"))
        expected = "Basic " + base64.b64encode(b"TLS_CP:s3cret").decode()
        if request.headers.get("Authorization") != expected:
            return connection.respond(401, "bad credentials\n")
        return None

    async def handler(ws: ServerConnection) -> None:
        mini.connections += 1
        await answer_calls(ws)

    async with serve(
        handler, "127.0.0.1", 0, ssl=certs[0], subprotocols=["ocpp1.6"], process_request=check
    ) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield mini, port


async def test_wss_with_ca_bundle_and_basic_auth(
    tls_csms: tuple[MiniCsms, int], certs: tuple[ssl.SSLContext, Path], start_station: StationFactory
) -> None:
    mini, port = tls_csms
    config = station_config(
        f"wss://127.0.0.1:{port}/ocpp/",
        cp_id="TLS_CP",
        connection={
            "basicAuthPassword": "s3cret",
            "caBundle": str(certs[1]),
            "reconnect": {"initialDelay": 0.05},
        },
    )
    station = await start_station(config)
    assert station.state()["connected"]
    assert mini.auth_headers[-1] == "Basic " + base64.b64encode(b"TLS_CP:s3cret").decode()


async def test_wss_without_the_ca_is_refused(
    tls_csms: tuple[MiniCsms, int], start_station: StationFactory, caplog: pytest.LogCaptureFixture
) -> None:
    mini, port = tls_csms
    config = station_config(
        f"wss://127.0.0.1:{port}/ocpp/",
        cp_id="TLS_CP",
        connection={"basicAuthPassword": "s3cret", "reconnect": {"initialDelay": 0.05}},
    )
    with caplog.at_level(logging.WARNING, "ocpp_station"):
        station = await start_station(config, wait_accepted=False)
        await asyncio.sleep(0.5)
    assert not station.state()["connected"]
    assert mini.connections == 0
    assert "CERTIFICATE_VERIFY_FAILED" in caplog.text


async def test_server_without_ocpp16_subprotocol_fails_clearly(
    start_station: StationFactory, caplog: pytest.LogCaptureFixture
) -> None:
    async with serve(answer_calls, "127.0.0.1", 0) as server:  # offers no subprotocol
        port = next(iter(server.sockets)).getsockname()[1]
        with caplog.at_level(logging.ERROR, "ocpp_station"):
            station = await start_station(station_config(f"ws://127.0.0.1:{port}/ocpp/"), wait_accepted=False)
            await asyncio.sleep(0.5)
        assert station.state()["registration"] is None
        assert "did not accept the ocpp1.6 subprotocol" in caplog.text


async def test_dead_link_detected_by_ping_and_replaced(start_station: StationFactory) -> None:
    """A proxy that silently stops forwarding: no pong within WebSocketPingInterval drops the link."""
    frozen = asyncio.Event()
    connections = 0

    async with serve(answer_calls, "127.0.0.1", 0, subprotocols=["ocpp1.6"]) as server:
        upstream = next(iter(server.sockets)).getsockname()[1]

        async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while data := await reader.read(65536):
                if frozen.is_set():
                    continue  # swallow: the link is dead but not closed
                writer.write(data)
                await writer.drain()
            writer.close()

        async def proxy(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
            nonlocal connections
            connections += 1
            server_r, server_w = await asyncio.open_connection("127.0.0.1", upstream)
            await asyncio.gather(pipe(client_r, server_w), pipe(server_r, client_w), return_exceptions=True)

        relay = await asyncio.start_server(proxy, "127.0.0.1", 0)
        port = relay.sockets[0].getsockname()[1]
        async with relay:
            station = await start_station(
                station_config(f"ws://127.0.0.1:{port}/ocpp/", ocpp={"WebSocketPingInterval": 1})
            )
            frozen.set()
            await station.wait_for(lambda s: not s["connected"], timeout=10)
            frozen.clear()
            await station.wait_for(lambda s: s["connected"], timeout=10)
            assert connections >= 2


def test_backoff_grows_with_jitter_and_caps() -> None:
    policy = ReconnectPolicy(initial_s=1, max_s=8, factor=2, jitter=0.5)
    delays = backoff_delays(policy, random.Random(7))
    values = [next(delays) for _ in range(8)]
    caps = [1, 2, 4, 8, 8, 8, 8, 8]
    for value, cap in zip(values, caps, strict=True):
        assert cap * 0.5 <= value <= cap
    assert len(set(values)) == len(values)  # jittered: a fleet does not reconnect in lock step


def _station_tasks() -> list[str]:
    """The names of the running tasks that are the station's (its run(), a ping round, a restart)."""
    names = []
    for task in asyncio.all_tasks():
        qualname = getattr(task.get_coro(), "__qualname__", "")
        if qualname.startswith(("Station.", "Link.")):
            names.append(qualname)
    return sorted(names)


async def test_a_connected_station_runs_no_task_but_its_own(start_station: StationFactory) -> None:
    """Issue 9: no writer task, no pinger while WebSocketPingInterval is 0: a fleet of thousands pays
    for one task per station, the caller's run()."""
    async with serve(answer_calls, "127.0.0.1", 0, subprotocols=["ocpp1.6"]) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        station = await start_station(
            station_config(f"ws://127.0.0.1:{port}/ocpp/", ocpp={"WebSocketPingInterval": 0})
        )
        station.plug(1)
        await station.wait_for(lambda s: s["queue"] == 0 and s["connectors"][1]["status"] == "Preparing")
        assert _station_tasks() == ["Station.run"]
        assert station.link.ping_interval == 0


async def test_ping_interval_set_at_run_time_detects_a_dead_link(start_station: StationFactory) -> None:
    """WebSocketPingInterval changed while connected (SetPingInterval): pings start without a reconnect;
    a link that stops answering them is dropped and replaced."""
    frozen = asyncio.Event()
    connections = 0

    async with serve(answer_calls, "127.0.0.1", 0, subprotocols=["ocpp1.6"]) as server:
        upstream = next(iter(server.sockets)).getsockname()[1]

        async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while data := await reader.read(65536):
                if not frozen.is_set():
                    writer.write(data)
                    await writer.drain()
            writer.close()

        async def proxy(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
            nonlocal connections
            connections += 1
            server_r, server_w = await asyncio.open_connection("127.0.0.1", upstream)
            await asyncio.gather(pipe(client_r, server_w), pipe(server_r, client_w), return_exceptions=True)

        relay = await asyncio.start_server(proxy, "127.0.0.1", 0)
        port = relay.sockets[0].getsockname()[1]
        async with relay:
            station = await start_station(
                station_config(f"ws://127.0.0.1:{port}/ocpp/", ocpp={"WebSocketPingInterval": 0})
            )
            station.executor.execute([fx.SetPingInterval(1)])
            await asyncio.sleep(1.3)  # one round answered: the link stays
            assert station.state()["connected"] and connections == 1
            frozen.set()
            await station.wait_for(lambda s: not s["connected"], timeout=10)
            frozen.clear()
            await station.wait_for(lambda s: s["connected"], timeout=10)
            assert connections >= 2


async def test_a_failing_task_is_logged_and_the_station_keeps_running(
    start_station: StationFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """The station's TaskGroup owns its tasks; a defect in one is logged, it does not end run()."""
    async with serve(answer_calls, "127.0.0.1", 0, subprotocols=["ocpp1.6"]) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        station = await start_station(station_config(f"ws://127.0.0.1:{port}/ocpp/"))

        async def broken() -> None:
            raise RuntimeError("a defect")

        with caplog.at_level(logging.ERROR, logger="ocpp_station"):
            await station._spawn(broken())
        assert "a task of the station failed" in caplog.text
        station.plug(1)
        state = await station.wait_for(lambda s: s["connectors"][1]["status"] == "Preparing")
        assert state["connected"]


async def test_frames_sent_while_not_connected_are_dropped() -> None:
    station = Station(station_config("ws://127.0.0.1:9/ocpp/"))
    try:
        assert station.link.send(b'[2,"1","Heartbeat",{}]') is False
    finally:
        station.close()
