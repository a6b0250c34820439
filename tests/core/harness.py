"""Drive an Engine synchronously: fake clock, deterministic ids, a scripted CSMS.

    h = Harness()            # connected, BootNotification Accepted, statuses answered
    h.feed(CablePlugged(1))
    h.feed(IdTagPresented("TAG"))
    assert h.actions() == [... what went out ...]
    h.advance(60)            # step deadline by deadline, a simulated minute in microseconds

Every CALL the engine sends is recorded in ``h.calls`` and answered at once by ``h.responders``
(action -> payload -> response payload | CallError | None to leave it unanswered).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from ocpp_station.core.clock import format_datetime
from ocpp_station.core.effects import Effect, SendFrame
from ocpp_station.core.engine import Engine
from ocpp_station.core.events import Connected, Disconnected, Event, FrameReceived, TimerDue
from ocpp_station.core.settings import EngineSettings
from ocpp_station.wire import schemas

T0 = 1_764_000_000.0  # 2025-11-24T16:00:00Z

Responder = Callable[[dict[str, Any]], Any]


class Unanswered:
    """Responder result: leave the CALL without an answer."""


class Harness:
    def __init__(
        self,
        settings: EngineSettings | None = None,
        *,
        config: dict[str, str] | None = None,
        availability: dict[int, bool] | None = None,
        now: float = T0,
        connect: bool = True,
        boot_status: str = "Accepted",
        valid_tags: set[str] | None = None,
    ) -> None:
        self.now = now
        self.settings = settings or EngineSettings()
        self.engine = Engine(self.settings, now=now, config_values=config, availability=availability)
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.replies: list[list[Any]] = []  # our CALLRESULT / CALLERROR frames
        self.effects: list[Effect] = []
        self.valid_tags = (
            valid_tags if valid_tags is not None else {"TAG", "TAG2", "PARENT_A", "CHILD_A1", "CHILD_A2"}
        )
        self.parents = {"CHILD_A1": "PARENT_A", "CHILD_A2": "PARENT_A"}
        self.next_tx_id = 100
        self.online = True
        self._pending: list[tuple[str, str, dict[str, Any]]] = []
        self.responders: dict[str, Responder] = {
            "BootNotification": lambda p: {
                "status": boot_status,
                "currentTime": format_datetime(self.now),
                "interval": 300,
            },
            "Heartbeat": lambda p: {"currentTime": format_datetime(self.now)},
            "StatusNotification": lambda p: {},
            "MeterValues": lambda p: {},
            "Authorize": lambda p: {"idTagInfo": self.tag_info(p["idTag"])},
            "StartTransaction": self._start,
            "StopTransaction": lambda p: {"idTagInfo": self.tag_info(p["idTag"])} if "idTag" in p else {},
            "DataTransfer": lambda p: {"status": "Accepted"},
        }
        if connect:
            self.feed(Connected())

    # -- scripted CSMS ----------------------------------------------------------------------------
    def tag_info(self, id_tag: str) -> dict[str, Any]:
        info: dict[str, Any] = {"status": "Accepted" if id_tag in self.valid_tags else "Invalid"}
        if id_tag in self.parents:
            info["parentIdTag"] = self.parents[id_tag]
        return info

    def _start(self, payload: dict[str, Any]) -> dict[str, Any]:
        self.next_tx_id += 1
        return {"transactionId": self.next_tx_id, "idTagInfo": self.tag_info(payload["idTag"])}

    # -- driving -------------------------------------------------------------------------------
    def feed(self, event: Event) -> list[Effect]:
        effects = self.engine.handle(event, self.now)
        self.effects.extend(effects)
        for effect in effects:
            if isinstance(effect, SendFrame):
                self._on_sent(orjson.loads(effect.data))
        return effects

    def _on_sent(self, frame: list[Any]) -> None:
        if frame[0] != 2:
            self.replies.append(frame)
            return
        _, message_id, action, payload = frame
        schemas.validate_request(action, payload)  # everything we send is schema-valid
        self.calls.append((action, payload))
        if not self.online:
            return
        responder = self.responders.get(action)
        if responder is None:
            return
        answer = responder(payload)
        if isinstance(answer, Unanswered):
            self._pending.append((message_id, action, payload))
            return
        if isinstance(answer, tuple):  # (code, description): a CALLERROR
            self.feed(FrameReceived(orjson.dumps([4, message_id, answer[0], answer[1], {}])))
        else:
            self.feed(FrameReceived(orjson.dumps([3, message_id, answer])))

    def csms_call(self, action: str, payload: dict[str, Any], message_id: str = "csms-1") -> list[Any]:
        """The CSMS sends a CALL; returns our answer frame."""
        before = len(self.replies)
        self.feed(FrameReceived(orjson.dumps([2, message_id, action, payload])))
        answers = [r for r in self.replies[before:] if r[1] == message_id]
        assert answers, f"no answer to {action}"
        return answers[0]

    def csms_result(self, action: str, payload: dict[str, Any], message_id: str = "csms-1") -> dict[str, Any]:
        answer = self.csms_call(action, payload, message_id)
        assert answer[0] == 3, answer
        schemas.validate_response(action, answer[2])
        result: dict[str, Any] = answer[2]
        return result

    def advance(self, seconds: float) -> None:
        """Move the fake clock forward, firing every deadline on the way."""
        end = self.now + seconds
        while True:
            deadline = self.engine.next_deadline()
            if deadline is None or deadline > end:
                break
            self.now = max(self.now, deadline)
            self.feed(TimerDue())
        self.now = end

    def disconnect(self) -> None:
        self.online = False
        self.feed(Disconnected("test"))

    def reconnect(self) -> None:
        self.online = True
        self.feed(Connected())

    # -- reading ---------------------------------------------------------------------------------
    def actions(self, since: int = 0) -> list[str]:
        return [action for action, _ in self.calls[since:]]

    def sent(self, action: str) -> list[dict[str, Any]]:
        return [payload for name, payload in self.calls if name == action]

    def statuses(self, connector_id: int | None = None) -> list[str]:
        return [
            p["status"]
            for p in self.sent("StatusNotification")
            if connector_id is None or p["connectorId"] == connector_id
        ]

    def effects_of(self, kind: type) -> list[Any]:
        return [e for e in self.effects if isinstance(e, kind)]

    def mark(self) -> int:
        return len(self.calls)
