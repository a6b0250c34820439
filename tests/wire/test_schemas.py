"""Schema validation and its mapping to CALLERROR codes (OCPP-J 1.6 §4.2.3)."""

from __future__ import annotations

import pytest

from ocpp_station.wire import schemas
from ocpp_station.wire.errors import ErrorCode, OcppError


def test_every_official_schema_compiles() -> None:
    names = schemas.schema_names()
    assert "BootNotification" in names and "StopTransactionResponse" in names
    for name in names:
        schemas._compiled(name, True)
        schemas._compiled(name, False)


@pytest.mark.parametrize(
    ("action", "payload", "code"),
    [
        ("BootNotification", {"chargePointVendor": "V"}, ErrorCode.ProtocolError),
        (
            "BootNotification",
            {"chargePointVendor": 5, "chargePointModel": "M"},
            ErrorCode.TypeConstraintViolation,
        ),
        (
            "BootNotification",
            {"chargePointVendor": "V" * 21, "chargePointModel": "M"},
            ErrorCode.TypeConstraintViolation,
        ),
        (
            "BootNotification",
            {"chargePointVendor": "V", "chargePointModel": "M", "x": 1},
            ErrorCode.FormationViolation,
        ),
        ("Reset", {"type": "Medium"}, ErrorCode.PropertyConstraintViolation),
        ("MeterValues", {"connectorId": 1, "meterValue": []}, ErrorCode.OccurenceConstraintViolation),
        ("Heartbeat", {"x": 1}, ErrorCode.FormationViolation),
    ],
)
def test_invalid_payloads_map_to_codes(action: str, payload: dict, code: ErrorCode) -> None:
    with pytest.raises(OcppError) as info:
        schemas.validate_request(action, payload)
    assert info.value.code is code


def test_date_time_needs_a_zone_unless_lenient() -> None:
    payload = {"status": "Accepted", "currentTime": "2024-01-01T00:00:00", "interval": 10}
    with pytest.raises(OcppError) as info:
        schemas.validate_response("BootNotification", payload)
    assert info.value.code is ErrorCode.PropertyConstraintViolation
    schemas.validate_response("BootNotification", payload, strict=False)
    schemas.validate_response("BootNotification", {**payload, "currentTime": "2024-01-01T00:00:00.5+01:00"})


def test_unknown_action() -> None:
    assert not schemas.has_schema("Teleport")
    with pytest.raises(OcppError) as info:
        schemas.validate_request("Teleport", {})
    assert info.value.code is ErrorCode.NotImplemented


def test_validation_does_not_mutate() -> None:
    payload = {"chargePointVendor": "V", "chargePointModel": "M"}
    schemas.validate_request("BootNotification", payload)
    assert payload == {"chargePointVendor": "V", "chargePointModel": "M"}
