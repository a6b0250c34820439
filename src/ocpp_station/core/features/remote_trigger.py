"""Remote Trigger (OCPP 1.6 §5.17 TriggerMessage, §6.51, §6.52).

The CSMS asks for one of the messages of :attr:`RemoteTrigger.triggers`; we answer Accepted, Rejected
or NotImplemented and queue the requested message only *after* the TriggerMessage.conf went out
(§5.17: "SHALL first send the TriggerMessage response"), through ``ctx.after_reply``.

* connectorId is optional. Where the connector is relevant (MeterValues, StatusNotification) an
  unknown one is Rejected (OCTT TC_055_CS) and an absent one means every connector (StatusNotification:
  connector 0 too, §5.17). Where it is not relevant (BootNotification, Heartbeat, the firmware and
  diagnostics status) it is ignored and the message is still sent (§5.17 "the requested message is
  leading").
* MeterValues carries the MeterValuesSampledData measurands as of now with context "Trigger"
  (errata 3.46: SHALL). It is current information, not a transaction message to keep and resend:
  it carries the transactionId when the connector's transaction has one already. There is no main
  meter, so connector 0 is Rejected.
* BootNotification: only while not Accepted (§4.2 allows it while Pending); once Accepted it is
  Rejected (errata 3.35 RECOMMENDED, 3.40). It does not reset the registration.
* FirmwareStatusNotification / DiagnosticsStatusNotification: the status of the update or upload in
  progress (Downloading, Downloaded, Installing / Uploading), or Idle when nothing runs, which
  §4.4/§4.5 allow only in answer to a TriggerMessage (see ``core.features.firmware``).
* While Pending, §4.2 lets the charge point send what a TriggerMessage asked for: the queued calls
  are marked ``meta["triggered"]`` and the outbox lets them pass the pre-boot gate.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ocpp_station.core.context import Context, log
from ocpp_station.wire.frames import Call

if TYPE_CHECKING:
    from ocpp_station.core.engine import Engine

#: Checks a request (connectorId or None) and returns the action that sends the message, or a
#: TriggerMessageStatus (Rejected) when it will not be sent.
Trigger = Callable[[int | None], Callable[[], None] | str]


class RemoteTrigger:
    PROFILE = "RemoteTrigger"
    supported = True

    def __init__(self, ctx: Context, engine: Engine) -> None:
        self.ctx = ctx
        self.engine = engine
        #: requestedMessage -> trigger; a MessageTrigger missing here is answered NotImplemented.
        self.triggers: dict[str, Trigger] = {
            "BootNotification": self._boot_notification,
            "DiagnosticsStatusNotification": lambda cid: self._progress(
                "DiagnosticsStatusNotification", lambda: engine.firmware.diagnostics_status
            ),
            "FirmwareStatusNotification": lambda cid: self._progress(
                "FirmwareStatusNotification", lambda: engine.firmware.firmware_status
            ),
            "Heartbeat": self._heartbeat,
            "MeterValues": self._meter_values,
            "StatusNotification": self._status_notification,
        }
        ctx.route("TriggerMessage", incoming=self._trigger_message)

    def _trigger_message(self, call: Call) -> dict[str, Any]:
        requested = call.payload["requestedMessage"]
        connector_id: int | None = call.payload.get("connectorId")
        trigger = self.triggers.get(requested)
        if trigger is None:
            return {"status": "NotImplemented"}
        outcome = trigger(connector_id)
        if isinstance(outcome, str):
            log.info("TriggerMessage %s (connector %s): %s", requested, connector_id, outcome)
            return {"status": outcome}
        self.ctx.after_reply.append(lambda: self._queue_triggered(outcome))
        return {"status": "Accepted"}

    def _queue_triggered(self, send: Callable[[], None]) -> None:
        """Run ``send`` and mark what it queued as requested by TriggerMessage (may pass the §4.2 gate)."""
        self.ctx.triggering = True
        try:
            send()
        finally:
            self.ctx.triggering = False

    def _connectors(self, connector_id: int | None, *, first: int) -> list[int] | None:
        """The connectors a request is for (all from ``first`` when absent), or None if unknown."""
        if connector_id is None:
            return list(range(first, len(self.ctx.connectors)))
        if first <= connector_id < len(self.ctx.connectors):
            return [connector_id]
        return None

    # -- the requested messages -----------------------------------------------------------------
    def _boot_notification(self, connector_id: int | None) -> Callable[[], None] | str:
        if self.ctx.accepted:
            return "Rejected"  # errata 3.35 / 3.40
        return self.engine.registration.send_boot

    def _heartbeat(self, connector_id: int | None) -> Callable[[], None] | str:
        def send() -> None:
            # One already waiting to go out complies with the request (§5.17).
            if not any(queued.action == "Heartbeat" for queued in self.ctx.outbox):
                self.ctx.call("Heartbeat", {})

        return send

    def _progress(self, action: str, status: Callable[[], str]) -> Callable[[], None] | str:
        """The firmware / diagnostics status as it is when the message is queued (Idle if nothing runs)."""
        return lambda: self.ctx.call(action, {"status": status()})

    def _status_notification(self, connector_id: int | None) -> Callable[[], None] | str:
        ids = self._connectors(connector_id, first=0)
        if ids is None:
            return "Rejected"

        def send() -> None:
            for cid in ids:
                self.engine.status.send(self.ctx.connectors[cid])

        return send

    def _meter_values(self, connector_id: int | None) -> Callable[[], None] | str:
        ids = self._connectors(connector_id, first=1)
        if not ids:
            return "Rejected"
        values: list[tuple[int, dict[str, Any]]] = []
        for cid in ids:
            value = self.engine.metering.sampled_now(cid, "Trigger")
            if value is not None:
                values.append((cid, value))
        if not values:
            return "Rejected"  # the meter gives none of the configured measurands

        def send() -> None:
            for cid, value in values:
                payload: dict[str, Any] = {"connectorId": cid, "meterValue": [value]}
                tx = self.ctx.connectors[cid].transaction
                if tx is not None and tx.transaction_id is not None:
                    payload["transactionId"] = tx.transaction_id
                self.ctx.call("MeterValues", payload)

        return send
