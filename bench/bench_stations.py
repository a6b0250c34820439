"""Fleet benchmark (issue 9, "Engine step"): N charge points in one process against one CSMS process.

    .venv/bin/python bench/bench_stations.py [--stations 1000] [--duration 60] [--ramp 100]
                                             [--modes raw,station,mobilityhouse,engine] [--rounds 3]

Every client mode runs in a process of its own (so its CPU time and RSS are its own), against a fresh
minimal CSMS in another process (python-websockets and orjson on 127.0.0.1, ``ocpp1.6``): it answers
BootNotification Accepted with ``interval`` = the heartbeat interval, Heartbeat with the time,
Authorize / StartTransaction Accepted (a new transactionId each), everything else ``{}``.

Each of the N clients connects (``--ramp`` new clients per second), boots, plugs an EV, is authorized and
starts a transaction, then sends what a charging station sends: Heartbeat every 10 s and MeterValues
with 9 sampled values (energy, power, current and voltage on 3 phases, SoC) every 2 s, one CALL in flight
per connection (OCPP-J 1.6 §4.1.1); 1,000 clients offer 600 CALLs/s. Once all are charging and a settle
time has passed, a window of ``--duration`` seconds is measured:

* ``raw``: the floor. Pre-built frame texts over python-websockets, ids matched, no OCPP library.
* ``station``: :class:`ocpp_station.transport.station.Station` as a fleet runs it: memory store,
  diagnostics log off (``fileTransfer.logLines: 0``), the EV plugged and the idTag presented through the
  Station API. WebSocketPingInterval is 0 so that all three clients send the same frames.
* ``mobilityhouse``: ``ocpp.v16.ChargePoint`` and ``await cp.call(...)``.
* ``raw-picows``: the same pre-built frames over raw picows clients (issue 11: the floor of the other
  websocket library); ``station-picows``: ``Station`` with ``connection.transport: "picows"``. Both are
  printed as ratios against raw websockets when it ran in the same invocation (``--modes
  raw,station,raw-picows,station-picows``).
* ``engine``: no network. :class:`ocpp_station.core.engine.Engine` driven with a fake clock through one
  station's 24-hour day (boot, an 8-hour transaction, MeterValueSampleInterval 60, clock-aligned data
  every 900 s, Heartbeat every 300 s), meters read when the engine asks (as the shell does), every CALL answered
  at once.

What is measured, per client mode, over the window:

* CPU us/CALL: the client process's CPU time (user + system) / CALLs answered in the window, and the
  two apart (the system part is mostly the socket writes and reads); with ``--rounds N`` every client
  mode runs N times, the modes taking turns, and the run with the median CPU per CALL is reported
  (each round's figure printed too: one run of a mode moves 15-20 % on the shared machine);
* CALLs/s answered, against the 600/s offered (a client that cannot keep up answers fewer);
* p50 / p99 CALL latency on the client: from the moment the CALL is handed to the websocket (raw: before
  ``ws.send``; mobilityhouse: before ``await cp.call``) to the moment its reply (same message id) comes
  back; Station: the latency its engine reports to the stations' shared call observer (as a fleet
  counts it): from the step that sent the CALL to the step that received its reply, on the clock the
  shell feeds the engine (the event loop's time when each step began);
* RSS per station: (RSS once every client is charging - RSS before the first one) / N, and again at the
  end of the window (growth shows there);
* the CSMS process's CPU share during the window (it must not be the bottleneck).

Timings are never asserted anywhere: the machine is shared, the ratios against raw come from one run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import itertools
import logging
import multiprocessing
import os
import resource
import signal
import socket
import statistics
import sys
import time
import traceback
import uuid
from array import array
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, serve

from ocpp_station.fleet.runner import GC_TEND_S, Every, tend_gc
from ocpp_station.sim.examples import meter_value_samples

HEARTBEAT_S = 10
SAMPLE_S = 2
ID_TAG = "BENCHTAG"
#: What the station samples: 1 + 1 + 3 phases + 3 phases + 1 = 9 sampled values.
MEASURANDS = "Energy.Active.Import.Register,Power.Active.Import,Current.Import,Voltage,SoC"
TIMESTAMP = "2026-11-29T12:00:00.000Z"


#: The 9 sampled values, exactly as the station's Metering sends them.
SAMPLES: list[dict[str, Any]] = meter_value_samples()
MODES = ("raw", "station", "mobilityhouse", "engine", "raw-picows", "station-picows")
#: The modes run when --modes is not given (the picows ones need the extra ``picows``).
DEFAULT_MODES = ("raw", "station", "mobilityhouse", "engine")
LABELS = {
    "raw": "raw websockets",
    "station": "ocpp-station Station",
    "mobilityhouse": "mobilityhouse ChargePoint",
    "raw-picows": "raw picows",
    "station-picows": "Station on picows",
}


# -- process helpers -----------------------------------------------------------------------------------
def _rss() -> int:
    """This process's resident set, in bytes."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _cpu_of(pid: int) -> float:
    """Another process's CPU time (user + system), in seconds."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _raise_nofile(wanted: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


async def _orphan_watch() -> None:
    """A child process ends itself when the bench that started it is gone (killed, crashed)."""
    parent = os.getppid()
    while os.getppid() == parent:
        await asyncio.sleep(1.0)
    os._exit(3)


def _child_setup(nofile: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the bench process handles ^C and stops us
    _raise_nofile(nofile)
    logging.getLogger("ocpp").setLevel(logging.WARNING)
    logging.getLogger("ocpp_station").setLevel(logging.WARNING)
    logging.getLogger("websockets").setLevel(logging.ERROR)


async def _serve_until_term(main: Callable[[], Any]) -> Any:
    """Run ``main()``; SIGTERM cancels it (so its ``finally`` blocks clean up)."""
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, task.cancel)
    watch = asyncio.create_task(_orphan_watch())
    try:
        return await main()
    finally:
        watch.cancel()


# -- the CSMS (another process) --------------------------------------------------------------------------
def csms_answerer(heartbeat_s: int) -> Callable[[str, dict[str, Any]], dict[str, Any]]:
    """The minimal CSMS's answers: everything accepted, at once."""
    transaction_ids = itertools.count(1)
    accepted = {"status": "Accepted"}

    def now() -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())

    def answer(action: str, payload: dict[str, Any]) -> dict[str, Any]:
        if action == "MeterValues" or action == "StatusNotification":
            return {}
        if action == "Heartbeat":
            return {"currentTime": now()}
        if action == "BootNotification":
            return {"status": "Accepted", "currentTime": now(), "interval": heartbeat_s}
        if action == "Authorize":
            return {"idTagInfo": accepted}
        if action == "StartTransaction":
            return {"transactionId": next(transaction_ids), "idTagInfo": accepted}
        if action == "StopTransaction":
            return {"idTagInfo": accepted} if "idTag" in payload else {}
        if action == "DataTransfer":
            return accepted
        return {}

    return answer


