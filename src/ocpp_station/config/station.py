"""The station's config file (JSON).

The original charger client's layout loads unchanged::

    {"development": {"WS_URL": "ws://cms.example:80/ocpp/", "chargePointID": "CP_1"}}

gives ``ws://cms.example:80/ocpp/CP_1`` (a ``/`` is inserted when WS_URL lacks it). Other environment
sections (``production`` ...) are chosen with ``--environment``. Everything else is optional; see
``docs/configuration.md`` for every field. Errors raise :class:`ConfigError` naming the file, the field
and what is wrong.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ocpp_station.config.keys import validate_ocpp_overrides
from ocpp_station.core.certificates import CertificateError, CertificateStore, add_installed
from ocpp_station.core.settings import ConnectorSpec
from ocpp_station.hardware.simulated import EVParams

#: BootNotification.req fields and their maximum lengths (OCPP 1.6 §6.2).
IDENTITY_FIELDS: dict[str, int] = {
    "chargePointVendor": 20,
    "chargePointModel": 20,
    "chargePointSerialNumber": 25,
    "chargeBoxSerialNumber": 25,
    "firmwareVersion": 50,
    "iccid": 20,
    "imsi": 20,
    "meterType": 25,
    "meterSerialNumber": 25,
}

DEFAULT_IDENTITY = {
    "chargePointVendor": "ocpp-station",
    "chargePointModel": "Simulated",
    "firmwareVersion": "0.1.0",
}

#: The embedded default: one station against the built-in development CSMS.
DEFAULT_CONFIG: dict[str, Any] = {
    "development": {"WS_URL": "ws://127.0.0.1:9000/ocpp/", "chargePointID": "CP_1"},
}


class ConfigError(Exception):
    """A config file problem: ``str()`` reads ``FILE: FIELD: what is wrong``."""

    def __init__(self, source: str, field_path: str, message: str) -> None:
        super().__init__(f"{source}: {field_path}: {message}" if field_path else f"{source}: {message}")
        self.source = source
        self.field_path = field_path
        self.message = message


@dataclass(frozen=True, slots=True)
class ReconnectPolicy:
    """Exponential back-off with jitter between connection attempts (reset after a good connection)."""

    initial_s: float = 1.0
    max_s: float = 60.0
    factor: float = 2.0
    jitter: float = 0.5  # fraction of the delay drawn at random


@dataclass(frozen=True, slots=True)
class DurabilityPolicy:
    """What survives what (issue #3); the config file's ``durability`` object."""

    #: After a restart, continue a transaction whose EV is still plugged in.
    resume_transactions: bool = False
    #: Graceful stop: StopTransaction reason for running transactions (Reboot, Other, or PowerLoss for
    #: a charger on back-up power told the mains are gone), or None to leave them to resume.
    on_shutdown: str | None = "Reboot"
    #: Seconds a graceful stop waits for queued messages to go out.
    shutdown_grace_s: float = 5.0
    queue_cap: int = 1000
    replay_rate_per_s: float = 20.0
    replay_burst: int = 10
    #: SQLite synchronous mode: "full" (a commit survives power loss), "normal", "off".
    sync: str = "full"


@dataclass(frozen=True, slots=True)
class FileTransferPolicy:
    """Firmware download and diagnostics upload (OCPP 1.6 §8); the config file's ``fileTransfer``."""

    #: SupportedFileTransferProtocols; empty turns the FirmwareManagement profile off.
    protocols: tuple[str, ...] = ("FTP", "HTTP", "HTTPS")
    #: Retries and seconds between attempts when the CSMS gives none (§6.25, §6.55).
    retries: int = 2
    retry_interval_s: int = 60
    #: Seconds one attempt may take.
    timeout_s: float = 300.0
    #: Largest firmware image accepted.
    max_bytes: int = 64 * 1024 * 1024
    #: HTTP(S) upload: "POST" (multipart/form-data, field "file") or "PUT" (the raw file).
    upload_method: str = "POST"
    #: Recent log lines and frames kept in memory for GetDiagnostics (0: none; a fleet simulation
    #: of thousands of stations may want few).
    log_lines: int = 2000
    #: ... and at most this many bytes of their text, the oldest dropped first (issue #9: bounded in
    #: bytes whatever the lines hold).
    log_bytes: int = 1024 * 1024


@dataclass(frozen=True, slots=True)
class SecurityConfig:
    """Certificates installed at manufacturing or installation (security whitepaper §2.6.4); the
    config file's ``security`` object. Each file is read and checked when the config is loaded."""

    #: The PEM files of ``csmsRootCertificates`` / ``manufacturerRootCertificates``, resolved.
    csms_root_certificates: tuple[Path, ...] = ()
    manufacturer_root_certificates: tuple[Path, ...] = ()
    #: (certificateUse, PEM text) of every file, in order: ``EngineSettings.installed_certificates``.
    installed_certificates: tuple[tuple[str, str], ...] = ()
    #: ``signedFirmwareOnly``: the plain UpdateFirmware is answered NotSupported (L01.FR.20).
    signed_firmware_only: bool = False
    #: ``profileFallbackAttempts``: failed connections in a row after which a raised SecurityProfile
    #: falls back to the previous one (A05.FR.08).
    profile_fallback_attempts: int = 3
    #: ``chargePointCertificate`` / ``chargePointPrivateKey`` (§2.6.4: a ChargePointCertificate installed
    #: at manufacturing, for profile 3), resolved; None: none. The key is read by the shell, never kept here.
    charge_point_certificate_file: Path | None = None
    charge_point_private_key_file: Path | None = None
    #: The certificate chain's PEM text (``EngineSettings.charge_point_certificate``), "" for none.
    charge_point_certificate: str = ""


#: The ``security`` lists and the certificateUse (security whitepaper §6.4) of their certificates.
SECURITY_CERTIFICATE_LISTS = {
    "csmsRootCertificates": "CentralSystemRootCertificate",
    "manufacturerRootCertificates": "ManufacturerRootCertificate",
}

#: What the file transfer adapter can do (ocpp_station.transport.file_transfer).
FILE_TRANSFER_PROTOCOLS = ("FTP", "HTTP", "HTTPS")


@dataclass(frozen=True, slots=True)
class StationConfig:
    source: str
    environment: str
    charge_point_id: str
    url: str
    identity: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_IDENTITY))
    connectors: tuple[ConnectorSpec, ...] = (ConnectorSpec(),)
    ocpp: dict[str, Any] = field(default_factory=dict)
    data_dir: Path | None = None
    control_host: str = "127.0.0.1"
    control_port: int | None = None
    ev: EVParams = field(default_factory=EVParams)
    basic_auth_password: str | None = None
    ca_bundle: Path | None = None
    strict: bool = True
    call_timeout_s: float = 30.0
    set_system_clock: bool = False
    #: ``connection.transport``: the websocket library, "websockets" or "picows" (issue 11).
    transport: str = "websockets"
    reconnect: ReconnectPolicy = field(default_factory=ReconnectPolicy)
    durability: DurabilityPolicy = field(default_factory=DurabilityPolicy)
    file_transfer: FileTransferPolicy = field(default_factory=FileTransferPolicy)
    security: SecurityConfig = field(default_factory=SecurityConfig)


