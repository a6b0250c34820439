"""Reservation (OCPP 1.6 §3.11, §5.13 ReserveNow, §5.1 CancelReservation, §9.3).

A reservation holds one connector (or, with connectorId 0 and ReserveConnectorZeroSupported, *some*
connector) for an idTag or its group (parentIdTag) until its expiryDate: only that idTag or a tag of
the same group starts a transaction there, and that StartTransaction.req carries the reservationId,
which ends the reservation. Expiry is a timer, never polled. Reservations are stored (records of kind
``reservations``, key the reservationId) and come back after a restart with their expiry.

Connector 0 (§5.13): no connector is picked; a connector stays free for the reserved idTag at any time.
Other drivers may use any free connector as long as at least one free connector is left per
connector-0 reservation; once no more are left than reservations, those connectors show Reserved.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

from ocpp_station.core.clock import format_datetime, parse_datetime
from ocpp_station.core.context import Context, log
from ocpp_station.core.features.base import Feature, answers
from ocpp_station.core.features.status import StatusReporter
from ocpp_station.core.features.transactions import Transactions
from ocpp_station.core.model import Connector, Restored
from ocpp_station.wire.frames import Call
from ocpp_station.wire.messages import (
    CancelReservationRequest,
    CancelReservationResponse,
    CancelReservationStatus,
    ReservationStatus,
    ReserveNowRequest,
    ReserveNowResponse,
)


@dataclass(slots=True)
class Reservation:
    reservation_id: int
    connector_id: int  # 0: any connector
    id_tag: str
    parent_id_tag: str | None
    expiry: float  # OCPP clock, POSIX seconds

    def to_record(self) -> dict[str, Any]:
        return {
            "reservationId": self.reservation_id,
            "connectorId": self.connector_id,
            "idTag": self.id_tag,
            "parentIdTag": self.parent_id_tag,
            "expiryDate": format_datetime(self.expiry),
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Reservation:
        return cls(
            reservation_id=int(record["reservationId"]),
            connector_id=int(record["connectorId"]),
            id_tag=str(record["idTag"]),
            parent_id_tag=record.get("parentIdTag"),
            expiry=parse_datetime(record["expiryDate"]),
        )

    def matches(self, id_tag: str, parent: str | None) -> bool:
        """§5.13: the incoming idTag or its parent matches the idTag or parentIdTag of the reservation."""
        mine = {self.id_tag, self.parent_id_tag} - {None}
        return bool({id_tag, parent} & mine)


class Reservations(Feature):
    __slots__ = ("active", "ctx", "status", "transactions")
    PROFILE = "Reservation"

    def __init__(self, ctx: Context, transactions: Transactions, status: StatusReporter) -> None:
        self.ctx = ctx
        self.transactions = transactions
        self.status = status
        #: Active reservations by reservationId.
        self.active: dict[int, Reservation] = {}

    # -- restart (issue #3) ---------------------------------------------------------------------------
    def restore(self, restored: Restored) -> None:
        """The reservations the store kept (records kind ``reservations``); each gets its expiry timer
        back. One already expired ends at the first TimerDue (its record is deleted then)."""
        records = restored.reservations
        for key, record in records.items():
            try:
                reservation = Reservation.from_record(record)
            except (KeyError, TypeError, ValueError):
                log.warning("dropping unreadable reservation record %s", key)
                continue
            if not 0 <= reservation.connector_id < len(self.ctx.connectors):
                continue
            self.active[reservation.reservation_id] = reservation
            self._arm(reservation)

    # -- ReserveNow (§5.13) ---------------------------------------------------------------------------
    @answers(ReserveNowRequest)
    def _reserve_now(self, request: ReserveNowRequest, call: Call) -> ReserveNowResponse:
        """§5.13. The state of the connector (or Charge Point) is judged first: the SHALLs of §5.13 give
        Faulted, Unavailable and Occupied whatever the expiryDate. Then an expiryDate already reached
        (which §5.13 gives no rule for) is Rejected: over before it begins, nothing to reserve."""
        connector_id = request.connector_id
        reservation_id = request.reservation_id
        if not 0 <= connector_id < len(self.ctx.connectors):
            return ReserveNowResponse(status=ReservationStatus.Rejected)
        if connector_id == 0 and not self.ctx.config.get_bool("ReserveConnectorZeroSupported"):
            return ReserveNowResponse(status=ReservationStatus.Rejected)
        # The same reservationId replaces that reservation (§5.13): judge the new one without it.
        existing = self.active.pop(reservation_id, None)
        status = self._judge(connector_id)
        if (
            status is ReservationStatus.Occupied
            and existing is not None
            and existing.connector_id == connector_id
        ):
            status = ReservationStatus.Accepted  # its own driver may already be at the connector
        if existing is not None:
            self.active[reservation_id] = existing
        if status is not ReservationStatus.Accepted:
            return ReserveNowResponse(status=status)
        expiry = float(request.expiry_date)
        if expiry <= self.ctx.ocpp_time():
            return ReserveNowResponse(status=ReservationStatus.Rejected)
        reservation = Reservation(
            reservation_id, connector_id, request.id_tag, request.parent_id_tag or None, expiry
        )
        self.active[reservation_id] = reservation
        self.ctx.persist("reservations", reservation_id, reservation.to_record())
        self._arm(reservation)
        log.info(
            "reservation %s: connector %s for %s until %s",
            reservation_id,
            connector_id,
            reservation.id_tag,
            format_datetime(expiry),
        )
        self.ctx.after_reply.append(self.status.refresh)
        return ReserveNowResponse(status=ReservationStatus.Accepted)

    def _judge(self, connector_id: int) -> ReservationStatus:
        """The ReserveNow.conf status for a new reservation of ``connector_id``."""
        station = self.ctx.connectors[0]
        if station.fault is not None:
            return ReservationStatus.Faulted
        if not station.operative:
            return ReservationStatus.Unavailable
        live = self._live()
        zero = sum(1 for r in live if r.connector_id == 0)
        if connector_id == 0:
            free = self._free(live)
            if len(free) > zero:
                return ReservationStatus.Accepted
            connectors = self.ctx.connectors[1:]
            if all(c.fault is not None for c in connectors):
                return ReservationStatus.Faulted
            if all(c.fault is not None or not c.operative or c.maintenance for c in connectors):
                return ReservationStatus.Unavailable
            return ReservationStatus.Occupied
        c = self.ctx.connectors[connector_id]
        if c.fault is not None:
            return ReservationStatus.Faulted
        if not c.operative or c.maintenance:
            return ReservationStatus.Unavailable
        if any(r.connector_id == connector_id for r in live) or not self._is_free(c):
            return ReservationStatus.Occupied
        # Connector-0 reservations keep one free connector each (§5.13).
        others = [x for x in self._free(live) if x is not c]
        if len(others) < zero:
            return ReservationStatus.Occupied
        return ReservationStatus.Accepted

    # -- CancelReservation (§5.1) ---------------------------------------------------------------------
    @answers(CancelReservationRequest)
    def _cancel(self, request: CancelReservationRequest, call: Call) -> CancelReservationResponse:
        reservation = self.active.get(request.reservation_id)
        if reservation is None:
            return CancelReservationResponse(status=CancelReservationStatus.Rejected)
        log.info("reservation %s cancelled", reservation.reservation_id)
        self._end(reservation)
        self.ctx.after_reply.append(self.status.refresh)
        return CancelReservationResponse(status=CancelReservationStatus.Accepted)

    # -- the gate a start asks (intended_usage.ReservationGate) ----------------------------------------
    def allows(self, c: Connector, id_tag: str, parent: str | None, *, unsure: bool = False) -> bool:
        live = self._live()
        if not live:
            return True

        def fits(r: Reservation) -> bool:
            # Its parent still unknown, a tag may be of the reservation's group: Authorize.req tells.
            return r.matches(id_tag, parent) or (unsure and r.parent_id_tag is not None)

        own = [r for r in live if r.connector_id == c.id]
        if own:
            return any(fits(r) for r in own)
        zero = [r for r in live if r.connector_id == 0]
        if not zero or any(fits(r) for r in zero):
            return True
        others = [x for x in self._free(live) if x is not c]
        return len(others) >= len(zero)

    def holds_for(self, c: Connector, id_tag: str, parent: str | None) -> bool:
        return any(r.connector_id == c.id and r.matches(id_tag, parent) for r in self._live())

    def claim(self, c: Connector, id_tag: str, parent: str | None) -> int | None:
        live = self._live()
        chosen = next((r for r in live if r.connector_id == c.id and r.matches(id_tag, parent)), None)
        if chosen is None:
            chosen = next((r for r in live if r.connector_id == 0 and r.matches(id_tag, parent)), None)
        if chosen is None:
            return None
        log.info("reservation %s used by %s on connector %s", chosen.reservation_id, id_tag, c.id)
        self._end(chosen)
        return chosen.reservation_id

    # -- bookkeeping -------------------------------------------------------------------------------
    def _live(self) -> list[Reservation]:
        """Reservations not yet past their expiry (one past it ends at its timer)."""
        now = self.ctx.ocpp_time()
        return [r for r in self.active.values() if r.expiry > now]

    def _is_free(self, c: Connector) -> bool:
        """Available for a new user: it could take a transaction and nothing is going on at it yet
        (§4.9 Available); or Reserved with only a cable plugged in, which does not end Reserved (§4.9:
        the reservation's identity does, G2)."""
        return (
            self.transactions.usage.idle(c)
            and (not c.plugged or c.reserved)
            and not c.finishing
            and c.waiting_id_tag is None
        )

    def _free(self, live: list[Reservation]) -> list[Connector]:
        """Free connectors not reserved on their own: what connector-0 reservations draw on."""
        own = {r.connector_id for r in live}
        return [c for c in self.ctx.connectors[1:] if c.id not in own and self._is_free(c)]

    def _arm(self, reservation: Reservation) -> None:
        """The expiry timer, on the local clock (timers run on it; expiryDate is OCPP time)."""
        at = reservation.expiry - self.ctx.clock_offset_s
        key = ("reservation", reservation.reservation_id)
        if self.ctx.timers.due_at(key) != at:
            self.ctx.timers.set(key, at, partial(self._expired, reservation.reservation_id))

    def clock_changed(self) -> None:
        """The OCPP clock moved: the expiry timers fall at other local times."""
        for reservation in self.active.values():
            self._arm(reservation)

    def _expired(self, reservation_id: int, now: float) -> None:
        reservation = self.active.get(reservation_id)
        if reservation is None:
            return
        if reservation.expiry > self.ctx.ocpp_time():
            self._arm(reservation)  # the OCPP clock was set back since: not yet
            return
        log.info("reservation %s expired", reservation_id)
        self._end(reservation)
        self.status.refresh()  # G1: Reserved -> Available (§5.13: a StatusNotification tells)

    def _end(self, reservation: Reservation) -> None:
        self.active.pop(reservation.reservation_id, None)
        self.ctx.timers.cancel(("reservation", reservation.reservation_id))
        self.ctx.persist("reservations", reservation.reservation_id, None)

    def status_conditions(self) -> list[int]:
        """Before every status refresh: end reservations whose connector (or the charge point) became
        Faulted or Unavailable (§5.13 (3)), follow clock changes, and mark the reserved connectors.
        Returns the connectors whose mark changed."""
        station = self.ctx.connectors[0]
        for reservation in list(self.active.values()):
            c = self.ctx.connectors[reservation.connector_id]
            if (
                station.fault is not None
                or not station.operative
                or c.fault is not None
                or not c.operative
                or c.maintenance  # held for a firmware installation: Unavailable (§5.19, erratum 3.49)
            ):
                log.info(
                    "reservation %s ends: connector %s Faulted/Unavailable", reservation.reservation_id, c.id
                )
                self._end(reservation)
            else:
                self._arm(reservation)
        live = self._live()
        reserved = {r.connector_id for r in live if r.connector_id > 0}
        zero = sum(1 for r in live if r.connector_id == 0)
        if zero:
            free = self._free(live)
            if len(free) <= zero:
                reserved.update(c.id for c in free)
        changed: list[int] = []
        for c in self.ctx.connectors[1:]:
            mark = c.id in reserved
            if c.reserved != mark:
                c.reserved = mark
                changed.append(c.id)
                if not mark:
                    self.transactions.usage.unreserved(c)  # a cable already in starts waiting now
        return changed
