"""An in-memory store with the same interface as SqliteStore (tests, large simulations)."""

from __future__ import annotations


class MemoryStore:
    def __init__(self) -> None:
        self.config: dict[str, str] = {}
        self.availability: dict[int, bool] = {}

    def load_config(self) -> dict[str, str]:
        return dict(self.config)

    def save_config(self, name: str, value: str) -> None:
        self.config[name] = value

    def load_availability(self) -> dict[int, bool]:
        return dict(self.availability)

    def save_availability(self, connector_id: int, operative: bool) -> None:
        self.availability[connector_id] = operative

    def close(self) -> None:
        pass
