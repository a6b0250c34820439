"""The store interface the station shell persists engine state through."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import orjson

#: One write: ("put", kind, key, value) stores value (None deletes); ("clear", kind, "", None).
Op = tuple[str, str, str, Any]

#: Record kinds (see ocpp_station.core.effects.Persist).
KINDS = (
    "outbox",
    "transactions",
    "auth_cache",
    "meters",
    "station",
    "local_list",
    "reservations",
    "charging_profiles",
    "firmware",
)


class StoreError(Exception):
    """The store cannot be used (corrupt, too new, disk full); the message says which file and why."""


def encode_record(value: Any) -> bytes:
    """A record as stored: JSON (orjson). Raises StoreError for a value JSON cannot hold."""
    try:
        return orjson.dumps(value)
    except TypeError as exc:  # orjson.JSONEncodeError
        raise StoreError(f"cannot store {type(value).__name__} record: {exc}") from None


class Store(Protocol):
    def load_config(self) -> dict[str, str]:
        """Configuration values the central system changed, by key name."""

    def save_config(self, name: str, value: str) -> None: ...

    def load_availability(self) -> dict[int, bool]:
        """Connector availability by connector id (0 = the charge point); True = Operative."""

    def save_availability(self, connector_id: int, operative: bool) -> None: ...

    def load(self, kind: str) -> dict[str, Any]:
        """Every record of ``kind`` by key (JSON values)."""

    def apply(self, ops: Sequence[Op]) -> None:
        """Carry out ``ops`` atomically: all or none (raise StoreError for none)."""

    def close(self) -> None: ...
