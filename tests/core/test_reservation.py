"""The Reservation profile (OCPP 1.6 §3.11, §5.1, §5.13, §9.3): the OCTT 1.6 charge-point test cases of
§2.20 (one test per test case id) and unit tests, driven through the engine with the scripted CSMS of
``tests/core/harness.py``.

OCTT prepares most cases with "SetConnectorUnavailable for all unused connectors"; the single-connector
default station has none. TC_048_4_CS and TC_050_4_CS need a charge point WITHOUT the profile: this one
has it, so they do not apply (the closest behaviour, Rejected for connector 0 when
ReserveConnectorZeroSupported is false, is tested below).
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from ocpp_station.core.clock import format_datetime
from ocpp_station.core.effects import DownloadFirmware, Persist
from ocpp_station.core.engine import Engine
from ocpp_station.core.events import (
    CablePlugged,
    CableUnplugged,
    Connected,
    FaultCleared,
    FaultRaised,
    FirmwareDownloaded,
    IdTagPresented,
)
from ocpp_station.core.model import Restored
from ocpp_station.core.settings import ConnectorSpec, EngineSettings
from ocpp_station.wire.messages import AuthorizationStatus, IdTagInfo
from tests.core.harness import Harness, authorized, charging

TWO_CONNECTORS = EngineSettings(connectors=(ConnectorSpec(), ConnectorSpec()))


# -- helpers ------------------------------------------------------------------------------------------


def reserve(
    h: Harness,
    connector_id: int = 1,
    id_tag: str = "TAG",
    reservation_id: int = 1,
    expires_in: float = 600.0,
    parent: str | None = None,
) -> str:
    payload: dict[str, Any] = {
        "connectorId": connector_id,
        "expiryDate": format_datetime(h.now + expires_in),
        "idTag": id_tag,
        "reservationId": reservation_id,
    }
    if parent is not None:
        payload["parentIdTag"] = parent
    status: str = h.csms_result("ReserveNow", payload)["status"]
    return status


def sent_since(h: Harness, mark: int, action: str) -> list[dict[str, Any]]:
    return [payload for name, payload in h.calls[mark:] if name == action]


def statuses_since(h: Harness, mark: int, connector_id: int) -> list[str]:
    return [
        p["status"] for p in sent_since(h, mark, "StatusNotification") if p["connectorId"] == connector_id
    ]


def stored_reservations(h: Harness) -> dict[str, Any]:
    """What the store holds of kind ``reservations`` after every Persist effect so far."""
    records: dict[str, Any] = {}
    for effect in h.effects_of(Persist):
        if effect.kind != "reservations":
            continue
        if effect.value is None:
            records.pop(effect.key, None)
        else:
            records[effect.key] = effect.value
    return records


def make_unavailable(h: Harness, connector_id: int) -> None:
    assert h.csms_result("ChangeAvailability", {"connectorId": connector_id, "type": "Inoperative"}) == {
        "status": "Accepted"
    }


# -- OCTT §2.20.1 Reservation of a Connector --------------------------------------------------------------


def test_TC_046_1_CS_reservation_of_a_connector_local_start() -> None:
    h = Harness()
    mark = h.mark()
    assert reserve(h, 1, "TAG", 7) == "Accepted"
    assert statuses_since(h, mark, 1) == ["Reserved"]
    # Another driver's card: nothing happens on the reserved connector.
    mark = h.mark()
    h.feed(IdTagPresented("TAG2"))
    assert sent_since(h, mark, "Authorize") == []
    assert "StartTransaction" not in h.actions(mark)
    assert statuses_since(h, mark, 1) == []
    # The reserved driver: Authorize.req (optional) with its idTag, then Preparing (G2).
    authorized(h, "TAG")
    mark = h.mark()
    h.feed(CablePlugged(1))
    starts = sent_since(h, mark, "StartTransaction")
    assert len(starts) == 1
    assert starts[0]["idTag"] == "TAG" and starts[0]["reservationId"] == 7
    assert statuses_since(h, mark, 1) == ["Charging"]
    # Starting the transaction ended the reservation.
    assert h.engine.reservations.active == {}
    assert stored_reservations(h) == {}


def test_TC_046_2_CS_reservation_of_a_connector_remote_start() -> None:
    h = Harness()
    mark = h.mark()
    assert reserve(h, 1, "TAG", 8) == "Accepted"
    assert statuses_since(h, mark, 1) == ["Reserved"]
    mark = h.mark()
    charging(h, 1, "TAG")
    starts = sent_since(h, mark, "StartTransaction")
    assert [(s["idTag"], s.get("reservationId")) for s in starts] == [("TAG", 8)]
    assert h.engine.reservations.active == {}


def test_TC_047_CS_reservation_of_a_connector_expire() -> None:
    h = Harness()
    mark = h.mark()
    assert reserve(h, 1, "TAG", 9, expires_in=120) == "Accepted"
    assert statuses_since(h, mark, 1) == ["Reserved"]
    h.advance(119)
    assert statuses_since(h, mark, 1) == ["Reserved"]
    h.advance(1)
    assert statuses_since(h, mark, 1) == ["Reserved", "Available"]  # G1
    assert h.engine.reservations.active == {}
    assert stored_reservations(h) == {}
    # Another valid idTag can charge now, without a reservationId.
    mark = h.mark()
    charging(h, 1, "TAG2")
    assert "reservationId" not in sent_since(h, mark, "StartTransaction")[0]


def test_TC_048_1_CS_reservation_of_a_connector_faulted() -> None:
    h = Harness()
    h.feed(FaultRaised(1, "GroundFailure"))
    assert reserve(h, 1) == "Faulted"
    assert h.engine.reservations.active == {}


def test_TC_048_2_CS_reservation_of_a_connector_occupied() -> None:
    h = Harness()
    charging(h, 1, "TAG2")
    assert reserve(h, 1) == "Occupied"
    assert h.engine.reservations.active == {}


def test_TC_048_3_CS_reservation_of_a_connector_unavailable() -> None:
    h = Harness()
    make_unavailable(h, 1)
    assert reserve(h, 1) == "Unavailable"
    assert h.engine.reservations.active == {}


# -- OCTT §2.20.2 Reservation of a Charge Point ---------------------------------------------------------


def test_TC_049_CS_reservation_of_a_charge_point_transaction() -> None:
    h = Harness(TWO_CONNECTORS)
    make_unavailable(h, 2)  # SetConnectorUnavailable for all unused connectors
    mark = h.mark()
    assert reserve(h, 0, "TAG", 11) == "Accepted"
    # The one connector left must stay for the reserved idTag: it shows Reserved.
    assert statuses_since(h, mark, 1) == ["Reserved"]
    mark = h.mark()
    charging(h, 1, "TAG")
    starts = sent_since(h, mark, "StartTransaction")
    assert [(s["idTag"], s.get("reservationId")) for s in starts] == [("TAG", 11)]
    assert h.engine.reservations.active == {}


def test_TC_050_1_CS_reservation_of_a_charge_point_faulted() -> None:
    h = Harness()
    h.feed(FaultRaised(0, "OtherError"))
    assert reserve(h, 0) == "Faulted"


def test_TC_050_2_CS_reservation_of_a_charge_point_occupied() -> None:
    h = Harness(TWO_CONNECTORS)
    charging(h, 1, "TAG")
    charging(h, 2, "TAG2")
    assert reserve(h, 0, "CHILD_A1") == "Occupied"


def test_TC_050_3_CS_reservation_of_a_charge_point_unavailable() -> None:
    h = Harness()
    make_unavailable(h, 0)
    assert reserve(h, 0) == "Unavailable"


# -- OCTT §2.20.3 Cancel Reservation, §2.20.4 parentIdTag -----------------------------------------------


def test_TC_051_CS_cancel_reservation() -> None:
    h = Harness()
    assert reserve(h, 1, "TAG", 21) == "Accepted"
    mark = h.mark()
    assert h.csms_result("CancelReservation", {"reservationId": 21}) == {"status": "Accepted"}
    assert statuses_since(h, mark, 1) == ["Available"]  # G1
    assert stored_reservations(h) == {}
    mark = h.mark()
    charging(h, 1, "TAG2")
    assert "reservationId" not in sent_since(h, mark, "StartTransaction")[0]


def test_TC_052_CS_cancel_reservation_rejected() -> None:
    h = Harness()
    assert reserve(h, 1, "TAG", 21) == "Accepted"
    mark = h.mark()
    assert h.csms_result("CancelReservation", {"reservationId": 22}) == {"status": "Rejected"}
    assert statuses_since(h, mark, 1) == []
    assert list(h.engine.reservations.active) == [21]


def test_TC_053_CS_use_a_reserved_connector_with_parent_id_tag() -> None:
    h = Harness()
    mark = h.mark()
    assert reserve(h, 1, "CHILD_A1", 31, parent="PARENT_A") == "Accepted"
    assert statuses_since(h, mark, 1) == ["Reserved"]
    # Another tag of the group: its parent is not known yet, Authorize.conf tells.
    authorized(h, "CHILD_A2")
    mark = h.mark()
    h.feed(CablePlugged(1))
    starts = sent_since(h, mark, "StartTransaction")
    assert [(s["idTag"], s.get("reservationId")) for s in starts] == [("CHILD_A2", 31)]
    assert statuses_since(h, mark, 1) == ["Charging"]


# -- unit tests ------------------------------------------------------------------------------------------


def test_profile_is_announced() -> None:
    h = Harness()
    conf = h.csms_result("GetConfiguration", {"key": ["SupportedFeatureProfiles"]})
    assert "Reservation" in conf["configurationKey"][0]["value"].split(",")


def test_connector_zero_rejected_when_not_supported() -> None:
    h = Harness(config={"ReserveConnectorZeroSupported": "false"})
    assert reserve(h, 0) == "Rejected"
    assert reserve(h, 1) == "Accepted"


def test_unknown_connector_and_past_expiry_are_rejected() -> None:
    h = Harness()
    assert reserve(h, 5) == "Rejected"
    assert reserve(h, 1, expires_in=-1) == "Rejected"
    assert h.engine.reservations.active == {}


@pytest.mark.parametrize("expires_in", [0.0, -60.0], ids=["now", "past"])
def test_connector_state_is_judged_before_the_expiry_date(expires_in: float) -> None:
    """§5.13 SHALLs: Faulted / Unavailable / Occupied whatever the expiryDate; only for a connector that
    could be reserved does an expiryDate already reached give Rejected."""
    faulted = Harness()
    faulted.feed(FaultRaised(1, "GroundFailure"))
    assert reserve(faulted, 1, expires_in=expires_in) == "Faulted"
    station_faulted = Harness()
    station_faulted.feed(FaultRaised(0, "OtherError"))
    assert reserve(station_faulted, 0, expires_in=expires_in) == "Faulted"
    unavailable = Harness()
    make_unavailable(unavailable, 1)
    assert reserve(unavailable, 1, expires_in=expires_in) == "Unavailable"
    occupied = Harness()
    charging(occupied, 1, "TAG2")
    assert reserve(occupied, 1, expires_in=expires_in) == "Occupied"
    free = Harness()
    assert reserve(free, 1, expires_in=expires_in) == "Rejected"
    for h in (faulted, station_faulted, unavailable, occupied, free):
        assert h.engine.reservations.active == {}
        assert stored_reservations(h) == {}


def test_connector_reserved_for_another_reservation_is_occupied() -> None:
    h = Harness()
    assert reserve(h, 1, "TAG", 1) == "Accepted"
    assert reserve(h, 1, "TAG2", 2) == "Occupied"
    assert reserve(h, 1, "TAG", 3) == "Occupied"  # the same idTag too (§5.13)


def test_plugged_connector_is_occupied() -> None:
    h = Harness()
    h.feed(CablePlugged(1))
    assert reserve(h, 1) == "Occupied"


def test_same_reservation_id_replaces_the_reservation() -> None:
    h = Harness()
    assert reserve(h, 1, "TAG", 5, expires_in=60) == "Accepted"
    mark = h.mark()
    assert reserve(h, 1, "TAG2", 5, expires_in=600) == "Accepted"
    assert statuses_since(h, mark, 1) == []  # still Reserved
    assert stored_reservations(h)["5"]["idTag"] == "TAG2"
    # The old expiry no longer applies.
    h.advance(120)
    assert statuses_since(h, mark, 1) == []
    # The old idTag no longer gets the connector; the new one does.
    h.feed(IdTagPresented("TAG"))
    assert "Authorize" not in h.actions(mark)
    h.feed(IdTagPresented("TAG2"))
    h.feed(CablePlugged(1))
    assert [s.get("reservationId") for s in sent_since(h, mark, "StartTransaction")] == [5]


def test_replacing_moves_the_reservation_to_another_connector() -> None:
    h = Harness(TWO_CONNECTORS)
    assert reserve(h, 1, "TAG", 5) == "Accepted"
    mark = h.mark()
    assert reserve(h, 2, "TAG", 5) == "Accepted"
    assert statuses_since(h, mark, 1) == ["Available"]
    assert statuses_since(h, mark, 2) == ["Reserved"]


def test_other_tag_with_cable_in_gets_nothing_started() -> None:
    h = Harness()
    assert reserve(h, 1, "TAG") == "Accepted"
    mark = h.mark()
    h.feed(CablePlugged(1))
    h.feed(IdTagPresented("TAG2"))
    assert "StartTransaction" not in h.actions(mark)
    assert "Authorize" not in h.actions(mark)
    # Reserved throughout: neither the plug nor another idTag is the reservation's identity (§4.9 G2).
    h.feed(CableUnplugged(1))
    assert statuses_since(h, mark, 1) == []
    assert h.engine.ctx.connectors[1].reported_status == "Reserved"


def test_cable_plugged_into_a_reserved_connector_keeps_it_reserved(caplog: pytest.LogCaptureFixture) -> None:
    """§4.9: "insert plug" starts usage from Available (A2) only; Reserved -> Preparing is G2, the
    reservation's identity presented. No ConnectionTimeOut runs meanwhile (B6 is a Preparing one)."""
    h = Harness(config={"ConnectionTimeOut": "30"})
    assert reserve(h, 1, "TAG", 3) == "Accepted"
    mark = h.mark()
    with caplog.at_level(logging.WARNING, logger="ocpp_station.engine"):
        h.feed(CablePlugged(1))
        h.advance(120)
        assert statuses_since(h, mark, 1) == []
        # TriggerMessage(StatusNotification) tells the same.
        trigger = {"requestedMessage": "StatusNotification", "connectorId": 1}
        assert h.csms_result("TriggerMessage", trigger) == {"status": "Accepted"}
        assert statuses_since(h, mark, 1) == ["Reserved"]
        # The reserved idTag comes: Preparing (G2), then the transaction with the reservationId (B3).
        mark = h.mark()
        h.feed(IdTagPresented("TAG"))
        assert statuses_since(h, mark, 1) == ["Preparing", "Charging"]
        starts = sent_since(h, mark, "StartTransaction")
        assert [(s["idTag"], s.get("reservationId")) for s in starts] == [("TAG", 3)]
        assert h.engine.reservations.active == {}
    assert not [r for r in caplog.records if "§4.9 transition" in r.getMessage()]


