"""A development Central System (OCPP 1.6J CSMS) for demos, development and tests.

One aiohttp application serves, on one port (127.0.0.1 by default):

* the OCPP-J websocket endpoint (OCPP-J 1.6 §3): ``ws://HOST:PORT/ocpp/<chargePointId>``, or any
  ``/<anything>/<chargePointId>``; the charge point id is the last (percent-decoded) path segment;
* a JSON HTTP API under ``/api``: ``GET /api/stations``, ``GET /api/stations/{id}``,
  ``GET /api/log?station=ID&since=N`` and ``POST /api/stations/{id}/call``;
* firmware images and diagnostics uploads under ``/files`` (:mod:`ocpp_station.sim.files`).

Every frame received is decoded and validated with :mod:`ocpp_station.wire`; an invalid CALL is answered
with the CALLERROR code the wire layer names. Every payload sent is validated too. The answers to the
station's CALLs come from :attr:`CentralSystem.handlers` (action -> handler), a table tests may edit;
the station state (:attr:`CentralSystem.stations`) is recorded from each request/answer pair whatever
handler produced the answer.

Deliberate deviation, for clarity in development: a client that does not offer the subprotocol
``ocpp1.6`` gets an HTTP 400 with an explanation instead of the handshake-then-close of OCPP-J §3.2.

Typical test use::

    async with CentralSystem(port=0) as csms:
        ...  # connect a station to csms.url + "CP_1"
        await csms.wait_connected("CP_1")
        await csms.wait_for(lambda e: e.action == "BootNotification" and e.kind == "CALLRESULT")
        answer = await csms.call("CP_1", "Reset", {"type": "Soft"})
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import asdict
from types import TracebackType
from typing import Any, Final, Self
from urllib.parse import unquote

import orjson
from aiohttp import WSCloseCode, WSMsgType, web

from ocpp_station.core.clock import format_datetime
from ocpp_station.sim.files import FileDepot
from ocpp_station.sim.records import (
    RECORDERS,
    CallErrorReceived,
    Direction,
    JsonDict,
    Kind,
    LogEntry,
    StationDisconnected,
    StationInfo,
    StationNotConnected,
    TransactionInfo,
    clock_text,
)
from ocpp_station.wire.actions import printable
from ocpp_station.wire.errors import ErrorCode, OcppError
from ocpp_station.wire.frames import Call, CallError, CallResult, Frame, decode_frame, encode_frame
from ocpp_station.wire.schemas import has_schema, validate_request, validate_response

__all__ = [
    "CallErrorReceived",
    "CallHandler",
    "CentralSystem",
    "LogEntry",
    "StationDisconnected",
    "StationInfo",
    "StationNotConnected",
    "TransactionInfo",
    "serve",
]

_logger = logging.getLogger(__name__)

#: ``(chargePointId, request payload) -> response payload``; raise :class:`OcppError` to answer a CALLERROR.
CallHandler = Callable[[str, JsonDict], JsonDict | Awaitable[JsonDict]]

SUBPROTOCOL: Final = "ocpp1.6"
#: How long closing a websocket waits for the station's close frame.
CLOSE_TIMEOUT_S: Final = 5.0
#: How many log entries a wait_for timeout message shows.
_TIMEOUT_CONTEXT_ENTRIES: Final = 10
_BOOT_STATUSES: Final = ("Accepted", "Pending", "Rejected")


def _frame_log_fields(frame: Frame) -> tuple[Kind, JsonDict]:
    if isinstance(frame, Call):
        return "CALL", frame.payload
    if isinstance(frame, CallResult):
        return "CALLRESULT", frame.payload
    details = {"errorCode": frame.error_code, "errorDescription": frame.description}
    return "CALLERROR", details | {"errorDetails": frame.details}


def _error_frame(message_id: str, exc: Exception) -> CallError:
    if isinstance(exc, OcppError):
        return CallError(message_id, str(exc.code), exc.description, exc.details)
    _logger.error("CSMS handler failed", exc_info=exc)
    return CallError(message_id, str(ErrorCode.InternalError), f"{type(exc).__name__}: {exc}")


def _looks_like_call(data: str) -> bool:
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        return False
    return isinstance(value, list) and bool(value) and type(value[0]) is int and value[0] == 2


class _Connection:
    """One open station websocket: its outgoing-CALL lock, pending CALLs and handler tasks."""

    def __init__(self, charge_point_id: str, ws: web.WebSocketResponse) -> None:
        self.charge_point_id = charge_point_id
        self.ws = ws
        self.closed = False
        self.call_lock = asyncio.Lock()
        self.pending: dict[str, tuple[str, asyncio.Future[JsonDict]]] = {}
        self.tasks: set[asyncio.Task[None]] = set()

    def spawn(self, coro: Awaitable[None]) -> None:
        async def run() -> None:
            await coro

        task = asyncio.create_task(run())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def shut(self) -> None:
        """After the socket closed: fail pending CALLs, cancel and await handler tasks."""
        self.closed = True
        for action, future in self.pending.values():
            if not future.done():
                future.set_exception(
                    StationDisconnected(f"{self.charge_point_id} disconnected before answering {action}")
                )
        self.pending.clear()
        tasks = list(self.tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class _ApiError(Exception):
    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.body: JsonDict = {"error": message} | extra


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json")


def _is_api_path(path: str) -> bool:
    return path == "/api" or path.startswith("/api/")


@web.middleware
async def _api_errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Every API failure is a JSON ``{"error": ...}`` with a 4xx/5xx status, never a traceback page."""
    try:
        return await handler(request)
    except _ApiError as exc:
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