async def serve_csms(
    handler: Callable[[ServerConnection], Awaitable[None]], port: int, ready: Any, until: Awaitable[Any]
) -> None:
    """Serve ``handler`` as the minimal CSMS does (ocpp1.6, no compression, no pings) until ``until``.

    Its collector is tended as a fleet's is (:func:`~ocpp_station.fleet.runner.tend_gc` every second):
    with Python's defaults a CSMS process holding 17,500 connections made full collections of up to
    1.0 s (bench_fleet, 2026-11-30: 235 collections, 4.1 s of a 180-s window), every CALL in flight
    then waiting on the CSMS, which is the bench's tail and not the stations'."""
    tending = Every(asyncio.get_running_loop(), GC_TEND_S, tend_gc)
    try:
        await _serve(handler, port, ready, until)
    finally:
        tending.cancel()


async def _serve(
    handler: Callable[[ServerConnection], Awaitable[None]], port: int, ready: Any, until: Awaitable[Any]
) -> None:
    async with serve(
        handler,
        "127.0.0.1",
        port,
        subprotocols=["ocpp1.6"],  # type: ignore[list-item]
        compression=None,
        ping_interval=None,
        backlog=4096,
    ):
        ready.set()
        await until


def _csms_main(port: int, heartbeat_s: int, nofile: int, ready: Any, gc_shared: Any = None) -> None:
    _child_setup(nofile)
    if gc_shared is not None:
        gc.callbacks.append(GcPauses(gc_shared))
    answer = csms_answerer(heartbeat_s)

    async def handler(ws: ServerConnection) -> None:
        with contextlib.suppress(Exception):
            async for message in ws:
                frame = orjson.loads(message)
                if frame[0] == 2:
                    await ws.send(orjson.dumps([3, frame[1], answer(frame[2], frame[3])]), text=True)

    with contextlib.suppress(asyncio.CancelledError):
        asyncio.run(_serve_until_term(lambda: serve_csms(handler, port, ready, asyncio.Future())))


# -- measuring on the client ------------------------------------------------------------------------------
class Tally:
    """CALLs answered and their latencies, counted only while the window is open. The latencies go to
    an array allocated (and touched) before the RSS baseline, so that they do not count per station."""

    __slots__ = ("completed", "errors", "latencies", "on")

    def __init__(self, capacity: int) -> None:
        self.on = False
        self.completed = 0
        self.errors = 0
        self.latencies = array("d", bytes(8 * capacity))

    def done(self, sent_at: float) -> None:
        if self.on:
            self.latency(time.perf_counter() - sent_at)

    def latency(self, latency: float) -> None:
        if self.on:
            if self.completed < len(self.latencies):
                self.latencies[self.completed] = latency
            else:
                self.latencies.append(latency)
            self.completed += 1

    def window(self) -> list[float]:
        return list(self.latencies[: self.completed])

    def error(self) -> None:
        if self.on:
            self.errors += 1


class GcPauses:
    """The cyclic garbage collector's pauses while the window is open (a gc.callbacks hook). Each pause
    is timed on the wall clock and on the process's CPU clock: a long pause with little CPU is the
    process not running (the machine's other load, a virtual CPU descheduled), not the collector.

    The figures live in an array of :data:`SLOTS` doubles: this process's own, or shared memory
    (:meth:`shared`) that another process's hook writes into, so that a bench can read the CSMS
    process's collector (``GcPauses(storage)`` there, in its ``gc.callbacks``). Opening the window
    (``on = True``) clears them."""

    #: on, collections of generation 0, 1, 2, total s, longest s, its CPU s, its generation, its freed.
    SLOTS = 9

    def __init__(self, storage: Any = None) -> None:
        self.storage = storage if storage is not None else array("d", bytes(8 * self.SLOTS))
        self._started = 0.0
        self._started_cpu = 0.0

    @classmethod
    def shared(cls, ctx: Any) -> GcPauses:
        """Figures in shared memory: pass :attr:`storage` to the other process's hook."""
        return cls(ctx.Array("d", cls.SLOTS, lock=False))

    @property
    def on(self) -> bool:
        return bool(self.storage[0])

    @on.setter
    def on(self, value: bool) -> None:
        if value:
            for i in range(1, self.SLOTS):
                self.storage[i] = 0.0
        self.storage[0] = 1.0 if value else 0.0

    @property
    def by_generation(self) -> list[int]:
        return [int(n) for n in self.storage[1:4]]

    @property
    def total_s(self) -> float:
        return float(self.storage[4])

    @property
    def longest_s(self) -> float:
        return float(self.storage[5])

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            self._started_cpu = time.process_time()
        elif self.storage[0]:
            s = self.storage
            pause = time.perf_counter() - self._started
            generation = info["generation"]
            s[1 + generation] += 1
            s[4] += pause
            if pause > s[5]:
                s[5] = pause
                s[6] = time.process_time() - self._started_cpu
                s[7] = generation
                s[8] = info["collected"]

    def describe_longest(self) -> str:
        """The longest pause in words (for the reports)."""
        s = self.storage
        if s[5] <= 0:
            return "none"
        return (
            f"{1000 * s[5]:.1f} ms (generation {s[7]:.0f}, {s[8]:.0f} objects freed, "
            f"{1000 * s[6]:.1f} ms of CPU)"
        )

    def describe(self) -> str:
        """Every pause of the window in words (for the reports)."""
        count = sum(self.by_generation)
        if not count:
            return "no collections"
        return (
            f"{count} collections, {1000 * self.total_s:.0f} ms in all, the longest {self.describe_longest()}"
        )


