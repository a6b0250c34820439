"""Authorization: Authorize.req, the Authorization Cache and offline rules (OCPP 1.6 §3.5, §4.1, §5.4).

``request(id_tag, meta)`` decides now (cache, local pre-authorization, offline rules) or sends
Authorize.req; either way the decision is the fact ``authorized(id_tag, id_tag_info, meta)``
(``ctx.tell``; :class:`~.transactions.Transactions` hears it), where ``id_tag_info`` is the
:class:`IdTagInfo` to act on (status Accepted means go). The Local Authorization List is asked through
``ctx.listed`` and told a contradiction with the fact ``list_conflict`` (§3.5.2).

The cache holds the IdTagInfo structs of the Central System's answers; it is stored as records of
kind ``auth_cache``, key the idTag, value the IdTagInfo in its wire form (§3.5.1: cache values SHOULD
persist across reboots).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import msgspec
from msgspec import UnsetType

from ocpp_station.core.context import Context, log
from ocpp_station.core.effects import PersistClear
from ocpp_station.core.features.base import ConfigHook, Feature, answers, on_failure, on_result
from ocpp_station.core.model import Restored
from ocpp_station.core.rpc import OutgoingCall
from ocpp_station.wire.frames import Call
from ocpp_station.wire.messages import (
    AuthorizationStatus,
    AuthorizeRequest,
    AuthorizeResponse,
    ClearCacheRequest,
    ClearCacheResponse,
    ClearCacheStatus,
    IdTagInfo,
)
from ocpp_station.wire.schemas import to_builtins
from ocpp_station.wire.timestamps import lenient_dec_hook

__all__ = ["ACCEPTED", "CACHE_CAPACITY", "INVALID", "Authorization", "IdTagInfo"]


#: Entries kept in the Authorization Cache; NOT-valid entries are evicted first, then the oldest (§3.5.1).
CACHE_CAPACITY = 1000

#: The decisions made without the Central System (frozen: shared).
ACCEPTED = IdTagInfo(status=AuthorizationStatus.Accepted)
INVALID = IdTagInfo(status=AuthorizationStatus.Invalid)


def _validity(info: IdTagInfo) -> AuthorizationStatus:
    """The status for comparing list and Central System: ConcurrentTx is a valid id too (§3.5.2)."""
    status = info.status
    return AuthorizationStatus.Accepted if status is AuthorizationStatus.ConcurrentTx else status


class Authorization(Feature):
    """Authorize.req and ClearCache.req (§4.1, §5.4), the Authorization Cache (§3.5.1)."""

    __slots__ = ("cache", "ctx")

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.cache: OrderedDict[str, IdTagInfo] = OrderedDict()

    # -- declarations (core.features.base) -----------------------------------------------------------
    def config_hooks(self) -> Mapping[str, ConfigHook]:
        return {"AuthorizationCacheEnabled": self._cache_toggled}

    def restore(self, restored: Restored) -> None:
        """The Authorization Cache the store kept (records kind ``auth_cache``, §3.5.1)."""
        for id_tag, record in restored.auth_cache.items():
            try:
                self.cache[id_tag] = msgspec.convert(record, IdTagInfo, dec_hook=lenient_dec_hook)
            except msgspec.ValidationError as exc:
                log.warning("dropping unreadable Authorization Cache record %s: %s", id_tag, exc)

    def _cache_toggled(self) -> None:
        if not self.ctx.config.get_bool("AuthorizationCacheEnabled"):
            self.clear()

    # -- lookups --------------------------------------------------------------------------------
    def _effective(self, info: IdTagInfo | None) -> IdTagInfo | None:
        """The entry with an elapsed expiryDate read as Expired (§3.5.1)."""
        if info is None:
            return None
        expiry = info.expiry_date
        if (
            info.status is AuthorizationStatus.Accepted
            and not isinstance(expiry, UnsetType)
            and expiry <= self.ctx.ocpp_time()
        ):
            return msgspec.structs.replace(info, status=AuthorizationStatus.Expired)
        return info

    def local_entry(self, id_tag: str) -> IdTagInfo | None:
        """What the charge point knows locally: the Local List first, then the cache (§3.5.3)."""
        listed = self._effective(self.ctx.listed(id_tag))
        if listed is not None:
            return listed
        if self.ctx.config.get_bool("AuthorizationCacheEnabled"):
            return self._effective(self.cache.get(id_tag))
        return None

    def remember(self, id_tag: str, info: IdTagInfo) -> None:
        """Update the cache from an IdTagInfo in Authorize/StartTransaction/StopTransaction.conf.

        An idTag in the Local List is never cached (§3.5.3); if the Central System's status for it
        contradicts the list, that is a LocalListConflict (§3.5.2)."""
        listed = self._effective(self.ctx.listed(id_tag))
        if listed is not None:
            if _validity(listed) != _validity(info):
                self.ctx.tell("list_conflict", id_tag, listed, info)
            return
        if not self.ctx.config.get_bool("AuthorizationCacheEnabled"):
            return
        self.cache.pop(id_tag, None)
        self.cache[id_tag] = info
        # §3.5.1: cache values SHOULD persist across reboots and power outages (issue #3).
        self.ctx.persist("auth_cache", id_tag, to_builtins(info))
        while len(self.cache) > CACHE_CAPACITY:
            invalid = next(
                (
                    tag
                    for tag, entry in self.cache.items()
                    if entry.status is not AuthorizationStatus.Accepted
                ),
                None,
            )
            evicted = invalid if invalid is not None else next(iter(self.cache))
            self.cache.pop(evicted)
            self.ctx.persist("auth_cache", evicted, None)

    def parent_of(self, id_tag: str) -> str | None:
        entry = self.local_entry(id_tag)
        return None if entry is None else entry.parent_id_tag or None

    # -- deciding -------------------------------------------------------------------------------
    def request(self, id_tag: str, meta: dict[str, Any]) -> None:
        online = self.ctx.connected and self.ctx.accepted
        known = self.local_entry(id_tag)
        if online:
            if (
                known is not None
                and known.status is AuthorizationStatus.Accepted
                and self.ctx.config.get_bool("LocalPreAuthorize")
            ):
                self.ctx.tell("authorized", id_tag, known, meta)
                return
            self.ctx.call(AuthorizeRequest(id_tag=id_tag), meta={**meta, "idTag": id_tag})
            return
        self._offline(id_tag, meta)

    def _offline(self, id_tag: str, meta: dict[str, Any]) -> None:
        """§3.5 and §3.5.4: cache/list when LocalAuthorizeOffline, else unknown ids if allowed."""
        known = self.local_entry(id_tag)
        if known is not None:
            if known.status is not AuthorizationStatus.Accepted:
                self.ctx.tell("authorized", id_tag, known, meta)
            elif self.ctx.config.get_bool("LocalAuthorizeOffline"):
                self.ctx.tell("authorized", id_tag, known, meta)
            else:
                self.ctx.tell("authorized", id_tag, INVALID, meta)
            return
        if self.ctx.config.get_bool("AllowOfflineTxForUnknownId"):
            self.ctx.tell("authorized", id_tag, ACCEPTED, meta)
            return
        self.ctx.tell("authorized", id_tag, INVALID, meta)

    @on_result(AuthorizeRequest)
    def _authorize_result(self, call: OutgoingCall, response: AuthorizeResponse) -> None:
        request = call.payload
        assert isinstance(request, AuthorizeRequest)
        info = response.id_tag_info
        self.remember(request.id_tag, info)
        self.ctx.tell("authorized", request.id_tag, self._effective(info) or info, call.meta)

    @on_failure(AuthorizeRequest)
    def _authorize_failed(self, call: OutgoingCall, reason: str) -> None:
        request = call.payload
        assert isinstance(request, AuthorizeRequest)
        log.info("Authorize for %s failed (%s): deciding offline", request.id_tag, reason)
        self._offline(request.id_tag, call.meta)

    # -- ClearCache (§5.4) ----------------------------------------------------------------------
    @answers(ClearCacheRequest)
    def _clear_cache(self, request: ClearCacheRequest, call: Call) -> ClearCacheResponse:
        self.clear()
        return ClearCacheResponse(status=ClearCacheStatus.Accepted)

    def clear(self) -> None:
        self.cache.clear()
        self.ctx.emit(PersistClear("auth_cache"))
