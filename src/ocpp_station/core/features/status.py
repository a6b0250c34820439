"""Connector status and StatusNotification (OCPP 1.6 §4.9, §6.47, §7.7, MinimumStatusDuration §9.1.20).

A connector's status is *derived* from its conditions by :data:`STATUS_RULES`, a priority table:
the first rule whose condition holds gives the status. :data:`TRANSITIONS` is the §4.9 table of
allowed changes (A2 ... I8); a change the rules produce that §4.9 does not list is logged, and the
unit tests walk every scenario against it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from functools import partial
from typing import Any

from ocpp_station.core.context import Context, log
from ocpp_station.core.features.base import Feature, Trigger, connectors_for
from ocpp_station.core.model import Connector

Rule = tuple[str, Callable[[Connector], bool]]

#: Connector 1..n: first matching rule wins.
STATUS_RULES: tuple[Rule, ...] = (
    ("Faulted", lambda c: c.fault is not None),
    ("Unavailable", lambda c: (not c.operative or c.maintenance) and c.transaction is None),
    ("SuspendedEVSE", lambda c: c.transaction is not None and not c.energized),
    ("SuspendedEV", lambda c: c.transaction is not None and (not c.plugged or not c.ev_ready)),
    ("Charging", lambda c: c.transaction is not None),
    ("Finishing", lambda c: c.finishing),
    # A plug alone does not end Reserved (§4.9: "insert plug" starts usage from Available, A2; a
    # reserved connector goes to Preparing when the reservation's identity is presented, G2).
    ("Reserved", lambda c: c.reserved and c.waiting_id_tag is None),
    ("Preparing", lambda c: c.plugged or c.waiting_id_tag is not None),
    ("Available", lambda c: True),
)

#: Connector 0: only Available, Unavailable and Faulted apply (§4.9).
STATION_RULES: tuple[Rule, ...] = (
    ("Faulted", lambda c: c.fault is not None),
    ("Unavailable", lambda c: not c.operative),
    ("Available", lambda c: True),
)

_S = (
    "Available",
    "Preparing",
    "Charging",
    "SuspendedEV",
    "SuspendedEVSE",
    "Finishing",
    "Reserved",
    "Unavailable",
    "Faulted",
)
#: OCPP 1.6 §4.9 "possible status transitions", from -> allowed targets.
TRANSITIONS: dict[str, frozenset[str]] = {
    "Available": frozenset(set(_S) - {"Available", "Finishing"}),
    "Preparing": frozenset({"Available", "Charging", "SuspendedEV", "SuspendedEVSE", "Finishing", "Faulted"}),
    "Charging": frozenset(
        {"Available", "SuspendedEV", "SuspendedEVSE", "Finishing", "Unavailable", "Faulted"}
    ),
    "SuspendedEV": frozenset(
        {"Available", "Charging", "SuspendedEVSE", "Finishing", "Unavailable", "Faulted"}
    ),
    "SuspendedEVSE": frozenset(
        {"Available", "Charging", "SuspendedEV", "Finishing", "Unavailable", "Faulted"}
    ),
    "Finishing": frozenset({"Available", "Preparing", "Unavailable", "Faulted"}),
    "Reserved": frozenset({"Available", "Preparing", "Unavailable", "Faulted"}),
    "Unavailable": frozenset(
        {"Available", "Preparing", "Charging", "SuspendedEV", "SuspendedEVSE", "Faulted"}
    ),
    "Faulted": frozenset(set(_S) - {"Faulted"}),
}


def derive_status(connector: Connector) -> str:
    rules = STATION_RULES if connector.id == 0 else STATUS_RULES
    return next(status for status, holds in rules if holds(connector))


class StatusReporter(Feature):
    """Sends StatusNotification.req whenever a connector's derived status or error changes."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        #: Run before every refresh: bring derived conditions up to date (e.g. which connectors are
        #: reserved); each returns the ids of other connectors whose status may have changed too.
        self.before_refresh: list[Callable[[], Iterable[int]]] = []
        # StatusNotification.conf carries nothing; no result handler needed.

    def refresh(self, connector_id: int | None = None) -> None:
        """Re-derive the status of one connector (or all) and report changes.

        With MinimumStatusDuration > 0 a new status is only reported once it held that long (§9.1.20).
        """
        touched: set[int] = set()
        for update in self.before_refresh:
            touched.update(update())
        ids: Iterable[int] = range(len(self.ctx.connectors))
        if connector_id is not None:
            ids = [connector_id, *sorted(touched - {connector_id})]
        for cid in ids:
            connector = self.ctx.connectors[cid]
            status = derive_status(connector)
            error = connector.fault.error_code if connector.fault else "NoError"
            if (status, error) == (connector.reported_status, connector.reported_error):
                self.ctx.timers.cancel(("status", cid))
                continue
            minimum = self.ctx.config.get_int("MinimumStatusDuration")
            if minimum > 0 and connector.reported_status is not None and error == "NoError":
                if self.ctx.timers.due_at(("status", cid)) is None:
                    self.ctx.timers.set(("status", cid), self.ctx.now + minimum, partial(self._settled, cid))
                continue
            self._report(connector, status, error)

    def _settled(self, connector_id: int, now: float) -> None:
        self.ctx.timers.cancel(("status", connector_id))
        connector = self.ctx.connectors[connector_id]
        status = derive_status(connector)
        error = connector.fault.error_code if connector.fault else "NoError"
        if (status, error) != (connector.reported_status, connector.reported_error):
            self._report(connector, status, error)

    def _report(self, connector: Connector, status: str, error: str) -> None:
        previous = connector.reported_status
        if (
            previous is not None
            and previous != status  # the same status with another errorCode
            and status not in TRANSITIONS.get(previous, frozenset())
            and connector.id > 0
        ):
            log.warning("connector %s: %s -> %s is not a §4.9 transition", connector.id, previous, status)
        connector.reported_status = status
        connector.reported_error = error
        connector.status_since = self.ctx.now
        self.ctx.timers.cancel(("status", connector.id))
        self.send(connector)

    def send(self, connector: Connector) -> None:
        """Queue a StatusNotification.req with the connector's reported status (also for TriggerMessage)."""
        payload: dict[str, Any] = {
            "connectorId": connector.id,
            "errorCode": connector.reported_error or "NoError",
            "status": connector.reported_status or derive_status(connector),
            "timestamp": self.ctx.timestamp(),
        }
        fault = connector.fault
        if fault is not None:
            if fault.info:
                payload["info"] = fault.info
            if fault.vendor_error_code:
                payload["vendorErrorCode"] = fault.vendor_error_code
        elif not connector.plugged and (connector.transaction is not None or connector.finishing):
            # §4.9: SuspendedEV (transaction goes on) or Finishing (stopped) after the EV side was
            # unplugged carries this info (OCTT TC_005_3_CS step 1).
            payload["info"] = "EV side disconnected"
        self.ctx.call("StatusNotification", payload)

    def registration_accepted(self) -> None:
        """BootNotification Accepted: report every connector (§4.2, §4.9)."""
        self.send_all()

    def triggers(self) -> Mapping[str, Trigger]:
        return {"StatusNotification": self._trigger}

    def _trigger(self, connector_id: int | None) -> Callable[[], None] | str:
        """TriggerMessage StatusNotification (§5.17): the connector asked, or every one (connector 0
        too) when absent; an unknown one is Rejected (OCTT TC_055_CS)."""
        ids = connectors_for(self.ctx, connector_id, first=0)
        if ids is None:
            return "Rejected"

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
            connector.reported_error = connector.fault.error_code if connector.fault else "NoError"
            connector.status_since = self.ctx.now
            self.send(connector)