class Fleet:
    """N clients of one kind; ``start(i)`` returns once client i is charging (transaction running)."""

    def __init__(self, url: str, tally: Tally) -> None:
        self.url = url
        self.tally = tally
        self.tasks: list[asyncio.Task[Any]] = []

    async def start(self, index: int) -> None:
        raise NotImplementedError

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    def close(self) -> None:
        """Release what outlives the event loop (temporary directories)."""


def _connect(url: str) -> Any:
    return connect(
        url,
        subprotocols=["ocpp1.6"],  # type: ignore[list-item]
        compression=None,
        ping_interval=None,
        proxy=None,
        open_timeout=120,
    )


async def _cadence(send: Callable[[str], Any]) -> None:
    """MeterValues every SAMPLE_S and Heartbeat every HEARTBEAT_S, one CALL at a time; each timer re-arms
    from the moment it fired, as the engine's do (a client that falls behind offers less)."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    next_meter, next_heartbeat = start + SAMPLE_S, start + HEARTBEAT_S
    while True:
        delay = min(next_meter, next_heartbeat) - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        fired = loop.time()
        meter, heartbeat = next_meter <= fired, next_heartbeat <= fired
        if heartbeat:
            next_heartbeat = fired + HEARTBEAT_S
            await send("Heartbeat")
        if meter:
            next_meter = fired + SAMPLE_S
            await send("MeterValues")


async def _raw_charging(call: Callable[[str, str], Awaitable[str | bytes]], meter_value: str) -> str:
    """What every raw client sends before its cadence (pre-built frames through ``call``): boot, the
    statuses, Authorize, StartTransaction, Charging. Returns the MeterValues payload of its transaction."""
    await call("BootNotification", '{"chargePointVendor":"ocpp-station","chargePointModel":"Simulated"}')
    for connector in (0, 1):
        await call(
            "StatusNotification",
            f'{{"connectorId":{connector},"errorCode":"NoError","status":"Available"}}',
        )
    await call("StatusNotification", '{"connectorId":1,"errorCode":"NoError","status":"Preparing"}')
    await call("Authorize", f'{{"idTag":"{ID_TAG}"}}')
    reply = await call(
        "StartTransaction",
        f'{{"connectorId":1,"idTag":"{ID_TAG}","meterStart":0,"timestamp":"{TIMESTAMP}"}}',
    )
    transaction_id = orjson.loads(reply)[2]["transactionId"]
    await call("StatusNotification", '{"connectorId":1,"errorCode":"NoError","status":"Charging"}')
    return f'{{"connectorId":1,"transactionId":{transaction_id},"meterValue":{meter_value}}}'


class RawFleet(Fleet):
    """The floor: frame texts built from pre-encoded parts, sent and their replies read on one socket."""

    METER_VALUE = orjson.dumps([{"timestamp": TIMESTAMP, "sampledValue": SAMPLES}]).decode()

    async def start(self, index: int) -> None:
        ws: ClientConnection = await _connect(f"{self.url}/RAW{index:05d}")
        ids = itertools.count(1)
        tally = self.tally

        async def call(action: str, payload: str) -> str:
            message_id = str(next(ids))
            text = f'[2,"{message_id}","{action}",{payload}]'
            sent_at = time.perf_counter()
            await ws.send(text)
            reply = await ws.recv()
            assert isinstance(reply, str)
            if reply.startswith(f'[3,"{message_id}"'):
                tally.done(sent_at)
            else:
                tally.error()
            return reply

        meter_payload = await _raw_charging(call, self.METER_VALUE)

        async def send(action: str) -> None:
            await call(action, meter_payload if action == "MeterValues" else "{}")

        async def run() -> None:
            try:
                await _cadence(send)
            finally:
                await ws.close()

        self.tasks.append(asyncio.create_task(run()))


class RawPicowsFleet(Fleet):
    """The same frames as :class:`RawFleet` over picows: a listener whose frame callback resolves the
    CALL's future (picows has no reader task; one CALL in flight per connection)."""

    async def start(self, index: int) -> None:
        from picows import WSListener, WSMsgType, ws_connect

        loop = asyncio.get_running_loop()
        text_type = WSMsgType.TEXT

        class Client(WSListener):
            waiter: asyncio.Future[bytes] | None = None

            def on_ws_frame(self, transport: Any, frame: Any) -> None:
                if frame.msg_type is text_type:
                    waiter = self.waiter
                    if waiter is not None and not waiter.done():
                        waiter.set_result(frame.get_payload_as_bytes())

        transport, client = await ws_connect(
            Client,
            f"{self.url}/RAWP{index:05d}",
            extra_headers={"Sec-WebSocket-Protocol": "ocpp1.6"},
            websocket_handshake_timeout=120,
        )
        assert isinstance(client, Client)
        ids = itertools.count(1)
        tally = self.tally

        async def call(action: str, payload: str) -> bytes:
            message_id = str(next(ids))
            waiter: asyncio.Future[bytes] = loop.create_future()
            client.waiter = waiter
            sent_at = time.perf_counter()
            transport.send(text_type, f'[2,"{message_id}","{action}",{payload}]'.encode())
            reply = await waiter
            if reply.startswith(f'[3,"{message_id}"'.encode()):
                tally.done(sent_at)
            else:
                tally.error()
            return reply

        meter_payload = await _raw_charging(call, RawFleet.METER_VALUE)

        async def send(action: str) -> None:
            await call(action, meter_payload if action == "MeterValues" else "{}")

        async def run() -> None:
            try:
                await _cadence(send)
            finally:
                transport.send_close()
                transport.disconnect()

        self.tasks.append(asyncio.create_task(run()))


