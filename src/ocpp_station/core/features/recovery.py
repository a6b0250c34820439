"""Restart recovery of transactions (issue #3; OCPP 1.6 §4.8, §4.10 reasons PowerLoss / Reboot).

The store keeps every transaction whose StopTransaction has not been answered. After a restart
:meth:`TransactionRecovery.restore` takes them back, and at Booted :meth:`TransactionRecovery.recover`
settles those that were still running: resumed, or stopped with their last stored meter value.
Before a graceful stop :meth:`TransactionRecovery.checkpoint` stores the current meter values.
A cable held after a DeAuthorized stop (§3.5.4, erratum 3.5; the record's ``cableHeld``) is held
again: its record is kept until its StopTransaction is answered and the cable released.
"""

from __future__ import annotations

from ocpp_station.core.context import Context, log
from ocpp_station.core.effects import LockConnector
from ocpp_station.core.features.base import Feature
from ocpp_station.core.features.transactions import Transactions
from ocpp_station.core.model import Restored, Transaction
from ocpp_station.wire.messages import Reason


class TransactionRecovery(Feature):
    """Takes stored transactions back into :class:`Transactions` and settles them after a restart."""

    __slots__ = ("ctx", "transactions")

    def __init__(self, ctx: Context, transactions: Transactions) -> None:
        self.ctx = ctx
        self.transactions = transactions

    def restore(self, restored: Restored) -> None:
        """Transactions the store kept; those still running are settled by :meth:`recover`."""
        records = restored.transactions
        txs = self.transactions
        for record in records:
            tx = Transaction.from_record(record)
            txs.open[tx.local_id] = tx
            txs.next_local_id = max(txs.next_local_id, tx.local_id + 1)

    def recover(self, clean_shutdown: bool) -> None:
        """After a restart: a transaction that was running when the station stopped is resumed
        (resume_transactions and its EV still plugged in) or stopped with its last stored meter value,
        reason PowerLoss (a crash or power cut) or Reboot (a graceful stop that left it to resume)."""
        txs = self.transactions
        for tx in sorted(txs.open.values(), key=lambda t: t.local_id):
            c = self.ctx.connectors[tx.connector_id]
            if tx.cable_held:
                self._hold_again(tx)
                continue
            if tx.stopping:
                # Stopped before the restart, its StopTransaction still queued: the EV still there
                # is the one of that session, so Finishing as before (§4.9 C6, OCTT TC_038_CS).
                if c.plugged and c.transaction is None:
                    c.finishing = True
                    txs.status.refresh(c.id)
                continue
            if self.ctx.settings.resume_transactions and c.plugged and c.transaction is None:
                log.info("resuming local transaction %s on connector %s", tx.local_id, c.id)
                c.transaction = tx
                c.finishing = False
                if self.ctx.settings.spec(c.id).has_lock:
                    self.ctx.emit(LockConnector(c.id, True))
                if not tx.deauthorized:
                    txs.energize(c, True)
                txs.metering.transaction_resumed(tx)
                txs.status.refresh(c.id)
                continue
            reason = Reason.Reboot if clean_shutdown else Reason.PowerLoss
            log.info("closing interrupted local transaction %s (%s)", tx.local_id, reason)
            txs.queue_stop(tx, reason, None)
            if c.plugged:
                c.finishing = True
                txs.status.refresh(c.id)

    def _hold_again(self, tx: Transaction) -> None:
        """A cable held after a DeAuthorized stop before the restart (:mod:`.cable_hold`); its record
        alone kept if its StopTransaction is no longer queued (answered)."""
        outbox = self.ctx.outbox
        queued = [call for call in outbox if call.action == "StopTransaction"]
        if outbox.in_flight is not None:
            queued.append(outbox.in_flight.call)
        answered = not any(call.meta.get("tx") == tx.local_id for call in queued)
        self.transactions.holds.restore(tx, stop_answered=answered)

    def checkpoint(self) -> None:
        """Store every running transaction's current meter value (before a graceful stop)."""
        for tx in self.transactions.running():
            tx.meter_last_wh = max(round(self.ctx.meter(tx.connector_id).energy_wh), tx.meter_start_wh)
            tx.last_at = self.ctx.ocpp_time()
            self.ctx.save_transaction(tx)
