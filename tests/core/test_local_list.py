"""Local Auth List Management (OCPP 1.6 §3.5.2-§3.5.4, §5.10, §5.15, errata 3.52): the OCTT cases of
the profile (test case document FINAL 2024-04 §2.17; TC_008 is in test_octt_core.py) and unit tests of
versions, limits, persistence, authorization and LocalListConflict."""

from __future__ import annotations

from typing import Any

from ocpp_station.core.effects import Persist, PersistClear
from ocpp_station.core.engine import Engine
from ocpp_station.core.events import CablePlugged, IdTagPresented
from ocpp_station.core.model import Restored
from ocpp_station.wire.messages import AuthorizationStatus, IdTagInfo
from tests.core.harness import T0, Harness


def send_list(h: Harness, version: int, entries: list[dict[str, Any]] | None, update: str = "Full") -> str:
    payload: dict[str, Any] = {"listVersion": version, "updateType": update}
    if entries is not None:
        payload["localAuthorizationList"] = entries
    result = h.csms_result("SendLocalList", payload)
    status: str = result["status"]
    return status


def list_version(h: Harness) -> int:
    version: int = h.csms_result("GetLocalListVersion", {})["listVersion"]
    return version


def entry(id_tag: str, status: str | None = "Accepted", **extra: Any) -> dict[str, Any]:
    if status is None:
        return {"idTag": id_tag}
    return {"idTag": id_tag, "idTagInfo": {"status": status, **extra}}


def stored_records(h: Harness) -> dict[str, dict[str, Any]]:
    """What the store holds of kind local_list after applying the Persist effects in order."""
    records: dict[str, dict[str, Any]] = {}
    for effect in h.effects:
        if isinstance(effect, PersistClear) and effect.kind == "local_list":
            records.clear()
        elif isinstance(effect, Persist) and effect.kind == "local_list":
            if effect.value is None:
                records.pop(effect.key, None)
            else:
                records[effect.key] = effect.value
    return records


# -- OCTT §2.17 ---------------------------------------------------------------------------------------


def test_TC_042_1_get_local_list_version_not_supported() -> None:
    h = Harness(config={"LocalAuthListEnabled": "false"})
    assert list_version(h) == -1


def test_TC_042_2_get_local_list_version_empty() -> None:
    h = Harness()
    assert send_list(h, 1, None) == "Accepted"
    assert list_version(h) == 0


def test_TC_043_send_local_authorization_list() -> None:
    h = Harness(config={"LocalAuthorizeOffline": "true"})
    assert send_list(h, 1, [entry("LOCAL1")]) == "Accepted"
    assert send_list(h, 2, [entry("LOCAL2")], "Differential") == "Accepted"
    assert list_version(h) == 2
    # Expected behaviour: drivers on the list are authorized by it (here offline, no Authorize.req).
    h.disconnect()
    mark = h.mark()
    h.feed(CablePlugged(1))
    h.feed(IdTagPresented("LOCAL2"))
    tx = h.engine.ctx.connectors[1].transaction
    assert tx is not None and tx.id_tag == "LOCAL2"
    assert "Authorize" not in h.actions(mark)


def test_TC_043_1_send_local_authorization_list_not_supported() -> None:
    # The profile is supported; with the list disabled the update is refused NotSupported.
    h = Harness(config={"LocalAuthListEnabled": "false"})
    assert send_list(h, 1, [entry("LOCAL1")]) == "NotSupported"
    h.csms_result("ChangeConfiguration", {"key": "LocalAuthListEnabled", "value": "true"})
    assert list_version(h) == 0
    assert h.engine.local_list.entries == {}


def test_TC_043_2_send_local_authorization_list_version_mismatch() -> None:
    h = Harness()
    assert send_list(h, 2, [entry("LOCAL1")]) == "Accepted"
    assert list_version(h) == 2
    assert send_list(h, 5, [entry("LOCAL2")], "Differential") == "Accepted"
    assert list_version(h) == 5
    assert send_list(h, 4, [entry("LOCAL3")], "Differential") == "VersionMismatch"
    assert list_version(h) == 5
    assert "LOCAL3" not in h.engine.local_list.entries


def test_TC_043_3_send_local_authorization_list_failed() -> None:
    # "A state in which it will fail": more entries than SendLocalListMaxLength.
    h = Harness(config={"SendLocalListMaxLength": "2"})
    assert send_list(h, 2, [entry("A"), entry("B"), entry("C")]) == "Failed"
    assert list_version(h) == 0


