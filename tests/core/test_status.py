"""The OCPP 1.6 §4.9 status transition table, walked by scenario.

Each scenario drives the engine online (plug/unplug, card first, faults, availability, EV suspending,
invalid idTags, remote commands) and every pair of consecutive statuses reported for a connector must
be a transition of ``features/status.TRANSITIONS`` (connector 0: Available, Unavailable, Faulted only).
Offline scenarios are left out on purpose: after a reconnect §4.9 asks for the current status only, so
the reported sequence may skip states.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from itertools import pairwise
from typing import Any

import pytest

from ocpp_station.core.events import (
    CablePlugged,
    CableUnplugged,
    EVReadyChanged,
    FaultCleared,
    FaultRaised,
    FrameReceived,
    IdTagPresented,
    UnlockCompleted,
)
from ocpp_station.core.features.status import STATUS_RULES, TRANSITIONS, derive_status
from ocpp_station.core.settings import ConnectorSpec, EngineSettings
from tests.core.harness import Harness, charging

SOCKETS = EngineSettings(connectors=(ConnectorSpec(), ConnectorSpec()))
CABLES = EngineSettings(connectors=(ConnectorSpec(kind="cable"), ConnectorSpec(kind="cable")))
STATION_STATUSES = {"Available", "Unavailable", "Faulted"}
#: Not in the §4.9 table but required elsewhere: ChangeAvailability(Inoperative) on a connector that is
#: Preparing (cable in or idTag waiting, no transaction) is Accepted and takes effect at once (§5.2
#: schedules only for a running transaction), and the new status SHALL be reported (errata 3.19). The
#: table has no B8; rather than report an invented Available or Finishing in between, the engine
#: reports Preparing -> Unavailable. See test_inoperative_while_preparing_is_the_gap_of_the_table.
SPEC_GAPS = {("Preparing", "Unavailable")}

Scenario = Callable[[Harness], None]


def reported(h: Harness, connector_id: int) -> list[tuple[str, str]]:
    return [
        (p["status"], p["errorCode"])
        for p in h.sent("StatusNotification")
        if p["connectorId"] == connector_id
    ]


def check_transitions(h: Harness) -> None:
    for connector_id in range(len(h.engine.ctx.connectors)):
        sequence = reported(h, connector_id)
        assert sequence, f"connector {connector_id} never reported"
        for (before, before_error), (after, after_error) in pairwise(sequence):
            if connector_id == 0:
                assert {before, after} <= STATION_STATUSES, sequence
            else:
                assert (
                    after in TRANSITIONS[before]
                    or (before == after and before_error != after_error)
                    or (before, after) in SPEC_GAPS
                ), f"connector {connector_id}: {before} -> {after} is not in the §4.9 table: {sequence}"
            assert (before, before_error) != (after, after_error), f"repeated {before}: {sequence}"
        # What was reported last is what the connector is.
        connector = h.engine.ctx.connectors[connector_id]
        assert sequence[-1][0] == derive_status(connector), (connector_id, sequence)


# -- scenarios ---------------------------------------------------------------------------------------


def plug_unplug(h: Harness) -> None:
    for _ in range(2):
        h.feed(CablePlugged(1))
        h.feed(CableUnplugged(1))
    h.feed(CablePlugged(2))
    h.feed(CablePlugged(1))
    h.feed(CableUnplugged(2))


def plug_first_card_stop_unplug(h: Harness) -> None:
    h.feed(CablePlugged(1))
    h.feed(IdTagPresented("TAG"))
    h.advance(60)
    h.feed(IdTagPresented("TAG"))
    h.feed(CableUnplugged(1))


def plug_first_invalid_card(h: Harness) -> None:
    h.feed(CablePlugged(1))
    h.feed(IdTagPresented("BAD"))
    h.feed(CableUnplugged(1))


def card_first_then_plug(h: Harness) -> None:
    h.feed(IdTagPresented("TAG"))
    h.feed(CablePlugged(1))
    h.feed(IdTagPresented("TAG"))
    h.feed(CableUnplugged(1))


def card_first_timeout(h: Harness) -> None:
    h.feed(IdTagPresented("TAG"))
    h.advance(61)
    h.feed(CablePlugged(1))
    h.feed(CableUnplugged(1))


def card_first_on_two_connectors(h: Harness) -> None:
    h.feed(IdTagPresented("TAG"))  # one reader: waits on the first free connector
    h.feed(CablePlugged(2))  # the cable goes into the other one
    h.feed(IdTagPresented("TAG2"))
    h.feed(CablePlugged(1))
    h.feed(IdTagPresented("TAG"))
    h.feed(IdTagPresented("TAG2"))
    h.feed(CableUnplugged(1))
    h.feed(CableUnplugged(2))


def remote_start_first(h: Harness) -> None:
    h.csms_result("RemoteStartTransaction", {"connectorId": 1, "idTag": "TAG"})
    h.feed(CablePlugged(1))
    h.csms_result("RemoteStopTransaction", {"transactionId": h.next_tx_id})
    h.feed(CableUnplugged(1))
    h.csms_result("RemoteStartTransaction", {"connectorId": 2, "idTag": "TAG"})
    h.advance(61)


def ev_suspends(h: Harness) -> None:
    charging(h)
    h.feed(EVReadyChanged(1, False))
    h.feed(EVReadyChanged(1, True))
    h.feed(EVReadyChanged(1, False))
    h.feed(IdTagPresented("TAG"))
    h.feed(EVReadyChanged(1, True))
    h.feed(CableUnplugged(1))


def ev_side_unplug_stops(h: Harness) -> None:
    charging(h)
    h.feed(CableUnplugged(1))
    charging(h)
    h.feed(EVReadyChanged(1, False))
    h.feed(CableUnplugged(1))


def ev_side_unplug_continues(h: Harness) -> None:
    h.engine.config.set("StopTransactionOnEVSideDisconnect", "false")
    charging(h)
    h.feed(CableUnplugged(1))
    h.feed(CablePlugged(1))
    h.feed(CableUnplugged(1))
    h.csms_result("RemoteStopTransaction", {"transactionId": h.next_tx_id})
    h.feed(CableUnplugged(1))


def invalid_id_suspends(h: Harness) -> None:
    h.engine.config.set("StopTransactionOnInvalidId", "false")
    h.responders["StartTransaction"] = lambda p: {"transactionId": 7, "idTagInfo": {"status": "Blocked"}}
    h.feed(CablePlugged(1))
    h.feed(IdTagPresented("TAG"))  # Authorize Accepted, StartTransaction Blocked: SuspendedEVSE
    h.feed(EVReadyChanged(1, False))  # SuspendedEVSE has precedence
    h.feed(EVReadyChanged(1, True))
    h.feed(IdTagPresented("TAG"))
    h.feed(CableUnplugged(1))


def invalid_id_stops(h: Harness) -> None:
    h.responders["StartTransaction"] = lambda p: {"transactionId": 7, "idTagInfo": {"status": "Invalid"}}
    h.feed(CablePlugged(1))
    h.feed(IdTagPresented("TAG"))
    h.feed(CableUnplugged(1))


def faults_everywhere(h: Harness) -> None:
    h.feed(FaultRaised(1, "GroundFailure"))  # Available -> Faulted
    h.feed(FaultCleared(1))
    h.feed(CablePlugged(1))
    h.feed(FaultRaised(1, "OverCurrentFailure"))  # Preparing -> Faulted
    h.feed(FaultRaised(1, "HighTemperature"))  # another error code
    h.feed(FaultCleared(1))
    h.feed(CableUnplugged(1))
    charging(h)
    h.feed(FaultRaised(1, "PowerMeterFailure"))  # Charging -> Faulted, the transaction stops
    h.feed(FaultCleared(1))  # -> Finishing (cable still in)
    h.feed(CableUnplugged(1))
    charging(h)
    h.feed(EVReadyChanged(1, False))
    h.feed(FaultRaised(1, "EVCommunicationError"))  # SuspendedEV -> Faulted
    h.feed(FaultCleared(1))
    h.feed(EVReadyChanged(1, True))
    h.feed(CableUnplugged(1))


def station_fault(h: Harness) -> None:
    charging(h, connector_id=2)
    h.feed(FaultRaised(0, "OtherError", info="mains"))
    h.feed(FaultCleared(0))
    h.feed(CableUnplugged(2))


def availability_idle_and_plugged(h: Harness) -> None:
    h.csms_result("ChangeAvailability", {"connectorId": 1, "type": "Inoperative"})
    h.feed(CablePlugged(1))
    h.csms_result("ChangeAvailability", {"connectorId": 1, "type": "Operative"})  # Unavailable -> Preparing
    h.csms_result("ChangeAvailability", {"connectorId": 1, "type": "Inoperative"})
    h.feed(CableUnplugged(1))
    h.feed(FaultRaised(1, "GroundFailure"))
    h.feed(FaultCleared(1))
    h.csms_result("ChangeAvailability", {"connectorId": 0, "type": "Inoperative"})
    h.csms_result("ChangeAvailability", {"connectorId": 0, "type": "Operative"})


def availability_scheduled_while_charging(h: Harness) -> None:
    charging(h)
    assert h.csms_result("ChangeAvailability", {"connectorId": 1, "type": "Inoperative"}) == {
        "status": "Scheduled"
    }
    h.feed(IdTagPresented("TAG"))  # -> Unavailable once the transaction ended
    h.csms_result("ChangeAvailability", {"connectorId": 1, "type": "Operative"})
    h.feed(CableUnplugged(1))
    charging(h, connector_id=2)
    assert h.csms_result("ChangeAvailability", {"connectorId": 0, "type": "Inoperative"}) == {
        "status": "Scheduled"
    }
    h.csms_result("RemoteStopTransaction", {"transactionId": h.next_tx_id})
    h.feed(CableUnplugged(2))
    h.csms_result("ChangeAvailability", {"connectorId": 0, "type": "Operative"})


def unlock_during_transaction(h: Harness) -> None:
    charging(h)
    h.feed(FrameReceived(b'[2,"u1","UnlockConnector",{"connectorId":1}]'))
    h.feed(UnlockCompleted(1, True))
    h.feed(CableUnplugged(1))


def minimum_status_duration(h: Harness) -> None:
    h.engine.config.set("MinimumStatusDuration", "5")
    h.feed(CablePlugged(1))
    h.feed(CableUnplugged(1))  # back within 5 s: nothing reported
    h.advance(10)
    h.feed(CablePlugged(1))
    h.advance(10)
    h.feed(IdTagPresented("TAG"))
    h.advance(10)
    h.feed(EVReadyChanged(1, False))
    h.advance(2)
    h.feed(EVReadyChanged(1, True))
    h.advance(10)
    h.feed(FaultRaised(1, "GroundFailure"))  # errors are reported at once
    h.feed(FaultCleared(1))
    h.advance(10)
    h.feed(CableUnplugged(1))
    h.advance(10)


SCENARIOS: dict[str, Scenario] = {
    f.__name__: f
    for f in (
        plug_unplug,
        plug_first_card_stop_unplug,
        plug_first_invalid_card,
        card_first_then_plug,
        card_first_timeout,
        card_first_on_two_connectors,
        remote_start_first,
        ev_suspends,
        ev_side_unplug_stops,
        ev_side_unplug_continues,
        invalid_id_suspends,
        invalid_id_stops,
        faults_everywhere,
        station_fault,
        availability_idle_and_plugged,
        availability_scheduled_while_charging,
        unlock_during_transaction,
        minimum_status_duration,
    )
}


@pytest.mark.parametrize("settings", [SOCKETS, CABLES], ids=["socket", "fixed-cable"])
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_reported_statuses_follow_the_transition_table(
    name: str, settings: EngineSettings, caplog: pytest.LogCaptureFixture
) -> None:
    h = Harness(settings)
    with caplog.at_level(logging.WARNING, logger="ocpp_station.engine"):
        SCENARIOS[name](h)
    h.advance(1)
    check_transitions(h)
    warned = [r.args for r in caplog.records if "§4.9 transition" in r.getMessage()]
    assert all(isinstance(args, tuple) and tuple(args[1:]) in SPEC_GAPS for args in warned), warned


def test_inoperative_while_preparing_is_the_gap_of_the_table() -> None:
    h = Harness()
    h.feed(CablePlugged(1))
    assert h.csms_result("ChangeAvailability", {"connectorId": 1, "type": "Inoperative"}) == {
        "status": "Accepted"
    }
    assert h.statuses(1)[-2:] == ["Preparing", "Unavailable"]
    assert "Unavailable" not in TRANSITIONS["Preparing"]
    # No transaction can start while it is Unavailable; back to Operative it is Preparing again (H2).
    h.feed(IdTagPresented("TAG"))
    assert "StartTransaction" not in h.actions()
    h.csms_result("ChangeAvailability", {"connectorId": 1, "type": "Operative"})
    assert h.statuses(1)[-1] == "Preparing"


def test_every_status_of_the_table_is_reached() -> None:
    seen: set[str] = set()
    for scenario in SCENARIOS.values():
        for settings in (SOCKETS, CABLES):
            h = Harness(settings)
            scenario(h)
            seen.update(status for cid in (1, 2) for status, _ in reported(h, cid))
    rule_statuses = {status for status, _ in STATUS_RULES}
    # Reserved needs the Reservation profile (issue #4).
    assert seen == rule_statuses - {"Reserved"}


def test_table_is_the_one_of_the_specification() -> None:
    # OCPP 1.6 §4.9 with errata 3.20 (B6 Preparing -> Finishing).
    table: dict[str, str] = {
        "Available": "A2 A3 A4 A5 A7 A8 A9",
        "Preparing": "B1 B3 B4 B5 B6 B9",
        "Charging": "C1 C4 C5 C6 C8 C9",
        "SuspendedEV": "D1 D3 D5 D6 D8 D9",
        "SuspendedEVSE": "E1 E3 E4 E6 E8 E9",
        "Finishing": "F1 F2 F8 F9",
        "Reserved": "G1 G2 G8 G9",
        "Unavailable": "H1 H2 H3 H4 H5 H9",
        "Faulted": "I1 I2 I3 I4 I5 I6 I7 I8",
    }
    columns = [
        "Available",
        "Preparing",
        "Charging",
        "SuspendedEV",
        "SuspendedEVSE",
        "Finishing",
        "Reserved",
        "Unavailable",
        "Faulted",
    ]
    expected: dict[str, Any] = {
        status: frozenset(columns[int(cell[1]) - 1] for cell in cells.split())
        for status, cells in table.items()
    }
    assert expected == TRANSITIONS


def test_new_session_from_finishing_goes_through_preparing() -> None:
    """§4.9 F2 then B3: card stop with the EV still plugged in, then the card again."""
    from ocpp_station.core.events import CablePlugged, IdTagPresented
    from tests.core.harness import Harness

    h = Harness()
    h.feed(CablePlugged(1))
    h.feed(IdTagPresented("TAG"))
    h.feed(IdTagPresented("TAG"))  # Local stop: Finishing, the EV still plugged in
    h.feed(IdTagPresented("TAG"))
    assert h.statuses(1)[-4:] == ["Charging", "Finishing", "Preparing", "Charging"]
