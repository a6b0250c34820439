"""OCPP 1.6 configuration keys, declared once (OCPP 1.6 §9).

Every key is one row of :data:`KEYS`: name, type, default, access, feature profile, whether a change
needs a reboot, a validator and a unit. GetConfiguration, ChangeConfiguration (§5.3, §5.8), the config
file's ``ocpp`` object and persistence all work over this table; nothing else in the code declares a key.

Values are kept as their OCPP string form (what GetConfiguration returns); :class:`ConfigValues` gives
typed reads.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class KeyType(StrEnum):
    BOOLEAN = "boolean"
    INTEGER = "integer"
    STRING = "string"
    CSL = "CSL"  # comma-separated list (§9)


class Access(StrEnum):
    R = "R"
    RW = "RW"
    W = "W"  # write-only (OCPP-J 1.6 errata: AuthorizationKey)


class Profile(StrEnum):
    Core = "Core"
    FirmwareManagement = "FirmwareManagement"
    LocalAuthListManagement = "LocalAuthListManagement"
    Reservation = "Reservation"
    SmartCharging = "SmartCharging"
    RemoteTrigger = "RemoteTrigger"


class InvalidValue(ValueError):
    """A value that a key does not accept (ChangeConfiguration answers Rejected)."""


Validator = Callable[[str], str]  # returns the normalised value or raises InvalidValue

PHASE_ROTATIONS = frozenset({"NotApplicable", "Unknown", "RST", "RTS", "SRT", "STR", "TRS", "TSR"})
FEATURE_PROFILES = tuple(p.value for p in Profile)


def _boolean(text: str) -> str:
    low = text.strip().lower()
    if low not in ("true", "false"):
        raise InvalidValue(f"expected true or false, got {text!r}")
    return low


def _integer(minimum: int = 0, maximum: int | None = None) -> Validator:
    def check(text: str) -> str:
        try:
            value = int(text.strip())
        except ValueError:
            raise InvalidValue(f"expected an integer, got {text!r}") from None
        if value < minimum or (maximum is not None and value > maximum):
            upper = "" if maximum is None else f" and <= {maximum}"
            raise InvalidValue(f"expected an integer >= {minimum}{upper}, got {value}")
        return str(value)

    return check


def split_csl(text: str) -> list[str]:
    """The items of a comma-separated list value, stripped, empty items dropped."""
    return [item.strip() for item in text.split(",") if item.strip()]


def _measurand_list(max_length_key: str) -> Validator:
    """A CSL of measurands, each one this charge point reports, on a phase it measures it on
    (:data:`ocpp_station.core.measurands.MEASURAND_TABLE`; errata 3.14.3, 3.14.4: one it cannot give
    makes the whole change Rejected)."""

    def check(text: str) -> str:
        # Imported here: the core package imports this module (its engine reads the key table).
        from ocpp_station.core.measurands import check_item

        items = split_csl(text)
        for item in items:
            try:
                check_item(item)
            except ValueError as exc:
                raise InvalidValue(str(exc)) from None
        limit = _MAX_LENGTHS.get(max_length_key)
        if limit is not None and len(items) > limit:
            raise InvalidValue(f"at most {limit} items ({max_length_key})")
        return ",".join(items)

    return check


def _phase_rotation(text: str) -> str:
    items = split_csl(text)
    for item in items:
        index, dot, rotation = item.partition(".")
        if not dot or not index.isdigit() or rotation not in PHASE_ROTATIONS:
            raise InvalidValue(f"expected <connector>.<rotation> items like 0.RST, got {item!r}")
    limit = _MAX_LENGTHS["ConnectorPhaseRotationMaxLength"]
    if len(items) > limit:
        raise InvalidValue(f"at most {limit} items (ConnectorPhaseRotationMaxLength)")
    return ",".join(items)


def _any_string(max_length: int) -> Validator:
    def check(text: str) -> str:
        if len(text) > max_length:
            raise InvalidValue(f"at most {max_length} characters")
        return text

    return check


def _authorization_key(text: str) -> str:
    """AuthorizationKey (security whitepaper §7.2, A00.FR.205): the HTTP Basic password, at least 16
    and at most 40 characters (the whitepaper advises 16-20 random bytes written as hexadecimal;
    central systems also hand out printable passwords, so any printable ASCII is taken)."""
    if not 16 <= len(text) <= 40:
        raise InvalidValue(f"must be 16 to 40 characters long, got {len(text)}")
    if not all(" " < ch <= "~" for ch in text):
        raise InvalidValue("must be printable ASCII without spaces")
    return text


_MAX_LENGTHS: dict[str, int] = {
    "MeterValuesSampledDataMaxLength": 10,
    "MeterValuesAlignedDataMaxLength": 10,
    "StopTxnSampledDataMaxLength": 10,
    "StopTxnAlignedDataMaxLength": 10,
    "ConnectorPhaseRotationMaxLength": 10,
    "SupportedFeatureProfilesMaxLength": 6,
}


@dataclass(frozen=True, slots=True)
class ConfigKey:
    """One configuration key (OCPP 1.6 §9)."""

    name: str
    type: KeyType
    default: str
    access: Access
    profile: Profile
    reboot_required: bool = False
    validator: Validator | None = None
    unit: str | None = None
    doc: str = ""

    @property
    def readonly(self) -> bool:
        return self.access is Access.R

    def check(self, text: str) -> str:
        """The normalised value, or raise :class:`InvalidValue` naming what is wrong."""
        if self.type is KeyType.BOOLEAN:
            text = _boolean(text)
        elif self.type is KeyType.INTEGER and self.validator is None:
            text = _integer()(text)
        if self.validator is not None:
            text = self.validator(text)
        return text


_B, _I, _S, _C = KeyType.BOOLEAN, KeyType.INTEGER, KeyType.STRING, KeyType.CSL
_R, _RW = Access.R, Access.RW
_CORE = Profile.Core

#: The configuration-key table (OCPP 1.6 §9.1 Core; later profiles add their rows here).
KEYS: tuple[ConfigKey, ...] = (
    ConfigKey("AllowOfflineTxForUnknownId", _B, "false", _RW, _CORE, doc="§9.1.1"),
    ConfigKey("AuthorizationCacheEnabled", _B, "true", _RW, _CORE, doc="§9.1.2"),
    ConfigKey("AuthorizeRemoteTxRequests", _B, "true", _RW, _CORE, doc="§9.1.3"),
    ConfigKey("BlinkRepeat", _I, "3", _RW, _CORE, unit="times", doc="§9.1.4"),
    ConfigKey("ClockAlignedDataInterval", _I, "0", _RW, _CORE, unit="seconds", doc="§9.1.5"),
    ConfigKey("ConnectionTimeOut", _I, "60", _RW, _CORE, unit="seconds", doc="§9.1.6"),
    ConfigKey("ConnectorPhaseRotation", _C, "0.RST", _RW, _CORE, validator=_phase_rotation, doc="§9.1.7"),
    ConfigKey("ConnectorPhaseRotationMaxLength", _I, "10", _R, _CORE, doc="§9.1.8"),
    ConfigKey("GetConfigurationMaxKeys", _I, "100", _R, _CORE, doc="§9.1.9"),
    ConfigKey("HeartbeatInterval", _I, "300", _RW, _CORE, unit="seconds", doc="§9.1.10"),
    ConfigKey("LightIntensity", _I, "100", _RW, _CORE, validator=_integer(0, 100), unit="%", doc="§9.1.11"),
    ConfigKey("LocalAuthorizeOffline", _B, "true", _RW, _CORE, doc="§9.1.12"),
    ConfigKey("LocalPreAuthorize", _B, "false", _RW, _CORE, doc="§9.1.13"),
    ConfigKey("MaxEnergyOnInvalidId", _I, "0", _RW, _CORE, unit="Wh", doc="§9.1.14"),
    ConfigKey(
        "MeterValuesAlignedData",
        _C,
        "Energy.Active.Import.Register",
        _RW,
        _CORE,
        validator=_measurand_list("MeterValuesAlignedDataMaxLength"),
        doc="§9.1.15",
    ),
    ConfigKey("MeterValuesAlignedDataMaxLength", _I, "10", _R, _CORE, doc="§9.1.16"),
    ConfigKey(
        "MeterValuesSampledData",
        _C,
        "Energy.Active.Import.Register,Power.Active.Import,Current.Import,Voltage,SoC",
        _RW,
        _CORE,
        validator=_measurand_list("MeterValuesSampledDataMaxLength"),
        doc="§9.1.17",
    ),
    ConfigKey("MeterValuesSampledDataMaxLength", _I, "10", _R, _CORE, doc="§9.1.18"),
    ConfigKey("MeterValueSampleInterval", _I, "60", _RW, _CORE, unit="seconds", doc="§9.1.19"),
    ConfigKey("MinimumStatusDuration", _I, "0", _RW, _CORE, unit="seconds", doc="§9.1.20"),
    ConfigKey("NumberOfConnectors", _I, "1", _R, _CORE, doc="§9.1.21; set from the station's connectors"),
    ConfigKey("ResetRetries", _I, "3", _RW, _CORE, unit="times", doc="§9.1.22"),
    ConfigKey("StopTransactionOnEVSideDisconnect", _B, "true", _RW, _CORE, doc="§9.1.23"),
    ConfigKey("StopTransactionOnInvalidId", _B, "true", _RW, _CORE, doc="§9.1.24"),
    ConfigKey(
        "StopTxnAlignedData",
        _C,
        "",
        _RW,
        _CORE,
        validator=_measurand_list("StopTxnAlignedDataMaxLength"),
        doc="§9.1.25",
    ),
    ConfigKey("StopTxnAlignedDataMaxLength", _I, "10", _R, _CORE, doc="§9.1.26"),
    ConfigKey(
        "StopTxnSampledData",
        _C,
        "",
        _RW,
        _CORE,
        validator=_measurand_list("StopTxnSampledDataMaxLength"),
        doc="§9.1.27",
    ),
    ConfigKey("StopTxnSampledDataMaxLength", _I, "10", _R, _CORE, doc="§9.1.28"),
    ConfigKey("SupportedFeatureProfiles", _C, "Core", _R, _CORE, doc="§9.1.29"),
    ConfigKey("SupportedFeatureProfilesMaxLength", _I, "6", _R, _CORE, doc="§9.1.30"),
    ConfigKey("TransactionMessageAttempts", _I, "3", _RW, _CORE, unit="times", doc="§9.1.31"),
    ConfigKey("TransactionMessageRetryInterval", _I, "60", _RW, _CORE, unit="seconds", doc="§9.1.32"),
    ConfigKey("UnlockConnectorOnEVSideDisconnect", _B, "true", _RW, _CORE, doc="§9.1.33"),
    ConfigKey("WebSocketPingInterval", _I, "30", _RW, _CORE, unit="seconds", doc="§9.1.34"),
    # §9.2 Local Auth List Management
    ConfigKey("LocalAuthListEnabled", _B, "true", _RW, Profile.LocalAuthListManagement, doc="§9.2.1"),
    ConfigKey("LocalAuthListMaxLength", _I, "1000", _R, Profile.LocalAuthListManagement, doc="§9.2.2"),
    ConfigKey("SendLocalListMaxLength", _I, "100", _R, Profile.LocalAuthListManagement, doc="§9.2.3"),
    # §9.3 Reservation
    ConfigKey("ReserveConnectorZeroSupported", _B, "true", _R, Profile.Reservation, doc="§9.3.1"),
    # §9.4 Smart Charging
    ConfigKey("ChargeProfileMaxStackLevel", _I, "8", _R, Profile.SmartCharging, doc="§9.4.1"),
    ConfigKey(
        "ChargingScheduleAllowedChargingRateUnit",
        _C,
        "Current,Power",
        _R,
        Profile.SmartCharging,
        doc="§9.4.2",
    ),
    ConfigKey("ChargingScheduleMaxPeriods", _I, "24", _R, Profile.SmartCharging, doc="§9.4.3"),
    ConfigKey("ConnectorSwitch3to1PhaseSupported", _B, "false", _R, Profile.SmartCharging, doc="§9.4.4"),
    ConfigKey("MaxChargingProfilesInstalled", _I, "16", _R, Profile.SmartCharging, doc="§9.4.5"),
    # Security whitepaper edition 3 §7 (with the Core profile: the whitepaper adds no feature profile).
    # AuthorizationKey is write-only: never in a GetConfiguration answer, a log line or /state.
    ConfigKey("AdditionalRootCertificateCheck", _B, "false", _R, _CORE, doc="security §7.1"),
    ConfigKey("AuthorizationKey", _S, "", Access.W, _CORE, validator=_authorization_key, doc="security §7.2"),
    ConfigKey(
        "CertificateSignedMaxChainSize",
        _I,
        "10000",
        _R,
        _CORE,
        validator=_integer(0, 10000),
        doc="security §7.3",
    ),
    ConfigKey("CertificateStoreMaxLength", _I, "20", _R, _CORE, doc="security §7.4"),
    ConfigKey("CpoName", _S, "", _RW, _CORE, validator=_any_string(64), doc="security §7.5"),
    ConfigKey("SecurityProfile", _I, "0", _RW, _CORE, validator=_integer(0, 3), doc="security §7.6"),
    # §9.5 Firmware Management (erratum 3.90)
    ConfigKey(
        "SupportedFileTransferProtocols",
        _C,
        "FTP,HTTP,HTTPS",
        _R,
        Profile.FirmwareManagement,
        doc="erratum 3.90 §9.5.1",
    ),
)

KEYS_BY_NAME: dict[str, ConfigKey] = {key.name: key for key in KEYS}


def lookup(name: str) -> ConfigKey | None:
    """The key named ``name``; OCPP key names are case-sensitive, but a case-insensitive match is
    accepted because several central systems spell ``AuthorizeRemoteTxRequests`` as in §9.1.3's title."""
    key = KEYS_BY_NAME.get(name)
    if key is None:
        lowered = name.lower()
        key = next((k for k in KEYS if k.name.lower() == lowered), None)
    return key


