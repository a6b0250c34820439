"""Transactions: start and stop, by card, cable and remote command (OCPP 1.6 §3.6, §4.8, §4.10,
§5.11, §5.12; keys §9.1.14 MaxEnergyOnInvalidId, §9.1.23, §9.1.24, §9.1.33).

Both orders work: cable first (the card starts the transaction) and card first (the cable must follow
within ConnectionTimeOut); which connector a start goes to and that wait are in :mod:`.intended_usage`.
The CSMS transactionId is kept apart from our ``local_id`` and filled into StopTransaction / MeterValues
when they are sent, so a transaction started offline never reports -1.
What happens to open transactions across a restart is in :mod:`.recovery`; the cable kept locked
after a DeAuthorized stop until its idTag (or group) comes back (§3.5.4, erratum 3.5) in
:mod:`.cable_hold`.
"""

from __future__ import annotations

from typing import Any

import msgspec

from ocpp_station.core.context import Context, log
from ocpp_station.core.effects import ApplyChargingLimit, Energize, LockConnector
from ocpp_station.core.events import MeterReading
from ocpp_station.core.features.authorization import ACCEPTED, Authorization
from ocpp_station.core.features.base import Feature, on_failure, on_result, prepares
from ocpp_station.core.features.cable_hold import CableHolds
from ocpp_station.core.features.intended_usage import IntendedUsage
from ocpp_station.core.features.metering import Metering
from ocpp_station.core.features.status import StatusReporter
from ocpp_station.core.model import Connector, Transaction
from ocpp_station.core.rpc import OutgoingCall
from ocpp_station.wire.messages import (
    AuthorizationStatus,
    IdTagInfo,
    MeterValuesRequest,
    Reason,
    StartTransactionRequest,
    StartTransactionResponse,
    StopTransactionRequest,
    StopTransactionResponse,
)
from ocpp_station.wire.timestamps import Timestamp

#: The transactionId a StopTransaction.req is queued with before the CSMS gave one; the real one is
#: filled in when it is sent (:meth:`Transactions._fill_transaction_id`), -1 as errata 3.18 says if
#: none ever comes.
UNKNOWN_TRANSACTION_ID = -1


