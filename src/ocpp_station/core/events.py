"""Events: past-tense facts fed to :meth:`ocpp_station.core.engine.Engine.handle`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class MeterReading:
    """What a connector's meter shows now. Per-phase lists hold L1, L2, L3 (only as many as phases)."""

    energy_wh: float = 0.0
    power_w: float = 0.0
    current_a: tuple[float, ...] = ()
    voltage_v: tuple[float, ...] = ()
    offered_a: float = 0.0
    soc_percent: float | None = None
    temperature_c: float | None = None
    frequency_hz: float | None = None


@dataclass(frozen=True, slots=True)
class Connected:
    """The websocket to the central system is open (OCPP-J 1.6 §3)."""


@dataclass(frozen=True, slots=True)
class Disconnected:
    """The websocket closed or failed."""

    reason: str = ""


@dataclass(frozen=True, slots=True)
class ConnectFailed:
    """A connection attempt ended before the websocket opened (refused, TLS or HTTP failure, timeout):
    what the security profile fallback counts (security whitepaper A05.FR.08)."""

    reason: str = ""


@dataclass(frozen=True, slots=True)
class ServerCertificateVerified:
    """The TLS handshake of the connection just opened verified the CSMS's certificate along this
    chain: the SHA-256 fingerprints (lower-case hex) of its DER certificates, the server's first, the
    trust anchor last (security whitepaper M05.FR.12: was the new CentralSystemRootCertificate used?)."""

    fingerprints: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FrameReceived:
    """One websocket text message arrived."""

    data: bytes | str


@dataclass(frozen=True, slots=True)
class TimerDue:
    """The deadline returned by ``next_deadline()`` has passed."""


@dataclass(frozen=True, slots=True)
class MeterRead:
    """Fresh meter readings by connector id (the shell sends them before other events)."""

    readings: dict[int, MeterReading]


@dataclass(frozen=True, slots=True)
class CablePlugged:
    connector_id: int


@dataclass(frozen=True, slots=True)
class CableUnplugged:
    connector_id: int


@dataclass(frozen=True, slots=True)
class CableRemoved:
    """The driver's cable left the socket (socket connectors: the proximity pilot is gone).

    ``CableUnplugged`` is the EV side; with a socket the cable may stay in (locked) after it, and the
    connector stays Finishing until this event (OCPP 1.6 §4.9, OCTT TC_005_x)."""

    connector_id: int


@dataclass(frozen=True, slots=True)
class EVReadyChanged:
    """The EV started (True) or stopped (False) drawing energy the EVSE offers (SuspendedEV)."""

    connector_id: int
    ready: bool


@dataclass(frozen=True, slots=True)
class IdTagPresented:
    """A card was read; ``connector_id`` None means one reader serving all connectors."""

    id_tag: str
    connector_id: int | None = None


@dataclass(frozen=True, slots=True)
class FaultRaised:
    connector_id: int
    error_code: str
    info: str | None = None
    vendor_error_code: str | None = None


@dataclass(frozen=True, slots=True)
class FaultCleared:
    connector_id: int


@dataclass(frozen=True, slots=True)
class UnlockCompleted:
    """Result of an :class:`ocpp_station.core.effects.UnlockConnector` effect."""

    connector_id: int
    unlocked: bool


@dataclass(frozen=True, slots=True)
class FirmwareDownloaded:
    """Result of a :class:`ocpp_station.core.effects.DownloadFirmware` effect."""

    job: int
    ok: bool
    reason: str = ""


@dataclass(frozen=True, slots=True)
class FirmwareVerified:
    """Result of :class:`ocpp_station.core.effects.VerifyFirmware`: whether the signature holds."""

    job: int
    ok: bool
    reason: str = ""


@dataclass(frozen=True, slots=True)
class FirmwareInstalled:
    """Result of :class:`ocpp_station.core.effects.InstallFirmware`: the new ``version`` when ``ok``."""

    job: int
    ok: bool
    version: str | None = None
    reason: str = ""
    #: A signed image whose signature no longer verified right before the installation (it changed
    #: since the check): nothing was installed (security whitepaper InstallVerificationFailed).
    verification_failed: bool = False


@dataclass(frozen=True, slots=True)
class DiagnosticsUploaded:
    """Result of a :class:`ocpp_station.core.effects.UploadDiagnostics` effect."""

    job: int
    ok: bool
    reason: str = ""


@dataclass(frozen=True, slots=True)
class LogUploaded:
    """Result of a :class:`ocpp_station.core.effects.UploadLog` effect: ``status`` Uploaded, or why
    it failed as UploadLogStatusEnumType names it (UploadFailure, PermissionDenied,
    NotSupportedOperation, BadMessage; security whitepaper N01.FR.10)."""

    job: int
    status: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Booted:
    """The station finished starting: its hardware inputs (CablePlugged ...) were reported, so
    transactions interrupted by the last stop can be resumed or closed (issue #3)."""


@dataclass(frozen=True, slots=True)
class ShutdownRequested:
    """A graceful stop (SIGTERM): running transactions are stopped with ``reason`` (Reboot, Other),
    or left to resume after the restart when ``reason`` is None."""

    reason: str | None = "Reboot"


@dataclass(frozen=True, slots=True)
class SecurityEventObserved:
    """The shell saw a security event (security whitepaper §8) the engine cannot see itself: a TLS
    handshake it refused, HTTP 401 to the websocket upgrade. ``event_type`` is one of the feature's
    fixed table (``core/features/security_events.py``, OBSERVABLE; another is refused with a
    ValueError); ``tech_info`` is cut to 255 characters."""

    event_type: str
    tech_info: str = ""


@dataclass(frozen=True, slots=True)
class SecurityLogCleared:
    """Someone with access to the station (the control API) cleared the security log: its first new
    entry is SecurityLogWasCleared (security whitepaper §8)."""

    by: str = "the control API"


@dataclass(frozen=True, slots=True)
class CallRequested:
    """A program embedding the station asks to send a CALL (e.g. DataTransfer); ``ref`` comes back
    in :class:`ocpp_station.core.effects.CallCompleted`."""

    action: str
    payload: dict[str, Any] = field(default_factory=dict)
    ref: int = 0


@dataclass(frozen=True, slots=True)
class KeyPairGenerated:
    """The shell made the key pair and CSR a GenerateKeyPair asked for (security whitepaper A02, A03):
    the CSR (PEM, RFC 2986) and the public key (PEM); the private key stays in the shell (A02.FR.05).
    ``csr`` is empty when it failed, ``reason`` says why."""

    job: int
    csr: str
    public_key: str
    reason: str = ""


Event = (
    Connected
    | Disconnected
    | ConnectFailed
    | ServerCertificateVerified
    | FrameReceived
    | TimerDue
    | MeterRead
    | CablePlugged
    | CableUnplugged
    | CableRemoved
    | EVReadyChanged
    | IdTagPresented
    | FaultRaised
    | FaultCleared
    | UnlockCompleted
    | FirmwareDownloaded
    | FirmwareInstalled
    | FirmwareVerified
    | DiagnosticsUploaded
    | LogUploaded
    | CallRequested
    | SecurityEventObserved
    | SecurityLogCleared
    | Booted
    | ShutdownRequested
    | KeyPairGenerated
)