def test_reserved_connector_with_a_cable_in_takes_the_parent_group() -> None:
    """The same with a reservation for a group: Authorize.conf tells the parent; Reserved until then."""
    h = Harness()
    assert reserve(h, 1, "CHILD_A1", 4, parent="PARENT_A") == "Accepted"
    h.feed(CablePlugged(1))
    mark = h.mark()
    h.feed(IdTagPresented("CHILD_A2"))
    assert sent_since(h, mark, "Authorize") == [{"idTag": "CHILD_A2"}]
    assert statuses_since(h, mark, 1) == ["Preparing", "Charging"]
    starts = sent_since(h, mark, "StartTransaction")
    assert [(s["idTag"], s.get("reservationId")) for s in starts] == [("CHILD_A2", 4)]


def test_reservation_ending_with_a_cable_in_starts_the_connection_timeout() -> None:
    """When the reservation expires with a cable in and nothing started, the connector shows
    Preparing (usage initiated) and ConnectionTimeOut runs from then (B6), then Available at unplug."""
    h = Harness(config={"ConnectionTimeOut": "30"})
    assert reserve(h, 1, "TAG", 5, expires_in=100) == "Accepted"
    mark = h.mark()
    h.feed(CablePlugged(1))
    h.advance(100)
    assert statuses_since(h, mark, 1) == ["Preparing"]
    h.advance(29)
    assert statuses_since(h, mark, 1) == ["Preparing"]
    h.advance(1)
    assert statuses_since(h, mark, 1) == ["Preparing", "Finishing"]
    h.feed(CableUnplugged(1))
    assert statuses_since(h, mark, 1) == ["Preparing", "Finishing", "Available"]


