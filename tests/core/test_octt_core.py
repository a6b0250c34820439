"""The OCTT 1.6 charge-point test cases of the Core profile (test case document FINAL 2024-04, §2),
driven through the engine with the scripted CSMS of ``tests/core/harness.py``.

One test per test case id. Each follows the case's "Scenario Detail(s)" and asserts its
"Tool validation(s)" on what the engine sends. Hardware actions are events: plugging in is
CablePlugged, presenting a card IdTagPresented, a fault FaultRaised, meter readings MeterRead. A reboot
(Reset, power cycle) is a new Engine built from what the store kept (``Harness.reboot``).

Conventions of the document (§1.2) used throughout: StatusNotification(Charging) and StartTransaction.req
may come in either order, as may StatusNotification(Finishing) and StopTransaction.req.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import orjson

from ocpp_station.config.keys import KEYS
from ocpp_station.core.clock import format_datetime, parse_datetime
from ocpp_station.core.effects import LockConnector, Reboot, SendFrame, UnlockConnector
from ocpp_station.core.events import (
    CablePlugged,
    CableUnplugged,
    Connected,
    FaultRaised,
    FrameReceived,
    IdTagPresented,
    MeterRead,
    MeterReading,
    UnlockCompleted,
)
from ocpp_station.core.settings import ConnectorSpec, EngineSettings
from tests.core.harness import Harness, authorized, charging

TWO_CONNECTORS = EngineSettings(connectors=(ConnectorSpec(), ConnectorSpec()))
FIXED_CABLE = EngineSettings(connectors=(ConnectorSpec(kind="cable"),))

ISSUE_4 = "issue #4 (feature profiles beyond Core)"


# -- helpers ------------------------------------------------------------------------------------------


def sent_since(h: Harness, mark: int, action: str) -> list[dict[str, Any]]:
    return [payload for name, payload in h.calls[mark:] if name == action]


def statuses_since(h: Harness, mark: int, connector_id: int) -> list[str]:
    return [
        p["status"] for p in sent_since(h, mark, "StatusNotification") if p["connectorId"] == connector_id
    ]


def boot_script(h: Harness, answers: list[tuple[str, int]]) -> list[float]:
    """Answer successive BootNotifications with (status, interval); returns the times they came in."""
    script = iter(answers)
    times: list[float] = []

    def boot(payload: dict[str, Any]) -> dict[str, Any]:
        status, interval = next(script)
        times.append(h.now)
        return {"status": status, "currentTime": format_datetime(h.now), "interval": interval}

    h.responders["BootNotification"] = boot
    return times


def heartbeat_times(h: Harness) -> list[float]:
    times: list[float] = []

    def heartbeat(payload: dict[str, Any]) -> dict[str, Any]:
        times.append(h.now)
        return {"currentTime": format_datetime(h.now)}

    h.responders["Heartbeat"] = heartbeat
    return times


def unlock(h: Harness, connector_id: int, unlocked: bool | None) -> list[Any]:
    """UnlockConnector.req from the CSMS; the lock reports ``unlocked`` if the engine asked it to.
    Returns our answer frame."""
    message_id = f"unlock-{len(h.replies)}"
    before = len(h.effects)
    h.feed(FrameReceived(orjson.dumps([2, message_id, "UnlockConnector", {"connectorId": connector_id}])))
    asked = [e for e in h.effects[before:] if isinstance(e, UnlockConnector)]
    if asked and unlocked is not None:
        assert asked == [UnlockConnector(connector_id)]
        h.feed(UnlockCompleted(connector_id, unlocked))
    answers = [r for r in h.replies if r[1] == message_id]
    assert len(answers) == 1, answers
    return answers[0]


def readings(energy_wh: float, soc: float = 40.0) -> MeterRead:
    return MeterRead(
        {
            1: MeterReading(
                energy_wh=energy_wh,
                power_w=11000.0,
                current_a=(16.0, 16.0, 16.0),
                voltage_v=(230.0, 231.0, 229.0),
                offered_a=16.0,
                soc_percent=soc,
            )
        }
    )


def id_tag_cached(h: Harness, id_tag: str = "TAG") -> None:
    """Memory state IdTagCached (§2.26): a transaction started and stopped with ``id_tag``."""
    transaction_id = charging(h, id_tag=id_tag)
    mark = h.mark()
    h.feed(IdTagPresented(id_tag))
    stops = sent_since(h, mark, "StopTransaction")
    assert len(stops) == 1 and stops[0]["transactionId"] == transaction_id
    assert statuses_since(h, mark, 1) == ["Finishing"]
    h.feed(CableUnplugged(1))
    assert h.statuses(1)[-1] == "Available"


# -- 2.1 Cold boot ---------------------------------------------------------------------------------------


def test_TC_001_cold_boot_charge_point() -> None:
    h = Harness(TWO_CONNECTORS, connect=False)
    boots = boot_script(h, [("Rejected", 60), ("Accepted", 120)])
    beats = heartbeat_times(h)
    start = h.now
    h.feed(Connected())
    assert h.actions() == ["BootNotification"]
    # While Rejected nothing goes out before the interval has passed (OCPP 1.6 §4.2).
    h.feed(CablePlugged(1))
    h.feed(CableUnplugged(1))
    h.advance(59.5)
    assert h.actions() == ["BootNotification"]
    h.advance(0.5)
    # Step 3: the next BootNotification after the interval of step 2.
    assert h.actions()[:2] == ["BootNotification", "BootNotification"]
    assert boots == [start, start + 60]
    # Step 5: a StatusNotification per connector and for connector 0, Available.
    statuses = {p["connectorId"]: p["status"] for p in h.sent("StatusNotification")}
    assert statuses == {0: "Available", 1: "Available", 2: "Available"}
    assert h.actions()[1:] == ["BootNotification"] + ["StatusNotification"] * 3
    # Step 7: a Heartbeat every x seconds, x = the interval of step 4.
    accepted_at = h.now
    h.advance(3 * 120 + 1)
    assert beats == [accepted_at + 120, accepted_at + 240, accepted_at + 360]


def test_TC_002_cold_boot_charge_point_pending() -> None:
    h = Harness(connect=False)
    boots = boot_script(h, [("Pending", 60), ("Accepted", 120)])
    beats = heartbeat_times(h)
    start = h.now
    h.feed(Connected())
    assert h.actions() == ["BootNotification"]
    h.advance(5)
    # Steps 3-6: while Pending the CSMS may read and change the configuration.
    everything = h.csms_result("GetConfiguration", {})
    assert "unknownKey" not in everything
    assert {k["key"] for k in everything["configurationKey"]} >= {"MeterValueSampleInterval"}
    changed = h.csms_result("ChangeConfiguration", {"key": "MeterValueSampleInterval", "value": "30"})
    assert changed == {"status": "Accepted"}
    assert h.engine.config.get("MeterValueSampleInterval") == "30"
    # Nothing but BootNotification while Pending.
    h.advance(54)
    assert h.actions() == ["BootNotification"]
    # Step 7: BootNotification again after the interval of step 2.
    h.advance(1)
    assert boots == [start, start + 60]
    # Step 9: StatusNotification Available (connector 0 and 1).
    assert {p["connectorId"]: p["status"] for p in h.sent("StatusNotification")} == {
        0: "Available",
        1: "Available",
    }
    # Step 11: Heartbeat every interval of step 8.
    accepted_at = h.now
    h.advance(2 * 120 + 1)
    assert beats == [accepted_at + 120, accepted_at + 240]


# -- 2.2 Start charging session -----------------------------------------------------------------------


def test_TC_003_regular_charging_session_plugin_first() -> None:
    h = Harness()
    mark = h.mark()
    h.feed(CablePlugged(1))
    assert h.calls[mark:] == [("StatusNotification", h.sent("StatusNotification")[-1])]
    assert h.statuses(1)[-1] == "Preparing"
    mark = h.mark()
    h.feed(IdTagPresented("TAG"))
    actions = h.actions(mark)
    assert actions[0] == "Authorize"
    assert sent_since(h, mark, "Authorize") == [{"idTag": "TAG"}]
    starts = sent_since(h, mark, "StartTransaction")
    assert len(starts) == 1
    assert starts[0]["connectorId"] == 1 and starts[0]["idTag"] == "TAG"
    assert statuses_since(h, mark, 1) == ["Charging"]


def test_TC_004_1_regular_charging_session_identification_first() -> None:
    h = Harness(config={"MeterValueSampleInterval": "30"})
    authorized(h)
    mark = h.mark()
    h.feed(CablePlugged(1))
    starts = sent_since(h, mark, "StartTransaction")
    assert len(starts) == 1 and starts[0]["idTag"] == "TAG" and starts[0]["connectorId"] == 1
    assert statuses_since(h, mark, 1) == ["Charging"]
    assert "Authorize" not in h.actions(mark)


def test_TC_004_2_regular_charging_session_identification_first_connection_timeout() -> None:
    h = Harness(config={"ConnectionTimeOut": "45"})
    authorized(h)
    mark = h.mark()
    h.advance(44)
    assert statuses_since(h, mark, 1) == []
    h.advance(1)
    assert statuses_since(h, mark, 1) == ["Available"]
    # The cable coming later no longer starts a transaction.
    h.feed(CablePlugged(1))
    assert "StartTransaction" not in h.actions(mark)
    assert h.statuses(1)[-1] == "Preparing"


# -- 2.3 Stop charging session ----------------------------------------------------------------------


def test_TC_068_stop_transaction_idtag_matches_start_idtag() -> None:
    h = Harness()
    transaction_id = charging(h, id_tag="TAG")
    # Step 1: another valid idTag: neither Authorize.req nor StopTransaction.req.
    mark = h.mark()
    h.feed(IdTagPresented("TAG2"))
    assert h.actions(mark) == []
    # Steps 3/5: the idTag that started the transaction stops it.
    h.feed(IdTagPresented("TAG"))
    stops = sent_since(h, mark, "StopTransaction")
    assert len(stops) == 1
    assert stops[0]["idTag"] == "TAG" and stops[0]["transactionId"] == transaction_id
    assert statuses_since(h, mark, 1) == ["Finishing"]
    assert "Authorize" not in h.actions(mark)


def test_TC_069_stop_transaction_parent_idtag_matches_start_parent_idtag() -> None:
    h = Harness()
    transaction_id = charging(h, id_tag="CHILD_A1")
    mark = h.mark()
    h.feed(IdTagPresented("CHILD_A2"))
    # Step 1: Authorize.req with the different idTag; step 2 answers the same parentIdTag.
    assert sent_since(h, mark, "Authorize") == [{"idTag": "CHILD_A2"}]
    # Step 3: StopTransaction.req with the idTag of step 1.
    stops = sent_since(h, mark, "StopTransaction")
    assert len(stops) == 1
    assert stops[0]["idTag"] == "CHILD_A2" and stops[0]["transactionId"] == transaction_id
    assert statuses_since(h, mark, 1) == ["Finishing"]


def test_parent_id_tag_from_start_transaction_conf_lets_the_group_stop() -> None:
    """TC_069_CS without an Authorize.req at the start: the parentIdTag comes with StartTransaction.conf."""
    h = Harness(config={"AuthorizeRemoteTxRequests": "false"})
    transaction_id = charging(h, id_tag="CHILD_A1")
    assert "Authorize" not in h.actions()
    mark = h.mark()
    h.feed(IdTagPresented("CHILD_A2"))
    stops = sent_since(h, mark, "StopTransaction")
    assert len(stops) == 1
    assert stops[0]["idTag"] == "CHILD_A2" and stops[0]["transactionId"] == transaction_id


def test_TC_005_1_ev_side_disconnected_stop_and_unlock() -> None:
    h = Harness(
        config={
            "MinimumStatusDuration": "0",
            "StopTransactionOnEVSideDisconnect": "true",
            "UnlockConnectorOnEVSideDisconnect": "true",
        }
    )
    transaction_id = charging(h)
    mark, effects = h.mark(), len(h.effects)
    h.feed(CableUnplugged(1))
    stops = sent_since(h, mark, "StopTransaction")
    assert len(stops) == 1
    assert stops[0]["reason"] == "EVDisconnected" and stops[0]["transactionId"] == transaction_id
    # Step 3: Finishing, with the info §4.9 asks for; CableUnplugged is the cable leaving with the EV,
    # so the connector is Available right after (F1).
    assert statuses_since(h, mark, 1) == ["Finishing", "Available"]
    assert sent_since(h, mark, "StatusNotification")[0]["info"] == "EV side disconnected"
    assert LockConnector(1, False) in h.effects[effects:]  # UnlockConnectorOnEVSideDisconnect


def test_TC_005_2_ev_side_disconnected_stop_but_keep_locked() -> None:
    h = Harness(
        config={
            "MinimumStatusDuration": "0",
            "StopTransactionOnEVSideDisconnect": "true",
            "UnlockConnectorOnEVSideDisconnect": "false",
        }
    )
    charging(h)
    mark, effects = h.mark(), len(h.effects)
    h.feed(CableUnplugged(1))
    stops = sent_since(h, mark, "StopTransaction")
    assert len(stops) == 1 and stops[0]["reason"] == "EVDisconnected"
    assert statuses_since(h, mark, 1)[0] in ("Finishing", "Available")
    assert LockConnector(1, False) not in h.effects[effects:]
    # Steps 5/6: the CSMS unlocks the connector.
    answer = unlock(h, 1, True)
    assert answer[0] == 3 and answer[2]["status"] in ("Unlocked", "NotSupported")


def test_TC_005_3_ev_side_disconnected_transaction_continues() -> None:
    h = Harness(
        config={
            "MinimumStatusDuration": "0",
            "StopTransactionOnEVSideDisconnect": "false",
            "UnlockConnectorOnEVSideDisconnect": "false",
        }
    )
    transaction_id = charging(h)
    mark, effects = h.mark(), len(h.effects)
    h.feed(CableUnplugged(1))
    # Step 1: SuspendedEV and/or SuspendedEVSE, info "EV side disconnected"; no StopTransaction.
    assert "StopTransaction" not in h.actions(mark)
    notes = [p for p in sent_since(h, mark, "StatusNotification") if p["connectorId"] == 1]
    assert notes and all(p["status"] in ("SuspendedEV", "SuspendedEVSE") for p in notes)
    assert all(p["info"] == "EV side disconnected" for p in notes)
    assert LockConnector(1, False) not in h.effects[effects:]
    # Steps 3-8: RemoteStopTransaction ends it: Finishing and StopTransaction reason Remote.
    mark = h.mark()
    assert h.csms_result("RemoteStopTransaction", {"transactionId": transaction_id}) == {"status": "Accepted"}
    assert statuses_since(h, mark, 1) == ["Finishing", "Available"]  # socket: Finishing first
    stops = sent_since(h, mark, "StopTransaction")
    assert len(stops) == 1 and stops[0]["reason"] == "Remote"
    assert stops[0]["transactionId"] == transaction_id


# -- 2.4 Cache ------------------------------------------------------------------------------------------


def test_TC_007_regular_start_charging_session_cached_id() -> None:
    h = Harness(
        config={
            "AuthorizationCacheEnabled": "true",
            "AuthorizeRemoteTxRequests": "true",
            "LocalPreAuthorize": "true",
        }
    )
    id_tag_cached(h, "TAG")
    mark = h.mark()
    h.feed(CablePlugged(1))
    assert statuses_since(h, mark, 1) == ["Preparing"]
    assert h.csms_result("RemoteStartTransaction", {"connectorId": 1, "idTag": "TAG"}) == {
        "status": "Accepted"
    }
    # The cached idTag is pre-authorized locally: no Authorize.req.
    assert "Authorize" not in h.actions(mark)
    starts = sent_since(h, mark, "StartTransaction")
    assert len(starts) == 1 and starts[0]["idTag"] == "TAG"
    assert statuses_since(h, mark, 1) == ["Preparing", "Charging"]


def test_TC_061_clear_authorization_data_in_authorization_cache() -> None:
    h = Harness(
        config={"AuthorizationCacheEnabled": "true", "LocalPreAuthorize": "true", "ConnectionTimeOut": "30"}
    )
    authorized(h, "TAG")  # step 1: Preparing
    mark = h.mark()
    h.advance(30)  # step 3: the connection timeout ends the intended usage
    assert statuses_since(h, mark, 1) == ["Available"]
    assert h.csms_result("ClearCache", {}) == {"status": "Accepted"}  # step 6
    # Step 7: with the cache cleared the idTag is authorized online again.
    mark = h.mark()
    h.feed(IdTagPresented("TAG"))
    assert sent_since(h, mark, "Authorize") == [{"idTag": "TAG"}]


# -- 2.5 Remote actions, happy flow ------------------------------------------------------------------------


def test_TC_010_remote_start_charging_session_cable_plugged_in_first() -> None:
    h = Harness()
    transaction_id = charging(h)
    assert h.engine.snapshot()["connectors"][1]["transactionId"] == transaction_id


def _remote_start_first(h: Harness) -> int:
    conf = h.csms_result("GetConfiguration", {"key": ["AuthorizeRemoteTxRequests"]})
    assert [k["key"] for k in conf["configurationKey"]] == ["AuthorizeRemoteTxRequests"]
    authorize_remote = conf["configurationKey"][0]["value"] == "true"
    mark = h.mark()
    assert h.csms_result("RemoteStartTransaction", {"connectorId": 1, "idTag": "TAG"}) == {
        "status": "Accepted"
    }
    if authorize_remote:
        assert sent_since(h, mark, "Authorize") == [{"idTag": "TAG"}]
    assert statuses_since(h, mark, 1) == ["Preparing"]
    assert "StartTransaction" not in h.actions(mark)
    return mark


def test_TC_011_1_remote_start_charging_session_remote_start_first() -> None:
    h = Harness()
    _remote_start_first(h)
    mark = h.mark()
    h.feed(CablePlugged(1))
    starts = sent_since(h, mark, "StartTransaction")
    assert len(starts) == 1 and starts[0]["idTag"] == "TAG" and starts[0]["connectorId"] == 1
    assert statuses_since(h, mark, 1) == ["Charging"]


def test_TC_011_2_remote_start_charging_session_time_out() -> None:
    h = Harness(config={"ConnectionTimeOut": "30"})
    _remote_start_first(h)
    mark = h.mark()
    h.advance(29)
    assert statuses_since(h, mark, 1) == []
    h.advance(1)
    assert statuses_since(h, mark, 1) == ["Available"]
    assert "StartTransaction" not in h.actions(mark)


def test_TC_012_remote_stop_charging_session() -> None:
    h = Harness()
    transaction_id = charging(h)
    mark = h.mark()
    assert h.csms_result("RemoteStopTransaction", {"transactionId": transaction_id}) == {"status": "Accepted"}
    stops = sent_since(h, mark, "StopTransaction")
    assert len(stops) == 1
    assert stops[0]["reason"] == "Remote" and stops[0]["transactionId"] == transaction_id
    assert statuses_since(h, mark, 1) == ["Finishing"]


# -- 2.6 Reset, happy flow -------------------------------------------------------------------------------


def _reset_without_transaction(kind: str) -> None:
    h = Harness(TWO_CONNECTORS)
    mark = h.mark()
    assert h.csms_result("ChangeAvailability", {"connectorId": 1, "type": "Inoperative"}) == {
        "status": "Accepted"
    }
    assert statuses_since(h, mark, 1) == ["Unavailable"]
    assert h.csms_result("Reset", {"type": kind}) == {"status": "Accepted"}
    assert h.effects_of(Reboot) == [Reboot(hard=kind == "Hard")]
    # The shell restarts: a new engine from what was stored (steps 7-10).
    h = h.reboot()
    assert h.actions()[0] == "BootNotification"
    statuses = {p["connectorId"]: p["status"] for p in h.sent("StatusNotification")}
    assert statuses == {0: "Available", 1: "Unavailable", 2: "Available"}
    # Steps 11-13: back to Operative.
    mark = h.mark()
    assert h.csms_result("ChangeAvailability", {"connectorId": 1, "type": "Operative"}) == {
        "status": "Accepted"
    }
    assert statuses_since(h, mark, 1) == ["Available"]


def test_TC_013_hard_reset_without_transaction() -> None:
    _reset_without_transaction("Hard")


def test_TC_014_soft_reset_without_transaction() -> None:
    _reset_without_transaction("Soft")


def _reset_with_transaction(kind: str) -> None:
    h = Harness(TWO_CONNECTORS)
    transaction_id = charging(h)
    mark, since = h.mark(), len(h.effects)
    answer = h.csms_call("Reset", {"type": kind})
    assert answer[0] == 3 and answer[2] == {"status": "Accepted"}
    stops = sent_since(h, mark, "StopTransaction")
    assert len(stops) == 1
    assert stops[0]["reason"] == f"{kind}Reset" and stops[0]["transactionId"] == transaction_id
    assert statuses_since(h, mark, 1) == ["Finishing"]
    # Reset.conf first, then StopTransaction.req, then the reboot once it was answered.
    sent = [e for e in h.effects[since:] if isinstance(e, SendFrame | Reboot)]
    reply_at = next(i for i, e in enumerate(sent) if isinstance(e, SendFrame) and e.data.startswith(b"[3,"))
    stop_at = next(i for i, e in enumerate(sent) if isinstance(e, SendFrame) and b"StopTransaction" in e.data)
    reboot_at = next(i for i, e in enumerate(sent) if isinstance(e, Reboot))
    assert reply_at < stop_at < reboot_at
    assert h.effects_of(Reboot) == [Reboot(hard=kind == "Hard")]
    # Steps 7-10: after the restart, the cable is still in.
    h = h.reboot(plugged=(1,))
    assert h.actions()[0] == "BootNotification"
    statuses = {p["connectorId"]: p["status"] for p in h.sent("StatusNotification")}
    assert statuses[1] in ("Finishing", "Preparing")
    assert statuses[0] == "Available" and statuses[2] == "Available"
    assert "StopTransaction" not in h.actions() and "StartTransaction" not in h.actions()


def test_TC_015_hard_reset_with_transaction() -> None:
    _reset_with_transaction("Hard")


def test_TC_016_soft_reset_with_transaction() -> None:
    _reset_with_transaction("Soft")


# -- 2.7 Unlocking, happy flow -------------------------------------------------------------------------


def test_TC_017_1_unlock_connector_no_charging_session_not_fixed_cable() -> None:
    h = Harness()
    answer = unlock(h, 1, True)
    assert answer[0] == 3 and answer[2] == {"status": "Unlocked"}


def test_TC_017_2_unlock_connector_no_charging_session_fixed_cable() -> None:
    h = Harness(FIXED_CABLE)
    answer = unlock(h, 1, True)
    assert answer[0] == 3 and answer[2] == {"status": "NotSupported"}
    assert h.effects_of(UnlockConnector) == []


def test_TC_018_1_unlock_connector_with_charging_session_not_fixed_cable() -> None:
    h = Harness()
    transaction_id = charging(h)
    mark = h.mark()
    answer = unlock(h, 1, True)
    assert answer[0] == 3 and answer[2] == {"status": "Unlocked"}
    stops = sent_since(h, mark, "StopTransaction")
    assert len(stops) == 1
    assert stops[0]["reason"] == "UnlockCommand" and stops[0]["transactionId"] == transaction_id
    assert statuses_since(h, mark, 1) == ["Finishing"]
    # Step 7: the driver unplugs.
    h.feed(CableUnplugged(1))
    assert statuses_since(h, mark, 1) == ["Finishing", "Available"]


def test_TC_018_2_unlock_connector_with_charging_session_fixed_cable() -> None:
    h = Harness(FIXED_CABLE)
    charging(h)
    mark = h.mark()
    answer = unlock(h, 1, True)
    assert answer[0] == 3 and answer[2] == {"status": "NotSupported"}
    assert h.actions(mark) == []
    assert h.engine.ctx.connectors[1].transaction is not None


# -- 2.8 Configuration, happy flow ----------------------------------------------------------------------

#: TC_019 step 4: required Core keys and their allowed accessibility (True = read-only).
CORE_KEYS: dict[str, tuple[bool, ...]] = {
    "AuthorizeRemoteTxRequests": (True, False),
    "ClockAlignedDataInterval": (False,),
    "ConnectionTimeOut": (False,),
    "ConnectorPhaseRotation": (False,),
    "GetConfigurationMaxKeys": (True,),
    "HeartbeatInterval": (False,),
    "LocalAuthorizeOffline": (False,),
    "LocalPreAuthorize": (False,),
    "MeterValuesAlignedData": (False,),
    "MeterValuesSampledData": (False,),
    "MeterValueSampleInterval": (False,),
    "NumberOfConnectors": (True,),
    "ResetRetries": (False,),
    "StopTransactionOnInvalidId": (False,),
    "StopTxnAlignedData": (False,),
    "StopTxnSampledData": (False,),
    "SupportedFeatureProfiles": (True,),
    "TransactionMessageAttempts": (False,),
    "TransactionMessageRetryInterval": (False,),
    "UnlockConnectorOnEVSideDisconnect": (True, False),
}


def test_TC_019_retrieve_configuration() -> None:
    h = Harness()
    # Steps 1-2
    conf = h.csms_result("GetConfiguration", {"key": ["SupportedFeatureProfiles"]})
    assert not conf.get("unknownKey")
    assert [k["key"] for k in conf["configurationKey"]] == ["SupportedFeatureProfiles"]
    profiles = conf["configurationKey"][0]["value"].split(",")
    assert "Core" in profiles
    # Steps 3-4: every key, the required ones with the right accessibility.
    everything = h.csms_result("GetConfiguration", {})
    keys = {k["key"]: k for k in everything["configurationKey"]}
    for name, readonly in CORE_KEYS.items():
        assert name in keys, name
        assert keys[name]["readonly"] in readonly, name
    # Steps 5-6
    conf = h.csms_result("GetConfiguration", {"key": ["GetConfigurationMaxKeys"]})
    max_keys = int(conf["configurationKey"][0]["value"])
    # Steps 7-8: min(GetConfigurationMaxKeys, all) keys picked from step 4.
    picked = list(keys)[: min(max_keys, len(keys))]
    conf = h.csms_result("GetConfiguration", {"key": picked})
    assert not conf.get("unknownKey")
    assert [k["key"] for k in conf["configurationKey"]] == picked
    # Every key of the supported profiles (and only those) is listed.
    supported = set(profiles)
    assert len(keys) == len([k for k in KEYS if k.access.value != "W" and k.profile.value in supported])


def test_TC_021_change_set_configuration() -> None:
    h = Harness()
    assert h.engine.config.get("MeterValueSampleInterval") != "30"
    answer = h.csms_result("ChangeConfiguration", {"key": "MeterValueSampleInterval", "value": "30"})
    assert answer == {"status": "Accepted"}
    conf = h.csms_result("GetConfiguration", {"key": ["MeterValueSampleInterval"]})
    assert conf["configurationKey"] == [{"key": "MeterValueSampleInterval", "readonly": False, "value": "30"}]


# -- 2.9 Meter values ---------------------------------------------------------------------------------


def _meter_values(h: Harness, mark: int, context: str) -> list[dict[str, Any]]:
    out = []
    for payload in sent_since(h, mark, "MeterValues"):
        for value in payload["meterValue"]:
            if {s.get("context") for s in value["sampledValue"]} == {context}:
                out.append({**value, "transactionId": payload.get("transactionId")})
    return out


def _measurands(value: dict[str, Any]) -> set[str]:
    return {s.get("measurand", "Energy.Active.Import.Register") for s in value["sampledValue"]}


def test_TC_070_sampled_meter_values() -> None:
    h = Harness(config={"MeterValueSampleInterval": "30", "ClockAlignedDataInterval": "0"})
    h.feed(readings(1000))
    conf = h.csms_result("GetConfiguration", {"key": ["MeterValuesSampledData"]})
    configured = set(conf["configurationKey"][0]["value"].split(","))
    transaction_id = charging(h)
    started = h.now
    mark = h.mark()
    for step in range(1, 4):
        h.advance(30)
        h.feed(readings(1000 + 100 * step))
    values = _meter_values(h, mark, "Sample.Periodic")
    assert len(values) == 3
    stamps = [parse_datetime(v["timestamp"]) for v in values]
    assert stamps == [started + 30, started + 60, started + 90]
    for value in values:
        assert value["transactionId"] == transaction_id
        assert _measurands(value) == configured
        assert all(s["context"] == "Sample.Periodic" for s in value["sampledValue"])
    # An empty MeterValuesSampledData means Energy.Active.Import.Register.
    answer = h.csms_result("ChangeConfiguration", {"key": "MeterValuesSampledData", "value": ""})
    assert answer == {"status": "Accepted"}
    mark = h.mark()
    h.advance(30)
    values = _meter_values(h, mark, "Sample.Periodic")
    assert len(values) == 1 and _measurands(values[0]) == {"Energy.Active.Import.Register"}


def test_TC_071_clock_aligned_meter_values() -> None:
    h = Harness(
        config={
            "MeterValueSampleInterval": "0",
            "ClockAlignedDataInterval": "20",
            "MeterValuesAlignedData": "Energy.Active.Import.Register,Power.Active.Import",
        }
    )
    h.advance(7)  # not on the grid
    h.feed(readings(500))
    conf = h.csms_result("GetConfiguration", {"key": ["MeterValuesAlignedData"]})
    configured = set(conf["configurationKey"][0]["value"].split(","))
    transaction_id = charging(h)
    mark = h.mark()
    for step in range(1, 4):
        h.advance(20)
        h.feed(readings(500 + 50 * step))
    values = [v for v in _meter_values(h, mark, "Sample.Clock") if v["transactionId"] == transaction_id]
    assert len(values) == 3
    stamps = [parse_datetime(v["timestamp"]) for v in values]
    assert [b - a for a, b in pairwise(stamps)] == [20, 20]
    assert all(stamp % 20 == 0 for stamp in stamps)
    for value in values:
        assert _measurands(value) == configured
        assert all(s["context"] == "Sample.Clock" for s in value["sampledValue"])
    # An empty MeterValuesAlignedData means Energy.Active.Import.Register.
    answer = h.csms_result("ChangeConfiguration", {"key": "MeterValuesAlignedData", "value": ""})
    assert answer == {"status": "Accepted"}
    mark = h.mark()
    h.advance(20)
    values = _meter_values(h, mark, "Sample.Clock")
    assert len(values) == 1 and _measurands(values[0]) == {"Energy.Active.Import.Register"}


# -- 2.10 Basic actions, non-happy flow -------------------------------------------------------------------


def test_TC_023_start_charging_session_authorize_invalid() -> None:
    h = Harness(config={"MinimumStatusDuration": "10", "LocalPreAuthorize": "true"})
    mark = h.mark()
    h.feed(CablePlugged(1))
    h.advance(10)
    assert statuses_since(h, mark, 1) == ["Preparing"]
    h.feed(IdTagPresented("BAD"))
    assert sent_since(h, mark, "Authorize") == [{"idTag": "BAD"}]
    h.advance(120)
    assert "StartTransaction" not in h.actions(mark)
    assert h.engine.ctx.connectors[1].transaction is None


def test_TC_024_start_charging_session_lock_failure() -> None:
    h = Harness()
    _remote_start_first(h)
    mark = h.mark()
    # The cable goes in halfway: the lock cannot close, the hardware reports the fault.
    h.feed(FaultRaised(1, "ConnectorLockFailure"))
    h.feed(CablePlugged(1))
    notes = [p for p in sent_since(h, mark, "StatusNotification") if p["connectorId"] == 1]
    assert [(p["status"], p["errorCode"]) for p in notes] == [("Faulted", "ConnectorLockFailure")]
    assert "StartTransaction" not in h.actions(mark)
    h.advance(120)
    assert "StartTransaction" not in h.actions(mark)


# -- 2.11 Remote actions, non-happy flow -------------------------------------------------------------------


def test_TC_026_remote_start_charging_session_rejected() -> None:
    h = Harness(config={"LocalPreAuthorize": "false"})
    charging(h)
    mark = h.mark()
    assert h.csms_result("RemoteStartTransaction", {"connectorId": 1, "idTag": "TAG"}) == {
        "status": "Rejected"
    }
    assert h.actions(mark) == []


def test_TC_027_remote_start_transaction_connector_id_shall_not_be_0() -> None:
    h = Harness()
    mark = h.mark()
    answer = h.csms_call("RemoteStartTransaction", {"connectorId": 0, "idTag": "TAG"})
    assert (answer[0] == 3 and answer[2] == {"status": "Rejected"}) or answer[0] == 4
    h.feed(CablePlugged(1))
    assert "StartTransaction" not in h.actions(mark) and "Authorize" not in h.actions(mark)


def test_TC_028_remote_stop_transaction_rejected() -> None:
    h = Harness()
    transaction_id = charging(h)
    mark = h.mark()
    answer = h.csms_result("RemoteStopTransaction", {"transactionId": transaction_id + 1000})
    assert answer == {"status": "Rejected"}
    assert h.actions(mark) == []


# -- 2.12 Unlocking, non-happy flow --------------------------------------------------------------------


def test_TC_030_unlock_connector_unlock_failure() -> None:
    h = Harness()
    answer = unlock(h, 1, False)
    assert answer[0] == 3 and answer[2] == {"status": "UnlockFailed"}


def test_TC_031_unlock_connector_unknown_connector() -> None:
    h = Harness()
    answer = unlock(h, 2, None)
    assert answer[0] == 3 and answer[2] == {"status": "NotSupported"}
    assert h.effects_of(UnlockConnector) == []


# -- 2.13 Power failure ---------------------------------------------------------------------------------
# TC_032_1 and TC_032_2 need the stored state across a power cycle: tests/durability/test_octt_durability.py.


def test_TC_034_power_failure_with_unavailable_status() -> None:
    h = Harness(TWO_CONNECTORS)
    mark = h.mark()
    assert h.csms_result("ChangeAvailability", {"connectorId": 0, "type": "Inoperative"}) == {
        "status": "Accepted"
    }
    statuses = {p["connectorId"]: p["status"] for p in sent_since(h, mark, "StatusNotification")}
    assert statuses == {0: "Unavailable", 1: "Unavailable", 2: "Unavailable"}
    # Power cycle: the new engine starts from what was stored.
    h = h.reboot()
    assert h.actions()[0] == "BootNotification"
    statuses = {p["connectorId"]: p["status"] for p in h.sent("StatusNotification")}
    assert statuses == {0: "Unavailable", 1: "Unavailable", 2: "Unavailable"}


# -- 2.14 Offline behaviour --------------------------------------------------------------------------------


def test_TC_036_connection_loss_during_transaction() -> None:
    h = Harness(config={"MeterValueSampleInterval": "30"})
    h.feed(readings(100))
    transaction_id = charging(h)
    started = h.now
    h.disconnect()
    for step in range(1, 4):
        h.advance(30)
        h.feed(readings(100 + 200 * step))
    h.advance(5)
    mark = h.mark()
    h.reconnect()
    values = _meter_values(h, mark, "Sample.Periodic")
    stamps = [parse_datetime(v["timestamp"]) for v in values]
    assert stamps == [started + 30, started + 60, started + 90]
    assert all(v["transactionId"] == transaction_id for v in values)
    # Then new ones again, after the queued ones.
    h.advance(30)
    values = _meter_values(h, mark, "Sample.Periodic")
    assert [parse_datetime(v["timestamp"]) for v in values][-1] == started + 120


OFFLINE_CONFIG = {
    "LocalAuthorizeOffline": "true",
    "AuthorizationCacheEnabled": "true",
    "AllowOfflineTxForUnknownId": "true",
}


def test_TC_037_1_offline_start_transaction_valid_idtag() -> None:
    h = Harness(config=OFFLINE_CONFIG)
    id_tag_cached(h, "TAG")
    h.disconnect()
    h.feed(CablePlugged(1))
    h.feed(IdTagPresented("TAG"))
    assert h.engine.ctx.connectors[1].transaction is not None
    mark = h.mark()
    h.reconnect()
    actions = h.actions(mark)
    starts = sent_since(h, mark, "StartTransaction")
    assert len(starts) == 1 and starts[0]["idTag"] == "TAG"
    # Step 3 after step 1: the StatusNotification Charging follows the StartTransaction.req.
    assert statuses_since(h, mark, 1) == ["Charging"]
    assert actions.index("StartTransaction") < actions.index("StatusNotification")


def _offline_start_invalid(stop_on_invalid: bool) -> tuple[Harness, int]:
    h = Harness(
        config={
            **OFFLINE_CONFIG,
            "StopTransactionOnInvalidId": "true" if stop_on_invalid else "false",
            "MaxEnergyOnInvalidId": "0",
        }
    )
    h.disconnect()
    h.feed(CablePlugged(1))
    h.feed(IdTagPresented("BAD"))
    assert h.engine.ctx.connectors[1].transaction is not None
    mark = h.mark()
    h.reconnect()
    starts = sent_since(h, mark, "StartTransaction")
    assert len(starts) == 1 and starts[0]["idTag"] == "BAD"
    return h, mark


def test_TC_037_2_offline_start_transaction_invalid_idtag_keep_transaction() -> None:
    h, mark = _offline_start_invalid(stop_on_invalid=False)
    assert statuses_since(h, mark, 1) == ["Charging", "SuspendedEVSE"]
    assert "StopTransaction" not in h.actions(mark)


def test_TC_037_3_offline_start_transaction_invalid_idtag_stop_transaction() -> None:
    h, mark = _offline_start_invalid(stop_on_invalid=True)
    stops = sent_since(h, mark, "StopTransaction")
    assert len(stops) == 1 and stops[0]["reason"] == "DeAuthorized"
    assert stops[0]["transactionId"] == h.next_tx_id
    assert statuses_since(h, mark, 1) == ["Charging", "Finishing"]
    assert h.locked[1] is True  # §3.5.4: the cable stays locked


def test_TC_037_3_cable_stays_locked_until_the_same_idtag_is_presented() -> None:
    """§3.5.4 with erratum 3.5: after the DeAuthorized stop the cable stays locked until the identifier
    that started the transaction is presented; presenting it unlocks and starts nothing (no
    Authorize.req, no ConnectionTimeOut); unplugging then makes the connector Available."""
    h, _ = _offline_start_invalid(stop_on_invalid=True)
    h.engine.config.set("ConnectionTimeOut", "30")
    # Another driver's valid card does not take the connector (nor its cable).
    mark, effects = h.mark(), len(h.effects)
    h.feed(IdTagPresented("TAG"))
    h.advance(60)
    assert h.actions(mark) == []  # no Authorize.req: nothing it could start or stop
    assert LockConnector(1, False) not in h.effects[effects:]
    assert h.engine.ctx.connectors[1].reported_status == "Finishing"
    # The owner's card: the lock opens; nothing is sent, nothing starts.
    mark, effects = h.mark(), len(h.effects)
    h.feed(IdTagPresented("BAD"))
    assert LockConnector(1, False) in h.effects[effects:]
    assert "Authorize" not in h.actions(mark) and "StartTransaction" not in h.actions(mark)
    h.advance(60)  # no ConnectionTimeOut of a new session
    assert statuses_since(h, mark, 1) == []
    h.feed(CableUnplugged(1))
    assert statuses_since(h, mark, 1) == ["Available"]
    assert h.records.get("transactions", {}) == {}


def test_TC_038_offline_stop_transaction() -> None:
    h = Harness()
    transaction_id = charging(h)
    h.disconnect()
    h.advance(10)
    h.feed(IdTagPresented("TAG"))
    assert h.engine.ctx.connectors[1].transaction is None
    h.advance(10)
    mark = h.mark()
    h.reconnect()
    stops = sent_since(h, mark, "StopTransaction")
    assert len(stops) == 1
    assert stops[0].get("reason", "Local") == "Local" and stops[0]["transactionId"] == transaction_id
    assert statuses_since(h, mark, 1) == ["Finishing"]


def test_TC_039_offline_transaction() -> None:
    h = Harness(config=OFFLINE_CONFIG)
    id_tag_cached(h, "TAG")
    h.disconnect()
    h.feed(CablePlugged(1))
    h.feed(IdTagPresented("TAG"))
    h.advance(60)
    h.feed(IdTagPresented("TAG"))
    h.feed(CableUnplugged(1))
    mark = h.mark()
    h.reconnect()
    starts = sent_since(h, mark, "StartTransaction")
    stops = sent_since(h, mark, "StopTransaction")
    assert len(starts) == 1 and len(stops) == 1
    assert h.actions(mark).index("StartTransaction") < h.actions(mark).index("StopTransaction")
    assert stops[0].get("reason", "Local") == "Local"
    assert stops[0]["transactionId"] == h.next_tx_id  # the id the CSMS gave in StartTransaction.conf


# -- 2.15 Configuration keys, non-happy flow -------------------------------------------------------------


def test_TC_040_1_configuration_key_not_supported() -> None:
    h = Harness()
    assert h.csms_result("ChangeConfiguration", {"key": "Testing", "value": "true"}) == {
        "status": "NotSupported"
    }


def test_TC_040_2_configuration_key_invalid_value() -> None:
    h = Harness()
    answer = h.csms_call("ChangeConfiguration", {"key": "MeterValueSampleInterval", "value": "-1"})
    assert (answer[0] == 3 and answer[2] == {"status": "Rejected"}) or (
        answer[0] == 4 and answer[2] == "PropertyConstraintViolation"
    )
    assert h.engine.config.get("MeterValueSampleInterval") == "60"


def test_TC_041_fault_behavior() -> None:
    """A Faulted connector starts no transaction, whatever the driver does (card first or cable first),
    and neither does a charge point faulted as a whole (connector 0)."""
    h = Harness(EngineSettings(connectors=(ConnectorSpec(), ConnectorSpec())))
    h.feed(FaultRaised(1, "GroundFailure"))
    assert h.statuses(1)[-1] == "Faulted"
    h.feed(IdTagPresented("TAG", 1))
    h.feed(CablePlugged(1))
    h.feed(IdTagPresented("TAG", 1))
    assert h.sent("StartTransaction") == []
    assert h.csms_result("RemoteStartTransaction", {"idTag": "TAG", "connectorId": 1}) == {
        "status": "Rejected"
    }
    h.feed(FaultRaised(0, "OtherError"))
    h.feed(CablePlugged(2))
    h.feed(IdTagPresented("TAG", 2))
    h.advance(120)  # the OCTT waits <Configured Transaction Duration>
    assert h.sent("StartTransaction") == []


# -- other profiles in the range ---------------------------------------------------------------------------


def test_TC_008_regular_start_charging_session_id_in_local_authorization_list() -> None:
    # LocalAuthListManagement profile (test_local_list.py has the rest of §2.17).
    h = Harness(
        config={
            "LocalPreAuthorize": "true",
            "AuthorizationCacheEnabled": "false",
            "LocalAuthListEnabled": "true",
            "AuthorizeRemoteTxRequests": "true",
        }
    )
    assert h.csms_result("GetLocalListVersion", {})["listVersion"] == 0
    send = {
        "listVersion": 1,
        "updateType": "Full",
        "localAuthorizationList": [{"idTag": "TAG", "idTagInfo": {"status": "Accepted"}}],
    }
    assert h.csms_result("SendLocalList", send) == {"status": "Accepted"}
    mark = h.mark()
    h.feed(CablePlugged(1))
    assert statuses_since(h, mark, 1) == ["Preparing"]
    result = h.csms_result("RemoteStartTransaction", {"connectorId": 1, "idTag": "TAG"})
    assert result == {"status": "Accepted"}
    # Authorized by the list (LocalPreAuthorize): no Authorize.req before StartTransaction.
    assert "Authorize" not in h.actions(mark)
    starts = sent_since(h, mark, "StartTransaction")
    assert len(starts) == 1 and starts[0]["idTag"] == "TAG" and starts[0]["connectorId"] == 1
    assert statuses_since(h, mark, 1)[-1] == "Charging"
    tx = h.engine.ctx.connectors[1].transaction
    assert tx is not None and tx.transaction_id is not None and not tx.deauthorized
