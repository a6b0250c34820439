"""Reset (OCPP 1.6 §5.14) and UnlockConnector (§5.18, errata: NotSupported for unknown connectors).

Reset: reply Accepted, stop every transaction (reason SoftReset / HardReset), wait until the
transaction messages are out (at most ``reset_grace_s``) and emit :class:`Reboot`; the shell restarts
the station with its stored state and anything still queued.
"""

from __future__ import annotations

from ocpp_station.core.context import Context
from ocpp_station.core.effects import Reboot, UnlockConnector
from ocpp_station.core.features.base import Feature, answers
from ocpp_station.core.features.transactions import Transactions
from ocpp_station.wire.frames import Call
from ocpp_station.wire.messages import (
    ResetRequest,
    ResetResponse,
    ResetStatus,
    ResetType,
    UnlockConnectorRequest,
    UnlockConnectorResponse,
    UnlockStatus,
)


class Reset(Feature):
    __slots__ = ("_drain_all", "_unlock_requests", "ctx", "pending_hard", "transactions")

    def __init__(self, ctx: Context, transactions: Transactions) -> None:
        self.ctx = ctx
        self.transactions = transactions
        self.pending_hard: bool | None = None
        #: Wait for every queued message before rebooting, not only transaction messages (firmware).
        self._drain_all = False
        self._unlock_requests: dict[int, tuple[str, str]] = {}

    # -- Reset ----------------------------------------------------------------------------------
    @answers(ResetRequest)
    def _reset(self, request: ResetRequest, call: Call) -> ResetResponse:
        if self.pending_hard is None:
            self.pending_hard = request.type is ResetType.Hard
            self.ctx.after_reply.append(self._begin)
        return ResetResponse(status=ResetStatus.Accepted)

    def _begin(self) -> None:
        self.transactions.stop_all("HardReset" if self.pending_hard else "SoftReset")
        self.ctx.timers.set("reset", self.ctx.now + self.ctx.settings.reset_grace_s, self._reboot)
        self.check()

    def reboot_when_sent(self) -> None:
        """Reboot (hard) once everything queued went out, at most ``reset_grace_s`` from now: after a
        firmware installation, so the CSMS got FirmwareStatusNotification Installing first."""
        if self.pending_hard is not None:
            return
        self.pending_hard = True
        self._drain_all = True
        self.ctx.timers.set("reset", self.ctx.now + self.ctx.settings.reset_grace_s, self._reboot)

    def check(self) -> None:
        """Reboot as soon as no transaction message is waiting (called after each engine step)."""
        if self.pending_hard is None or self.ctx.timers.due_at("reset") is None:
            return
        flight = self.ctx.outbox.in_flight
        drain_all = self._drain_all
        waiting = any(call.transactional or drain_all for call in self.ctx.outbox) or (
            flight is not None and (flight.call.transactional or drain_all)
        )
        if not waiting or not self.ctx.connected:
            self._reboot(self.ctx.now)

    def _reboot(self, now: float) -> None:
        if self.pending_hard is None:
            return
        self.ctx.timers.cancel("reset")
        self.ctx.tell("rebooting", self.pending_hard)  # the security log's ResetOrReboot, first
        self.ctx.emit(Reboot(hard=self.pending_hard))
        self.pending_hard = None
        self._drain_all = False

    # -- UnlockConnector --------------------------------------------------------------------------
    @answers(UnlockConnectorRequest)
    def _unlock(self, request: UnlockConnectorRequest, call: Call) -> UnlockConnectorResponse | None:
        connector_id = request.connector_id
        if not 1 <= connector_id < len(self.ctx.connectors):
            return UnlockConnectorResponse(status=UnlockStatus.NotSupported)
        if not self.ctx.settings.spec(connector_id).has_lock:
            return UnlockConnectorResponse(status=UnlockStatus.NotSupported)
        c = self.ctx.connectors[connector_id]
        if c.transaction is not None:
            self.transactions.stop(connector_id, "UnlockCommand", unlock=False)
        self._unlock_requests[connector_id] = (call.message_id, call.action)
        self.ctx.emit(UnlockConnector(connector_id))
        return None  # answered by unlock_completed

    def unlock_completed(self, connector_id: int, unlocked: bool) -> None:
        request = self._unlock_requests.pop(connector_id, None)
        if request is not None:
            message_id, action = request
            status = UnlockStatus.Unlocked if unlocked else UnlockStatus.UnlockFailed
            self.ctx.reply(message_id, action, UnlockConnectorResponse(status=status))