def test_cancelled_reservation_with_a_cable_in_lets_another_tag_start() -> None:
    h = Harness()
    assert reserve(h, 1, "TAG", 6) == "Accepted"
    h.feed(CablePlugged(1))
    mark = h.mark()
    assert h.csms_result("CancelReservation", {"reservationId": 6}) == {"status": "Accepted"}
    assert statuses_since(h, mark, 1) == ["Preparing"]
    h.feed(IdTagPresented("TAG2"))
    starts = sent_since(h, mark, "StartTransaction")
    assert [(s["idTag"], s.get("reservationId")) for s in starts] == [("TAG2", None)]


def test_connector_zero_reservation_keeps_a_plugged_reserved_connector_reserved() -> None:
    h = Harness(TWO_CONNECTORS)
    make_unavailable(h, 2)
    assert reserve(h, 0, "TAG", 7) == "Accepted"
    mark = h.mark()
    h.feed(CablePlugged(1))
    h.feed(IdTagPresented("TAG2"))  # not the reserved idTag: the last free connector stays held
    assert "StartTransaction" not in h.actions(mark)
    assert statuses_since(h, mark, 1) == []
    h.feed(IdTagPresented("TAG"))
    assert statuses_since(h, mark, 1) == ["Preparing", "Charging"]
    assert [s.get("reservationId") for s in sent_since(h, mark, "StartTransaction")] == [7]


