"""Run a fleet: N :class:`~ocpp_station.transport.station.Station` in one asyncio process, or in
several worker processes with their statistics aggregated by the parent.

One process (``processes == 1``): :func:`run_stations` starts the stations at the configured pace
(``ramp`` per second), each with the memory store and the fleet's diagnostics-log default (none),
sharing one :class:`~ocpp_station.fleet.stats.FleetStats` as their CallObserver; it samples the gauges
once a second, runs the ATG of every station whose template has one and the fleet's timed actions,
and at the end (the duration, SIGINT/SIGTERM, or the caller's ``stop``) stops every station cleanly
(:meth:`Station.stop`: transactions stopped, the queue given its grace, close code 1000).

Several (``--processes N``): N worker processes (multiprocessing ``spawn``), worker k running the
stations k, k+N, k+2N ... (so every worker gets its share of each template) at ramp/N each, and sending
a statistics snapshot over its pipe every second; the parent merges them (exact: counters and
histogram buckets add up), shows the progress and writes the report. The parent tells the workers to
stop over the same pipe; a worker whose parent is gone (the pipe closes) stops by itself.

The event loop is uvloop's when it is installed (``pip install "ocpp-station[fleet]"``).
permessage-deflate is off for every station (``transport/connection.py`` never offers it).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib
import logging
import multiprocessing
import resource
import signal
import sys
import time
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from typing import Any, Protocol

from ocpp_station.config.station import StationConfig
from ocpp_station.fleet.config import FleetConfig
from ocpp_station.fleet.report import build_report, write_report
from ocpp_station.fleet.stats import FleetStats, empty_snapshot, merge, summarize
from ocpp_station.logs import JsonFormatter, configure_logging
from ocpp_station.transport.station import Station

log = logging.getLogger("ocpp_station.fleet")

#: Seconds between gauge samples and between the workers' snapshots.
SAMPLE_S = 1.0
#: How long the clean stop of every station may take beyond their shutdown grace.
STOP_MARGIN_S = 15.0


class FleetStation(Station):
    """A Station that also tells its process's statistics when its websocket opens (connects,
    reconnects); its CALLs reach the same statistics as its engine's CallObserver."""

    def __init__(self, config: StationConfig, stats: FleetStats) -> None:
        super().__init__(config, call_observer=stats)
        self._fleet_stats = stats
        #: Websockets this station opened (the dashboard's station table sorts by its reconnects).
        self._opens = 0

    @property
    def reconnects(self) -> int:
        return max(0, self._opens - 1)

    def link_opened(self) -> None:
        stats = self._fleet_stats
        stats.connects += 1
        if self._opens:
            stats.reconnects += 1
        self._opens += 1
        super().link_opened()


#: Stations sampled per slice: a slice is one step of the event loop (about a millisecond), so that
#: sampling 10,000 stations never holds up their frames for tens of milliseconds at once.
SAMPLE_SLICE = 1000


class _Tally:
    """The gauges being summed over the stations, slice by slice."""

    __slots__ = ("booted", "by_status", "charging", "connected", "faulted", "queue")

    def __init__(self) -> None:
        self.connected = self.booted = self.charging = self.faulted = self.queue = 0
        self.by_status: dict[str, int] = {}

    def add(self, stations: Sequence[Station]) -> None:
        connected = booted = charging = faulted = queue = 0
        by_status = self.by_status
        for station in stations:
            up, accepted, statuses, queued = station.view.gauges()
            connected += up
            booted += accepted
            charging += "Charging" in statuses
            faulted += "Faulted" in statuses
            queue += queued
            for status in statuses:
                by_status[status] = by_status.get(status, 0) + 1
        self.connected += connected
        self.booted += booted
        self.charging += charging
        self.faulted += faulted
        self.queue += queue

    def publish(self, stations: int, stats: FleetStats) -> None:
        stats.statuses = self.by_status
        stats.gauges.update(
            stations=stations,
            connected=self.connected,
            booted=self.booted,
            charging=self.charging,
            faulted=self.faulted,
            queue=self.queue,
        )


def sample_gauges(stations: Sequence[Station], stats: FleetStats) -> None:
    """The gauges of ``stats`` from each station's read-only view: connected, booted (BootNotification
    Accepted), charging / faulted (a connector that is), queued CALLs, connectors per status. Once a
    second, not per event (:func:`sample_gauges_sliced` while the stations run)."""
    tally = _Tally()
    tally.add(stations)
    tally.publish(len(stations), stats)


