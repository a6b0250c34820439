"""DataTransfer both ways (OCPP 1.6 §4.3, §5.6): vendor handlers by vendorId; UnknownVendorId otherwise."""

from __future__ import annotations

from typing import Any

from ocpp_station.core.context import Context, log
from ocpp_station.core.features.base import Feature
from ocpp_station.wire.frames import Call


class DataTransfer(Feature):
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        ctx.route("DataTransfer", incoming=self._incoming)

    def _incoming(self, call: Call) -> dict[str, Any]:
        handler = self.ctx.settings.data_transfer_handlers.get(call.payload["vendorId"])
        if handler is None:
            return {"status": "UnknownVendorId"}
        try:
            status, data = handler(call.payload.get("messageId"), call.payload.get("data"))
        except Exception:  # a vendor handler's bug must not take the station down
            log.exception("DataTransfer handler for %s failed", call.payload["vendorId"])
            return {"status": "Rejected"}
        response: dict[str, Any] = {"status": status}
        if data is not None:
            response["data"] = data
        return response
