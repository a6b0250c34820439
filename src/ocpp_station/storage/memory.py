"""An in-memory store with the same interface as SqliteStore (tests, large simulations)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from ocpp_station.storage.base import Op, encode_op


class MemoryStore:
    __slots__ = ("availability", "config", "records")

    def __init__(self) -> None:
        self.config: dict[str, str] = {}
        self.availability: dict[int, bool] = {}
        #: kind -> key -> the record's JSON (bytes)
        self.records: dict[str, dict[str, bytes]] = {}

    def load_config(self) -> dict[str, str]:
        return dict(self.config)

    def save_config(self, name: str, value: str) -> None:
        self.config[name] = value

    def load_availability(self) -> dict[int, bool]:
        return dict(self.availability)

    def save_availability(self, connector_id: int, operative: bool) -> None:
        self.availability[connector_id] = operative

    def load(self, kind: str) -> dict[str, Any]:
        """By key order, as SqliteStore; decoded copies."""
        return {key: orjson.loads(value) for key, value in sorted(self.records.get(kind, {}).items())}

    def apply(self, ops: Sequence[Op]) -> None:
        """All or nothing, as SqliteStore: every value is checked as JSON first, and kept encoded (a
        copy that later changes of the caller's objects cannot reach, compact for a fleet of stations;
        decoded only by :meth:`load`)."""
        stored = [encode_op(op) for op in ops]
        for op, kind, key, value in stored:
            if op == "config":
                self.config[key] = value
                continue
            if op == "availability":
                self.availability[int(key)] = value
                continue
            records = self.records
            if value is None or op == "clear":
                # A kind left empty goes (a fleet's stations delete most of what they store).
                table = records.get(kind)
                if table is not None:
                    if op == "clear":
                        table.clear()
                    else:
                        table.pop(key, None)
                    if not table:
                        del records[kind]
                continue
            table = records.get(kind)
            if table is None:
                table = records[kind] = {}
            # A copy of exactly its size: orjson's output keeps a 4 KB buffer for as long as it lives.
            table[key] = bytes(memoryview(value))

    def close(self) -> None:
        pass
