"""The security events of issue 10 that the operator or the store raises, end to end (OCPP 1.6 security
whitepaper edition 3, §8): SecurityLogWasCleared and TamperDetectionActivated through the HTTP control
API, MemoryExhaustion from a real SQLite store that is full, all with a real station, a real SQLite data
dir and the development CSMS on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp

from ocpp_station.control.api import bound_port, start_control_api
from ocpp_station.sim.csms import CentralSystem
from ocpp_station.storage import SqliteStore
from ocpp_station.transport.station import Station
from tests.stations import StationFactory, notified, station_config, until


def log_entries(station: Station) -> list[dict[str, Any]]:
    records = station.store.load("security_log")
    return [records[key] for key in sorted(records) if key.isdigit()]


async def post(url: str, body: Any = None) -> int:
    async with aiohttp.ClientSession() as http, http.post(url, json=body) as response:
        return response.status


async def test_control_api_clears_the_log_and_reports_tampering(
    tmp_path: Path, csms: CentralSystem, start_station: StationFactory
) -> None:
    station = await start_station(station_config(csms.url, dataDir=str(tmp_path / "data")))
    runner = await start_control_api(station, "127.0.0.1", 0)
    base = f"http://127.0.0.1:{bound_port(runner)}"
    try:
        await until(lambda: bool(notified(csms, "StartupOfTheDevice")))
        assert (await post(f"{base}/tamper", {"info": "enclosure opened"})) == 200
        await until(lambda: bool(notified(csms, "TamperDetectionActivated")))
        assert notified(csms, "TamperDetectionActivated")[0]["techInfo"] == "enclosure opened"
        assert [e["type"] for e in log_entries(station)] == ["StartupOfTheDevice", "TamperDetectionActivated"]
        assert (await post(f"{base}/tamper", {"info": 5})) == 400
        # Cleared: the new log's first entry is SecurityLogWasCleared, critical, notified.
        assert (await post(f"{base}/security-log/clear")) == 200
        await until(lambda: bool(notified(csms, "SecurityLogWasCleared")))
        (entry,) = log_entries(station)
        assert (entry["type"], entry["techInfo"]) == ("SecurityLogWasCleared", "cleared by the control API")
        await until(lambda: "pending" not in log_entries(station)[0])  # the CSMS answered it
    finally:
        await runner.cleanup()


async def test_memory_exhaustion_when_the_store_is_full(
    tmp_path: Path, csms: CentralSystem, start_station: StationFactory
) -> None:
    """A real SQLITE_FULL: the database may not grow (max_page_count), the next writes fail; the station
    reports MemoryExhaustion once (§8, critical) and catches up once there is room again."""
    station = await start_station(station_config(csms.url, dataDir=str(tmp_path / "data")))
    store = station.store
    assert isinstance(store, SqliteStore)
    pages = store._db.execute("PRAGMA page_count").fetchone()[0]
    store._db.execute(f"PRAGMA max_page_count = {pages}")
    # Many records at once: the database has no room for them.
    for n in range(200):
        station.tamper_detected(f"sensor {n} " + "x" * 200)
    await until(lambda: bool(notified(csms, "MemoryExhaustion")))
    assert station.storage_error is not None and "full" in station.storage_error
    assert len(notified(csms, "MemoryExhaustion")) == 1
    assert "disk is full" in notified(csms, "MemoryExhaustion")[0]["techInfo"]
    # Room again: the writes kept in memory are stored, the event among them.
    store._db.execute("PRAGMA max_page_count = 1073741823")
    station.tamper_detected("after")
    assert station.storage_error is None
    assert "MemoryExhaustion" in [e["type"] for e in log_entries(station)]
