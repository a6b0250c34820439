"""The security log and SecurityEventNotification (OCPP 1.6 security whitepaper edition 3: §8
"Security Events", use case A04, N01.FR.05).

**Which events.** :data:`SECURITY_EVENTS` is the table of §8, each type with its criticality as §8
marks it (critical: FirmwareUpdated, SettingSystemTime, StartupOfTheDevice, ResetOrReboot,
SecurityLogWasCleared, MemoryExhaustion, TamperDetectionActivated). Nothing else is ever logged or
sent: a type outside the table is a ValueError naming it, whoever asks.

**Who sees them.** The engine itself, through facts (:mod:`ocpp_station.core.features.base`):

===============================================  ===========================================
event                                            fact
===============================================  ===========================================
StartupOfTheDevice                               ``booted``: the station finished starting
FirmwareUpdated                                  ``booted`` after a firmware installation: the
                                                 firmware store's ``installed`` record names a
                                                 job this log has not seen yet
ResetOrReboot                                    ``rebooting(hard)``: a Reset (or the reboot
                                                 after a firmware installation) is carried out
SettingSystemTime                                ``clock_changed``: a clock sync moved the OCPP
                                                 clock by more than a second, or the wall clock
                                                 jumped before the first sync
ReconfigurationOfSecurityParameters              ``security_reconfigured(what)``: the CSMS
                                                 changed SecurityProfile or AuthorizationKey
any type of the table                            ``security_event(type, techInfo)``: told by the
                                                 feature whose domain it is (certificates,
                                                 firmware signatures)
===============================================  ===========================================

and the shell, with the event :class:`~ocpp_station.core.events.SecurityEventObserved`, for what only
it can see (:data:`OBSERVABLE`): a refused TLS handshake (InvalidCentralSystemCertificate,
InvalidTLSVersion, InvalidTLSCipherSuite, FailedToAuthenticationAtCentralSystem: A00.FR.309, 315, 322)
and HTTP 401 to the websocket upgrade (FailedToAuthenticationAtCentralSystem: the credentials were
rejected, §8; spelt as the errata of edition 3 fix it), a store that is full (MemoryExhaustion) and
the tamper sensor (TamperDetectionActivated, the control API). The shell cannot name the events the
engine sees itself. The RPC pump tells InvalidMessages (``core/rpc_pump.py``: a frame or CALL that is
no valid OCPP message); :meth:`SecurityEvents.clear` (the event ``SecurityLogCleared``) empties the log
and starts the new one with SecurityLogWasCleared. AttemptedReplayAttacks and
CentralSystemFailedToAuthentication are never raised: OCPP 1.6 gives a station no way to see them
(docs/security.md). techInfo is cut to the schema's 255 characters.

**The log** (A04.FR.04, N01.FR.05: every event, critical or not). Records of kind ``security_log``,
key the entry's sequence number (12 digits), value ``{"timestamp": OCPP time (RFC 3339), "type",
"techInfo"}``; rolling, as A04.FR.04's note recommends: at most :data:`LOG_CAP` entries, the oldest
deleted first. Only the range of sequence numbers is kept in memory (a fleet keeps thousands of
engines); the entries are in the store, for GetLog (N01) to upload.

**SecurityEventNotification** (A04.FR.01-03). Every event is sent, stamped with its OCPP time, and
held back until the BootNotification is Accepted like other messages (§4.2):

* **critical** events always (A04.FR.01), with a guaranteed delivery (A04.FR.02): the message policy
  row (``core/policy.py``: kept, uncapped) keeps the notification queued while offline and after a
  timeout, and the queue cap never drops it; its log entry is stored with ``"pending": true`` until
  the CSMS answers, and after a restart every pending entry is queued again, oldest first (before the
  new StartupOfTheDevice). Why not the transaction-message policy: a CALLERROR is an answer (the CSMS
  got it; it is not retried TransactionMessageAttempts times), a Reset need not wait for it (the
  entry survives the reboot) and transaction messages keep their own order (OCPP 1.6 §4.7) without
  security events among them. A pending entry the rolling log drops (more than :data:`LOG_CAP` events
  since) is not sent any more.
* **non-critical** events too (§8 only says critical ones "should be pushed"; a CSMS learns from
  InvalidCentralSystemCertificate why a station could not connect), kept while offline but not across
  a restart, and at most one waiting per type and techInfo (and :data:`WAITING_PER_TYPE` per type): a
  refusal repeated at every reconnection attempt queues one notification, not one per attempt (each
  attempt is in the log), while a different event of the same type (the security profile fallback
  after the raise, both ReconfigurationOfSecurityParameters) is still told. The CSMS's answer frees it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from ocpp_station.core.context import Context, log
from ocpp_station.core.features.base import Feature, on_failure, on_result
from ocpp_station.core.model import Restored
from ocpp_station.core.rpc import OutgoingCall
from ocpp_station.wire.messages import SecurityEventNotificationRequest, SecurityEventNotificationResponse
from ocpp_station.wire.timestamps import Timestamp, format_datetime, parse_datetime

#: Security whitepaper §8: every security event type and whether it is critical.
SECURITY_EVENTS: Final[Mapping[str, bool]] = {
    "FirmwareUpdated": True,
    "FailedToAuthenticationAtCentralSystem": False,
    "CentralSystemFailedToAuthentication": False,
    "SettingSystemTime": True,
    "StartupOfTheDevice": True,
    "ResetOrReboot": True,
    "SecurityLogWasCleared": True,
    "ReconfigurationOfSecurityParameters": False,
    "MemoryExhaustion": True,
    "InvalidMessages": False,
    "AttemptedReplayAttacks": False,
    "TamperDetectionActivated": True,
    "InvalidFirmwareSignature": False,
    "InvalidFirmwareSigningCertificate": False,
    "InvalidCentralSystemCertificate": False,
    "InvalidChargePointCertificate": False,
    "InvalidTLSVersion": False,
    "InvalidTLSCipherSuite": False,
}
#: What the engine sees itself: the shell never reports these.
ENGINE_EVENTS: Final = frozenset(
    {
        "StartupOfTheDevice",
        "FirmwareUpdated",
        "ResetOrReboot",
        "SettingSystemTime",
        "ReconfigurationOfSecurityParameters",
        "SecurityLogWasCleared",
    }
)
#: What the shell may report with SecurityEventObserved (TLS refusals, HTTP 401, hardware sensors).
OBSERVABLE: Final = frozenset(SECURITY_EVENTS) - ENGINE_EVENTS
#: Entries the security log keeps; the oldest go first (A04.FR.04: rolling). About 300 bytes each
#: at most in the store.
LOG_CAP: Final = 1000
#: Non-critical notifications of one type (different techInfos) waiting at most; more are only logged.
WAITING_PER_TYPE: Final = 4
#: SecurityEventNotification.req techInfo maxLength (schema).
TECH_INFO_MAX: Final = 255
KIND: Final = "security_log"
#: The record of this feature's own state (not an entry): the last firmware job it logged.
STATE_KEY: Final = "state"


def _key(seq: int) -> str:
    return f"{seq:012d}"


class SecurityEvents(Feature):
    """The security log and SecurityEventNotification (security whitepaper §8, A04)."""

    __slots__ = (
        "_clean_shutdown",
        "_firmware_installed",
        "_firmware_seen",
        "_first",
        "_next",
        "_pending",
        "_waiting",
        "ctx",
    )

    PROFILE = "Core"

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        #: The log holds the entries first .. next - 1 (sequence numbers), in the store.
        self._first = 1
        self._next = 1
        #: Critical entries not yet answered by the CSMS, by sequence number (small: they go out as
        #: soon as the station is online).
        self._pending: dict[int, dict[str, str]] = {}
        #: Non-critical notifications waiting: the techInfos by type (at most one each).
        self._waiting: dict[str, set[str]] = {}
        #: The firmware installation this log last told as FirmwareUpdated: (job, version).
        self._firmware_seen: tuple[int, str] | None = None
        #: The installation the firmware store names (restored), told at ``booted`` when new.
        self._firmware_installed: tuple[int, str] | None = None
        #: How the last run ended, for StartupOfTheDevice's techInfo (None: no store).
        self._clean_shutdown: bool | None = None

    # -- the log and the notification ---------------------------------------------------------------
    @property
    def log_size(self) -> int:
        return self._next - self._first

    def record(self, event_type: str, tech_info: str = "") -> None:
        """Log ``event_type`` (a type of §8) at the OCPP time and notify the CSMS. ValueError: no
        security event type of the whitepaper."""
        critical = SECURITY_EVENTS.get(event_type)
        if critical is None:
            raise ValueError(f"{event_type!r} is no security event type (security whitepaper §8)")
        tech_info = tech_info[:TECH_INFO_MAX]
        ctx = self.ctx
        seq = self._next
        self._next += 1
        entry = {"timestamp": format_datetime(ctx.ocpp_time()), "type": event_type, "techInfo": tech_info}
        ctx.persist(KIND, _key(seq), {**entry, "pending": True} if critical else entry)
        while self._next - self._first > LOG_CAP:  # rolling: the oldest go (A04.FR.04)
            ctx.persist(KIND, _key(self._first), None)
            self._pending.pop(self._first, None)
            self._first += 1
        if critical:
            self._pending[seq] = entry
        else:
            waiting = self._waiting.setdefault(event_type, set())
            if tech_info in waiting or len(waiting) >= WAITING_PER_TYPE:
                return  # the same notification waits already; the log has this one
            waiting.add(tech_info)
        self._notify(seq, entry, critical)

    def _notify(self, seq: int, entry: Mapping[str, str], critical: bool) -> None:
        event_type, tech_info = entry["type"], entry["techInfo"]
        at = Timestamp(parse_datetime(entry["timestamp"]))
        if tech_info:
            request = SecurityEventNotificationRequest(type=event_type, timestamp=at, tech_info=tech_info)
        else:
            request = SecurityEventNotificationRequest(type=event_type, timestamp=at)
        self.ctx.call(request, meta={"log": seq} if critical else {})

    def clear(self, by: str) -> None:
        """Clear the log: every entry goes (a critical one not yet notified too: its notification is
        queued already); the first entry of the new log is SecurityLogWasCleared (§8, critical)."""
        ctx = self.ctx
        for seq in range(self._first, self._next):
            ctx.persist(KIND, _key(seq), None)
        self._pending.clear()
        log.warning("security log cleared by %s (%s entries)", by, self._next - self._first)
        self._first = self._next
        self.record("SecurityLogWasCleared", f"cleared by {by}")

    def observed(self, event_type: str, tech_info: str) -> None:
        """The shell saw ``event_type`` (SecurityEventObserved): one of :data:`OBSERVABLE` only."""
        if event_type not in OBSERVABLE:
            raise ValueError(f"{event_type!r} is no security event the shell can report")
        self.record(event_type, tech_info)

    @on_result(SecurityEventNotificationRequest)
    def _sent(self, call: OutgoingCall, response: SecurityEventNotificationResponse) -> None:
        self._answered(call)

    @on_failure(SecurityEventNotificationRequest)
    def _not_sent(self, call: OutgoingCall, reason: str) -> None:
        """A CALLERROR (or an answer that breaks the schema): the CSMS got it, and says no."""
        log.warning("the CSMS answered SecurityEventNotification with %s", reason)
        self._answered(call)

    def _answered(self, call: OutgoingCall) -> None:
        seq = call.meta.get("log")
        if isinstance(seq, int):
            entry = self._pending.pop(seq, None)
            if entry is not None:  # still in the log: no longer pending
                self.ctx.persist(KIND, _key(seq), entry)
            if not self._pending:
                self._pending = {}  # a dict keeps its table when emptied: 100 bytes per station (issue 11)
        elif isinstance(call.payload, SecurityEventNotificationRequest):
            payload = call.payload
            waiting = self._waiting.get(payload.type)
            if waiting is not None:
                waiting.discard(payload.tech_info if isinstance(payload.tech_info, str) else "")
                if not waiting:
                    del self._waiting[payload.type]
                    if not self._waiting:
                        self._waiting = {}  # without the table an emptied dict keeps

    # -- declarations (core.features.base) --------------------------------------------------------------
    def restore(self, restored: Restored) -> None:
        """The log's range; the critical entries not yet answered, queued again in order; the last
        firmware installation told."""
        log_records = restored.security_log
        entries = sorted(int(key) for key in log_records if key.isdigit())
        if entries:
            self._first, self._next = entries[0], entries[-1] + 1
        for seq in entries:
            record = log_records[_key(seq)] if _key(seq) in log_records else None
            if not isinstance(record, Mapping) or not record.get("pending"):
                continue
            try:
                entry = {
                    "timestamp": format_datetime(parse_datetime(str(record["timestamp"]))),
                    "type": str(record["type"]),
                    "techInfo": str(record.get("techInfo", ""))[:TECH_INFO_MAX],
                }
            except (KeyError, ValueError) as exc:
                log.error("security log entry %s cannot be sent: %s", seq, exc)
                continue
            if SECURITY_EVENTS.get(entry["type"]) is not True:
                log.error("security log entry %s is no critical security event: %r", seq, entry["type"])
                continue
            self._pending[seq] = entry
            self._notify(seq, entry, critical=True)
        state = log_records.get(STATE_KEY)
        if isinstance(state, Mapping) and "firmwareJob" in state:
            self._firmware_seen = (int(state["firmwareJob"]), str(state.get("firmwareVersion", "")))
        installed = restored.firmware.get("installed")
        if isinstance(installed, Mapping) and "version" in installed:
            self._firmware_installed = (int(installed.get("job", 0)), str(installed["version"]))
        self._clean_shutdown = restored.clean_shutdown

    def booted(self) -> None:
        """The station started (StartupOfTheDevice); after a firmware installation, FirmwareUpdated."""
        how = {None: "", True: " after a graceful stop", False: " after a power loss or crash"}
        version = self.ctx.firmware_version
        self.record(
            "StartupOfTheDevice",
            f"started{how[self._clean_shutdown]}" + (f", firmware {version}" if version else ""),
        )
        installed = self._firmware_installed
        if installed is not None and installed != self._firmware_seen:
            job, version = installed
            self.record("FirmwareUpdated", f"firmware {version} installed (update job {job})")
            self._firmware_seen = installed
            self.ctx.persist(KIND, STATE_KEY, {"firmwareJob": job, "firmwareVersion": version})

    def rebooting(self, hard: bool) -> None:
        self.record("ResetOrReboot", "hard reset" if hard else "soft reset")

    def clock_changed(self) -> None:
        self.record("SettingSystemTime", "the OCPP clock was set (clock sync or wall-clock jump)")

    def csms_root_refused(self, reason: str) -> None:
        """InstallCertificate refused a CentralSystemRootCertificate (OCTT TC_078_CS)."""
        self.record("InvalidCentralSystemCertificate", f"InstallCertificate refused: {reason}")

    def security_event(self, event_type: str, tech_info: str) -> None:
        """Another feature saw a security event of its own domain (``ctx.tell("security_event", type,
        techInfo)``: an invalid ChargePointCertificate, an invalid firmware signature, ...): any type of
        :data:`SECURITY_EVENTS` (a ValueError names another)."""
        self.record(event_type, tech_info)

    def security_reconfigured(self, what: str) -> None:
        self.record("ReconfigurationOfSecurityParameters", f"{what} changed")
