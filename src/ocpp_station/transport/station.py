"""One charge point at run time: the facade over its engine, websocket link, hardware and store.

The shell decides nothing about OCPP. :class:`Station` turns I/O into engine events (frames from its
:class:`~ocpp_station.transport.connection.Link`, hardware inputs, timer expiry), hands the effects the
engine returns to its :class:`~ocpp_station.transport.executor.EffectExecutor` (send, energize, lock,
persist, reboot) and keeps one timer armed at ``engine.next_deadline()``. The tasks it starts (a ping
round, a restart, a transfer) live in the TaskGroup of :meth:`Station.run`; what it shows of the
engine goes through a read-only :class:`~ocpp_station.transport.view.EngineView`.

Two clocks (issue #8): every event carries ``now`` from the monotonic clock, anchored to the wall clock
when the station is built (so a deadline stored before a restart keeps its meaning), and the wall clock
itself. The timer is armed on the monotonic scale, so a wall-clock jump (NTP, an RTC starting in 1970,
``connection.setSystemClock``) delays or hurries nothing; the engine decides what the jump means for
OCPP timestamps (``Engine._wall_jumped``).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import tempfile
import time
from collections.abc import Callable, Coroutine, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from ocpp_station.config.station import StationConfig
from ocpp_station.core.effects import SendFrame
from ocpp_station.core.engine import Engine
from ocpp_station.core.events import (
    Booted,
    CablePlugged,
    Connected,
    ConnectFailed,
    Disconnected,
    Event,
    FrameReceived,
    KeyPairGenerated,
    SecurityEventObserved,
    SecurityLogCleared,
    ServerCertificateVerified,
    ShutdownRequested,
    TimerDue,
)
from ocpp_station.core.model import Restored
from ocpp_station.core.settings import CallObserver, DataTransferHandler, EngineSettings
from ocpp_station.hardware.interface import Hardware
from ocpp_station.hardware.simulated import SimulatedHardware
from ocpp_station.logs import STATION_ID, with_wire_trace
from ocpp_station.storage import MemoryStore, SqliteStore, Store
from ocpp_station.storage.base import KINDS
from ocpp_station.transport.alarms import Alarms
from ocpp_station.transport.api import CallFailed as CallFailed  # re-exported: Station.call raises it
from ocpp_station.transport.api import StationApi
from ocpp_station.transport.connection import GOOD_CONNECTION_S as GOOD_CONNECTION_S
from ocpp_station.transport.connection import SUBPROTOCOL as SUBPROTOCOL
from ocpp_station.transport.connection import Link
from ocpp_station.transport.connection import SubprotocolRefused as SubprotocolRefused
from ocpp_station.transport.executor import EffectExecutor
from ocpp_station.transport.keys import KeyStore
from ocpp_station.transport.trace import TRACE_SIZE, FrameTrace
from ocpp_station.transport.transfers import FileTransfers, StationLog
from ocpp_station.transport.view import EngineView
from ocpp_station.wire.frames import CallError, CallResult, decode_frame, encode_call
from ocpp_station.wire.redact import redact

if TYPE_CHECKING:
    from ocpp_station.control.metrics import StationMetrics

log = logging.getLogger("ocpp_station.station")

FrameLogger = Callable[[str, bool, bytes | str], None]  # (charge point id, outgoing, data)


#: The DataTransfer handlers of a station given none: one empty mapping for all (issue 11).
_NO_HANDLERS: Mapping[str, DataTransferHandler] = MappingProxyType({})


#: Message ids: a random prefix per process and one counter for every station of it. OCPP-J 1.6
#: §4.1.4 with its erratum 3.1: at most 36 characters, never used before by the same charge point on
#: any connection; a new process (a restart) draws a new 48-bit prefix. About 25x cheaper than uuid4,
#: and nothing per station (issue 9).
_ID_PREFIX = os.urandom(6).hex() + "-"
_ID_COUNTER = itertools.count(1)


def _new_message_id() -> str:
    return _ID_PREFIX + str(next(_ID_COUNTER))


class Station(StationApi):
    """Run one charge point: ``await station.run()`` until :meth:`stop`."""

    #: The last frames, for the dashboard (:meth:`enable_trace`); None: not kept (nothing allocated).
    trace: FrameTrace | None = None
    #: The station's Prometheus metrics (control/metrics.py: its CallObserver, told of every
    #: connection), given at construction when its control API serves them; None (the class's default:
    #: nothing per station) otherwise, for every station of a fleet.
    metrics: StationMetrics | None = None

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
        call_observer: CallObserver | None = None,
        metrics: StationMetrics | None = None,
    ) -> None:
        self.config = config
        self._wall = wall_clock
        self._monotonic = monotonic_clock
        #: now() = anchor + monotonic: the wall clock's scale at start, the monotonic clock's pace.
        self._anchor = wall_clock() - monotonic_clock()
        self._loop: asyncio.AbstractEventLoop | None = None
        #: The TaskGroup of :meth:`run` while it runs: every task the station starts lives in it.
        self._tasks: asyncio.TaskGroup | None = None
        #: Tasks started while run() is not running (no TaskGroup to own them); made at the first.
        self._loose_tasks: set[asyncio.Task[None]] | None = None
        if store is None:
            if config.data_dir is not None:
                store = SqliteStore.open_or_recover(config.data_dir, sync=config.durability.sync)
            else:
                store = MemoryStore()
        self.store: Store = store
        self.executor = EffectExecutor(self)
        self._keys: KeyStore | None = None
        key_file = config.security.charge_point_private_key_file
        if key_file is not None:
            self._keep_installed_key(key_file)
        self.link = Link(config, self, self._spawn)
        registers = {int(cid): float(rec["energyWh"]) for cid, rec in store.load("meters").items()}
        self.hardware: Hardware = hardware or SimulatedHardware(
            config.connectors, self.now, self._schedule, config.ev, registers=registers
        )
        self._handlers = dict(data_transfer_handlers) if data_transfer_handlers else _NO_HANDLERS
        #: Statistics of every exchange (EngineSettings.call_observer; a fleet shares one per process).
        if metrics is not None:
            if call_observer is not None:
                raise ValueError("give metrics or call_observer, not both: the metrics are the observer")
            self.metrics = metrics
            call_observer = metrics
        self._call_observer = call_observer
        # The wire trace (logs.py): decided here, once; nothing per frame when ocpp_station.wire is off.
        self.frame_logger = with_wire_trace(frame_logger)
        #: Events fed while effects run, handled next in order (made at the first one).
        self._queued: list[Event] | None = None
        self._busy = False
        #: The pending alarm's number (transport/alarms.py: one loop timer for every station); 0: none.
        self.alarm_seq = 0
        self._alarms: Alarms | None = None
        #: The deadline (engine clock) the alarm is set for.
        self._timer_at: float | None = None
        self.reboots = 0
        #: The restart after a Reset, while it runs (stop() waits for it).
        self._restart_task: asyncio.Task[None] | None = None
        #: This station's recent log lines and frames, for GetDiagnostics.
        self.log = StationLog(config.file_transfer.log_lines, config.file_transfer.log_bytes)
        self._temp_dir: tempfile.TemporaryDirectory[str] | None = None
        self._transfers: FileTransfers | None = None
        self.engine = self._build_engine()
        self.hardware.attach(self.feed)
        if metrics is not None:
            metrics.attach(self)

    @property
    def view(self) -> EngineView:
        """A read-only view of the engine's state (made on demand: it costs nothing while unused)."""
        return EngineView(self.engine)

    @property
    def keys(self) -> KeyStore:
        """The ChargePointCertificates' private keys (security whitepaper A02.FR.05): never in the
        engine. Made at the first use: most stations of a fleet hold none (issue 11)."""
        if self._keys is None:
            c = self.config
            self._keys = KeyStore(None if c.data_dir is None else c.data_dir / "keys")
        return self._keys

    @property
    def storage_error(self) -> str | None:
        """The last store failure while its writes wait to be retried; None when the store works."""
        return self.executor.storage_error

    @property
    def transfers(self) -> FileTransfers:
        """The firmware and diagnostics transfers (made at the first one: most stations never do one)."""
        if self._transfers is None:
            c = self.config
            work_dir: Path | Callable[[], Path]
            if c.data_dir is not None:
                work_dir = c.data_dir / "transfers"
            else:
                work_dir = self._make_temp_dir  # made at the first transfer, removed by close()
            self._transfers = FileTransfers(
                work_dir=work_dir,
                policy=c.file_transfer,
                hardware=lambda: self.hardware,
                feed=self.feed,
                station_log=self.log,
                diagnostics=self._diagnostics,
                charge_point_id=c.charge_point_id,
                ca_bundle=c.ca_bundle,
                spawn=self._spawn,
            )
        return self._transfers

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
            identity=c.identity,  # read only (Registration copies it): not copied per station
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
            installed_certificates=c.security.installed_certificates,
            tls=c.url.startswith("wss://"),
            charge_point_certificate=c.security.charge_point_certificate,
            signed_firmware_only=c.security.signed_firmware_only,
            profile_fallback_attempts=c.security.profile_fallback_attempts,
            call_observer=self._call_observer,
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
            id_factory=_new_message_id,
            restored=restored,
        )
        # The engine reads a meter when it needs one (a sample, a start, a stop), not before every event.
        engine.ctx.meter_source = self.hardware.read_meter
        # Until a graceful stop says otherwise, the next start follows a crash or power loss.
        self.executor.pending_ops.append(("put", "station", "shutdown", {"clean": False}))
        self.executor.flush()
        self.link.ping_interval = EngineView(engine).ping_interval_s
        return engine

    def feed(self, event: Event) -> None:
        """Hand an event to the engine (from hardware, the network or the API). Never re-entrant:
        events raised while effects run are queued and handled in order."""
        if self._busy:
            if self._queued is None:
                self._queued = []
            self._queued.append(event)
            return
        self._busy = True
        try:
            if self.log.enabled:
                with self.log.active():
                    self._handle_all(event)
            else:  # a fleet's stations: no context manager on the hot path
                self._handle_all(event)
        finally:
            self._busy = False
        self._arm_timer()
        self._notify_state()

    def _handle_all(self, event: Event) -> None:
        queued = self._queued
        if queued:  # left by a step that raised: they come first
            queued.append(event)
            event = queued.pop(0)
        while True:
            self._handle(event)
            queued = self._queued
            if not queued:
                return
            event = queued.pop(0)

    def _handle(self, event: Event) -> None:
        now = self.now()
        wall = self._wall()
        try:
            effects = self.engine.handle(event, now, wall)
        except ValueError as exc:
            log.warning("event %s refused: %s", type(event).__name__, exc)
            raise
        self.executor.execute(effects)

    def _arm_timer(self) -> None:
        alarms = self._alarms
        if alarms is None:
            return
        deadline = self.engine.next_deadline()
        if self.alarm_seq and deadline == self._timer_at:
            return  # most events leave the next deadline where it was: keep the alarm set
        self._timer_at = deadline
        if deadline is None:
            self.alarm_seq = 0
        else:
            self.alarm_seq = alarms.set(max(0.0, deadline - self.now()), self)

    def alarm_fired(self) -> None:
        """The engine's next deadline is reached (AlarmOwner)."""
        self._timer_at = None
        self.feed(TimerDue())

    def cancel_alarm(self) -> None:
        """No more TimerDue until the next event arms it again (a stop, a crash in the tests)."""
        self.alarm_seq = 0
        self._timer_at = None

    def _schedule(self, delay: float, callback: Callable[[], None]) -> Callable[[], None]:
        loop = self._loop or asyncio.get_event_loop()
        handle = loop.call_later(delay, callback)
        return handle.cancel

    # -- the link reports (LinkListener) -------------------------------------------------------------------
    def basic_auth_password(self) -> str | None:
        """AuthorizationKey when one is set (the config file's ``ocpp`` section or the CSMS), else the
        config file's ``basicAuthPassword`` (security whitepaper A00.FR.205, A01.FR.01)."""
        return self.view.authorization_key or self.config.basic_auth_password

    def csms_root_certificates(self) -> list[str]:
        """The installed CentralSystemRootCertificates (PEM), trusted for ``wss://`` next to the config
        file's ``caBundle`` (security whitepaper A00.FR.307)."""
        return self.view.csms_root_certificates()

    def client_certificate(self) -> tuple[str, str] | None:
        """The ChargePointCertificate in use and its private key (PEM texts) for the TLS handshake of
        security profile 3 (A00.FR.401-402): the newest valid one (A02.FR.08-09), the CSMS's over the
        config file's; None when there is none or its key is not held here."""
        found = self.view.charge_point_certificate()
        if found is None:
            return None
        chain, key_id = found
        key = self.keys.private_key_pem(key_id)
        if key is None:
            log.error("the private key of the charge point certificate in use (%s) is missing", key_id[:16])
            return None
        return chain, key

    def _keep_installed_key(self, path: Path) -> None:
        """The private key of the config file's chargePointCertificate (§2.6.4; checked at load)."""
        from cryptography.hazmat.primitives.serialization import load_pem_private_key

        from ocpp_station.core.certificates import spki_id

        data = path.read_bytes()
        key = load_pem_private_key(data, password=None)
        self.keys.keep(spki_id(key.public_key()), data.decode("ascii"), persist=False)

    def generate_key_pair(self, job: int, organization: str, common_name: str) -> None:
        """GenerateKeyPair (A02.FR.02, A03.FR.02): in a worker thread, then KeyPairGenerated with the
        CSR and public key (never the private key, A02.FR.05)."""
        self._spawn(self._generate_key_pair(job, organization, common_name))

    async def _generate_key_pair(self, job: int, organization: str, common_name: str) -> None:
        try:
            csr, public = await asyncio.to_thread(self.keys.generate, organization, common_name)
        except (OSError, ValueError) as exc:
            log.error("cannot make a key pair for the charge point certificate: %s", exc)
            self.feed(KeyPairGenerated(job, "", "", str(exc)))
            return
        self.feed(KeyPairGenerated(job, csr, public))

    def connection_url(self) -> str:
        """The configured URL; ``ws://`` becomes ``wss://`` (same host, port and path) while the
        security profile in force is 2 or 3, which need TLS (A00.FR.311, A05.FR.07); ``wss://`` stays
        ``wss://`` at every profile."""
        url = self.config.url
        if url.startswith("ws://") and self.view.security_profile >= 2:
            return "wss://" + url.removeprefix("ws://")
        return url

    def connect_failed(self, reason: str) -> None:
        """A connection attempt failed before the websocket opened (the profile fallback counts them,
        security whitepaper A05.FR.08)."""
        self.feed(ConnectFailed(reason))

    def server_verified(self, fingerprints: tuple[str, ...]) -> None:
        """The chain TLS verified the CSMS along (the CSMS root fallback, M05.FR.12)."""
        self.feed(ServerCertificateVerified(fingerprints))

    def security_event(self, event_type: str, tech_info: str) -> None:
        """The link saw a security event (a TLS refusal, HTTP 401): into the security log, and to the
        CSMS once connected (security whitepaper §8, A04)."""
        try:
            self.feed(SecurityEventObserved(event_type, tech_info))
        except ValueError:  # logged by _handle; the link goes on reconnecting
            pass

    def storage_full(self, detail: str) -> None:
        """The store is full (disk full): the security event MemoryExhaustion (whitepaper §8), logged
        (in memory until the store works again) and notified."""
        if getattr(self, "engine", None) is not None:  # not while the engine is being built
            self.security_event("MemoryExhaustion", detail)

    def clear_security_log(self) -> None:
        """Clear the security log (the control API); its first new entry is SecurityLogWasCleared (§8)."""
        self.feed(SecurityLogCleared())

    def tamper_detected(self, detail: str = "") -> None:
        """The tamper detection sensor was triggered (the control API, a hardware driver): the security
        event TamperDetectionActivated (whitepaper §8, critical)."""
        self.feed(SecurityEventObserved("TamperDetectionActivated", detail or "tamper detection sensor"))

    # -- the dashboard (control/dashboard.py) ----------------------------------------------------------
    def enable_trace(self, size: int = TRACE_SIZE) -> FrameTrace:
        """Keep the last ``size`` frames (the dashboard's message trace) from now on; the trace already
        kept when there is one. It sits in front of the frame logger: a station without one (the
        default) pays nothing on its frame path."""
        if self.trace is None:
            self.trace = FrameTrace(size, self.frame_logger)
            self.frame_logger = self.trace
        return self.trace

    def change_configuration(self, key: str, value: str) -> dict[str, Any]:
        """ChangeConfiguration as a CSMS would send it (the dashboard): the engine answers it as
        one from the network (access, validators, vetoes, RebootRequired, its hooks), but the answer
        comes back here instead of going to the CSMS. Returns ``{"status": ...}`` or, for a request
        the engine refuses with a CALLERROR, ``{"error": code, "description": ...}``."""
        if self._busy:
            raise RuntimeError("change_configuration inside a step")
        message_id = "dashboard-" + _new_message_id()
        frame = encode_call(message_id, "ChangeConfiguration", {"key": key, "value": value})
        answer: dict[str, Any] = {"error": "NoAnswer", "description": "the engine did not answer"}
        self._busy = True
        try:
            with self.log.active():
                effects = self.engine.handle(FrameReceived(frame), self.now(), self._wall())
                mine = message_id.encode()
                for effect in effects:
                    if isinstance(effect, SendFrame) and mine in effect.data:
                        reply = decode_frame(effect.data)
                        if isinstance(reply, CallResult) and reply.message_id == message_id:
                            answer = {"status": reply.payload.get("status")}
                        elif isinstance(reply, CallError) and reply.message_id == message_id:
                            answer = {"error": str(reply.error_code), "description": reply.description}
                        else:
                            continue
                        effects.remove(effect)
                        break
                self.executor.execute(effects)
        finally:
            self._busy = False
        queued = self._queued
        if queued:
            self.feed(queued.pop(0))  # what the step raised, in order (feed arms and notifies)
        else:
            self._arm_timer()
            self._notify_state()
        return answer

    def link_opened(self) -> None:
        if self.metrics is not None:
            self.metrics.link_opened()
        self.feed(Connected())

    def frame_received(self, message: str | bytes) -> None:
        frame_logger = self.frame_logger
        if self.log.enabled or frame_logger is not None:  # a fleet's stations: neither
            shown = redact(message)  # the AuthorizationKey never reaches a log (A01.FR.12)
            self.log.frame(False, shown)
            if frame_logger is not None:
                frame_logger(self.config.charge_point_id, False, shown)
        self.feed(FrameReceived(message))

    def link_closed(self) -> None:
        if not self.link.stopping or self.view.connected:
            self.feed(Disconnected("closed"))

    # -- tasks ---------------------------------------------------------------------------------------------
    def _spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Start ``work`` in the station's TaskGroup (outside :meth:`run`: on the running loop). A
        failure is logged, never taken down the station with it."""
        guarded = self._guarded(work)
        tasks = self._tasks
        if tasks is not None:
            task = tasks.create_task(guarded)
        else:
            task = asyncio.get_running_loop().create_task(guarded)
            loose = self._loose_tasks
            if loose is None:
                loose = self._loose_tasks = set()
            loose.add(task)  # owned until done, like the TaskGroup's
            task.add_done_callback(loose.discard)
        # A task cancelled before it started never ran ``work``: closed here, it is not reported as
        # "never awaited" (a ping round cancelled by a stop did, at the end of a fleet run).
        task.add_done_callback(lambda _: work.close())
        return task

    async def _guarded(self, work: Coroutine[Any, Any, None]) -> None:
        try:
            await work
        except Exception:
            log.exception("%s: a task of the station failed", self.config.charge_point_id)

    def restart_soon(self, hard: bool) -> None:
        """Reset (the Reboot effect): restart in a task of the station's."""
        if self._loop is not None:
            self._restart_task = self._spawn(self._restart(hard))

    # -- running -------------------------------------------------------------------------------------------
    async def run(self) -> None:
        """Connect and serve until :meth:`stop`; reconnects forever with back-off."""
        self._loop = asyncio.get_running_loop()
        self._alarms = Alarms.of(self._loop)
        # The station id on every log record of this task and of what it starts (logs.py).
        STATION_ID.set(self.config.charge_point_id)
        self._arm_timer()
        self._report_hardware()
        async with asyncio.TaskGroup() as tasks:
            self._tasks = tasks
            try:
                await self.link.run()
            finally:
                self._tasks = None

    def _report_hardware(self) -> None:
        """After (re)building the engine: what the hardware shows now, then Booted (recovery)."""
        for cid in range(1, len(self.config.connectors) + 1):
            if self.hardware.is_plugged(cid):
                self.feed(CablePlugged(cid))
        self.feed(Booted())

    async def _restart(self, hard: bool) -> None:
        """Reset: close the link, reboot the hardware, build a fresh engine from the store, reconnect."""
        self.reboots += 1
        if self._transfers is not None:
            self._transfers.cancel_all()
        self.executor.flush()
        await self.link.close(1000, "reset")
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
        if self.link.stopping:
            return
        restart = self._restart_task
        if restart is not None and not restart.done():
            # A Reset in progress finishes first: its new engine is the one that shuts down.
            try:
                await restart
            except Exception:
                pass
        policy = self.config.durability
        self.feed(ShutdownRequested(policy.on_shutdown))
        if self.view.connected and policy.shutdown_grace_s > 0:
            try:
                await self.wait_for(lambda s: s["queue"] == 0, timeout=policy.shutdown_grace_s)
            except TimeoutError:
                pass
        self.link.stop()
        if self._transfers is not None:
            self._transfers.cancel_all()
        self.cancel_alarm()
        self.executor.pending_ops.append(("put", "station", "shutdown", {"clean": True}))
        self.executor.flush()
        await self.link.close(1000, "station stopping")

    def close(self) -> None:
        self.store.close()
        self.log.close()
        if self._temp_dir is not None:
            self._temp_dir.cleanup()
