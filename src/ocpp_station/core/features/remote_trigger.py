"""Remote Trigger (OCPP 1.6 §5.17 TriggerMessage, §6.51, §6.52; security whitepaper ed. 3
ExtendedTriggerMessage, §5.5, §5.6, §6.16, §6.17).

The CSMS asks for one of the messages of :attr:`RemoteTrigger.requestable`; we answer Accepted, Rejected
or NotImplemented and queue the requested message only *after* the TriggerMessage.conf went out
(§5.17: "SHALL first send the TriggerMessage response"), through ``ctx.after_reply``. Each message is
triggered by the feature that owns it (its ``triggers()`` declaration, ``core.features.base``): this
module only answers TriggerMessage (and ExtendedTriggerMessage, below) and marks what is queued.

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

ExtendedTriggerMessage (whitepaper §5.5: "based on the OCPP 2.0.1 TriggerMessageRequest", renamed) has
its own requestedMessage enumeration (MessageTriggerEnumType, §6.16) and the same three answers
(TriggerMessageStatusEnumType, §6.17). The whitepaper gives it no use case of its own, only the field
definitions and the requirements of the use cases that name it (A02, L01, N01); where it says nothing,
it is answered as TriggerMessage is:

* BootNotification, Heartbeat, MeterValues, StatusNotification: the very triggers TriggerMessage uses
  (the features' ``triggers()``), with their rules: BootNotification only while not Accepted, an
  unknown connector Rejected where the connector is relevant, connectorId ignored where it is not,
  sent after the ExtendedTriggerMessage.conf and allowed through the §4.2 gate while Pending (the
  2.0.1 TriggerMessage it is based on may be sent while Pending too).
* connectorId 0 or less: Rejected, whatever the message. §5.5 defines the field as "integer
  connectorId > 0", "only filled in when request applies to a specific connector"; the schema does not
  say so (plain integer), so the request parses and gets the answer §6.17 has for a message that
  "will not be sent". The whole charge point is asked for by leaving connectorId out (StatusNotification:
  every connector and connector 0, as for TriggerMessage).
* FirmwareStatusNotification means SignedFirmwareStatusNotification.req here: §6.16 "So the status of
  the secure firmware update introduced in this document". Declared by ``core.features.firmware``
  (under ``extended(...)``): the last SignedFirmwareStatusNotification's status with its requestId
  (L01.FR.29), Idle without requestId after Installed or when none was sent (L01.FR.28, L01.FR.21).
  The plain 1.6 FirmwareStatusNotification (another message, the plain update's status) is never sent
  in its place.
* LogStatusNotification: declared by ``core.features.logs`` (under ``extended(...)``): the upload's status
  with its requestId, or Idle (N01.FR.12). It is no TriggerMessage message (not in MessageTrigger).
* SignChargePointCertificate: declared by ``core.features.station_certificate`` (A02: after the conf a
  new key pair and a SignCertificate.req with its CSR, A02.FR.02-03); Rejected when CpoName is not set
  (the use case's prerequisite).
"""

from __future__ import annotations

from collections.abc import Callable

from msgspec import UNSET

from ocpp_station.core.context import Context, log
from ocpp_station.core.features.base import Feature, Trigger, answers, extended
from ocpp_station.wire.frames import Call
from ocpp_station.wire.messages import (
    ExtendedTriggerMessageRequest,
    ExtendedTriggerMessageResponse,
    MessageTrigger,
    MessageTriggerEnumType,
    TriggerMessageRequest,
    TriggerMessageResponse,
    TriggerMessageStatus,
    TriggerMessageStatusEnumType,
)

#: ExtendedTriggerMessage's requestedMessage -> the TriggerMessage trigger that sends the same message.
#: The others are their feature's own, declared under ``extended(name)`` (``core.features.base``):
#: LogStatusNotification by ``core.features.logs``; one no feature declares is NotImplemented.
EXTENDED_SHARED: dict[MessageTriggerEnumType, MessageTrigger] = {
    MessageTriggerEnumType.BootNotification: MessageTrigger.BootNotification,
    MessageTriggerEnumType.Heartbeat: MessageTrigger.Heartbeat,
    MessageTriggerEnumType.MeterValues: MessageTrigger.MeterValues,
    MessageTriggerEnumType.StatusNotification: MessageTrigger.StatusNotification,
}