class MobilityhouseFleet(Fleet):
    """mobilityhouse/ocpp: ``ocpp.v16.ChargePoint`` on a python-websockets connection."""

    def __init__(self, url: str, tally: Tally) -> None:
        super().__init__(url, tally)
        import ocpp.v16  # noqa: F401  (imported before the RSS baseline)

    async def start(self, index: int) -> None:
        from ocpp.v16 import ChargePoint, call

        tally = self.tally
        meter_value = [
            {
                "timestamp": TIMESTAMP,
                "sampled_value": [
                    {"".join("_" + c.lower() if c.isupper() else c for c in k): v for k, v in s.items()}
                    for s in SAMPLES
                ],
            }
        ]
        cp_id = f"MH{index:05d}"
        ws: ClientConnection = await _connect(f"{self.url}/{cp_id}")
        cp = ChargePoint(cp_id, ws)
        reader = asyncio.create_task(cp.start())
        self.tasks.append(reader)
        await cp.call(
            call.BootNotification(charge_point_model="Simulated", charge_point_vendor="ocpp-station")
        )
        for connector in (0, 1):
            await cp.call(
                call.StatusNotification(connector_id=connector, error_code="NoError", status="Available")
            )
        await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Preparing"))
        await cp.call(call.Authorize(id_tag=ID_TAG))
        conf = await cp.call(
            call.StartTransaction(connector_id=1, id_tag=ID_TAG, meter_start=0, timestamp=TIMESTAMP)
        )
        transaction_id = conf.transaction_id
        await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Charging"))

        async def send(action: str) -> None:
            if action == "MeterValues":
                request: Any = call.MeterValues(
                    connector_id=1, transaction_id=transaction_id, meter_value=meter_value
                )
            else:
                request = call.Heartbeat()
            sent_at = time.perf_counter()
            try:
                result = await cp.call(request)
            except Exception:
                tally.error()
                return
            if result is None:  # a CALLERROR (suppressed)
                tally.error()
            else:
                tally.done(sent_at)

        async def run() -> None:
            try:
                await _cadence(send)
            finally:
                await ws.close()

        self.tasks.append(asyncio.create_task(run()))


class StationFleet(Fleet):
    """ocpp-station's ``Station``: its engine and asyncio shell, memory store, diagnostics log off."""

    #: ``connection.transport`` of the stations.
    TRANSPORT = "websockets"

    def __init__(self, url: str, tally: Tally) -> None:
        super().__init__(url, tally)
        from ocpp_station.transport.station import Station

        self.stations: list[Station] = []

    # -- the stations' CallObserver (EngineSettings.call_observer), shared as a fleet shares one ----------
    def sent(self, action: str) -> None:
        pass

    def answered(self, action: str, latency_s: float, error: str | None) -> None:
        if error is None:
            self.tally.latency(latency_s)
        else:
            self.tally.error()

    def received(self, action: str, error: str | None) -> None:
        pass

    async def start(self, index: int) -> None:
        from ocpp_station.config.station import parse_config
        from ocpp_station.transport.station import Station

        config = parse_config(
            {
                "development": {"WS_URL": self.url + "/", "chargePointID": f"ST{index:05d}"},
                "ocpp": {
                    "MeterValueSampleInterval": SAMPLE_S,
                    "MeterValuesSampledData": MEASURANDS,
                    "WebSocketPingInterval": 0,
                },
                "fileTransfer": {"logLines": 0},
                "connection": {"transport": self.TRANSPORT},
            },
            "<bench>",
        )
        station = Station(config, call_observer=self)
        self.stations.append(station)
        self.tasks.append(asyncio.create_task(station.run()))
        await station.wait_for(lambda s: s["registration"] == "Accepted", timeout=300)
        station.plug(1)
        station.present_id_tag(ID_TAG)
        await station.wait_for(lambda s: s["connectors"][1]["transactionId"] is not None, timeout=300)

    async def stop(self) -> None:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(
                asyncio.gather(*(s.stop() for s in self.stations), return_exceptions=True), 30
            )
        await super().stop()

    def close(self) -> None:
        for station in self.stations:
            with contextlib.suppress(Exception):
                station.close()


class StationPicowsFleet(StationFleet):
    """``Station`` with ``connection.transport: "picows"`` (issue 11)."""

    TRANSPORT = "picows"


FLEETS: dict[str, type[Fleet]] = {
    "raw": RawFleet,
    "station": StationFleet,
    "mobilityhouse": MobilityhouseFleet,
    "raw-picows": RawPicowsFleet,
    "station-picows": StationPicowsFleet,
}


