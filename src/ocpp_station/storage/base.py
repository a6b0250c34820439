"""The store interface the station shell persists engine state through."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import orjson

#: One write: ("put", kind, key, value) stores the record value (None deletes); ("clear", kind, "", None);
#: ("config", "", name, value) a configuration value the CSMS changed; ("availability", "", connector
#: id, operative) a connector's availability. Every write of an engine step goes through one apply.
Op = tuple[str, str, str, Any]


def encode_op(op: Op) -> Op:
    """``op`` ready to store: a record's value as JSON (checked first: a value that is not JSON fails
    the whole apply, touching nothing), a configuration value as text, an availability as a bool."""
    name, kind, key, value = op
    if name == "config":
        if not isinstance(value, str):
            raise StoreError(f"configuration value of {key} is not a string")
        return op
    if name == "availability":
        return (name, kind, str(int(key)), bool(value))
    if name not in ("put", "clear"):
        raise StoreError(f"unknown store operation {name!r}")
    return (name, kind, key, None if value is None else encode_record(value))


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
    "certificates",
    "security_log",
    "station_certificates",
    "security",
)


class StoreError(Exception):
    """The store cannot be used (corrupt, too new, disk full); the message says which file and why."""


class StoreFull(StoreError):
    """A write failed because the disk (or the database's size limit) is full: the security event
    MemoryExhaustion (security whitepaper §8)."""


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
