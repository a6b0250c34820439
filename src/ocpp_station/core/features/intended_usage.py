"""Intended usage before a transaction: which connector a start goes to, and the wait for the other
half of card first / cable first (OCPP 1.6 §4.9 B1, B6; §5.13 reservations; key §9.1.6 ConnectionTimeOut).

Card first: an authorized idTag waits on an empty connector (Preparing) until the cable comes or
ConnectionTimeOut ends the intended usage. Cable first: a plugged connector waits for an idTag until
ConnectionTimeOut, then shows Finishing until it is unplugged. A cable plugged into a Reserved
connector starts no wait: the connector stays Reserved (§4.9 G2: only the reservation's identity
makes it Preparing) until that identity comes or the reservation ends; then the wait begins
(:meth:`IntendedUsage.unreserved`). :class:`IntendedUsage` is owned by
:class:`~.transactions.Transactions`, which starts what it hands back; it asks nothing of it.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from typing import Any, Protocol

from ocpp_station.core.context import Context, log
from ocpp_station.core.features.status import StatusReporter
from ocpp_station.core.model import Connector, Transaction
from ocpp_station.wire.messages import IdTagInfo

#: An authorized idTag waiting for the cable: the idTag, what it was authorized with, the start's meta.
Waiting = tuple[str, IdTagInfo, dict[str, Any]]


class ReservationGate(Protocol):
    """What the Reservation profile (§5.13) tells a start: who may use a connector, and which
    reservation a start ends. The engine sets it as ``ctx.reservations`` when the profile is there."""

    def allows(self, c: Connector, id_tag: str, parent: str | None, *, unsure: bool = False) -> bool:
        """Whether ``id_tag`` (of group ``parent``) may start on ``c``; ``unsure``: its parent is not
        known yet (an Authorize.req may tell)."""
        ...

    def holds_for(self, c: Connector, id_tag: str, parent: str | None) -> bool:
        """Whether ``c`` is reserved for ``id_tag`` (or its group)."""
        ...

    def claim(self, c: Connector, id_tag: str, parent: str | None) -> int | None:
        """A transaction of ``id_tag`` starts on ``c``: end the reservation it uses; its reservationId."""
        ...


class IntendedUsage:
    """The connector a start goes to and the card-first / cable-first wait (§4.9, §9.1.6)."""

    __slots__ = ("_waiting", "ctx", "held", "status")

    def __init__(self, ctx: Context, status: StatusReporter) -> None:
        self.ctx = ctx
        self.status = status
        #: Card-first: what the waiting idTag was authorized with, by connector.
        self._waiting: dict[int, Waiting] = {}
        #: The Reservation profile, when supported: a reserved connector takes only its idTag (§5.13).
        #: Connectors whose cable stays locked after a DeAuthorized stop, with that transaction
        #: (§3.5.4, erratum 3.5): no new transaction there until its owner took the cable back.
        #: Kept by :class:`~.cable_hold.CableHolds`.
        self.held: dict[int, Transaction] = {}

    # -- which connector ------------------------------------------------------------------------
    def idle(self, c: Connector) -> bool:
        """Whether the connector could take a new transaction: no transaction, no fault, operative and
        not held for a firmware installation, and neither is the charge point (connector 0); and its
        socket does not hold the cable of a DeAuthorized transaction (:attr:`held`)."""
        station = self.ctx.connectors[0]
        return (
            c.transaction is None
            and c.id not in self.held
            and c.fault is None
            and c.operative
            and not c.maintenance
            and station.operative
            and station.fault is None
        )

    def allows(self, c: Connector, id_tag: str, parent: str | None, *, unsure: bool = False) -> bool:
        """Reservations (§5.13): a reserved connector takes only the reserved idTag or its group."""
        gate = self.ctx.reservations
        return gate is None or gate.allows(c, id_tag, parent, unsure=unsure)

    def pick_connector(
        self,
        connector_id: int | None,
        id_tag: str | None = None,
        parent: str | None = None,
        *,
        unsure: bool = False,
    ) -> Connector | None:
        """The connector a new transaction goes to: the one asked for if it can take it; else one
        reserved for ``id_tag``; else a plugged-in idle one; else any idle one. Without ``id_tag``
        reservations are not looked at (the caller checks them)."""

        def usable(c: Connector) -> bool:
            return self.idle(c) and (id_tag is None or self.allows(c, id_tag, parent, unsure=unsure))

        if connector_id is not None:
            c = self.ctx.connectors[connector_id]
            return c if usable(c) else None
        idle = [c for c in self.ctx.connectors[1:] if usable(c)]
        gate = self.ctx.reservations
        if id_tag is not None and gate is not None:
            # The driver's own reserved connector first (§3.11).
            idle.sort(key=lambda c: not gate.holds_for(c, id_tag, parent))
        plugged = [c for c in idle if c.plugged and c.id not in self._waiting]
        free = [c for c in idle if c.id not in self._waiting]
        choice = plugged or free
        return choice[0] if choice else None

    # -- card first / cable first ---------------------------------------------------------------
    def waiting_on(self, connector_id: int) -> bool:
        """Whether an authorized idTag waits for the cable on this connector (card first)."""
        return connector_id in self._waiting

    def wait_for_cable(self, c: Connector, id_tag: str, info: IdTagInfo, meta: dict[str, Any]) -> None:
        """Card first: the connector shows Preparing until the cable comes or ConnectionTimeOut (§9.1.6)."""
        self._waiting[c.id] = (id_tag, info, meta)
        c.waiting_id_tag = id_tag
        self._arm_connection_timeout(c)

    def cable_in(self, c: Connector) -> Waiting | None:
        """The cable came into ``c``, which has no transaction: the waiting idTag to start on it now,
        if any (the caller starts it); else ConnectionTimeOut runs until an idTag comes (cable first)."""
        if c.id not in self._waiting and not c.reserved:
            self._arm_connection_timeout(c)
        if c.id in self._waiting and self.idle(c):
            # Not on a faulted or unavailable connector (OCTT TC_024_CS: no transaction after a
            # ConnectorLockFailure); the idTag keeps waiting until ConnectionTimeOut.
            return self._waiting.pop(c.id)
        # A card presented without a connector may be waiting on another, still empty connector.
        for other, waiting in list(self._waiting.items()):
            id_tag, info, meta = waiting
            if (
                meta.get("connector") is None
                and not self.ctx.connectors[other].plugged
                and self.idle(c)
                and self.allows(c, id_tag, info.parent_id_tag or None)
            ):
                del self._waiting[other]
                self._clear_waiting(self.ctx.connectors[other])
                return waiting
        return None

    def cable_out(self, c: Connector) -> None:
        """The EV side was unplugged: no ConnectionTimeOut for a cable that is gone (a waiting idTag
        keeps its own)."""
        if c.id not in self._waiting:
            self.ctx.timers.cancel(("connection-timeout", c.id))

    def unreserved(self, c: Connector) -> None:
        """The reservation that kept ``c`` Reserved ended: a cable already in with nothing started
        waits for an idTag from now, until ConnectionTimeOut (cable first, §4.9 B6)."""
        if c.plugged and c.transaction is None and not c.finishing and c.id not in self._waiting:
            self._arm_connection_timeout(c)

    def withdraw(self, id_tag: str, candidates: Iterable[Connector]) -> bool:
        """§4.9 B1: a second presentation of a waiting idTag ends the intended usage. Whether it did."""
        for c in candidates:
            waiting = self._waiting.get(c.id)
            if waiting is not None and waiting[0] == id_tag:
                del self._waiting[c.id]
                self._clear_waiting(c)
                self.status.refresh(c.id)
                return True
        return False

    def started(self, c: Connector) -> None:
        """A transaction starts on ``c``: nothing waits on it any more."""
        self._clear_waiting(c)
        self._waiting.pop(c.id, None)

    def _arm_connection_timeout(self, c: Connector) -> None:
        timeout = self.ctx.config.get_int("ConnectionTimeOut")
        if timeout > 0:
            self.ctx.timers.set(
                ("connection-timeout", c.id), self.ctx.now + timeout, partial(self._timed_out, c.id)
            )

    def _timed_out(self, connector_id: int, now: float) -> None:
        """ConnectionTimeOut (§9.1.6, errata 3.20/3.21): card first without a cable goes back to
        Available (B1); cable first without a card goes to Finishing (B6) until it is unplugged."""
        c = self.ctx.connectors[connector_id]
        if self._waiting.pop(connector_id, None) is not None:
            log.info("connector %s: ConnectionTimeOut, no cable came", connector_id)
            self._clear_waiting(c)
        elif c.plugged and c.transaction is None and not c.finishing:
            log.info("connector %s: ConnectionTimeOut, no idTag came", connector_id)
            c.finishing = True
        self.status.refresh(connector_id)

    def _clear_waiting(self, c: Connector) -> None:
        c.waiting_id_tag = None
        self.ctx.timers.cancel(("connection-timeout", c.id))
