"""Our side of OCPP-J RPC (OCPP-J 1.6 §4.1): one CALL in flight, a queue behind it, timeouts, retries.

Incoming CALLs never wait on this queue: they are answered at once by the engine, so a CALL of ours
waiting for its reply can never deadlock an incoming one (§4.1.1 NOTE).

Policy by kind of message (the table: :data:`ocpp_station.core.policy.MESSAGE_POLICY`):

* Transaction-related messages (StartTransaction, StopTransaction, MeterValues of a transaction;
  OCPP 1.6 §4.7 "Transaction-related messages") survive disconnects and timeouts and are resent in
  order; a CALLERROR is retried ``TransactionMessageAttempts`` times, waiting
  ``TransactionMessageRetryInterval`` x attempt between tries, then dropped.
* StatusNotification is kept while offline, collapsed to the newest per connector (queued online,
  every one is sent).
* Heartbeat is not kept while offline.
* Everything else that is in flight when the link drops, or times out, fails back to its feature.
* The queue cap drops the oldest messages but never a transaction message nor BootNotification, the
  only message that goes before Accepted (OCPP 1.6 §4.2).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import msgspec

from ocpp_station.core.policy import MESSAGE_POLICY, MessagePolicy, policy_of
from ocpp_station.wire.messages import REQUESTS, OcppStruct
from ocpp_station.wire.schemas import to_builtins
from ocpp_station.wire.timestamps import strict_dec_hook

#: Only these may go out before BootNotification is Accepted (OCPP 1.6 §4.2), from the policy table.
ALLOWED_BEFORE_ACCEPTED = frozenset(action for action, p in MESSAGE_POLICY.items() if p.before_accepted)


def field_of(payload: OcppStruct, wire_name: str) -> Any:
    """The value of the field ``wire_name`` (e.g. ``connectorId``) of a message, None when absent."""
    attribute = _ATTRIBUTES.get((type(payload), wire_name))
    if attribute is None:
        names = {f.encode_name: f.name for f in msgspec.structs.fields(type(payload))}
        attribute = _ATTRIBUTES[type(payload), wire_name] = names.get(wire_name, "")
    value = getattr(payload, attribute, None) if attribute else None
    return None if value is msgspec.UNSET else value


_ATTRIBUTES: dict[tuple[type, str], str] = {}


@dataclass(slots=True)
class OutgoingCall:
    action: str
    #: The typed request (:mod:`ocpp_station.wire.messages`).
    payload: OcppStruct
    #: Serializable routing data for the result handler (e.g. {"tx": local_id}).
    meta: dict[str, Any] = field(default_factory=dict)
    transactional: bool = False
    attempts: int = 0
    not_before: float = 0.0
    #: Durable sequence number of a stored transaction message (None: kept in memory only).
    seq: int | None = None

    def __post_init__(self) -> None:
        # The policy table decides what is transaction-related; a caller's (or a stored record's)
        # True only repeats it.
        self.transactional = self.transactional or self.policy.is_transactional(self.meta)

    @property
    def policy(self) -> MessagePolicy:
        return policy_of(self.action)

    @property
    def kept(self) -> bool:
        """Taken back into the queue after a lost link or a timeout (not failed back)."""
        return self.transactional or self.policy.kept

    @property
    def capped(self) -> bool:
        """Counted by the queue cap, which drops the oldest of these."""
        return not (self.transactional or self.policy.uncapped)

    def to_record(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "payload": to_builtins(self.payload),
            "meta": self.meta,
            "attempts": self.attempts,
            "notBefore": self.not_before,
        }

    @classmethod
    def from_record(cls, seq: int, record: dict[str, Any]) -> OutgoingCall:
        """The stored transaction message ``record`` (:meth:`to_record`), typed again; ValueError when
        it is no valid request of its action."""
        action = record.get("action")
        struct = REQUESTS.get(action) if isinstance(action, str) else None
        if struct is None or not isinstance(action, str):
            raise ValueError(f"unknown action {action!r}")
        payload = record.get("payload")
        if action == "StopTransaction" and isinstance(payload, dict) and "transactionId" not in payload:
            # Stored by an earlier version, which filled the transactionId in only when sending: the
            # placeholder a StopTransaction queued before the CSMS answered carries (meta "tx").
            payload = {**payload, "transactionId": -1}
        try:
            message = msgspec.convert(payload, struct, dec_hook=strict_dec_hook)
        except msgspec.ValidationError as exc:
            raise ValueError(f"{action}: {exc}") from None
        return cls(
            action,
            message,
            record.get("meta", {}),
            transactional=True,
            attempts=int(record.get("attempts", 0)),
            not_before=float(record.get("notBefore", 0.0)),
            seq=seq,
        )


@dataclass(slots=True)
class InFlight:
    message_id: str
    call: OutgoingCall
    timeout_at: float
    #: When it went out (engine time): the latency a CallObserver sees.
    sent_at: float = 0.0


class Outbox:
    """The queue of our CALLs and the one in flight. Pure state; the engine drives it."""

    def __init__(self, id_factory: Callable[[], str], *, cap: int = 1000) -> None:
        # A list, not a deque: the queue is short almost always, and an empty deque costs 600 bytes
        # more per station (a fleet keeps thousands).
        self._queue: list[OutgoingCall] = []
        self.in_flight: InFlight | None = None
        self._next_id = id_factory
        #: Most messages other than transaction messages kept while they cannot be sent.
        self.cap = cap
        self.next_seq = 1
        #: Calls the cap dropped, not yet reported to their features (the engine drains it).
        self.dropped: list[OutgoingCall] = []
        self.dropped_count = 0

    def __len__(self) -> int:
        return len(self._queue)

    def __iter__(self) -> Iterator[OutgoingCall]:
        return iter(self._queue)

    def add(self, call: OutgoingCall, *, front: bool = False, collapse: bool = True) -> None:
        """Queue ``call`` (at the front: a call taken back after a lost link or a timeout).

        With ``collapse`` (while offline) a message collapsed by its policy (StatusNotification: per
        connector) replaces the queued one of the same action and key; one taken back to the front is
        older than any queued one, so a queued one replaces it instead. Online every status change is
        sent, in order (errata 3.19: SHALL send on every change).
        """
        key = call.policy.collapse_by
        if key is not None and collapse:
            value = field_of(call.payload, key)
            same = [
                queued
                for queued in self._queue
                if queued.action == call.action and field_of(queued.payload, key) == value
            ]
            if front and same:
                return
            for queued in same:
                self._queue.remove(queued)
        if call.transactional and call.seq is None:
            call.seq = self.next_seq
            self.next_seq += 1
        if front:
            self._queue.insert(0, call)
        else:
            self._queue.append(call)
        if not call.transactional:
            self._enforce_cap()

    def _enforce_cap(self) -> None:
        """Drop the oldest messages beyond ``cap``; never a transaction message nor the
        BootNotification (issue #3). What is dropped waits in ``dropped`` for its failure handler."""
        others = [queued for queued in self._queue if queued.capped]
        excess = len(others) - self.cap
        for queued in others[: max(excess, 0)]:
            self._queue.remove(queued)
            self.dropped.append(queued)
            self.dropped_count += 1

    def backlog(self) -> int:
        return len(self._queue)

    def next_ready(self, now: float, accepted: bool) -> OutgoingCall | None:
        """Take the next call that may be sent now, or None. Order is kept, except that
        BootNotification goes ahead of everything while the charge point is not yet Accepted (then
        only calls marked ``meta["triggered"]`` may go too: requested by TriggerMessage, §4.2), and
        other messages need not wait behind a transaction message waiting for its retry (OCPP 1.6 §3.7)."""
        if self.in_flight is not None:
            return None
        waiting_transaction = False
        for call in self._queue:
            if not accepted and not call.policy.before_accepted and not call.meta.get("triggered"):
                continue  # while Pending only what a TriggerMessage.req asked for (OCPP 1.6 §4.2)
            if call.transactional and waiting_transaction:
                continue  # transaction messages keep their order
            if call.not_before > now:
                waiting_transaction = waiting_transaction or call.transactional
                continue
            self._queue.remove(call)
            return call
        return None

    def start(self, call: OutgoingCall, now: float, timeout_s: float) -> str:
        message_id = self._next_id()
        self.in_flight = InFlight(message_id, call, now + timeout_s, now)
        return message_id

    def finish(self, message_id: str) -> OutgoingCall | None:
        """The call answered by ``message_id``, or None if it is not the one in flight."""
        if self.in_flight is None or self.in_flight.message_id != message_id:
            return None
        call = self.in_flight.call
        self.in_flight = None
        return call

    def abandon(self) -> OutgoingCall | None:
        """Forget the call in flight (link lost or timed out) and return it."""
        flight, self.in_flight = self.in_flight, None
        return None if flight is None else flight.call

    def earliest_retry(self, now: float) -> float | None:
        if not self._queue:
            return None  # after every event: the queue is empty almost always
        waits = [call.not_before for call in self._queue if call.not_before > now]
        return min(waits, default=None)

    def remove_where(self, predicate: Callable[[OutgoingCall], bool]) -> list[OutgoingCall]:
        removed = [call for call in self._queue if predicate(call)]
        for call in removed:
            self._queue.remove(call)
        return removed
