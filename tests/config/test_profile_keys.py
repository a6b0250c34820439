"""GetConfiguration against the configuration-key tables of OCPP 1.6 §9 and its errata, per feature profile.

The spec tables are copied here by hand (name, profile, required, accessibility, type), independently of
``ocpp_station.config.keys``, so a wrong row in the key table shows up as a difference. The corrections
applied from the OCPP 1.6 errata sheet (v4.0 and 2025-04):

* 3.80 StopTransactionOnEVSideDisconnect: optional, R or RW;
* 3.81 SupportedFeatureProfilesMaxLength: need not be implemented (optional, R);
* 3.83 MessageTimeout: new, optional, RW integer (Core);
* 3.84 / 3.85 UnlockConnectorOnEVSideDisconnect: R or RW (R for a fixed cable);
* 3.90 SupportedFileTransferProtocols: new §9.5 FirmwareManagement, optional, R, CSL;
* 3.91 StopTransactionMaxMeterValues: new, optional, R integer (Core).

§9.1.19-§9.1.22 are garbled in the text copy of the spec we keep (each table is shifted by one key);
the rows below follow the published PDF: MeterValueSampleInterval required RW, MinimumStatusDuration
optional RW, NumberOfConnectors required R, ResetRetries required RW.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from ocpp_station.config.keys import KEYS, Access, lookup
from ocpp_station.core.settings import EngineSettings
from tests.core.harness import Harness

RO, RW = frozenset({True}), frozenset({False})
EITHER = RO | RW


@dataclass(frozen=True)
class SpecKey:
    profile: str
    required: bool
    #: the ``readonly`` values GetConfiguration may report (R: True, RW: False)
    readonly: frozenset[bool]
    type: str  # boolean, integer, CSL, string


def _core(required: bool, readonly: frozenset[bool], type_: str) -> SpecKey:
    return SpecKey("Core", required, readonly, type_)


#: OCPP 1.6 §9 with the errata above.
SPEC_KEYS: dict[str, SpecKey] = {
    # §9.1 Core
    "AllowOfflineTxForUnknownId": _core(False, RW, "boolean"),
    "AuthorizationCacheEnabled": _core(False, RW, "boolean"),
    "AuthorizeRemoteTxRequests": _core(True, EITHER, "boolean"),
    "BlinkRepeat": _core(False, RW, "integer"),
    "ClockAlignedDataInterval": _core(True, RW, "integer"),
    "ConnectionTimeOut": _core(True, RW, "integer"),
    "ConnectorPhaseRotation": _core(True, RW, "CSL"),
    "ConnectorPhaseRotationMaxLength": _core(False, RO, "integer"),
    "GetConfigurationMaxKeys": _core(True, RO, "integer"),
    "HeartbeatInterval": _core(True, RW, "integer"),
    "LightIntensity": _core(False, RW, "integer"),
    "LocalAuthorizeOffline": _core(True, RW, "boolean"),
    "LocalPreAuthorize": _core(True, RW, "boolean"),
    "MaxEnergyOnInvalidId": _core(False, RW, "integer"),
    "MessageTimeout": _core(False, RW, "integer"),  # errata 3.83
    "MeterValuesAlignedData": _core(True, RW, "CSL"),
    "MeterValuesAlignedDataMaxLength": _core(False, RO, "integer"),
    "MeterValuesSampledData": _core(True, RW, "CSL"),
    "MeterValuesSampledDataMaxLength": _core(False, RO, "integer"),
    "MeterValueSampleInterval": _core(True, RW, "integer"),
    "MinimumStatusDuration": _core(False, RW, "integer"),
    "NumberOfConnectors": _core(True, RO, "integer"),
    "ResetRetries": _core(True, RW, "integer"),
    "StopTransactionMaxMeterValues": _core(False, RO, "integer"),  # errata 3.91
    "StopTransactionOnEVSideDisconnect": _core(False, EITHER, "boolean"),  # errata 3.80
    "StopTransactionOnInvalidId": _core(True, RW, "boolean"),
    "StopTxnAlignedData": _core(True, RW, "CSL"),
    "StopTxnAlignedDataMaxLength": _core(False, RO, "integer"),
    "StopTxnSampledData": _core(True, RW, "CSL"),
    "StopTxnSampledDataMaxLength": _core(False, RO, "integer"),
    "SupportedFeatureProfiles": _core(True, RO, "CSL"),
    "SupportedFeatureProfilesMaxLength": _core(False, RO, "integer"),  # errata 3.81
    "TransactionMessageAttempts": _core(True, RW, "integer"),
    "TransactionMessageRetryInterval": _core(True, RW, "integer"),
    "UnlockConnectorOnEVSideDisconnect": _core(True, EITHER, "boolean"),  # errata 3.84
    "WebSocketPingInterval": _core(False, RW, "integer"),
    # §9.2 Local Auth List Management
    "LocalAuthListEnabled": SpecKey("LocalAuthListManagement", True, RW, "boolean"),
    "LocalAuthListMaxLength": SpecKey("LocalAuthListManagement", True, RO, "integer"),
    "SendLocalListMaxLength": SpecKey("LocalAuthListManagement", True, RO, "integer"),
    # §9.3 Reservation
    "ReserveConnectorZeroSupported": SpecKey("Reservation", False, RO, "boolean"),
    # §9.4 Smart Charging
    "ChargeProfileMaxStackLevel": SpecKey("SmartCharging", True, RO, "integer"),
    "ChargingScheduleAllowedChargingRateUnit": SpecKey("SmartCharging", True, RO, "CSL"),
    "ChargingScheduleMaxPeriods": SpecKey("SmartCharging", True, RO, "integer"),
    "ConnectorSwitch3to1PhaseSupported": SpecKey("SmartCharging", False, RO, "boolean"),
    "MaxChargingProfilesInstalled": SpecKey("SmartCharging", True, RO, "integer"),
    # §9.5 Firmware Management (errata 3.90)
    "SupportedFileTransferProtocols": SpecKey("FirmwareManagement", False, RO, "CSL"),
}

#: §9.1.29: the possible profile identifiers, in the spec's order.
PROFILES = (
    "Core",
    "FirmwareManagement",
    "LocalAuthListManagement",
    "Reservation",
    "SmartCharging",
    "RemoteTrigger",
)

#: §3.2: the messages the Central System sends, per feature profile beyond Core.
PROFILE_CSMS_MESSAGES: dict[str, tuple[str, ...]] = {
    "FirmwareManagement": ("GetDiagnostics", "UpdateFirmware"),
    "LocalAuthListManagement": ("GetLocalListVersion", "SendLocalList"),
    "Reservation": ("CancelReservation", "ReserveNow"),
    "SmartCharging": ("ClearChargingProfile", "GetCompositeSchedule", "SetChargingProfile"),
    "RemoteTrigger": ("TriggerMessage",),
}

#: What this station supports today (README); FirmwareManagement joins when it is wired in.
EXPECTED_AT_LEAST = {"Core", "LocalAuthListManagement", "Reservation", "SmartCharging", "RemoteTrigger"}

#: Values the spec fixes for some keys.
ALLOWED_ITEMS = {
    "SupportedFeatureProfiles": set(PROFILES),
    "ChargingScheduleAllowedChargingRateUnit": {"Current", "Power"},  # errata 3.88
    "SupportedFileTransferProtocols": {"FTP", "FTPS", "HTTP", "HTTPS"},
}


def everything(h: Harness) -> dict[str, dict[str, Any]]:
    """GetConfiguration.req without keys: every key the Central System may see, by name."""
    conf = h.csms_result("GetConfiguration", {})
    assert not conf.get("unknownKey")
    listed = {k["key"]: k for k in conf["configurationKey"]}
    assert len(listed) == len(conf["configurationKey"]), "a key listed twice"
    return listed


def supported_profiles(h: Harness) -> list[str]:
    conf = h.csms_result("GetConfiguration", {"key": ["SupportedFeatureProfiles"]})
    value: str = conf["configurationKey"][0]["value"]
    return value.split(",")


def check_value(name: str, type_: str, value: str) -> None:
    if type_ == "boolean":
        assert value in ("true", "false"), (name, value)
    elif type_ == "integer":
        assert value.lstrip("-").isdigit(), (name, value)
    elif type_ == "CSL":
        items = [item.strip() for item in value.split(",")] if value else []
        assert all(items), (name, value)
        if name in ALLOWED_ITEMS:
            assert set(items) <= ALLOWED_ITEMS[name], (name, value)


def test_supported_feature_profiles_lists_the_supported_profiles() -> None:
    h = Harness()
    profiles = supported_profiles(h)
    assert profiles[0] == "Core"
    assert len(profiles) == len(set(profiles)), profiles
    assert set(profiles) <= set(PROFILES)
    assert set(profiles) >= EXPECTED_AT_LEAST
    features = [f for f in vars(h.engine).values() if hasattr(f, "PROFILE") and hasattr(f, "supported")]
    assert set(profiles) == {"Core"} | {f.PROFILE for f in features if f.supported}
    listed = everything(h)
    assert listed["SupportedFeatureProfiles"]["readonly"] is True
    if "SupportedFeatureProfilesMaxLength" in listed:
        assert len(profiles) <= int(listed["SupportedFeatureProfilesMaxLength"]["value"])
    # Read-only: the Central System cannot change it.
    answer = h.csms_result("ChangeConfiguration", {"key": "SupportedFeatureProfiles", "value": "Core"})
    assert answer == {"status": "Rejected"}
    assert supported_profiles(h) == profiles


def test_every_key_of_every_supported_profile_with_its_access() -> None:
    h = Harness()
    supported = set(supported_profiles(h))
    listed = everything(h)
    for name, spec in SPEC_KEYS.items():
        if spec.profile not in supported:
            continue
        if spec.required:
            assert name in listed, f"required {spec.profile} key {name} missing"
        if name in listed:
            assert listed[name]["readonly"] in spec.readonly, f"{name}: wrong accessibility"
            check_value(name, spec.type, listed[name]["value"])
    if "FirmwareManagement" in supported:
        # We transfer files (ocpp_station.transport.file_transfer), so we say how (errata 3.90).
        assert "SupportedFileTransferProtocols" in listed
    # Every readable key the table declares for a supported profile is listed, and only those.
    declared = {k.name for k in KEYS if k.profile.value in supported and k.access is not Access.W}
    assert set(listed) == declared
    # Each key asked for by name gives the same answer.
    for name, entry in listed.items():
        conf = h.csms_result("GetConfiguration", {"key": [name]})
        assert conf["configurationKey"] == [entry]


def test_the_key_table_agrees_with_the_spec() -> None:
    for key in KEYS:
        spec = SPEC_KEYS.get(key.name)
        if spec is None:
            continue  # a vendor key, or one from the security whitepaper (AuthorizationKey)
        assert key.profile.value == spec.profile, key.name
        assert key.type.value == spec.type, key.name
        if key.access is not Access.W:
            assert (key.access is Access.R) in spec.readonly, key.name
        check_value(key.name, spec.type, key.default)


def test_no_key_of_an_unsupported_profile() -> None:
    h = Harness()
    supported = set(supported_profiles(h))
    listed = everything(h)
    for name in listed:
        spec = SPEC_KEYS.get(name)
        found = lookup(name)
        assert found is not None
        profile = spec.profile if spec is not None else found.profile.value
        assert profile in supported, f"{name} belongs to {profile}, not supported"
    unsupported_keys = [n for n, s in SPEC_KEYS.items() if s.profile not in supported]
    if unsupported_keys:
        conf = h.csms_result("GetConfiguration", {"key": unsupported_keys})
        assert conf["configurationKey"] == []
        assert sorted(conf["unknownKey"]) == sorted(unsupported_keys)
        for name in unsupported_keys:
            answer = h.csms_result("ChangeConfiguration", {"key": name, "value": "1"})
            assert answer == {"status": "NotSupported"}, name


@pytest.mark.parametrize("profile", [p for p in PROFILES if p != "Core"])
def test_a_profile_switched_off_takes_its_keys_along(profile: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A feature reporting itself unsupported drops out of SupportedFeatureProfiles, and its keys are
    neither listed, nor readable by name, nor writable (§9: the keys of a profile exist only with it)."""
    probe = Harness()
    features = [
        f
        for f in vars(probe.engine).values()
        if getattr(f, "PROFILE", None) == profile and hasattr(f, "supported")
    ]
    for feature in features:
        monkeypatch.setattr(type(feature), "supported", False)
    h = Harness()
    assert profile not in supported_profiles(h)
    own = [k.name for k in KEYS if k.profile.value == profile]
    assert not set(own) & set(everything(h))
    if own:
        conf = h.csms_result("GetConfiguration", {"key": own})
        assert conf["configurationKey"] == [] and sorted(conf["unknownKey"]) == sorted(own)
        for name in own:
            assert h.csms_result("ChangeConfiguration", {"key": name, "value": "1"}) == {
                "status": "NotSupported"
            }