class Transactions(Feature):
    __slots__ = ("auth", "ctx", "holds", "metering", "next_local_id", "open", "status", "usage")

    def __init__(
        self,
        ctx: Context,
        status: StatusReporter,
        metering: Metering,
        auth: Authorization,
    ) -> None:
        self.ctx = ctx
        self.status = status
        self.metering = metering
        #: Decides whether an idTag may charge (§3.5, §4.1): every decision comes back as the fact :meth:`authorized`.
        self.auth = auth
        self.next_local_id = 1
        #: Transactions whose StopTransaction has not been answered yet, by local id; and those
        #: whose cable is still held after a DeAuthorized stop (their record is the hold's).
        self.open: dict[int, Transaction] = {}
        #: Which connector a start goes to, and the card-first / cable-first wait (§4.9, §9.1.6);
        #: the Reservation profile's gate is ``ctx.reservations`` (§5.13).
        self.usage = IntendedUsage(ctx, status)
        #: Cables kept locked after a DeAuthorized stop (§3.5.4, erratum 3.5).
        self.holds = CableHolds(ctx, self.usage, status, self.forget)
        # What others do when a transaction starts or ends, its power goes off or a connector is idle
        # they declare as facts (core/features/base.py), told through ``ctx.tell``; the amperes to
        # offer come from ``ctx.current_offer`` (Smart Charging) and the Reservation gate from
        # ``ctx.reservations``.

    # -- helpers --------------------------------------------------------------------------------
    def _connector(self, connector_id: int) -> Connector:
        return self.ctx.connectors[connector_id]

    def running(self) -> list[Transaction]:
        return [c.transaction for c in self.ctx.connectors[1:] if c.transaction is not None]

    def by_transaction_id(self, transaction_id: int) -> Transaction | None:
        return next((tx for tx in self.running() if tx.transaction_id == transaction_id), None)

    def energize(self, c: Connector, on: bool) -> None:
        """Switch the connector's power, with the limit to offer (Smart Charging or its rating)."""
        if c.energized == on:
            return
        c.energized = on
        if not on:
            limit = 0.0
        else:
            offer = self.ctx.current_offer(c.id)
            limit = self.ctx.settings.spec(c.id).max_current_a if offer is None else offer
        self.ctx.emit(ApplyChargingLimit(c.id, limit))
        self.ctx.emit(Energize(c.id, on))
        if not on and c.transaction is not None:
            self.ctx.tell("power_switched_off", c.id)

    # -- hardware events ----------------------------------------------------------------------
    def plugged(self, connector_id: int) -> None:
        c = self._connector(connector_id)
        c.plugged = True
        c.cable_in_socket = self.ctx.settings.spec(connector_id).kind == "socket"
        if c.id in self.usage.held:
            # The EV back on the cable of a DeAuthorized transaction: no new session (§3.5.4).
            self.status.refresh(connector_id)
            return
        self._finished(c)
        if c.transaction is not None:
            if not c.transaction.deauthorized:
                self.energize(c, True)
        else:
            waiting = self.usage.cable_in(c)
            if waiting is not None:
                self._start(c, *waiting)
        self.status.refresh(connector_id)

    def unplugged(self, connector_id: int) -> None:
        """The EV side was unplugged (a socket may keep the cable: see :meth:`cable_removed`)."""
        c = self._connector(connector_id)
        c.plugged = False
        self.usage.cable_out(c)
        if not c.cable_in_socket:
            self._finished(c)
        tx = c.transaction
        if tx is not None:
            if self.ctx.config.get_bool("StopTransactionOnEVSideDisconnect"):
                unlock = self.ctx.config.get_bool("UnlockConnectorOnEVSideDisconnect")
                self.stop(connector_id, Reason.EVDisconnected, unlock=unlock)
            # else §4.10: the transaction goes on and the cable stays locked until the EV is back.
        self.status.refresh(connector_id)

    def cable_removed(self, connector_id: int) -> None:
        c = self._connector(connector_id)
        c.cable_in_socket = False
        if not c.plugged:
            self._finished(c)
        self.status.refresh(connector_id)

    def _finished(self, c: Connector) -> None:
        if c.finishing:
            c.finishing = False
            self.holds.release(c, unlock=False)  # the cable is out: the lock let it go
            self.ctx.tell("connector_idle", c.id)

    def ev_ready(self, connector_id: int, ready: bool) -> None:
        self._connector(connector_id).ev_ready = ready
        self.status.refresh(connector_id)

    def meters(self, readings: dict[int, MeterReading]) -> None:
        for cid, reading in readings.items():
            if 0 <= cid < len(self.ctx.connectors):
                self.ctx.connectors[cid].meter = reading
                tx = self.ctx.connectors[cid].transaction
                if tx is not None and tx.deauthorized:
                    self._enforce_invalid_id(self.ctx.connectors[cid])

    def id_tag_presented(self, id_tag: str, connector_id: int | None) -> None:
        candidates = self.ctx.connectors[1:] if connector_id is None else [self._connector(connector_id)]
        # §4.10: the same idTag ends its own transaction without asking anyone.
        for c in candidates:
            if c.transaction is not None and c.transaction.id_tag == id_tag:
                self.stop(c.id, Reason.Local, id_tag=id_tag)
                return
        # §3.5.4, erratum 3.5: the owner of a cable held after a DeAuthorized stop takes it back.
        if self.holds.release_for(id_tag, self.auth.parent_of(id_tag), candidates):
            return
        # §4.9 B1: a second presentation of a waiting idTag ends the intended usage.
        if self.usage.withdraw(id_tag, candidates):
            return
        # A tag of the same group (parentIdTag) may stop it too, once its parent is known.
        parent = self.auth.parent_of(id_tag)
        if parent:
            for c in candidates:
                if c.transaction is not None and c.transaction.parent_id_tag == parent:
                    self.stop(c.id, Reason.Local, id_tag=id_tag)
                    return
        known = self.auth.local_entry(id_tag) is not None
        target = self.usage.pick_connector(connector_id, id_tag, parent, unsure=not known)
        grouped = [c.transaction or self.usage.held.get(c.id) for c in candidates]
        if target is None and not any(tx and tx.parent_id_tag for tx in grouped):
            # Nothing to start, and no running transaction (or held cable) another tag of its group
            # could stop (release): no Authorize.req (OCTT TC_068_CS step 1).
            log.info("idTag %s presented but no connector can start a transaction", id_tag)
            return
        self.auth.request(id_tag, {"purpose": "card", "connector": connector_id})

    def begin(self, id_tag: str, meta: dict[str, Any], *, authorize: bool) -> None:
        """Start a transaction for ``id_tag`` as a local action would: authorized first, or at once."""
        if authorize:
            self.auth.request(id_tag, meta)
        else:
            self.authorized(id_tag, ACCEPTED, meta)

    # -- authorization decided ------------------------------------------------------------------
    def authorized(self, id_tag: str, info: IdTagInfo, meta: dict[str, Any]) -> None:
        """Fact: Authorization decided ``id_tag`` (§3.5, §4.1): start, resume or refuse."""
        accepted = info.status is AuthorizationStatus.Accepted
        requested = meta.get("connector")
        card = meta.get("purpose") == "card"
        group = info.parent_id_tag or None
        if card and group:
            # Erratum 3.5: a tag of the same group releases a held cable (identity, whatever its status).
            asked = [c for c in self.ctx.connectors[1:] if requested in (None, c.id)]
            if self.holds.release_for(id_tag, group, asked):
                return
        if card and accepted and group:
            for c in self.ctx.connectors[1:]:
                if requested not in (None, c.id):
                    continue
                if c.transaction is not None and c.transaction.parent_id_tag == group:
                    self.stop(c.id, Reason.Local, id_tag=id_tag)
                    return
        if not accepted:
            log.info("idTag %s not accepted (%s)", id_tag, info.status)
            return
        parent = group or self.auth.parent_of(id_tag)
        target = self.usage.pick_connector(requested, id_tag, parent)
        if target is None:
            log.info("idTag %s authorized but no connector is free", id_tag)
            return
        if target.plugged:
            self._start(target, id_tag, info, meta)
        else:
            self.usage.wait_for_cable(target, id_tag, info, meta)
        self.status.refresh(target.id)

    # -- start ----------------------------------------------------------------------------------
    def _start(self, c: Connector, id_tag: str, info: IdTagInfo, meta: dict[str, Any]) -> None:
        """Begin a transaction now (§4.8) and queue StartTransaction.req."""
        if c.finishing:
            # §4.9 F2 then B3: a new session from Finishing shows Preparing before Charging.
            self._finished(c)
            self.status.refresh(c.id)
        gate = self.ctx.reservations
        if gate is not None and meta.get("reservationId") is None:
            # §5.13: the transaction of the reserved idTag ends its reservation and names it.
            parent = info.parent_id_tag or self.auth.parent_of(id_tag)
            reservation_id = gate.claim(c, id_tag, parent)
            if reservation_id is not None:
                meta = {**meta, "reservationId": reservation_id}
                # §4.9 G2 then B3: a connector still Reserved (the cable in) shows Preparing first.
                self.status.refresh(c.id)
        # After the refreshes (the end of a reservation may arm a ConnectionTimeOut): nothing waits.
        self.usage.started(c)
        tx = Transaction(
            local_id=self.next_local_id,
            connector_id=c.id,
            id_tag=id_tag,
            parent_id_tag=info.parent_id_tag or None,
            meter_start_wh=round(self.ctx.meter(c.id).energy_wh),
            started_at=self.ctx.ocpp_time(),
            reservation_id=meta.get("reservationId"),
            tx_profile=meta.get("chargingProfile"),
        )
        tx.meter_last_wh, tx.last_at = tx.meter_start_wh, tx.started_at
        self.next_local_id += 1
        c.transaction = tx
        self.open[tx.local_id] = tx
        self.ctx.save_transaction(tx)
        request = StartTransactionRequest(
            connector_id=c.id,
            id_tag=id_tag,
            meter_start=tx.meter_start_wh,
            timestamp=Timestamp(tx.started_at),
        )
        if tx.reservation_id is not None:
            request = msgspec.structs.replace(request, reservation_id=tx.reservation_id)
        self.ctx.call(request, meta={"tx": tx.local_id})
        self.ctx.tell("transaction_started", tx)
        if self.ctx.settings.spec(c.id).has_lock:
            self.ctx.emit(LockConnector(c.id, True))
        self.energize(c, True)
        self.metering.start_sampling(tx)
        self.status.refresh(c.id)

    @on_result(StartTransactionRequest)
    def _start_result(self, call: OutgoingCall, response: StartTransactionResponse) -> None:
        tx = self.open.get(call.meta["tx"])
        if tx is None:
            return
        tx.transaction_id = response.transaction_id
        info: IdTagInfo = response.id_tag_info
        self.auth.remember(tx.id_tag, info)
        if info.parent_id_tag:
            tx.parent_id_tag = info.parent_id_tag  # the group that may stop it (§3.10)
        if info.status is not AuthorizationStatus.Accepted:
            # §3.5.4 / §9.1.24: the CSMS does not accept this idTag after all.
            tx.deauthorized = True
        # Stored in the same step that forgets the StartTransaction: never one without the other.
        self.ctx.save_transaction(tx)
        if tx.deauthorized:
            c = self._connector(tx.connector_id)
            if c.transaction is tx:
                self._enforce_invalid_id(c)

    @on_failure(StartTransactionRequest)
    def _start_failed(self, call: OutgoingCall, reason: str) -> None:
        log.error("StartTransaction for local transaction %s dropped (%s)", call.meta.get("tx"), reason)
        tx = self.open.get(call.meta["tx"])
        if tx is not None and tx.transaction_id is None:
            # Errata 3.18 (§4.8): no transactionId will ever come; the transaction's other messages
            # go out with transactionId -1 instead of being dropped.
            tx.transaction_id = -1
            self.ctx.save_transaction(tx)

    def _enforce_invalid_id(self, c: Connector) -> None:
        """After a non-Accepted StartTransaction.conf: allow MaxEnergyOnInvalidId Wh, then stop the
        transaction (StopTransactionOnInvalidId, reason DeAuthorized) or only the energy (§3.5.4)."""
        tx = c.transaction
        assert tx is not None
        allowance = self.ctx.config.get_int("MaxEnergyOnInvalidId")
        if allowance > 0 and self.ctx.meter(c.id).energy_wh - tx.meter_start_wh < allowance:
            if self.ctx.meter_source is not None:  # readings are pulled: look again in a second
                self.ctx.timers.set(("allowance", c.id), self.ctx.now + 1.0, lambda now: self._recheck(c.id))
            return
        if self.ctx.config.get_bool("StopTransactionOnInvalidId"):
            self.stop(c.id, Reason.DeAuthorized)
        else:
            self.energize(c, False)
            self.status.refresh(c.id)

    def _recheck(self, connector_id: int) -> None:
        c = self.ctx.connectors[connector_id]
        if c.transaction is not None and c.transaction.deauthorized and c.energized:
            self._enforce_invalid_id(c)

    # -- stop -----------------------------------------------------------------------------------
    def stop(
        self, connector_id: int, reason: Reason | str, *, id_tag: str | None = None, unlock: bool = True
    ) -> None:
        """End the connector's transaction and queue StopTransaction.req (§4.10)."""
        c = self._connector(connector_id)
        tx = c.transaction
        if tx is None:
            return
        self.metering.transaction_ending(tx)
        c.transaction = None
        self.energize(c, False)
        if reason == Reason.DeAuthorized:
            self.holds.hold(c, tx)  # §3.5.4: locked until the same idTag (or its group) is presented
        elif unlock and self.ctx.settings.spec(c.id).has_lock:
            self.ctx.emit(LockConnector(c.id, False))
        tx.meter_last_wh = max(round(self.ctx.meter(c.id).energy_wh), tx.meter_start_wh)
        tx.last_at = self.ctx.ocpp_time()
        self.queue_stop(tx, reason, id_tag)
        # Finishing until the cable is out (§4.9 C6): the EV still connected, or a socket still holding
        # the driver's cable after the EV side was unplugged (TC_005_1, TC_005_3). A fixed cable
        # already unplugged at the EV needs nothing more (C1).
        c.finishing = c.plugged or c.cable_in_socket
        self.ctx.tell("transaction_ended", connector_id)
        self.status.refresh(connector_id)

    def queue_stop(self, tx: Transaction, reason: Reason | str, id_tag: str | None) -> None:
        """StopTransaction.req with the transaction's last meter value and time (§4.10)."""
        tx.stopping = True
        known = tx.transaction_id
        request = StopTransactionRequest(
            meter_stop=tx.meter_last_wh,
            timestamp=Timestamp(tx.last_at),
            transaction_id=UNKNOWN_TRANSACTION_ID if known is None else known,
            reason=Reason(reason),
        )
        if id_tag is not None:
            request = msgspec.structs.replace(request, id_tag=id_tag)
        if tx.stop_data:
            request = msgspec.structs.replace(request, transaction_data=list(tx.stop_data))
        self.ctx.save_transaction(tx)
        self.ctx.call(request, meta={"tx": tx.local_id})

    def stop_all(self, reason: Reason | str) -> None:
        for c in self.ctx.connectors[1:]:
            if c.transaction is not None:
                self.stop(c.id, reason)

    @on_result(StopTransactionRequest)
    def _stop_result(self, call: OutgoingCall, response: StopTransactionResponse) -> None:
        self._close(call)
        info = response.id_tag_info
        id_tag = call.payload.id_tag if isinstance(call.payload, StopTransactionRequest) else None
        if info and id_tag:
            self.auth.remember(id_tag, info)

    @on_failure(StopTransactionRequest)
    def _stop_dropped(self, call: OutgoingCall, reason: str) -> None:
        log.error("StopTransaction for local transaction %s dropped (%s)", call.meta.get("tx"), reason)
        self._close(call)

    def _close(self, call: OutgoingCall) -> None:
        """The transaction's last message is done: forget it (stored in the same step), unless its
        cable is still held: then at the release."""
        local_id = call.meta["tx"]
        tx = self.open.get(local_id)
        if tx is None or not self.holds.keeps(tx):
            self.forget(local_id)

    def forget(self, local_id: int) -> None:
        """Delete a transaction that is done with (its record in the same step)."""
        if self.open.pop(local_id, None) is not None:
            self.ctx.persist("transactions", local_id, None)

    @prepares(StopTransactionRequest)
    @prepares(MeterValuesRequest)
    def _fill_transaction_id(self, call: OutgoingCall) -> bool:
        """At send time: the CSMS transactionId replaces our local id (never -1, issue #3)."""
        local_id = call.meta.get("tx")
        if local_id is None:
            return True
        tx = self.open.get(local_id)
        if tx is None or tx.transaction_id is None:
            log.error("%s for local transaction %s has no CSMS transactionId: dropped", call.action, local_id)
            return False
        payload = call.payload
        assert isinstance(payload, StopTransactionRequest | MeterValuesRequest)
        if payload.transaction_id != tx.transaction_id:
            call.payload = msgspec.structs.replace(payload, transaction_id=tx.transaction_id)
        return True
