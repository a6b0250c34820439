"""HTTP/JSON control API of one station (aiohttp).

=======  ==================================  ===========================================
method   path                                what
=======  ==================================  ===========================================
GET      /state                              connection, registration, connectors
POST     /connectors/{id}/plug               plug an EV (optional body: EV parameters)
POST     /connectors/{id}/unplug             unplug it
POST     /connectors/{id}/ev/suspend         the EV stops drawing (SuspendedEV)
POST     /connectors/{id}/ev/resume          the EV draws again
POST     /id-tag                             {"idTag": "...", "connectorId": n?}
POST     /connectors/{id}/fault              {"errorCode", "info"?, "vendorErrorCode"?}
DELETE   /connectors/{id}/fault              clear the fault
POST     /network/disconnect                 drop the link, stay offline until told
POST     /network/connect                    allow the link again
POST     /call                               {"action", "payload"}: send a CALL of ours
POST     /security-log/clear                 clear the security log (SecurityLogWasCleared)
POST     /tamper                             {"info"?}: the tamper sensor fired (security event)
GET      /metrics                            Prometheus text format (:mod:`.metrics`)
GET      /                                   the dashboard page; its feeds: /events (SSE),
                                             /trace, /config (:mod:`.dashboard`)
=======  ==================================  ===========================================

Bad requests get a 4xx with ``{"error": "..."}``; nothing here can crash the station.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from ocpp_station.control.dashboard import close_streams_on_shutdown, dashboard_routes
from ocpp_station.control.metrics import serve_metrics
from ocpp_station.logs import STATION_ID
from ocpp_station.transport.station import CallFailed, Station
from ocpp_station.wire.errors import OcppError

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _fail(kind: type[web.HTTPClientError], message: str) -> web.HTTPClientError:
    return kind(text=json.dumps({"error": message}), content_type="application/json")


async def _body(request: web.Request, required: bool = True) -> dict[str, Any]:
    text = await request.text()
    if not text.strip():
        if required:
            raise _fail(web.HTTPBadRequest, "a JSON body is required")
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _fail(web.HTTPBadRequest, f"body is not JSON: {exc.msg}") from None
    if not isinstance(data, dict):
        raise _fail(web.HTTPBadRequest, "body must be a JSON object")
    return data


def _connector_id(request: web.Request, station: Station, allow_zero: bool = False) -> int:
    raw = request.match_info["id"]
    try:
        value = int(raw)
    except ValueError:
        raise _fail(web.HTTPBadRequest, f"connector id must be a number, got {raw!r}") from None
    low = 0 if allow_zero else 1
    high = len(station.config.connectors)
    if not low <= value <= high:
        raise _fail(web.HTTPNotFound, f"no connector {value} (this station has {low}..{high})")
    return value


#: Resolves the station a request is for: the one station of ``ocpp-station run``, or one of a fleet
#: by its id in the path (:mod:`ocpp_station.fleet.control` mounts these routes under
#: ``/stations/{station}``). Raises an :class:`aiohttp.web.HTTPException` (404) for no such station.
Resolver = Callable[[web.Request], Station]
StationHandler = Callable[[web.Request, Station], Awaitable[web.StreamResponse]]


def station_routes(resolve: Resolver, prefix: str = "") -> list[web.RouteDef]:
    """The routes of one station's API (the table in the module docstring) under ``prefix``, each
    handler given the station ``resolve`` finds for its request. The page and every request it makes
    use relative paths, so the same routes serve a station alone (prefix ``""``) and a fleet's station
    (prefix ``/stations/{station}``)."""

    def ok(station: Station) -> web.Response:
        return web.json_response(station.state())

    async def get_state(request: web.Request, station: Station) -> web.Response:
        return ok(station)

    async def plug(request: web.Request, station: Station) -> web.Response:
        cid = _connector_id(request, station)
        body = await _body(request, required=False)
        station.plug(cid, body or None)
        return ok(station)

    async def unplug(request: web.Request, station: Station) -> web.Response:
        station.unplug(_connector_id(request, station))
        return ok(station)

    async def suspend(request: web.Request, station: Station) -> web.Response:
        station.ev_suspend(_connector_id(request, station))
        return ok(station)

    async def resume(request: web.Request, station: Station) -> web.Response:
        station.ev_resume(_connector_id(request, station))
        return ok(station)

    async def id_tag(request: web.Request, station: Station) -> web.Response:
        body = await _body(request)
        tag = body.get("idTag")
        if not isinstance(tag, str):
            return _error(400, "idTag (string) is required")
        cid = body.get("connectorId")
        if cid is not None and (isinstance(cid, bool) or not isinstance(cid, int)):
            return _error(400, "connectorId must be a number")
        station.present_id_tag(tag, cid)
        return ok(station)

    async def fault(request: web.Request, station: Station) -> web.Response:
        cid = _connector_id(request, station, allow_zero=True)
        body = await _body(request)
        code = body.get("errorCode")
        if not isinstance(code, str):
            return _error(400, "errorCode (string) is required")
        for name in ("info", "vendorErrorCode"):
            if name in body and not isinstance(body[name], str):
                return _error(400, f"{name} must be a string")
        station.raise_fault(cid, code, body.get("info"), body.get("vendorErrorCode"))
        return ok(station)

    async def clear_fault(request: web.Request, station: Station) -> web.Response:
        station.clear_fault(_connector_id(request, station, allow_zero=True))
        return ok(station)

    async def disconnect(request: web.Request, station: Station) -> web.Response:
        station.network_disconnect()
        return ok(station)

    async def connect(request: web.Request, station: Station) -> web.Response:
        station.network_connect()
        return ok(station)

    async def call(request: web.Request, station: Station) -> web.Response:
        body = await _body(request)
        action = body.get("action")
        payload = body.get("payload", {})
        if not isinstance(action, str) or not isinstance(payload, dict):
            return _error(400, "action (string) and payload (object) are required")
        try:
            result = await station.call(action, payload, timeout=station.config.call_timeout_s + 5)
        except CallFailed as exc:
            return web.json_response({"error": {"code": exc.code, "description": exc.description}})
        except TimeoutError:
            return _error(504, f"no answer to {action}")
        return web.json_response({"result": result})

    async def clear_security_log(request: web.Request, station: Station) -> web.Response:
        """Security whitepaper §8: the new log starts with SecurityLogWasCleared (critical)."""
        station.clear_security_log()
        return ok(station)

    async def tamper(request: web.Request, station: Station) -> web.Response:
        """The tamper detection sensor was triggered: TamperDetectionActivated (§8, critical)."""
        body = await _body(request, required=False)
        info = body.get("info", "") if body else ""
        if not isinstance(info, str):
            return _error(400, "info must be a string")
        station.tamper_detected(info)
        return ok(station)

    def bind(handler: StationHandler) -> Handler:
        async def bound(request: web.Request) -> web.StreamResponse:
            station = resolve(request)
            # What the request logs names its station (logs.py), a fleet's stations included.
            STATION_ID.set(station.config.charge_point_id)
            return await handler(request, station)

        return bound

    return [
        web.get(prefix + "/state", bind(get_state)),
        web.post(prefix + "/connectors/{id}/plug", bind(plug)),
        web.post(prefix + "/connectors/{id}/unplug", bind(unplug)),
        web.post(prefix + "/connectors/{id}/ev/suspend", bind(suspend)),
        web.post(prefix + "/connectors/{id}/ev/resume", bind(resume)),
        web.post(prefix + "/id-tag", bind(id_tag)),
        web.post(prefix + "/connectors/{id}/fault", bind(fault)),
        web.delete(prefix + "/connectors/{id}/fault", bind(clear_fault)),
        web.post(prefix + "/network/disconnect", bind(disconnect)),
        web.post(prefix + "/network/connect", bind(connect)),
        web.post(prefix + "/call", bind(call)),
        web.post(prefix + "/security-log/clear", bind(clear_security_log)),
        web.post(prefix + "/tamper", bind(tamper)),
        web.get(prefix + "/metrics", bind(serve_metrics)),
        *dashboard_routes(bind, prefix),
    ]


@web.middleware
async def api_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A JSON ``{"error": ...}`` for what the station refuses: 400 for a bad value, 409 for a call the
    station's kind cannot take (e.g. the simulator's methods on real hardware)."""
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except (ValueError, TypeError, OcppError) as exc:
        return _error(400 if not isinstance(exc, TypeError) else 409, str(exc))


def build_app(station: Station) -> web.Application:
    """The aiohttp application serving ``station``."""
    app = web.Application(middlewares=[api_errors])
    app.add_routes(station_routes(lambda request: station))
    close_streams_on_shutdown(app)
    return app


async def start_control_api(station: Station, host: str, port: int) -> web.AppRunner:
    """Serve the control API; returns the runner (``await runner.cleanup()`` to stop)."""
    runner = web.AppRunner(build_app(station), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    return runner


def bound_port(runner: web.AppRunner) -> int:
    for site in runner.sites:
        server = getattr(site, "_server", None)
        if server is not None and server.sockets:
            port: int = server.sockets[0].getsockname()[1]
            return port
    raise RuntimeError("control API is not listening")