@dataclass
class Options:
    stations: int
    duration: float
    ramp: float
    settle: float
    #: Directory for cProfile output of the window (``<mode>.prof``); None: no profiling.
    profile: str | None = None


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _fleet_run(mode: str, url: str, opts: Options, csms_pid: int, out: Connection) -> None:
    offered = opts.stations * (1 / SAMPLE_S + 1 / HEARTBEAT_S)
    tally = Tally(int(offered * opts.duration * 1.2) + 1024)
    fleet = FLEETS[mode](url, tally)  # imports its library: not counted per station
    gc.collect()
    rss_before = _rss()
    pauses = GcPauses()
    gc.callbacks.append(pauses)
    loop = asyncio.get_running_loop()
    try:
        # -- the first client alone: what it costs beyond the rest is per process, not per station ---
        await asyncio.wait_for(fleet.start(0), 120)
        rss_first = _rss()
        # -- ramp: start a client every 1/ramp s; each returns once it is charging -----------------
        t0 = loop.time()
        starting: list[asyncio.Task[None]] = []
        for i in range(1, opts.stations):
            delay = t0 + (i - 1) / opts.ramp - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            starting.append(asyncio.create_task(fleet.start(i)))
        done, pending = await asyncio.wait(starting, timeout=120 + opts.stations / opts.ramp)
        for task in pending:
            task.cancel()
        failures = [t.exception() for t in done if t.exception() is not None]
        ready = len(done) - len(failures) + 1
        ramp_s = loop.time() - t0
        _say(f"  {mode}: {ready}/{opts.stations} charging after {ramp_s:.1f} s")
        if failures:
            _say(f"  {mode}: {len(failures)} failed to start, e.g. {failures[0]!r}")
        rss_ready = _rss()
        # As a long-running fleet process does (every mode alike): what is alive once the clients are
        # up is moved out of the collector's generations, so a full collection does not walk
        # thousands of stations' objects (a 200 ms pause at 1,000 stations without it).
        gc.freeze()
        await asyncio.sleep(opts.settle)
        # -- the window ---------------------------------------------------------------------------------
        profiler = None
        if opts.profile:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        rss_start = _rss()
        series = [rss_start]
        csms0, cpu0, wall0 = _cpu_of(csms_pid), time.process_time(), time.perf_counter()
        usage0 = resource.getrusage(resource.RUSAGE_SELF)
        tally.on = pauses.on = True
        end = wall0 + opts.duration
        while (left := end - time.perf_counter()) > 0:
            await asyncio.sleep(min(10.0, left))
            series.append(_rss())
        tally.on = pauses.on = False
        cpu, wall, csms = time.process_time() - cpu0, time.perf_counter() - wall0, _cpu_of(csms_pid) - csms0
        usage = resource.getrusage(resource.RUSAGE_SELF)
        if profiler is not None and opts.profile:
            profiler.disable()
            profiler.dump_stats(os.path.join(opts.profile, f"{mode}.prof"))
        rss_end = series[-1]
        lat = tally.window()
        result = {
            "mode": mode,
            "stations": opts.stations,
            "ready": ready,
            "ramp_s": ramp_s,
            "window_s": wall,
            "cpu_s": cpu,
            # The kernel's share (socket writes and reads, epoll): what no Python code can save.
            "cpu_user_s": usage.ru_utime - usage0.ru_utime,
            "cpu_sys_s": usage.ru_stime - usage0.ru_stime,
            # Voluntary context switches: each one is a sleep in epoll (the loop found nothing to do).
            "switches": usage.ru_nvcsw - usage0.ru_nvcsw,
            "completed": tally.completed,
            "errors": tally.errors,
            "offered_per_s": ready * (1 / SAMPLE_S + 1 / HEARTBEAT_S),
            "p50_ms": _percentile(lat, 0.50) * 1e3,
            "p99_ms": _percentile(lat, 0.99) * 1e3,
            "max_ms": max(lat, default=float("nan")) * 1e3,
            "rss_before": rss_before,
            "rss_first": rss_first,
            "rss_ready": rss_ready,
            "rss_start": rss_start,
            "rss_end": rss_end,
            "rss_series": series,
            "csms_cpu_s": csms,
            "gc_collections": pauses.by_generation,
            "gc_total_ms": pauses.total_s * 1e3,
            "gc_longest_ms": pauses.longest_s * 1e3,
        }
        out.send(result)
        _say(f"  {mode}: window done, stopping")
        await fleet.stop()
    finally:
        fleet.close()


def _fleet_main(mode: str, url: str, opts: Options, csms_pid: int, nofile: int, out: Connection) -> None:
    _child_setup(nofile)
    try:
        asyncio.run(_serve_until_term(lambda: _fleet_run(mode, url, opts, csms_pid, out)))
    except asyncio.CancelledError:
        pass
    except BaseException:
        with contextlib.suppress(Exception):
            out.send({"mode": mode, "error": traceback.format_exc()})


# -- engine only: one station's simulated day ------------------------------------------------------------
@dataclass
class DayResult:
    handle_s: float  # wall time inside Engine.handle (single thread, no I/O: its CPU time)
    total_cpu_s: float  # the whole day, the scripted CSMS and the meter simulation included
    handles: int
    calls: dict[str, int] = field(default_factory=dict)


