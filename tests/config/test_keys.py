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
    core = {k.name for k in KEYS if k.profile is Profile.Core}
    assert core == CORE_KEYS
    assert len(CORE_KEYS) == 34
    assert len(KEYS_BY_NAME) == len(KEYS)


def test_defaults_pass_their_own_validation() -> None:
    for key in KEYS:
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
