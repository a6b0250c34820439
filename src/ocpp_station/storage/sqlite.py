"""SQLite store: one database file in the data directory, WAL, numbered migrations.

The schema version is SQLite's ``user_version``; each entry of :data:`MIGRATIONS` moves it up by one
inside a transaction. A database newer than this code is refused with a clear message rather than
guessed at.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ocpp_station.storage.base import StoreError

#: Migration N (1-based) brings the schema from version N-1 to N.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE config (name TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE availability (connector_id INTEGER PRIMARY KEY, operative INTEGER NOT NULL);
    """,
)

DB_NAME = "station.db"


class SqliteStore:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: cannot open the station database: {exc}") from None
        except OSError as exc:
            raise StoreError(f"{self.path}: {exc}") from None

    @classmethod
    def in_dir(cls, data_dir: str | Path) -> SqliteStore:
        return cls(Path(data_dir) / DB_NAME)

    def _migrate(self) -> None:
        (version,) = self._db.execute("PRAGMA user_version").fetchone()
        if version > len(MIGRATIONS):
            raise StoreError(
                f"{self.path}: database schema version {version} is newer than this ocpp-station "
                f"understands ({len(MIGRATIONS)}); upgrade ocpp-station or use another data directory"
            )
        for number in range(version + 1, len(MIGRATIONS) + 1):
            self._db.execute("BEGIN IMMEDIATE")
            for statement in filter(str.strip, MIGRATIONS[number - 1].split(";")):
                self._db.execute(statement)
            self._db.execute(f"PRAGMA user_version = {number}")
            self._db.execute("COMMIT")

    def _write(self, sql: str, params: tuple[object, ...]) -> None:
        try:
            self._db.execute(sql, params)
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot write: {exc}") from None

    def load_config(self) -> dict[str, str]:
        return dict(self._db.execute("SELECT name, value FROM config").fetchall())

    def save_config(self, name: str, value: str) -> None:
        self._write(
            "INSERT INTO config (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value",
            (name, value),
        )

    def load_availability(self) -> dict[int, bool]:
        return {
            cid: bool(op) for cid, op in self._db.execute("SELECT connector_id, operative FROM availability")
        }

    def save_availability(self, connector_id: int, operative: bool) -> None:
        self._write(
            "INSERT INTO availability (connector_id, operative) VALUES (?, ?) "
            "ON CONFLICT(connector_id) DO UPDATE SET operative = excluded.operative",
            (connector_id, int(operative)),
        )

    def close(self) -> None:
        self._db.close()
