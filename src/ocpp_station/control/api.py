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
=======  ==================================  ===========================================

Bad requests get a 4xx with ``{"error": "..."}``; nothing here can crash the station.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

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


def build_app(station: Station) -> web.Application:
    """The aiohttp application serving ``station``."""

    def ok() -> web.Response:
        return web.json_response(station.state())

    async def get_state(request: web.Request) -> web.Response:
        return ok()

    async def plug(request: web.Request) -> web.Response:
        cid = _connector_id(request, station)
        body = await _body(request, required=False)
        station.plug(cid, body or None)
        return ok()

    async def unplug(request: web.Request) -> web.Response:
        station.unplug(_connector_id(request, station))
        return ok()

    async def suspend(request: web.Request) -> web.Response:
        station.ev_suspend(_connector_id(request, station))
        return ok()

    async def resume(request: web.Request) -> web.Response:
        station.ev_resume(_connector_id(request, station))
        return ok()

    async def id_tag(request: web.Request) -> web.Response:
        body = await _body(request)
        tag = body.get("idTag")
        if not isinstance(tag, str):
            return _error(400, "idTag (string) is required")
        cid = body.get("connectorId")
        if cid is not None and (isinstance(cid, bool) or not isinstance(cid, int)):
            return _error(400, "connectorId must be a number")
        station.present_id_tag(tag, cid)
        return ok()

    async def fault(request: web.Request) -> web.Response:
        cid = _connector_id(request, station, allow_zero=True)
        body = await _body(request)
        code = body.get("errorCode")
        if not isinstance(code, str):
            return _error(400, "errorCode (string) is required")
        for name in ("info", "vendorErrorCode"):
            if name in body and not isinstance(body[name], str):
                return _error(400, f"{name} must be a string")
        station.raise_fault(cid, code, body.get("info"), body.get("vendorErrorCode"))
        return ok()

    async def clear_fault(request: web.Request) -> web.Response:
        station.clear_fault(_connector_id(request, station, allow_zero=True))
        return ok()

    async def disconnect(request: web.Request) -> web.Response:
        station.network_disconnect()
        return ok()

    async def connect(request: web.Request) -> web.Response:
        station.network_connect()
        return ok()

    async def call(request: web.Request) -> web.Response:
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

    async def clear_security_log(request: web.Request) -> web.Response:
        """Security whitepaper §8: the new log starts with SecurityLogWasCleared (critical)."""
        station.clear_security_log()
        return ok()

    async def tamper(request: web.Request) -> web.Response:
        """The tamper detection sensor was triggered: TamperDetectionActivated (§8, critical)."""
        body = await _body(request, required=False)
        info = body.get("info", "") if body else ""
        if not isinstance(info, str):
            return _error(400, "info must be a string")
        station.tamper_detected(info)
        return ok()

    @web.middleware
    async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPException:
            raise
        except (ValueError, TypeError, OcppError) as exc:
            return _error(400 if not isinstance(exc, TypeError) else 409, str(exc))

    app = web.Application(middlewares=[errors])
    app.add_routes(
        [
            web.get("/state", get_state),
            web.post("/connectors/{id}/plug", plug),
            web.post("/connectors/{id}/unplug", unplug),
            web.post("/connectors/{id}/ev/suspend", suspend),
            web.post("/connectors/{id}/ev/resume", resume),
            web.post("/id-tag", id_tag),
            web.post("/connectors/{id}/fault", fault),
            web.delete("/connectors/{id}/fault", clear_fault),
            web.post("/network/disconnect", disconnect),
            web.post("/network/connect", connect),
            web.post("/call", call),
            web.post("/security-log/clear", clear_security_log),
            web.post("/tamper", tamper),
        ]
    )
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
