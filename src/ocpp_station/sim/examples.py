"""Schema-valid example payloads, one place for the tests, the benches and the tools that need them.

* :data:`CENTRAL_SYSTEM_REQUESTS`: a request of every action a central system sends (OCPP 1.6 §5,
  security whitepaper §4); ``sim/hostile.py`` mutates them into hostile frames.
* :func:`meter_value_samples`: the sampledValue list of a 3-phase charger's MeterValues, made by the
  station's own metering (``core/measurands.py``), so it is exactly what a station sends.
"""

from __future__ import annotations

from typing import Any

from ocpp_station.core.events import MeterReading
from ocpp_station.core.measurands import sampled_values

#: A schema-valid request of every action a central system sends (OCPP 1.6 §5, security whitepaper §4).
CENTRAL_SYSTEM_REQUESTS: dict[str, dict[str, Any]] = {
    "CancelReservation": {"reservationId": 7},
    "ChangeAvailability": {"connectorId": 1, "type": "Operative"},
    "ChangeConfiguration": {"key": "HeartbeatInterval", "value": "300"},
    "ClearCache": {},
    "ClearChargingProfile": {
        "id": 3,
        "connectorId": 1,
        "chargingProfilePurpose": "TxProfile",
        "stackLevel": 0,
    },
    "DataTransfer": {"vendorId": "com.example", "messageId": "ping", "data": "x"},
    "GetCompositeSchedule": {"connectorId": 1, "duration": 60, "chargingRateUnit": "A"},
    "GetConfiguration": {"key": ["HeartbeatInterval"]},
    "GetDiagnostics": {"location": "http://127.0.0.1:1/upload", "retries": 1, "retryInterval": 1},
    "GetLocalListVersion": {},
    "RemoteStartTransaction": {"connectorId": 1, "idTag": "TAG"},
    "RemoteStopTransaction": {"transactionId": 1},
    "ReserveNow": {
        "connectorId": 1,
        "expiryDate": "2030-01-01T00:00:00Z",
        "idTag": "TAG",
        "reservationId": 7,
    },
    "Reset": {"type": "Soft"},
    "SendLocalList": {"listVersion": 1, "updateType": "Full", "localAuthorizationList": []},
    "SetChargingProfile": {
        "connectorId": 0,
        "csChargingProfiles": {
            "chargingProfileId": 1,
            "stackLevel": 0,
            "chargingProfilePurpose": "ChargePointMaxProfile",
            "chargingProfileKind": "Relative",
            "chargingSchedule": {
                "chargingRateUnit": "A",
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16}],
            },
        },
    },
    "TriggerMessage": {"requestedMessage": "Heartbeat"},
    "UnlockConnector": {"connectorId": 1},
    "UpdateFirmware": {"location": "http://127.0.0.1:1/fw.img", "retrieveDate": "2030-01-01T00:00:00Z"},
    "CertificateSigned": {"certificateChain": "-----BEGIN CERTIFICATE-----"},
    "DeleteCertificate": {
        "certificateHashData": {
            "hashAlgorithm": "SHA256",
            "issuerNameHash": "a" * 64,
            "issuerKeyHash": "b" * 64,
            "serialNumber": "01",
        }
    },
    "ExtendedTriggerMessage": {"requestedMessage": "Heartbeat"},
    "GetInstalledCertificateIds": {"certificateType": "CentralSystemRootCertificate"},
    "GetLog": {"logType": "DiagnosticsLog", "requestId": 1, "log": {"remoteLocation": "ftp://127.0.0.1:1/"}},
    "InstallCertificate": {"certificateType": "CentralSystemRootCertificate", "certificate": "x"},
    "SignedUpdateFirmware": {
        "requestId": 1,
        "firmware": {
            "location": "http://127.0.0.1:1/fw",
            "retrieveDateTime": "2030-01-01T00:00:00Z",
            "signingCertificate": "x",
            "signature": "x",
        },
    },
}

#: The 9 measurands of the benches' MeterValues (MeterValuesSampledData of a 3-phase charger).
NINE_MEASURANDS = (
    "Energy.Active.Import.Register",
    "Power.Active.Import",
    "Current.Import",
    "Voltage",
    "SoC",
)


def meter_value_samples(energy_wh: float = 12346.0) -> list[dict[str, Any]]:
    """Nine sampledValue elements (energy, power, current and voltage per phase, SoC) of a charger
    drawing 32 A on 3 phases, as the station's metering reports them (context Sample.Periodic)."""
    reading = MeterReading(
        energy_wh=energy_wh,
        power_w=22080.0,
        current_a=(32.0, 32.0, 32.0),
        voltage_v=(230.0, 230.0, 230.0),
        offered_a=32.0,
        soc_percent=57.0,
    )
    return sampled_values(NINE_MEASURANDS, reading, "Sample.Periodic", phases=3, voltage_v=230.0)
