"""Named deadlines (aioquic's ``get_timer`` contract): the engine exposes only the earliest."""

from __future__ import annotations

from collections.abc import Callable, Hashable


class Timers:
    """Deadlines by key; setting a key again moves it. Callbacks take ``now``."""

    def __init__(self) -> None:
        self._due: dict[Hashable, tuple[float, Callable[[float], None]]] = {}

    def set(self, key: Hashable, at: float, callback: Callable[[float], None]) -> None:
        self._due[key] = (at, callback)

    def cancel(self, key: Hashable) -> None:
        self._due.pop(key, None)

    def due_at(self, key: Hashable) -> float | None:
        entry = self._due.get(key)
        return None if entry is None else entry[0]

    def next_deadline(self) -> float | None:
        return min((at for at, _ in self._due.values()), default=None)

    def fire(self, now: float) -> None:
        """Run every callback whose deadline is at or before ``now``, earliest first."""
        while True:
            ready = [(at, key) for key, (at, _) in self._due.items() if at <= now]
            if not ready:
                return
            _, key = min(ready, key=lambda item: item[0])
            _, callback = self._due.pop(key)
            callback(now)
