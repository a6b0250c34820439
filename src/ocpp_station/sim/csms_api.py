"""The development CSMS's JSON HTTP API, under ``/api``.

* ``GET /api/stations``: every station that has connected (:meth:`StationInfo.to_json
  <ocpp_station.sim.records.StationInfo.to_json>`);
* ``GET /api/stations/{id}``: one of them, 404 if it never connected;
* ``GET /api/log?station=ID&since=N``: the frame log from index ``N`` on, each entry with its ``index``;
* ``POST /api/stations/{id}/call`` with ``{"action": ..., "payload": {...}, "timeout": s}``: a CALL to the
  station; ``{"result": {...}}`` for its CALLRESULT, ``{"error": {"code", "description", "details"}}``
  (status 200) for its CALLERROR.

Every failure is a JSON ``{"error": ...}`` with a 4xx/5xx status (:func:`api_errors`), never a traceback
page: 400 for a bad request or a payload the schema rejects, 404 for a station not connected, 502 for a
station gone or an answer that does not validate, 504 for no answer in time.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import asdict
from typing import Any, Protocol

import orjson
from aiohttp import web

from ocpp_station.sim.records import (
    CallErrorReceived,
    JsonDict,
    LogEntry,
    StationDisconnected,
    StationInfo,
    StationNotConnected,
)
from ocpp_station.wire.errors import OcppError
from ocpp_station.wire.schemas import validate_request

#: The CSMS's logger, whichever of its modules writes.
_logger = logging.getLogger("ocpp_station.sim.csms")


class ApiBackend(Protocol):
    """What the API reads and does (the Central System)."""

    @property
    def stations(self) -> Mapping[str, StationInfo]: ...

    @property
    def log(self) -> Sequence[LogEntry]: ...

    async def call(
        self, cp_id: str, action: str, payload: JsonDict, timeout: float | None = None
    ) -> JsonDict: ...


class ApiError(Exception):
    """An API failure: answered as ``{"error": message, **extra}`` with ``status``."""

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.body: JsonDict = {"error": message} | extra


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json")


def _is_api_path(path: str) -> bool:
    return path == "/api" or path.startswith("/api/")


@web.middleware
async def api_errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Every API failure is a JSON ``{"error": ...}`` with a 4xx/5xx status, never a traceback page."""
    try:
        return await handler(request)
    except ApiError as exc:
        return _json(exc.body, exc.status)
    except web.HTTPException as exc:
        if exc.status < 400 or not _is_api_path(request.path):
            raise
        return _json({"error": f"{exc.reason}: {request.method} {request.path}"}, exc.status)
    except Exception as exc:
        if not _is_api_path(request.path):
            raise
        _logger.exception("CSMS API request failed")
        return _json({"error": f"internal error: {type(exc).__name__}: {exc}"}, 500)


class CsmsApi:
    """The ``/api`` routes over a backend; add :meth:`routes` to an app with the :func:`api_errors`
    middleware."""

    def __init__(self, backend: ApiBackend) -> None:
        self._backend = backend

    def routes(self) -> list[web.RouteDef]:
        """The API routes, the catch-all for unknown ``/api`` paths last."""
        return [
            web.get("/api/stations", self._stations),
            web.get("/api/stations/{cp_id}", self._station),
            web.post("/api/stations/{cp_id}/call", self._call),
            web.get("/api/log", self._log),
            web.route("*", "/api{tail:(/.*)?}", self._unknown),
        ]

    async def _stations(self, request: web.Request) -> web.Response:
        return _json([s.to_json() for s in self._backend.stations.values()])

    async def _station(self, request: web.Request) -> web.Response:
        cp_id = request.match_info["cp_id"]
        station = self._backend.stations.get(cp_id)
        if station is None:
            raise ApiError(404, f"no station {cp_id!r} has connected")
        return _json(station.to_json())

    async def _log(self, request: web.Request) -> web.Response:
        since_text = request.query.get("since", "0")
        try:
            since = int(since_text)
        except ValueError:
            since = -1
        if since < 0:
            raise ApiError(400, f"since must be a log index >= 0, not {since_text!r}")
        station = request.query.get("station")
        entries = [
            asdict(entry) | {"index": index}
            for index, entry in enumerate(self._backend.log[since:], start=since)
            if station is None or entry.charge_point_id == station
        ]
        return _json(entries)

    async def _call(self, request: web.Request) -> web.Response:
        cp_id = request.match_info["cp_id"]
        action, payload, timeout = parse_call_body(await request.read())
        try:
            validate_request(action, payload)
        except OcppError as exc:
            raise ApiError(400, exc.description, code=str(exc.code)) from None
        try:
            result = await self._backend.call(cp_id, action, payload, timeout)
        except StationNotConnected as exc:
            raise ApiError(404, str(exc)) from None
        except CallErrorReceived as exc:
            error = {"code": exc.code, "description": exc.description, "details": exc.details}
            return _json({"error": error})
        except TimeoutError as exc:
            raise ApiError(504, str(exc)) from None
        except StationDisconnected as exc:
            raise ApiError(502, str(exc)) from None
        except OcppError as exc:  # the answer did not validate
            raise ApiError(502, exc.description, code=str(exc.code)) from None
        return _json({"result": result})

    async def _unknown(self, request: web.Request) -> web.Response:
        raise ApiError(
            404,
            f"no API endpoint {request.method} {request.path}; try GET /api/stations, "
            "GET /api/stations/ID, GET /api/log?station=ID&since=N, POST /api/stations/ID/call",
        )


def parse_call_body(raw: bytes) -> tuple[str, JsonDict, float | None]:
    """``{"action": str, "payload": {...} (default {}), "timeout": seconds (optional)}``."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, f"the body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ApiError(400, 'the body must be a JSON object {"action": ..., "payload": {...}}')
    action = body.get("action")
    if not isinstance(action, str) or not action:
        raise ApiError(400, 'the body needs "action", a non-empty string (e.g. "Reset")')
    payload = body.get("payload", {})
    if not isinstance(payload, dict):
        raise ApiError(400, '"payload" must be a JSON object')
    timeout = body.get("timeout")
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0
    ):
        raise ApiError(400, '"timeout" must be a positive number of seconds')
    return action, payload, None if timeout is None else float(timeout)
