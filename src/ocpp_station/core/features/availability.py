"""ChangeAvailability (OCPP 1.6 §5.2): Operative / Inoperative, per connector or the whole charge point
(connector 0), Scheduled while a transaction runs, kept across restarts (StoreAvailability)."""

from __future__ import annotations

from ocpp_station.core.context import Context
from ocpp_station.core.effects import StoreAvailability
from ocpp_station.core.features.base import Feature, answers
from ocpp_station.core.features.status import StatusReporter
from ocpp_station.core.model import Connector
from ocpp_station.wire.frames import Call
from ocpp_station.wire.messages import (
    AvailabilityStatus,
    AvailabilityType,
    ChangeAvailabilityRequest,
    ChangeAvailabilityResponse,
)


class Availability(Feature):
    __slots__ = ("ctx", "status")

    def __init__(self, ctx: Context, status: StatusReporter) -> None:
        self.ctx = ctx
        self.status = status

    def _set(self, c: Connector, operative: bool) -> None:
        c.scheduled_operative = None
        if c.operative != operative:
            c.operative = operative
            self.ctx.emit(StoreAvailability(c.id, operative))

    def _schedule(self, c: Connector, operative: bool) -> None:
        """Scheduled (§5.2): applied when the transaction ends. Stored as the target at once, so a
        power cut that ends the transaction leaves the connector as the CSMS asked (OCTT TC_034)."""
        c.scheduled_operative = operative
        self.ctx.emit(StoreAvailability(c.id, operative))

    @answers(ChangeAvailabilityRequest)
    def _change(self, request: ChangeAvailabilityRequest, call: Call) -> ChangeAvailabilityResponse:
        """ChangeAvailability.req (§5.2, §6.7): Accepted, Scheduled while a transaction runs, Rejected
        for an unknown connector."""
        connector_id = request.connector_id
        operative = request.type is AvailabilityType.Operative
        if not 0 <= connector_id < len(self.ctx.connectors):
            return ChangeAvailabilityResponse(status=AvailabilityStatus.Rejected)
        targets = self.ctx.connectors if connector_id == 0 else [self.ctx.connectors[connector_id]]
        busy = [c for c in targets if c.transaction is not None]
        for c in targets:
            if c.transaction is not None and not operative:
                self._schedule(c, operative)
            else:
                self._set(c, operative)
        if connector_id == 0 and busy and not operative:
            # The charge point as a whole follows once its last transaction has ended.
            self._set(self.ctx.connectors[0], True)
            self._schedule(self.ctx.connectors[0], False)
        self.ctx.after_reply.append(self.status.refresh)
        scheduled = busy and not operative
        return ChangeAvailabilityResponse(
            status=AvailabilityStatus.Scheduled if scheduled else AvailabilityStatus.Accepted
        )

    def transaction_ended(self, connector_id: int) -> None:
        """Apply an availability change that was Scheduled for this connector's transaction, at once
        when no user action is left (§4.9 C8), else once the connector leaves Finishing (F8)."""
        c = self.ctx.connectors[connector_id]
        if c.scheduled_operative is not None and not c.finishing:
            self._set(c, c.scheduled_operative)
        station = self.ctx.connectors[0]
        if station.scheduled_operative is not None and not any(
            x.transaction for x in self.ctx.connectors[1:]
        ):
            self._set(station, station.scheduled_operative)
        self.status.refresh()

    def connector_idle(self, connector_id: int) -> None:
        """The connector left Finishing: now apply what was Scheduled for it."""
        c = self.ctx.connectors[connector_id]
        if c.scheduled_operative is not None and c.transaction is None:
            self._set(c, c.scheduled_operative)
