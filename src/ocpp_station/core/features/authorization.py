"""Authorization: Authorize.req, the Authorization Cache and offline rules (OCPP 1.6 §3.5, §4.1, §5.4).

``request(id_tag, meta)`` decides now (cache, local pre-authorization, offline rules) or sends
Authorize.req; either way the decision reaches ``on_decision(id_tag, id_tag_info, meta)``, where
``id_tag_info`` is the IdTagInfo to act on (status "Accepted" means go).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from ocpp_station.core.clock import parse_datetime
from ocpp_station.core.context import Context, log
from ocpp_station.core.effects import PersistClear
from ocpp_station.core.rpc import OutgoingCall

IdTagInfo = dict[str, Any]
Decision = Callable[[str, IdTagInfo, dict[str, Any]], None]

#: Entries kept in the Authorization Cache; NOT-valid entries are evicted first, then the oldest (§3.5.1).
CACHE_CAPACITY = 1000


def _validity(info: IdTagInfo) -> str | None:
    """The status for comparing list and Central System: ConcurrentTx is a valid id too (§3.5.2)."""
    status = info.get("status")
    return "Accepted" if status == "ConcurrentTx" else status


class Authorization:
    def __init__(self, ctx: Context, on_decision: Decision) -> None:
        self.ctx = ctx
        self._on_decision = on_decision
        self.cache: OrderedDict[str, IdTagInfo] = OrderedDict()
        #: The Local Authorization List, when the LocalAuthListManagement profile provides one.
        self.local_list: Callable[[str], IdTagInfo | None] = lambda id_tag: None
        #: Called when the Central System's IdTagInfo contradicts the Local List (§3.5.2).
        self.on_list_conflict: Callable[[str, IdTagInfo, IdTagInfo], None] = lambda tag, listed, info: None
        ctx.route("Authorize", result=self._authorize_result, failure=self._authorize_failed)
        ctx.route("ClearCache", incoming=self._clear_cache)

    # -- lookups --------------------------------------------------------------------------------
    def _effective(self, info: IdTagInfo | None) -> IdTagInfo | None:
        """The entry with an elapsed expiryDate read as Expired (§3.5.1)."""
        if info is None:
            return None
        expiry = info.get("expiryDate")
        if info.get("status") == "Accepted" and expiry:
            try:
                if parse_datetime(expiry) <= self.ctx.ocpp_time():
                    return {**info, "status": "Expired"}
            except ValueError:
                return {**info, "status": "Expired"}
        return info

    def local_entry(self, id_tag: str) -> IdTagInfo | None:
        """What the charge point knows locally: the Local List first, then the cache (§3.5.3)."""
        listed = self._effective(self.local_list(id_tag))
        if listed is not None:
            return listed
        if self.ctx.config.get_bool("AuthorizationCacheEnabled"):
            return self._effective(self.cache.get(id_tag))
        return None

    def remember(self, id_tag: str, info: IdTagInfo) -> None:
        """Update the cache from an IdTagInfo in Authorize/StartTransaction/StopTransaction.conf.

        An idTag in the Local List is never cached (§3.5.3); if the Central System's status for it
        contradicts the list, that is a LocalListConflict (§3.5.2)."""
        listed = self._effective(self.local_list(id_tag))
        if listed is not None:
            if _validity(listed) != _validity(info):
                self.on_list_conflict(id_tag, listed, info)
            return
        if not self.ctx.config.get_bool("AuthorizationCacheEnabled"):
            return
        self.cache.pop(id_tag, None)
        self.cache[id_tag] = info
        # §3.5.1: cache values SHOULD persist across reboots and power outages (issue #3).
        self.ctx.persist("auth_cache", id_tag, info)
        while len(self.cache) > CACHE_CAPACITY:
            invalid = next(
                (tag for tag, entry in self.cache.items() if entry.get("status") != "Accepted"), None
            )
            evicted = invalid if invalid is not None else next(iter(self.cache))
            self.cache.pop(evicted)
            self.ctx.persist("auth_cache", evicted, None)

    def parent_of(self, id_tag: str) -> str | None:
        entry = self.local_entry(id_tag)
        return None if entry is None else entry.get("parentIdTag")

    # -- deciding -------------------------------------------------------------------------------
    def request(self, id_tag: str, meta: dict[str, Any]) -> None:
        online = self.ctx.connected and self.ctx.accepted
        known = self.local_entry(id_tag)
        if online:
            if (
                known is not None
                and known.get("status") == "Accepted"
                and self.ctx.config.get_bool("LocalPreAuthorize")
            ):
                self._on_decision(id_tag, known, meta)
                return
            self.ctx.call("Authorize", {"idTag": id_tag}, meta={**meta, "idTag": id_tag})
            return
        self._offline(id_tag, meta)

    def _offline(self, id_tag: str, meta: dict[str, Any]) -> None:
        """§3.5 and §3.5.4: cache/list when LocalAuthorizeOffline, else unknown ids if allowed."""
        known = self.local_entry(id_tag)
        if known is not None:
            if known.get("status") != "Accepted":
                self._on_decision(id_tag, known, meta)
            elif self.ctx.config.get_bool("LocalAuthorizeOffline"):
                self._on_decision(id_tag, known, meta)
            else:
                self._on_decision(id_tag, {"status": "Invalid"}, meta)
            return
        if self.ctx.config.get_bool("AllowOfflineTxForUnknownId"):
            self._on_decision(id_tag, {"status": "Accepted"}, meta)
            return
        self._on_decision(id_tag, {"status": "Invalid"}, meta)

    def _authorize_result(self, call: OutgoingCall, payload: dict[str, Any]) -> None:
        id_tag = call.payload["idTag"]
        info: IdTagInfo = payload["idTagInfo"]
        self.remember(id_tag, info)
        self._on_decision(id_tag, self._effective(info) or info, call.meta)

    def _authorize_failed(self, call: OutgoingCall, reason: str) -> None:
        log.info("Authorize for %s failed (%s): deciding offline", call.payload["idTag"], reason)
        self._offline(call.payload["idTag"], call.meta)

    # -- ClearCache (§5.4) ----------------------------------------------------------------------
    def _clear_cache(self, call: Any) -> dict[str, Any]:
        self.clear()
        return {"status": "Accepted"}

    def clear(self) -> None:
        self.cache.clear()
        self.ctx.emit(PersistClear("auth_cache"))
