"""The store interface the station shell persists engine state through."""

from __future__ import annotations

from typing import Protocol


class StoreError(Exception):
    """The store cannot be used (corrupt, too new, disk full); the message says which file and why."""


class Store(Protocol):
    def load_config(self) -> dict[str, str]:
        """Configuration values the central system changed, by key name."""

    def save_config(self, name: str, value: str) -> None: ...

    def load_availability(self) -> dict[int, bool]:
        """Connector availability by connector id (0 = the charge point); True = Operative."""

    def save_availability(self, connector_id: int, operative: bool) -> None: ...

    def close(self) -> None: ...
