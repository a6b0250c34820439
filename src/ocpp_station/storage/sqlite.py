"""SQLite store: one database file in the data directory, WAL, numbered migrations.

The schema version is SQLite's ``user_version``; each entry of :data:`MIGRATIONS` moves it up by one
inside a transaction. A database newer than this code is refused with a clear message rather than
guessed at. A corrupt file is moved aside (never deleted) by :meth:`SqliteStore.open_or_recover`.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from ocpp_station.storage.base import Op, StoreError, StoreFull, encode_op

log = logging.getLogger("ocpp_station.storage")

#: Migration N (1-based) brings the schema from version N-1 to N.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE config (name TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE availability (connector_id INTEGER PRIMARY KEY, operative INTEGER NOT NULL);
    """,
    """
    CREATE TABLE records (
        kind TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL, PRIMARY KEY (kind, key)
    ) WITHOUT ROWID;
    """,
)

DB_NAME = "station.db"
SYNC_MODES = ("full", "normal", "off")


class NewerSchema(StoreError):
    pass


class Damaged(StoreError):
    """The file is not a database or is corrupt (SQLITE_CORRUPT, SQLITE_NOTADB, a failed check): the
    only failure :meth:`SqliteStore.open_or_recover` moves the file aside for. A locked, unreadable or
    full database is a StoreError, never moved."""


class _CheckFailed(sqlite3.DatabaseError):
    pass


def _is_damage(exc: sqlite3.DatabaseError) -> bool:
    name = getattr(exc, "sqlite_errorname", "") or ""
    return isinstance(exc, _CheckFailed) or name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB"))


_UPSERT_CONFIG = (
    "INSERT INTO config (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value"
)
_UPSERT_AVAILABILITY = (
    "INSERT INTO availability (connector_id, operative) VALUES (?, ?) "
    "ON CONFLICT(connector_id) DO UPDATE SET operative = excluded.operative"
)


class SqliteStore:
    def __init__(self, path: str | Path, *, sync: str = "full") -> None:
        if sync not in SYNC_MODES:
            raise StoreError(f"sync must be one of {', '.join(SYNC_MODES)}, not {sync!r}")
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"{self.path}: cannot open the station database: {exc}") from None
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            # FULL: a commit is on disk before the frame it guards is sent (power loss, issue #3).
            self._db.execute(f"PRAGMA synchronous={sync.upper()}")
            (check,) = self._db.execute("PRAGMA quick_check").fetchone()
            if check != "ok":
                raise _CheckFailed(f"integrity check failed: {check}")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            self._db.close()
            if _is_damage(exc):
                raise Damaged(f"{self.path}: the station database is damaged: {exc}") from None
            raise StoreError(f"{self.path}: cannot open the station database: {exc}") from None

    @classmethod
    def in_dir(cls, data_dir: str | Path, *, sync: str = "full") -> SqliteStore:
        return cls(Path(data_dir) / DB_NAME, sync=sync)

    @classmethod
    def open_or_recover(cls, data_dir: str | Path, *, sync: str = "full") -> SqliteStore:
        """Open the data directory's database; a damaged one is moved aside with its WAL (kept for
        inspection, never deleted) and a new one started, with an error in the log naming both."""
        path = Path(data_dir) / DB_NAME
        try:
            return cls(path, sync=sync)
        except Damaged as exc:
            if not path.exists():
                raise
            stamp = time.strftime("%Y%m%dT%H%M%S")
            aside = path.with_name(f"{DB_NAME}.corrupt-{stamp}")
            for suffix in ("", "-wal", "-shm"):
                part = Path(str(path) + suffix)
                if part.exists():
                    part.rename(Path(str(aside) + suffix))
            log.error("%s; moved it to %s and started a new database", exc, aside)
            return cls(path, sync=sync)

    def _migrate(self) -> None:
        (version,) = self._db.execute("PRAGMA user_version").fetchone()
        if version > len(MIGRATIONS):
            raise NewerSchema(
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
        self._write(_UPSERT_CONFIG, (name, value))

    def load_availability(self) -> dict[int, bool]:
        return {
            cid: bool(op) for cid, op in self._db.execute("SELECT connector_id, operative FROM availability")
        }

    def save_availability(self, connector_id: int, operative: bool) -> None:
        self._write(_UPSERT_AVAILABILITY, (connector_id, int(operative)))

    def load(self, kind: str) -> dict[str, Any]:
        rows = self._db.execute("SELECT key, value FROM records WHERE kind = ? ORDER BY key", (kind,))
        return {key: orjson.loads(value) for key, value in rows}

    def apply(self, ops: Sequence[Op]) -> None:
        if not ops:
            return
        # Encoded before the transaction: a value that is not JSON fails the whole apply, touching nothing.
        encoded = [encode_op(op) for op in ops]
        try:
            self._db.execute("BEGIN IMMEDIATE")
            for op, kind, key, value in encoded:
                if op == "config":
                    self._db.execute(_UPSERT_CONFIG, (key, value))
                elif op == "availability":
                    self._db.execute(_UPSERT_AVAILABILITY, (int(key), int(value)))
                elif op == "clear":
                    self._db.execute("DELETE FROM records WHERE kind = ?", (kind,))
                elif value is None:
                    self._db.execute("DELETE FROM records WHERE kind = ? AND key = ?", (kind, key))
                else:
                    self._db.execute(
                        "INSERT OR REPLACE INTO records (kind, key, value) VALUES (?, ?, ?)",
                        (kind, key, value),
                    )
            self._db.execute("COMMIT")
        except BaseException as exc:
            if self._db.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    self._db.execute("ROLLBACK")
            if getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL or (
                isinstance(exc, OSError) and exc.errno == errno.ENOSPC
            ):
                raise StoreFull(f"{self.path}: cannot write, the disk is full: {exc}") from None
            if isinstance(exc, sqlite3.Error):
                raise StoreError(f"{self.path}: cannot write: {exc}") from None
            raise

    def close(self) -> None:
        self._db.close()
