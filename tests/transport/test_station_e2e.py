"""A station over real websockets against the development CSMS: sessions, reconnects, reset."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from ocpp_station.sim.csms import CentralSystem, LogEntry
from ocpp_station.transport.station import CallFailed
from tests.stations import StationFactory, station_config


def called(action: str) -> Callable[[LogEntry], bool]:
    return lambda e: e.direction == "in" and e.kind == "CALL" and e.action == action


async def test_boot_and_full_charging_session(csms: CentralSystem, start_station: StationFactory) -> None:
    station = await start_station(station_config(csms.url, ocpp={"MeterValueSampleInterval": 1}))
    boot = await csms.wait_for(called("BootNotification"))
    assert boot.payload["chargePointVendor"] == "ocpp-station"
    station.plug(1)
    station.present_id_tag("CARD1")
    state = await station.wait_for(lambda s: s["connectors"][1]["transactionId"] is not None)
    assert state["connectors"][1]["transactionId"] == 1
    assert state["connectors"][1]["status"] == "Charging"
    sample = await csms.wait_for(
        lambda e: (
            called("MeterValues")(e)
            and e.payload["meterValue"][0]["sampledValue"][0]["context"] == "Sample.Periodic"
        )
    )
    assert sample.payload["transactionId"] == 1
    station.unplug(1)
    stop = await csms.wait_for(called("StopTransaction"))
    assert stop.payload["reason"] == "EVDisconnected"
    assert stop.payload["transactionId"] == 1
    assert stop.payload["meterStop"] >= 0
    await station.wait_for(lambda s: s["connectors"][1]["status"] == "Available")


async def test_reconnects_after_csms_restart(start_station: StationFactory) -> None:
    first = CentralSystem(port=0)
    await first.start()
    port = first.port
    station = await start_station(station_config(first.url))
    await first.stop()
    await station.wait_for(lambda s: not s["connected"])
    second = CentralSystem(port=port)
    await second.start()
    try:
        await station.wait_for(lambda s: s["connected"], timeout=10)
        # already Accepted before: no new BootNotification, the link just comes back
        assert station.state()["registration"] == "Accepted"
    finally:
        await second.stop()


async def test_refused_connection_never_ends_the_station(start_station: StationFactory) -> None:
    system = CentralSystem(port=0)
    await system.start()
    port = system.port
    await system.stop()
    station = await start_station(station_config(f"ws://127.0.0.1:{port}/ocpp/"), wait_accepted=False)
    await asyncio.sleep(0.5)  # several refused attempts
    system = CentralSystem(port=port)
    await system.start()
    try:
        await station.wait_for(lambda s: s["registration"] == "Accepted", timeout=10)
    finally:
        await system.stop()


async def test_network_disconnect_and_connect(csms: CentralSystem, start_station: StationFactory) -> None:
    station = await start_station(station_config(csms.url))
    station.network_disconnect()
    await station.wait_for(lambda s: not s["connected"])
    await asyncio.sleep(0.3)
    assert not station.state()["connected"]  # stays offline until told
    station.plug(1)
    station.present_id_tag("OFFLINE")  # unknown while offline: AllowOfflineTxForUnknownId is false
    await asyncio.sleep(0.1)
    assert station.state()["connectors"][1]["transactionId"] is None
    station.network_connect()
    await station.wait_for(lambda s: s["connected"], timeout=10)
    await csms.wait_for(lambda e: called("StatusNotification")(e) and e.payload["status"] == "Preparing")


async def test_csms_initiated_calls(csms: CentralSystem, start_station: StationFactory) -> None:
    await start_station(station_config(csms.url))
    result = await csms.call("CP_1", "GetConfiguration", {"key": ["HeartbeatInterval", "Nope"]})
    assert result["configurationKey"][0]["key"] == "HeartbeatInterval"
    assert result["unknownKey"] == ["Nope"]
    assert (await csms.call("CP_1", "ChangeConfiguration", {"key": "HeartbeatInterval", "value": "abc"}))[
        "status"
    ] == "Rejected"
    assert (await csms.call("CP_1", "ChangeConfiguration", {"key": "Foo", "value": "1"}))[
        "status"
    ] == "NotSupported"
    assert (await csms.call("CP_1", "DataTransfer", {"vendorId": "nobody"}))["status"] == "UnknownVendorId"
    assert (await csms.call("CP_1", "ClearCache", {}))["status"] == "Accepted"


async def test_station_initiated_data_transfer(csms: CentralSystem, start_station: StationFactory) -> None:
    station = await start_station(station_config(csms.url))
    assert await station.call("DataTransfer", {"vendorId": "acme"}) == {"status": "UnknownVendorId"}
    with pytest.raises(CallFailed, match="NotImplemented"):
        await station.call("Teleport", {})


async def test_configuration_survives_restart(
    csms: CentralSystem, start_station: StationFactory, tmp_path: Path
) -> None:
    config = station_config(csms.url, dataDir=str(tmp_path / "data"))
    station = await start_station(config)
    assert (
        await csms.call("CP_1", "ChangeConfiguration", {"key": "MeterValueSampleInterval", "value": "17"})
    )["status"] == "Accepted"
    assert (await csms.call("CP_1", "ChangeAvailability", {"connectorId": 1, "type": "Inoperative"}))[
        "status"
    ] == "Accepted"
    await station.stop()
    station.close()
    again = await start_station(config)
    assert again.engine.config.get("MeterValueSampleInterval") == "17"
    await again.wait_for(lambda s: s["connectors"][1]["status"] == "Unavailable")


async def test_reset_restarts_the_station(csms: CentralSystem, start_station: StationFactory) -> None:
    station = await start_station(station_config(csms.url))
    station.plug(1)
    station.present_id_tag("CARD1")
    await station.wait_for(lambda s: s["connectors"][1]["status"] == "Charging")
    assert (await csms.call("CP_1", "Reset", {"type": "Soft"}))["status"] == "Accepted"
    stop = await csms.wait_for(called("StopTransaction"))
    assert stop.payload["reason"] == "SoftReset"
    boots = [e for e in csms.log if called("BootNotification")(e)]
    await csms.wait_for(lambda e: called("BootNotification")(e) and e not in boots, timeout=10)
    assert station.reboots == 1
    # the EV is still plugged in after the restart
    await station.wait_for(lambda s: s["connectors"][1]["status"] == "Preparing", timeout=10)


async def test_unlock_connector(csms: CentralSystem, start_station: StationFactory) -> None:
    station = await start_station(station_config(csms.url))
    station.plug(1)
    station.present_id_tag("CARD1")
    await station.wait_for(lambda s: s["connectors"][1]["status"] == "Charging")
    assert (await csms.call("CP_1", "UnlockConnector", {"connectorId": 1}))["status"] == "Unlocked"
    stop = await csms.wait_for(called("StopTransaction"))
    assert stop.payload["reason"] == "UnlockCommand"
    station.simulator.set_lock_failure(1, True)
    assert (await csms.call("CP_1", "UnlockConnector", {"connectorId": 1}))["status"] == "UnlockFailed"
    assert (await csms.call("CP_1", "UnlockConnector", {"connectorId": 7}))["status"] == "NotSupported"


async def test_locked_cable_keeps_finishing_until_unlocked(
    csms: CentralSystem, start_station: StationFactory
) -> None:
    """UnlockConnectorOnEVSideDisconnect=false: the driver's cable stays locked in the socket."""
    station = await start_station(station_config(csms.url, ocpp={"UnlockConnectorOnEVSideDisconnect": False}))
    station.plug(1)
    station.present_id_tag("CARD1")
    await station.wait_for(lambda s: s["connectors"][1]["transactionId"] is not None)
    station.unplug(1)
    await station.wait_for(lambda s: s["connectors"][1]["status"] == "Finishing")
    await asyncio.sleep(0.2)
    assert station.state()["connectors"][1]["status"] == "Finishing"
    assert (await csms.call("CP_1", "UnlockConnector", {"connectorId": 1}))["status"] == "Unlocked"
    await station.wait_for(lambda s: s["connectors"][1]["status"] == "Available")


async def test_a_task_cancelled_before_it_starts_has_its_work_closed(
    csms: CentralSystem, start_station: StationFactory
) -> None:
    """Station._spawn: a task cancelled before it ran (a ping round when the station stops) closes its
    coroutine, so Python never reports it as "never awaited" (seen at the end of a 10,000-station run)."""
    station = await start_station(station_config(csms.url))

    async def work() -> None:
        await asyncio.sleep(0)

    coroutine = work()
    task = station._spawn(coroutine)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert coroutine.cr_frame is None  # closed: it never ran, and nothing warns


def test_message_ids_are_short_unique_and_new_after_a_restart() -> None:
    """OCPP-J 1.6 §4.1.4 with erratum 3.1: at most 36 characters, never reused by the charge point
    on any connection; another process (a restart) draws another prefix."""
    import subprocess
    import sys

    from ocpp_station.transport.station import _new_message_id

    ids = [_new_message_id() for _ in range(10_000)]
    assert len(set(ids)) == len(ids) and max(map(len, ids)) <= 36
    code = "from ocpp_station.transport.station import _new_message_id as n; print(n())"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert other.stdout.split("-")[0] != ids[0].split("-")[0]
