"""SQLite store: real files, reopened, migrations, and refusal of a newer schema."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from ocpp_station.storage import MemoryStore, SqliteStore, StoreError
from ocpp_station.storage.sqlite import MIGRATIONS


@pytest.mark.parametrize("kind", ["sqlite", "memory"])
def test_values_survive_reopen(tmp_path: Path, kind: str) -> None:
    store = SqliteStore.in_dir(tmp_path) if kind == "sqlite" else MemoryStore()
    store.save_config("HeartbeatInterval", "60")
    store.save_config("HeartbeatInterval", "90")
    store.save_availability(0, False)
    store.save_availability(1, True)
    if kind == "sqlite":
        store.close()
        store = SqliteStore.in_dir(tmp_path)
    assert store.load_config() == {"HeartbeatInterval": "90"}
    assert store.load_availability() == {0: False, 1: True}
    store.close()


def test_wal_and_schema_version(tmp_path: Path) -> None:
    SqliteStore.in_dir(tmp_path).close()
    db = sqlite3.connect(tmp_path / "station.db")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)


def test_newer_database_is_refused(tmp_path: Path) -> None:
    SqliteStore.in_dir(tmp_path).close()
    db = sqlite3.connect(tmp_path / "station.db")
    db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 5}")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="newer than this ocpp-station"):
        SqliteStore.in_dir(tmp_path)


def test_corrupt_database_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "station.db").write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match=r"station\.db"):
        SqliteStore.in_dir(tmp_path)
