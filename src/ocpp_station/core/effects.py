"""Effects: imperatives returned by the engine for the shell to carry out, in order."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class SendFrame:
    """Send this UTF-8 JSON text as one websocket text message."""

    data: bytes


@dataclass(frozen=True, slots=True)
class Energize:
    """Close (True) or open (False) the connector's relay: the EVSE offers energy or not."""

    connector_id: int
    on: bool


@dataclass(frozen=True, slots=True)
class ApplyChargingLimit:
    """Offer at most ``limit_a`` amperes per phase on the connector (0 = offer nothing)."""

    connector_id: int
    limit_a: float


@dataclass(frozen=True, slots=True)
class LockConnector:
    """Lock (True) or release (False) the socket's cable lock."""

    connector_id: int
    locked: bool


@dataclass(frozen=True, slots=True)
class UnlockConnector:
    """Unlock on the central system's request; answer with an UnlockCompleted event."""

    connector_id: int


@dataclass(frozen=True, slots=True)
class Reboot:
    """Restart the charge point, keeping its stored state (OCPP 1.6 §5.13 Reset)."""

    hard: bool


@dataclass(frozen=True, slots=True)
class SetSystemClock:
    """The central system's time (POSIX seconds); only carried out where the shell opts in."""

    epoch_s: float


@dataclass(frozen=True, slots=True)
class SetPingInterval:
    """Use this websocket ping interval from now on (0 = off) (OCPP 1.6 §9.1.34)."""

    interval_s: int


@dataclass(frozen=True, slots=True)
class StoreConfigValue:
    """Persist a configuration value the central system changed."""

    name: str
    value: str


@dataclass(frozen=True, slots=True)
class StoreAvailability:
    """Persist a connector's availability (0 = the whole charge point)."""

    connector_id: int
    operative: bool


@dataclass(frozen=True, slots=True)
class Persist:
    """Store ``value`` (JSON-able) under ``kind``/``key``; None deletes it.

    Kinds: ``outbox`` (transaction messages not yet answered, key = sequence number), ``transactions``
    (key = local id), ``auth_cache`` (key = idTag), ``meters`` (last known register per connector).
    The shell commits every Persist of one engine step, up to the next SendFrame, in one store
    transaction before that frame goes out: stored before sent (issue #3).
    """

    kind: str
    key: str
    value: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class PersistClear:
    """Delete every record of ``kind`` (ClearCache)."""

    kind: str


@dataclass(frozen=True, slots=True)
class DownloadFirmware:
    """Fetch the firmware image at ``location`` (one attempt); answer with ``FirmwareDownloaded``.

    ``job`` identifies the update (OCPP 1.6 §5.19); the engine ignores results of older jobs."""

    job: int
    location: str


@dataclass(frozen=True, slots=True)
class InstallFirmware:
    """Install the image downloaded for ``job`` (a hardware call); answer with ``FirmwareInstalled``.

    A signed update (security whitepaper L01) carries its ``signing_certificate`` (PEM) and
    ``signature`` (base64): the shell checks the image against them again right before the hardware
    gets it, and a mismatch fails the installation."""

    job: int
    signing_certificate: str | None = None
    signature: str | None = None


@dataclass(frozen=True, slots=True)
class VerifyFirmware:
    """Check the signature of the image downloaded for ``job`` (security whitepaper L01.FR.04,
    L01.FR.12): ``signature`` (base64) over the whole file, SHA-256, with the key of
    ``signing_certificate`` (PEM; RSA-PSS or ECDSA). Answer with ``FirmwareVerified``; a failed check
    deletes the image."""

    job: int
    signing_certificate: str
    signature: str


@dataclass(frozen=True, slots=True)
class UploadDiagnostics:
    """Upload a diagnostics file named ``file_name`` to ``location`` (one attempt, OCPP 1.6 §5.9);
    answer with ``DiagnosticsUploaded``. ``start_s`` / ``stop_s`` bound the log lines it holds
    (local POSIX seconds, None = open)."""

    job: int
    location: str
    file_name: str
    start_s: float | None = None
    stop_s: float | None = None


@dataclass(frozen=True, slots=True)
class UploadLog:
    """Upload the log ``log_type`` (``DiagnosticsLog``: the archive :class:`UploadDiagnostics` makes;
    ``SecurityLog``: the ``security_log`` records as text) named ``file_name`` to ``location`` (one
    attempt, security whitepaper N01); answer with ``LogUploaded``. ``start_s`` / ``stop_s`` bound the
    entries it holds, on the scale of that log's own stamps (DiagnosticsLog: local POSIX seconds;
    SecurityLog: OCPP time), None = open."""

    job: int
    log_type: str
    location: str
    file_name: str
    start_s: float | None = None
    stop_s: float | None = None


@dataclass(frozen=True, slots=True)
class CallCompleted:
    """The answer to a :class:`ocpp_station.core.events.CallRequested`.

    Exactly one of ``result`` (CALLRESULT payload) or ``error`` (CALLERROR code, or "Timeout" /
    "Dropped") is set.
    """

    ref: int
    result: dict[str, Any] | None = None
    error: str | None = None
    error_description: str = ""


@dataclass(frozen=True, slots=True)
class Reconnect:
    """Close the websocket normally and connect again at once, with the credentials and security
    profile configured now (security whitepaper A01: a new AuthorizationKey; A05.FR.06-07: a higher
    SecurityProfile)."""

    reason: str


@dataclass(frozen=True, slots=True)
class GenerateKeyPair:
    """Generate a new key pair for the ChargePointCertificate and a CSR of it (security whitepaper
    A02.FR.02-03, A03.FR.02-03): subject O ``organization`` (CpoName, A02.FR.13) and CN
    ``common_name`` (the charge point's serial number, A00.FR.511). The shell keeps the private key
    (A02.FR.05) and answers with :class:`~ocpp_station.core.events.KeyPairGenerated`."""

    job: int
    organization: str
    common_name: str


@dataclass(frozen=True, slots=True)
class ForgetKey:
    """Delete the private key ``key_id`` (security whitepaper A02/A03): its certificate was dropped
    (replaced more than a month ago, A02.FR.10), or no certificate came for the key pair (SignCertificate
    refused, a newer key pair asked for). Never a key of the config file."""

    key_id: str


Effect = (
    SendFrame
    | Energize
    | ApplyChargingLimit
    | LockConnector
    | UnlockConnector
    | Reboot
    | SetSystemClock
    | SetPingInterval
    | StoreConfigValue
    | StoreAvailability
    | Persist
    | PersistClear
    | DownloadFirmware
    | InstallFirmware
    | VerifyFirmware
    | UploadDiagnostics
    | UploadLog
    | CallCompleted
    | Reconnect
    | GenerateKeyPair
    | ForgetKey
)
