"""The cable kept locked after a DeAuthorized stop (OCPP 1.6 §3.5.4 with erratum 3.5; OCTT TC_037_3 is in
test_octt_core.py): released by the idTag that started the transaction or one of its group
(parentIdTag), by nothing else that a driver presents; no new transaction meanwhile; kept across a
restart."""

from __future__ import annotations

from typing import Any

import orjson

from ocpp_station.core.effects import LockConnector, UnlockConnector
from ocpp_station.core.events import (
    Booted,
    CablePlugged,
    CableRemoved,
    CableUnplugged,
    Connected,
    FrameReceived,
    IdTagPresented,
    UnlockCompleted,
)
from ocpp_station.core.settings import ConnectorSpec, EngineSettings
from ocpp_station.wire.messages import AuthorizationStatus, IdTagInfo
from tests.core.harness import Harness, Unanswered


def deauthorize(h: Harness, id_tag: str = "CHILD_A1", parent: str | None = "PARENT_A") -> None:
    """Plug in, present ``id_tag`` (Authorize.conf Accepted), then StartTransaction.conf says Invalid
    (with ``parent``): the transaction is stopped with reason DeAuthorized."""

    def start(payload: dict[str, Any]) -> dict[str, Any]:
        h.next_tx_id += 1
        info: dict[str, Any] = {"status": "Invalid"}
        if parent is not None:
            info["parentIdTag"] = parent
        return {"transactionId": h.next_tx_id, "idTagInfo": info}

    h.responders["StartTransaction"] = start
    h.feed(CablePlugged(1))
    h.feed(IdTagPresented(id_tag))
    (stop,) = h.sent("StopTransaction")
    assert stop["reason"] == "DeAuthorized"
    assert h.locked[1] is True
    assert h.engine.ctx.connectors[1].reported_status == "Finishing"
    h.responders["StartTransaction"] = h._start


def unlocked_since(h: Harness, effects: int) -> bool:
    return LockConnector(1, False) in h.effects[effects:]


def test_a_tag_of_the_same_group_releases_the_cable_after_authorize() -> None:
    h = Harness()
    deauthorize(h)
    mark, effects = h.mark(), len(h.effects)
    h.feed(IdTagPresented("CHILD_A2"))  # its parent unknown here: Authorize.conf tells
    assert h.actions(mark) == ["Authorize"]
    assert unlocked_since(h, effects)
    h.feed(CableUnplugged(1))
    assert h.statuses(1)[-1] == "Available"
    assert h.records.get("transactions", {}) == {}


def test_a_tag_of_the_same_group_known_locally_releases_without_asking() -> None:
    h = Harness()
    deauthorize(h)
    h.engine.transactions.auth.cache["CHILD_A2"] = IdTagInfo(
        status=AuthorizationStatus.Accepted, parent_id_tag="PARENT_A"
    )
    mark, effects = h.mark(), len(h.effects)
    h.feed(IdTagPresented("CHILD_A2", 1))
    assert h.actions(mark) == []
    assert unlocked_since(h, effects)


def test_another_tag_neither_releases_nor_starts() -> None:
    h = Harness()
    deauthorize(h)
    mark, effects = h.mark(), len(h.effects)
    h.feed(IdTagPresented("TAG2"))  # valid, no parent: may be of the group, so asked; it is not
    assert h.actions(mark) == ["Authorize"]
    assert not unlocked_since(h, effects)
    assert h.engine.ctx.connectors[1].reported_status == "Finishing"
    assert h.engine.ctx.connectors[1].transaction is None


def test_without_a_parent_other_tags_are_not_even_asked() -> None:
    h = Harness()
    deauthorize(h, "TAG", parent=None)
    mark, effects = h.mark(), len(h.effects)
    h.feed(IdTagPresented("TAG2"))
    assert h.actions(mark) == []
    assert not unlocked_since(h, effects)
    h.feed(IdTagPresented("TAG"))
    assert h.actions(mark) == []
    assert unlocked_since(h, effects)


def test_the_ev_plugged_back_in_starts_no_new_session() -> None:
    h = Harness(config={"ConnectionTimeOut": "30"})
    deauthorize(h)
    h.feed(CableUnplugged(1))  # EV side out; the socket keeps the locked cable
    assert h.engine.ctx.connectors[1].cable_in_socket
    mark = h.mark()
    h.feed(CablePlugged(1))
    h.advance(60)
    assert h.statuses(1)[-1] == "Finishing"
    assert h.csms_result("RemoteStartTransaction", {"connectorId": 1, "idTag": "TAG"}) == {
        "status": "Rejected"
    }
    assert "StartTransaction" not in h.actions(mark)
    effects = len(h.effects)
    h.feed(IdTagPresented("CHILD_A1"))
    assert unlocked_since(h, effects)
    h.feed(CableUnplugged(1))  # the driver leaves with the cable
    assert h.statuses(1)[-1] == "Available"


