"""The timer heap against the simple model it replaced (a dict scanned for the earliest deadline)."""

from __future__ import annotations

from collections.abc import Callable, Hashable

from hypothesis import given, settings
from hypothesis import strategies as st

from ocpp_station.core.timers import Timers


class ScanModel:
    """The previous implementation: deadlines in a dict, the earliest found by a scan; ties fire in
    the dict's order (a key set again keeps its place)."""

    def __init__(self) -> None:
        self.due: dict[Hashable, tuple[float, Callable[[float], None]]] = {}

    def set(self, key: Hashable, at: float, callback: Callable[[float], None]) -> None:
        self.due[key] = (at, callback)

    def cancel(self, key: Hashable) -> None:
        self.due.pop(key, None)

    def next_deadline(self) -> float | None:
        return min((at for at, _ in self.due.values()), default=None)

    def fire(self, now: float) -> None:
        while True:
            ready = [(at, key) for key, (at, _) in self.due.items() if at <= now]
            if not ready:
                return
            _, key = min(ready, key=lambda item: item[0])
            _, callback = self.due.pop(key)
            callback(now)


keys = st.sampled_from(["heartbeat", "aligned", ("sample", 1), ("sample", 2), ("status", 1), "reset"])
ops = st.lists(
    st.one_of(
        st.tuples(st.just("set"), keys, st.integers(0, 20), st.booleans()),
        st.tuples(st.just("cancel"), keys, st.just(0), st.just(False)),
        st.tuples(st.just("fire"), keys, st.integers(0, 20), st.just(False)),
    ),
    max_size=60,
)


@settings(max_examples=400)
@given(ops)
def test_heap_fires_like_the_scan(program: list[tuple[str, Hashable, int, bool]]) -> None:
    runs: dict[str, list[tuple[Hashable, float]]] = {"heap": [], "scan": []}
    heap, scan = Timers(), ScanModel()
    now = 0.0
    for op, key, value, chain in program:
        for name, timers in (("heap", heap), ("scan", scan)):
            log = runs[name]

            def callback(at: float, key: Hashable = key, timers: object = timers, log: list = log) -> None:
                log.append((key, at))

            def chained(
                at: float, key: Hashable = key, timers: Timers | ScanModel = timers, log: list = log
            ) -> None:
                log.append((key, at))
                timers.set(("then", key), at, lambda t, key=key, log=log: log.append((("then", key), t)))

            if op == "set":
                timers.set(key, now + value, chained if chain else callback)
            elif op == "cancel":
                timers.cancel(key)
        if op == "fire":
            now += value
            heap.fire(now)
            scan.fire(now)
        assert heap.next_deadline() == scan.next_deadline()
        assert runs["heap"] == runs["scan"]


def test_many_moves_keep_the_heap_small() -> None:
    timers = Timers()
    for n in range(10_000):
        timers.set("heartbeat", float(n), lambda now: None)
    assert len(timers) == 1 and len(timers._heap) <= 64
    assert timers.next_deadline() == 9999.0