def test_other_tag_authorized_from_cache_still_refused() -> None:
    h = Harness(config={"LocalPreAuthorize": "true"})
    h.engine.transactions.auth.cache["TAG2"] = IdTagInfo(status=AuthorizationStatus.Accepted)
    assert reserve(h, 1, "TAG") == "Accepted"
    mark = h.mark()
    h.feed(IdTagPresented("TAG2"))
    h.feed(CablePlugged(1))
    assert "StartTransaction" not in h.actions(mark)


def test_remote_start_for_another_tag_on_reserved_connector_is_rejected() -> None:
    h = Harness()
    assert reserve(h, 1, "TAG") == "Accepted"
    mark = h.mark()
    assert h.csms_result("RemoteStartTransaction", {"connectorId": 1, "idTag": "TAG2"}) == {
        "status": "Rejected"
    }
    assert h.csms_result("RemoteStartTransaction", {"idTag": "TAG2"}) == {"status": "Rejected"}
    assert h.actions(mark) == []


def test_remote_start_without_connector_goes_to_the_reserved_one() -> None:
    h = Harness(TWO_CONNECTORS)
    assert reserve(h, 2, "TAG", 4) == "Accepted"
    h.feed(CablePlugged(2))
    mark = h.mark()
    assert h.csms_result("RemoteStartTransaction", {"idTag": "TAG"}) == {"status": "Accepted"}
    starts = sent_since(h, mark, "StartTransaction")
    assert [(s["connectorId"], s.get("reservationId")) for s in starts] == [(2, 4)]


