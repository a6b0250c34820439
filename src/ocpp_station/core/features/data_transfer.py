"""DataTransfer both ways (OCPP 1.6 §4.3, §5.6): vendor handlers by vendorId; UnknownVendorId otherwise."""

from __future__ import annotations

from msgspec import UNSET

from ocpp_station.core.context import Context, log
from ocpp_station.core.features.base import Feature, answers
from ocpp_station.wire.frames import Call
from ocpp_station.wire.messages import DataTransferRequest, DataTransferResponse, DataTransferStatus


class DataTransfer(Feature):
    __slots__ = ("ctx",)

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    @answers(DataTransferRequest)
    def _incoming(self, request: DataTransferRequest, call: Call) -> DataTransferResponse:
        """DataTransfer.req from the Central System (§5.6, §6.17): the vendor handler of its vendorId
        (EngineSettings.data_transfer_handlers: (messageId, data) -> (status, data), absent fields as
        None) answers; without one, UnknownVendorId; a handler that raises, Rejected."""
        handler = self.ctx.settings.data_transfer_handlers.get(request.vendor_id)
        if handler is None:
            return DataTransferResponse(status=DataTransferStatus.UnknownVendorId)
        message_id = None if request.message_id is UNSET else request.message_id
        data = None if request.data is UNSET else request.data
        try:
            status, answer = handler(message_id, data)
        except Exception:  # a vendor handler's bug must not take the station down
            log.exception("DataTransfer handler for %s failed", request.vendor_id)
            return DataTransferResponse(status=DataTransferStatus.Rejected)
        # A status outside §7.20 is the handler's bug: InternalError, as the schema check answered it.
        return DataTransferResponse(
            status=DataTransferStatus(status), data=UNSET if answer is None else answer
        )
