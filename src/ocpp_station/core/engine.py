"""The engine: one charge point's OCPP 1.6 behaviour as a pure state machine.

    effects = engine.handle(event, now, wall)   # now: a monotonic clock; wall: the system clock
    deadline = engine.next_deadline()           # on ``now``'s scale: feed TimerDue() at or after it

Every timer runs on ``now``, a monotonic clock in seconds (the shell anchors it to the wall clock at start,
so persisted deadlines stay meaningful across restarts). The wall clock only stamps messages: the OCPP
clock is ``now + ctx.clock_offset_s``, the offset taken from the wall clock at start and from the CSMS
time at every clock sync. A jump of the wall clock (NTP, an RTC that starts in 1970, another process
setting the time) moves no timer; see :meth:`Engine._wall_jumped` for what it does to OCPP time.

It composes the feature modules (``FEATURE_ORDER``), routes events through one table and tells the
features the domain facts; the RPC pump (``core/rpc_pump.py``) routes frames (OCPP-J 1.6 §4), enforces
the pre-boot gate (OCPP 1.6 §4.2) and the one-CALL-in-flight rule (OCPP-J 1.6 §4.1.1), and validates
everything sent against the official schemas.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from typing import Any

from ocpp_station.config.keys import ConfigValues, Profile
from ocpp_station.core import events as ev
from ocpp_station.core.clock import shift_message
from ocpp_station.core.context import Context, log
from ocpp_station.core.effects import CallCompleted, Effect
from ocpp_station.core.features.authorization import Authorization
from ocpp_station.core.features.availability import Availability
from ocpp_station.core.features.base import FACTS, QUERIES, Feature, declares, routes_of
from ocpp_station.core.features.certificates import Certificates
from ocpp_station.core.features.configuration import Configuration
from ocpp_station.core.features.data_transfer import DataTransfer
from ocpp_station.core.features.firmware import FirmwareManagement
from ocpp_station.core.features.local_list import LocalAuthList
from ocpp_station.core.features.logs import Logs
from ocpp_station.core.features.metering import Metering
from ocpp_station.core.features.recovery import TransactionRecovery
from ocpp_station.core.features.registration import Registration
from ocpp_station.core.features.remote import RemoteTransactions
from ocpp_station.core.features.remote_trigger import RemoteTrigger
from ocpp_station.core.features.reservation import Reservations
from ocpp_station.core.features.reset import Reset
from ocpp_station.core.features.security import Security
from ocpp_station.core.features.security_events import SecurityEvents
from ocpp_station.core.features.smart_charging import SmartCharging
from ocpp_station.core.features.station_certificate import StationCertificate
from ocpp_station.core.features.status import StatusReporter, derive_status
from ocpp_station.core.features.transactions import Transactions
from ocpp_station.core.model import Fault, Restored
from ocpp_station.core.rpc import Outbox, OutgoingCall
from ocpp_station.core.rpc_pump import RpcPump
from ocpp_station.core.settings import EngineSettings
from ocpp_station.wire import schemas
from ocpp_station.wire.actions import is_known
from ocpp_station.wire.errors import ErrorCode, OcppError

#: The features, in the order in which they hear every fact (registration accepted, clock changed,
#: transaction ended, connector idle), restore what the store kept, and contribute triggers.
#: Declared here, not an accident of construction order (issue #9 §2): the connectors' statuses go
#: out first when the BootNotification is accepted (§4.2); restored transactions come back before
#: what refers to them (reservations, TxProfiles, a firmware update waiting for them to end).
FEATURE_ORDER = (
    "status",
    "registration",
    "authorization",
    "transactions",
    "recovery",
    "remote",
    "configuration",
    "local_list",
    "reservations",
    "smart_charging",
    "firmware",
    "availability",
    "reset",
    "data_transfer",
    "certificates",
    "station_certificate",
    "security",
    "security_events",
    "logs",
    "metering",
    "remote_trigger",
)

#: Which feature (by index in FEATURE_ORDER) hears each fact and answers each query, by the features' classes.
_HEARING_PLANS: dict[tuple[type, ...], dict[str, tuple[int, ...]]] = {}
#: The SupportedFeatureProfiles sets, shared.
_PROFILE_SETS: dict[tuple[str, ...], frozenset[str]] = {}


def _hearing_plan(kinds: tuple[type, ...], features: tuple[Feature, ...]) -> dict[str, tuple[int, ...]]:
    plan = _HEARING_PLANS.get(kinds)
    if plan is None:
        plan = {
            fact: tuple(i for i, feature in enumerate(features) if declares(feature, fact))
            for fact in (*FACTS, *QUERIES, "status_conditions")
        }
        _HEARING_PLANS[kinds] = plan
    return plan


#: The make-ups of features whose declarations were checked (once per make-up, not per station).
_CHECKED: set[tuple[type, ...]] = set()


def _check_declarations(features: tuple[Feature, ...]) -> None:
    """ValueError when two features declare the same TriggerMessage message, or hook or veto the same
    configuration key. Once per make-up of feature classes."""
    kinds = tuple(type(feature) for feature in features)
    if kinds in _CHECKED:
        return
    for what, declared in (
        ("TriggerMessage {} declared twice", [f.triggers() for f in features]),
        ("configuration key {} hooked twice", [f.config_hooks() for f in features]),
        ("configuration key {} vetoed twice", [f.config_vetoes() for f in features]),
    ):
        seen: set[str] = set()
        for table in declared:
            for name in table:
                if name in seen:
                    raise ValueError(what.format(name))
                seen.add(name)
    _CHECKED.add(kinds)


#: A change of the wall clock against the monotonic clock beyond this is a jump, not drift (seconds).
WALL_JUMP_S = 2.0


class Engine:
    """One charge point. Construct it with what the store kept; feed it events."""

    def __init__(
        self,
        settings: EngineSettings,
        *,
        now: float,
        wall: float | None = None,
        config_values: Mapping[str, str] | None = None,
        availability: Mapping[int, bool] | None = None,
        id_factory: Callable[[], str] | None = None,
        restored: Restored | None = None,
    ) -> None:
        counter = itertools.count(1)
        self.settings = settings
        config = ConfigValues(config_values)
        config.set("NumberOfConnectors", str(settings.connector_count))
        if all(spec.kind == "cable" for spec in settings.connectors):
            # Errata 3.85: a fixed cable reports false and does not allow a change.
            config.pin("UnlockConnectorOnEVSideDisconnect", "false")
        self.outbox = Outbox(id_factory or (lambda: str(next(counter))), cap=settings.queue_cap)
        self.ctx = ctx = Context(settings, config, self.outbox, now)
        ctx.wall_skew = 0.0 if wall is None else wall - now
        ctx.clock_offset_s = ctx.wall_skew
        #: Frames in, CALLs out, the reply cache (core/rpc_pump.py).
        self.rpc = RpcPump(ctx, self.outbox)
        ctx.reply = self.rpc.reply_later
        for connector_id, operative in (availability or {}).items():
            if 0 <= connector_id < len(ctx.connectors):
                ctx.connectors[connector_id].operative = operative
        self.status = StatusReporter(ctx)
        self.metering = Metering(ctx)
        self.registration = Registration(ctx, self._accepted, self._clock_corrected)
        self.authorization = Authorization(ctx)
        self.transactions = Transactions(ctx, self.status, self.metering, self.authorization)
        self.recovery = TransactionRecovery(ctx, self.transactions)
        self.remote = RemoteTransactions(ctx, self.transactions)
        self.configuration = Configuration(ctx)
        self.availability = Availability(ctx, self.status)
        self.reset = Reset(ctx, self.transactions)
        self.data_transfer = DataTransfer(ctx)
        self.certificates = Certificates(ctx)
        self.station_certificate = StationCertificate(ctx)
        self.security = Security(ctx, self.certificates)
        self.security_events = SecurityEvents(ctx)
        self.logs = Logs(ctx)
        # Feature profiles beyond Core (issue #4): each says whether it is supported, and
        # SupportedFeatureProfiles lists exactly those (§9.1.29).
        self.local_list = LocalAuthList(ctx, self.authorization)
        self.reservations = Reservations(ctx, self.transactions, self.status)
        self.smart_charging = SmartCharging(ctx, self.transactions)
        self.firmware = FirmwareManagement(ctx, self.transactions, self.status, self.reset.reboot_when_sent)
        self.remote_trigger = RemoteTrigger(ctx)
        #: Every feature, in the declared order in which it hears the facts (issue #9 §2).
        self.features: tuple[Feature, ...] = tuple(getattr(self, name) for name in FEATURE_ORDER)
        # What the features declare (triggers, configuration hooks and vetoes) is checked here and
        # gathered from ctx.features when needed, not kept per station (issue 11).
        ctx.features = self.features
        _check_declarations(self.features)
        # Who answers what: declared on the features' classes, one table per make-up.
        self.rpc.features = self.features
        self.rpc.routes = routes_of(self.features)
        offered = {feature.PROFILE for feature in self.features if feature.supported}
        profiles = [profile.value for profile in Profile if profile.value in offered]  # the §3 order
        # One frozen set per combination, shared by every station that has it (a set costs 700 bytes).
        config.profiles = _PROFILE_SETS.setdefault(tuple(profiles), frozenset(profiles))
        config.pin("SupportedFeatureProfiles", ",".join(profiles))
        if self.firmware.supported:
            config.pin("SupportedFileTransferProtocols", ",".join(settings.file_transfer_protocols))
        # The facts, to the features that declared them, in FEATURE_ORDER: which features hear which
        # fact depends only on their classes, so one plan serves every engine of the same make-up.
        self._hear = _hearing_plan(tuple(type(f) for f in self.features), self.features)
        for query in QUERIES:
            if len(self._hear[query]) > 1:
                raise ValueError(f"query {query} declared twice")
        # ctx.tell and the queries go through the shared plan: no bound method per station (issue 11).
        ctx.plan = self._hear
        ctx.reservations = self.reservations
        self._clean_shutdown = False
        #: Built from a store: once Booted settled the restored transactions, TxProfiles of those
        #: not resumed are dropped.
        self._restored = False
        if restored is not None:
            self._restore(restored)
        self.status.refresh()

    def _restore(self, restored: Restored) -> None:
        """Take back what the store kept (issue #3): queued transaction messages in order, open
        transactions, the authorization cache."""
        for seq, record in sorted(restored.outbox, key=lambda item: item[0]):
            self.outbox.next_seq = max(self.outbox.next_seq, seq + 1)
            try:
                call = OutgoingCall.from_record(seq, record)
            except ValueError as exc:
                # No valid request of its action (a damaged store): it could never be sent (strict
                # on output), so it goes, said in the log, as a refused send always went.
                log.error("stored message %s dropped: %s", seq, exc)
                self.ctx.persist("outbox", f"{seq:012d}", None)
                continue
            self.outbox.add(call)
        self._restored = True
        self._clean_shutdown = bool(restored.clean_shutdown)
        # Stored against the wall clock (OCPP time - wall time): a new run's monotonic clock differs.
        # Set first: what the features restore may run on the OCPP clock (expiry, retrieveDate).
        self.ctx.clock_offset_s = restored.clock_offset_s + self.ctx.wall_skew
        self.registration.restored_clock(restored.clock_offset_s)
        for feature in self.features:
            feature.restore(restored)

    # -- the API ----------------------------------------------------------------------------------
    def handle(self, event: ev.Event, now: float, wall: float | None = None) -> list[Effect]:
        """Feed one event at monotonic time ``now`` (``wall``: the wall clock then, None: the same as
        ``now``); returns the effects to carry out, in order."""
        ctx = self.ctx
        ctx.now = now
        # Empty after every step; after construction it holds what restoring asked for (a damaged
        # stored message deleted), carried out with the first step.
        effects = ctx.effects
        ctx.meters_read.clear()
        if wall is not None:
            skew = wall - now
            jump = skew - ctx.wall_skew
            ctx.wall_skew = skew
            if abs(jump) > WALL_JUMP_S:
                self._wall_jumped(jump)
        _EVENT_ROUTES[type(event)](self, event)
        self.rpc.settle()
        self.reset.check()
        ctx.effects = []  # the caller owns these now (a frame kept here would live until the next event)
        return effects

    def next_deadline(self) -> float | None:
        """When to feed ``TimerDue`` next (POSIX seconds), or None."""
        deadline = self.ctx.timers.next_deadline()
        flight = self.outbox.in_flight
        if flight is not None and (deadline is None or flight.timeout_at < deadline):
            deadline = flight.timeout_at
        retry = self.outbox.earliest_retry(self.ctx.now)
        if retry is not None and (deadline is None or retry < deadline):
            deadline = retry
        return deadline

    @property
    def config(self) -> ConfigValues:
        return self.ctx.config

    # -- connection ---------------------------------------------------------------------------------
    def _connected(self, event: ev.Connected) -> None:
        self.security.connected()
        self.rpc.connected()
        self.registration.on_connected()

    # -- hardware and API events ----------------------------------------------------------------------
    def _for_connector(self, connector_id: int, action: Callable[[int], None]) -> None:
        if not 1 <= connector_id < len(self.ctx.connectors):
            raise ValueError(f"no connector {connector_id}")
        action(connector_id)

    def _id_tag(self, event: ev.IdTagPresented) -> None:
        if event.connector_id is not None and not 1 <= event.connector_id < len(self.ctx.connectors):
            raise ValueError(f"no connector {event.connector_id}")
        self.transactions.id_tag_presented(event.id_tag, event.connector_id)

    def _fault(self, event: ev.FaultRaised) -> None:
        if not 0 <= event.connector_id < len(self.ctx.connectors):
            raise ValueError(f"no connector {event.connector_id}")
        c = self.ctx.connectors[event.connector_id]
        c.fault = Fault(event.error_code, event.info, event.vendor_error_code)
        affected = self.ctx.connectors[1:] if event.connector_id == 0 else [c]
        for connector in affected:
            if connector.transaction is not None:
                self.transactions.stop(connector.id, "Other")
        self.status.refresh()

    def _fault_cleared(self, event: ev.FaultCleared) -> None:
        if not 0 <= event.connector_id < len(self.ctx.connectors):
            raise ValueError(f"no connector {event.connector_id}")
        self.ctx.connectors[event.connector_id].fault = None
        self.status.refresh()

    def _call_requested(self, event: ev.CallRequested) -> None:
        if not is_known(event.action):
            self.ctx.emit(CallCompleted(event.ref, None, str(ErrorCode.NotImplemented), "unknown action"))
            return
        try:
            # Typed like every CALL of ours: a payload its schema refuses is answered at once, naming
            # the field, instead of going out (strict on output).
            request = schemas.parse_request(event.action, event.payload)
        except OcppError as exc:
            self.ctx.emit(CallCompleted(event.ref, None, str(exc.code), exc.description))
            return
        self.ctx.call(request, meta={"ref": event.ref})

    def _clock_corrected(self, jump_s: float) -> None:
        """The first clock sync moved the OCPP clock by ``jump_s``: shift the timestamps of what is
        still queued and of open transactions, which were stamped with the unsynced clock."""
        for call in self.outbox:
            call.payload = shift_message(call.payload, jump_s)
            if call.seq is not None:
                self.ctx.persist_call(call)
        for tx in self.transactions.open.values():
            tx.started_at += jump_s
            tx.last_at += jump_s
            tx.stop_data = [shift_message(value, jump_s) for value in tx.stop_data]
            self.ctx.save_transaction(tx)

    def _wall_jumped(self, jump_s: float) -> None:
        """The wall clock jumped by ``jump_s`` against the monotonic clock (issue #8). No timer moves.

        Once the CSMS time is known (a BootNotification or Heartbeat answer of this run), the CSMS is
        the reference (OCPP 1.6 §4.2, §4.6: the charge point synchronises with the Central System):
        the OCPP clock goes on unchanged and only the stored wall-clock offset follows, so a jump
        that ``connection.setSystemClock`` itself caused, or NTP correcting a charger's RTC, changes
        no timestamp. Before that, the OCPP clock is the wall clock (plus the offset stored by the
        last run), so it follows the jump: what was stamped with the old clock and is not yet sent
        (queued transaction messages, open transactions) moves with it, as at the first clock sync,
        and what runs on OCPP time (clock-aligned data, charging schedules, reservations, retrieveDate)
        re-arms on the new clock.
        """
        if self.registration.synced:
            log.info("wall clock jumped by %+.3f s; OCPP time stays on the Central System's clock", jump_s)
            self.registration.store_offset()
            return
        log.info("wall clock jumped by %+.3f s; OCPP time follows it (not yet synchronised)", jump_s)
        self.ctx.clock_offset_s += jump_s
        self._clock_corrected(jump_s)
        self.registration.announce_clock_change()

    def _booted(self, event: ev.Booted) -> None:
        self.recovery.recover(self._clean_shutdown)
        if self._restored:
            self.smart_charging.drop_orphans()
        self._tell("booted")

    def _shutdown(self, event: ev.ShutdownRequested) -> None:
        """Graceful stop: stop running transactions with the configured reason, or store their meter
        values so they can resume (issue #3)."""
        if event.reason is None:
            self.recovery.checkpoint()
        else:
            self.transactions.stop_all(event.reason)

    # -- registration hooks -----------------------------------------------------------------------------
    def _accepted(self) -> None:
        """BootNotification Accepted (§4.2): every feature that declared it hears it, in order (the
        connectors' statuses first, §4.9)."""
        self._tell("registration_accepted")

    def _tell(self, fact: str, *args: Any) -> None:
        features = self.features
        for index in self._hear[fact]:
            getattr(features[index], fact)(*args)

    # -- views ---------------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """The state a dashboard or test reads (the control API's GET /state)."""
        ctx = self.ctx
        connectors = []
        ctx.meters_read.clear()  # a view asked for between events reads the meters now
        for c in ctx.connectors:
            meter = ctx.meter(c.id)
            tx = c.transaction
            connectors.append(
                {
                    "id": c.id,
                    "status": c.reported_status or derive_status(c),
                    "errorCode": c.fault.error_code if c.fault else "NoError",
                    "transactionId": None if tx is None else tx.transaction_id,
                    "idTag": None if tx is None else tx.id_tag,
                    "meterWh": round(meter.energy_wh, 1),
                    "powerW": round(meter.power_w, 1),
                }
            )
        return {
            "chargePointId": ctx.settings.charge_point_id,
            "connected": ctx.connected,
            "registration": ctx.registration,
            "connectors": connectors,
            "queue": len(self.outbox) + (self.outbox.in_flight is not None),
            "firmware": {
                "version": self.registration.boot_request().firmware_version or None,
                "update": self.firmware.firmware_status,
                "diagnostics": self.firmware.diagnostics_status,
            },
        }


#: Each event to what handles it: one table for every engine (issue #9: nothing per instance).
_EVENT_ROUTES: dict[type, Callable[[Engine, Any], None]] = {
    ev.Connected: Engine._connected,
    ev.Disconnected: lambda self, e: self.rpc.disconnected(),
    ev.ConnectFailed: lambda self, e: self.security.connect_failed(e.reason),
    ev.ServerCertificateVerified: lambda self, e: self.certificates.server_verified(e.fingerprints),
    ev.FrameReceived: lambda self, e: self.rpc.frame(e.data),
    ev.TimerDue: lambda self, e: self.ctx.timers.fire(self.ctx.now),
    ev.MeterRead: lambda self, e: self.transactions.meters(e.readings),
    ev.CablePlugged: lambda self, e: self._for_connector(e.connector_id, self.transactions.plugged),
    ev.CableUnplugged: lambda self, e: self._for_connector(e.connector_id, self.transactions.unplugged),
    ev.CableRemoved: lambda self, e: self._for_connector(e.connector_id, self.transactions.cable_removed),
    ev.EVReadyChanged: lambda self, e: self._for_connector(
        e.connector_id, lambda cid: self.transactions.ev_ready(cid, e.ready)
    ),
    ev.IdTagPresented: Engine._id_tag,
    ev.FaultRaised: Engine._fault,
    ev.FaultCleared: Engine._fault_cleared,
    ev.UnlockCompleted: lambda self, e: self.reset.unlock_completed(e.connector_id, e.unlocked),
    ev.FirmwareDownloaded: lambda self, e: self.firmware.downloaded(e.job, e.ok, e.reason),
    ev.FirmwareInstalled: lambda self, e: self.firmware.installed(
        e.job, e.ok, e.version, e.reason, verification_failed=e.verification_failed
    ),
    ev.FirmwareVerified: lambda self, e: self.firmware.verified(e.job, e.ok, e.reason),
    ev.DiagnosticsUploaded: lambda self, e: self.firmware.uploaded(e.job, e.ok, e.reason),
    ev.LogUploaded: lambda self, e: self.logs.uploaded(e.job, e.status, e.reason),
    ev.CallRequested: Engine._call_requested,
    ev.SecurityEventObserved: lambda self, e: self.security_events.observed(e.event_type, e.tech_info),
    ev.SecurityLogCleared: lambda self, e: self.security_events.clear(e.by),
    ev.KeyPairGenerated: lambda self, e: self.station_certificate.key_pair_generated(
        e.job, e.csr, e.public_key, e.reason
    ),
    ev.Booted: Engine._booted,
    ev.ShutdownRequested: Engine._shutdown,
}
