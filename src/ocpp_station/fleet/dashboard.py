"""The fleet's dashboard: the overview page at ``/`` of the fleet's control API
(:mod:`ocpp_station.fleet.control`), its live figures over Server-Sent Events, and the drill-down to
one station's own page (:func:`ocpp_station.control.api.station_routes`) under ``/stations/{id}/``.

=======  ==========================  ====================================================================
method   path                        what
=======  ==========================  ====================================================================
GET      /                           the overview page (``fleet/static/``: plain HTML, CSS and JS)
GET      /static/{name}              its assets
GET      /events                     SSE: the aggregate (as ``GET /state``, plus ``rates``: CALLs/s per
                                     action over the last second) once a second, when the fleet samples
*        /stations/{id}/...          one station's API and page (its ``GET /stations/{id}/``)
=======  ==========================  ====================================================================

No page polls: :class:`FleetEvents` is ticked by the runner after each sample (once a second) and
does nothing while no page listens; each page's stream waits on an :class:`asyncio.Event`.

With one process the station's routes are mounted here with a resolver over the running stations
(:func:`station_resolver`). With ``--processes N`` the parent has no Station objects: each worker
serves its own stations' routes on an ephemeral 127.0.0.1 port (:func:`start_station_server`) and
the parent forwards ``/stations/{id}/...`` to the worker running the station (:func:`proxy_route`),
streaming the answer (an SSE stream too) as it comes.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
from collections.abc import Callable
from importlib import resources
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web

from ocpp_station.control.api import Resolver, api_errors, station_routes
from ocpp_station.control.dashboard import HEADERS, SSE_HEADERS, close_streams_on_shutdown

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from ocpp_station.fleet.config import FleetConfig
    from ocpp_station.fleet.control import StationGroup
    from ocpp_station.transport.station import Station

#: Where one station's routes live in the fleet's API.
STATION_PREFIX = "/stations/{station}"
#: The overview page's files (``fleet/static/``), by name.
ASSETS = {
    "index.html": "text/html",
    "fleet.js": "text/javascript",
    "fleet.css": "text/css",
}
#: The proxy's HTTP client.
SESSION = web.AppKey("dashboard-proxy-session", aiohttp.ClientSession)
#: Headers a proxy does not pass on (RFC 9110 §7.6.1, and the length it recomputes).
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)


def _json_error(kind: type[web.HTTPException], message: str) -> web.HTTPException:
    return kind(text=json.dumps({"error": message}), content_type="application/json")


@functools.cache
def _asset(name: str) -> bytes:
    return resources.files("ocpp_station.fleet").joinpath("static", name).read_bytes()


async def get_page(request: web.Request) -> web.Response:
    return web.Response(body=_asset("index.html"), content_type="text/html", charset="utf-8", headers=HEADERS)


async def get_asset(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    kind = ASSETS.get(name)
    if kind is None or name == "index.html":
        raise _json_error(web.HTTPNotFound, f"no asset {name!r}")
    return web.Response(body=_asset(name), content_type=kind, charset="utf-8", headers=HEADERS)


def rates(previous: dict[str, Any] | None, summary: dict[str, Any]) -> dict[str, Any]:
    """CALLs/s per action and in all between two summaries (the run's averages when there is no
    earlier one)."""
    span = summary["elapsedSeconds"] - (previous["elapsedSeconds"] if previous else 0.0)
    if previous is None or span <= 0:
        per_action = {a: f["perSecond"] for a, f in summary["actions"].items()}
        return {"actions": per_action, "total": summary["totals"]["perSecond"], "spanSeconds": None}
    before = previous["actions"]
    per_action = {
        a: round((f["sent"] - before.get(a, {}).get("sent", 0)) / span, 2)
        for a, f in summary["actions"].items()
    }
    total = round((summary["totals"]["sent"] - previous["totals"]["sent"]) / span, 2)
    return {"actions": per_action, "total": total, "spanSeconds": round(span, 3)}


class FleetEvents:
    """``GET /events``: every page listening gets the aggregate each time the fleet samples (the
    runner calls :meth:`tick` once a second). ``summary()`` is what ``GET /state`` answers."""

    def __init__(self, summary: Callable[[], dict[str, Any]]) -> None:
        self.summary = summary
        self._listeners: set[asyncio.Event] = set()
        self._previous: dict[str, Any] | None = None
        self._latest = b""
        self._closed = False

    @property
    def listeners(self) -> int:
        return len(self._listeners)

    def _event(self) -> bytes:
        summary = self.summary()
        summary["rates"] = rates(self._previous, summary)
        self._previous = summary
        return b"event: fleet\ndata: " + json.dumps(summary).encode() + b"\n\n"

    def tick(self) -> None:
        """A new sample: tell every listening page (nothing to do when none listens)."""
        if not self._listeners:
            return
        self._latest = self._event()
        for listener in self._listeners:
            listener.set()

    async def close(self, app: web.Application | None = None) -> None:
        """The API stops: every stream ends (``on_shutdown``)."""
        self._closed = True
        for listener in self._listeners:
            listener.set()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers=SSE_HEADERS)
        await response.prepare(request)
        listener = asyncio.Event()
        self._listeners.add(listener)
        try:
            await response.write(b"retry: 2000\n\n" + self._event())  # the figures now, not in a second
            while not self._closed:
                await listener.wait()
                listener.clear()
                if self._closed:
                    break
                await response.write(self._latest)
        except (ConnectionResetError, ConnectionError):
            pass  # the page went away
        finally:
            self._listeners.discard(listener)
        return response


#: The app's :class:`FleetEvents` (the runner ticks it after each sample).
EVENTS = web.AppKey("fleet-events", FleetEvents)


def station_resolver(config: FleetConfig, group: StationGroup) -> Resolver:
    """The station a request under ``/stations/{station}`` is for: 404 (JSON) for an id not in the
    fleet, not run by this process or not started yet."""
    position = {cp_id: i for i, cp_id in enumerate(config.ids)}

    def resolve(request: web.Request) -> Station:
        cp_id = request.match_info["station"]
        index = position.get(cp_id)
        if index is None:
            raise _json_error(web.HTTPNotFound, f"no station {cp_id!r} in the fleet")
        station = group.station(index)
        if station is None:
            raise _json_error(web.HTTPNotFound, f"station {cp_id!r} has not started yet")
        return station

    return resolve


def station_mount(config: FleetConfig, group: StationGroup) -> list[web.RouteDef]:
    """One process: every station's own routes (and page) under ``/stations/{id}/``. Not the
    station's redirect from ``/stations/{id}`` to its page: that path is the fleet's JSON of the
    station (``GET /stations/{id}``), kept as it was."""
    routes = station_routes(station_resolver(config, group), STATION_PREFIX)
    return [r for r in routes if not (isinstance(r, web.RouteDef) and r.path == STATION_PREFIX)]


async def start_station_server(config: FleetConfig, group: StationGroup) -> tuple[web.AppRunner, int]:
    """A worker's own stations' routes on 127.0.0.1 (any free port), for the parent's proxy."""
    app = web.Application(middlewares=[api_errors])
    app.add_routes(station_mount(config, group))
    close_streams_on_shutdown(app)  # the station pages' streams end with the worker
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server = getattr(site, "_server", None)
    port = server.sockets[0].getsockname()[1] if server is not None and server.sockets else 0
    return runner, int(port)


