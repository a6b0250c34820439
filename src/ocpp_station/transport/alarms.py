"""One asyncio timer for the deadlines of every station on an event loop (issue 9: the hot path).

Each station has one deadline at a time: the engine's next one (``Engine.next_deadline``). With an
asyncio ``TimerHandle`` per station, every re-arm allocates a handle and pushes it on the loop's heap,
whose entries compare through a Python method (``TimerHandle.__lt__``); a fleet re-arms once per CALL.
Here the deadlines of all stations of a loop live in one heap of plain tuples (compared in C), and the
loop holds a single timer: the earliest of them. Stations due at the same moment fire in one callback.

A station is an :class:`AlarmOwner`: :meth:`Alarms.set` returns a sequence number that the owner keeps
in ``alarm_seq``; setting again or setting ``alarm_seq = 0`` makes the old entry stale (it is dropped
when it comes up, or by a compaction once the heap has doubled since the last one). ``alarm_fired`` runs on
the loop, once, when the deadline is reached; an exception it raises goes to the loop's exception
handler, as one from a ``call_later`` callback would, and the other owners still fire.
"""

from __future__ import annotations

import asyncio
import heapq
import math
import weakref
from typing import Protocol


class AlarmOwner(Protocol):
    #: The sequence number of the owner's pending alarm; 0: none.
    alarm_seq: int

    def alarm_fired(self) -> None:
        """The deadline set last was reached (``alarm_seq`` is 0 again)."""


#: Deadlines are rounded up to a multiple of this (seconds): stations due within the same slice fire in
#: one callback, and their CALLs' replies come back together, so the loop wakes less often and finds
#: more to do each time (OCPP's timers count in seconds; none is early).
GRANULARITY_S = 0.01
#: Entries tolerated beyond twice the live ones of the last compaction before the next one.
_COMPACT_SLACK = 1024


class Alarms:
    """The deadlines of one event loop's stations: use :meth:`of`."""

    __slots__ = (
        "__weakref__",
        "_armed_at",
        "_compacted_to",
        "_handle",
        "_heap",
        "_loop",
        "_seq",
        "granularity_s",
    )

    def __init__(self, loop: asyncio.AbstractEventLoop, granularity_s: float = GRANULARITY_S) -> None:
        self._loop = loop
        self.granularity_s = granularity_s
        #: (loop time, sequence number, owner); an entry whose number is not the owner's is stale.
        self._heap: list[tuple[float, int, AlarmOwner]] = []
        self._seq = 0
        #: The loop's timer for the earliest entry, and when it is due (inf: none armed).
        self._handle: asyncio.TimerHandle | None = None
        self._armed_at = math.inf
        #: The heap's size after the last compaction (its live entries then).
        self._compacted_to = 0

    @classmethod
    def of(cls, loop: asyncio.AbstractEventLoop) -> Alarms:
        """The loop's alarms, made at the first use. The registry holds them weakly: they live as long
        as a station holds them (``Station._alarms``) or the loop holds their timer, and go with the
        loop and its stations (a registry keyed by the loop would keep every loop alive: each station
        refers to its loop)."""
        alarms = _BY_LOOP.get(id(loop))
        if alarms is None or alarms._loop is not loop:
            alarms = cls(loop)
            _BY_LOOP[id(loop)] = alarms
        return alarms

    def set(self, delay: float, owner: AlarmOwner) -> int:
        """Fire ``owner.alarm_fired()`` in ``delay`` seconds; returns the number for ``alarm_seq``."""
        loop = self._loop
        when = loop.time() + delay
        granularity = self.granularity_s
        if granularity > 0:
            when = math.ceil(when / granularity) * granularity
        self._seq = seq = self._seq + 1
        heap = self._heap
        heapq.heappush(heap, (when, seq, owner))
        if when < self._armed_at:
            if self._handle is not None:
                self._handle.cancel()
            self._handle = loop.call_at(when, self._fire)
            self._armed_at = when
        elif len(heap) > 2 * self._compacted_to + _COMPACT_SLACK:
            self._compact()  # amortized: the heap has at least doubled since the last one
        return seq

    def pending(self) -> int:
        """Live entries (an O(n) count: for compaction and tests)."""
        return sum(1 for _, seq, owner in self._heap if owner.alarm_seq == seq)

    def __len__(self) -> int:
        """Entries in the heap, stale ones included."""
        return len(self._heap)

    def _fire(self) -> None:
        """Fire every owner due by now. An alarm set by one of them, even for now, waits for the next
        round (a later loop iteration, as with ``call_later(0)``): an owner that keeps setting its
        deadline in the past cannot hold the loop."""
        self._handle = None
        self._armed_at = math.inf
        loop = self._loop
        heap = self._heap
        now = loop.time()
        last = self._seq
        pop = heapq.heappop
        later: list[tuple[float, int, AlarmOwner]] = []
        while heap and heap[0][0] <= now:
            entry = pop(heap)
            _, seq, owner = entry
            if owner.alarm_seq != seq:
                continue  # set again or cancelled since
            if seq > last:
                later.append(entry)
                continue
            owner.alarm_seq = 0
            try:
                owner.alarm_fired()
            except Exception as exc:
                loop.call_exception_handler(
                    {"message": f"exception in the alarm of {owner!r}", "exception": exc}
                )
        for entry in later:
            heapq.heappush(heap, entry)
        while heap and heap[0][2].alarm_seq != heap[0][1]:
            pop(heap)  # stale entries at the top would only wake the loop for nothing
        if heap:
            when = heap[0][0]
            if when < self._armed_at:  # an alarm set above may have armed a later one
                if self._handle is not None:
                    self._handle.cancel()
                self._handle = loop.call_at(when, self._fire)
                self._armed_at = when

    def _compact(self) -> None:
        self._heap = [entry for entry in self._heap if entry[2].alarm_seq == entry[1]]
        heapq.heapify(self._heap)
        self._compacted_to = len(self._heap)


#: id(loop) -> its alarms, while they live (an id is not reused while its loop lives, and the alarms
#: keep their loop alive).
_BY_LOOP: weakref.WeakValueDictionary[int, Alarms] = weakref.WeakValueDictionary()