class CentralSystem:
    """A development OCPP 1.6J Central System. See the module docstring."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 9000,
        valid_id_tags: Iterable[str] | None = None,
        allowed_stations: Iterable[str] | None = None,
        heartbeat_interval: int = 300,
        boot_status: str = "Accepted",
        log_messages: bool = False,
        call_timeout_s: float = 30,
    ) -> None:
        if boot_status not in _BOOT_STATUSES:
            raise ValueError(f"boot_status must be one of {_BOOT_STATUSES}, not {boot_status!r}")
        self.host = host
        self._port = port
        #: None accepts every idTag; edit at will while running.
        self.valid_id_tags: set[str] | None = None if valid_id_tags is None else set(valid_id_tags)
        #: None accepts every charge point id.
        self.allowed_stations: set[str] | None = None if allowed_stations is None else set(allowed_stations)
        self.heartbeat_interval = heartbeat_interval
        self.boot_status = boot_status
        self.log_messages = log_messages
        self.call_timeout_s = call_timeout_s
        self.log: list[LogEntry] = []
        self.stations: dict[str, StationInfo] = {}
        self.handlers: dict[str, CallHandler] = {
            "BootNotification": self._on_boot_notification,
            "Heartbeat": self._on_heartbeat,
            "StatusNotification": _answer_empty,
            "Authorize": self._on_authorize,
            "StartTransaction": self._on_start_transaction,
            "StopTransaction": self._on_stop_transaction,
            "MeterValues": _answer_empty,
            "DataTransfer": _answer_unknown_vendor,
            "FirmwareStatusNotification": _answer_empty,
            "DiagnosticsStatusNotification": _answer_empty,
            # Security whitepaper (edition 3) notifications: acknowledged too.
            "SecurityEventNotification": _answer_empty,
            "LogStatusNotification": _answer_empty,
            "SignedFirmwareStatusNotification": _answer_empty,
        }
        self._last_transaction_id = 0
        self._connections: dict[str, _Connection] = {}
        self._log_waiters: list[tuple[Callable[[LogEntry], bool], asyncio.Future[LogEntry]]] = []
        self._connection_changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        #: Firmware images to download and diagnostics uploads (``/files/...``).
        self.files = FileDepot()

    # --- lifecycle ---

    async def start(self) -> None:
        """Bind and serve. With ``port=0`` the system picks a free port: read :attr:`port` after."""
        if self._runner is not None:
            raise RuntimeError("CentralSystem already started")
        app = web.Application(middlewares=[_api_errors])
        app.router.add_get("/api/stations", self._api_stations)
        app.router.add_get("/api/stations/{cp_id}", self._api_station)
        app.router.add_post("/api/stations/{cp_id}/call", self._api_call)
        app.router.add_get("/api/log", self._api_log)
        app.router.add_routes(self.files.routes())
        app.router.add_route("*", "/api{tail:(/.*)?}", self._api_unknown)
        app.router.add_get("/{tail:.*}", self._ws_endpoint)
        app.on_shutdown.append(self._close_all)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self._port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._port = runner.addresses[0][1]

    async def stop(self) -> None:
        """Close every station websocket (1001 Going Away), then the listening socket."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        """The bound port (the one picked, when created with ``port=0``)."""
        if self._port == 0:
            raise RuntimeError("port=0: the port is known once start() returned")
        return self._port

    @property
    def url(self) -> str:
        """The OCPP-J endpoint URL; a station appends its id: ``csms.url + "CP_1"``."""
        return f"ws://{self._url_host}:{self.port}/ocpp/"

    @property
    def http_url(self) -> str:
        """``http://HOST:PORT``; the API is under ``/api``."""
        return f"http://{self._url_host}:{self.port}"

    @property
    def _url_host(self) -> str:
        if self.host in ("", "0.0.0.0", "::"):
            return "127.0.0.1"
        return f"[{self.host}]" if ":" in self.host else self.host

    # --- default answers (OCPP 1.6 §4, Central System side) ---

    def id_tag_info(self, id_tag: str) -> JsonDict:
        """``{"status": "Accepted"}`` for a valid idTag (all of them when valid_id_tags is None), else Invalid."""
        valid = self.valid_id_tags is None or id_tag in self.valid_id_tags
        return {"status": "Accepted" if valid else "Invalid"}

    def next_transaction_id(self) -> int:
        """Transaction ids increase from 1 across the whole CSMS."""
        self._last_transaction_id += 1
        return self._last_transaction_id

    def _on_boot_notification(self, cp_id: str, payload: JsonDict) -> JsonDict:
        return {
            "status": self.boot_status,
            "currentTime": format_datetime(time.time()),
            "interval": self.heartbeat_interval,
        }

    def _on_heartbeat(self, cp_id: str, payload: JsonDict) -> JsonDict:
        return {"currentTime": format_datetime(time.time())}

    def _on_authorize(self, cp_id: str, payload: JsonDict) -> JsonDict:
        return {"idTagInfo": self.id_tag_info(payload["idTag"])}

    def _on_start_transaction(self, cp_id: str, payload: JsonDict) -> JsonDict:
        return {"transactionId": self.next_transaction_id(), "idTagInfo": self.id_tag_info(payload["idTag"])}

    def _on_stop_transaction(self, cp_id: str, payload: JsonDict) -> JsonDict:
        if "idTag" in payload:
            return {"idTagInfo": self.id_tag_info(payload["idTag"])}
        return {}

    # --- CSMS-initiated CALLs ---

    async def call(
        self, cp_id: str, action: str, payload: JsonDict, timeout: float | None = None
    ) -> JsonDict:
        """Send a CALL to a station and return its CALLRESULT payload (OCPP-J 1.6 §4.1.1).

        Raises :class:`OcppError` for a payload that the schema rejects (nothing is sent) or an answer that
        does not validate, :class:`CallErrorReceived` for a CALLERROR, :class:`TimeoutError` when no answer
        comes within ``timeout`` (default ``call_timeout_s``), :class:`StationNotConnected` and
        :class:`StationDisconnected`. One CALL at a time per station: later calls wait their turn.
        """
        validate_request(action, payload)
        conn = self._connection(cp_id)
        wait_s = self.call_timeout_s if timeout is None else timeout
        async with conn.call_lock:
            if conn.closed:
                raise StationDisconnected(f"{cp_id} disconnected before {action} could be sent")
            message_id = str(uuid.uuid4())
            future: asyncio.Future[JsonDict] = asyncio.get_running_loop().create_future()
            conn.pending[message_id] = (action, future)
            try:
                await self._send(conn, Call(message_id, action, payload), action)
                async with asyncio.timeout(wait_s):
                    return await future
            except TimeoutError:
                raise TimeoutError(f"{cp_id} did not answer {action} within {wait_s:g} s") from None
            finally:
                conn.pending.pop(message_id, None)

    async def send_raw(self, cp_id: str, text: str) -> None:
        """Send any text to a station, unchecked and unlogged: for tests of the station's error handling."""
        conn = self._connection(cp_id)
        try:
            await conn.ws.send_str(text)
        except ConnectionError as exc:
            raise StationDisconnected(f"{cp_id}: {exc}") from None

    def _connection(self, cp_id: str) -> _Connection:
        conn = self._connections.get(cp_id)
        if conn is None:
            raise StationNotConnected(f"station {cp_id!r} is not connected")
        return conn

    # --- waiting, for tests ---

    async def wait_for(
        self, predicate: Callable[[LogEntry], bool], timeout: float = 10, *, since: int = 0
    ) -> LogEntry:
        """The first log entry from index ``since`` on, already logged or still to come, that matches.

        Raises TimeoutError listing the last log entries.
        """
        for entry in self.log[since:]:
            if predicate(entry):
                return entry
        future: asyncio.Future[LogEntry] = asyncio.get_running_loop().create_future()
        waiter = (predicate, future)
        self._log_waiters.append(waiter)
        try:
            async with asyncio.timeout(timeout):
                return await future
        except TimeoutError:
            raise TimeoutError(f"no log entry matched within {timeout:g} s; {self._log_tail()}") from None
        finally:
            self._log_waiters.remove(waiter)

    async def wait_connected(self, cp_id: str, timeout: float = 10) -> StationInfo:
        """Return once ``cp_id`` has an open websocket."""
        return await self._wait_connection(cp_id, True, timeout)

    async def wait_disconnected(self, cp_id: str, timeout: float = 10) -> StationInfo:
        """Return once ``cp_id`` has no open websocket."""
        return await self._wait_connection(cp_id, False, timeout)

    async def _wait_connection(self, cp_id: str, connected: bool, timeout: float) -> StationInfo:
        def reached() -> bool:
            return (cp_id in self._connections) is connected

        try:
            async with asyncio.timeout(timeout), self._connection_changed:
                await self._connection_changed.wait_for(reached)
        except TimeoutError:
            state = "connect" if connected else "disconnect"
            now = sorted(self._connections)
            raise TimeoutError(f"{cp_id} did not {state} within {timeout:g} s; connected: {now}") from None
        return self.stations.setdefault(cp_id, StationInfo(cp_id))

    def _log_tail(self) -> str:
        if not self.log:
            return "the log is empty"
        tail = self.log[-_TIMEOUT_CONTEXT_ENTRIES:]
        lines = "\n".join(f"  [{len(self.log) - len(tail) + i}] {e.describe()}" for i, e in enumerate(tail))
        return f"the last log entries are:\n{lines}"

    # --- logging ---

    def _log_frame(self, cp_id: str, direction: Direction, frame: Frame, action: str | None) -> None:
        kind, payload = _frame_log_fields(frame)
        entry = LogEntry(time.time(), cp_id, direction, kind, frame.message_id, action, payload)
        self.log.append(entry)
        if self.log_messages:
            print(entry.describe(), flush=True)
        for predicate, future in list(self._log_waiters):
            if future.done():
                continue
            try:
                if predicate(entry):
                    future.set_result(entry)
            except Exception as exc:
                future.set_exception(exc)

    def _note(self, cp_id: str, text: str) -> None:
        if self.log_messages:
            print(f"{clock_text(time.time())}  {cp_id} {text}", flush=True)

    # --- the websocket side ---

    async def _ws_endpoint(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(protocols=(SUBPROTOCOL,), timeout=CLOSE_TIMEOUT_S)
        ready = ws.can_prepare(request)
        cp_id = unquote(request.rel_url.raw_path.rsplit("/", 1)[-1])
        if not ready.ok:
            return self._plain_http(request, cp_id)
        if not cp_id:
            raise web.HTTPNotFound(text="no charge point id at the end of the path (OCPP-J 1.6 §3.1.1)\n")
        if self.allowed_stations is not None and cp_id not in self.allowed_stations:
            raise web.HTTPNotFound(text=f"unknown charge point id {cp_id!r}\n")
        if ready.protocol != SUBPROTOCOL:
            offered = request.headers.get("Sec-WebSocket-Protocol", "(none)")
            raise web.HTTPBadRequest(
                text=f"this Central System speaks OCPP 1.6J only: offer the websocket subprotocol "
                f"{SUBPROTOCOL!r} (OCPP-J 1.6 §3.1.2); offered: {offered}\n"
            )
        await ws.prepare(request)
        await self._serve_station(cp_id, ws, request.remote)
        return ws

    def _plain_http(self, request: web.Request, cp_id: str) -> web.StreamResponse:
        help_text = (
            f"Development OCPP 1.6J Central System.\nCharge points connect to {self.url}<chargePointId> "
            f"with subprotocol {SUBPROTOCOL}.\nHTTP API: GET /api/stations, GET /api/log?station=ID&since=N, "
            'POST /api/stations/ID/call {"action": ..., "payload": {...}}\n'
        )
        if not cp_id:
            return web.Response(text=help_text)
        return web.Response(status=426, text=f"this is a websocket endpoint.\n\n{help_text}")

    async def _serve_station(self, cp_id: str, ws: web.WebSocketResponse, remote: str | None) -> None:
        conn = _Connection(cp_id, ws)
        old = self._connections.get(cp_id)
        self._connections[cp_id] = conn
        station = self.stations.setdefault(cp_id, StationInfo(cp_id))
        station.connected = True
        replacing = " (replacing the previous connection)" if old else ""
        self._note(cp_id, f"connected from {remote} ({SUBPROTOCOL}){replacing}")
        await self._notify_connection_changed()
        if old is not None:
            conn.spawn(_close(old.ws, WSCloseCode.OK, "replaced by a new connection"))
        try:
            await self._receive_loop(conn)
        finally:
            await conn.shut()
            if self._connections.get(cp_id) is conn:
                del self._connections[cp_id]
                station.connected = False
                self._note(cp_id, f"disconnected (close code {ws.close_code})")
                await self._notify_connection_changed()

    async def _notify_connection_changed(self) -> None:
        async with self._connection_changed:
            self._connection_changed.notify_all()

    async def _close_all(self, app: web.Application) -> None:
        conns = list(self._connections.values())
        await asyncio.gather(
            *(c.ws.close(code=WSCloseCode.GOING_AWAY, message=b"CSMS shutting down") for c in conns),
            return_exceptions=True,
        )

    async def _receive_loop(self, conn: _Connection) -> None:
        async for message in conn.ws:
            if message.type is WSMsgType.TEXT:
                await self._on_text(conn, message.data)
            elif message.type is WSMsgType.BINARY:
                self._note(conn.charge_point_id, "sent a binary message, ignored (OCPP-J uses text frames)")

    async def _on_text(self, conn: _Connection, data: str) -> None:
        try:
            frame = decode_frame(data)
        except OcppError as exc:
            await self._on_bad_frame(conn, data, exc)
            return
        if isinstance(frame, Call):
            await self._on_call(conn, frame)
        else:
            self._on_answer(conn, frame)

    async def _on_bad_frame(self, conn: _Connection, data: str, exc: OcppError) -> None:
        self._note(conn.charge_point_id, f"sent an invalid frame ({exc}): {data[:200]!r}")
        if exc.message_id is None:
            return  # cannot be answered (OCPP-J 1.6 §4.2.3)
        if _looks_like_call(data):
            await self._send(conn, _error_frame(exc.message_id, exc), None)
            return
        pending = conn.pending.get(exc.message_id)
        if pending is not None and not pending[1].done():
            pending[1].set_exception(exc)

    async def _on_call(self, conn: _Connection, call: Call) -> None:
        """Answer a station's CALL. A synchronous handler is answered in line; an asynchronous one in a
        task of the connection, so it may itself ``await csms.call(...)`` to the same station."""
        self._log_frame(conn.charge_point_id, "in", call, call.action)
        try:
            result = self._start_handler(conn.charge_point_id, call)
        except Exception as exc:
            await self._send(conn, _error_frame(call.message_id, exc), call.action)
            return
        if inspect.isawaitable(result):
            conn.spawn(self._answer_later(conn, call, result))
        else:
            await self._send(conn, self._answer_frame(conn.charge_point_id, call, result), call.action)

    def _start_handler(self, cp_id: str, call: Call) -> JsonDict | Awaitable[JsonDict]:
        handler = self.handlers.get(call.action)
        known = has_schema(call.action)
        if handler is None:
            code = ErrorCode.NotSupported if known else ErrorCode.NotImplemented
            raise OcppError(code, f"this Central System does not handle {printable(call.action)}")
        if known:
            validate_request(call.action, call.payload, message_id=call.message_id)
        return handler(cp_id, call.payload)

    async def _answer_later(self, conn: _Connection, call: Call, result: Awaitable[JsonDict]) -> None:
        try:
            payload = await result
        except Exception as exc:
            frame: Frame = _error_frame(call.message_id, exc)
        else:
            frame = self._answer_frame(conn.charge_point_id, call, payload)
        await self._send(conn, frame, call.action)

    def _answer_frame(self, cp_id: str, call: Call, payload: Any) -> Frame:
        """Check what a handler returned and record the exchange in the station state."""
        try:
            if not isinstance(payload, dict):
                raise TypeError(f"handler returned {type(payload).__name__}, not a dict")
            if has_schema(call.action):
                validate_response(call.action, payload)
        except (TypeError, OcppError) as exc:
            problem = exc.description if isinstance(exc, OcppError) else str(exc)
            description = f"the CSMS handler for {call.action} gave an invalid answer: {problem}"
            return CallError(call.message_id, str(ErrorCode.InternalError), description)
        recorder = RECORDERS.get(call.action)
        if recorder is not None:
            recorder(self.stations[cp_id], call.payload, payload)
        return CallResult(call.message_id, payload)

    def _on_answer(self, conn: _Connection, frame: CallResult | CallError) -> None:
        pending = conn.pending.get(frame.message_id)
        self._log_frame(conn.charge_point_id, "in", frame, pending[0] if pending else None)
        if pending is None:
            self._note(conn.charge_point_id, f"answered unknown or expired message id {frame.message_id}")
            return
        action, future = pending
        if future.done():
            return
        if isinstance(frame, CallError):
            future.set_exception(CallErrorReceived(frame.error_code, frame.description, frame.details))
            return
        try:
            validate_response(action, frame.payload, message_id=frame.message_id)
        except OcppError as exc:
            description = (
                f"{conn.charge_point_id} answered {action} with an invalid payload: {exc.description}"
            )
            future.set_exception(
                OcppError(exc.code, description, message_id=exc.message_id, details=exc.details)
            )
            return
        future.set_result(frame.payload)

    async def _send(self, conn: _Connection, frame: Frame, action: str | None) -> None:
        # Logged before the await: the answer may be processed before send_str returns.
        self._log_frame(conn.charge_point_id, "out", frame, action)
        try:
            await conn.ws.send_str(encode_frame(frame).decode())
        except ConnectionError as exc:
            if isinstance(frame, Call):
                raise StationDisconnected(f"{conn.charge_point_id}: {exc}") from None
            self._note(conn.charge_point_id, f"gone before the answer could be sent: {exc}")

    # --- the HTTP API ---

    async def _api_stations(self, request: web.Request) -> web.Response:
        return _json([s.to_json() for s in self.stations.values()])

    async def _api_station(self, request: web.Request) -> web.Response:
        cp_id = request.match_info["cp_id"]
        station = self.stations.get(cp_id)
        if station is None:
            raise _ApiError(404, f"no station {cp_id!r} has connected")
        return _json(station.to_json())

    async def _api_log(self, request: web.Request) -> web.Response:
        since_text = request.query.get("since", "0")
        try:
            since = int(since_text)
        except ValueError:
            since = -1
        if since < 0:
            raise _ApiError(400, f"since must be a log index >= 0, not {since_text!r}")
        station = request.query.get("station")
        entries = [
            asdict(entry) | {"index": index}
            for index, entry in enumerate(self.log[since:], start=since)
            if station is None or entry.charge_point_id == station
        ]
        return _json(entries)

    async def _api_call(self, request: web.Request) -> web.Response:
        cp_id = request.match_info["cp_id"]
        action, payload, timeout = _parse_call_body(await request.read())
        try:
            validate_request(action, payload)
        except OcppError as exc:
            raise _ApiError(400, exc.description, code=str(exc.code)) from None
        try:
            result = await self.call(cp_id, action, payload, timeout)
        except StationNotConnected as exc:
            raise _ApiError(404, str(exc)) from None
        except CallErrorReceived as exc:
            error = {"code": exc.code, "description": exc.description, "details": exc.details}
            return _json({"error": error})
        except TimeoutError as exc:
            raise _ApiError(504, str(exc)) from None
        except StationDisconnected as exc:
            raise _ApiError(502, str(exc)) from None
        except OcppError as exc:  # the answer did not validate
            raise _ApiError(502, exc.description, code=str(exc.code)) from None
        return _json({"result": result})

    async def _api_unknown(self, request: web.Request) -> web.Response:
        raise _ApiError(
            404,
            f"no API endpoint {request.method} {request.path}; try GET /api/stations, "
            "GET /api/stations/ID, GET /api/log?station=ID&since=N, POST /api/stations/ID/call",
        )


def _parse_call_body(raw: bytes) -> tuple[str, JsonDict, float | None]:
    """``{"action": str, "payload": {...} (default {}), "timeout": seconds (optional)}``."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise _ApiError(400, f"the body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise _ApiError(400, 'the body must be a JSON object {"action": ..., "payload": {...}}')
    action = body.get("action")
    if not isinstance(action, str) or not action:
        raise _ApiError(400, 'the body needs "action", a non-empty string (e.g. "Reset")')
    payload = body.get("payload", {})
    if not isinstance(payload, dict):
        raise _ApiError(400, '"payload" must be a JSON object')
    timeout = body.get("timeout")
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0
    ):
        raise _ApiError(400, '"timeout" must be a positive number of seconds')
    return action, payload, None if timeout is None else float(timeout)


async def _close(ws: web.WebSocketResponse, code: int, reason: str) -> None:
    await ws.close(code=code, message=reason.encode())


def _answer_empty(cp_id: str, payload: JsonDict) -> JsonDict:
    return {}


def _answer_unknown_vendor(cp_id: str, payload: JsonDict) -> JsonDict:
    return {"status": "UnknownVendorId"}


async def serve(host: str = "127.0.0.1", port: int = 9000, **kwargs: Any) -> None:
    """Run a :class:`CentralSystem` until cancelled (the ``ocpp-station csms`` command).

    ``kwargs`` are those of :class:`CentralSystem` (valid_id_tags, log_messages, ...).
    """
    csms = CentralSystem(host=host, port=port, **kwargs)
    await csms.start()
    try:
        print(
            f"Development CSMS listening on {csms.url}<chargePointId> (HTTP API on {csms.http_url}/api)",
            flush=True,
        )
        await asyncio.Event().wait()
    finally:
        await csms.stop()
