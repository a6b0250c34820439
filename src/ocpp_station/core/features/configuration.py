"""GetConfiguration and ChangeConfiguration over the key table (OCPP 1.6 §5.3, §5.8, §9)."""

from __future__ import annotations

from collections.abc import Mapping

from msgspec import UNSET

from ocpp_station.config.keys import Access, InvalidValue, lookup
from ocpp_station.core.context import Context, log
from ocpp_station.core.effects import SetPingInterval, StoreConfigValue
from ocpp_station.core.features.base import ConfigHook, ConfigVeto, Feature, answers
from ocpp_station.wire.errors import ErrorCode, OcppError
from ocpp_station.wire.frames import Call
from ocpp_station.wire.messages import (
    ChangeConfigurationRequest,
    ChangeConfigurationResponse,
    ConfigurationStatus,
    GetConfigurationRequest,
    GetConfigurationResponse,
    KeyValue,
)


class Configuration(Feature):
    __slots__ = ("ctx",)

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    # What the features (``ctx.features``) declared, gathered when a key changes, not kept: a
    # ChangeConfiguration is rare, and the hooks' bound methods and closures cost about 1 KB per
    # station (issue 11). The engine checked at composition that no key is hooked or vetoed twice.
    @property
    def on_change(self) -> dict[str, ConfigHook]:
        """What to do right after a key changed, by key name (the features' ``config_hooks``)."""
        hooks: dict[str, ConfigHook] = {}
        for feature in self.ctx.features:
            hooks.update(feature.config_hooks())
        return hooks

    @property
    def vetoes(self) -> dict[str, ConfigVeto]:
        """Why a valid value is refused now, by key name (the features' ``config_vetoes``)."""
        vetoes: dict[str, ConfigVeto] = {}
        for feature in self.ctx.features:
            vetoes.update(feature.config_vetoes())
        return vetoes

    def config_hooks(self) -> Mapping[str, ConfigHook]:
        # WebSocketPingInterval (§9.1.34): the shell's ping loop follows it at once.
        return {
            "WebSocketPingInterval": lambda: self.ctx.emit(
                SetPingInterval(self.ctx.config.get_int("WebSocketPingInterval"))
            )
        }

    @answers(GetConfigurationRequest)
    def _get(self, request: GetConfigurationRequest, call: Call) -> GetConfigurationResponse:
        """GetConfiguration.req (§5.8, §6.29): the keys asked for, or every readable key of the
        supported profiles; more than GetConfigurationMaxKeys (§9.1.9) is a CALLERROR."""
        requested = request.key or []
        limit = self.ctx.config.get_int("GetConfigurationMaxKeys")
        if len(requested) > limit:
            raise OcppError(
                ErrorCode.OccurenceConstraintViolation,
                f"{len(requested)} keys requested, GetConfigurationMaxKeys is {limit}",
                message_id=call.message_id,
            )
        config = self.ctx.config
        known: list[KeyValue] = []
        unknown: list[str] = []
        if not requested:
            for key, value in config.items():
                if key.access is not Access.W:
                    known.append(KeyValue(key=key.name, readonly=config.is_readonly(key), value=value))
        for name in requested:
            found = lookup(name)
            if found is None or found.access is Access.W or not config.supports(found):
                unknown.append(name)
            else:
                known.append(
                    KeyValue(key=found.name, readonly=config.is_readonly(found), value=config.get(found.name))
                )
        return GetConfigurationResponse(configuration_key=known, unknown_key=unknown or UNSET)

    @answers(ChangeConfigurationRequest)
    def _change(self, request: ChangeConfigurationRequest, call: Call) -> ChangeConfigurationResponse:
        """ChangeConfiguration.req (§5.3, §6.9): NotSupported for a key unknown here, Rejected for a
        read-only key or a value the key does not accept, RebootRequired for a key that needs one."""
        key = lookup(request.key)
        if key is None or not self.ctx.config.supports(key):
            return ChangeConfigurationResponse(status=ConfigurationStatus.NotSupported)
        if self.ctx.config.is_readonly(key):
            return ChangeConfigurationResponse(status=ConfigurationStatus.Rejected)
        try:
            value = key.check(request.value)
        except InvalidValue:
            return ChangeConfigurationResponse(status=ConfigurationStatus.Rejected)
        veto = self.vetoes.get(key.name)
        reason = None if veto is None else veto(value)
        if reason is not None:
            log.info("ChangeConfiguration %s Rejected: %s", key.name, reason)
            return ChangeConfigurationResponse(status=ConfigurationStatus.Rejected)
        changed = self.ctx.config.get(key.name) != value
        self.ctx.config.set(key.name, value)
        self.ctx.emit(StoreConfigValue(key.name, value))
        hook = self.on_change.get(key.name)
        if changed and hook is not None:
            self.ctx.after_reply.append(hook)
        status = ConfigurationStatus.RebootRequired if key.reboot_required else ConfigurationStatus.Accepted
        return ChangeConfigurationResponse(status=status)
