"""Reservations over real websockets against the development CSMS (OCPP 1.6 §5.1, §5.13)."""

from __future__ import annotations

import time
from collections.abc import Callable

from ocpp_station.core.clock import format_datetime
from ocpp_station.sim.csms import CentralSystem, LogEntry
from tests.stations import StationFactory, station_config


def called(action: str) -> Callable[[LogEntry], bool]:
    return lambda e: e.direction == "in" and e.kind == "CALL" and e.action == action


def status_of(connector_id: int, status: str) -> Callable[[LogEntry], bool]:
    return lambda e: (
        called("StatusNotification")(e)
        and e.payload["connectorId"] == connector_id
        and e.payload["status"] == status
    )


async def test_reserved_connector_serves_only_its_id_tag(
    csms: CentralSystem, start_station: StationFactory
) -> None:
    station = await start_station(station_config(csms.url))
    answer = await csms.call(
        "CP_1",
        "ReserveNow",
        {
            "connectorId": 1,
            "expiryDate": format_datetime(time.time() + 300),
            "idTag": "CARD1",
            "reservationId": 42,
        },
    )
    assert answer == {"status": "Accepted"}
    await csms.wait_for(status_of(1, "Reserved"))
    await station.wait_for(lambda s: s["connectors"][1]["status"] == "Reserved")
    since = len(csms.log)
    station.plug(1)
    station.present_id_tag("CARD2")  # not the reserved idTag: nothing starts
    station.present_id_tag("CARD1")
    start = await csms.wait_for(called("StartTransaction"), since=since)
    assert start.payload["idTag"] == "CARD1"
    assert start.payload["reservationId"] == 42
    assert not [e for e in csms.log[since:] if called("Authorize")(e) and e.payload["idTag"] == "CARD2"]
    await station.wait_for(lambda s: s["connectors"][1]["status"] == "Charging")
    # The reservation is over: cancelling it now is Rejected.
    assert await csms.call("CP_1", "CancelReservation", {"reservationId": 42}) == {"status": "Rejected"}


async def test_reservation_expires_and_cancel(csms: CentralSystem, start_station: StationFactory) -> None:
    station = await start_station(station_config(csms.url))
    answer = await csms.call(
        "CP_1",
        "ReserveNow",
        {
            "connectorId": 1,
            "expiryDate": format_datetime(time.time() + 1),
            "idTag": "CARD1",
            "reservationId": 1,
        },
    )
    assert answer == {"status": "Accepted"}
    reserved = await csms.wait_for(status_of(1, "Reserved"))
    since = csms.log.index(reserved) + 1
    await csms.wait_for(status_of(1, "Available"), since=since, timeout=5)  # expired: a timer fired
    await station.wait_for(lambda s: s["connectors"][1]["status"] == "Available")
    answer = await csms.call(
        "CP_1",
        "ReserveNow",
        {
            "connectorId": 1,
            "expiryDate": format_datetime(time.time() + 300),
            "idTag": "CARD1",
            "reservationId": 2,
        },
    )
    assert answer == {"status": "Accepted"}
    await station.wait_for(lambda s: s["connectors"][1]["status"] == "Reserved")
    assert await csms.call("CP_1", "CancelReservation", {"reservationId": 2}) == {"status": "Accepted"}
    await station.wait_for(lambda s: s["connectors"][1]["status"] == "Available")
