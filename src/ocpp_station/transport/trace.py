"""The OCPP message trace of one station: the last frames in a bounded ring, for the dashboard.

Kept only when asked (:meth:`Station.enable_trace`: ``ocpp-station run`` at start, a fleet's station
when its page subscribes); a station without one pays nothing on its frame path. Each frame is decoded
once more here (the engine decodes its own copy), which is the whole cost of a trace while it is on.

An entry is a JSON object: ``seq``, ``time`` (wall clock, ms), ``direction`` (``"out"``: to the CSMS,
``"in"``: from it), ``type`` (CALL, CALLRESULT, CALLERROR, or ``"?"`` for a frame that does not
decode), ``messageId``, ``action`` (for a result: the action of its CALL), ``connectorId`` (when the
payload names one), ``payload`` and, for a result or error, ``latencyMs`` since its CALL was seen and
``callSeq``, the ``seq`` of that CALL (OCPP-J §4: a CALLRESULT or CALLERROR carries only the message id).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Any

import orjson

#: The ring's default length (frames).
TRACE_SIZE = 500
#: Open CALLs remembered for linking their results; a CALL never answered falls out after this many.
_OPEN_CALLS = 256
_TYPES = {2: "CALL", 3: "CALLRESULT", 4: "CALLERROR"}

FrameLogger = Callable[[str, bool, bytes | str], None]
TraceListener = Callable[[dict[str, Any]], None]


class FrameTrace:
    """The last ``size`` frames of a station, and who listens for new ones (a dashboard's stream)."""

    __slots__ = ("_open", "_seq", "entries", "inner", "listeners")

    def __init__(self, size: int = TRACE_SIZE, inner: FrameLogger | None = None) -> None:
        if size < 1:
            raise ValueError(f"the trace must hold at least one frame, not {size}")
        self.entries: deque[dict[str, Any]] = deque(maxlen=size)
        #: The station's frame logger before the trace was put in front of it (called first).
        self.inner = inner
        self.listeners: list[TraceListener] = []
        #: message id -> (seq, action, monotonic time) of the CALLs not yet answered.
        self._open: dict[str, tuple[int, str, float]] = {}
        self._seq = 0

    @property
    def size(self) -> int:
        return self.entries.maxlen or 0

    def __call__(self, cp_id: str, outgoing: bool, data: bytes | str) -> None:
        """A frame crossed the websocket (the station's ``frame_logger`` signature)."""
        if self.inner is not None:
            self.inner(cp_id, outgoing, data)
        self.add(outgoing, data)

    def add(self, outgoing: bool, data: bytes | str) -> dict[str, Any]:
        self._seq += 1
        now = time.monotonic()
        entry: dict[str, Any] = {
            "seq": self._seq,
            "time": round(time.time() * 1000),
            "direction": "out" if outgoing else "in",
        }
        try:
            frame = orjson.loads(data)
            kind = _TYPES[frame[0]]
            message_id = str(frame[1])
        except (orjson.JSONDecodeError, IndexError, KeyError, TypeError):
            text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
            entry |= {"type": "?", "messageId": None, "action": None, "payload": text[:2000]}
            return self._keep(entry)
        entry["type"] = kind
        entry["messageId"] = message_id
        if kind == "CALL":
            action = str(frame[2]) if len(frame) > 2 else "?"
            payload = frame[3] if len(frame) > 3 else None
            opened = self._open
            opened[message_id] = (self._seq, action, now)
            if len(opened) > _OPEN_CALLS:
                del opened[next(iter(opened))]
        else:
            if kind == "CALLRESULT":
                payload = frame[2] if len(frame) > 2 else None
            else:
                payload = {
                    "errorCode": frame[2] if len(frame) > 2 else None,
                    "errorDescription": frame[3] if len(frame) > 3 else None,
                    "errorDetails": frame[4] if len(frame) > 4 else None,
                }
            call = self._open.pop(message_id, None)
            action = None
            if call is not None:
                entry["callSeq"] = call[0]
                action = call[1]
                entry["latencyMs"] = round((now - call[2]) * 1000, 1)
        entry["action"] = action
        entry["payload"] = payload
        if isinstance(payload, dict):
            cid = payload.get("connectorId")
            if isinstance(cid, int) and not isinstance(cid, bool):
                entry["connectorId"] = cid
        return self._keep(entry)

    def _keep(self, entry: dict[str, Any]) -> dict[str, Any]:
        self.entries.append(entry)
        for listener in self.listeners:
            listener(entry)
        return entry

    def recent(self, limit: int | None = None) -> list[dict[str, Any]]:
        """The last ``limit`` entries (all kept when None), oldest first."""
        entries = list(self.entries)
        return entries if limit is None else entries[max(0, len(entries) - limit) :]