@pytest.mark.parametrize("authorize_remote", ["true", "false"])
def test_remote_start_on_a_connector_reserved_for_a_parent_id_tag(authorize_remote: str) -> None:
    """§5.13: the parent of the incoming idTag is in neither the list nor the cache: Authorize.req
    (even with AuthorizeRemoteTxRequests false), and the start when its parentIdTag matches."""
    h = Harness(config={"AuthorizeRemoteTxRequests": authorize_remote})
    assert reserve(h, 1, "CHILD_A1", 41, parent="PARENT_A") == "Accepted"
    h.feed(CablePlugged(1))
    mark = h.mark()
    remote = {"connectorId": 1, "idTag": "CHILD_A2"}
    assert h.csms_result("RemoteStartTransaction", remote) == {"status": "Accepted"}
    assert sent_since(h, mark, "Authorize") == [{"idTag": "CHILD_A2"}]
    starts = sent_since(h, mark, "StartTransaction")
    assert [(s["connectorId"], s["idTag"], s.get("reservationId")) for s in starts] == [(1, "CHILD_A2", 41)]
    assert statuses_since(h, mark, 1) == ["Preparing", "Charging"]  # G2, B3
    assert h.engine.reservations.active == {}


def test_remote_start_for_a_parent_reservation_card_first_and_without_connector() -> None:
    h = Harness(TWO_CONNECTORS, config={"AuthorizeRemoteTxRequests": "false"})
    make_unavailable(h, 1)
    assert reserve(h, 2, "CHILD_A1", 42, parent="PARENT_A") == "Accepted"
    mark = h.mark()
    assert h.csms_result("RemoteStartTransaction", {"idTag": "CHILD_A2"}) == {"status": "Accepted"}
    assert sent_since(h, mark, "Authorize") == [{"idTag": "CHILD_A2"}]
    assert statuses_since(h, mark, 2) == ["Preparing"]  # authorized, waiting for the cable
    h.feed(CablePlugged(2))
    starts = sent_since(h, mark, "StartTransaction")
    assert [(s["connectorId"], s.get("reservationId")) for s in starts] == [(2, 42)]


