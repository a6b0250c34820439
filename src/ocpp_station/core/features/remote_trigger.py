"""Remote Trigger (OCPP 1.6 §5.17 TriggerMessage, §6.51, §6.52).

The CSMS asks for one of the messages of :attr:`RemoteTrigger.requestable`; we answer Accepted, Rejected
or NotImplemented and queue the requested message only *after* the TriggerMessage.conf went out
(§5.17: "SHALL first send the TriggerMessage response"), through ``ctx.after_reply``. Each message is
triggered by the feature that owns it (its ``triggers()`` declaration, ``core.features.base``): this
module only answers TriggerMessage and marks what is queued.

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

from collections.abc import Callable, Mapping

from msgspec import UNSET

from ocpp_station.core.context import Context, log
from ocpp_station.core.features.base import Feature, Trigger, answers
from ocpp_station.wire.frames import Call
from ocpp_station.wire.messages import TriggerMessageRequest, TriggerMessageResponse, TriggerMessageStatus


class RemoteTrigger(Feature):
    PROFILE = "RemoteTrigger"

    def __init__(self, ctx: Context, triggers: Mapping[str, Trigger]) -> None:
        self.ctx = ctx
        #: requestedMessage -> trigger, as the features declared them; a MessageTrigger missing
        #: here is answered NotImplemented.
        self.requestable: dict[str, Trigger] = dict(triggers)

    @answers(TriggerMessageRequest)
    def _trigger_message(self, request: TriggerMessageRequest, call: Call) -> TriggerMessageResponse:
        """TriggerMessage.req (§5.17, §6.51): the trigger its owner declared decides Accepted or a
        refusal; what it sends is queued after the TriggerMessage.conf."""
        requested = request.requested_message
        connector_id = None if request.connector_id is UNSET else request.connector_id
        trigger = self.requestable.get(requested)
        if trigger is None:
            return TriggerMessageResponse(status=TriggerMessageStatus.NotImplemented)
        outcome = trigger(connector_id)
        if isinstance(outcome, str):
            log.info("TriggerMessage %s (connector %s): %s", requested, connector_id, outcome)
            return TriggerMessageResponse(status=TriggerMessageStatus(outcome))
        self.ctx.after_reply.append(lambda: self._queue_triggered(outcome))
        return TriggerMessageResponse(status=TriggerMessageStatus.Accepted)

    def _queue_triggered(self, send: Callable[[], None]) -> None:
        """Run ``send`` and mark what it queued as requested by TriggerMessage (may pass the §4.2 gate)."""
        self.ctx.triggering = True
        try:
            send()
        finally:
            self.ctx.triggering = False
