"""One asyncio event loop in one native OS thread, beside Locust's gevent world.

Locust runs on gevent and monkey-patches the standard library (``threading``, ``socket``, ``select``,
``selectors``, ``time.sleep``); the stations are asyncio. Running asyncio on the patched modules would
either run the loop inside gevent's hub (every ``select`` a greenlet switch) or, in a ``threading.Thread``
that gevent turned into a greenlet, block the whole worker. So :class:`StationLoop` takes the originals
gevent saved:

* the thread is started with the original ``_thread.start_new_thread``: a real OS thread, which
  gevent's hub never schedules;
* its selector is the original ``EpollSelector`` (kqueue / poll elsewhere): the asyncio loop waits in
  the kernel, not in gevent;
* ``run_in_executor`` (``asyncio.to_thread``, ``getaddrinfo``) starts a native thread per call and
  settles its future through ``call_soon_threadsafe``: the stdlib executor's threads would be greenlets
  of a hub that never runs in this thread.

The greenlets talk to the loop only through :meth:`StationLoop.call` (a function run on the loop, its
result polled from the greenlet: no lock is shared between the two worlds) and, for the request
events, through a ``collections.deque`` drained on the gevent side (:mod:`ocpp_station.locust`).

Without gevent (``LOCUST_SKIP_MONKEY_PATCH``, or outside Locust) the same code runs on the plain
modules: ``gevent.monkey.get_original`` returns what is there.
"""

from __future__ import annotations

import asyncio
import selectors
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar, overload

from gevent import monkey  # type: ignore[import-untyped]

T = TypeVar("T")

#: A greenlet waiting for the loop looks again after 1 ms, then twice as long each time up to 50 ms:
#: quick answers come back at once, and a thousand users waiting for their boot cost little.
POLL_FIRST_S = 0.001
POLL_MAX_S = 0.05


def _original(module: str, name: str) -> Any:
    """The standard library's own ``module.name``, as it was before gevent patched it."""
    return monkey.get_original(module, name)


def native_selector() -> selectors.BaseSelector:
    """The kernel's selector (epoll, kqueue, poll, select: the first the platform has), unpatched."""
    for name in ("EpollSelector", "KqueueSelector", "PollSelector"):
        try:
            cls = _original("selectors", name)
        except AttributeError:
            continue
        if cls is not None:
            selector: selectors.BaseSelector = cls()
            return selector
    select_selector: selectors.BaseSelector = _original("selectors", "SelectSelector")()
    return select_selector


def start_native_thread(work: Callable[[], None]) -> None:
    """Run ``work`` in a new OS thread (never a greenlet, whatever gevent patched)."""
    _original("_thread", "start_new_thread")(work, ())


class NativeThreadLoop(asyncio.SelectorEventLoop):
    """A selector event loop whose blocking helpers run in native threads (see the module docstring)."""

    def run_in_executor(  # type: ignore[override]
        self, executor: Any, func: Callable[..., T], *args: Any
    ) -> asyncio.Future[T]:
        future: asyncio.Future[T] = self.create_future()

        def settle(result: Any, error: BaseException | None) -> None:
            if future.cancelled():
                return
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(result)

        def work() -> None:
            try:
                result = func(*args)
            except BaseException as exc:
                self.call_soon_threadsafe(settle, None, exc)
            else:
                self.call_soon_threadsafe(settle, result, None)

        start_native_thread(work)
        return future

    async def getaddrinfo(
        self, host: Any, port: Any, *, family: int = 0, type: int = 0, proto: int = 0, flags: int = 0
    ) -> list[tuple[Any, ...]]:
        """The resolver of the C library in a native thread (gevent's would need its hub)."""
        resolve: Callable[..., list[tuple[Any, ...]]] = _original("socket", "getaddrinfo")
        return await self.run_in_executor(None, resolve, host, port, family, type, proto, flags)


class _Outcome:
    """A function's result handed from the loop thread to a polling greenlet (attribute writes only)."""

    __slots__ = ("done", "error", "value")

    def __init__(self) -> None:
        self.done = False
        self.value: Any = None
        self.error: BaseException | None = None


class StationLoop:
    """The asyncio loop of one Locust process, in its own native thread; made once, never stopped (the
    thread is a daemon: it ends with the process)."""

    def __init__(self) -> None:
        self.loop = NativeThreadLoop(native_selector())
        #: Tasks started by :meth:`start`, held until done (the loop keeps only weak references);
        #: touched on the loop thread only.
        self._tasks: set[asyncio.Task[Any]] = set()
        start_native_thread(self._run)  # what is called before it runs waits in the loop's queue

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    @overload
    def call(self, func: Callable[[], Coroutine[Any, Any, T]], timeout: float = 30.0) -> T: ...

    @overload
    def call(self, func: Callable[[], T], timeout: float = 30.0) -> T: ...

    def call(self, func: Callable[[], Any], timeout: float = 30.0) -> Any:
        """Run ``func()`` on the loop (from a greenlet or any thread), and when it returns a coroutine
        run that as a task; return the result or raise the exception. A greenlet waiting here lets the
        others run; TimeoutError after ``timeout`` s (the work itself goes on)."""
        outcome = _Outcome()

        def finished(task: asyncio.Task[Any]) -> None:
            if task.cancelled():
                outcome.error = asyncio.CancelledError()
            else:
                outcome.error = task.exception()
                if outcome.error is None:
                    outcome.value = task.result()
            outcome.done = True

        def run() -> None:
            try:
                value = func()
                if asyncio.iscoroutine(value):
                    task = self.loop.create_task(value)
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
                    task.add_done_callback(finished)
                    return
                outcome.value = value
            except BaseException as exc:
                outcome.error = exc
            outcome.done = True

        self.loop.call_soon_threadsafe(run)
        return self._wait(outcome, timeout)

    def start(self, make: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Start the coroutine ``make()`` as a task on the loop without waiting for it."""
        tasks = self._tasks

        def start() -> None:
            task = self.loop.create_task(make())
            tasks.add(task)
            task.add_done_callback(tasks.discard)

        self.loop.call_soon_threadsafe(start)

    @staticmethod
    def _wait(outcome: _Outcome, timeout: float) -> Any:
        deadline = time.monotonic() + timeout
        pause = POLL_FIRST_S
        while not outcome.done:
            if time.monotonic() >= deadline:
                raise TimeoutError(f"the station loop did not answer within {timeout:g} s")
            time.sleep(pause)  # gevent.sleep once Locust monkey-patched: the other greenlets run
            pause = min(POLL_MAX_S, pause * 2)
        if outcome.error is not None:
            raise outcome.error
        return outcome.value


_shared: StationLoop | None = None


def shared_loop() -> StationLoop:
    """The process's one :class:`StationLoop`, made at the first call (it never yields to another
    greenlet, so two users starting at once still share one)."""
    global _shared
    if _shared is None:
        _shared = StationLoop()
    return _shared