def _engine_day() -> DayResult:
    """Boot at 00:00 UTC; EV plugged at 08:00, idTag presented, charges 3 h at 11 kW then suspends
    (battery full); unplugged at 16:00; the day ends at 24:00. Every CALL is answered at once."""
    from ocpp_station.config.keys import validate_ocpp_overrides
    from ocpp_station.config.station import DEFAULT_IDENTITY
    from ocpp_station.core import effects as fx
    from ocpp_station.core.clock import format_datetime
    from ocpp_station.core.engine import Engine
    from ocpp_station.core.events import (
        CablePlugged,
        CableRemoved,
        CableUnplugged,
        Connected,
        Event,
        EVReadyChanged,
        FrameReceived,
        IdTagPresented,
        MeterReading,
        TimerDue,
        UnlockCompleted,
    )
    from ocpp_station.core.settings import EngineSettings

    cpu0 = time.process_time()
    t0 = 1_795_910_400.0  # 2026-11-29T00:00:00Z
    values = validate_ocpp_overrides(
        {
            "MeterValueSampleInterval": 60,
            "ClockAlignedDataInterval": 900,
            "MeterValuesSampledData": MEASURANDS,
            "MeterValuesAlignedData": MEASURANDS,
            "WebSocketPingInterval": 0,
        }
    )
    engine = Engine(
        EngineSettings(charge_point_id="DAY", identity=dict(DEFAULT_IDENTITY)),
        now=t0,
        wall=t0,
        config_values=values,
        id_factory=lambda: str(uuid.uuid4()),  # as the shell does
    )
    state = {"now": t0, "energy": 0.0, "metered_at": t0, "energized": False, "ev_ready": True, "soc": 20.0}
    locked = {1: False}
    cable_left_in = {1: False}
    events: deque[Event] = deque()
    calls: dict[str, int] = {}
    handle_s = 0.0
    handles = 0
    tx_ids = itertools.count(1)
    accepted = {"status": "Accepted"}

    def power() -> float:
        return 16.0 * 230.0 * 3 if state["energized"] and state["ev_ready"] else 0.0

    def readings() -> dict[int, MeterReading]:
        now = state["now"]
        watts = power()
        state["energy"] += watts * (now - state["metered_at"]) / 3600.0
        state["soc"] = min(100.0, state["soc"] + watts * (now - state["metered_at"]) / 3600.0 / 600.0)
        state["metered_at"] = now
        amps = watts / 690.0
        one = MeterReading(
            energy_wh=state["energy"],
            power_w=watts,
            current_a=(amps, amps, amps),
            voltage_v=(230.0, 230.0, 230.0),
            offered_a=32.0 if state["energized"] else 0.0,
            soc_percent=round(state["soc"], 1),
            temperature_c=round(25.0 + watts / 2000.0, 1),
            frequency_hz=50.0,
        )
        return {0: MeterReading(energy_wh=state["energy"], power_w=watts), 1: one}

    def answer(action: str, payload: dict[str, Any]) -> dict[str, Any]:
        stamp = format_datetime(state["now"])
        if action == "BootNotification":
            return {"status": "Accepted", "currentTime": stamp, "interval": 300}
        if action == "Heartbeat":
            return {"currentTime": stamp}
        if action == "Authorize":
            return {"idTagInfo": accepted}
        if action == "StartTransaction":
            return {"transactionId": next(tx_ids), "idTagInfo": accepted}
        if action == "StopTransaction":
            return {"idTagInfo": accepted} if "idTag" in payload else {}
        return {}

    def handle(event: Event) -> None:
        nonlocal handle_s, handles
        started = time.perf_counter()
        effects = engine.handle(event, state["now"], state["now"])
        handle_s += time.perf_counter() - started
        handles += 1
        for effect in effects:
            if isinstance(effect, fx.SendFrame):
                frame = orjson.loads(effect.data)
                if frame[0] == 2:
                    calls[frame[2]] = calls.get(frame[2], 0) + 1
                    events.append(FrameReceived(orjson.dumps([3, frame[1], answer(frame[2], frame[3])])))
            elif isinstance(effect, fx.Energize):
                state["energized"] = effect.on
            elif isinstance(effect, fx.LockConnector):
                locked[effect.connector_id] = effect.locked
            elif isinstance(effect, fx.UnlockConnector):
                locked[effect.connector_id] = False
                events.append(UnlockCompleted(effect.connector_id, True))

    # As the shell does: the engine pulls a reading when a feature needs one (once per step).
    engine.ctx.meter_source = lambda connector_id: readings()[connector_id]

    def feed(event: Event) -> None:
        """As Station.feed / Station._handle: events raised meanwhile handled in order."""
        events.append(event)
        while events:
            next_event = events.popleft()
            handle(next_event)
            # The simulated driver takes the cable out once the EV side is unplugged and the lock open.
            if cable_left_in[1] and not locked[1]:
                cable_left_in[1] = False
                events.append(CableRemoved(1))

    def run_until(end: float) -> None:
        while (deadline := engine.next_deadline()) is not None and deadline <= end:
            state["now"] = max(state["now"], deadline)
            feed(TimerDue())
        state["now"] = end

    hour = 3600.0
    feed(Connected())
    run_until(t0 + 8 * hour)
    feed(CablePlugged(1))
    feed(IdTagPresented(ID_TAG))
    run_until(t0 + 11 * hour)
    state["ev_ready"] = False
    feed(EVReadyChanged(1, False))
    run_until(t0 + 16 * hour)
    cable_left_in[1] = True
    feed(CableUnplugged(1))
    run_until(t0 + 24 * hour)
    return DayResult(handle_s, time.process_time() - cpu0, handles, calls)


def _engine_main(days: int, profile: str | None, out: Connection) -> None:
    _child_setup(1024)
    try:
        first = _engine_day()  # schema validators compiled, caches filled
        if profile:
            import cProfile

            profiler = cProfile.Profile()
            rest = [profiler.runcall(_engine_day) for _ in range(days)]
            profiler.dump_stats(os.path.join(profile, "engine.prof"))
        else:
            rest = [_engine_day() for _ in range(days)]
        out.send({"mode": "engine", "first": asdict(first), "days": [asdict(day) for day in rest]})
    except BaseException:
        with contextlib.suppress(Exception):
            out.send({"mode": "engine", "error": traceback.format_exc()})


# -- the bench process ------------------------------------------------------------------------------------
def _stop(process: multiprocessing.process.BaseProcess, grace: float) -> None:
    if process.pid is None:
        return
    process.join(grace)
    if process.is_alive():
        process.terminate()
        process.join(10)
    if process.is_alive():
        process.kill()
        process.join(5)


