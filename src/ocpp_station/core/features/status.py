"""Connector status and StatusNotification (OCPP 1.6 §4.9, §6.47, §7.7, MinimumStatusDuration §9.1.20).

A connector's status is *derived* from its conditions by :data:`STATUS_RULES`, a priority table:
the first rule whose condition holds gives the status. :data:`TRANSITIONS` is the §4.9 table of
allowed changes (A2 ... I8); a change the rules produce that §4.9 does not list is logged, and the
unit tests walk every scenario against it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from functools import partial

from msgspec import UNSET

from ocpp_station.core.context import Context, log
from ocpp_station.core.features.base import Feature, Trigger, connectors_for
from ocpp_station.core.model import Connector
from ocpp_station.wire.messages import (
    ChargePointErrorCode,
    ChargePointStatus,
    MessageTrigger,
    StatusNotificationRequest,
    TriggerMessageStatus,
)
from ocpp_station.wire.timestamps import Timestamp

_S = ChargePointStatus
_NO_ERROR = ChargePointErrorCode.NoError

Rule = tuple[ChargePointStatus, Callable[[Connector], bool]]

#: Connector 1..n: first matching rule wins.
STATUS_RULES: tuple[Rule, ...] = (
    (_S.Faulted, lambda c: c.fault is not None),
    (_S.Unavailable, lambda c: (not c.operative or c.maintenance) and c.transaction is None),
    (_S.SuspendedEVSE, lambda c: c.transaction is not None and not c.energized),
    (_S.SuspendedEV, lambda c: c.transaction is not None and (not c.plugged or not c.ev_ready)),
    (_S.Charging, lambda c: c.transaction is not None),
    (_S.Finishing, lambda c: c.finishing),
    # A plug alone does not end Reserved (§4.9: "insert plug" starts usage from Available, A2; a
    # reserved connector goes to Preparing when the reservation's identity is presented, G2).
    (_S.Reserved, lambda c: c.reserved and c.waiting_id_tag is None),
    (_S.Preparing, lambda c: c.plugged or c.waiting_id_tag is not None),
    (_S.Available, lambda c: True),
)

#: Connector 0: only Available, Unavailable and Faulted apply (§4.9).
STATION_RULES: tuple[Rule, ...] = (
    (_S.Faulted, lambda c: c.fault is not None),
    (_S.Unavailable, lambda c: not c.operative),
    (_S.Available, lambda c: True),
)

#: OCPP 1.6 §4.9 "possible status transitions", from -> allowed targets.
TRANSITIONS: dict[ChargePointStatus, frozenset[ChargePointStatus]] = {
    _S.Available: frozenset(set(_S) - {_S.Available, _S.Finishing}),
    _S.Preparing: frozenset(
        {_S.Available, _S.Charging, _S.SuspendedEV, _S.SuspendedEVSE, _S.Finishing, _S.Faulted}
    ),
    _S.Charging: frozenset(
        {_S.Available, _S.SuspendedEV, _S.SuspendedEVSE, _S.Finishing, _S.Unavailable, _S.Faulted}
    ),
    _S.SuspendedEV: frozenset(
        {_S.Available, _S.Charging, _S.SuspendedEVSE, _S.Finishing, _S.Unavailable, _S.Faulted}
    ),
    _S.SuspendedEVSE: frozenset(
        {_S.Available, _S.Charging, _S.SuspendedEV, _S.Finishing, _S.Unavailable, _S.Faulted}
    ),
    _S.Finishing: frozenset({_S.Available, _S.Preparing, _S.Unavailable, _S.Faulted}),
    _S.Reserved: frozenset({_S.Available, _S.Preparing, _S.Unavailable, _S.Faulted}),
    _S.Unavailable: frozenset(
        {_S.Available, _S.Preparing, _S.Charging, _S.SuspendedEV, _S.SuspendedEVSE, _S.Faulted}
    ),
    _S.Faulted: frozenset(set(_S) - {_S.Faulted}),
}


def derive_status(connector: Connector) -> ChargePointStatus:
    rules = STATION_RULES if connector.id == 0 else STATUS_RULES
    return next(status for status, holds in rules if holds(connector))


class StatusReporter(Feature):
    """Sends StatusNotification.req whenever a connector's derived status or error changes."""

    __slots__ = ("ctx",)

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        # StatusNotification.conf carries nothing; no result handler needed.

    def refresh(self, connector_id: int | None = None) -> None:
        """Re-derive the status of one connector (or all) and report changes.

        With MinimumStatusDuration > 0 a new status is only reported once it held that long (§9.1.20).
        """
        touched: set[int] = set()
        # Before every refresh, the features that declared ``status_conditions`` (in the engine's
        # shared plan) bring derived conditions up to date (e.g. which connectors are reserved);
        # each returns the ids of other connectors whose status may have changed too.
        features = self.ctx.features
        for index in self.ctx.plan.get("status_conditions", ()):
            touched.update(features[index].status_conditions())
        ids: Iterable[int] = range(len(self.ctx.connectors))
        if connector_id is not None:
            ids = [connector_id, *sorted(touched - {connector_id})]
        for cid in ids:
            connector = self.ctx.connectors[cid]
            status = derive_status(connector)
            error = connector.fault.error_code if connector.fault else _NO_ERROR
            if (status, error) == (connector.reported_status, connector.reported_error):
                self.ctx.timers.cancel(("status", cid))
                continue
            minimum = self.ctx.config.get_int("MinimumStatusDuration")
            if minimum > 0 and connector.reported_status is not None and error == _NO_ERROR:
                if self.ctx.timers.due_at(("status", cid)) is None:
                    self.ctx.timers.set(("status", cid), self.ctx.now + minimum, partial(self._settled, cid))
                continue
            self._report(connector, status, error)

    def _settled(self, connector_id: int, now: float) -> None:
        self.ctx.timers.cancel(("status", connector_id))
        connector = self.ctx.connectors[connector_id]
        status = derive_status(connector)
        error = connector.fault.error_code if connector.fault else _NO_ERROR
        if (status, error) != (connector.reported_status, connector.reported_error):
            self._report(connector, status, error)

    def _report(self, connector: Connector, status: ChargePointStatus, error: str) -> None:
        previous = connector.reported_status
        if (
            previous is not None
            and previous != status  # the same status with another errorCode
            and status not in TRANSITIONS[ChargePointStatus(previous)]
            and connector.id > 0
        ):
            log.warning("connector %s: %s -> %s is not a §4.9 transition", connector.id, previous, status)
        connector.reported_status = status
        connector.reported_error = error
        connector.status_since = self.ctx.now
        self.ctx.timers.cancel(("status", connector.id))
        self.send(connector)

    def send(self, connector: Connector) -> None:
        """Queue a StatusNotification.req (§6.47) with the connector's reported status (also for
        TriggerMessage, §5.17)."""
        error = connector.reported_error or ChargePointErrorCode.NoError
        status = connector.reported_status or derive_status(connector)
        info: str | None = None
        vendor_error_code: str | None = None
        fault = connector.fault
        if fault is not None:
            info = fault.info
            vendor_error_code = fault.vendor_error_code
        elif not connector.plugged and (connector.transaction is not None or connector.finishing):
            # §4.9: SuspendedEV (transaction goes on) or Finishing (stopped) after the EV side was
            # unplugged carries this info (OCTT TC_005_3_CS step 1).
            info = "EV side disconnected"
        try:
            request = StatusNotificationRequest(
                connector_id=connector.id,
                error_code=ChargePointErrorCode(error),
                status=ChargePointStatus(status),
                timestamp=Timestamp(self.ctx.ocpp_time()),
                info=info or UNSET,
                vendor_error_code=vendor_error_code or UNSET,
            )
        except ValueError:
            # A hardware errorCode outside §7.6 is our bug: never sent (strict on output).
            log.error("not sending invalid StatusNotification: errorCode %r", error)
            return
        self.ctx.call(request)

    def registration_accepted(self) -> None:
        """BootNotification Accepted: report every connector (§4.2, §4.9)."""
        self.send_all()

    def triggers(self) -> Mapping[str, Trigger]:
        return {MessageTrigger.StatusNotification: self._trigger}

    def _trigger(self, connector_id: int | None) -> Callable[[], None] | str:
        """TriggerMessage StatusNotification (§5.17): the connector asked, or every one (connector 0
        too) when absent; an unknown one is Rejected (OCTT TC_055_CS)."""
        ids = connectors_for(self.ctx, connector_id, first=0)
        if ids is None:
            return TriggerMessageStatus.Rejected

        def send() -> None:
            for cid in ids:
                self.send(self.ctx.connectors[cid])

        return send

    def send_all(self) -> None:
        """After (re)boot: the status of connector 0 and of every connector (§4.9, §4.2)."""
        # These supersede whatever was queued while not yet Accepted.
        self.ctx.outbox.remove_where(lambda call: call.action == "StatusNotification")
        for connector in self.ctx.connectors:
            connector.reported_status = derive_status(connector)
            connector.reported_error = connector.fault.error_code if connector.fault else _NO_ERROR
            connector.status_since = self.ctx.now
            self.send(connector)
