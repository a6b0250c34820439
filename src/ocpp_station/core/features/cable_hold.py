"""The cable kept locked after a DeAuthorized stop (OCPP 1.6 §3.5.4 with erratum 3.5; OCTT TC_037_3).

When an invalid idTag ends a transaction (StopTransactionOnInvalidId, reason DeAuthorized), a Charge
Point that can lock the cable SHOULD keep it locked "until the same identifier (or an identifier with
the same ParentIdTag) [that] is used to start the transaction (StartTransaction.req) is presented"
(erratum 3.5). Presenting it unlocks the cable and starts nothing; meanwhile the connector stays
Finishing and takes no new transaction (:attr:`.intended_usage.IntendedUsage.held`), and the EV
plugged back in on that cable starts no session. The cable leaving the socket some other way (after
an UnlockConnector of the Central System) ends the hold too.

The transaction's record (``cableHeld``) stays stored until both its StopTransaction is answered and
the cable is released, so the hold survives a restart (:mod:`.recovery` takes it back with
:meth:`CableHolds.restore`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from ocpp_station.core.context import Context, log
from ocpp_station.core.effects import LockConnector
from ocpp_station.core.features.intended_usage import IntendedUsage
from ocpp_station.core.features.status import StatusReporter
from ocpp_station.core.model import Connector, Transaction

_NONE: frozenset[int] = frozenset()


class CableHolds:
    """Owned by :class:`~.transactions.Transactions`; ``forget`` deletes a finished transaction."""

    __slots__ = ("_forget", "_stop_answered", "ctx", "status", "usage")

    def __init__(
        self, ctx: Context, usage: IntendedUsage, status: StatusReporter, forget: Callable[[int], None]
    ) -> None:
        self.ctx = ctx
        self.usage = usage
        self.status = status
        self._forget = forget
        #: Local ids of held transactions whose StopTransaction was answered (forgotten at the release).
        #: Frozen and replaced when it changes (rarely): a set costs 216 bytes even empty (issue 11).
        self._stop_answered: frozenset[int] = _NONE

    def hold(self, c: Connector, tx: Transaction) -> None:
        """``tx`` was just stopped DeAuthorized on ``c``: a lockable socket with the cable in keeps it."""
        if self.ctx.settings.spec(c.id).has_lock and (c.plugged or c.cable_in_socket):
            tx.cable_held = True
            self.usage.held[c.id] = tx

    def keeps(self, tx: Transaction) -> bool:
        """The StopTransaction of ``tx`` was answered: whether its record stays (its cable is held)."""
        if tx.cable_held:
            self._stop_answered |= {tx.local_id}
        return tx.cable_held

    def release_for(self, id_tag: str, parent: str | None, candidates: Iterable[Connector]) -> bool:
        """``id_tag`` (of group ``parent``) was presented: unlock the first of ``candidates`` holding
        the cable of that idTag or of its group. Whether it did."""
        for c in candidates:
            tx = self.usage.held.get(c.id)
            if tx is not None and (tx.id_tag == id_tag or (parent and tx.parent_id_tag == parent)):
                log.info("connector %s: %s takes back the cable held for %s", c.id, id_tag, tx.id_tag)
                self.release(c, unlock=True)
                self.status.refresh(c.id)
                return True
        return False

    def release(self, c: Connector, *, unlock: bool) -> None:
        """End the hold on ``c``'s cable, unlocking it when ``unlock`` (not when the cable is out)."""
        tx = self.usage.held.pop(c.id, None)
        if tx is None:
            return
        if unlock:
            self.ctx.emit(LockConnector(c.id, False))
        self._unhold(tx)

    def _unhold(self, tx: Transaction) -> None:
        tx.cable_held = False
        if tx.local_id in self._stop_answered:
            self._stop_answered -= {tx.local_id}
            self._forget(tx.local_id)
        else:
            self.ctx.save_transaction(tx)  # forgotten when its StopTransaction is answered

    def restore(self, tx: Transaction, *, stop_answered: bool) -> None:
        """After a restart, a stored hold (at Booted, once the hardware was reported). The socket kept
        the cable locked while the station was off, so it is taken to still hold it, EV plugged in or
        not: Finishing until the idTag (or its group) takes it back."""
        if stop_answered:
            self._stop_answered |= {tx.local_id}
        c = self.ctx.connectors[tx.connector_id]
        if c.transaction is not None or not self.ctx.settings.spec(c.id).has_lock:
            self._unhold(tx)  # nothing to hold any more (a resumed transaction, no lock configured)
            return
        self.usage.held[c.id] = tx
        c.cable_in_socket = True
        c.finishing = True
        self.status.refresh(c.id)
