"""The effect executor (``transport/executor.py``, issue 9 §5): one handler per effect, the step's
writes committed in one store transaction before any frame of the step goes out, a failing store
reported and its writes kept for the next step."""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any

from ocpp_station.core import effects as fx
from ocpp_station.storage import StoreError
from ocpp_station.storage.memory import MemoryStore
from ocpp_station.transport import executor as executor_module
from ocpp_station.transport.executor import EffectExecutor


class _FlakyStore(MemoryStore):
    """A real memory store that fails while ``broken`` (a full disk, a locked database)."""

    def __init__(self, journal: list[str]) -> None:
        super().__init__()
        self.broken = False
        self.journal = journal

    def apply(self, ops: Any) -> None:
        if self.broken:
            raise StoreError("disk full")
        self.journal.append(f"store {len(ops)}")
        super().apply(ops)


class _Link:
    def __init__(self, journal: list[str]) -> None:
        self.ws: object | None = object()
        self.journal = journal

    def send(self, data: bytes) -> None:
        self.journal.append(f"send {data.decode()}")


class _Log:
    def frame(self, outgoing: bool, data: bytes) -> None:
        return None


@dataclasses.dataclass
class _Config:
    charge_point_id: str = "CP-1"


class _Station:
    """What the executor reads of a station: its store, its link, its log."""

    def __init__(self) -> None:
        self.journal: list[str] = []
        self.store = _FlakyStore(self.journal)
        self.link = _Link(self.journal)
        self.log = _Log()
        self.frame_logger = None
        self.config = _Config()


def _executor() -> tuple[EffectExecutor, _Station]:
    station = _Station()
    return EffectExecutor(station), station  # type: ignore[arg-type]


def test_every_effect_has_a_handler() -> None:
    kinds = {
        obj
        for _, obj in inspect.getmembers(fx, inspect.isclass)
        if obj.__module__ == fx.__name__ and dataclasses.is_dataclass(obj)
    }
    assert kinds == set(executor_module._HANDLERS)


def test_records_are_stored_before_the_frame_that_announces_them() -> None:
    executor, station = _executor()
    executor.execute(
        [
            fx.Persist("outbox", "000000000001", {"action": "StartTransaction"}),
            fx.StoreConfigValue("HeartbeatInterval", "60"),
            fx.SendFrame(b'[2,"1","StartTransaction",{}]'),
            fx.Persist("outbox", "000000000001", None),
        ]
    )
    assert station.journal == ["store 2", 'send [2,"1","StartTransaction",{}]', "store 1"]
    assert station.store.load("outbox") == {}
    assert station.store.load_config() == {"HeartbeatInterval": "60"}


def test_a_failing_store_keeps_the_writes_and_catches_up() -> None:
    executor, station = _executor()
    station.store.broken = True
    executor.execute([fx.Persist("outbox", "000000000001", {"n": 1}), fx.StoreAvailability(1, False)])
    assert executor.storage_error == "disk full"
    assert len(executor.pending_ops) == 2
    executor.execute([fx.Persist("outbox", "000000000002", {"n": 2})])  # still broken: kept, in order
    assert len(executor.pending_ops) == 3
    station.store.broken = False
    executor.execute([])
    assert executor.storage_error is None and executor.pending_ops == []
    assert station.store.load("outbox") == {"000000000001": {"n": 1}, "000000000002": {"n": 2}}
    assert station.store.load_availability() == {1: False}


def test_a_frame_without_a_link_is_dropped_not_raised() -> None:
    executor, station = _executor()
    station.link.ws = None
    executor.execute([fx.SendFrame(b"[2]")])
    assert station.journal == []
