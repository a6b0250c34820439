"""How each of our CALLs is queued, kept and dropped: one row per action (OCPP 1.6 §4.2, §4.7, §4.9;
OCPP-J 1.6 §4.1.1; errata 3.19).

:data:`MESSAGE_POLICY` is the one place that says which messages are transaction-related, which wait
offline (and how many of them), which are not kept across a lost link, which the queue cap may drop and
which may go before BootNotification is Accepted. The outbox (``core/rpc.py``) and the engine read it
through :attr:`ocpp_station.core.rpc.OutgoingCall.policy`; an action without a row has
:data:`DEFAULT_POLICY`: sent once, failed back to its feature when the link drops or it times out,
subject to the queue cap, held back until Accepted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Transactional(StrEnum):
    """Whether a message is transaction-related (§4.7): stored, resent in order after a lost link or a
    timeout, retried TransactionMessageAttempts times after a CALLERROR, never dropped by the cap."""

    NEVER = "never"
    ALWAYS = "always"
    #: Only when it belongs to a transaction (its meta names the local transaction, ``{"tx": ...}``):
    #: MeterValues of a transaction, not clock-aligned values of an idle connector (§4.7).
    WITH_TRANSACTION = "with a transaction"


@dataclass(frozen=True, slots=True)
class MessagePolicy:
    """The queueing policy of one action."""

    transactional: Transactional = Transactional.NEVER
    #: Taken back to the front of the queue when the link drops or the CALL times out, instead of
    #: failing back to its feature (transaction-related messages always are).
    kept: bool = False
    #: While it cannot be sent (offline, not Accepted), only the newest per value of this payload
    #: field waits; None: every one waits.
    collapse_by: str | None = None
    #: Removed from the queue when the link drops (failed back as Dropped).
    dropped_offline: bool = False
    #: Never dropped by the queue cap (transaction-related messages never are either).
    uncapped: bool = False
    #: May go out before BootNotification is Accepted (§4.2); others only when a TriggerMessage asked.
    before_accepted: bool = False

    def is_transactional(self, meta: Mapping[str, Any]) -> bool:
        """Whether a call of this action with ``meta`` is transaction-related (§4.7)."""
        if self.transactional is Transactional.WITH_TRANSACTION:
            return meta.get("tx") is not None
        return self.transactional is Transactional.ALWAYS


DEFAULT_POLICY = MessagePolicy()

#: Actions whose policy is not :data:`DEFAULT_POLICY`.
MESSAGE_POLICY: dict[str, MessagePolicy] = {
    # §4.2: the first message, alone until Accepted; the cap never drops it (issue #3).
    "BootNotification": MessagePolicy(before_accepted=True, uncapped=True),
    # §4.7 "Transaction-related messages".
    "StartTransaction": MessagePolicy(transactional=Transactional.ALWAYS),
    "StopTransaction": MessagePolicy(transactional=Transactional.ALWAYS),
    "MeterValues": MessagePolicy(transactional=Transactional.WITH_TRANSACTION),
    # §4.9: kept while offline, the newest per connector; online every change is sent (errata 3.19).
    "StatusNotification": MessagePolicy(kept=True, collapse_by="connectorId"),
    # Security whitepaper A04.FR.02 (guaranteed delivery): kept while offline and after a timeout, never
    # dropped by the cap. Not transaction-related (no retries after a CALLERROR, no Reset waits for it):
    # the security log stores a critical one until it is answered and queues it again after a restart
    # (core/features/security_events.py).
    "SecurityEventNotification": MessagePolicy(kept=True, uncapped=True),
    # §4.6: not kept for later: the next one is due after the reconnect anyway.
    "Heartbeat": MessagePolicy(dropped_offline=True),
}


def policy_of(action: str) -> MessagePolicy:
    """The policy of ``action`` (:data:`DEFAULT_POLICY` without a row)."""
    return MESSAGE_POLICY.get(action, DEFAULT_POLICY)