def test_remote_start_of_another_group_on_a_parent_reservation_starts_nothing() -> None:
    """Unknown here, so Accepted and asked; Authorize.conf names no matching parent: no transaction,
    the reservation and Reserved stay. Known here without that parent: Rejected at once."""
    h = Harness()
    assert reserve(h, 1, "CHILD_A1", 43, parent="PARENT_A") == "Accepted"
    h.feed(CablePlugged(1))
    mark = h.mark()
    assert h.csms_result("RemoteStartTransaction", {"connectorId": 1, "idTag": "TAG2"}) == {
        "status": "Accepted"
    }
    assert sent_since(h, mark, "Authorize") == [{"idTag": "TAG2"}]
    assert "StartTransaction" not in h.actions(mark)
    assert statuses_since(h, mark, 1) == []
    assert list(h.engine.reservations.active) == [43]
    # TAG2 is cached now (no parent): refused without asking.
    mark = h.mark()
    assert h.csms_result("RemoteStartTransaction", {"connectorId": 1, "idTag": "TAG2"}) == {
        "status": "Rejected"
    }
    assert h.actions(mark) == []


def test_other_connectors_stay_usable_next_to_a_reserved_one() -> None:
    h = Harness(TWO_CONNECTORS)
    assert reserve(h, 1, "TAG") == "Accepted"
    mark = h.mark()
    h.feed(IdTagPresented("TAG2"))
    h.feed(CablePlugged(2))
    starts = sent_since(h, mark, "StartTransaction")
    assert [(s["connectorId"], s["idTag"], s.get("reservationId")) for s in starts] == [(2, "TAG2", None)]
    assert list(h.engine.reservations.active) == [1]


