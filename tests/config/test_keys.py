"""The configuration-key table (OCPP 1.6 §9.1)."""

from __future__ import annotations

import pytest

from ocpp_station.config.keys import (
    KEYS,
    KEYS_BY_NAME,
    Access,
    ConfigValues,
    InvalidValue,
    KeyType,
    Profile,
    lookup,
)

CORE_KEYS = {
    "AllowOfflineTxForUnknownId",
    "AuthorizationCacheEnabled",
    "AuthorizeRemoteTxRequests",
    "BlinkRepeat",
    "ClockAlignedDataInterval",
    "ConnectionTimeOut",
    "ConnectorPhaseRotation",
    "ConnectorPhaseRotationMaxLength",
    "GetConfigurationMaxKeys",
    "HeartbeatInterval",
    "LightIntensity",
    "LocalAuthorizeOffline",
    "LocalPreAuthorize",
    "MaxEnergyOnInvalidId",
    "MeterValuesAlignedData",
    "MeterValuesAlignedDataMaxLength",
    "MeterValuesSampledData",
    "MeterValuesSampledDataMaxLength",
    "MeterValueSampleInterval",
    "MinimumStatusDuration",
    "NumberOfConnectors",
    "ResetRetries",
    "StopTransactionOnEVSideDisconnect",
    "StopTransactionOnInvalidId",
    "StopTxnAlignedData",
    "StopTxnAlignedDataMaxLength",
    "StopTxnSampledData",
    "StopTxnSampledDataMaxLength",
    "SupportedFeatureProfiles",
    "SupportedFeatureProfilesMaxLength",
    "TransactionMessageAttempts",
    "TransactionMessageRetryInterval",
    "UnlockConnectorOnEVSideDisconnect",
    "WebSocketPingInterval",
}


def test_all_34_core_keys_declared_once() -> None:
    core = {k.name for k in KEYS if k.profile is Profile.Core and not k.doc.startswith("security")}
    assert core == CORE_KEYS
    assert len(CORE_KEYS) == 34
    assert len(KEYS_BY_NAME) == len(KEYS)


def test_defaults_pass_their_own_validation() -> None:
    for key in KEYS:
        if key.name == "AuthorizationKey":
            assert key.default == ""  # not set: no password until one is configured (none is valid empty)
            continue
        assert key.check(key.default) == key.default, key.name


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("HeartbeatInterval", "-1"),
        ("HeartbeatInterval", "abc"),
        ("AuthorizeRemoteTxRequests", "yes"),
        ("MeterValuesSampledData", "Energy.Active.Import.Register,Bogus"),
        ("MeterValuesSampledData", ",".join(["Voltage"] * 11)),
        # Errata 3.14.4: measurands (or phases of them) this charge point does not measure.
        ("MeterValuesSampledData", "RPM"),
        ("StopTxnSampledData", "Energy.Active.Import.Register.L1"),
        ("MeterValuesAlignedData", "Voltage.L1-L2"),
        ("LightIntensity", "101"),
        ("ConnectorPhaseRotation", "1.XYZ"),
    ],
)
def test_invalid_values(name: str, value: str) -> None:
    with pytest.raises(InvalidValue):
        KEYS_BY_NAME[name].check(value)


def test_normalisation() -> None:
    assert KEYS_BY_NAME["LocalPreAuthorize"].check("TRUE") == "true"
    assert KEYS_BY_NAME["MeterValuesSampledData"].check(" Voltage.L1 , SoC") == "Voltage.L1,SoC"
    assert lookup("authorizeremotetxrequests") is KEYS_BY_NAME["AuthorizeRemoteTxRequests"]


def test_values_typed_reads() -> None:
    values = ConfigValues({"HeartbeatInterval": "42", "Unknown": "x"})
    assert values.get_int("HeartbeatInterval") == 42
    assert values.get_bool("StopTransactionOnInvalidId") is True
    assert values.get_list("MeterValuesSampledData")[0] == "Energy.Active.Import.Register"


def test_types_and_access() -> None:
    assert KEYS_BY_NAME["NumberOfConnectors"].access is Access.R
    assert KEYS_BY_NAME["SupportedFeatureProfiles"].type is KeyType.CSL


#: Security whitepaper edition 3 §7: name -> (access, type).
SECURITY_KEYS = {
    "AdditionalRootCertificateCheck": (Access.R, KeyType.BOOLEAN),
    "AuthorizationKey": (Access.W, KeyType.STRING),
    "CertificateSignedMaxChainSize": (Access.R, KeyType.INTEGER),
    "CertificateStoreMaxLength": (Access.R, KeyType.INTEGER),
    "CpoName": (Access.RW, KeyType.STRING),
    "SecurityProfile": (Access.RW, KeyType.INTEGER),
}


def test_the_security_whitepaper_keys_are_declared_as_it_says() -> None:
    for name, (access, kind) in SECURITY_KEYS.items():
        key = KEYS_BY_NAME[name]
        assert (key.access, key.type, key.doc.startswith("security §7.")) == (access, kind, True), name
    assert KEYS_BY_NAME["SecurityProfile"].default == "0"  # §7.6: 0 when none is configured yet


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("0123456789abcdef", True),  # 16: the minimum (A00.FR.205)
        ("0123456789abcdef0123456789abcdef01234567", True),  # 40 hexadecimal digits: the maximum
        ("0123456789abcde", False),
        ("0123456789abcdef0123456789abcdef012345678", False),
        ("correct horse battery", False),  # a space
        ("päßwörd-päßwörd-päßwörd", False),  # not ASCII
    ],
)
def test_authorization_key_values(value: str, ok: bool) -> None:
    key = KEYS_BY_NAME["AuthorizationKey"]
    if ok:
        assert key.check(value) == value
    else:
        with pytest.raises(InvalidValue):
            key.check(value)


def test_security_profile_is_0_to_3() -> None:
    key = KEYS_BY_NAME["SecurityProfile"]
    assert [key.check(v) for v in ("0", "3")] == ["0", "3"]
    for bad in ("4", "-1", "one"):
        with pytest.raises(InvalidValue):
            key.check(bad)
