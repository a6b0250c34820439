"""Local Auth List Management (OCPP 1.6 §3.5.2, §5.15 SendLocalList, §5.10 GetLocalListVersion, §9.2).

The list is a map idTag -> IdTagInfo plus the version the Central System gave it. Only
SendLocalList.req changes it (§3.5.2). It is consulted by :class:`Authorization` before the cache
(§3.5.3) while ``LocalAuthListEnabled`` is true.

Versions (§5.10, errata 3.52): GetLocalListVersion answers 0 while the list is empty and -1 while it
is disabled. Erratum 3.52 forbids the Central System to send listVersion 0 or -1 and says nothing of
the answer; tolerant input: a *Full* update with listVersion 0 and an empty list (CSMSs in the field
clear the list that way) is Accepted with a warning and clears the list, whose version is then 0, as
GetLocalListVersion reports for an empty list. Any other update with 0, and every one with -1, is
Failed (a differential update to version 0, or a non-empty list at version 0, would make
GetLocalListVersion report "empty" for a list that is not). A differential update must carry a version
greater than the one GetLocalListVersion would answer, else VersionMismatch.

Stored as records of kind ``local_list``: key ``version`` -> ``{"version": n}`` and one key
``tag:<idTag>`` -> IdTagInfo per entry. A full update clears the kind first; every record of one
update is written in the same engine step, so the shell stores it atomically.
"""

from __future__ import annotations

import msgspec
from msgspec import UnsetType

from ocpp_station.core.context import Context, log
from ocpp_station.core.effects import PersistClear
from ocpp_station.core.features.authorization import Authorization
from ocpp_station.core.features.base import Feature, answers
from ocpp_station.core.features.status import derive_status
from ocpp_station.core.model import Restored
from ocpp_station.wire.frames import Call
from ocpp_station.wire.messages import (
    ChargePointErrorCode,
    ChargePointStatus,
    GetLocalListVersionRequest,
    GetLocalListVersionResponse,
    IdTagInfo,
    SendLocalListRequest,
    SendLocalListResponse,
    StatusNotificationRequest,
    UpdateStatus,
    UpdateType,
)
from ocpp_station.wire.schemas import to_builtins
from ocpp_station.wire.timestamps import Timestamp, lenient_dec_hook

KIND = "local_list"
VERSION_KEY = "version"
TAG_PREFIX = "tag:"