async def sample_gauges_sliced(stations: Sequence[Station], stats: FleetStats) -> None:
    """:func:`sample_gauges` in slices of :data:`SAMPLE_SLICE` stations, the event loop running the
    stations' frames and timers between two slices; the gauges change once, at the end."""
    tally = _Tally()
    count = len(stations)
    for start in range(0, count, SAMPLE_SLICE):
        if start:
            await asyncio.sleep(0)
        tally.add(stations[start : start + SAMPLE_SLICE])
    tally.publish(count, stats)


#: The youngest generation's threshold once the fleet is up (Python's default: 700 allocations).
GC_THRESHOLD0 = 20_000


def settle_gc() -> None:
    """Tune the cyclic garbage collector of a process full of stations, once they have all started.

    Measured (bench/bench_fleet.py, 19,500 stations in one process, 750 CALLs/s): with Python's
    defaults a full collection ran every few seconds, up to 1.1 s each, 23 % of the time in all (and
    the p99 CALL latency in seconds). What exists now (the stations, their engines, their connections)
    is collected once and frozen out of every later collection (:func:`gc.freeze`); the youngest
    generation is collected every :data:`GC_THRESHOLD0` allocations instead of 700, so the objects of
    one CALL (frames, futures, timer handles, gone within milliseconds) die before a collection
    promotes them to the older generations, whose growth is what triggers a full collection. Cyclic
    garbage is still collected; only what is alive now is never scanned again."""
    gc.collect()
    gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(GC_THRESHOLD0, middle, oldest)


#: How often the young objects of a fleet process are collected and frozen (:func:`tend_gc`).
GC_TEND_S = 1.0


def tend_gc() -> None:
    """Once a second after :func:`settle_gc`: collect the youngest generation and freeze what survived.

    Measured (bench/bench_fleet.py, 2026-11-30): at 15,000 stations one collection of the youngest
    generation took 480 ms of CPU and freed nothing, at 19,500 the 21 collections of a 3-minute window
    took 3.1 s (the longest 582 ms) and freed nothing. A station replaces a few of its objects each
    cycle (the meter reading, its sample timer's entries): the new ones stay in the youngest
    generation while the old ones, frozen, die by reference counting, so Python's count of
    allocations barely moves and a collection comes rarely, then finds the replacements of every
    station at once. Collected every second, the young objects are a second's worth (a few
    milliseconds); frozen at once, they are never scanned again. Objects that die in a cycle within
    the second are still collected; what dies in a cycle after it was frozen is not (the same as for
    everything :func:`settle_gc` froze): the steady load made no cyclic garbage in these runs."""
    gc.collect(0)
    gc.freeze()


