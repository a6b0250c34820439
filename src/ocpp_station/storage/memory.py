"""An in-memory store with the same interface as SqliteStore (tests, large simulations)."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from ocpp_station.storage.base import Op


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
        return copy.deepcopy(self.records.get(kind, {}))

    def apply(self, ops: Sequence[Op]) -> None:
        for op, kind, key, value in ops:
            table = self.records.setdefault(kind, {})
            if op == "clear":
                table.clear()
            elif value is None:
                table.pop(key, None)
            else:
                table[key] = copy.deepcopy(value)

    def close(self) -> None:
        pass
