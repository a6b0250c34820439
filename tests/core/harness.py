"""Drive an Engine synchronously: fake clock, deterministic ids, a scripted CSMS.

    h = Harness()            # connected, BootNotification Accepted, statuses answered
    h.feed(CablePlugged(1))
    h.feed(IdTagPresented("TAG"))
    assert h.actions() == [... what went out ...]
    h.advance(60)            # step deadline by deadline, a simulated minute in microseconds

Every CALL the engine sends is recorded in ``h.calls`` and answered at once by ``h.responders``
(action -> payload -> response payload | (code, description) for a CALLERROR | ``Unanswered()`` to
leave it waiting; answer it later with ``h.answer(action, response)``). ``h.csms_call`` sends a CSMS
CALL with a fresh message id. ``h.reboot()`` is the shell after a Reboot effect: a new Engine built
from what the store kept (StoreConfigValue / StoreAvailability). ``authorized`` and ``charging`` are
the OCTT reusable states of the same names.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import orjson

from ocpp_station.core.clock import format_datetime
from ocpp_station.core.effects import (
    Effect,
    LockConnector,
    Persist,
    PersistClear,
    SendFrame,
    StoreAvailability,
    StoreConfigValue,
)
from ocpp_station.core.engine import Engine
from ocpp_station.core.events import (
    CablePlugged,
    CableRemoved,
    CableUnplugged,
    Connected,
    Disconnected,
    Event,
    FrameReceived,
    IdTagPresented,
    TimerDue,
    UnlockCompleted,
)
from ocpp_station.core.model import Restored
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
        records: dict[str, dict[str, Any]] | None = None,
        wall_skew: float | None = None,
    ) -> None:
        self.now = now
        #: The wall clock is ``now + wall_skew`` (None: the engine is given no wall clock). A test
        #: changes it to make the wall clock jump while ``now``, the monotonic clock, goes on.
        self.wall_skew = wall_skew
        self.settings = settings or EngineSettings()
        #: What the store would hold: initial values plus every StoreConfigValue / StoreAvailability.
        self.stored_config: dict[str, str] = dict(config or {})
        self.stored_availability: dict[int, bool] = dict(availability or {})
        self.boot_status = boot_status
        #: What the store would hold of the Persist records (kind -> key -> value).
        self.records: dict[str, dict[str, Any]] = {kind: dict(kept) for kind, kept in (records or {}).items()}
        self.engine = Engine(
            self.settings,
            now=now,
            wall=None if wall_skew is None else now + wall_skew,
            config_values=config,
            availability=availability,
            restored=Restored.from_records(self.records) if records is not None else None,
        )
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.replies: list[list[Any]] = []  # our CALLRESULT / CALLERROR frames
        self.effects: list[Effect] = []
        #: Socket connectors whose EV side was unplugged while the cable is still in the socket.
        self.cable_left_in: dict[int, bool] = {}
        self.locked: dict[int, bool] = {}
        self.valid_tags = (
            valid_tags if valid_tags is not None else {"TAG", "TAG2", "PARENT_A", "CHILD_A1", "CHILD_A2"}
        )
        self.parents = {"CHILD_A1": "PARENT_A", "CHILD_A2": "PARENT_A"}
        self.next_tx_id = 100
        self.online = True
        self._pending: list[tuple[str, str, dict[str, Any]]] = []
        self._csms_ids = 0
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
            "FirmwareStatusNotification": lambda p: {},
            "DiagnosticsStatusNotification": lambda p: {},
            "SecurityEventNotification": lambda p: {},
            "SignedFirmwareStatusNotification": lambda p: {},
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
        if isinstance(event, CableUnplugged) and self._is_socket(event.connector_id):
            self.cable_left_in[event.connector_id] = True
        if isinstance(event, UnlockCompleted) and event.unlocked:
            self.locked[event.connector_id] = False
        wall = None if self.wall_skew is None else self.now + self.wall_skew
        effects = self.engine.handle(event, self.now, wall)
        self.effects.extend(effects)
        for effect in effects:
            if isinstance(effect, LockConnector):
                self.locked[effect.connector_id] = effect.locked
        for effect in effects:
            if isinstance(effect, StoreConfigValue):
                self.stored_config[effect.name] = effect.value
            elif isinstance(effect, StoreAvailability):
                self.stored_availability[effect.connector_id] = effect.operative
            elif isinstance(effect, Persist):
                kept = self.records.setdefault(effect.kind, {})
                if effect.value is None:
                    kept.pop(effect.key, None)
                else:
                    kept[effect.key] = effect.value
            elif isinstance(effect, PersistClear):
                self.records.pop(effect.kind, None)
        for effect in effects:
            if isinstance(effect, SendFrame):
                self._on_sent(orjson.loads(effect.data))
        # The simulated driver takes the cable out of the socket once the EV side is unplugged and the
        # lock is open (as ocpp_station.hardware.simulated does).
        for cid, left in list(self.cable_left_in.items()):
            if left and not self.locked.get(cid, False):
                self.cable_left_in[cid] = False
                self.feed(CableRemoved(cid))
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

    def pending(self) -> list[tuple[str, str, dict[str, Any]]]:
        """CALLs left unanswered (responder returned Unanswered): (message id, action, payload)."""
        return list(self._pending)

    def answer(self, action: str, response: Any) -> None:
        """Answer the oldest unanswered CALL of ``action`` with a payload, or a (code, description)
        tuple for a CALLERROR."""
        entry = next(p for p in self._pending if p[1] == action)
        self._pending.remove(entry)
        message_id = entry[0]
        if isinstance(response, tuple):
            self.feed(FrameReceived(orjson.dumps([4, message_id, response[0], response[1], {}])))
        else:
            self.feed(FrameReceived(orjson.dumps([3, message_id, response])))

    def reboot(
        self, *, plugged: tuple[int, ...] = (), connect: bool = True, restore: bool = False
    ) -> Harness:
        """The shell after a Reboot effect (or a power cycle): a new Engine built from what the store
        kept (configuration and availability; with ``restore`` the Persist records too), the same
        clock, CSMS script and tags. ``plugged`` cables are reported before connecting."""
        after = Harness(
            self.settings,
            config=self.stored_config,
            availability=self.stored_availability,
            now=self.now,
            connect=False,
            boot_status=self.boot_status,
            valid_tags=self.valid_tags,
            records=copy.deepcopy(self.records) if restore else None,
            wall_skew=self.wall_skew,
        )
        after.parents = self.parents
        after.next_tx_id = self.next_tx_id
        for connector_id in plugged:
            after.feed(CablePlugged(connector_id))
        if connect:
            after.feed(Connected())
        return after

    def _is_socket(self, connector_id: int) -> bool:
        specs = self.engine.settings.connectors
        return 1 <= connector_id <= len(specs) and specs[connector_id - 1].kind == "socket"

    def csms_call(self, action: str, payload: dict[str, Any], message_id: str | None = None) -> list[Any]:
        """The CSMS sends a CALL (a fresh message id unless given); returns our answer frame."""
        if message_id is None:
            self._csms_ids += 1
            message_id = f"csms-{self._csms_ids}"
        before = len(self.replies)
        self.feed(FrameReceived(orjson.dumps([2, message_id, action, payload])))
        answers = [r for r in self.replies[before:] if r[1] == message_id]
        assert answers, f"no answer to {action}"
        return answers[0]

    def csms_result(
        self, action: str, payload: dict[str, Any], message_id: str | None = None
    ) -> dict[str, Any]:
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


# -- OCTT reusable states (OCTT 1.6 test case document §2.25) ---------------------------------------------


def authorized(h: Harness, id_tag: str = "TAG", connector_id: int = 1) -> None:
    """Reusable state Authorized: the driver presents a valid idTag; Authorize.req and, unless the
    connector already showed it, StatusNotification Preparing."""
    mark = h.mark()
    h.feed(IdTagPresented(id_tag))
    assert ("Authorize", {"idTag": id_tag}) in h.calls[mark:], h.actions(mark)
    assert h.statuses(connector_id)[-1] == "Preparing"
    assert "StartTransaction" not in h.actions(mark)


def charging(h: Harness, connector_id: int = 1, id_tag: str = "TAG") -> int:
    """Reusable state Charging: plug in first, then RemoteStartTransaction. Returns the transactionId.

    As the OCTT state: a Reserved connector stays Reserved when the cable goes in (steps 3/4 only "if
    status is not Reserved") and shows Preparing once the reserved idTag comes (step 7)."""
    conf = h.csms_result("GetConfiguration", {"key": ["AuthorizeRemoteTxRequests"]})
    authorize_remote = conf["configurationKey"][0]["value"] == "true"
    mark = h.mark()
    reserved = h.engine.ctx.connectors[connector_id].reported_status == "Reserved"
    h.feed(CablePlugged(connector_id))
    if reserved:
        assert h.engine.ctx.connectors[connector_id].reported_status == "Reserved"
    else:
        assert h.statuses(connector_id)[-1] == "Preparing"
    plugged = h.mark()
    result = h.csms_result("RemoteStartTransaction", {"connectorId": connector_id, "idTag": id_tag})
    assert result == {"status": "Accepted"}
    if authorize_remote:
        assert ("Authorize", {"idTag": id_tag}) in h.calls[mark:]
    if reserved:
        after = [
            p["status"]
            for a, p in h.calls[plugged:]
            if a == "StatusNotification" and p["connectorId"] == connector_id
        ]
        assert after[:1] == ["Preparing"], after
    starts = [p for a, p in h.calls[mark:] if a == "StartTransaction"]
    assert len(starts) == 1, h.actions(mark)
    assert starts[0]["connectorId"] == connector_id and starts[0]["idTag"] == id_tag
    assert h.statuses(connector_id)[-1] == "Charging"
    tx = h.engine.ctx.connectors[connector_id].transaction
    assert tx is not None and tx.transaction_id is not None
    return tx.transaction_id
