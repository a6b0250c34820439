"""Our side of OCPP-J RPC at run time (OCPP-J 1.6 §4): frames in, CALLs out, the reply cache.

The engine's RPC pump, in a module of its own (issue #9 §2): it decodes every frame (§4.1.3), answers
incoming CALLs through the routing table after the action is resolved against the fixed table of
OCPP 1.6 actions and the payload is validated (strict on output, configurable on input, the OCPP-J
CALLERROR codes), keeps the last answers for a CALL sent again (the reply cache), hands CALLRESULTs and
CALLERRORs of our CALLs to their features, retries transaction messages (§4.7) and sends the next CALL
of the :class:`~ocpp_station.core.rpc.Outbox` when OCPP-J §4.1.1 (one in flight) and OCPP 1.6 §4.2 (the
pre-boot gate) allow, throttled after a reconnect (issue #3). Pure: no I/O, no clock.

Incoming CALLs and the registration state (§4.2): while Rejected nothing is answered (strict mode);
before the BootNotification is answered, strict mode answers GenericError; while Pending every CALL is
answered (the CSMS may configure us).

A frame that is no OCPP message, or a CALL with an unknown action or a payload that breaks the schema, is
the security event InvalidMessages (security whitepaper §8; :data:`INVALID_MESSAGE_CODES`): one security
log entry per frame, naming the action and the CALLERROR code, never the payload.
"""

from __future__ import annotations

from typing import Any

from ocpp_station.core.context import Context, log
from ocpp_station.core.effects import CallCompleted, SendFrame
from ocpp_station.core.features.base import Feature, Routes
from ocpp_station.core.rpc import Outbox, OutgoingCall
from ocpp_station.wire import schemas
from ocpp_station.wire.actions import is_known, printable
from ocpp_station.wire.errors import ErrorCode, OcppError, parse_error_code
from ocpp_station.wire.frames import (
    Call,
    CallError,
    CallResult,
    decode_frame,
    encode_call_body,
    encode_frame,
    encode_result_body,
)
from ocpp_station.wire.messages import OcppStruct

#: The answers kept for a CALL sent again (a CSMS resending after a reconnect).
REPLAY_CACHE_SIZE = 64
#: CALLERROR codes that mean the CSMS's CALL was no valid OCPP message (security event InvalidMessages,
#: whitepaper §8): an unknown action, a payload that breaks the schema. NotSupported (a valid message
#: of a feature not offered), GenericError (before BootNotification) and InternalError (ours) are not.
INVALID_MESSAGE_CODES = frozenset(
    {
        ErrorCode.NotImplemented,
        ErrorCode.ProtocolError,
        ErrorCode.FormationViolation,
        ErrorCode.PropertyConstraintViolation,
        ErrorCode.OccurenceConstraintViolation,
        ErrorCode.TypeConstraintViolation,
    }
)
#: A replay token this close (in seconds of refill) counts as there.
_REPLAY_SLACK_S = 1e-3