class LocalAuthList(Feature):
    __slots__ = ("auth", "ctx", "entries", "version")
    PROFILE = "LocalAuthListManagement"

    def __init__(self, ctx: Context, auth: Authorization) -> None:
        self.ctx = ctx
        self.auth = auth
        self.entries: dict[str, IdTagInfo] = {}
        #: The listVersion of the last accepted SendLocalList.req (0: never updated).
        self.version = 0

    # -- state ------------------------------------------------------------------------------------
    @property
    def enabled(self) -> bool:
        return self.ctx.config.get_bool("LocalAuthListEnabled")

    def listed(self, id_tag: str) -> IdTagInfo | None:
        """The list's entry for ``id_tag`` while the list is enabled (expiry is applied by the caller)."""
        if not self.enabled:
            return None
        return self.entries.get(id_tag)

    def current_version(self) -> int:
        """What GetLocalListVersion.conf reports: -1 disabled, 0 empty, else the list's version."""
        if not self.enabled:
            return -1
        if not self.entries:
            return 0
        return self.version

    def restore(self, restored: Restored) -> None:
        """The list the store kept (records kind ``local_list``)."""
        records = restored.local_list
        self.entries.clear()
        self.version = 0
        for key, value in records.items():
            if key == VERSION_KEY:
                self.version = int(value.get("version", 0))
            elif key.startswith(TAG_PREFIX) and isinstance(value, dict):
                try:
                    info = msgspec.convert(value, IdTagInfo, dec_hook=lenient_dec_hook)
                except msgspec.ValidationError as exc:
                    log.warning("dropping unreadable Local Authorization List record %s: %s", key, exc)
                    continue
                self.entries[key[len(TAG_PREFIX) :]] = info

    # -- GetLocalListVersion (§5.10) --------------------------------------------------------------
    @answers(GetLocalListVersionRequest)
    def _get_version(self, request: GetLocalListVersionRequest, call: Call) -> GetLocalListVersionResponse:
        return GetLocalListVersionResponse(list_version=self.current_version())

    # -- SendLocalList (§5.15) --------------------------------------------------------------------
    @answers(SendLocalListRequest)
    def _send_local_list(self, request: SendLocalListRequest, call: Call) -> SendLocalListResponse:
        status = self._update(request)
        log.info("SendLocalList %s version %s: %s", request.update_type, request.list_version, status)
        return SendLocalListResponse(status=status)

    def _update(self, request: SendLocalListRequest) -> UpdateStatus:
        if not self.enabled:
            return UpdateStatus.NotSupported
        version = request.list_version
        full = request.update_type is UpdateType.Full
        data = request.local_authorization_list or []
        if version == 0 and full and not data:
            # Erratum 3.52 forbids 0 but field CSMSs clear the list so: tolerated, the list is emptied.
            log.warning("SendLocalList Full with listVersion 0 (erratum 3.52): clearing the list")
        elif version < 1:
            # Errata 3.52: 0 and -1 have a special meaning in GetLocalListVersion.conf.
            return UpdateStatus.Failed
        if len(data) > self.ctx.config.get_int("SendLocalListMaxLength"):
            return UpdateStatus.Failed
        tags = [item.id_tag for item in data]
        if len(set(tags)) != len(tags):
            return UpdateStatus.Failed  # one idTag twice in one update: ambiguous
        if full and any(isinstance(item.id_tag_info, UnsetType) for item in data):
            return UpdateStatus.Failed  # §6.41: idTagInfo is required in a full update
        if not full and version <= self.current_version():
            return UpdateStatus.VersionMismatch
        if full:
            entries = {
                item.id_tag: item.id_tag_info for item in data if not isinstance(item.id_tag_info, UnsetType)
            }
        else:
            entries = dict(self.entries)
            for item in data:
                if isinstance(item.id_tag_info, UnsetType):
                    entries.pop(item.id_tag, None)
                else:
                    entries[item.id_tag] = item.id_tag_info
        if len(entries) > self.ctx.config.get_int("LocalAuthListMaxLength"):
            return UpdateStatus.Failed
        self._store(entries, version, full=full, changed=tags)
        return UpdateStatus.Accepted

    def _store(self, entries: dict[str, IdTagInfo], version: int, *, full: bool, changed: list[str]) -> None:
        ctx = self.ctx
        if full:
            ctx.emit(PersistClear(KIND))
            for tag, info in entries.items():
                ctx.persist(KIND, TAG_PREFIX + tag, to_builtins(info))
        else:
            for tag in changed:
                entry = entries.get(tag)
                ctx.persist(KIND, TAG_PREFIX + tag, None if entry is None else to_builtins(entry))
        ctx.persist(KIND, VERSION_KEY, {"version": version})
        self.entries = entries
        self.version = version

    # -- LocalListConflict (§3.5.2) ---------------------------------------------------------------
    def list_conflict(self, id_tag: str, listed: IdTagInfo, central: IdTagInfo) -> None:
        """The Central System's IdTagInfo contradicts the list: StatusNotification on connector 0
        with errorCode LocalListConflict."""
        log.warning(
            "idTag %s: Local Authorization List says %s, Central System %s",
            id_tag,
            listed.status,
            central.status,
        )
        station = self.ctx.connectors[0]
        self.ctx.call(
            StatusNotificationRequest(
                connector_id=0,
                error_code=ChargePointErrorCode.LocalListConflict,
                status=ChargePointStatus(station.reported_status or derive_status(station)),
                timestamp=Timestamp(self.ctx.ocpp_time()),
                info=f"idTag {id_tag}"[:50],
            )
        )
