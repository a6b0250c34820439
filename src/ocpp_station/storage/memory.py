"""An in-memory store with the same interface as SqliteStore (tests, large simulations)."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import orjson

from ocpp_station.storage.base import Op, encode_record


class MemoryStore:
    def __init__(self) -> None:
        self.config: dict[str, str] = {}
        self.availability: dict[int, bool] = {}
        self.records: dict[str, dict[str, Any]] = {}

    def load_config(self) -> dict[str, str]:
        return dict(self.config)

    def save_config(self, name: str, value: str) -> None:
        self.config[name] = value

    def load_availability(self) -> dict[int, bool]:
        return dict(self.availability)

    def save_availability(self, connector_id: int, operative: bool) -> None:
        self.availability[connector_id] = operative

    def load(self, kind: str) -> dict[str, Any]:
        """By key order, as SqliteStore."""
        return copy.deepcopy(dict(sorted(self.records.get(kind, {}).items())))

    def apply(self, ops: Sequence[Op]) -> None:
        """All or nothing, as SqliteStore: every value is checked (and copied) as JSON first."""
        stored = [
            (op, kind, key, None if value is None else encode_record(value)) for op, kind, key, value in ops
        ]
        for op, kind, key, value in stored:
            table = self.records.setdefault(kind, {})
            if op == "clear":
                table.clear()
            elif value is None:
                table.pop(key, None)
            else:
                table[key] = orjson.loads(value)

    def close(self) -> None:
        pass
