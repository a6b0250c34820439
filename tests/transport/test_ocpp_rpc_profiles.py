"""The feature profiles beyond Core against an independent CSMS: npm ``ocpp-rpc`` in strict mode.

Issue #4: LocalAuthListManagement, Reservation, SmartCharging, RemoteTrigger and FirmwareManagement work against the
development CSMS (``test_*_e2e.py``) *and* against a CSMS we did not write. ocpp-rpc checks every CALL
the station sends and every CALLRESULT it returns against its own copy of the OCPP 1.6 schemas; each
test ends with no error reported by the peer. Its date-time check accepts times without a zone, so
:func:`assert_zoned_times` checks that ours carry one.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from ocpp_station.core.clock import format_datetime, parse_datetime
from ocpp_station.hardware.firmware import make_image
from ocpp_station.transport.station import Station
from tests.peers.rpc_csms import PEER_MISSING, Event, RpcCsms, is_call, running_rpc_csms
from tests.stations import StationFactory, station_config

pytestmark = pytest.mark.skipif(PEER_MISSING is not None, reason=PEER_MISSING or "")

CP = "RPC_CP"
#: Date-time fields of OCPP 1.6 payloads (§7).
TIME_FIELDS = frozenset(
    {"timestamp", "currentTime", "expiryDate", "scheduleStart", "startSchedule", "validFrom", "validTo"}
)


@pytest.fixture
async def rpc_csms() -> AsyncIterator[RpcCsms]:
    async with running_rpc_csms() as peer:
        yield peer


def _times(value: Any) -> list[str]:
    if isinstance(value, dict):
        found = [v for k, v in value.items() if k in TIME_FIELDS and isinstance(v, str)]
        return found + [t for v in value.values() for t in _times(v)]
    if isinstance(value, list):
        return [t for v in value for t in _times(v)]
    return []


def assert_clean(peer: RpcCsms) -> None:
    """ocpp-rpc reported nothing wrong, and every date-time we sent carries its zone."""
    assert peer.errors() == []
    ours = [e["params"] for e in peer.events if e.get("event") == "call"]
    ours += [e["result"] for e in peer.events if e.get("event") == "result"]
    for text in _times(ours):
        assert text.endswith("Z") or text[-6] in "+-", text


async def start(start_station: StationFactory, peer: RpcCsms, **ocpp: Any) -> Station:
    return await start_station(station_config(peer.url, cp_id=CP, ocpp=ocpp))


async def supported_profiles(peer: RpcCsms) -> list[str]:
    conf = await peer.result(CP, "GetConfiguration", {"key": ["SupportedFeatureProfiles"]})
    value: str = conf["configurationKey"][0]["value"]
    return value.split(",")


def status_of(connector_id: int, status: str) -> Any:
    return lambda e: (
        is_call("StatusNotification")(e)
        and e["params"]["connectorId"] == connector_id
        and e["params"]["status"] == status
    )


# -- Local Auth List Management (OCPP 1.6 §5.10, §5.15) --------------------------------------------------


async def test_local_auth_list_against_ocpp_rpc(rpc_csms: RpcCsms, start_station: StationFactory) -> None:
    station = await start(start_station, rpc_csms, LocalPreAuthorize=True)
    assert "LocalAuthListManagement" in await supported_profiles(rpc_csms)
    assert await rpc_csms.result(CP, "GetLocalListVersion", {}) == {"listVersion": 0}
    full = {
        "listVersion": 1,
        "updateType": "Full",
        "localAuthorizationList": [
            {
                "idTag": "GOOD1",
                "idTagInfo": {"status": "Accepted", "expiryDate": format_datetime(time.time() + 3600)},
            },
            {"idTag": "GOOD2", "idTagInfo": {"status": "Accepted"}},
            {"idTag": "GONE", "idTagInfo": {"status": "Accepted"}},
        ],
    }
    assert await rpc_csms.result(CP, "SendLocalList", full) == {"status": "Accepted"}
    differential = {
        "listVersion": 2,
        "updateType": "Differential",
        "localAuthorizationList": [
            {"idTag": "GONE"},  # no idTagInfo: removed
            {"idTag": "BLOCKED", "idTagInfo": {"status": "Blocked"}},
        ],
    }
    assert await rpc_csms.result(CP, "SendLocalList", differential) == {"status": "Accepted"}
    assert await rpc_csms.result(CP, "SendLocalList", differential) == {"status": "VersionMismatch"}
    assert await rpc_csms.result(CP, "GetLocalListVersion", {}) == {"listVersion": 2}
    assert set(station.engine.local_list.entries) == {"GOOD1", "GOOD2", "BLOCKED"}

    # A card on the list starts a transaction at once: no Authorize.req (§3.4.2, LocalPreAuthorize).
    mark = len(rpc_csms.events)
    station.plug(1)
    station.present_id_tag("GOOD1")
    start_tx = await rpc_csms.wait_for(is_call("StartTransaction"), since=mark)
    assert start_tx["params"]["idTag"] == "GOOD1"
    await station.wait_for(lambda s: s["connectors"][1]["status"] == "Charging")
    assert rpc_csms.calls("Authorize", since=mark) == []
    station.unplug(1)
    await rpc_csms.wait_for(is_call("StopTransaction"), since=mark)
    await station.wait_for(lambda s: s["connectors"][1]["status"] == "Available")

    # More entries than SendLocalListMaxLength: Failed, the list is left as it was.
    too_long = {
        "listVersion": 3,
        "updateType": "Differential",
        "localAuthorizationList": [
            {"idTag": f"T{i}", "idTagInfo": {"status": "Accepted"}} for i in range(101)
        ],
    }
    assert await rpc_csms.result(CP, "SendLocalList", too_long) == {"status": "Failed"}
    assert await rpc_csms.result(CP, "GetLocalListVersion", {}) == {"listVersion": 2}

    # The list says Accepted, the CSMS says Invalid: a LocalListConflict on connector 0 (§3.5.2).
    update = {
        "listVersion": 3,
        "updateType": "Differential",
        "localAuthorizationList": [{"idTag": "LISTONLY", "idTagInfo": {"status": "Accepted"}}],
    }
    assert await rpc_csms.result(CP, "SendLocalList", update) == {"status": "Accepted"}
    mark = len(rpc_csms.events)
    station.plug(1)
    station.present_id_tag("LISTONLY")
    conflict = await rpc_csms.wait_for(
        lambda e: is_call("StatusNotification")(e) and e["params"]["errorCode"] == "LocalListConflict",
        since=mark,
    )
    assert conflict["params"]["connectorId"] == 0
    assert rpc_csms.calls("StartTransaction", since=mark)[0]["params"]["idTag"] == "LISTONLY"
    assert_clean(rpc_csms)


async def test_local_auth_list_offline_against_ocpp_rpc(
    rpc_csms: RpcCsms, start_station: StationFactory, tmp_path: Path
) -> None:
    """Offline, a card on the list starts a transaction (§3.4.2 LocalAuthorizeOffline); its
    StartTransaction.req reaches the CSMS after the reconnect, with the time it started, and the list
    itself outlives a restart."""
    config = station_config(rpc_csms.url, cp_id=CP, dataDir=str(tmp_path / "data"))
    station = await start_station(config)
    update = {
        "listVersion": 7,
        "updateType": "Full",
        "localAuthorizationList": [{"idTag": "GOOD2", "idTagInfo": {"status": "Accepted"}}],
    }
    assert await rpc_csms.result(CP, "SendLocalList", update) == {"status": "Accepted"}
    station.network_disconnect()
    await rpc_csms.wait_for(lambda e: e.get("event") == "disconnected")
    await station.wait_for(lambda s: not s["connected"])
    station.plug(1)
    station.present_id_tag("GOOD2")
    await station.wait_for(lambda s: s["connectors"][1]["status"] == "Charging")
    started_at = time.time()
    assert rpc_csms.calls("StartTransaction") == []
    mark = len(rpc_csms.events)
    station.network_connect()
    start_tx = await rpc_csms.wait_for(is_call("StartTransaction"), since=mark, timeout=20)
    assert start_tx["params"]["idTag"] == "GOOD2"
    assert parse_datetime(start_tx["params"]["timestamp"]) <= started_at
    assert rpc_csms.calls("Authorize") == []
    await station.wait_for(lambda s: s["connectors"][1]["transactionId"] is not None)

    station.present_id_tag("GOOD2")
    await rpc_csms.wait_for(is_call("StopTransaction"), since=mark)
    await station.stop()
    station.close()
    await start_station(config)
    assert await rpc_csms.result(CP, "GetLocalListVersion", {}) == {"listVersion": 7}
    assert_clean(rpc_csms)


# -- Reservation (OCPP 1.6 §5.13, §5.1) -------------------------------------------------------------------


async def test_reservation_against_ocpp_rpc(rpc_csms: RpcCsms, start_station: StationFactory) -> None:
    station = await start(start_station, rpc_csms)
    assert "Reservation" in await supported_profiles(rpc_csms)

    def reserve(reservation_id: int) -> dict[str, Any]:
        return {
            "connectorId": 1,
            "expiryDate": format_datetime(time.time() + 300),
            "idTag": "GOOD1",
            "reservationId": reservation_id,
        }

    # Reserved, then cancelled: back to Available.
    mark = len(rpc_csms.events)
    assert await rpc_csms.result(CP, "ReserveNow", reserve(7)) == {"status": "Accepted"}
    await rpc_csms.wait_for(status_of(1, "Reserved"), since=mark)
    mark = len(rpc_csms.events)
    assert await rpc_csms.result(CP, "CancelReservation", {"reservationId": 7}) == {"status": "Accepted"}
    await rpc_csms.wait_for(status_of(1, "Available"), since=mark)
    assert await rpc_csms.result(CP, "CancelReservation", {"reservationId": 7}) == {"status": "Rejected"}

    # Reserved, then used: StartTransaction.req carries the reservationId.
    mark = len(rpc_csms.events)
    assert await rpc_csms.result(CP, "ReserveNow", reserve(8)) == {"status": "Accepted"}
    await rpc_csms.wait_for(status_of(1, "Reserved"), since=mark)
    await station.wait_for(lambda s: s["connectors"][1]["status"] == "Reserved")
    station.plug(1)
    station.present_id_tag("GOOD1")
    start_tx = await rpc_csms.wait_for(is_call("StartTransaction"), since=mark)
    assert start_tx["params"]["idTag"] == "GOOD1"
    assert start_tx["params"]["reservationId"] == 8
    await station.wait_for(lambda s: s["connectors"][1]["status"] == "Charging")
    # The reservation ended with the transaction's start.
    assert await rpc_csms.result(CP, "CancelReservation", {"reservationId": 8}) == {"status": "Rejected"}
    # An occupied connector cannot be reserved.
    assert await rpc_csms.result(CP, "ReserveNow", reserve(9)) == {"status": "Occupied"}
    assert_clean(rpc_csms)


async def test_reservation_expires_against_ocpp_rpc(rpc_csms: RpcCsms, start_station: StationFactory) -> None:
    """A reservation ends at its expiryDate by a timer of the station: Available again, not cancellable."""
    station = await start(start_station, rpc_csms)
    mark = len(rpc_csms.events)
    params = {
        "connectorId": 1,
        "expiryDate": format_datetime(time.time() + 1),
        "idTag": "GOOD1",
        "reservationId": 5,
    }
    assert await rpc_csms.result(CP, "ReserveNow", params) == {"status": "Accepted"}
    reserved = await rpc_csms.wait_for(status_of(1, "Reserved"), since=mark)
    await rpc_csms.wait_for(status_of(1, "Available"), since=rpc_csms.index(reserved) + 1, timeout=5)
    await station.wait_for(lambda s: s["connectors"][1]["status"] == "Available")
    assert await rpc_csms.result(CP, "CancelReservation", {"reservationId": 5}) == {"status": "Rejected"}
    # Another card may use the connector now.
    station.plug(1)
    station.present_id_tag("GOOD2")
    start_tx = await rpc_csms.wait_for(is_call("StartTransaction"), since=mark)
    assert start_tx["params"]["idTag"] == "GOOD2"
    assert "reservationId" not in start_tx["params"]
    assert_clean(rpc_csms)


async def test_reservation_outlives_a_restart_against_ocpp_rpc(
    rpc_csms: RpcCsms, start_station: StationFactory, tmp_path: Path
) -> None:
    """The reservation is stored: after a restart the connector is Reserved again and serves only its
    idTag, and the StartTransaction.req still carries the reservationId."""
    config = station_config(rpc_csms.url, cp_id=CP, dataDir=str(tmp_path / "data"))
    station = await start_station(config)
    params = {
        "connectorId": 1,
        "expiryDate": format_datetime(time.time() + 300),
        "idTag": "GOOD1",
        "reservationId": 3,
    }
    assert await rpc_csms.result(CP, "ReserveNow", params) == {"status": "Accepted"}
    await rpc_csms.wait_for(status_of(1, "Reserved"))
    await station.stop()
    station.close()

    mark = len(rpc_csms.events)
    station = await start_station(config)
    await rpc_csms.wait_for(status_of(1, "Reserved"), since=mark)
    station.plug(1)
    station.present_id_tag("GOOD2")  # valid, but not the reserved idTag
    station.present_id_tag("GOOD1")
    start_tx = await rpc_csms.wait_for(is_call("StartTransaction"), since=mark)
    assert (start_tx["params"]["idTag"], start_tx["params"]["reservationId"]) == ("GOOD1", 3)
    assert [e["params"]["idTag"] for e in rpc_csms.calls("Authorize", mark)] in ([], ["GOOD1"])
    assert_clean(rpc_csms)


# -- Smart Charging (OCPP 1.6 §5.16, §5.7, §5.9) -----------------------------------------------------------

VOLTS, PHASES, EV_MAX_A = 230, 3, 32


def power_sampled(event: Event) -> float | None:
    """Power.Active.Import in W from a MeterValues.req of connector 1, or None."""
    if not is_call("MeterValues")(event) or event["params"]["connectorId"] != 1:
        return None
    for meter_value in event["params"]["meterValue"]:
        for sample in meter_value["sampledValue"]:
            if sample.get("measurand") == "Power.Active.Import" and sample.get("phase") is None:
                factor = 1000.0 if sample.get("unit") == "kW" else 1.0
                return float(sample["value"]) * factor
    return None


def tx_default(profile_id: int, stack_level: int, limit_a: float) -> dict[str, Any]:
    return {
        "chargingProfileId": profile_id,
        "stackLevel": stack_level,
        "chargingProfilePurpose": "TxDefaultProfile",
        "chargingProfileKind": "Relative",
        "chargingSchedule": {
            "chargingRateUnit": "A",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": limit_a}],
        },
    }


async def test_smart_charging_against_ocpp_rpc(rpc_csms: RpcCsms, start_station: StationFactory) -> None:
    station = await start(
        start_station, rpc_csms, MeterValueSampleInterval=1, MeterValuesSampledData="Power.Active.Import"
    )
    assert "SmartCharging" in await supported_profiles(rpc_csms)
    answer = await rpc_csms.result(
        CP, "SetChargingProfile", {"connectorId": 1, "csChargingProfiles": tx_default(11, 0, 10.0)}
    )
    assert answer == {"status": "Accepted"}

    # The default profile limits the transaction from its start: min(EV 32 A, profile 10 A).
    station.plug(1)
    station.present_id_tag("GOOD1")
    await rpc_csms.wait_for(is_call("StartTransaction"))
    state = await station.wait_for(lambda s: s["connectors"][1]["powerW"] > 0)
    assert state["connectors"][1]["powerW"] == 10 * VOLTS * PHASES
    await rpc_csms.wait_for(lambda e: power_sampled(e) == 10 * VOLTS * PHASES)

    # A higher stack level during the transaction: the EV's power drops at once.
    mark = len(rpc_csms.events)
    answer = await rpc_csms.result(
        CP, "SetChargingProfile", {"connectorId": 1, "csChargingProfiles": tx_default(12, 1, 6.0)}
    )
    assert answer == {"status": "Accepted"}
    await station.wait_for(lambda s: s["connectors"][1]["powerW"] == 6 * VOLTS * PHASES)
    await rpc_csms.wait_for(lambda e: power_sampled(e) == 6 * VOLTS * PHASES, since=mark)

    for unit, limit in (("A", 6), ("W", 6 * VOLTS * PHASES)):
        composite = await rpc_csms.result(
            CP, "GetCompositeSchedule", {"connectorId": 1, "duration": 600, "chargingRateUnit": unit}
        )
        assert composite["status"] == "Accepted"
        assert composite["connectorId"] == 1
        assert composite["scheduleStart"].endswith("Z")
        schedule = composite["chargingSchedule"]
        assert "startSchedule" not in schedule  # erratum 3.57: scheduleStart says it
        assert schedule["chargingRateUnit"] == unit
        assert schedule["chargingSchedulePeriod"][0]["startPeriod"] == 0
        assert schedule["chargingSchedulePeriod"][0]["limit"] == limit

    # Cleared one by one: back to 10 A, then to what the EV can take.
    mark = len(rpc_csms.events)
    assert await rpc_csms.result(CP, "ClearChargingProfile", {"id": 12}) == {"status": "Accepted"}
    await station.wait_for(lambda s: s["connectors"][1]["powerW"] == 10 * VOLTS * PHASES)
    await rpc_csms.wait_for(lambda e: power_sampled(e) == 10 * VOLTS * PHASES, since=mark)
    mark = len(rpc_csms.events)
    answer = await rpc_csms.result(
        CP, "ClearChargingProfile", {"connectorId": 1, "chargingProfilePurpose": "TxDefaultProfile"}
    )
    assert answer == {"status": "Accepted"}
    await station.wait_for(lambda s: s["connectors"][1]["powerW"] == EV_MAX_A * VOLTS * PHASES)
    await rpc_csms.wait_for(lambda e: power_sampled(e) == EV_MAX_A * VOLTS * PHASES, since=mark)
    assert await rpc_csms.result(CP, "ClearChargingProfile", {"id": 11}) == {"status": "Unknown"}
    assert_clean(rpc_csms)


def amperes(state: dict[str, Any]) -> float:
    """The current connector 1 draws, from the power the station reports."""
    return round(float(state["connectors"][1]["powerW"]) / (VOLTS * PHASES), 1)


async def test_tx_profile_and_charge_point_max_schedule_against_ocpp_rpc(
    rpc_csms: RpcCsms, start_station: StationFactory
) -> None:
    """A TxProfile from RemoteStartTransaction (§5.11), then a ChargePointMaxProfile in W whose second
    period starts a few seconds later: the station lowers the EV's current on its own at that instant
    (one timer, §3.13), and its composite schedule says when."""
    station = await start(start_station, rpc_csms)
    station.plug(1)
    tx_profile = {
        "chargingProfileId": 21,
        "stackLevel": 0,
        "chargingProfilePurpose": "TxProfile",
        "chargingProfileKind": "Relative",
        "chargingSchedule": {
            "chargingRateUnit": "A",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 8}],
        },
    }
    answer = await rpc_csms.result(
        CP, "RemoteStartTransaction", {"idTag": "GOOD2", "connectorId": 1, "chargingProfile": tx_profile}
    )
    assert answer == {"status": "Accepted"}
    start_tx = await rpc_csms.wait_for(is_call("StartTransaction"))
    assert start_tx["params"]["idTag"] == "GOOD2"
    state = await station.wait_for(lambda s: s["connectors"][1]["powerW"] > 0)
    assert amperes(state) == 8

    # ChargePointMaxProfile: 9200 W (13.3 A) for 5 more seconds, then 2760 W (4 A).
    began = time.time() - 50
    cp_max = {
        "chargingProfileId": 22,
        "stackLevel": 0,
        "chargingProfilePurpose": "ChargePointMaxProfile",
        "chargingProfileKind": "Absolute",
        "chargingSchedule": {
            "startSchedule": format_datetime(began),
            "chargingRateUnit": "W",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 9200}, {"startPeriod": 55, "limit": 2760}],
        },
    }
    answer = await rpc_csms.result(CP, "SetChargingProfile", {"connectorId": 0, "csChargingProfiles": cp_max})
    assert answer == {"status": "Accepted"}
    composite = await rpc_csms.result(
        CP, "GetCompositeSchedule", {"connectorId": 1, "duration": 60, "chargingRateUnit": "A"}
    )
    assert composite["status"] == "Accepted"
    periods = composite["chargingSchedule"]["chargingSchedulePeriod"]
    assert periods[0]["startPeriod"] == 0 and periods[-1]["limit"] == 4
    # 8 A, then 4 A at the change, unless a slow machine took 5 s to get here (timing itself is tested
    # on the fake clock: tests/scheduling, tests/core/test_smart_charging.py).
    assert [p["limit"] for p in periods] in ([8, 4], [4])
    assert all(0 < p["startPeriod"] <= 5 for p in periods[1:])
    await station.wait_for(lambda s: amperes(s) == 4, timeout=10)

    # Cleared by purpose: the TxProfile's 8 A again. A TxProfile needs a transaction to belong to.
    answer = await rpc_csms.result(
        CP, "ClearChargingProfile", {"chargingProfilePurpose": "ChargePointMaxProfile"}
    )
    assert answer == {"status": "Accepted"}
    await station.wait_for(lambda s: amperes(s) == 8)
    stray = {**tx_profile, "chargingProfileId": 23, "transactionId": 999_999}
    answer = await rpc_csms.result(CP, "SetChargingProfile", {"connectorId": 1, "csChargingProfiles": stray})
    assert answer == {"status": "Rejected"}

    # The TxProfile ends with its transaction (§3.13.1).
    transaction_id = station.state()["connectors"][1]["transactionId"]
    answer = await rpc_csms.result(CP, "RemoteStopTransaction", {"transactionId": transaction_id})
    assert answer == {"status": "Accepted"}
    await rpc_csms.wait_for(is_call("StopTransaction"))
    assert await rpc_csms.result(CP, "ClearChargingProfile", {"id": 21}) == {"status": "Unknown"}
    assert_clean(rpc_csms)


async def test_composite_schedule_of_duration_0_has_a_period(
    rpc_csms: RpcCsms, start_station: StationFactory
) -> None:
    """§7.13: chargingSchedulePeriod is 1..* (the JSON schema does not say so, ocpp-rpc lets it pass)."""
    await start(start_station, rpc_csms)
    composite = await rpc_csms.result(CP, "GetCompositeSchedule", {"connectorId": 1, "duration": 0})
    assert composite["status"] == "Accepted"
    [period] = composite["chargingSchedule"]["chargingSchedulePeriod"]
    assert (period["startPeriod"], period["limit"]) == (0, EV_MAX_A)


# -- Remote Trigger (OCPP 1.6 §5.17) ------------------------------------------------------------------------


def frames_in(peer: RpcCsms, since: int) -> list[tuple[int, list[Any]]]:
    """The frames the station sent from event ``since`` on, decoded, with their event index."""
    return [
        (i, json.loads(e["raw"]))
        for i, e in enumerate(peer.events)
        if i >= since and e.get("event") == "frame" and e["direction"] == "in"
    ]


def triggered(event: Event) -> bool:
    """Not a MeterValues.req, or one with the samples taken for a trigger (not periodic ones)."""
    if not is_call("MeterValues")(event):
        return True
    return all(
        s.get("context") == "Trigger" for v in event["params"]["meterValue"] for s in v["sampledValue"]
    )


async def trigger(peer: RpcCsms, requested: str, connector_id: int | None = None) -> dict[str, Any]:
    """TriggerMessage; once Accepted, wait for the triggered CALL and check it came after the reply
    (§5.17: "the Charge Point SHALL first send the TriggerMessage.conf"). Returns the triggered CALL's
    payload, or the reply when it was not Accepted."""
    mark = len(peer.events)
    params: dict[str, Any] = {"requestedMessage": requested}
    if connector_id is not None:
        params["connectorId"] = connector_id
    answer = await peer.result(CP, "TriggerMessage", params)
    if answer != {"status": "Accepted"}:
        return answer
    call = await peer.wait_for(lambda e: is_call(requested)(e) and triggered(e), since=mark)
    sent = [e for e in peer.events[mark:] if e.get("event") == "frame" and e["direction"] == "out"]
    trigger_id = next(json.loads(e["raw"])[1] for e in sent if '"TriggerMessage"' in e["raw"])
    frames = frames_in(peer, mark)
    reply_at = next(i for i, f in frames if f[0] == 3 and f[1] == trigger_id)
    call_at = next(i for i, f in frames if f[0] == 2 and f[1] == call["messageId"])
    assert reply_at < call_at, f"{requested} went out before the TriggerMessage.conf"
    payload: dict[str, Any] = call["params"]
    return payload


async def test_remote_trigger_all_six_against_ocpp_rpc(
    rpc_csms: RpcCsms, start_station: StationFactory
) -> None:
    await rpc_csms.set_boot_status("Pending")
    station = await start_station(station_config(rpc_csms.url, cp_id=CP), wait_accepted=False)
    await station.wait_for(lambda s: s["registration"] == "Pending", timeout=10)
    assert "RemoteTrigger" in await supported_profiles(rpc_csms)

    # While Pending (§4.2.1) the CSMS may trigger a BootNotification; it goes out at once.
    await rpc_csms.set_boot_status("Accepted")
    boot = await trigger(rpc_csms, "BootNotification")
    assert boot["chargePointVendor"]
    await station.wait_for(lambda s: s["registration"] == "Accepted", timeout=10)
    # Accepted: a further BootNotification on request is Rejected (errata 3.35).
    assert await trigger(rpc_csms, "BootNotification") == {"status": "Rejected"}

    await trigger(rpc_csms, "Heartbeat")
    status = await trigger(rpc_csms, "StatusNotification", 1)
    assert (status["connectorId"], status["status"]) == (1, "Available")
    diagnostics = await trigger(rpc_csms, "DiagnosticsStatusNotification")
    assert diagnostics == {"status": "Idle"}
    firmware = await trigger(rpc_csms, "FirmwareStatusNotification")
    assert firmware == {"status": "Idle"}

    station.plug(1)
    station.present_id_tag("GOOD1")
    await station.wait_for(lambda s: s["connectors"][1]["powerW"] > 0)
    values = await trigger(rpc_csms, "MeterValues", 1)
    assert values["connectorId"] == 1
    assert values["transactionId"] == station.state()["connectors"][1]["transactionId"]
    samples = values["meterValue"][0]["sampledValue"]
    assert samples and {s["context"] for s in samples} == {"Trigger"}

    # No connectorId: every connector, the Charge Point itself (connector 0) included.
    mark = len(rpc_csms.events)
    await trigger(rpc_csms, "StatusNotification")
    await rpc_csms.wait_for(status_of(1, "Charging"), since=mark)
    await rpc_csms.wait_for(status_of(0, "Available"), since=mark)
    # A connector that does not exist.
    assert await trigger(rpc_csms, "StatusNotification", 9) == {"status": "Rejected"}
    assert await trigger(rpc_csms, "MeterValues", 9) == {"status": "Rejected"}
    assert_clean(rpc_csms)


# -- Firmware Management (OCPP 1.6 §5.19, §5.9, §4.4, §4.5) -------------------------------------------------


@dataclass
class FileServer:
    """A local HTTP server: firmware images to download, an endpoint that takes diagnostics uploads."""

    base: str = ""
    images: dict[str, bytes] = field(default_factory=dict)
    downloads: list[str] = field(default_factory=list)
    uploads: list[tuple[str | None, bytes]] = field(default_factory=list)  # (filename, content)


@pytest.fixture
async def files() -> AsyncIterator[FileServer]:
    state = FileServer()

    async def image(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        state.downloads.append(name)
        if name not in state.images:
            raise web.HTTPNotFound()
        return web.Response(body=state.images[name], content_type="application/octet-stream")

    async def upload(request: web.Request) -> web.Response:
        post = await request.post()
        part = post["file"]
        assert isinstance(part, web.FileField)
        state.uploads.append((part.filename, part.file.read()))
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/firmware/{name}", image)
    app.router.add_post("/diagnostics", upload)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    state.base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield state
    finally:
        await runner.cleanup()


def statuses(peer: RpcCsms, action: str, since: int = 0) -> list[str]:
    return [e["params"]["status"] for e in peer.calls(action, since)]


async def test_update_firmware_against_ocpp_rpc(
    rpc_csms: RpcCsms, start_station: StationFactory, files: FileServer, tmp_path: Path
) -> None:
    config = station_config(
        rpc_csms.url,
        cp_id=CP,
        identity={"chargePointVendor": "ACME", "chargePointModel": "Wallbox", "firmwareVersion": "1.0.0"},
        dataDir=str(tmp_path / "data"),
    )
    station = await start_station(config)
    assert "FirmwareManagement" in await supported_profiles(rpc_csms)
    [first_boot] = rpc_csms.calls("BootNotification")
    assert first_boot["params"]["firmwareVersion"] == "1.0.0"
    files.images["fw-2.0.0.bin"] = make_image("2.0.0", b"new firmware " * 1000)

    mark = len(rpc_csms.events)
    answer = await rpc_csms.result(
        CP,
        "UpdateFirmware",
        {"location": f"{files.base}/firmware/fw-2.0.0.bin", "retrieveDate": format_datetime(time.time())},
    )
    assert answer == {}
    installed = await rpc_csms.wait_for(
        lambda e: is_call("FirmwareStatusNotification")(e) and e["params"]["status"] == "Installed",
        since=mark,
        timeout=30,
    )
    assert files.downloads == ["fw-2.0.0.bin"]
    assert statuses(rpc_csms, "FirmwareStatusNotification", mark) == [
        "Downloading",
        "Downloaded",
        "Installing",
        "Installed",
    ]
    # The station rebooted into the new firmware before reporting Installed (erratum 3.47).
    boots = rpc_csms.calls("BootNotification", mark)
    assert [b["params"]["firmwareVersion"] for b in boots] == ["2.0.0"]
    installing = next(
        e for e in rpc_csms.calls("FirmwareStatusNotification", mark) if e["params"]["status"] == "Installing"
    )
    assert rpc_csms.index(installing) < rpc_csms.index(boots[0]) < rpc_csms.index(installed)
    await station.wait_for(lambda s: s["registration"] == "Accepted", timeout=10)
    assert await trigger(rpc_csms, "FirmwareStatusNotification") == {"status": "Idle"}
    assert_clean(rpc_csms)


async def test_get_diagnostics_against_ocpp_rpc(
    rpc_csms: RpcCsms, start_station: StationFactory, files: FileServer, tmp_path: Path
) -> None:
    await start_station(station_config(rpc_csms.url, cp_id=CP, dataDir=str(tmp_path / "data")))
    mark = len(rpc_csms.events)
    answer = await rpc_csms.result(CP, "GetDiagnostics", {"location": f"{files.base}/diagnostics"})
    file_name = answer["fileName"]
    assert file_name and "/" not in file_name
    await rpc_csms.wait_for(
        lambda e: is_call("DiagnosticsStatusNotification")(e) and e["params"]["status"] == "Uploaded",
        since=mark,
        timeout=30,
    )
    assert statuses(rpc_csms, "DiagnosticsStatusNotification", mark) == ["Uploading", "Uploaded"]
    [(uploaded_name, content)] = files.uploads
    assert uploaded_name == file_name
    assert content
    assert await trigger(rpc_csms, "DiagnosticsStatusNotification") == {"status": "Idle"}
    assert_clean(rpc_csms)


async def test_update_firmware_failures_against_ocpp_rpc(
    rpc_csms: RpcCsms, start_station: StationFactory, files: FileServer, tmp_path: Path
) -> None:
    """A missing image: 1 + retries downloads, then DownloadFailed. A corrupt image: InstallationFailed,
    no reboot, the old firmwareVersion stays."""
    identity = {"chargePointVendor": "ACME", "chargePointModel": "Wallbox", "firmwareVersion": "1.0.0"}
    config = station_config(rpc_csms.url, cp_id=CP, identity=identity, dataDir=str(tmp_path / "data"))
    station = await start_station(config)

    def firmware_status(status: str) -> Any:
        return lambda e: is_call("FirmwareStatusNotification")(e) and e["params"]["status"] == status

    mark = len(rpc_csms.events)
    params = {
        "location": f"{files.base}/firmware/missing.bin",
        "retrieveDate": format_datetime(time.time()),
        "retries": 1,
        "retryInterval": 1,
    }
    assert await rpc_csms.result(CP, "UpdateFirmware", params) == {}
    await rpc_csms.wait_for(firmware_status("DownloadFailed"), since=mark, timeout=20)
    assert files.downloads == ["missing.bin", "missing.bin"]
    assert statuses(rpc_csms, "FirmwareStatusNotification", mark) == ["Downloading", "DownloadFailed"]

    good = make_image("2.0.0", b"payload")
    files.images["corrupt.bin"] = good[:-10] + b"0" * 9 + b"\n"  # checksum mismatch
    mark = len(rpc_csms.events)
    params = {"location": f"{files.base}/firmware/corrupt.bin", "retrieveDate": format_datetime(time.time())}
    assert await rpc_csms.result(CP, "UpdateFirmware", params) == {}
    await rpc_csms.wait_for(firmware_status("InstallationFailed"), since=mark, timeout=20)
    assert statuses(rpc_csms, "FirmwareStatusNotification", mark) == [
        "Downloading",
        "Downloaded",
        "Installing",
        "InstallationFailed",
    ]
    assert rpc_csms.calls("BootNotification", mark) == []
    # Connectors are back in service.
    await station.wait_for(lambda s: s["connectors"][1]["status"] == "Available")
    assert_clean(rpc_csms)


async def test_update_firmware_waits_for_the_transaction_against_ocpp_rpc(
    rpc_csms: RpcCsms, start_station: StationFactory, files: FileServer, tmp_path: Path
) -> None:
    """Erratum 3.49: a running transaction finishes before the installation starts."""
    station = await start_station(station_config(rpc_csms.url, cp_id=CP, dataDir=str(tmp_path / "data")))
    station.plug(1)
    station.present_id_tag("GOOD1")
    await station.wait_for(lambda s: s["connectors"][1]["status"] == "Charging")
    files.images["fw.bin"] = make_image("3.1.4", b"x" * 100)
    mark = len(rpc_csms.events)
    params = {"location": f"{files.base}/firmware/fw.bin", "retrieveDate": format_datetime(time.time())}
    assert await rpc_csms.result(CP, "UpdateFirmware", params) == {}
    await rpc_csms.wait_for(
        lambda e: is_call("FirmwareStatusNotification")(e) and e["params"]["status"] == "Downloaded",
        since=mark,
    )
    assert station.state()["connectors"][1]["status"] == "Charging"
    assert statuses(rpc_csms, "FirmwareStatusNotification", mark) == ["Downloading", "Downloaded"]
    stop_mark = len(rpc_csms.events)
    station.present_id_tag("GOOD1")  # the driver ends the session
    stop = await rpc_csms.wait_for(is_call("StopTransaction"), since=stop_mark)
    installing = await rpc_csms.wait_for(
        lambda e: is_call("FirmwareStatusNotification")(e) and e["params"]["status"] == "Installing",
        since=stop_mark,
    )
    assert rpc_csms.index(stop) < rpc_csms.index(installing)
    boot = await rpc_csms.wait_for(is_call("BootNotification"), since=stop_mark, timeout=20)
    assert boot["params"]["firmwareVersion"] == "3.1.4"
    await rpc_csms.wait_for(
        lambda e: is_call("FirmwareStatusNotification")(e) and e["params"]["status"] == "Installed",
        since=rpc_csms.index(boot),
    )
    assert_clean(rpc_csms)


async def test_get_diagnostics_upload_failed_against_ocpp_rpc(
    rpc_csms: RpcCsms, start_station: StationFactory, files: FileServer, tmp_path: Path
) -> None:
    """An endpoint that does not take the file: 1 + retries attempts, then UploadFailed (erratum 3.31)."""
    await start_station(station_config(rpc_csms.url, cp_id=CP, dataDir=str(tmp_path / "data")))
    mark = len(rpc_csms.events)
    params = {
        "location": f"{files.base}/nowhere",
        "retries": 1,
        "retryInterval": 1,
        "startTime": format_datetime(time.time() - 3600),
        "stopTime": format_datetime(time.time()),
    }
    answer = await rpc_csms.result(CP, "GetDiagnostics", params)
    assert answer["fileName"]
    await rpc_csms.wait_for(
        lambda e: is_call("DiagnosticsStatusNotification")(e) and e["params"]["status"] == "UploadFailed",
        since=mark,
        timeout=20,
    )
    assert statuses(rpc_csms, "DiagnosticsStatusNotification", mark) == ["Uploading", "UploadFailed"]
    assert files.uploads == []
    assert_clean(rpc_csms)