class _Reader:
    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, path: str, message: str) -> ConfigError:
        return ConfigError(self.source, path, message)

    def obj(self, value: Any, path: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(path, f"must be an object, got {type(value).__name__}")
        return value

    def get(
        self, data: dict[str, Any], key: str, path: str, check: Callable[[Any, str], Any], default: Any
    ) -> Any:
        if key not in data:
            return default
        return check(data[key], f"{path}.{key}" if path else key)

    def string(self, value: Any, path: str) -> str:
        if not isinstance(value, str) or not value:
            raise self.fail(path, "must be a non-empty string")
        return value

    def number(self, value: Any, path: str, minimum: float = 0.0) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(path, f"must be a number, got {json.dumps(value)}")
        if value < minimum:
            raise self.fail(path, f"must be >= {minimum:g}, got {value}")
        return float(value)

    def port(self, value: Any, path: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 65535:
            raise self.fail(path, f"must be a port number 0-65535, got {json.dumps(value)}")
        return value

    def boolean(self, value: Any, path: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(path, f"must be true or false, got {json.dumps(value)}")
        return value


def build_url(ws_url: str, charge_point_id: str) -> str:
    """OCPP-J 1.6 §3.1.1: the charge point id is the last path segment of the URL."""
    return ws_url + charge_point_id if ws_url.endswith("/") else f"{ws_url}/{charge_point_id}"


def _connector(r: _Reader, data: dict[str, Any], path: str) -> ConnectorSpec:
    known = {"maxCurrent", "phases", "voltage", "type", "lock", "count"}
    unknown = set(data) - known
    if unknown:
        raise r.fail(
            path, f"unknown field(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}"
        )
    phases = r.get(data, "phases", path, lambda v, p: r.number(v, p, 1), 3.0)
    if phases not in (1.0, 3.0):
        raise r.fail(f"{path}.phases", f"must be 1 or 3, got {phases:g}")
    kind = r.get(data, "type", path, r.string, "socket")
    if kind not in ("socket", "cable"):
        raise r.fail(f"{path}.type", f'must be "socket" or "cable", got {kind!r}')
    return ConnectorSpec(
        max_current_a=r.get(data, "maxCurrent", path, lambda v, p: r.number(v, p, 1), 32.0),
        phases=int(phases),
        voltage_v=r.get(data, "voltage", path, lambda v, p: r.number(v, p, 1), 230.0),
        kind=kind,
        lockable=r.get(data, "lock", path, r.boolean, True),
    )


def _file_transfer(r: _Reader, data: dict[str, Any]) -> FileTransferPolicy:
    path = "fileTransfer"
    known = {
        "protocols",
        "retries",
        "retryInterval",
        "timeout",
        "maxBytes",
        "uploadMethod",
        "logLines",
        "logBytes",
    }
    unknown = set(data) - known
    if unknown:
        raise r.fail(
            path, f"unknown field(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}"
        )
    protocols = data.get("protocols", list(FILE_TRANSFER_PROTOCOLS))
    if not isinstance(protocols, list) or not all(isinstance(p, str) for p in protocols):
        raise r.fail(f"{path}.protocols", "must be a list of strings")
    for protocol in protocols:
        if protocol not in FILE_TRANSFER_PROTOCOLS:
            raise r.fail(
                f"{path}.protocols",
                f"{protocol!r} is not supported; choose from {', '.join(FILE_TRANSFER_PROTOCOLS)}",
            )
    method = r.get(data, "uploadMethod", path, r.string, "POST")
    if method not in ("POST", "PUT"):
        raise r.fail(f"{path}.uploadMethod", f'must be "POST" or "PUT", got {method!r}')
    return FileTransferPolicy(
        protocols=tuple(dict.fromkeys(protocols)),
        retries=int(r.get(data, "retries", path, r.number, 2)),
        retry_interval_s=int(r.get(data, "retryInterval", path, r.number, 60)),
        timeout_s=r.get(data, "timeout", path, lambda v, p: r.number(v, p, 0.1), 300.0),
        max_bytes=int(r.get(data, "maxBytes", path, lambda v, p: r.number(v, p, 1), 64 * 1024 * 1024)),
        upload_method=method,
        log_lines=int(r.get(data, "logLines", path, r.number, 2000)),
        log_bytes=int(r.get(data, "logBytes", path, r.number, 1024 * 1024)),
    )


def _security(r: _Reader, data: dict[str, Any], base: Path) -> SecurityConfig:
    """The ``security`` object: lists of PEM files, relative to the config file (like ``caBundle``),
    each holding one or more CA certificates; every one is read and checked now (a root must be
    self-signed or issued by a certificate listed before it: its CertificateHashData needs its
    issuer's key). Validity periods are not checked here: that depends on the OCPP time."""
    path = "security"
    known = sorted([*SECURITY_CERTIFICATE_LISTS, *CHARGE_POINT_CERTIFICATE_FIELDS, *SECURITY_SETTINGS])
    unknown = set(data) - set(known)
    if unknown:
        raise r.fail(path, f"unknown field(s) {', '.join(sorted(unknown))}; known: {', '.join(known)}")
    store = CertificateStore()
    files: dict[str, tuple[Path, ...]] = {}
    installed: list[tuple[str, str]] = []
    for name, use in SECURITY_CERTIFICATE_LISTS.items():
        value = data.get(name, [])
        if not isinstance(value, list):
            raise r.fail(f"{path}.{name}", "must be a list of PEM file paths")
        paths = []
        for i, item in enumerate(value):
            where = f"{path}.{name}[{i}]"
            file = base / r.string(item, where)
            try:
                text = file.read_text(encoding="ascii")
            except FileNotFoundError:
                raise r.fail(where, f"file not found: {file}") from None
            except (OSError, UnicodeDecodeError) as exc:
                raise r.fail(where, f"cannot read {file}: {exc}") from None
            try:
                add_installed(store, use, text)
            except CertificateError as exc:
                raise r.fail(where, f"{file}: {exc}") from None
            paths.append(file)
            installed.append((use, text))
        files[name] = tuple(paths)
    certificate_file, key_file, chain = _charge_point_certificate(r, data, base)
    attempts = r.get(data, "profileFallbackAttempts", path, r.number, 3.0)
    if attempts != int(attempts) or attempts < 1:
        raise r.fail(f"{path}.profileFallbackAttempts", f"must be a whole number >= 1, got {attempts:g}")
    return SecurityConfig(
        signed_firmware_only=r.get(data, "signedFirmwareOnly", path, r.boolean, False),
        profile_fallback_attempts=int(attempts),
        csms_root_certificates=files["csmsRootCertificates"],
        manufacturer_root_certificates=files["manufacturerRootCertificates"],
        installed_certificates=tuple(installed),
        charge_point_certificate_file=certificate_file,
        charge_point_private_key_file=key_file,
        charge_point_certificate=chain,
    )


#: The ``security`` settings that are no certificate: see :class:`SecurityConfig`.
SECURITY_SETTINGS = ("signedFirmwareOnly", "profileFallbackAttempts")

#: The ``security`` fields of a ChargePointCertificate installed at manufacturing (§2.6.4).
CHARGE_POINT_CERTIFICATE_FIELDS = ("chargePointCertificate", "chargePointPrivateKey")


def _charge_point_certificate(
    r: _Reader, data: dict[str, Any], base: Path
) -> tuple[Path | None, Path | None, str]:
    """``chargePointCertificate`` (PEM: the certificate, then any sub-CA certificates) and
    ``chargePointPrivateKey`` (PEM, unencrypted), both or neither, relative to the config file: read
    and checked now (X.509, not a CA, the key is the certificate's). The key is not kept."""
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    from ocpp_station.core.certificates import parse_certificates, spki_id

    cert_name, key_name = CHARGE_POINT_CERTIFICATE_FIELDS
    given = [name for name in CHARGE_POINT_CERTIFICATE_FIELDS if name in data]
    if not given:
        return None, None, ""
    if len(given) == 1:
        other = key_name if given[0] == cert_name else cert_name
        raise r.fail(f"security.{other}", f"missing: security.{given[0]} needs it")
    texts: dict[str, bytes] = {}
    files: dict[str, Path] = {}
    for name in CHARGE_POINT_CERTIFICATE_FIELDS:
        where = f"security.{name}"
        file = base / r.string(data[name], where)
        try:
            texts[name] = file.read_bytes()
        except FileNotFoundError:
            raise r.fail(where, f"file not found: {file}") from None
        except OSError as exc:
            raise r.fail(where, f"cannot read {file}: {exc}") from None
        files[name] = file
    where = f"security.{cert_name}"
    try:
        chain = parse_certificates(texts[cert_name].decode("ascii"))
    except (CertificateError, UnicodeDecodeError) as exc:
        raise r.fail(where, f"{files[cert_name]}: {exc}") from None
    if not chain:
        raise r.fail(where, f"{files[cert_name]}: no certificate in it")
    try:
        key = load_pem_private_key(texts[key_name], password=None)
    except (ValueError, TypeError) as exc:
        raise r.fail(
            f"security.{key_name}", f"{files[key_name]}: not an unencrypted PEM private key ({exc})"
        ) from None
    if spki_id(key.public_key()) != spki_id(chain[0].public_key()):
        raise r.fail(
            f"security.{key_name}", f"{files[key_name]} is not the private key of {files[cert_name]}"
        )
    return files[cert_name], files[key_name], texts[cert_name].decode("ascii")


def _durability(r: _Reader, data: dict[str, Any]) -> DurabilityPolicy:
    path = "durability"
    known = {
        "resumeTransactions",
        "onShutdown",
        "shutdownGrace",
        "queueCap",
        "replayRate",
        "replayBurst",
        "sync",
    }
    unknown = set(data) - known
    if unknown:
        raise r.fail(
            path, f"unknown field(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}"
        )
    on_shutdown = r.get(data, "onShutdown", path, r.string, "Reboot")
    if on_shutdown not in ("Reboot", "Other", "PowerLoss", "resume"):
        raise r.fail(
            f"{path}.onShutdown", f'must be "Reboot", "Other", "PowerLoss" or "resume", got {on_shutdown!r}'
        )
    sync = r.get(data, "sync", path, r.string, "full")
    if sync not in ("full", "normal", "off"):
        raise r.fail(f"{path}.sync", f'must be "full", "normal" or "off", got {sync!r}')
    cap = r.get(data, "queueCap", path, lambda v, p: r.number(v, p, 1), 1000.0)
    burst = r.get(data, "replayBurst", path, lambda v, p: r.number(v, p, 1), 10.0)
    return DurabilityPolicy(
        resume_transactions=r.get(data, "resumeTransactions", path, r.boolean, False),
        on_shutdown=None if on_shutdown == "resume" else on_shutdown,
        shutdown_grace_s=r.get(data, "shutdownGrace", path, r.number, 5.0),
        queue_cap=int(cap),
        replay_rate_per_s=r.get(data, "replayRate", path, r.number, 20.0),
        replay_burst=int(burst),
        sync=sync,
    )


def parse_config(data: Any, source: str, environment: str = "development") -> StationConfig:
    """Build a StationConfig from parsed JSON; raise ConfigError naming the field."""
    r = _Reader(source)
    root = r.obj(data, "")
    if environment not in root:
        envs = [k for k, v in root.items() if isinstance(v, dict) and "WS_URL" in v]
        hint = f"; sections with WS_URL: {', '.join(envs)}" if envs else ""
        raise r.fail(environment, f"no such environment section{hint}")
    env = r.obj(root[environment], environment)
    if "WS_URL" not in env:
        raise r.fail(f"{environment}.WS_URL", 'is required (e.g. "ws://127.0.0.1:9000/ocpp/")')
    if "chargePointID" not in env:
        raise r.fail(f"{environment}.chargePointID", 'is required (e.g. "CP_1")')
    ws_url = r.string(env["WS_URL"], f"{environment}.WS_URL")
    parts = urlsplit(ws_url)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise r.fail(f"{environment}.WS_URL", f"must be a ws:// or wss:// URL, got {ws_url!r}")
    cp_id = r.string(env["chargePointID"], f"{environment}.chargePointID")
    if "/" in cp_id or len(cp_id) > 48:
        raise r.fail(f"{environment}.chargePointID", "must not contain '/' and be at most 48 characters")

    identity = dict(DEFAULT_IDENTITY)
    if "identity" in root:
        given = r.obj(root["identity"], "identity")
        for name, value in given.items():
            if name not in IDENTITY_FIELDS:
                raise r.fail(f"identity.{name}", f"unknown field; known: {', '.join(IDENTITY_FIELDS)}")
            text = r.string(value, f"identity.{name}")
            if len(text) > IDENTITY_FIELDS[name]:
                raise r.fail(
                    f"identity.{name}", f"at most {IDENTITY_FIELDS[name]} characters (OCPP 1.6 §6.2)"
                )
            identity[name] = text

    connectors: tuple[ConnectorSpec, ...] = (ConnectorSpec(),)
    if "connectors" in root:
        value = root["connectors"]
        if isinstance(value, list):
            if not value:
                raise r.fail("connectors", "must list at least one connector")
            connectors = tuple(
                _connector(r, r.obj(item, f"connectors[{i}]"), f"connectors[{i}]")
                for i, item in enumerate(value)
            )
        else:
            spec_data = r.obj(value, "connectors")
            count = r.get(spec_data, "count", "connectors", lambda v, p: r.number(v, p, 1), 1.0)
            if count != int(count) or count > 100:
                raise r.fail("connectors.count", f"must be a whole number 1-100, got {count:g}")
            spec = _connector(r, spec_data, "connectors")
            connectors = tuple(spec for _ in range(int(count)))

    ocpp: dict[str, Any] = {}
    if "ocpp" in root:
        raw = r.obj(root["ocpp"], "ocpp")
        try:
            ocpp = validate_ocpp_overrides(raw)
        except ValueError as exc:
            raise r.fail("ocpp", str(exc)) from None
        if int(ocpp.get("SecurityProfile", "0")) >= 2 and parts.scheme != "wss":
            # Security profiles 2 and 3 are TLS (security whitepaper §2.4-2.5, A00.FR.311).
            raise r.fail(
                "ocpp",
                f"SecurityProfile {ocpp['SecurityProfile']} needs a wss:// URL, "
                f"{environment}.WS_URL is {ws_url!r}",
            )

    control = r.obj(root.get("control", {}), "control")
    connection = r.obj(root.get("connection", {}), "connection")
    reconnect_data = r.obj(connection.get("reconnect", {}), "connection.reconnect")
    reconnect = ReconnectPolicy(
        initial_s=r.get(
            reconnect_data, "initialDelay", "connection.reconnect", lambda v, p: r.number(v, p, 0.01), 1.0
        ),
        max_s=r.get(
            reconnect_data, "maxDelay", "connection.reconnect", lambda v, p: r.number(v, p, 0.01), 60.0
        ),
        factor=r.get(reconnect_data, "factor", "connection.reconnect", lambda v, p: r.number(v, p, 1), 2.0),
        jitter=r.get(reconnect_data, "jitter", "connection.reconnect", lambda v, p: r.number(v, p, 0), 0.5),
    )
    if reconnect.jitter > 1:
        raise r.fail("connection.reconnect.jitter", "must be between 0 and 1")
    ev_data = dict(r.obj(root.get("ev", {}), "ev"))
    # The simulated charger's switch, beside the default EV's parameters (the simulator's section).
    strict_firmware = r.get(ev_data, "strictFirmware", "ev", r.boolean, False)
    ev_data.pop("strictFirmware", None)
    try:
        ev = replace(EVParams.from_dict(ev_data), strict_firmware=strict_firmware)
    except ValueError as exc:
        raise r.fail("ev", str(exc)) from None
    durability = _durability(r, r.obj(root.get("durability", {}), "durability"))
    file_transfer = _file_transfer(r, r.obj(root.get("fileTransfer", {}), "fileTransfer"))
    password = env.get("basicAuthPassword", connection.get("basicAuthPassword"))
    ca = env.get("caBundle", connection.get("caBundle"))
    base = Path(source).parent if source and not source.startswith("<") else Path.cwd()
    data_dir = r.get(root, "dataDir", "", r.string, None)
    return StationConfig(
        source=source,
        environment=environment,
        charge_point_id=cp_id,
        url=build_url(ws_url, cp_id),
        identity=identity,
        connectors=connectors,
        ocpp=ocpp,
        data_dir=None if data_dir is None else (base / data_dir),
        control_host=r.get(control, "host", "control", r.string, "127.0.0.1"),
        control_port=r.get(control, "port", "control", r.port, None),
        ev=ev,
        basic_auth_password=None if password is None else r.string(password, "basicAuthPassword"),
        ca_bundle=None if ca is None else base / r.string(ca, "caBundle"),
        strict=r.get(connection, "strict", "connection", r.boolean, True),
        call_timeout_s=r.get(connection, "callTimeout", "connection", lambda v, p: r.number(v, p, 0.1), 30.0),
        set_system_clock=r.get(connection, "setSystemClock", "connection", r.boolean, False),
        transport=_transport(r, connection),
        reconnect=reconnect,
        durability=durability,
        file_transfer=file_transfer,
        security=_security(r, r.obj(root.get("security", {}), "security"), base),
    )


#: The websocket libraries ``connection.transport`` may name (transport/ws.py).
TRANSPORTS = ("websockets", "picows")
#: ``connection.transport`` when the file names none (tests run the whole transport suite with each).
DEFAULT_TRANSPORT = "websockets"


def _transport(r: _Reader, connection: dict[str, Any]) -> str:
    """``connection.transport``: the websocket library; picows only when it is installed."""
    name = r.get(connection, "transport", "connection", r.string, DEFAULT_TRANSPORT)
    if name not in TRANSPORTS:
        raise r.fail("connection.transport", f"must be one of {', '.join(TRANSPORTS)}, got {name!r}")
    if name == "picows" and importlib.util.find_spec("picows") is None:
        raise r.fail("connection.transport", 'picows is not installed (pip install "ocpp-station[picows]")')
    return str(name)


def read_json_file(path: str | Path) -> Any:
    """The JSON value of a file; ConfigError naming the file (not found, unreadable, bad JSON with its
    line and column), never another exception. Shared by the station's and the fleet's config."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(source, "", "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(source, "", f"cannot read: {exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            source, f"line {exc.lineno} column {exc.colno}", f"invalid JSON: {exc.msg}"
        ) from None


def load_config(path: str | Path, environment: str = "development") -> StationConfig:
    """Read and check a config file; raise ConfigError (never another exception) when it is wrong."""
    return parse_config(read_json_file(path), str(path), environment)