class Every:
    """``action()`` every ``interval_s`` on the loop (a timer, no task) until :meth:`cancel`."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, interval_s: float, action: Callable[[], None]
    ) -> None:
        self._loop = loop
        self._interval_s = interval_s
        self._action = action
        self._handle = loop.call_later(interval_s, self._fire)

    def _fire(self) -> None:
        self._action()
        self._handle = self._loop.call_later(self._interval_s, self._fire)

    def cancel(self) -> None:
        self._handle.cancel()


async def run_stations(
    config: FleetConfig,
    indices: Sequence[int],
    stats: FleetStats,
    stop: asyncio.Event,
    *,
    ramp_per_s: float,
    on_sample: Callable[[], None] | None = None,
    stations: list[Station] | None = None,
    tune_gc: bool = False,
) -> None:
    """Run stations ``indices`` of ``config`` in this process until ``stop`` is set (or the duration
    has passed), then stop them all cleanly. ``on_sample`` is called after each gauge sample.
    ``tune_gc``: :func:`settle_gc` once every station has started, then :func:`tend_gc` every
    :data:`GC_TEND_S` (a process of its own: the command's, a worker; it changes the collector of the
    whole process).
    ``stations``: the list to fill as they start, in ``indices`` order (the control API reads it)."""
    loop = asyncio.get_running_loop()
    stations = [] if stations is None else stations
    runs: list[asyncio.Task[None]] = []
    extras: list[asyncio.Task[None]] = []
    #: The ATGs (fleet/atg.py start_atg): a timer each on the loop, no task (about 1 KB per station).
    drivers: list[Any] = []
    duration = config.duration_s
    timer = loop.call_later(duration, stop.set) if duration is not None else None
    tending: Every | None = None
    sampler = asyncio.create_task(_sample(stations, stats, stop, on_sample))
    if config.actions:
        run_actions = importlib.import_module("ocpp_station.fleet.scenarios").run_actions
        # The live list: the actions see the stations started so far (it grows during the ramp).
        extras.append(asyncio.create_task(run_actions(stations, config.actions, config.seed, stop)))
    started = loop.time()
    try:
        position = 0
        while position < len(indices) and not stop.is_set():
            due = int((loop.time() - started) * ramp_per_s) + 1
            while position < min(due, len(indices)):
                index = indices[position]
                station = FleetStation(config.station_config(index), stats)
                stations.append(station)
                runs.append(asyncio.create_task(station.run(), name=station.config.charge_point_id))
                template = config.templates[config.template_of[index]]
                if template.atg is not None:
                    start_atg = importlib.import_module("ocpp_station.fleet.atg").start_atg
                    drivers.append(start_atg(station, template.atg, config.seed + index))
                position += 1
            if position < len(indices):
                next_at = started + position / ramp_per_s
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(max(0.0, next_at - loop.time())):
                        await stop.wait()
        if tune_gc and not stop.is_set():
            settle_gc()
            tending = Every(loop, GC_TEND_S, tend_gc)
        await stop.wait()
    finally:
        stop.set()
        if tending is not None:
            tending.cancel()
        if timer is not None:
            timer.cancel()
        for driver in drivers:  # no new step; a network drop or a fault the ATG caused is undone
            with contextlib.suppress(Exception):
                driver.close()
        await _stop_all(stations, runs, extras)
        sampler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampler
        sample_gauges(stations, stats)
        for each in stations:
            with contextlib.suppress(Exception):
                each.close()


async def _sample(
    stations: list[Station], stats: FleetStats, stop: asyncio.Event, on_sample: Callable[[], None] | None
) -> None:
    while True:
        await sample_gauges_sliced(stations, stats)
        if on_sample is not None:
            on_sample()
        await asyncio.sleep(SAMPLE_S)


async def _stop_all(
    stations: list[Station], runs: list[asyncio.Task[None]], extras: list[asyncio.Task[None]]
) -> None:
    """The clean stop: the ATGs and actions end (they watch ``stop``), every station stops (its
    transactions, its queue's grace, close 1000); what does not end in time is cancelled."""
    if extras:
        done, pending = await asyncio.wait(extras, timeout=5)
        for task in pending:
            task.cancel()
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                log.error("fleet: %s", task.exception())
    grace = max((s.config.durability.shutdown_grace_s for s in stations), default=0.0)
    stopping = [asyncio.create_task(s.stop()) for s in stations]
    if stopping:
        done, pending = await asyncio.wait(stopping, timeout=grace + STOP_MARGIN_S)
        for task in pending:
            task.cancel()
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                log.warning("fleet: a station's stop failed: %s", task.exception())
    if runs:
        _done, pending = await asyncio.wait(runs, timeout=STOP_MARGIN_S)
        for task in pending:
            task.cancel()
        await asyncio.gather(*runs, return_exceptions=True)


# -- progress -------------------------------------------------------------------------------------------


class Progress(Protocol):
    """What the runner shows while it runs: called about once a second with the summary so far
    (:func:`ocpp_station.fleet.stats.summarize`), and once more at the end with ``final`` True. The
    plain line below is the default; a live terminal view (rich) is another implementation."""

    def update(self, summary: dict[str, Any], final: bool = False) -> None: ...


class PlainProgress:
    """One line on stderr every ``every_s`` seconds (and at the end)."""

    def __init__(self, every_s: float = 5.0, stream: Any = None) -> None:
        self.every_s = every_s
        self.stream = stream
        self._last_at = 0.0
        self._last_sent = 0
        self._last_elapsed = 0.0

    def update(self, summary: dict[str, Any], final: bool = False) -> None:
        elapsed = summary["elapsedSeconds"]
        if not final and elapsed - self._last_at < self.every_s:
            return
        totals, g = summary["totals"], summary["gauges"]
        span = elapsed - self._last_elapsed
        rate = (totals["sent"] - self._last_sent) / span if span > 0 else 0.0
        self._last_at = self._last_elapsed = elapsed
        self._last_sent = totals["sent"]
        p99 = totals["p99Ms"]
        line = (
            f"fleet {elapsed:7.1f}s  stations {g['stations']}  connected {g['connected']}  "
            f"booted {g['booted']}  charging {g['charging']}  faulted {g['faulted']}  "
            f"CALLs/s {rate:.1f}  sent {totals['sent']}  errors {totals['callErrors']}  "
            f"timeouts {totals['timeouts']}  reconnects {summary['reconnects']}  queue {g['queue']}  "
            f"p99 {'-' if p99 is None else f'{p99:.1f} ms'}"
        )
        print(("done: " if final else "") + line, file=self.stream or sys.stderr, flush=True)


def choose_progress(live: bool | None, every_s: float = 5.0) -> Progress:
    """The live view (``fleet/live.py``, rich) when ``live`` is True, or None and stderr is a
    terminal; the plain line otherwise (and when rich is not installed)."""
    if live is None:
        live = sys.stderr.isatty()
    if live:
        try:
            from ocpp_station.fleet.live import LiveProgress
        except ImportError:
            log.warning('fleet: the live view needs rich (pip install "ocpp-station[fleet]"): plain lines')
        else:
            return LiveProgress()
    return PlainProgress(every_s)


# -- the whole fleet: one process or several ------------------------------------------------------------


async def run_fleet(
    config: FleetConfig,
    *,
    stop: asyncio.Event | None = None,
    progress: Progress | None = None,
    handle_signals: bool = False,
    control_ready: Callable[[int], None] | None = None,
    tune_gc: bool = False,
) -> dict[str, Any]:
    """Run the fleet until its duration has passed or ``stop`` is set (SIGINT/SIGTERM too with
    ``handle_signals``); return the report (:func:`ocpp_station.fleet.report.build_report`) and write
    it to ``config.report`` when set. Every station is stopped cleanly before it returns.

    With ``config.control_port`` set, the control API and /metrics (:mod:`ocpp_station.fleet.control`)
    are served from before the first station starts until the end; ``control_ready`` gets the port.
    ``tune_gc``: :func:`settle_gc` in this process once its stations have started (``ocpp-station
    fleet`` asks for it; worker processes always do it in their own process)."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM) if handle_signals else ()
    for sig in signals:
        loop.add_signal_handler(sig, stop.set)
    started_wall = time.time()
    started = loop.time()
    processes = config.process_count
    _raise_nofile(config.count // processes * 2 + 1024)

    events: Any = None  # the dashboard's FleetEvents (fleet/dashboard.py), with a control port

    def show(snapshot: dict[str, Any], final: bool = False) -> None:
        if progress is not None:
            progress.update(summarize(snapshot, loop.time() - started), final)
        if events is not None and not final:
            events.tick()  # the pages listening get the aggregate (nothing when none is)

    stats = FleetStats()
    stations: list[Station] = []
    workers = Workers(processes) if processes > 1 else None
    api = None
    try:
        if config.control_port is not None:
            from ocpp_station.fleet.control import LocalBackend, StationGroup, start_fleet_api
            from ocpp_station.fleet.dashboard import EVENTS

            backend = workers or LocalBackend(StationGroup(config, stations, range(config.count)))
            api, port = await start_fleet_api(
                config,
                backend,
                workers.snapshot if workers else stats.snapshot,
                lambda: loop.time() - started,
            )
            events = api.app[EVENTS]
            if control_ready is not None:
                control_ready(port)
        if workers is None:
            await run_stations(
                config,
                range(config.count),
                stats,
                stop,
                ramp_per_s=config.ramp_per_s,
                on_sample=lambda: show(stats.snapshot()),
                stations=stations,
                tune_gc=tune_gc,
            )
            snapshot = stats.snapshot()
        else:
            snapshot = await _run_workers(config, workers, stop, show)
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
        if api is not None:
            await api.cleanup()
    elapsed = loop.time() - started
    show(snapshot, final=True)
    report = build_report(config, snapshot, elapsed, started_wall, processes)
    if config.report is not None:
        write_report(config.report, report)
    return report


class Workers:
    """The parent's side of the worker processes: their pipes, their latest statistics snapshots,
    and the control API's requests to them (:meth:`ask`: every worker answers for its own stations,
    ``fleet/control.py`` merges the answers)."""

    def __init__(self, processes: int) -> None:
        self.conns: list[Connection] = []
        self.latest = [empty_snapshot() for _ in range(processes)]
        self.finished = [asyncio.Event() for _ in range(processes)]
        #: Each worker's server of its own stations' routes (the dashboard's drill-down), once told.
        self.ports: list[int | None] = [None] * processes
        self._next_request = 0
        #: request id -> (the answers so far by worker, the future of all of them)
        self._pending: dict[int, tuple[dict[int, dict[str, Any]], asyncio.Future[None]]] = {}

    def snapshot(self) -> dict[str, Any]:
        """The merged statistics (each worker's at most a second old)."""
        return merge(self.latest)

    def station_port(self, index: int) -> int | None:
        """The port of the station server of the worker running station ``index`` (it runs
        ``range(part, count, processes)``); None until the worker has told it, or once it has ended."""
        part = index % len(self.ports)
        return None if self.finished[part].is_set() else self.ports[part]

    async def ask(self, request: dict[str, Any]) -> list[dict[str, Any]]:
        """Send ``request`` to every running worker and return their answers (those that answer in
        time; a worker that has stopped answers nothing)."""
        self._next_request += 1
        rid = self._next_request
        answers: dict[int, dict[str, Any]] = {}
        done = asyncio.get_running_loop().create_future()
        self._pending[rid] = (answers, done)
        try:
            for part, conn in enumerate(self.conns):
                if not self.finished[part].is_set():
                    try:
                        conn.send(("control", rid, request))
                    except OSError:
                        answers[part] = {}
            self._check(rid)
            async with asyncio.timeout(10.0):
                await done
        except TimeoutError:
            raise TimeoutError("a worker process did not answer in 10 s") from None
        finally:
            self._pending.pop(rid, None)
        return [answer for answer in answers.values() if answer]

    def answered(self, part: int, rid: int, answer: dict[str, Any]) -> None:
        pending = self._pending.get(rid)
        if pending is not None:
            pending[0][part] = answer
            self._check(rid)

    def _check(self, rid: int) -> None:
        answers, done = self._pending[rid]
        waiting = [p for p in range(len(self.conns)) if p not in answers and not self.finished[p].is_set()]
        if not waiting and not done.done():
            done.set_result(None)

    def gone(self, part: int) -> None:
        """Worker ``part`` has finished: its pending answers are none."""
        self.finished[part].set()
        for rid in list(self._pending):
            self._check(rid)


async def _run_workers(
    config: FleetConfig, pool: Workers, stop: asyncio.Event, show: Callable[[dict[str, Any]], None]
) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    ctx = multiprocessing.get_context("spawn")
    processes = len(pool.latest)
    latest = pool.latest
    finished = pool.finished
    conns = pool.conns
    workers: list[Any] = []  # spawn Process objects

    def on_message(part: int) -> None:
        conn = conns[part]
        try:
            message = conn.recv()
        except (EOFError, OSError):
            message = ("gone", None)
        if message[0] == "reply":
            pool.answered(part, message[1], message[2])
            return
        if message[0] == "port":
            pool.ports[part] = message[1]
            return
        kind, snapshot = message
        if snapshot is not None:
            latest[part] = snapshot
        if kind != "snapshot":
            loop.remove_reader(conn.fileno())
            if kind == "gone":
                log.error("fleet: worker %d ended without its final statistics", part)
            pool.gone(part)
        elif part == 0:
            show(merge(latest))

    level = logging.getLogger().getEffectiveLevel()
    json_logs = any(isinstance(h.formatter, JsonFormatter) for h in logging.getLogger().handlers)
    for part in range(processes):
        parent_end, child_end = ctx.Pipe(duplex=True)
        worker = ctx.Process(
            target=worker_main,
            args=(config, part, processes, child_end, level, "json" if json_logs else "text"),
            name=f"fleet-worker-{part}",
            daemon=True,
        )
        worker.start()
        child_end.close()
        conns.append(parent_end)
        workers.append(worker)
        loop.add_reader(parent_end.fileno(), on_message, part)
    try:
        all_finished = asyncio.ensure_future(_all_set(finished))
        stop_wait = asyncio.ensure_future(stop.wait())
        await asyncio.wait([all_finished, stop_wait], return_when=asyncio.FIRST_COMPLETED)
        stop_wait.cancel()
        for conn, done in zip(conns, finished, strict=True):
            if not done.is_set():
                with contextlib.suppress(OSError):
                    conn.send("stop")
        grace = max(t.station.durability.shutdown_grace_s for t in config.templates)
        try:
            async with asyncio.timeout(grace + 2 * STOP_MARGIN_S):
                await all_finished
        except TimeoutError:
            log.error("fleet: some workers did not stop in time; their last statistics are used")
    finally:
        for part, conn in enumerate(conns):
            if not finished[part].is_set():
                with contextlib.suppress(Exception):
                    loop.remove_reader(conn.fileno())
            conn.close()
        for worker in workers:
            await loop.run_in_executor(None, worker.join, 10)
            if worker.is_alive():
                worker.kill()
                await loop.run_in_executor(None, worker.join, 5)
    return merge(latest)


async def _all_set(events: list[asyncio.Event]) -> None:
    for event in events:
        await event.wait()


def worker_main(
    config: FleetConfig, part: int, parts: int, conn: Connection, log_level: int, log_format: str = "text"
) -> None:
    """A worker process: stations part, part + parts, ... until the parent says stop (or is gone).
    It logs as the parent does: ``log_format`` (logs.py) text, or JSON lines with the station id."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # ^C reaches the whole group: the parent tells us
    if log_format == "json":
        configure_logging(log_level, "json")
    else:
        logging.basicConfig(level=log_level, format=f"%(asctime)s %(levelname)-7s worker {part}: %(message)s")
    _raise_nofile(config.count // parts * 2 + 1024)
    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        runner.run(_worker(config, part, parts, conn))
    conn.close()


async def _worker(config: FleetConfig, part: int, parts: int, conn: Connection) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    stats = FleetStats()
    stations: list[Station] = []
    indices = range(part, config.count, parts)
    group: Any = None
    server: Any = None  # this worker's stations' routes for the dashboard's drill-down

    def on_message() -> None:
        nonlocal group
        try:
            message = conn.recv()  # "stop", or ("control", id, request) from the control API
        except (EOFError, OSError):
            message = "stop"  # the parent is gone: stop too
        if isinstance(message, tuple) and message[0] == "control":
            if group is None:
                from ocpp_station.fleet.control import StationGroup

                group = StationGroup(config, stations, indices)
            answer = _answer(group, message[2])
            with contextlib.suppress(OSError):
                conn.send(("reply", message[1], answer))
            return
        loop.remove_reader(conn.fileno())
        stop.set()

    loop.add_reader(conn.fileno(), on_message)
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    if config.control_port is not None:
        from ocpp_station.fleet.control import StationGroup
        from ocpp_station.fleet.dashboard import start_station_server

        group = StationGroup(config, stations, indices)
        server, port = await start_station_server(config, group)
        with contextlib.suppress(OSError):
            conn.send(("port", port))

    def send() -> None:
        with contextlib.suppress(OSError):
            conn.send(("snapshot", stats.snapshot()))

    try:
        await run_stations(
            config,
            indices,
            stats,
            stop,
            ramp_per_s=config.ramp_per_s / parts,
            on_sample=send,
            stations=stations,
            tune_gc=True,  # a worker is a process of its own
        )
    finally:
        with contextlib.suppress(Exception):
            loop.remove_reader(conn.fileno())
        if server is not None:
            await server.cleanup()
        with contextlib.suppress(OSError):
            conn.send(("final", stats.snapshot()))


def _answer(group: Any, request: dict[str, Any]) -> dict[str, Any]:
    from ocpp_station.fleet.control import handle_request

    try:
        return handle_request(group, request)
    except Exception as exc:  # a bug must not take the worker down: the parent gets nothing from it
        log.exception("fleet: control request %s failed: %s", request.get("kind"), exc)
        return {}


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop when it is installed (the ``fleet`` extra), else None (asyncio's)."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def _raise_nofile(wanted: int) -> None:
    """A socket per station: raise the soft limit of open files as far as the hard limit allows."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def run_cli(config: FleetConfig, progress_every_s: float = 5.0) -> int:
    """``ocpp-station fleet``: run until the duration or SIGINT/SIGTERM, print the summary line,
    write the report; exit code 0 after a clean stop."""
    more = f" (+{len(config.urls) - 1} more)" if config.urls else ""
    print(
        f"fleet: {config.count} stations {config.ids[0]} .. {config.ids[-1]} -> {config.url}{more}, "
        f"{config.process_count} process(es), ramp {config.ramp_per_s:g}/s, "
        + (f"duration {config.duration_s:g} s" if config.duration_s is not None else "until SIGINT/SIGTERM"),
        file=sys.stderr,
        flush=True,
    )

    def ready(port: int) -> None:
        print(
            f"fleet: dashboard, control API and /metrics on http://{config.control_host}:{port}/",
            file=sys.stderr,
            flush=True,
        )

    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        report = runner.run(
            run_fleet(
                config,
                progress=choose_progress(config.live, progress_every_s),
                handle_signals=True,
                control_ready=ready,
                tune_gc=True,
            )
        )
    if config.report is not None:
        print(
            f"report: {config.report} and {config.report.with_suffix('.html')} "
            f"({report['totals']['sent']} CALLs, {report['durationSeconds']:.1f} s)",
            file=sys.stderr,
        )
    return 0