# -- versions and updates ------------------------------------------------------------------------------


def test_full_update_replaces_the_list() -> None:
    h = Harness()
    assert send_list(h, 1, [entry("A"), entry("B", "Blocked")]) == "Accepted"
    assert send_list(h, 3, [entry("C")]) == "Accepted"
    assert h.engine.local_list.entries == {"C": IdTagInfo(status=AuthorizationStatus.Accepted)}
    assert list_version(h) == 3
    # A full update may also go back to a lower version.
    assert send_list(h, 2, [entry("D")]) == "Accepted"
    assert list_version(h) == 2


def test_differential_adds_updates_and_deletes() -> None:
    h = Harness()
    assert send_list(h, 1, [entry("A"), entry("B")]) == "Accepted"
    update = [entry("A", "Blocked"), entry("B", None), entry("C")]
    assert send_list(h, 2, update, "Differential") == "Accepted"
    assert h.engine.local_list.entries == {
        "A": IdTagInfo(status=AuthorizationStatus.Blocked),
        "C": IdTagInfo(status=AuthorizationStatus.Accepted),
    }
    # Deleting an idTag that is not there is no error.
    assert send_list(h, 3, [entry("Z", None)], "Differential") == "Accepted"
    assert list_version(h) == 3


def test_differential_with_the_same_version_is_a_mismatch() -> None:
    h = Harness()
    assert send_list(h, 3, [entry("A")]) == "Accepted"
    assert send_list(h, 3, [entry("B")], "Differential") == "VersionMismatch"
    assert send_list(h, 4, [entry("B")], "Differential") == "Accepted"


def test_differential_on_an_empty_list_compares_with_version_0() -> None:
    h = Harness()
    assert send_list(h, 1, [entry("A")], "Differential") == "Accepted"
    assert list_version(h) == 1


def test_version_0_and_minus_1_are_refused() -> None:
    # Errata 3.52: listVersion SHALL NOT be 0 or -1. Only a Full empty list at 0 is tolerated (below).
    h = Harness()
    assert send_list(h, 1, [entry("A")]) == "Accepted"
    assert send_list(h, 0, [entry("B")], "Differential") == "Failed"
    assert send_list(h, 0, [], "Differential") == "Failed"
    assert send_list(h, 0, [entry("B")]) == "Failed"  # a list GetLocalListVersion would call empty
    assert send_list(h, -1, [], "Differential") == "Failed"
    assert send_list(h, -1, []) == "Failed"
    assert list_version(h) == 1
    assert "A" in h.engine.local_list.entries


def test_full_empty_list_with_version_0_clears_the_list() -> None:
    """Tolerant input: erratum 3.52 forbids the CSMS to send 0, field CSMSs clear the list so."""
    h = Harness()
    assert send_list(h, 3, [entry("A"), entry("B")]) == "Accepted"
    assert send_list(h, 0, []) == "Accepted"
    assert h.engine.local_list.entries == {}
    assert list_version(h) == 0
    assert h.engine.transactions.auth.local_entry("A") is None
    # Without localAuthorizationList at all, the same.
    assert send_list(h, 4, [entry("C")]) == "Accepted"
    assert send_list(h, 0, None) == "Accepted"
    assert list_version(h) == 0
    # What was stored is the empty list at version 0: it stays cleared after a restart.
    assert stored_records(h) == {"version": {"version": 0}}
    engine = restarted(h)
    assert engine.local_list.entries == {}
    assert engine.local_list.current_version() == 0
    # A differential update after it compares with version 0.
    assert send_list(h, 1, [entry("D")], "Differential") == "Accepted"
    assert list_version(h) == 1


def test_full_update_without_id_tag_info_fails() -> None:
    h = Harness()
    assert send_list(h, 1, [entry("A"), entry("B", None)]) == "Failed"
    assert h.engine.local_list.entries == {}


def test_an_id_tag_twice_in_one_update_fails() -> None:
    h = Harness()
    assert send_list(h, 1, [entry("A"), entry("A", "Blocked")]) == "Failed"


def test_send_local_list_max_length_is_per_message() -> None:
    h = Harness(config={"SendLocalListMaxLength": "2"})
    assert send_list(h, 1, [entry("A"), entry("B")]) == "Accepted"
    assert send_list(h, 2, [entry("C"), entry("D")], "Differential") == "Accepted"
    assert len(h.engine.local_list.entries) == 4