def run_fleet(mode: str, opts: Options) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    nofile = opts.stations * 2 + 1024
    port = _free_port()
    ready = ctx.Event()
    csms = ctx.Process(target=_csms_main, args=(port, HEARTBEAT_S, nofile, ready), daemon=True)
    receive, send = ctx.Pipe(duplex=False)
    client: multiprocessing.process.BaseProcess | None = None
    csms.start()
    try:
        if not ready.wait(30):
            raise RuntimeError("the bench CSMS did not start")
        assert csms.pid is not None
        client = ctx.Process(
            target=_fleet_main,
            args=(mode, f"ws://127.0.0.1:{port}/ocpp", opts, csms.pid, nofile, send),
            daemon=True,
        )
        client.start()
        send.close()
        _say(
            f"{mode}: {opts.stations} clients, ramp {opts.ramp:g}/s, settle {opts.settle:g} s, window {opts.duration:g} s"
        )
        budget = 180 + opts.stations / opts.ramp + opts.settle + opts.duration
        if not receive.poll(budget):
            raise RuntimeError(f"{mode}: no result within {budget:.0f} s")
        result: dict[str, Any] = receive.recv()
        if "error" in result:
            raise RuntimeError(f"{mode} failed:\n{result['error']}")
        return result
    finally:
        if client is not None:
            _stop(client, 60)
        _stop(csms, 0)


def run_engine(days: int, profile: str | None) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    receive, send = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_engine_main, args=(days, profile, send), daemon=True)
    process.start()
    send.close()
    try:
        _say(f"engine: 1 + {days} simulated days")
        if not receive.poll(300):
            raise RuntimeError("engine: no result within 300 s")
        result: dict[str, Any] = receive.recv()
        if "error" in result:
            raise RuntimeError(f"engine failed:\n{result['error']}")
        return result
    finally:
        _stop(process, 10)


def _cpu_per_call(r: dict[str, Any]) -> float:
    return float(r["cpu_s"] / r["completed"]) if r["completed"] else float("inf")