def test_connector_zero_keeps_one_connector_free() -> None:
    h = Harness(TWO_CONNECTORS)
    mark = h.mark()
    assert reserve(h, 0, "TAG", 3) == "Accepted"
    # Two free connectors for one reservation: both stay Available and usable.
    assert statuses_since(h, mark, 1) == [] and statuses_since(h, mark, 2) == []
    h.feed(CablePlugged(1))
    h.feed(IdTagPresented("TAG2"))
    assert [s.get("reservationId") for s in sent_since(h, mark, "StartTransaction")] == [None]
    # Now the last free connector is held for the reservation.
    assert statuses_since(h, mark, 2) == ["Reserved"]
    mark = h.mark()
    h.feed(CablePlugged(2))
    h.feed(IdTagPresented("CHILD_A1"))
    assert "StartTransaction" not in h.actions(mark)
    h.feed(CableUnplugged(2))
    mark = h.mark()
    h.feed(IdTagPresented("TAG"))
    h.feed(CablePlugged(2))
    starts = sent_since(h, mark, "StartTransaction")
    assert [(s["connectorId"], s.get("reservationId")) for s in starts] == [(2, 3)]


def test_second_connector_zero_reservation_needs_a_second_free_connector() -> None:
    h = Harness(TWO_CONNECTORS)
    assert reserve(h, 0, "TAG", 1) == "Accepted"
    assert reserve(h, 0, "TAG2", 2) == "Accepted"
    assert reserve(h, 0, "CHILD_A1", 3) == "Occupied"
    assert reserve(h, 1, "CHILD_A1", 4) == "Occupied"


def test_fault_ends_the_reservation() -> None:
    h = Harness()
    assert reserve(h, 1, "TAG", 6) == "Accepted"
    mark = h.mark()
    h.feed(FaultRaised(1, "GroundFailure"))
    h.feed(FaultCleared(1))
    assert statuses_since(h, mark, 1) == ["Faulted", "Available"]
    assert h.engine.reservations.active == {}
    assert stored_reservations(h) == {}


def test_unavailable_ends_the_reservation() -> None:
    h = Harness()
    assert reserve(h, 1, "TAG", 6) == "Accepted"
    mark = h.mark()
    make_unavailable(h, 1)
    assert statuses_since(h, mark, 1) == ["Unavailable"]
    assert h.engine.reservations.active == {}


def test_card_first_connection_timeout_goes_back_to_reserved() -> None:
    h = Harness(config={"ConnectionTimeOut": "30"})
    assert reserve(h, 1, "TAG", 6) == "Accepted"
    mark = h.mark()
    h.feed(IdTagPresented("TAG"))
    h.advance(31)
    assert statuses_since(h, mark, 1) == ["Preparing", "Reserved"]


def _restart(h: Harness, settings: EngineSettings | None = None) -> Harness:
    """A new engine built from the reservation records the store kept."""
    after = Harness(settings, now=h.now, connect=False)
    after.engine = Engine(after.settings, now=h.now, restored=Restored(reservations=stored_reservations(h)))
    after.feed(Connected())
    return after


