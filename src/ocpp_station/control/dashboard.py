"""The station's dashboard: a web page served by its control API, fed live over Server-Sent Events.

=======  ==================  ================================================================
method   path                what
=======  ==================  ================================================================
GET      /                   the page (``static/index.html``)
GET      /static/{name}      its scripts and style sheet: a fixed list of names, nothing else
GET      /events             ``text/event-stream``: ``hello`` (the state, the configuration and
                             the recent trace), then ``state`` at every change, ``config`` when a
                             value changed, ``trace`` per frame, ``sample`` once a second
GET      /trace?limit=N      the last N frames of the trace (JSON)
GET      /config             the readable configuration keys
POST     /config             ``{"key", "value"}``: ChangeConfiguration, answered as to a CSMS
=======  ==================  ================================================================

Every URL the page uses is relative, so a fleet mounting the station's routes under
``/stations/{station}`` serves the same page for each station. The trace is started when a page first
subscribes (``ocpp-station run`` starts it with the station, so the page shows the history).
The page is plain HTML, CSS and JavaScript vendored in the package (``control/static``): no build step,
no network beyond the station.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from importlib.resources import files
from typing import Any

import orjson
from aiohttp import web

from ocpp_station.transport.station import Station
from ocpp_station.wire.messages import ChargePointErrorCode

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
StationHandler = Callable[[web.Request, Station], Awaitable[web.StreamResponse]]
Bind = Callable[[StationHandler], Handler]

#: The files the page is made of, and their types: a request names one of these or gets a 404 (no
#: path is ever derived from the URL).
STATIC_FILES = {
    "index.html": "text/html",
    "app.js": "text/javascript",
    "chart.js": "text/javascript",
    "style.css": "text/css",
}
#: The page runs only what it was served with: no inline script, nothing from another origin.
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}
#: An event stream's response: not cached, not buffered by a proxy in front (nginx's header).
SSE_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
#: A fault the page may raise: every ChargePointErrorCode but NoError.
ERROR_CODES = [code.value for code in ChargePointErrorCode if code is not ChargePointErrorCode.NoError]
SAMPLE_INTERVAL_S = 1.0
#: EventSource waits this long before reconnecting (ms; the browser's default is about 3 s).
RETRY_MS = 1000
#: Frames waiting to be written to one slow page; beyond, the oldest are left out of its stream.
_BACKLOG = 1000
#: Closes of the open streams of an app, run when it shuts down (:func:`close_streams_on_shutdown`).
STREAMS = web.AppKey("dashboard_streams", set[Callable[[], None]])

_cache: dict[str, bytes] = {}


def _static(name: str) -> bytes:
    data = _cache.get(name)
    if data is None:
        data = _cache[name] = (files("ocpp_station.control") / "static" / name).read_bytes()
    return data


def close_streams_on_shutdown(app: web.Application) -> None:
    """End the dashboard's event streams when ``app`` shuts down (instead of waiting out aiohttp's
    shutdown timeout); the pages reconnect to whatever serves the port next."""
    streams: set[Callable[[], None]] = set()
    app[STREAMS] = streams

    async def close(app: web.Application) -> None:
        for stop in list(streams):
            stop()

    app.on_shutdown.append(close)


def connector_limits(station: Station, state: dict[str, Any]) -> None:
    """Add to each connector (1..n) of ``state`` the limit in force (A and W) and its rating (W)."""
    view = station.view
    for connector in state["connectors"]:
        cid = connector["id"]
        if cid == 0:
            continue
        spec = station.config.connectors[cid - 1]
        watts_per_a = spec.voltage_v * spec.phases
        limit = view.current_limit_a(cid)
        connector["limitA"] = limit
        connector["limitW"] = None if limit is None else round(limit * watts_per_a)
        connector["maxW"] = round(spec.max_current_a * watts_per_a)


def dashboard_state(station: Station) -> dict[str, Any]:
    """``GET /state`` with what the page shows besides: each connector's limit, the queue by action."""
    state = station.state()
    connector_limits(station, state)
    state["queueDetail"] = station.view.queue_summary()
    return state


def _steady(state: dict[str, Any]) -> list[Any]:
    """What a ``state`` event is sent for: everything but the meters (sent by ``sample``)."""
    return [{k: v for k, v in c.items() if k not in ("meterWh", "powerW")} for c in state["connectors"]] + [
        {k: v for k, v in state.items() if k != "connectors"}
    ]


def sample(station: Station) -> dict[str, Any]:
    """Power, limit and energy per connector now (the chart's points)."""
    connectors: list[dict[str, Any]] = [{"id": cid} for cid in range(1, len(station.config.connectors) + 1)]
    state = {"connectors": connectors}
    connector_limits(station, state)
    hardware = station.hardware
    for connector in state["connectors"]:
        reading = hardware.read_meter(connector["id"])
        connector["powerW"] = round(reading.power_w, 1)
        connector["meterWh"] = round(reading.energy_wh, 1)
    return {"time": round(time.time() * 1000), "connectors": state["connectors"]}