def test_the_messages_of_a_profile_come_with_it() -> None:
    """§3.2: a supported profile's Central System messages are handled; an unsupported one's are not
    (the engine answers them with a CALLERROR NotSupported)."""
    h = Harness()
    supported = set(supported_profiles(h))
    for profile, actions in PROFILE_CSMS_MESSAGES.items():
        for action in actions:
            routed = action in h.engine.rpc.answered()
            assert routed == (profile in supported), f"{action} ({profile}) routed={routed}"
            if not routed:
                answer = h.csms_call(action, {})
                assert answer[0] == 4 and answer[2] == "NotSupported", answer


@pytest.mark.parametrize("protocols", [("HTTP",), ("FTP", "HTTPS")])
def test_supported_file_transfer_protocols_is_what_the_station_can_do(protocols: tuple[str, ...]) -> None:
    """Erratum 3.90: read-only, the protocols the station is configured with (``fileTransfer``)."""
    h = Harness(EngineSettings(file_transfer_protocols=protocols))
    assert "FirmwareManagement" in supported_profiles(h)
    entry = everything(h)["SupportedFileTransferProtocols"]
    assert entry == {"key": "SupportedFileTransferProtocols", "readonly": True, "value": ",".join(protocols)}
    answer = h.csms_result("ChangeConfiguration", {"key": "SupportedFileTransferProtocols", "value": "FTP"})
    assert answer == {"status": "Rejected"}


def test_no_file_transfer_protocol_no_firmware_management() -> None:
    """Without any protocol the station cannot take part in FirmwareManagement (§8): the profile, its
    key and its messages are gone."""
    h = Harness(EngineSettings(file_transfer_protocols=()))
    assert "FirmwareManagement" not in supported_profiles(h)
    assert "SupportedFileTransferProtocols" not in everything(h)
    for action, payload in (
        ("UpdateFirmware", {"location": "http://example.com/fw.bin", "retrieveDate": "2025-01-01T00:00:00Z"}),
        ("GetDiagnostics", {"location": "http://example.com/upload"}),
    ):
        answer = h.csms_call(action, payload)
        assert answer[0] == 4 and answer[2] == "NotSupported", answer
