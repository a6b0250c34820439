"""One station's websocket to the development CSMS: frames in and out, the station's CALLs answered, our
CALLs to the station awaited.

:class:`StationLink` reads the station's text frames (OCPP-J 1.6 §4) and decodes and validates each with
:mod:`ocpp_station.wire`: an invalid CALL is answered with the CALLERROR code the wire layer names, a frame
without a usable message id is not answered (§4.2.3). A CALL is answered through the handlers table of
its :class:`LinkHost` (the :class:`~ocpp_station.sim.csms.CentralSystem`), the answer checked against the
schema, and the exchange recorded in the station state by :data:`~ocpp_station.sim.records.RECORDERS`.
A CALLRESULT or CALLERROR settles the pending CALL it answers. Every frame in or out is logged through
the host.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

import orjson
from aiohttp import WSMsgType, web

from ocpp_station.sim.records import (
    RECORDERS,
    CallErrorReceived,
    Direction,
    JsonDict,
    StationDisconnected,
    StationInfo,
)
from ocpp_station.wire.actions import printable
from ocpp_station.wire.errors import ErrorCode, OcppError
from ocpp_station.wire.frames import Call, CallError, CallResult, Frame, decode_frame, encode_frame
from ocpp_station.wire.schemas import has_schema, validate_request, validate_response

#: The CSMS's logger, whichever of its modules writes.
_logger = logging.getLogger("ocpp_station.sim.csms")

#: ``(chargePointId, request payload) -> response payload``; raise :class:`OcppError` to answer a CALLERROR.
CallHandler = Callable[[str, JsonDict], JsonDict | Awaitable[JsonDict]]


class LinkHost(Protocol):
    """What a link reads and reports (the Central System). Read at each frame: tables edited while
    running take effect at once."""

    @property
    def handlers(self) -> Mapping[str, CallHandler]: ...

    @property
    def stations(self) -> Mapping[str, StationInfo]: ...

    def log_frame(self, cp_id: str, direction: Direction, frame: Frame, action: str | None) -> None: ...

    def note(self, cp_id: str, text: str) -> None: ...


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


class StationLink:
    """One open station websocket: its outgoing-CALL lock, pending CALLs and handler tasks.

    The Central System runs :meth:`run` in the websocket's request handler, until the socket closes.
    """

    def __init__(self, charge_point_id: str, ws: web.WebSocketResponse, host: LinkHost) -> None:
        self.charge_point_id = charge_point_id
        self.ws = ws
        self.closed = False
        self.call_lock = asyncio.Lock()
        self.pending: dict[str, tuple[str, asyncio.Future[JsonDict]]] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self._host = host

    def spawn(self, coro: Awaitable[None]) -> None:
        """Run ``coro`` in a task of this link, cancelled when the socket closes."""

        async def run() -> None:
            await coro

        task = asyncio.create_task(run())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def run(self) -> None:
        """Handle the station's frames until the socket closes, then :meth:`shut`."""
        try:
            async for message in self.ws:
                if message.type is WSMsgType.TEXT:
                    await self._on_text(message.data)
                elif message.type is WSMsgType.BINARY:
                    self._note("sent a binary message, ignored (OCPP-J uses text frames)")
        finally:
            await self.shut()

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

    async def close(self, code: int, reason: str) -> None:
        """Close the websocket with ``code`` and ``reason``; :meth:`run` then ends."""
        await self.ws.close(code=code, message=reason.encode())

    # --- CSMS-initiated CALLs ---

    async def call(self, action: str, payload: JsonDict, wait_s: float) -> JsonDict:
        """Send a CALL (already validated) and return the CALLRESULT payload (OCPP-J 1.6 §4.1.1).

        One CALL at a time: later calls wait their turn. Raises as
        :meth:`CentralSystem.call <ocpp_station.sim.csms.CentralSystem.call>` says.
        """
        cp_id = self.charge_point_id
        async with self.call_lock:
            if self.closed:
                raise StationDisconnected(f"{cp_id} disconnected before {action} could be sent")
            message_id = str(uuid.uuid4())
            future: asyncio.Future[JsonDict] = asyncio.get_running_loop().create_future()
            self.pending[message_id] = (action, future)
            try:
                await self._send(Call(message_id, action, payload), action)
                async with asyncio.timeout(wait_s):
                    return await future
            except TimeoutError:
                raise TimeoutError(f"{cp_id} did not answer {action} within {wait_s:g} s") from None
            finally:
                self.pending.pop(message_id, None)

    async def send_raw(self, text: str) -> None:
        """Send any text, unchecked and unlogged."""
        try:
            await self.ws.send_str(text)
        except ConnectionError as exc:
            raise StationDisconnected(f"{self.charge_point_id}: {exc}") from None

    # --- frames from the station ---

    async def _on_text(self, data: str) -> None:
        try:
            frame = decode_frame(data)
        except OcppError as exc:
            await self._on_bad_frame(data, exc)
            return
        if isinstance(frame, Call):
            await self._on_call(frame)
        else:
            self._on_answer(frame)

    async def _on_bad_frame(self, data: str, exc: OcppError) -> None:
        self._note(f"sent an invalid frame ({exc}): {data[:200]!r}")
        if exc.message_id is None:
            return  # cannot be answered (OCPP-J 1.6 §4.2.3)
        if _looks_like_call(data):
            await self._send(_error_frame(exc.message_id, exc), None)
            return
        pending = self.pending.get(exc.message_id)
        if pending is not None and not pending[1].done():
            pending[1].set_exception(exc)

    async def _on_call(self, call: Call) -> None:
        """Answer a station's CALL. A synchronous handler is answered in line; an asynchronous one in a
        task of the connection, so it may itself ``await csms.call(...)`` to the same station."""
        self._host.log_frame(self.charge_point_id, "in", call, call.action)
        try:
            result = self._start_handler(call)
        except Exception as exc:
            await self._send(_error_frame(call.message_id, exc), call.action)
            return
        if inspect.isawaitable(result):
            self.spawn(self._answer_later(call, result))
        else:
            await self._send(self._answer_frame(call, result), call.action)

    def _start_handler(self, call: Call) -> JsonDict | Awaitable[JsonDict]:
        handler = self._host.handlers.get(call.action)
        known = has_schema(call.action)
        if handler is None:
            code = ErrorCode.NotSupported if known else ErrorCode.NotImplemented
            raise OcppError(code, f"this Central System does not handle {printable(call.action)}")
        if known:
            validate_request(call.action, call.payload, message_id=call.message_id)
        return handler(self.charge_point_id, call.payload)

    async def _answer_later(self, call: Call, result: Awaitable[JsonDict]) -> None:
        try:
            payload = await result
        except Exception as exc:
            frame: Frame = _error_frame(call.message_id, exc)
        else:
            frame = self._answer_frame(call, payload)
        await self._send(frame, call.action)

    def _answer_frame(self, call: Call, payload: Any) -> Frame:
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
            recorder(self._host.stations[self.charge_point_id], call.payload, payload)
        return CallResult(call.message_id, payload)

    def _on_answer(self, frame: CallResult | CallError) -> None:
        pending = self.pending.get(frame.message_id)
        self._host.log_frame(self.charge_point_id, "in", frame, pending[0] if pending else None)
        if pending is None:
            self._note(f"answered unknown or expired message id {frame.message_id}")
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
                f"{self.charge_point_id} answered {action} with an invalid payload: {exc.description}"
            )
            future.set_exception(
                OcppError(exc.code, description, message_id=exc.message_id, details=exc.details)
            )
            return
        future.set_result(frame.payload)

    # --- frames to the station ---

    async def _send(self, frame: Frame, action: str | None) -> None:
        # Logged before the await: the answer may be processed before send_str returns.
        self._host.log_frame(self.charge_point_id, "out", frame, action)
        try:
            await self.ws.send_str(encode_frame(frame).decode())
        except ConnectionError as exc:
            if isinstance(frame, Call):
                raise StationDisconnected(f"{self.charge_point_id}: {exc}") from None
            self._note(f"gone before the answer could be sent: {exc}")

    def _note(self, text: str) -> None:
        self._host.note(self.charge_point_id, text)
