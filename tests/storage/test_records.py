"""The records API of both stores (load / apply, all or nothing), and what a damaged, newer, locked or
full database does: to the store, and to a running Station (it keeps serving, then catches up)."""

from __future__ import annotations

import asyncio
import functools
import logging
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ocpp_station.sim.csms import CentralSystem, LogEntry
from ocpp_station.storage import MemoryStore, SqliteStore, StoreError
from ocpp_station.storage.base import Op
from ocpp_station.storage.sqlite import MIGRATIONS, Damaged, NewerSchema
from tests.stations import StationFactory, station_config

Store = SqliteStore | MemoryStore


@pytest.fixture(params=["sqlite", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    made: Store = SqliteStore.in_dir(tmp_path) if request.param == "sqlite" else MemoryStore()
    yield made
    made.close()


def key(seq: int) -> str:
    return f"{seq:012d}"  # how the engine names outbox records (core/context.py)


# -- the records API -----------------------------------------------------------------------------------


def test_put_load_delete_clear(store: Store) -> None:
    assert store.load("outbox") == {}
    store.apply(
        [
            ("put", "outbox", key(1), {"action": "StartTransaction", "payload": {"meterStart": 0}}),
            ("put", "transactions", "1", {"localId": 1, "stopData": [], "txProfile": None}),
            ("put", "auth_cache", "TAG", {"status": "Accepted"}),
        ]
    )
    assert store.load("outbox") == {key(1): {"action": "StartTransaction", "payload": {"meterStart": 0}}}
    assert store.load("transactions") == {"1": {"localId": 1, "stopData": [], "txProfile": None}}
    store.apply([("put", "outbox", key(1), {"action": "StartTransaction", "attempts": 2})])  # replaces
    assert store.load("outbox") == {key(1): {"action": "StartTransaction", "attempts": 2}}
    store.apply([("put", "outbox", key(1), None), ("put", "outbox", key(7), None)])  # missing key: no error
    assert store.load("outbox") == {}
    store.apply([("clear", "auth_cache", "", None)])
    assert store.load("auth_cache") == {}
    assert store.load("transactions") != {}  # clear is per kind


def test_loaded_records_are_copies(store: Store) -> None:
    value = {"payload": {"meterValue": [1, 2]}}
    store.apply([("put", "outbox", key(1), value)])
    value["payload"]["meterValue"].append(3)
    loaded = store.load("outbox")
    loaded[key(1)]["payload"]["meterValue"].append(4)
    assert store.load("outbox") == {key(1): {"payload": {"meterValue": [1, 2]}}}


def test_outbox_keys_load_in_sequence_order(store: Store) -> None:
    seqs = [10, 9, 100, 1, 11, 1_000_000]
    store.apply([("put", "outbox", key(seq), {"seq": seq}) for seq in seqs])
    loaded = store.load("outbox")
    assert [record["seq"] for record in loaded.values()] == sorted(seqs)
    assert [int(k) for k in loaded] == sorted(seqs)


def test_an_apply_whose_nth_op_fails_leaves_nothing(store: Store) -> None:
    store.apply([("put", "outbox", key(1), {"before": True})])
    ops: list[Op] = [
        ("put", "outbox", key(2), {"ok": 1}),
        ("put", "outbox", key(1), None),
        ("clear", "transactions", "", None),
        ("put", "outbox", key(3), {"not json": object()}),  # orjson cannot encode it
    ]
    with pytest.raises(StoreError):
        store.apply(ops)
    assert store.load("outbox") == {key(1): {"before": True}}
    store.apply([("put", "outbox", key(4), {"after": True})])  # the store still works
    assert set(store.load("outbox")) == {key(1), key(4)}


def test_configuration_and_availability_go_through_the_same_apply(store: Store) -> None:
    """Issue #9: every write of an engine step is one apply, configuration and availability included."""
    store.apply(
        [
            ("config", "", "HeartbeatInterval", "120"),
            ("availability", "", "1", False),
            ("put", "transactions", "1", {"localId": 1}),
        ]
    )
    assert store.load_config() == {"HeartbeatInterval": "120"}
    assert store.load_availability() == {1: False}
    with pytest.raises(StoreError):  # one bad record: the configuration change is not kept either
        store.apply([("config", "", "HeartbeatInterval", "60"), ("put", "outbox", key(1), {"x": object()})])
    assert store.load_config() == {"HeartbeatInterval": "120"}
    with pytest.raises(StoreError):
        store.apply([("config", "", "HeartbeatInterval", 60)])  # not a string
    with pytest.raises(StoreError):
        store.apply([("move", "outbox", key(1), {})])  # not an operation
    store.apply([("availability", "", "1", True), ("config", "", "HeartbeatInterval", "30")])
    assert store.load_availability() == {1: True}
    assert store.load_config() == {"HeartbeatInterval": "30"}


def test_sqlite_apply_that_fails_midway_is_rolled_back_for_every_reader(tmp_path: Path) -> None:
    store = SqliteStore.in_dir(tmp_path)
    store.apply([("put", "outbox", key(1), {"before": True})])
    with pytest.raises(StoreError):
        store.apply([("put", "outbox", key(2), {"ok": 1}), ("put", "x", "y", {1: "non-string key"})])
    store.close()
    reopened = SqliteStore.in_dir(tmp_path)
    assert reopened.load("outbox") == {key(1): {"before": True}}
    reopened.close()


def test_records_survive_reopen(tmp_path: Path) -> None:
    store = SqliteStore.in_dir(tmp_path)
    store.apply([("put", "outbox", key(5), {"a": [1, 2.5, None, "x"]}), ("put", "station", "shutdown", {})])
    store.close()
    again = SqliteStore.in_dir(tmp_path)
    assert again.load("outbox") == {key(5): {"a": [1, 2.5, None, "x"]}}
    assert again.load("station") == {"shutdown": {}}
    again.close()


# -- a damaged, newer or locked database ------------------------------------------------------------


def test_corrupt_database_is_moved_aside(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    garbage = b"this is not a database" * 100
    (tmp_path / "station.db").write_bytes(garbage)
    with caplog.at_level(logging.ERROR, logger="ocpp_station.storage"):
        store = SqliteStore.open_or_recover(tmp_path)
    aside = [
        p for p in tmp_path.iterdir() if p.name.startswith("station.db.corrupt-") and "-wal" not in p.name
    ]
    assert len(aside) == 1
    assert aside[0].read_bytes() == garbage  # kept, never deleted
    assert str(aside[0]) in caplog.text and "damaged" in caplog.text
    store.apply([("put", "outbox", key(1), {"fresh": True})])  # the new database works
    assert store.load("outbox") == {key(1): {"fresh": True}}
    store.close()


def test_malformed_pages_are_moved_aside(tmp_path: Path) -> None:
    store = SqliteStore.in_dir(tmp_path)
    store.apply([("put", "outbox", key(i), {"payload": "x" * 300}) for i in range(200)])
    store._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    path = tmp_path / "station.db"
    data = bytearray(path.read_bytes())
    data[3 * 4096 : 4 * 4096] = b"\xab" * 4096  # one page of garbage: SQLITE_CORRUPT, not NOTADB
    path.write_bytes(bytes(data))
    with pytest.raises(Damaged, match="malformed"):
        SqliteStore.in_dir(tmp_path)
    recovered = SqliteStore.open_or_recover(tmp_path)
    assert recovered.load("outbox") == {}
    assert any(p.name.startswith("station.db.corrupt-") for p in tmp_path.iterdir())
    recovered.close()


def test_newer_schema_is_refused_not_moved(tmp_path: Path) -> None:
    SqliteStore.in_dir(tmp_path).close()
    db = sqlite3.connect(tmp_path / "station.db")
    db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    db.commit()
    db.close()
    with pytest.raises(NewerSchema, match="newer than this ocpp-station"):
        SqliteStore.open_or_recover(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir() if "corrupt" in p.name) == []
    assert (tmp_path / "station.db").exists()


def test_locked_database_is_an_error_not_moved_aside(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another process holding the database (a second station on the same data dir, a backup) is no
    damage: moving the file aside would start this station with an empty outbox."""
    store = SqliteStore.in_dir(tmp_path)
    store.apply([("put", "outbox", key(1), {"keep": True})])
    store.close()
    holder = sqlite3.connect(tmp_path / "station.db", isolation_level=None)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    monkeypatch.setattr(sqlite3, "connect", functools.partial(sqlite3.connect, timeout=0.05))
    with pytest.raises(StoreError, match="locked") as raised:
        SqliteStore.open_or_recover(tmp_path)
    assert not isinstance(raised.value, Damaged)
    holder.execute("ROLLBACK")
    holder.close()
    assert not any("corrupt" in p.name for p in tmp_path.iterdir())
    monkeypatch.undo()
    again = SqliteStore.open_or_recover(tmp_path)
    assert again.load("outbox") == {key(1): {"keep": True}}
    again.close()


# -- a full disk ------------------------------------------------------------------------------------------


def fill(store: SqliteStore) -> None:
    """No page left: max_page_count at the current size, the free space taken by filler records."""
    (pages,) = store._db.execute("PRAGMA page_count").fetchone()
    store._db.execute(f"PRAGMA max_page_count = {pages}")
    for n in range(100_000):
        try:
            store.apply([("put", "filler", str(n), {"x": "f" * 500})])
        except StoreError:
            return
    raise AssertionError("the database never filled up")


def make_room(store: SqliteStore) -> None:
    store._db.execute("PRAGMA max_page_count = 1073741823")


def test_full_database_refuses_the_whole_apply_then_recovers(tmp_path: Path) -> None:
    store = SqliteStore.in_dir(tmp_path)
    store.apply([("put", "outbox", key(1), {"before": True})])
    fill(store)
    ops: list[Op] = [("put", "outbox", key(1), None)]
    ops += [("put", "outbox", key(n), {"payload": "p" * 400}) for n in range(2, 40)]
    with pytest.raises(StoreError, match="full"):
        store.apply(ops)
    assert store.load("outbox") == {key(1): {"before": True}}
    make_room(store)
    store.apply(ops)
    assert len(store.load("outbox")) == 38
    store.close()


def call_in(action: str) -> Callable[[LogEntry], bool]:
    return lambda e: e.direction == "in" and e.kind == "CALL" and e.action == action


async def test_station_keeps_serving_on_a_full_disk_and_catches_up(
    csms: CentralSystem, start_station: StationFactory, tmp_path: Path
) -> None:
    store = SqliteStore.in_dir(tmp_path / "data")
    station = await start_station(station_config(csms.url, ocpp={"MeterValueSampleInterval": 1}), store=store)
    assert station.state()["storage"] == "ok"
    fill(store)

    # A whole session start while nothing can be stored: the frames still go out.
    station.plug(1)
    station.present_id_tag("CARD1")

    start = await csms.wait_for(call_in("StartTransaction"))
    await csms.wait_for(call_in("MeterValues"), since=csms.log.index(start))
    state = station.state()
    assert "full" in state["storage"], state["storage"]
    assert state["connectors"][1]["status"] == "Charging"
    assert store.load("transactions") == {}  # nothing of it stored yet

    # Space is back: the next engine step writes everything it kept, in one transaction.
    make_room(store)
    state = await station.wait_for(lambda s: s["storage"] == "ok", timeout=10)
    engine_open = station.engine.transactions.open
    stored = store.load("transactions")
    assert set(stored) == {str(local) for local in engine_open}
    (record,) = stored.values()
    assert record["transactionId"] == state["connectors"][1]["transactionId"] is not None

    station.unplug(1)
    await csms.wait_for(call_in("StopTransaction"))
    await station.wait_for(lambda s: s["queue"] == 0 and s["connectors"][1]["transactionId"] is None)
    await asyncio.sleep(0.2)
    assert store.load("transactions") == {}
    assert store.load("outbox") == {}


async def test_a_configuration_change_the_store_refuses_is_kept_and_caught_up(
    csms: CentralSystem, start_station: StationFactory, tmp_path: Path
) -> None:
    """ChangeConfiguration and ChangeAvailability go through the step's one store transaction: when the
    database refuses writes they are kept and written once it takes them again (they used to be tried
    once and forgotten). The refusal is SQLite's own: the connection made read-only."""
    store = SqliteStore.in_dir(tmp_path / "data")
    station = await start_station(station_config(csms.url), store=store)
    store._db.execute("PRAGMA query_only = ON")
    answer = await csms.call("CP_1", "ChangeConfiguration", {"key": "HeartbeatInterval", "value": "77"})
    assert answer == {"status": "Accepted"}
    answer = await csms.call("CP_1", "ChangeAvailability", {"connectorId": 1, "type": "Inoperative"})
    assert answer == {"status": "Accepted"}
    assert "readonly" in station.state()["storage"]
    assert "HeartbeatInterval" not in store.load_config()
    store._db.execute("PRAGMA query_only = OFF")
    station.plug(1)  # the next engine step writes what was kept
    await station.wait_for(lambda s: s["storage"] == "ok", timeout=10)
    assert store.load_config()["HeartbeatInterval"] == "77"
    assert store.load_availability()[1] is False
