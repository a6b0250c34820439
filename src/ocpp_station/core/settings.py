"""What the engine is told at construction: identity, connectors, wire policy. Plain data."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

#: A vendor DataTransfer handler: (messageId, data) -> (status, data) (OCPP 1.6 §5.6).
DataTransferHandler = Callable[[str | None, str | None], tuple[str, str | None]]


class CallObserver(Protocol):
    """Sees every OCPP exchange of an engine, for statistics (a fleet's CALLs/s and latency per action,
    Prometheus, a load test's requests). Plain data in, nothing back: the engine's decisions never
    depend on it. One observer may serve many engines (a fleet shares one per process). Latencies are
    in engine time (the monotonic clock the shell feeds in), seconds."""

    def sent(self, action: str) -> None:
        """A CALL of ours went out (a retry of a transaction message too)."""

    def answered(self, action: str, latency_s: float, error: str | None) -> None:
        """Our CALL ``action`` ended ``latency_s`` after it went out: error None for a CALLRESULT, else
        the CALLERROR code, ``"Timeout"`` (no answer within the call timeout) or ``"Lost"`` (the link
        went down with it in flight)."""

    def received(self, action: str, error: str | None) -> None:
        """A CALL of the CSMS was answered: error None for a CALLRESULT, else the CALLERROR code."""


@dataclass(frozen=True, slots=True)
class ConnectorSpec:
    """One physical connector (id 1..n)."""

    max_current_a: float = 32.0
    phases: int = 3
    voltage_v: float = 230.0
    #: "socket" (cable brought by the driver, with a lock) or "cable" (fixed cable, nothing to unlock)
    kind: str = "socket"
    lockable: bool = True

    @property
    def has_lock(self) -> bool:
        return self.kind == "socket" and self.lockable


@dataclass(frozen=True, slots=True)
class EngineSettings:
    """Static settings of one charge point's engine."""

    charge_point_id: str = "CP_1"
    #: BootNotification.req fields (OCPP 1.6 §6.2), wire names; empty values are left out.
    identity: Mapping[str, str] = field(
        default_factory=lambda: {"chargePointVendor": "ocpp-station", "chargePointModel": "Simulated"}
    )
    connectors: tuple[ConnectorSpec, ...] = (ConnectorSpec(),)
    #: Validate incoming frames strictly (True) or accept common central-system deviations.
    strict: bool = True
    #: Statistics of every exchange (:class:`CallObserver`); None: none kept, nothing spent on them.
    call_observer: CallObserver | None = None
    #: Seconds to wait for a CALLRESULT/CALLERROR before the CALL times out (OCPP-J 1.6 §4.1.1).
    call_timeout_s: float = 30.0
    #: Retry interval after a failed or unanswered BootNotification when the CSMS gave none.
    boot_retry_s: float = 30.0
    #: Follow the CSMS clock with the OS clock too (SetSystemClock effect); off by default.
    set_system_clock: bool = False
    #: How long a Reset waits for transaction messages to go out before rebooting anyway.
    reset_grace_s: float = 10.0
    #: After a restart, continue a transaction whose EV is still plugged in (else stop it, PowerLoss).
    resume_transactions: bool = False
    #: Most queued messages other than transaction messages while offline (oldest dropped first).
    queue_cap: int = 1000
    #: Messages per second when a backlog is replayed after a reconnect (0 = no limit).
    replay_rate_per_s: float = 20.0
    #: Messages of such a backlog sent at once before the rate applies.
    replay_burst: int = 10
    #: What the shell can download firmware and upload diagnostics with (SupportedFileTransferProtocols,
    #: OCPP 1.6 §8, erratum 3.90); empty: no FirmwareManagement profile.
    file_transfer_protocols: tuple[str, ...] = ("FTP", "HTTP", "HTTPS")
    #: Retries of a firmware download / diagnostics upload when the CSMS gives none (§6.25, §6.55).
    transfer_retries: int = 2
    #: Seconds between those attempts when the CSMS gives no retryInterval.
    transfer_retry_interval_s: int = 60
    #: Answer the plain 1.6 UpdateFirmware with a CALLERROR NotSupported: only signed firmware
    #: (SignedUpdateFirmware) installs (security whitepaper L01.FR.20). Off by default: a CSMS without
    #: the whitepaper can still update the station.
    signed_firmware_only: bool = False
    #: Failed connection attempts in a row after which a raised SecurityProfile falls back to the
    #: previous one (security whitepaper A05.FR.08; ``core.features.security``).
    profile_fallback_attempts: int = 3
    #: Vendor DataTransfer handlers by vendorId.
    data_transfer_handlers: Mapping[str, DataTransferHandler] = field(default_factory=dict)
    #: Extra OCPP configuration keys' initial values by standard name (the config file's "ocpp").
    ocpp_config: Mapping[str, Any] = field(default_factory=dict)
    #: Certificates installed at manufacturing or installation (security whitepaper §2.6.4, the config
    #: file's ``security``): (certificateUse, PEM text) pairs; a text may hold several certificates.
    #: What the CSMS installs or deletes later (stored records) wins over these.
    installed_certificates: tuple[tuple[str, str], ...] = ()
    #: The ChargePointCertificate installed at manufacturing (security whitepaper §2.6.4, the config
    #: file's ``security.chargePointCertificate``): its PEM chain, "" for none. Its private key stays
    #: in the shell; one the CSMS installs later (A02, A03) wins over it.
    charge_point_certificate: str = ""
    #: The Central System URL is wss://: what security profiles 2 and 3 need (whitepaper A00.FR.311).
    tls: bool = False

    @property
    def connector_count(self) -> int:
        return len(self.connectors)

    def spec(self, connector_id: int) -> ConnectorSpec:
        return self.connectors[connector_id - 1]