class RemoteTrigger(Feature):
    __slots__ = ("_requestable", "ctx")
    PROFILE = "RemoteTrigger"

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._requestable: dict[str, Trigger] | None = None

    @property
    def requestable(self) -> dict[str, Trigger]:
        """requestedMessage -> trigger, as the features (``ctx.features``) declared them; a
        MessageTrigger missing here is answered NotImplemented. Made at the first (Extended)TriggerMessage
        and kept: most stations of a fleet never get one, and the table's closures cost about 2 KB
        (issue 11). The engine checked at composition that no message is declared twice."""
        table = self._requestable
        if table is None:
            table = self._requestable = {}
            for feature in self.ctx.features:
                if feature is not self:
                    table.update(feature.triggers())
        return table

    @answers(TriggerMessageRequest)
    def _trigger_message(self, request: TriggerMessageRequest, call: Call) -> TriggerMessageResponse:
        """TriggerMessage.req (§5.17, §6.51): the trigger its owner declared decides Accepted or a
        refusal; what it sends is queued after the TriggerMessage.conf."""
        requested = request.requested_message
        connector_id = None if request.connector_id is UNSET else request.connector_id
        trigger = self.requestable.get(requested)
        if trigger is None:
            return TriggerMessageResponse(status=TriggerMessageStatus.NotImplemented)
        status = self._run("TriggerMessage", requested, trigger, connector_id)
        return TriggerMessageResponse(status=TriggerMessageStatus(status))

    @answers(ExtendedTriggerMessageRequest)
    def _extended_trigger_message(
        self, request: ExtendedTriggerMessageRequest, call: Call
    ) -> ExtendedTriggerMessageResponse:
        """ExtendedTriggerMessage.req (security whitepaper §5.5, §6.16): the shared messages through the
        same triggers as TriggerMessage; the rest NotImplemented (§6.17); connectorId <= 0 Rejected
        (§5.5 "connectorId > 0")."""
        requested = request.requested_message
        connector_id = None if request.connector_id is UNSET else request.connector_id
        shared = EXTENDED_SHARED.get(requested)
        trigger = self.requestable.get(shared if shared is not None else extended(requested))
        if trigger is None:
            log.info("ExtendedTriggerMessage %s: NotImplemented", requested)
            return ExtendedTriggerMessageResponse(status=TriggerMessageStatusEnumType.NotImplemented)
        if connector_id is not None and connector_id <= 0:
            log.info("ExtendedTriggerMessage %s: connectorId %s is not > 0", requested, connector_id)
            return ExtendedTriggerMessageResponse(status=TriggerMessageStatusEnumType.Rejected)
        status = self._run("ExtendedTriggerMessage", requested, trigger, connector_id)
        return ExtendedTriggerMessageResponse(status=TriggerMessageStatusEnumType(status))

    def _run(self, action: str, requested: str, trigger: Trigger, connector_id: int | None) -> str:
        """Both triggers: the owner's trigger refuses (its status) or accepts, and what it sends is
        queued after the answer (§5.17; whitepaper §5.5)."""
        outcome = trigger(connector_id)
        if isinstance(outcome, str):
            log.info("%s %s (connector %s): %s", action, requested, connector_id, outcome)
            return outcome
        self.ctx.after_reply.append(lambda: self._queue_triggered(outcome))
        return "Accepted"

    def _queue_triggered(self, send: Callable[[], None]) -> None:
        """Run ``send`` and mark what it queued as requested by (Extended)TriggerMessage (may pass the
        §4.2 gate)."""
        self.ctx.triggering = True
        try:
            send()
        finally:
            self.ctx.triggering = False
