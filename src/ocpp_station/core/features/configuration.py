"""GetConfiguration and ChangeConfiguration over the key table (OCPP 1.6 §5.3, §5.8, §9)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ocpp_station.config.keys import Access, InvalidValue, lookup
from ocpp_station.core.context import Context
from ocpp_station.core.effects import SetPingInterval, StoreConfigValue
from ocpp_station.core.features.base import ConfigHook, Feature
from ocpp_station.wire.errors import ErrorCode, OcppError
from ocpp_station.wire.frames import Call


class Configuration(Feature):
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        #: What to do right after a key changed, by key name (filled by the engine).
        self.on_change: dict[str, Callable[[], None]] = {}
        ctx.route("GetConfiguration", incoming=self._get)
        ctx.route("ChangeConfiguration", incoming=self._change)

    def config_hooks(self) -> Mapping[str, ConfigHook]:
        # WebSocketPingInterval (§9.1.34): the shell's ping loop follows it at once.
        return {
            "WebSocketPingInterval": lambda: self.ctx.emit(
                SetPingInterval(self.ctx.config.get_int("WebSocketPingInterval"))
            )
        }

    def _get(self, call: Call) -> dict[str, Any]:
        requested: list[str] = call.payload.get("key") or []
        limit = self.ctx.config.get_int("GetConfigurationMaxKeys")
        if len(requested) > limit:
            raise OcppError(
                ErrorCode.OccurenceConstraintViolation,
                f"{len(requested)} keys requested, GetConfigurationMaxKeys is {limit}",
                message_id=call.message_id,
            )
        known: list[dict[str, Any]] = []
        unknown: list[str] = []
        if not requested:
            for key, value in self.ctx.config.items():
                if key.access is not Access.W:
                    known.append(
                        {"key": key.name, "readonly": self.ctx.config.is_readonly(key), "value": value}
                    )
        for name in requested:
            found = lookup(name)
            if found is None or found.access is Access.W or not self.ctx.config.supports(found):
                unknown.append(name)
            else:
                known.append(
                    {
                        "key": found.name,
                        "readonly": self.ctx.config.is_readonly(found),
                        "value": self.ctx.config.get(found.name),
                    }
                )
        response: dict[str, Any] = {"configurationKey": known}
        if unknown:
            response["unknownKey"] = unknown
        return response

    def _change(self, call: Call) -> dict[str, Any]:
        key = lookup(call.payload["key"])
        if key is None or not self.ctx.config.supports(key):
            return {"status": "NotSupported"}
        if self.ctx.config.is_readonly(key):
            return {"status": "Rejected"}
        try:
            value = key.check(call.payload["value"])
        except InvalidValue:
            return {"status": "Rejected"}
        changed = self.ctx.config.get(key.name) != value
        self.ctx.config.set(key.name, value)
        self.ctx.emit(StoreConfigValue(key.name, value))
        hook = self.on_change.get(key.name)
        if changed and hook is not None:
            self.ctx.after_reply.append(hook)
        return {"status": "RebootRequired" if key.reboot_required else "Accepted"}