_CORE_ONLY = frozenset({Profile.Core.value})

#: Every key's default, by name.
_DEFAULTS: dict[str, str] = {key.name: key.default for key in KEYS}


def _shared(value: str) -> str:
    """One copy of a value that many stations set alike ("300", the profile list), not one each."""
    return sys.intern(value) if type(value) is str else value


_NO_PINS: frozenset[str] = frozenset()
#: The pinned-key sets in use, shared.
_PIN_SETS: dict[frozenset[str], frozenset[str]] = {}


class ConfigValues:
    """The current values of all keys, as OCPP strings, with typed reads.

    Pure state: persisting a change is the caller's effect (``StoreConfigValue``).
    """

    __slots__ = ("_pinned", "_values", "profiles")

    def __init__(self, overrides: Mapping[str, str] | None = None) -> None:
        #: Only the values that differ from the table's defaults (a fleet keeps thousands of these).
        self._values: dict[str, str] = {}
        #: The pinned keys: one frozen set per combination, shared by the stations that have it (a
        #: set of its own cost 216 bytes per station, issue 11).
        self._pinned: frozenset[str] = _NO_PINS
        #: Feature profiles this charge point supports (the engine sets SupportedFeatureProfiles).
        self.profiles: frozenset[str] = _CORE_ONLY
        for name, value in (overrides or {}).items():
            key = lookup(name)
            if key is not None:
                self._values[key.name] = value

    def get(self, name: str) -> str:
        """The value of ``name`` (KeyError for a name not in :data:`KEYS`)."""
        value = self._values.get(name)
        return _DEFAULTS[name] if value is None else value

    def get_int(self, name: str) -> int:
        return int(self.get(name))

    def get_bool(self, name: str) -> bool:
        return self.get(name) == "true"

    def get_list(self, name: str) -> list[str]:
        return split_csl(self.get(name))

    def set(self, name: str, value: str) -> None:
        """Set without access checks (the station itself, e.g. NumberOfConnectors)."""
        if name not in self._pinned:
            self._values[name] = _shared(value)

    def pin(self, name: str, value: str) -> None:
        """Fix a key's value for this charge point and report it read-only (hardware decides it)."""
        self._values[name] = _shared(value)
        pinned = self._pinned | {name}
        self._pinned = _PIN_SETS.setdefault(pinned, pinned)

    def is_readonly(self, key: ConfigKey) -> bool:
        return key.readonly or key.name in self._pinned

    def supports(self, key: ConfigKey) -> bool:
        """Keys of a feature profile the charge point does not support do not exist for the CSMS."""
        return key.profile.value in self.profiles

    def items(self) -> Iterable[tuple[ConfigKey, str]]:
        """Every key of the supported feature profiles with its value."""
        return ((key, self.get(key.name)) for key in KEYS if self.supports(key))


def validate_ocpp_overrides(values: Mapping[str, Any]) -> dict[str, str]:
    """Check the config file's ``ocpp`` object against the key table; raise ValueError naming the key."""
    out: dict[str, str] = {}
    for name, raw in values.items():
        key = lookup(name)
        if key is None:
            raise ValueError(f"unknown OCPP configuration key {name!r}")
        text = ("true" if raw else "false") if isinstance(raw, bool) else str(raw)
        try:
            out[key.name] = _shared(key.check(text))  # one copy for a fleet's stations
        except ValueError as exc:
            raise ValueError(f"{name}: {exc}") from None
    return out