def proxy_route(config: FleetConfig, port_of: Callable[[int], int | None]) -> web.RouteDef:
    """Several processes: ``/stations/{id}/...`` (any method) forwarded to the worker running the
    station, ``port_of(index)`` being its station server's port (None until it has told it). The
    answer is streamed back as it comes (an SSE stream stays open)."""
    position = {cp_id: i for i, cp_id in enumerate(config.ids)}

    async def proxy(request: web.Request) -> web.StreamResponse:
        cp_id = request.match_info["station"]
        index = position.get(cp_id)
        if index is None:
            raise _json_error(web.HTTPNotFound, f"no station {cp_id!r} in the fleet")
        port = port_of(index)
        if port is None:
            raise _json_error(web.HTTPServiceUnavailable, f"the worker running {cp_id!r} is not serving yet")
        session = request.app[SESSION]
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        body = await request.read() if request.can_read_body else None
        url = f"http://127.0.0.1:{port}{request.rel_url}"
        try:
            async with session.request(
                request.method, url, headers=headers, data=body, allow_redirects=False
            ) as upstream:
                response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
                for name, value in upstream.headers.items():
                    if name.lower() not in HOP_BY_HOP:
                        response.headers.add(name, value)
                await response.prepare(request)
                with contextlib.suppress(ConnectionResetError):
                    async for chunk in upstream.content.iter_any():
                        await response.write(chunk)
                    await response.write_eof()
                return response
        except aiohttp.ClientError as exc:
            raise _json_error(
                web.HTTPBadGateway, f"the worker running {cp_id!r} did not answer: {exc}"
            ) from None

    return web.route("*", STATION_PREFIX + "/{tail:.*}", proxy)


async def proxy_session(app: web.Application) -> AsyncIterator[None]:
    """The proxy's HTTP client (an ``app.cleanup_ctx``): no overall timeout, an SSE stream lasts."""
    async with aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=None, sock_connect=5), auto_decompress=False
    ) as session:
        app[SESSION] = session
        yield
