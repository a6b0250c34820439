"""One charge point at run time: the engine, its websocket, its hardware and its store.

The shell decides nothing about OCPP. It turns I/O into engine events (frames, hardware inputs, timer
expiry), carries out the effects the engine returns (send, energize, lock, persist, reboot) and keeps
one timer armed at ``engine.next_deadline()``.

Two clocks (issue #8): every event carries ``now`` from the monotonic clock, anchored to the wall clock
when the station is built (so a deadline stored before a restart keeps its meaning), and the wall clock
itself. The timer is armed on the monotonic scale, so a wall-clock jump (NTP, an RTC starting in 1970,
``connection.setSystemClock``) delays or hurries nothing; the engine decides what the jump means for
OCPP timestamps (``Engine._wall_jumped``).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import ssl
import tempfile
import time
import uuid
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from ocpp_station.config.station import StationConfig
from ocpp_station.core import effects as fx
from ocpp_station.core.engine import Engine
from ocpp_station.core.events import (
    Booted,
    CablePlugged,
    Connected,
    Disconnected,
    Event,
    FrameReceived,
    ShutdownRequested,
    TimerDue,
    UnlockCompleted,
)
from ocpp_station.core.model import Restored
from ocpp_station.core.settings import DataTransferHandler, EngineSettings
from ocpp_station.hardware.interface import Hardware
from ocpp_station.hardware.simulated import SimulatedHardware
from ocpp_station.storage import MemoryStore, SqliteStore, Store, StoreError
from ocpp_station.storage.base import KINDS, Op
from ocpp_station.transport.api import CallFailed as CallFailed  # re-exported: Station.call raises it
from ocpp_station.transport.api import StationApi
from ocpp_station.transport.backoff import backoff_delays
from ocpp_station.transport.transfers import FileTransfers, StationLog

log = logging.getLogger("ocpp_station.station")

SUBPROTOCOL = Subprotocol("ocpp1.6")
#: A connection that stayed up this long resets the back-off.
GOOD_CONNECTION_S = 30.0

FrameLogger = Callable[[str, bool, bytes | str], None]  # (charge point id, outgoing, data)


class SubprotocolRefused(Exception):
    pass


class Station(StationApi):
    """Run one charge point: ``await station.run()`` until :meth:`stop`."""

    def __init__(
        self,
        config: StationConfig,
        *,
        store: Store | None = None,
        hardware: Hardware | None = None,
        data_transfer_handlers: dict[str, DataTransferHandler] | None = None,
        frame_logger: FrameLogger | None = None,
        wall_clock: Callable[[], float] = time.time,
        monotonic_clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self._wall = wall_clock
        self._monotonic = monotonic_clock
        #: now() = anchor + monotonic: the wall clock's scale at start, the monotonic clock's pace.
        self._anchor = wall_clock() - monotonic_clock()
        self._loop: asyncio.AbstractEventLoop | None = None
        if store is None:
            if config.data_dir is not None:
                store = SqliteStore.open_or_recover(config.data_dir, sync=config.durability.sync)
            else:
                store = MemoryStore()
        self.store: Store = store
        self.storage_error: str | None = None
        self._pending_ops: list[Op] = []
        registers = {int(cid): float(rec["energyWh"]) for cid, rec in store.load("meters").items()}
        self.hardware: Hardware = hardware or SimulatedHardware(
            config.connectors, self.now, self._schedule, config.ev, registers=registers
        )
        self._handlers = dict(data_transfer_handlers or {})
        self._frame_logger = frame_logger
        self._events: deque[Event] = deque()
        self._busy = False
        self._timer: asyncio.TimerHandle | None = None
        #: The deadline (engine clock) the timer is armed for.
        self._timer_at: float | None = None
        self._ws: ClientConnection | None = None
        self._send_queue: asyncio.Queue[bytes] | None = None
        self._calls: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._next_ref = 1
        self._network_allowed = True
        self._network_changed = asyncio.Event()
        self._stopping = False
        self._ping_interval = 0
        self._ping_changed = asyncio.Event()
        self.reboots = 0
        #: The restart after a Reset, while it runs (kept so it is not collected, and stop() waits).
        self._restart_task: asyncio.Task[None] | None = None
        #: This station's recent log lines and frames, for GetDiagnostics.
        self.log = StationLog(config.file_transfer.log_lines)
        self._temp_dir: tempfile.TemporaryDirectory[str] | None = None
        work_dir: Path | Callable[[], Path]
        if config.data_dir is not None:
            work_dir = config.data_dir / "transfers"
        else:
            work_dir = self._make_temp_dir  # made at the first transfer, removed by close()
        self.transfers = FileTransfers(
            work_dir=work_dir,
            policy=config.file_transfer,
            hardware=lambda: self.hardware,
            feed=self.feed,
            station_log=self.log,
            diagnostics=self._diagnostics,
            charge_point_id=config.charge_point_id,
            ca_bundle=config.ca_bundle,
        )
        self.engine = self._build_engine()
        self.hardware.attach(self.feed)

    def _make_temp_dir(self) -> Path:
        self._temp_dir = tempfile.TemporaryDirectory(prefix="ocpp-station-")
        return Path(self._temp_dir.name)

    # -- engine --------------------------------------------------------------------------------------
    def now(self) -> float:
        """The engine's clock: monotonic, in seconds on the wall clock's scale as of the start."""
        return self._anchor + self._monotonic()

    def _build_engine(self) -> Engine:
        c = self.config
        settings = EngineSettings(
            charge_point_id=c.charge_point_id,
            identity=dict(c.identity),
            connectors=c.connectors,
            strict=c.strict,
            call_timeout_s=c.call_timeout_s,
            set_system_clock=c.set_system_clock,
            data_transfer_handlers=self._handlers,
            resume_transactions=c.durability.resume_transactions,
            queue_cap=c.durability.queue_cap,
            replay_rate_per_s=c.durability.replay_rate_per_s,
            replay_burst=c.durability.replay_burst,
            file_transfer_protocols=c.file_transfer.protocols,
            transfer_retries=c.file_transfer.retries,
            transfer_retry_interval_s=c.file_transfer.retry_interval_s,
        )
        values = {**c.ocpp, **self.store.load_config()}
        store = self.store
        restored = Restored.from_records({kind: store.load(kind) for kind in KINDS})
        engine = Engine(
            settings,
            now=self.now(),
            wall=self._wall(),
            config_values=values,
            availability=store.load_availability(),
            id_factory=lambda: str(uuid.uuid4()),
            restored=restored,
        )
        # The engine reads a meter when it needs one (a sample, a start, a stop), not before every event.
        engine.ctx.meter_source = lambda connector_id: self.hardware.read_meter(connector_id)
        # Until a graceful stop says otherwise, the next start follows a crash or power loss.
        self._pending_ops.append(("put", "station", "shutdown", {"clean": False}))
        self._flush()
        self._ping_interval = engine.config.get_int("WebSocketPingInterval")
        return engine

    def feed(self, event: Event) -> None:
        """Hand an event to the engine (from hardware, the network or the API). Never re-entrant:
        events raised while effects run are queued and handled in order."""
        self._events.append(event)
        if self._busy:
            return
        self._busy = True
        try:
            with self.log.active():
                while self._events:
                    self._handle(self._events.popleft())
        finally:
            self._busy = False
        self._arm_timer()
        self._notify_state()

    def _handle(self, event: Event) -> None:
        now = self.now()
        wall = self._wall()
        try:
            effects = self.engine.handle(event, now, wall)
        except ValueError as exc:
            log.warning("event %s refused: %s", type(event).__name__, exc)
            raise
        self._execute(effects)

    def _arm_timer(self) -> None:
        if self._loop is None:
            return
        deadline = self.engine.next_deadline()
        if self._timer is not None:
            if deadline == self._timer_at:
                return  # most events leave the next deadline where it was: keep the armed timer
            self._timer.cancel()
            self._timer = None
        self._timer_at = deadline
        if deadline is not None:
            self._timer = self._loop.call_later(max(0.0, deadline - self.now()), self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_at = None
        self.feed(TimerDue())

    def _schedule(self, delay: float, callback: Callable[[], None]) -> Callable[[], None]:
        loop = self._loop or asyncio.get_event_loop()
        handle = loop.call_later(delay, callback)
        return handle.cancel

    # -- effects -----------------------------------------------------------------------------------------
    def _execute(self, effects: list[fx.Effect]) -> None:
        for effect in effects:
            handler = self._effect_handlers.get(type(effect))
            if handler is None:
                log.error("no handler for effect %r", effect)
                continue
            handler(self, effect)
        self._flush()

    def _persist(self, effect: fx.Persist) -> None:
        self._pending_ops.append(("put", effect.kind, effect.key, effect.value))
        if effect.kind == "transactions" and effect.value is not None:
            # The meter registers are hardware state a real meter keeps; the simulator's live here,
            # stored with the transaction that moves them (the reading the engine took in this step).
            cid = int(effect.value["connectorId"])
            energy = self.engine.ctx.meter(cid).energy_wh
            self._pending_ops.append(("put", "meters", str(cid), {"energyWh": energy}))

    def _flush(self) -> None:
        """Commit the stored records of this step in one transaction: before any frame they guard
        goes out (stored before sent). A failing store is reported, the writes kept and retried."""
        if not self._pending_ops:
            return
        try:
            self.store.apply(self._pending_ops)
        except StoreError as exc:
            if self.storage_error is None:
                log.error("%s; keeping %s writes in memory and retrying", exc, len(self._pending_ops))
            self.storage_error = str(exc)
            return
        if self.storage_error is not None:
            log.warning("the store works again; %s writes caught up", len(self._pending_ops))
            self.storage_error = None
        self._pending_ops.clear()

    def _send(self, effect: fx.SendFrame) -> None:
        self._flush()
        if self._send_queue is None:
            log.warning("not connected: frame dropped %s", effect.data[:80])
            return
        self.log.frame(True, effect.data)
        if self._frame_logger is not None:
            self._frame_logger(self.config.charge_point_id, True, effect.data)
        self._send_queue.put_nowait(effect.data)

    def _unlock(self, effect: fx.UnlockConnector) -> None:
        unlocked = self.hardware.unlock(effect.connector_id)
        self.feed(UnlockCompleted(effect.connector_id, unlocked))

    def _reboot(self, effect: fx.Reboot) -> None:
        log.info("%s reset: restarting the station", "hard" if effect.hard else "soft")
        if self._loop is not None:
            self._restart_task = self._loop.create_task(self._restart(effect.hard))

    def _set_clock(self, effect: fx.SetSystemClock) -> None:
        try:
            time.clock_settime(time.CLOCK_REALTIME, effect.epoch_s)
        except (PermissionError, OSError) as exc:
            log.warning("cannot set the system clock: %s", exc)

    def _set_ping(self, effect: fx.SetPingInterval) -> None:
        self._ping_interval = effect.interval_s
        self._ping_changed.set()

    def _store(self, action: Callable[[], None]) -> None:
        try:
            action()
        except StoreError as exc:
            log.error("%s", exc)

    def _completed(self, effect: fx.CallCompleted) -> None:
        future = self._calls.pop(effect.ref, None)
        if future is None or future.done():
            return
        if effect.result is not None:
            future.set_result(effect.result)
        else:
            future.set_exception(CallFailed(effect.error or "Error", effect.error_description))

    _effect_handlers: dict[type, Callable[[Station, Any], None]] = {
        fx.SendFrame: _send,
        fx.Energize: lambda self, e: self.hardware.energize(e.connector_id, e.on),
        fx.ApplyChargingLimit: lambda self, e: self.hardware.set_current_limit(e.connector_id, e.limit_a),
        fx.LockConnector: lambda self, e: self.hardware.set_lock(e.connector_id, e.locked),
        fx.UnlockConnector: _unlock,
        fx.Reboot: _reboot,
        fx.SetSystemClock: _set_clock,
        fx.SetPingInterval: _set_ping,
        fx.StoreConfigValue: lambda self, e: self._store(lambda: self.store.save_config(e.name, e.value)),
        fx.StoreAvailability: lambda self, e: self._store(
            lambda: self.store.save_availability(e.connector_id, e.operative)
        ),
        fx.DownloadFirmware: lambda self, e: self.transfers.download_firmware(e),
        fx.InstallFirmware: lambda self, e: self.transfers.install_firmware(e),
        fx.UploadDiagnostics: lambda self, e: self.transfers.upload_diagnostics(e),
        fx.CallCompleted: _completed,
        fx.Persist: _persist,
        fx.PersistClear: lambda self, e: self._pending_ops.append(("clear", e.kind, "", None)),
    }

    # -- running -------------------------------------------------------------------------------------------
    async def run(self) -> None:
        """Connect and serve until :meth:`stop`; reconnects forever with back-off."""
        self._loop = asyncio.get_running_loop()
        self._arm_timer()
        self._report_hardware()
        delays = backoff_delays(self.config.reconnect)
        while not self._stopping:
            if not self._network_allowed:
                self._network_changed.clear()
                await self._network_changed.wait()
                continue
            started = time.monotonic()
            try:
                await self._connection()
            except SubprotocolRefused as exc:
                log.error("%s", exc)
            except (TimeoutError, OSError, websockets.exceptions.WebSocketException) as exc:
                log.warning("connection to %s failed: %s", self.config.url, exc or type(exc).__name__)
            if self._stopping:
                break
            if time.monotonic() - started > GOOD_CONNECTION_S:
                delays = backoff_delays(self.config.reconnect)
            delay = next(delays)
            log.info("reconnecting in %.1f s", delay)
            self._network_changed.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._network_changed.wait(), delay)

    def _connect_kwargs(self) -> dict[str, Any]:
        headers: dict[str, str] = {}
        if self.config.basic_auth_password is not None:
            # OCPP-J 1.6 §6.2.2 / security profile 1: user = charge point id.
            token = f"{self.config.charge_point_id}:{self.config.basic_auth_password}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(token).decode()
        kwargs: dict[str, Any] = {
            "subprotocols": [SUBPROTOCOL],
            "additional_headers": headers,
            "ping_interval": None,  # our own ping loop follows WebSocketPingInterval at run time
            "compression": None,
            "open_timeout": 15,
            "close_timeout": 5,
            "proxy": None,
            "user_agent_header": "ocpp-station",
        }
        if self.config.url.startswith("wss://"):
            context = ssl.create_default_context(
                cafile=str(self.config.ca_bundle) if self.config.ca_bundle else None
            )
            kwargs["ssl"] = context
        return kwargs

    async def _connection(self) -> None:
        async with connect(self.config.url, **self._connect_kwargs()) as ws:
            if ws.subprotocol != SUBPROTOCOL:
                await ws.close(1002, "ocpp1.6 required")
                raise SubprotocolRefused(
                    f"{self.config.url}: the server did not accept the ocpp1.6 subprotocol "
                    f"(it answered {ws.subprotocol!r})"
                )
            if not self._network_allowed:
                return
            log.info("connected to %s", self.config.url)
            self._ws = ws
            self._send_queue = asyncio.Queue()
            writer = asyncio.create_task(self._writer(ws, self._send_queue))
            pinger = asyncio.create_task(self._pinger(ws))
            try:
                self.feed(Connected())
                async for message in ws:
                    self.log.frame(False, message)
                    if self._frame_logger is not None:
                        self._frame_logger(self.config.charge_point_id, False, message)
                    self.feed(FrameReceived(message))
            finally:
                self._ws = None
                self._send_queue = None
                writer.cancel()
                pinger.cancel()
                if not self._stopping or self.engine.ctx.connected:
                    self.feed(Disconnected("closed"))

    async def _writer(self, ws: ClientConnection, queue: asyncio.Queue[bytes]) -> None:
        while True:
            data = await queue.get()
            try:
                await ws.send(data, text=True)
            except websockets.exceptions.ConnectionClosed:
                return

    async def _pinger(self, ws: ClientConnection) -> None:
        """WebSocketPingInterval (OCPP 1.6 §9.1.34): a ping every interval; no pong within it means
        the link is dead, so it is dropped and replaced."""
        while True:
            interval = self._ping_interval
            self._ping_changed.clear()
            if interval <= 0:
                await self._ping_changed.wait()
                continue
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._ping_changed.wait(), interval)
                continue  # the interval changed: start over with the new one
            try:
                pong = await ws.ping()
                await asyncio.wait_for(pong, timeout=interval)
            except (TimeoutError, websockets.exceptions.ConnectionClosed):
                log.warning("no pong within %s s: dropping the connection", interval)
                if ws.transport is not None:
                    ws.transport.abort()
                return

    def _report_hardware(self) -> None:
        """After (re)building the engine: what the hardware shows now, then Booted (recovery)."""
        for cid in range(1, len(self.config.connectors) + 1):
            if self.hardware.is_plugged(cid):
                self.feed(CablePlugged(cid))
        self.feed(Booted())

    async def _restart(self, hard: bool) -> None:
        """Reset: close the link, reboot the hardware, build a fresh engine from the store, reconnect."""
        self.reboots += 1
        self.transfers.cancel_all()
        self._flush()
        ws = self._ws
        if ws is not None:
            await ws.close(1000, "reset")
        if self.hardware.reboot(hard):
            return
        self.engine = self._build_engine()
        self._report_hardware()
        self._arm_timer()
        self._notify_state()

    async def stop(self) -> None:
        """Graceful stop (SIGTERM): running transactions stopped with the configured reason (or left
        to resume), queued messages given ``shutdown_grace_s`` to go out, the websocket closed with
        code 1000, the store marked as cleanly shut down."""
        if self._stopping:
            return
        restart = self._restart_task
        if restart is not None and not restart.done():
            # A Reset in progress finishes first: its new engine is the one that shuts down.
            with contextlib.suppress(Exception):
                await restart
        policy = self.config.durability
        self.feed(ShutdownRequested(policy.on_shutdown))
        if self.engine.ctx.connected and policy.shutdown_grace_s > 0:
            with contextlib.suppress(asyncio.TimeoutError):
                await self.wait_for(lambda s: s["queue"] == 0, timeout=policy.shutdown_grace_s)
        self._stopping = True
        self.transfers.cancel_all()
        self._network_changed.set()
        if self._timer is not None:
            self._timer.cancel()
        self._pending_ops.append(("put", "station", "shutdown", {"clean": True}))
        self._flush()
        ws = self._ws
        if ws is not None:
            await ws.close(1000, "station stopping")

    def close(self) -> None:
        self.store.close()
        self.log.close()
        if self._temp_dir is not None:
            self._temp_dir.cleanup()