def median_run(each: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median CPU per CALL (the lower middle of an even count), with every run's
    figure kept in ``cpu_by_round`` (us per CALL, in the order they ran)."""
    ordered = sorted(each, key=_cpu_per_call)
    chosen = dict(ordered[(len(ordered) - 1) // 2])
    chosen["cpu_by_round"] = [_cpu_per_call(r) * 1e6 for r in each]
    return chosen


def report(results: dict[str, dict[str, Any]], opts: Options) -> str:
    offered = opts.stations * (1 / SAMPLE_S + 1 / HEARTBEAT_S)
    lines = [
        f"{opts.stations} stations, Heartbeat {HEARTBEAT_S} s, MeterValues (9 sampled values) every "
        f"{SAMPLE_S} s: {offered:.0f} CALLs/s offered; {opts.duration:g} s window",
        "",
        f"{'client':<26} {'CPU us/CALL':>11} {'CALLs/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'RSS KB/station':>16} {'CSMS CPU':>9}",
    ]
    details: list[str] = []
    for mode in ("raw", "station", "mobilityhouse", "raw-picows", "station-picows"):
        r = results.get(mode)
        if r is None:
            continue
        per_call = r["cpu_s"] / r["completed"] * 1e6 if r["completed"] else float("nan")
        rate = r["completed"] / r["window_s"]
        ready = max(r["ready"], 1)
        kb_ready = (r["rss_ready"] - r["rss_before"]) / ready / 1024
        kb_end = (r["rss_end"] - r["rss_before"]) / ready / 1024
        csms = r["csms_cpu_s"] / r["window_s"] * 100
        lines.append(
            f"{LABELS[mode]:<26} {per_call:>11.0f} {rate:>8.1f} {r['p50_ms']:>8.1f} {r['p99_ms']:>8.1f} "
            f"{f'{kb_ready:.0f} -> {kb_end:.0f}':>16} {csms:>8.0f}%"
        )
        notes = []
        if r["ready"] < r["stations"]:
            notes.append(f"only {r['ready']} of {r['stations']} charging")
        if r["errors"]:
            notes.append(f"{r['errors']} failed CALLs")
        if notes:
            lines.append(f"{'':<26} ({'; '.join(notes)})")
        series = " ".join(f"{(rss - r['rss_before']) / ready / 1024:.0f}" for rss in r["rss_series"])
        gen0, gen1, gen2 = r["gc_collections"]
        first_kb = (r["rss_first"] - r["rss_before"]) / 1024
        further_kb = (r["rss_ready"] - r["rss_first"]) / max(ready - 1, 1) / 1024
        calls = max(r["completed"], 1)
        by_round = r.get("cpu_by_round", [])
        if len(by_round) > 1:
            details.append(
                f"  {LABELS[mode]}: CPU us/CALL by round {' '.join(f'{x:.0f}' for x in by_round)} "
                "(the median's run reported)"
            )
        details.append(
            f"  {LABELS[mode]}: CPU per CALL {r['cpu_user_s'] / calls * 1e6:.0f} us user + "
            f"{r['cpu_sys_s'] / calls * 1e6:.0f} us system, {r['switches'] / calls:.2f} sleeps per CALL; "
            f"RSS KB/station every 10 s of the window: {series}; the first client "
            f"{first_kb:.0f} KB, each further one {further_kb:.0f} KB; latency max {r['max_ms']:.1f} ms; "
            f"GC in the window: {gen0}/{gen1}/{gen2} collections (gen 0/1/2), {r['gc_total_ms']:.0f} ms "
            f"in all, the longest {r['gc_longest_ms']:.1f} ms"
        )
    if details:
        lines += ["", "RSS KB/station: once all are charging -> at the end of the window", *details]
    raw, ours = results.get("raw"), results.get("station")
    if raw and ours and raw["completed"] and ours["completed"]:
        cpu_ratio = (ours["cpu_s"] / ours["completed"]) / (raw["cpu_s"] / raw["completed"])
        kb = (ours["rss_ready"] - ours["rss_before"]) / max(ours["ready"], 1) / 1024
        kb_end = (ours["rss_end"] - ours["rss_before"]) / max(ours["ready"], 1) / 1024
        lines += [
            "",
            f"ocpp-station vs raw websockets: CPU {cpu_ratio:.2f}x (target <= 1.3x), "
            f"p99 {ours['p99_ms'] / raw['p99_ms']:.1f}x (target <= 3x), "
            f"RSS {kb:.0f} -> {kb_end:.0f} KB/station over the window (target <= 35 KB, flat)",
        ]
    mh = results.get("mobilityhouse")
    if raw and mh and raw["completed"] and mh["completed"]:
        cpu_ratio = (mh["cpu_s"] / mh["completed"]) / (raw["cpu_s"] / raw["completed"])
        lines.append(
            f"mobilityhouse vs raw websockets: CPU {cpu_ratio:.2f}x, p99 {mh['p99_ms'] / raw['p99_ms']:.1f}x, "
            f"{mh['completed'] / mh['window_s'] / offered * 100:.0f}% of the offered load answered"
        )
    if raw and raw["completed"]:
        raw_us = raw["cpu_s"] / raw["completed"]
        targets = {
            "raw-picows": "",
            "station-picows": " (issue 11 target: <= 1.0x, the engine costs less than the library it replaced)",
        }
        for mode, target in targets.items():
            r = results.get(mode)
            if r and r["completed"]:
                ratio = (r["cpu_s"] / r["completed"]) / raw_us
                kb = (r["rss_ready"] - r["rss_before"]) / max(r["ready"], 1) / 1024
                lines.append(
                    f"{LABELS[mode]} vs raw websockets: CPU {ratio:.2f}x{target}, "
                    f"p99 {r['p99_ms'] / raw['p99_ms']:.1f}x, RSS {kb:.0f} KB/station"
                )
    rawp, oursp = results.get("raw-picows"), results.get("station-picows")
    if rawp and oursp and rawp["completed"] and oursp["completed"]:
        ratio = (oursp["cpu_s"] / oursp["completed"]) / (rawp["cpu_s"] / rawp["completed"])
        lines.append(f"Station on picows vs raw picows: CPU {ratio:.2f}x")
    engine = results.get("engine")
    if engine:
        days = [DayResult(**day) for day in engine["days"]]
        first = DayResult(**engine["first"])
        handle_ms = statistics.median(d.handle_s for d in days) * 1e3
        total_ms = statistics.median(d.total_cpu_s for d in days) * 1e3
        calls = days[0].calls
        lines += [
            "",
            f"engine only, one station's 24-hour day ({sum(calls.values())} CALLs: "
            + ", ".join(f"{n} {a}" for a, n in sorted(calls.items(), key=lambda kv: -kv[1]))
            + f"; {days[0].handles} Engine.handle calls):",
            f"  {handle_ms:.1f} ms in Engine.handle (target <= 50 ms), {total_ms:.1f} ms of CPU with the "
            f"scripted CSMS and meter (median of {len(days)} days; the first day: "
            f"{first.handle_s * 1e3:.1f} ms, validators compiled)",
        ]
    if opts.profile:
        lines += ["", f"(profiled: timings inflated; profiles in {opts.profile}/<mode>.prof)"]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stations", type=int, default=1000, help="clients per mode (default 1000)")
    parser.add_argument("--duration", type=float, default=60.0, help="measured window, s (default 60)")
    parser.add_argument("--ramp", type=float, default=100.0, help="new clients per second (default 100)")
    parser.add_argument("--settle", type=float, default=10.0, help="s between all charging and the window")
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="run the client modes this many times, taking turns; each mode's run with the median CPU "
        "per CALL is reported (the machine is shared: one run of a mode moves 15-20 %%)",
    )
    parser.add_argument("--days", type=int, default=5, help="engine mode: simulated days measured")
    parser.add_argument(
        "--modes",
        default=",".join(DEFAULT_MODES),
        help=f"comma-separated, of {','.join(MODES)} (default {','.join(DEFAULT_MODES)})",
    )
    parser.add_argument(
        "--profile",
        metavar="DIR",
        help="write a cProfile of each client's window (and the engine's days) to DIR/<mode>.prof; "
        "the timings printed are then inflated by the profiler",
    )
    args = parser.parse_args()
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = set(modes) - set(MODES)
    if unknown:
        parser.error(f"unknown mode(s): {', '.join(sorted(unknown))}")
    if args.stations < 1 or args.duration <= 0 or args.ramp <= 0 or args.days < 1 or args.rounds < 1:
        parser.error("--stations, --duration, --ramp, --rounds and --days must be positive")
    if args.profile:
        os.makedirs(args.profile, exist_ok=True)
    opts = Options(args.stations, args.duration, args.ramp, args.settle, args.profile)
    # SIGTERM ends the bench like ^C: the finally blocks stop every child process.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    results: dict[str, dict[str, Any]] = {}
    runs: dict[str, list[dict[str, Any]]] = {}
    started = time.perf_counter()
    for round_ in range(args.rounds):
        if args.rounds > 1:
            _say(f"-- round {round_ + 1} of {args.rounds}")
        for mode in modes:
            if mode == "engine":
                if round_ == 0:
                    results[mode] = run_engine(args.days, opts.profile)
                continue
            runs.setdefault(mode, []).append(run_fleet(mode, opts))
    for mode, each in runs.items():
        results[mode] = median_run(each)
    _say(f"done in {time.perf_counter() - started:.0f} s")
    print(report(results, opts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