def test_a_held_connector_cannot_be_reserved() -> None:
    h = Harness()
    deauthorize(h)
    reserve = {"connectorId": 1, "expiryDate": "2099-01-01T00:00:00Z", "idTag": "TAG", "reservationId": 1}
    assert h.csms_result("ReserveNow", reserve) == {"status": "Occupied"}


def test_unlock_connector_from_the_csms_ends_the_hold() -> None:
    h = Harness()
    deauthorize(h)
    h.feed(CableUnplugged(1))
    effects = len(h.effects)
    h.feed(FrameReceived(orjson.dumps([2, "unlock-1", "UnlockConnector", {"connectorId": 1}])))
    assert UnlockConnector(1) in h.effects[effects:]
    h.feed(UnlockCompleted(1, True))  # the harness's driver takes the cable: CableRemoved
    assert h.replies[-1] == [3, "unlock-1", {"status": "Unlocked"}]
    assert h.statuses(1)[-1] == "Available"
    assert h.engine.transactions.usage.held == {}
    assert h.records.get("transactions", {}) == {}


def test_a_fixed_cable_has_nothing_to_hold() -> None:
    h = Harness(EngineSettings(connectors=(ConnectorSpec(kind="cable"),)))
    h.responders["StartTransaction"] = lambda p: {"transactionId": 1, "idTagInfo": {"status": "Invalid"}}
    h.feed(CablePlugged(1))
    h.feed(IdTagPresented("TAG"))
    assert h.sent("StopTransaction")[0]["reason"] == "DeAuthorized"
    assert h.engine.transactions.usage.held == {}
    assert h.records.get("transactions", {}) == {}
    h.feed(CableUnplugged(1))
    assert h.statuses(1)[-1] == "Available"


# -- across a restart ------------------------------------------------------------------------------------


def restart(h: Harness, *, plugged: tuple[int, ...]) -> Harness:
    """A power cycle: a new engine from the stored records, the hardware report, Booted; offline."""
    after = h.reboot(plugged=plugged, connect=False, restore=True)
    after.locked = dict(h.locked)  # the lock keeps its position while the power is off
    after.feed(Booted())
    return after


def test_the_hold_survives_a_restart_after_the_stop_was_answered() -> None:
    h = Harness()
    deauthorize(h)
    (record,) = h.records["transactions"].values()
    assert record["cableHeld"] is True and record["stopping"] is True
    after = restart(h, plugged=(1,))
    after.feed(Connected())
    assert after.statuses(1) == ["Finishing"]
    assert "StopTransaction" not in after.actions()  # answered before the restart
    mark, effects = after.mark(), len(after.effects)
    after.feed(IdTagPresented("TAG"))
    assert not unlocked_since(after, effects) and "StartTransaction" not in after.actions(mark)
    after.feed(IdTagPresented("CHILD_A1"))
    assert unlocked_since(after, effects)
    assert after.records.get("transactions", {}) == {}
    after.feed(CableUnplugged(1))
    assert after.statuses(1)[-1] == "Available"


def test_the_hold_survives_a_restart_with_its_stop_still_queued() -> None:
    h = Harness()
    h.responders["StopTransaction"] = lambda p: Unanswered()
    deauthorize(h)
    after = restart(h, plugged=())  # the EV left while the station was off; the cable is locked in
    effects = len(after.effects)
    after.feed(IdTagPresented("CHILD_A1"))  # offline: the same idTag needs no one
    assert unlocked_since(after, effects)
    (record,) = after.records["transactions"].values()
    assert record["cableHeld"] is False  # released; kept until its StopTransaction is answered
    after.feed(CableRemoved(1))
    after.feed(Connected())
    stops = after.sent("StopTransaction")
    assert len(stops) == 1 and stops[0]["reason"] == "DeAuthorized"
    assert after.records.get("transactions", {}) == {}
    assert after.statuses(1)[-1] == "Available"


def test_a_restart_with_the_ev_gone_still_shows_the_held_cable() -> None:
    h = Harness()
    deauthorize(h)
    after = restart(h, plugged=())
    after.feed(Connected())
    assert after.statuses(1) == ["Finishing"]  # the locked socket still holds the cable
    effects = len(after.effects)
    after.feed(IdTagPresented("CHILD_A1"))
    assert unlocked_since(after, effects)
    after.feed(CableRemoved(1))
    assert after.statuses(1)[-1] == "Available"
    assert after.records.get("transactions", {}) == {}
