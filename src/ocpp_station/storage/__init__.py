"""Persistence: small store interfaces, with SQLite and in-memory implementations."""

from ocpp_station.storage.base import Store, StoreError
from ocpp_station.storage.memory import MemoryStore
from ocpp_station.storage.sqlite import SqliteStore

__all__ = ["MemoryStore", "SqliteStore", "Store", "StoreError"]
