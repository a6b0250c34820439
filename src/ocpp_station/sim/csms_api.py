"""The development CSMS's JSON HTTP API, under ``/api``.

* ``GET /api/stations``: every station that has connected (:meth:`StationInfo.to_json
  <ocpp_station.sim.records.StationInfo.to_json>`);
* ``GET /api/stations/{id}``: one of them, 404 if it never connected;
* ``GET /api/log?station=ID&since=N``: the frame log from index ``N`` on, each entry with its ``index``;
* ``GET /api/events``: Server-Sent Events (:class:`EventHub`): a ``snapshot`` first (the stations and the
  last :data:`SNAPSHOT_LOG_ENTRIES` log entries), then ``frame`` (a log entry) and ``station`` (a
  station's state, on connecting, disconnecting and each exchange that changes it) as they happen;
* ``GET /api/examples``: a schema-valid request of every action the CSMS sends, by action
  (:func:`~ocpp_station.sim.csms_page.call_examples`), for the page's form;
* ``POST /api/stations/{id}/call`` with ``{"action": ..., "payload": {...}, "timeout": s}``: a CALL to the
  station; ``{"result": {...}}`` for its CALLRESULT, ``{"error": {"code", "description", "details"}}``
  (status 200) for its CALLERROR.

Every failure is a JSON ``{"error": ...}`` with a 4xx/5xx status (:func:`api_errors`), never a traceback
page: 400 for a bad request or a payload the schema rejects, 404 for a station not connected, 502 for a
station gone or an answer that does not validate, 504 for no answer in time.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import asdict
from typing import Any, Final, Protocol

import orjson
from aiohttp import web

from ocpp_station.sim.csms_page import call_examples
from ocpp_station.sim.records import (
    RECORDERS,
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

#: How many of the newest log entries an events stream's snapshot carries.
SNAPSHOT_LOG_ENTRIES: Final = 1000
#: Events a slow page may have waiting; past that its stream ends, and its EventSource reconnects to a
#: fresh snapshot (the CSMS never blocks on a page, and never holds an unbounded backlog for one).
QUEUE_EVENTS: Final = 5000
#: Seconds between comments on a quiet stream, so a page that is gone is noticed and let go.
KEEPALIVE_S: Final = 15.0
#: How long the page's EventSource waits before reconnecting (the SSE ``retry`` field), in ms.
RETRY_MS: Final = 1000


def entry_json(index: int, entry: LogEntry) -> JsonDict:
    """A log entry as the API shows it, with its ``index`` in the log."""
    return asdict(entry) | {"index": index}


def sse_event(event: str, data: Any) -> bytes:
    """One Server-Sent Event (HTML Living Standard §9.2): ``event: NAME`` and its JSON data on one line."""
    return b"event: " + event.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


class EventHub:
    """What the CSMS tells its open pages: each page's events stream is a bounded queue of encoded
    events. Nothing is encoded while no page is open (:attr:`active` is False)."""

    def __init__(self) -> None:
        self._queues: set[asyncio.Queue[bytes | None]] = set()

    @property
    def active(self) -> bool:
        """Whether a page is listening."""
        return bool(self._queues)

    def subscribe(self) -> asyncio.Queue[bytes | None]:
        """A new stream's queue; None in it ends the stream."""
        queue: asyncio.Queue[bytes | None] = asyncio.Queue(QUEUE_EVENTS)
        self._queues.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[bytes | None]) -> None:
        self._queues.discard(queue)

    def publish(self, event: str, data: Any) -> None:
        """Queue one event for every stream; a stream that is too far behind is ended instead."""
        if not self._queues:
            return
        encoded = sse_event(event, data)
        for queue in list(self._queues):
            if queue.full():
                self._end(queue)
            else:
                queue.put_nowait(encoded)

    def on_frame(self, index: int, entry: LogEntry, stations: Mapping[str, StationInfo]) -> None:
        """A frame was logged: publish it, then the station's state when the exchange changed it (the
        answer to a station's CALL that the CSMS records, :data:`~ocpp_station.sim.records.RECORDERS`)."""
        if not self._queues:
            return
        self.publish("frame", entry_json(index, entry))
        if entry.direction == "out" and entry.kind == "CALLRESULT" and entry.action in RECORDERS:
            station = stations.get(entry.charge_point_id)
            if station is not None:
                self.publish("station", station.to_json())

    def close(self) -> None:
        """End every stream (the CSMS is stopping): the pages reconnect to the next one."""
        for queue in list(self._queues):
            self._end(queue)

    def _end(self, queue: asyncio.Queue[bytes | None]) -> None:
        self._queues.discard(queue)
        while not queue.empty():
            queue.get_nowait()
        queue.put_nowait(None)


class ApiBackend(Protocol):
    """What the API reads and does (the Central System)."""

    @property
    def stations(self) -> Mapping[str, StationInfo]: ...

    @property
    def log(self) -> Sequence[LogEntry]: ...

    @property
    def events(self) -> EventHub: ...

    @property
    def http_url(self) -> str: ...

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
            web.get("/api/events", self._events),
            web.get("/api/examples", self._examples),
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
            entry_json(index, entry)
            for index, entry in enumerate(self._backend.log[since:], start=since)
            if station is None or entry.charge_point_id == station
        ]
        return _json(entries)

    async def _examples(self, request: web.Request) -> web.Response:
        return _json(call_examples(self._backend.http_url, time.time()))

    async def _events(self, request: web.Request) -> web.StreamResponse:
        """The events stream: the snapshot is taken in the same step as the subscription, so no event
        falls between the two."""
        hub = self._backend.events
        queue = hub.subscribe()
        log = self._backend.log
        first = max(0, len(log) - SNAPSHOT_LOG_ENTRIES)
        snapshot = {
            "stations": [s.to_json() for s in self._backend.stations.values()],
            "log": [entry_json(i, e) for i, e in enumerate(log[first:], start=first)],
        }
        head = f"retry: {RETRY_MS}\n\n".encode() + sse_event("snapshot", snapshot)
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        try:
            await response.prepare(request)
            await response.write(head)
            while True:
                try:
                    item = await asyncio.wait_for(queue.get(), KEEPALIVE_S)
                except TimeoutError:
                    await response.write(b": keep-alive\n\n")
                    continue
                if item is None:
                    break
                chunks = [item]
                while not queue.empty():  # a burst goes out in one write
                    more = queue.get_nowait()
                    if more is None:
                        await response.write(b"".join(chunks))
                        return response
                    chunks.append(more)
                await response.write(b"".join(chunks))
        except ConnectionError:  # the page went away
            pass
        finally:
            hub.unsubscribe(queue)
        return response

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
            "GET /api/stations/ID, GET /api/log?station=ID&since=N, POST /api/stations/ID/call, "
            "GET /api/events, GET /api/examples",
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