def _event(name: str, data: Any) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


def _config_values(station: Station) -> dict[str, str]:
    return station.view.readable_config()


def dashboard_routes(bind: Bind, prefix: str = "") -> list[web.RouteDef]:
    """The page and its feeds under ``prefix`` (see the module docstring)."""

    async def index(request: web.Request, station: Station) -> web.StreamResponse:
        return web.Response(body=_static("index.html"), content_type="text/html", headers=HEADERS)

    async def static(request: web.Request, station: Station) -> web.StreamResponse:
        name = request.match_info["name"]
        kind = STATIC_FILES.get(name)
        if kind is None:
            return web.json_response({"error": f"no file {name!r}"}, status=404)
        return web.Response(body=_static(name), content_type=kind, headers=HEADERS)

    async def add_slash(request: web.Request, station: Station) -> web.StreamResponse:
        raise web.HTTPFound(request.path + "/")

    async def get_trace(request: web.Request, station: Station) -> web.StreamResponse:
        trace = station.trace
        raw = request.query.get("limit")
        limit = None
        if raw is not None:
            try:
                limit = int(raw)
            except ValueError:
                limit = -1
            if limit < 1:
                return web.json_response({"error": f"limit must be a number >= 1, not {raw!r}"}, status=400)
        if trace is None:
            return web.json_response({"enabled": False, "size": 0, "entries": []})
        return web.json_response(
            {"enabled": True, "size": trace.size, "entries": trace.recent(limit)}, dumps=_dumps
        )

    async def get_config(request: web.Request, station: Station) -> web.StreamResponse:
        return web.json_response({"keys": station.view.configuration()})

    async def change_config(request: web.Request, station: Station) -> web.StreamResponse:
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError as exc:
            return web.json_response({"error": f"body is not JSON: {exc}"}, status=400)
        if not isinstance(body, dict):
            return web.json_response({"error": 'body must be {"key": ..., "value": ...}'}, status=400)
        key, value = body.get("key"), body.get("value")
        if not isinstance(key, str) or not isinstance(value, str):
            return web.json_response({"error": "key and value (strings) are required"}, status=400)
        answer = station.change_configuration(key, value)
        return web.json_response({"key": key, "value": station.view.readable_config().get(key)} | answer)

    async def events(request: web.Request, station: Station) -> web.StreamResponse:
        trace = station.enable_trace()  # the one kept already, or a new one now a page listens
        response = web.StreamResponse(headers=SSE_HEADERS)
        await response.prepare(request)
        wake = asyncio.Event()
        frames: list[dict[str, Any]] = []
        closed = False

        def on_frame(entry: dict[str, Any]) -> None:
            if len(frames) < _BACKLOG:
                frames.append(entry)
            wake.set()

        def close() -> None:
            nonlocal closed
            closed = True
            wake.set()

        streams = request.app.get(STREAMS)
        if streams is not None:
            streams.add(close)
        trace.listeners.append(on_frame)
        changed = station.state_changed()
        changed.add_done_callback(lambda _: wake.set())
        loop = asyncio.get_running_loop()
        try:
            state = dashboard_state(station)
            config = _config_values(station)
            hello = {
                "state": state,
                "config": station.view.configuration(),
                "trace": trace.recent(),
                "traceSize": trace.size,
                "errorCodes": ERROR_CODES,
            }
            await response.write(b"retry: %d\n" % RETRY_MS + _event("hello", hello))
            steady = _steady(state)
            next_sample = loop.time()
            while not closed:
                wake.clear()
                if changed.done():
                    changed = station.state_changed()
                    changed.add_done_callback(lambda _: wake.set())
                    state = dashboard_state(station)
                    if _steady(state) != steady:
                        steady = _steady(state)
                        await response.write(_event("state", state))
                    now_config = _config_values(station)
                    if now_config != config:
                        config = now_config
                        await response.write(_event("config", config))
                while frames:
                    batch = frames[:]
                    frames.clear()
                    await response.write(b"".join(_event("trace", entry) for entry in batch))
                if loop.time() >= next_sample:
                    next_sample = loop.time() + SAMPLE_INTERVAL_S
                    await response.write(_event("sample", sample(station)))
                if wake.is_set() or closed:
                    continue
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(max(0.0, next_sample - loop.time())):
                        await wake.wait()
        except ConnectionError:
            pass  # the page went away
        finally:
            changed.cancel()
            with contextlib.suppress(ValueError):
                trace.listeners.remove(on_frame)
            if streams is not None:
                streams.discard(close)
        return response

    routes = [
        web.get(prefix + "/", bind(index)),
        web.get(prefix + "/static/{name}", bind(static)),
        web.get(prefix + "/events", bind(events)),
        web.get(prefix + "/trace", bind(get_trace)),
        web.get(prefix + "/config", bind(get_config)),
        web.post(prefix + "/config", bind(change_config)),
    ]
    if prefix:
        routes.append(web.get(prefix, bind(add_slash)))
    return routes


def _dumps(data: Any) -> str:
    return orjson.dumps(data).decode()