def test_local_auth_list_max_length_bounds_the_list() -> None:
    h = Harness(config={"LocalAuthListMaxLength": "3"})
    assert send_list(h, 1, [entry("A"), entry("B"), entry("C"), entry("D")]) == "Failed"
    assert send_list(h, 1, [entry("A"), entry("B"), entry("C")]) == "Accepted"
    assert send_list(h, 2, [entry("D")], "Differential") == "Failed"
    # Replacing and deleting in the same update keeps it within bounds.
    assert send_list(h, 2, [entry("A", None), entry("D")], "Differential") == "Accepted"
    assert sorted(h.engine.local_list.entries) == ["B", "C", "D"]
    assert list_version(h) == 2


def test_disabled_list_reports_minus_1_and_is_kept() -> None:
    h = Harness()
    assert send_list(h, 4, [entry("A")]) == "Accepted"
    h.csms_result("ChangeConfiguration", {"key": "LocalAuthListEnabled", "value": "false"})
    assert list_version(h) == -1
    assert h.engine.transactions.auth.local_entry("A") is None
    h.csms_result("ChangeConfiguration", {"key": "LocalAuthListEnabled", "value": "true"})
    assert list_version(h) == 4
    assert h.engine.transactions.auth.local_entry("A") == IdTagInfo(status=AuthorizationStatus.Accepted)


def test_profile_and_keys_are_announced() -> None:
    h = Harness()
    conf = h.csms_result("GetConfiguration", {"key": ["SupportedFeatureProfiles", "LocalAuthListMaxLength"]})
    values = {k["key"]: k["value"] for k in conf["configurationKey"]}
    assert "LocalAuthListManagement" in values["SupportedFeatureProfiles"].split(",")
    assert values["LocalAuthListMaxLength"] == "1000"


# -- persistence -------------------------------------------------------------------------------------


def restarted(h: Harness) -> Engine:
    return Engine(h.settings, now=h.now, restored=Restored.from_records({"local_list": stored_records(h)}))


def test_list_survives_a_restart() -> None:
    h = Harness()
    assert send_list(h, 1, [entry("A"), entry("B", "Blocked"), entry("C")]) == "Accepted"
    assert send_list(h, 7, [entry("C", None), entry("D", parentIdTag="P")], "Differential") == "Accepted"
    engine = restarted(h)
    assert engine.local_list.version == 7
    assert engine.local_list.entries == {
        "A": IdTagInfo(status=AuthorizationStatus.Accepted),
        "B": IdTagInfo(status=AuthorizationStatus.Blocked),
        "D": IdTagInfo(status=AuthorizationStatus.Accepted, parent_id_tag="P"),
    }
    # A full update after that replaces what was stored.
    assert send_list(h, 8, [entry("E")]) == "Accepted"
    engine = restarted(h)
    assert engine.local_list.entries == {"E": IdTagInfo(status=AuthorizationStatus.Accepted)}
    assert engine.local_list.version == 8


def test_refused_updates_store_nothing() -> None:
    h = Harness(config={"SendLocalListMaxLength": "1"})
    assert send_list(h, 1, [entry("A")]) == "Accepted"
    before = len(h.effects_of(Persist)) + len(h.effects_of(PersistClear))
    assert send_list(h, 2, [entry("B"), entry("C")]) == "Failed"
    assert send_list(h, 1, [entry("B")], "Differential") == "VersionMismatch"
    assert len(h.effects_of(Persist)) + len(h.effects_of(PersistClear)) == before


def test_restore_via_harness_reboot_keeps_working() -> None:
    h = Harness()
    assert send_list(h, 1, [entry("A")]) == "Accepted"
    engine = restarted(h)
    assert engine.transactions.auth.local_entry("A") == IdTagInfo(status=AuthorizationStatus.Accepted)
    assert engine.local_list.current_version() == 1


# -- authorization (§3.5.3, §3.5.4) --------------------------------------------------------------------


def test_list_entries_authorize_with_local_pre_authorize() -> None:
    h = Harness(config={"LocalPreAuthorize": "true"}, valid_tags=set())
    assert send_list(h, 1, [entry("LOCAL1")]) == "Accepted"
    h.feed(CablePlugged(1))
    mark = h.mark()
    h.responders["StartTransaction"] = lambda p: {"transactionId": 1, "idTagInfo": {"status": "Accepted"}}
    h.feed(IdTagPresented("LOCAL1"))
    assert "Authorize" not in h.actions(mark)
    assert h.sent("StartTransaction")[-1]["idTag"] == "LOCAL1"


