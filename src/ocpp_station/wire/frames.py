"""OCPP-J 1.6 RPC frames (OCPP-J 1.6 §4): CALL, CALLRESULT and CALLERROR, and their codec.

``decode_frame`` either returns a frame or raises :class:`OcppError` carrying the CALLERROR code that
answers it and, when it could be read, the offending message id. It never raises anything else
(property-tested and fuzzed in ``tests/wire``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from ocpp_station.wire.errors import ErrorCode, OcppError

CALL = 2
CALLRESULT = 3
CALLERROR = 4

#: OCPP-J 1.6 §4.1.4: "Maximum of 36 characters".
MAX_MESSAGE_ID_LENGTH = 36


@dataclass(frozen=True, slots=True)
class Call:
    """``[2, "<UniqueId>", "<Action>", {<Payload>}]`` (OCPP-J 1.6 §4.2.1)."""

    message_id: str
    action: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CallResult:
    """``[3, "<UniqueId>", {<Payload>}]`` (OCPP-J 1.6 §4.2.2)."""

    message_id: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CallError:
    """``[4, "<UniqueId>", "<errorCode>", "<errorDescription>", {<errorDetails>}]`` (OCPP-J 1.6 §4.2.3).

    ``error_code`` is kept as received; :func:`ocpp_station.wire.errors.parse_error_code` reads it.
    """

    message_id: str
    error_code: str
    description: str = ""
    details: dict[str, Any] = field(default_factory=dict)


Frame = Call | CallResult | CallError


def encode_frame(frame: Frame) -> bytes:
    """The UTF-8 JSON text of a frame (OCPP-J 1.6 §4.1.2), ready for a websocket text message."""
    if isinstance(frame, Call):
        return orjson.dumps([CALL, frame.message_id, frame.action, frame.payload])
    if isinstance(frame, CallResult):
        return orjson.dumps([CALLRESULT, frame.message_id, frame.payload])
    return orjson.dumps(
        [CALLERROR, frame.message_id, str(frame.error_code), frame.description, frame.details]
    )


def encode_call(message_id: str, action: str, payload: dict[str, Any]) -> bytes:
    """Fast path for the hot CALL encode, without building a :class:`Call`."""
    return orjson.dumps([CALL, message_id, action, payload])


def encode_call_body(message_id: str, action: str, body: bytes) -> bytes:
    """A CALL around a payload already encoded (a typed message's JSON text)."""
    return b"".join((b"[2,", orjson.dumps(message_id), b",", orjson.dumps(action), b",", body, b"]"))


def encode_result_body(message_id: str, body: bytes) -> bytes:
    """A CALLRESULT around a payload already encoded (a typed message's JSON text)."""
    return b"".join((b"[3,", orjson.dumps(message_id), b",", body, b"]"))


def _payload(value: Any, message_id: str) -> dict[str, Any]:
    # OCPP-J 1.6 §4.2.1/§4.2.2: "JSON allows for two different notations: null or an empty object {}".
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise OcppError(ErrorCode.FormationViolation, "payload is not a JSON object", message_id=message_id)
    return value


def decode_frame(data: str | bytes) -> Frame:
    """Parse one websocket message into a frame, or raise :class:`OcppError`.

    Raises ``OcppError(FormationViolation)`` for anything that is not a well-formed OCPP-J frame;
    ``message_id`` is set on the error when the id was readable, so the caller can answer it.
    ``OcppError(ProtocolError)`` means "do not answer": an unknown MessageTypeId (OCPP-J 1.6 §4.1.3
    says to ignore the payload) and a malformed CALLRESULT or CALLERROR (a CALLERROR only ever
    answers a CALL, §4.2.3, and their id is the receiver's own); callers log it.
    """
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise OcppError(ErrorCode.FormationViolation, f"not valid JSON: {exc}") from None
    if not isinstance(value, list) or not value:
        raise OcppError(ErrorCode.FormationViolation, "a frame must be a non-empty JSON array")
    message_id = value[1] if len(value) > 1 and isinstance(value[1], str) else None
    kind = value[0]
    if type(kind) is not int:
        raise OcppError(
            ErrorCode.FormationViolation, "MessageTypeId must be an integer", message_id=message_id
        )
    if kind not in (CALL, CALLRESULT, CALLERROR):
        raise OcppError(ErrorCode.ProtocolError, f"unknown MessageTypeId {kind}", message_id=message_id)
    if message_id is None:
        raise OcppError(ErrorCode.FormationViolation, "UniqueId must be a string")
    if len(message_id) > MAX_MESSAGE_ID_LENGTH:
        raise OcppError(
            ErrorCode.FormationViolation,
            f"UniqueId longer than {MAX_MESSAGE_ID_LENGTH} characters",
            message_id=message_id,
        )
    if kind == CALL:
        if len(value) != 4:
            raise OcppError(
                ErrorCode.FormationViolation, "a CALL has exactly 4 elements", message_id=message_id
            )
        action = value[2]
        if not isinstance(action, str) or not action:
            raise OcppError(
                ErrorCode.FormationViolation, "Action must be a non-empty string", message_id=message_id
            )
        return Call(message_id, action, _payload(value[3], message_id))
    if kind == CALLRESULT:
        if len(value) != 3:
            raise OcppError(
                ErrorCode.ProtocolError, "a CALLRESULT has exactly 3 elements", message_id=message_id
            )
        payload = value[2]
        if payload is not None and not isinstance(payload, dict):
            raise OcppError(
                ErrorCode.ProtocolError, "CALLRESULT payload is not a JSON object", message_id=message_id
            )
        return CallResult(message_id, payload or {})
    if len(value) not in (4, 5):
        raise OcppError(ErrorCode.ProtocolError, "a CALLERROR has exactly 5 elements", message_id=message_id)
    code, description = value[2], value[3]
    details = value[4] if len(value) == 5 else {}
    if not isinstance(code, str) or not isinstance(description, str):
        raise OcppError(
            ErrorCode.ProtocolError,
            "errorCode and errorDescription must be strings",
            message_id=message_id,
        )
    if details is None:
        details = {}
    if not isinstance(details, dict):
        raise OcppError(ErrorCode.ProtocolError, "errorDetails must be a JSON object", message_id=message_id)
    return CallError(message_id, code, description, details)