def test_reservations_survive_a_restart_with_their_expiry() -> None:
    h = Harness()
    assert reserve(h, 1, "TAG", 12, expires_in=300) == "Accepted"
    record = stored_reservations(h)["12"]
    assert record["idTag"] == "TAG" and record["connectorId"] == 1
    h.advance(100)
    after = _restart(h)
    assert after.statuses(1) == ["Reserved"]
    assert list(after.engine.reservations.active) == [12]
    after.advance(199)
    assert after.statuses(1) == ["Reserved"]
    after.advance(1)
    assert after.statuses(1) == ["Reserved", "Available"]
    assert [e for e in after.effects_of(Persist) if e.kind == "reservations"] == [
        Persist("reservations", "12", None)
    ]


def test_restored_reservation_still_guards_the_connector() -> None:
    h = Harness()
    assert reserve(h, 1, "TAG", 12) == "Accepted"
    after = _restart(h)
    mark = after.mark()
    after.feed(IdTagPresented("TAG2"))
    after.feed(CablePlugged(1))
    assert "StartTransaction" not in after.actions(mark)
    after.feed(IdTagPresented("TAG"))
    assert [s.get("reservationId") for s in sent_since(after, mark, "StartTransaction")] == [12]


def test_reservation_expired_while_down_ends_at_once() -> None:
    h = Harness()
    assert reserve(h, 1, "TAG", 12, expires_in=60) == "Accepted"
    h.advance(100)  # down meanwhile: the store still has the record of before the expiry
    records = {
        "12": {
            "reservationId": 12,
            "connectorId": 1,
            "idTag": "TAG",
            "parentIdTag": None,
            "expiryDate": format_datetime(h.now - 40),
        }
    }
    after = Harness(now=h.now, connect=False)
    after.engine = Engine(after.settings, now=h.now, restored=Restored(reservations=records))
    after.feed(Connected())
    assert after.statuses(1) == ["Available"]
    after.advance(0)
    assert Persist("reservations", "12", None) in after.effects_of(Persist)
    assert after.engine.reservations.active == {}


def test_replacing_while_its_driver_is_at_the_connector() -> None:
    h = Harness()
    assert reserve(h, 1, "TAG", 5) == "Accepted"
    h.feed(CablePlugged(1))
    assert reserve(h, 1, "TAG", 5, expires_in=900) == "Accepted"
    assert reserve(h, 1, "TAG", 6) == "Occupied"
    mark = h.mark()
    h.feed(IdTagPresented("TAG"))
    assert [s.get("reservationId") for s in sent_since(h, mark, "StartTransaction")] == [5]


def test_expiry_follows_a_later_csms_clock_jump() -> None:
    """expiryDate is CSMS time: a Heartbeat that moves the clock 500 s ahead brings the expiry closer."""
    h = Harness()
    assert reserve(h, 1, "TAG", 3, expires_in=1000) == "Accepted"
    mark = h.mark()
    h.responders["Heartbeat"] = lambda p: {"currentTime": format_datetime(h.now + 500)}
    h.advance(300)  # the heartbeat: expiry is now 200 s away on the local clock
    h.advance(199)
    assert statuses_since(h, mark, 1) == []
    h.advance(1)
    assert statuses_since(h, mark, 1) == ["Available"]


def test_connector_held_for_a_firmware_installation_is_unavailable_for_reservations() -> None:
    h = Harness(EngineSettings(connectors=(ConnectorSpec(), ConnectorSpec())))
    assert reserve(h, 2, "TAG2", 8) == "Accepted"
    charging(h, 1)
    download = h.csms_result(
        "UpdateFirmware", {"location": "http://127.0.0.1/fw.img", "retrieveDate": format_datetime(h.now)}
    )
    assert download == {}
    job = h.effects_of(DownloadFirmware)[-1].job
    h.feed(FirmwareDownloaded(job, ok=True))  # waits for connector 1's transaction; connector 2 held
    assert h.statuses(2)[-1] == "Unavailable"
    assert h.engine.reservations.active == {}  # ended, as for an Unavailable connector (§5.13)
    assert reserve(h, 2, "TAG2", 9) == "Unavailable"