def test_list_has_priority_over_the_cache_and_is_not_cached() -> None:
    h = Harness(config={"LocalPreAuthorize": "true"})
    auth = h.engine.transactions.auth
    auth.cache["TAG"] = IdTagInfo(status=AuthorizationStatus.Accepted)
    assert send_list(h, 1, [entry("TAG", "Blocked")]) == "Accepted"
    assert auth.local_entry("TAG") == IdTagInfo(status=AuthorizationStatus.Blocked)
    # An Authorize.conf for a listed idTag does not go into the cache.
    assert send_list(h, 2, [entry("TAG2")], "Differential") == "Accepted"
    h.feed(CablePlugged(1))
    h.feed(IdTagPresented("TAG2"))
    assert "TAG2" not in auth.cache


def test_expired_list_entry_is_not_accepted_offline() -> None:
    h = Harness(config={"LocalAuthorizeOffline": "true", "AllowOfflineTxForUnknownId": "true"})
    expiry = "2025-11-24T16:30:00Z"  # T0 + 30 min
    assert send_list(h, 1, [entry("LOCAL1", expiryDate=expiry)]) == "Accepted"
    h.disconnect()
    h.advance(3600)
    h.feed(CablePlugged(1))
    h.feed(IdTagPresented("LOCAL1"))
    assert h.engine.ctx.connectors[1].transaction is None


def test_non_accepted_list_entry_is_rejected_offline_even_for_unknown_ids_allowed() -> None:
    h = Harness(config={"LocalAuthorizeOffline": "true", "AllowOfflineTxForUnknownId": "true"})
    assert send_list(h, 1, [entry("BLOCKED", "Blocked"), entry("GONE", "Invalid")]) == "Accepted"
    h.disconnect()
    h.feed(CablePlugged(1))
    for tag in ("BLOCKED", "GONE"):
        h.feed(IdTagPresented(tag))
        assert h.engine.ctx.connectors[1].transaction is None
    h.feed(IdTagPresented("STRANGER"))  # unknown: allowed offline
    tx = h.engine.ctx.connectors[1].transaction
    assert tx is not None and tx.id_tag == "STRANGER"


def test_disabled_list_is_not_used_for_authorization() -> None:
    h = Harness(config={"LocalAuthorizeOffline": "true", "AllowOfflineTxForUnknownId": "false"})
    assert send_list(h, 1, [entry("LOCAL1")]) == "Accepted"
    h.csms_result("ChangeConfiguration", {"key": "LocalAuthListEnabled", "value": "false"})
    h.disconnect()
    h.feed(CablePlugged(1))
    h.feed(IdTagPresented("LOCAL1"))
    assert h.engine.ctx.connectors[1].transaction is None


# -- LocalListConflict (§3.5.2) ----------------------------------------------------------------------


def test_conflicting_start_transaction_conf_reports_local_list_conflict() -> None:
    h = Harness(config={"LocalPreAuthorize": "true"}, valid_tags=set())
    assert send_list(h, 1, [entry("LOCAL1")]) == "Accepted"
    h.feed(CablePlugged(1))
    mark = h.mark()
    h.feed(IdTagPresented("LOCAL1"))  # list: Accepted; the CSMS answers Invalid
    conflicts = [
        p for a, p in h.calls[mark:] if a == "StatusNotification" and p["errorCode"] == "LocalListConflict"
    ]
    assert len(conflicts) == 1
    assert conflicts[0]["connectorId"] == 0 and conflicts[0]["status"] == "Available"
    # The list itself is not changed by it (§3.5.2: only SendLocalList does).
    assert h.engine.local_list.entries["LOCAL1"] == IdTagInfo(status=AuthorizationStatus.Accepted)


def test_agreeing_answers_report_no_conflict() -> None:
    h = Harness(config={"LocalPreAuthorize": "true"})
    assert send_list(h, 1, [entry("TAG")]) == "Accepted"
    h.feed(CablePlugged(1))
    mark = h.mark()
    h.feed(IdTagPresented("TAG"))
    assert h.engine.ctx.connectors[1].transaction is not None
    assert all(p["errorCode"] == "NoError" for a, p in h.calls[mark:] if a == "StatusNotification")


def test_harness_t0_is_before_expiry_used_above() -> None:
    from ocpp_station.core.clock import parse_datetime

    assert parse_datetime("2025-11-24T16:30:00Z") == T0 + 1800