class RpcPump:
    """One charge point's RPC state: the outbox's driver, the reply cache, the replay throttle."""

    def __init__(self, ctx: Context, outbox: Outbox) -> None:
        self.ctx = ctx
        self.outbox = outbox
        #: The features and who of them handles which message (set by the engine once composed).
        self.features: tuple[Feature, ...] = ()
        self.routes = Routes({}, {}, {}, {})
        #: The last answers we sent, by message id (a dict keeps insertion order; an OrderedDict costs
        #: 700 bytes more per station even when empty).
        self._recent: dict[str, tuple[str, bytes]] = {}
        self._replay_left = 0
        self._tokens = 0.0
        self._tokens_at = 0.0
        #: Statistics of every exchange (EngineSettings.call_observer), None: none.
        self.observer = ctx.settings.call_observer

    # -- settling: after every event --------------------------------------------------------------
    def settle(self) -> None:
        """After every event: what waits for a reply goes, dropped and timed-out calls fail back,
        and the next CALL goes out when §4.1.1 and §4.2 allow."""
        ctx = self.ctx
        while ctx.after_reply:
            ctx.after_reply.pop(0)()
        while self.outbox.dropped:
            self._failed(self.outbox.dropped.pop(0), "Dropped", "offline queue full")
        flight = self.outbox.in_flight
        if flight is not None and flight.timeout_at <= ctx.now:
            self._timed_out()
        self._pump()

    def _pump(self) -> None:
        ctx = self.ctx
        if self._replay_left <= 0 and self.outbox.in_flight is not None:
            return  # one CALL in flight (OCPP-J §4.1.1): nothing to do until it is answered
        while ctx.connected:
            rate = ctx.settings.replay_rate_per_s
            if self._replay_left > 0 and rate > 0:
                # A backlog after a reconnect goes out at replay_rate_per_s after a burst of
                # replay_burst, not all at once: a fleet coming back does not flood its CSMS (issue #3).
                self._tokens = min(
                    ctx.settings.replay_burst, self._tokens + (ctx.now - self._tokens_at) * rate
                )
                self._tokens_at = ctx.now
                wait = (1 - self._tokens) / rate
                # Under a millisecond short is float rounding on an epoch-sized clock (a timer set
                # that close would fire at the same ``now`` and find the same shortfall, forever).
                if wait > _REPLAY_SLACK_S:
                    ctx.timers.set("replay", ctx.now + wait, lambda now: None)
                    return
            call = self.outbox.next_ready(ctx.now, ctx.accepted)
            if call is None:
                return
            route = self.routes.prepare.get(call.action)
            if route is not None and not route[1](self.features[route[0]], call):
                self._completed(call, error="Dropped", description="could not be prepared")
                continue
            try:
                body = schemas.encode_checked(call.payload, call.action)
            except OcppError as exc:
                # Strict on output: a payload of ours that breaks the schema is a bug; never send it.
                log.error("not sending invalid %s: %s", call.action, exc.description)
                self._completed(call, error=str(ErrorCode.InternalError), description=exc.description)
                continue
            message_id = self.outbox.start(call, ctx.now, ctx.settings.call_timeout_s)
            call.attempts += 1
            if self._replay_left > 0:
                self._replay_left -= 1
                self._tokens -= 1
            ctx.emit(SendFrame(encode_call_body(message_id, call.action, body)))
            if self.observer is not None:
                self.observer.sent(call.action)
            return

    def answered(self) -> frozenset[str]:
        """The actions of the CSMS's CALLs this charge point answers (the others: NotSupported)."""
        return frozenset(a for a, (i, _) in self.routes.answers.items() if self.features[i].supported)

    # -- connection ---------------------------------------------------------------------------------
    def connected(self) -> None:
        """The link is up: what is queued goes out, throttled (issue #3 replay)."""
        self.ctx.connected = True
        self._replay_left = self.outbox.backlog()
        self._tokens = float(self.ctx.settings.replay_burst)
        self._tokens_at = self.ctx.now

    def disconnected(self) -> None:
        self.ctx.connected = False
        self._observe_end("Lost")
        call = self.outbox.abandon()
        if call is not None:
            self._requeue_or_fail(call, "Dropped")
        # Not kept for later (Heartbeat: the next one is due after the reconnect anyway).
        for dropped in self.outbox.remove_where(lambda queued: queued.policy.dropped_offline):
            self._completed(dropped, error="Dropped", description="offline")

    def _timed_out(self) -> None:
        self._observe_end("Timeout")
        call = self.outbox.abandon()
        if call is not None:
            log.warning("%s timed out after %s s", call.action, self.ctx.settings.call_timeout_s)
            self._requeue_or_fail(call, "Timeout")

    def _requeue_or_fail(self, call: OutgoingCall, reason: str) -> None:
        if call.kept:  # transaction messages, StatusNotification (core/policy.py)
            call.attempts = max(call.attempts - 1, 0)  # an unanswered attempt does not count
            self.outbox.add(call, front=True)
        else:
            self._failed(call, reason, "")

    # -- frames in ----------------------------------------------------------------------------------
    def frame(self, data: bytes | str) -> None:
        try:
            frame = decode_frame(data)
        except OcppError as exc:
            self._invalid("a frame", exc.code)
            if exc.code is ErrorCode.ProtocolError:
                log.warning("ignoring frame: %s", exc.description)  # OCPP-J 1.6 §4.1.3
                return
            if self._silenced():
                log.warning("Rejected by the CSMS: not answering a bad frame (OCPP 1.6 §4.2)")
                return
            self._send_error(exc.message_id or "-1", exc)
            return
        if isinstance(frame, Call):
            self._incoming_call(frame)
        elif isinstance(frame, CallResult):
            self._call_result(frame)
        else:
            self._call_error(frame)

    def _invalid(self, what: str, code: ErrorCode) -> None:
        """A frame from the CSMS that is no valid OCPP message: the security event InvalidMessages
        (security whitepaper §8), one log entry per frame; the techInfo names the action and the error,
        never the payload."""
        self.ctx.tell("security_event", "InvalidMessages", f"{what}: {code.value}")

    def _silenced(self) -> bool:
        """While Rejected the charge point SHALL NOT respond to any CSMS message (OCPP 1.6 §4.2)."""
        return self.ctx.registration == "Rejected" and self.ctx.settings.strict

    def _send_error(self, message_id: str, exc: OcppError) -> None:
        self.ctx.emit(
            SendFrame(encode_frame(CallError(message_id, exc.code, exc.description[:255], exc.details)))
        )

    def _incoming_call(self, call: Call) -> None:
        ctx = self.ctx
        strict = ctx.settings.strict
        if self._silenced():
            log.warning("Rejected by the CSMS: not answering %s (OCPP 1.6 §4.2)", printable(call.action))
            return
        try:
            # The action is resolved against the fixed table before anything else looks at it: no
            # file, path or code is ever derived from frame content (issue #8).
            if not is_known(call.action):
                raise OcppError(ErrorCode.NotImplemented, f"unknown action {printable(call.action)}")
            cached = self._recent.get(call.message_id)
            if cached is not None and cached[0] == call.action:
                # The same CALL again (a CSMS resending after a reconnect): answer as before, once.
                ctx.emit(SendFrame(cached[1]))
                return
            route = self.routes.answers.get(call.action)
            if route is None or not self.features[route[0]].supported:
                raise OcppError(ErrorCode.NotSupported, f"{call.action} is not supported")
            if ctx.registration is None and strict:
                raise OcppError(ErrorCode.GenericError, "BootNotification not yet answered (OCPP 1.6 §4.2)")
            request = schemas.parse_request(call.action, call.payload, strict=strict)
            response: OcppStruct | None = route[1](self.features[route[0]], request, call)
        except OcppError as exc:
            if exc.code in INVALID_MESSAGE_CODES:
                action = call.action if is_known(call.action) else ascii(call.action[:20])
                self._invalid(f"CALL {action}", exc.code)
            self._send_error(call.message_id, exc)
            self._observe_received(call.action, exc.code)
            return
        except Exception:
            # A defect of ours must not cost the link: the CSMS gets InternalError (OCPP-J §4.2.3).
            log.exception("%s handler failed", call.action)
            self._send_error(call.message_id, OcppError(ErrorCode.InternalError, "internal error"))
            self._observe_received(call.action, ErrorCode.InternalError)
            return
        if response is not None:
            self._reply(call.message_id, call.action, response)

    def _reply(self, message_id: str, action: str, payload: OcppStruct) -> None:
        try:
            data = encode_result_body(message_id, schemas.encode_checked(payload, action + "Response"))
        except OcppError as exc:
            log.error("our %s response is invalid: %s", action, exc.description)
            self._send_error(message_id, OcppError(ErrorCode.InternalError, "internal error"))
            self._observe_received(action, ErrorCode.InternalError)
            return
        # Kept for replays (joined bytes: exactly their size, no encoder buffer behind them).
        self._recent[message_id] = (action, data)
        if len(self._recent) > REPLAY_CACHE_SIZE:
            del self._recent[next(iter(self._recent))]
        self.ctx.emit(SendFrame(data))
        if self.observer is not None:
            self.observer.received(action, None)

    def reply_later(self, message_id: str, action: str, payload: OcppStruct) -> None:
        self._reply(message_id, action, payload)

    def _call_result(self, frame: CallResult) -> None:
        sent_at = self._sent_at(frame.message_id)
        call = self.outbox.finish(frame.message_id)
        if call is None:
            log.warning("ignoring CALLRESULT with unknown id %s", printable(frame.message_id))
            return
        try:
            response = schemas.parse_response(call.action, frame.payload, strict=self.ctx.settings.strict)
        except OcppError as exc:
            log.warning("invalid %s response from the CSMS: %s", call.action, exc.description)
            if self.observer is not None:
                self.observer.answered(call.action, self.ctx.now - sent_at, str(exc.code))
            self._retry_or_fail(call, str(exc.code), exc.description)
            return
        if self.observer is not None:
            self.observer.answered(call.action, self.ctx.now - sent_at, None)
        route = self.routes.result.get(call.action)
        if route is not None:
            self.ctx.answered_sent_at = sent_at
            route[1](self.features[route[0]], call, response)
        self._completed(call, result=frame.payload)

    def _call_error(self, frame: CallError) -> None:
        sent_at = self._sent_at(frame.message_id)
        call = self.outbox.finish(frame.message_id)
        if call is None:
            log.warning("ignoring CALLERROR with unknown id %s", printable(frame.message_id))
            return
        code = parse_error_code(frame.error_code)
        reason = str(code) if code is not None else frame.error_code
        if self.observer is not None:
            self.observer.answered(call.action, self.ctx.now - sent_at, reason)
        if code is None and self.ctx.settings.strict:
            log.warning("CALLERROR with unknown code %s", printable(frame.error_code))
        self._retry_or_fail(call, reason, frame.description)

    # -- statistics (EngineSettings.call_observer) ---------------------------------------------------
    def _sent_at(self, message_id: str) -> float:
        flight = self.outbox.in_flight
        return flight.sent_at if flight is not None and flight.message_id == message_id else self.ctx.now

    def _observe_end(self, outcome: str) -> None:
        """The call in flight ends without an answer (``Timeout``, ``Lost``)."""
        flight = self.outbox.in_flight
        if self.observer is not None and flight is not None:
            self.observer.answered(flight.call.action, self.ctx.now - flight.sent_at, outcome)

    def _observe_received(self, action: str, code: ErrorCode) -> None:
        if self.observer is not None:
            self.observer.received(action if is_known(action) else "(unknown)", str(code))

    def _retry_or_fail(self, call: OutgoingCall, reason: str, description: str) -> None:
        """A CALLERROR, or a CALLRESULT that breaks the schema. OCPP 1.6 §4.7: a transaction message
        is retried TransactionMessageAttempts times, waiting longer each time, then dropped."""
        if call.transactional:
            if call.attempts < self.ctx.config.get_int("TransactionMessageAttempts"):
                interval = self.ctx.config.get_int("TransactionMessageRetryInterval")
                call.not_before = self.ctx.now + interval * call.attempts
                self.outbox.add(call, front=True)
                self.ctx.persist_call(call)
                return
            log.error("%s dropped after %s attempts (%s)", call.action, call.attempts, reason)
        self._failed(call, reason, description)

    def _failed(self, call: OutgoingCall, reason: str, description: str) -> None:
        route = self.routes.failure.get(call.action)
        if route is not None:
            route[1](self.features[route[0]], call, reason)
        self._completed(call, error=reason, description=description)

    def _completed(
        self,
        call: OutgoingCall,
        *,
        result: dict[str, Any] | None = None,
        error: str | None = None,
        description: str = "",
    ) -> None:
        self.ctx.forget_call(call)
        ref = call.meta.get("ref")
        if ref is not None:
            self.ctx.emit(CallCompleted(ref, result, error, description))
