"""The typed messages generated from the official schemas (``ocpp_station.wire.messages``, issue 9 §1).

* The module is what ``scripts/gen_messages.py`` writes for the installed schemas: CI fails when stale.
* Every action of the fixed table has a request and a response struct whose wire names, required
  fields and ``additionalProperties`` are the schema's.
* The structs and the compiled official schema (fastjsonschema, the reference) agree: on an example of
  every one of the 78 schemas (valid, and round-tripping), and on every one-rule mutation of them
  (the same CALLERROR code), the hostile-frame generator's mutations included.
"""

from __future__ import annotations

import importlib.util
import random
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import msgspec
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ocpp_station.sim import hostile
from ocpp_station.wire import messages, schemas
from ocpp_station.wire.actions import ACTIONS, Initiator
from ocpp_station.wire.errors import ErrorCode, OcppError
from ocpp_station.wire.messages import REQUESTS, RESPONSES, OcppStruct
from ocpp_station.wire.timestamps import Timestamp

ROOT = Path(__file__).resolve().parents[2]
GENERATOR = ROOT / "scripts" / "gen_messages.py"
NOW = "2026-11-25T12:00:00Z"
SAMPLES: list[dict[str, Any]] = [
    {
        "value": "1234.5",
        "context": "Sample.Periodic",
        "measurand": "Energy.Active.Import.Register",
        "unit": "Wh",
    },
    {"value": "7360.0", "context": "Sample.Periodic", "measurand": "Power.Active.Import", "unit": "W"},
    *(
        {
            "value": "32.0",
            "context": "Sample.Periodic",
            "measurand": "Current.Import",
            "phase": p,
            "unit": "A",
        }
        for p in ("L1", "L2", "L3")
    ),
    *(
        {"value": "230.1", "context": "Sample.Periodic", "measurand": "Voltage", "phase": p, "unit": "V"}
        for p in ("L1-N", "L2-N", "L3-N")
    ),
    {"value": "50.0", "measurand": "Frequency", "location": "Inlet", "unit": "Hertz", "format": "Raw"},
]
SCHEDULE: dict[str, Any] = {
    "duration": 86400,
    "startSchedule": NOW,
    "chargingRateUnit": "A",
    "chargingSchedulePeriod": [
        {"startPeriod": 0, "limit": 32.0},
        {"startPeriod": 3600, "limit": 16.5, "numberPhases": 3},
        {"startPeriod": 7200, "limit": 6.1},
    ],
    "minChargingRate": 6.0,
}
HASH_DATA = {
    "hashAlgorithm": "SHA256",
    "issuerNameHash": "a" * 64,
    "issuerKeyHash": "b" * 64,
    "serialNumber": "01",
}

#: The charge point's own requests (the central system's are ``hostile.EXAMPLES``), and richer ones.
REQUEST_EXAMPLES: dict[str, dict[str, Any]] = {
    **hostile.EXAMPLES,
    "Authorize": {"idTag": "TAG"},
    "BootNotification": {
        "chargePointVendor": "ACME",
        "chargePointModel": "Wallbox 22",
        "chargePointSerialNumber": "SN123",
        "firmwareVersion": "1.4.2",
        "iccid": "",
        "meterType": "DZG",
    },
    "DiagnosticsStatusNotification": {"status": "Uploaded"},
    "FirmwareStatusNotification": {"status": "Installed"},
    "Heartbeat": {},
    "MeterValues": {
        "connectorId": 1,
        "transactionId": 42,
        "meterValue": [{"timestamp": NOW, "sampledValue": SAMPLES}],
    },
    "StartTransaction": {
        "connectorId": 1,
        "idTag": "TAG",
        "meterStart": 0,
        "reservationId": 7,
        "timestamp": NOW,
    },
    "StatusNotification": {
        "connectorId": 1,
        "errorCode": "NoError",
        "status": "SuspendedEVSE",
        "timestamp": NOW,
        "info": "x",
        "vendorId": "com.example",
        "vendorErrorCode": "E1",
    },
    "StopTransaction": {
        "idTag": "TAG",
        "meterStop": 1000,
        "timestamp": NOW,
        "transactionId": 42,
        "reason": "EVDisconnected",
        "transactionData": [{"timestamp": NOW, "sampledValue": [{"value": "1000", "unit": "Wh"}]}],
    },
    "LogStatusNotification": {"status": "Uploading", "requestId": 1},
    "SecurityEventNotification": {"type": "FirmwareUpdated", "timestamp": NOW, "techInfo": "x"},
    "SignCertificate": {"csr": "-----BEGIN CERTIFICATE REQUEST-----"},
    "SignedFirmwareStatusNotification": {"status": "SignatureVerified", "requestId": 1},
    "SetChargingProfile": {
        "connectorId": 1,
        "csChargingProfiles": {
            "chargingProfileId": 7,
            "transactionId": 42,
            "stackLevel": 1,
            "chargingProfilePurpose": "TxProfile",
            "chargingProfileKind": "Recurring",
            "recurrencyKind": "Daily",
            "validFrom": NOW,
            "validTo": "2027-01-01T00:00:00+01:00",
            "chargingSchedule": SCHEDULE,
        },
    },
}

RESPONSE_EXAMPLES: dict[str, dict[str, Any]] = {
    "Authorize": {"idTagInfo": {"expiryDate": NOW, "parentIdTag": "P", "status": "Accepted"}},
    "BootNotification": {"status": "Accepted", "currentTime": NOW, "interval": 300},
    "DiagnosticsStatusNotification": {},
    "FirmwareStatusNotification": {},
    "Heartbeat": {"currentTime": "2026-11-25T07:00:00-05:00"},
    "MeterValues": {},
    "StartTransaction": {"idTagInfo": {"status": "ConcurrentTx"}, "transactionId": 42},
    "StatusNotification": {},
    "StopTransaction": {"idTagInfo": {"status": "Expired"}},
    "DataTransfer": {"status": "UnknownVendorId", "data": "x"},
    "CancelReservation": {"status": "Accepted"},
    "ChangeAvailability": {"status": "Scheduled"},
    "ChangeConfiguration": {"status": "RebootRequired"},
    "ClearCache": {"status": "Rejected"},
    "ClearChargingProfile": {"status": "Unknown"},
    "GetCompositeSchedule": {
        "status": "Accepted",
        "connectorId": 1,
        "scheduleStart": NOW,
        "chargingSchedule": SCHEDULE,
    },
    "GetConfiguration": {
        "configurationKey": [{"key": "HeartbeatInterval", "readonly": False, "value": "300"}],
        "unknownKey": ["Foo"],
    },
    "GetDiagnostics": {"fileName": "diagnostics.log"},
    "GetLocalListVersion": {"listVersion": 3},
    "RemoteStartTransaction": {"status": "Accepted"},
    "RemoteStopTransaction": {"status": "Rejected"},
    "ReserveNow": {"status": "Occupied"},
    "Reset": {"status": "Accepted"},
    "SendLocalList": {"status": "VersionMismatch"},
    "SetChargingProfile": {"status": "NotSupported"},
    "TriggerMessage": {"status": "NotImplemented"},
    "UnlockConnector": {"status": "UnlockFailed"},
    "UpdateFirmware": {},
    "LogStatusNotification": {},
    "SecurityEventNotification": {},
    "SignCertificate": {"status": "Accepted"},
    "SignedFirmwareStatusNotification": {},
    "CertificateSigned": {"status": "Rejected"},
    "DeleteCertificate": {"status": "NotFound"},
    "ExtendedTriggerMessage": {"status": "Accepted"},
    "GetInstalledCertificateIds": {"status": "Accepted", "certificateHashData": [HASH_DATA]},
    "GetLog": {"status": "AcceptedCanceled", "filename": "log.txt"},
    "InstallCertificate": {"status": "Failed"},
    "SignedUpdateFirmware": {"status": "InvalidCertificate"},
}

EXAMPLES: list[tuple[str, bool, dict[str, Any]]] = [
    *((action, False, payload) for action, payload in REQUEST_EXAMPLES.items()),
    *((action, True, payload) for action, payload in RESPONSE_EXAMPLES.items()),
]


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_messages", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("gen_messages", module)
    spec.loader.exec_module(module)
    return module


def test_the_generated_module_is_not_stale() -> None:
    generator = load_generator()
    on_disk = Path(messages.__file__).read_text(encoding="utf-8")
    assert generator.generate() == on_disk, (
        f"src/ocpp_station/wire/messages.py is stale: regenerate it with {generator.COMMAND}"
    )


def test_every_action_has_a_request_and_a_response() -> None:
    assert list(REQUESTS) == list(ACTIONS) == list(RESPONSES)
    for action in ACTIONS:
        assert REQUESTS[action].__name__ == f"{action}Request"
        assert RESPONSES[action].__name__ == f"{action}Response"
    assert set(REQUEST_EXAMPLES) == set(RESPONSE_EXAMPLES) == set(ACTIONS)


def schema_objects(node: Any, definitions: dict[str, Any]) -> Iterator[tuple[dict[str, Any], Any]]:
    """Every object schema under ``node`` ($ref resolved), with the struct type that should match it."""
    if "$ref" in node:
        node = definitions[node["$ref"].removeprefix("#/definitions/")]
    if node.get("type") == "object":
        yield node, None
        for prop in node.get("properties", {}).values():
            yield from schema_objects(prop, definitions)
    elif node.get("type") == "array":
        yield from schema_objects(node["items"], definitions)


def test_every_schema_object_forbids_additional_properties() -> None:
    """What makes ``forbid_unknown_fields=True`` right for every struct."""
    for name in schemas.schema_names():
        schema = schemas.load_schema(name)
        for node, _ in schema_objects(schema, schema.get("definitions", {})):
            assert node.get("additionalProperties") is False, name


def struct_matches(struct: type[OcppStruct], node: dict[str, Any], definitions: dict[str, Any]) -> None:
    """The struct's wire names and required fields are the schema object's, recursively."""
    if "$ref" in node:
        node = definitions[node["$ref"].removeprefix("#/definitions/")]
    info = msgspec.inspect.type_info(struct)
    assert isinstance(info, msgspec.inspect.StructType)
    assert info.forbid_unknown_fields
    properties = node.get("properties", {})
    assert [f.encode_name for f in info.fields] == list(properties), struct.__name__
    assert {f.encode_name for f in info.fields if f.required} == set(node.get("required", [])), struct
    for f in info.fields:
        prop = properties[f.encode_name]
        if "$ref" in prop:
            prop = definitions[prop["$ref"].removeprefix("#/definitions/")]
        value_type = f.type  # msgspec.inspect leaves UnsetType out of an optional field's type
        if isinstance(value_type, msgspec.inspect.ListType):
            value_type, prop = value_type.item_type, prop["items"]
            if "$ref" in prop:
                prop = definitions[prop["$ref"].removeprefix("#/definitions/")]
        if isinstance(value_type, msgspec.inspect.StructType):
            struct_matches(value_type.cls, prop, definitions)
        if isinstance(value_type, msgspec.inspect.EnumType):
            assert [m.value for m in value_type.cls] == prop["enum"]


@pytest.mark.parametrize("action", list(ACTIONS))
def test_structs_have_the_schemas_wire_names_and_required_fields(action: str) -> None:
    for struct, name in ((REQUESTS[action], action), (RESPONSES[action], f"{action}Response")):
        schema = schemas.load_schema(name)
        struct_matches(struct, schema, schema.get("definitions", {}))


def code_of(call: Any) -> ErrorCode | None:
    try:
        call()
    except OcppError as exc:
        return exc.code
    return None


def codes(action: str, response: bool, payload: Any, strict: bool = True) -> tuple[Any, Any]:
    """(msgspec's code, fastjsonschema's code) for ``payload``; None where it is valid."""
    check = schemas.validate_response if response else schemas.validate_request
    ours = code_of(lambda: check(action, payload, strict=strict))
    reference = code_of(
        lambda: schemas.validate_with_schema(action, payload, response=response, strict=strict)
    )
    return ours, reference


@pytest.mark.parametrize(("action", "response", "payload"), EXAMPLES)
def test_examples_are_valid_for_both_and_round_trip(
    action: str, response: bool, payload: dict[str, Any]
) -> None:
    assert codes(action, response, payload) == (None, None)
    struct = schemas.parse_response(action, payload) if response else schemas.parse_request(action, payload)
    assert isinstance(struct, (RESPONSES if response else REQUESTS)[action])
    # Back to builtins and parsed again: the same struct (date-times come back as our own text).
    again = schemas.to_builtins(struct)
    assert (
        schemas.parse_response(action, again) if response else schemas.parse_request(action, again)
    ) == struct
    assert orjson.loads(schemas.encode(struct)) == again
    assert orjson.loads(schemas.encode_checked(struct, action)) == again


def test_typed_values() -> None:
    boot = messages.BootNotificationRequest(charge_point_vendor="ACME", charge_point_model="M")
    assert msgspec.json.encode(boot) == b'{"chargePointVendor":"ACME","chargePointModel":"M"}'
    request = schemas.parse_request("MeterValues", REQUEST_EXAMPLES["MeterValues"])
    assert isinstance(request, messages.MeterValuesRequest)
    value = request.meter_value[0]
    assert value.timestamp == datetime(2026, 11, 25, 12, tzinfo=UTC).timestamp()
    assert isinstance(value.timestamp, Timestamp)
    assert value.sampled_value[0].measurand is messages.Measurand.Energy_Active_Import_Register
    assert value.sampled_value[2].phase is messages.Phase.L1
    assert value.sampled_value[5].phase is messages.Phase.L1_N
    assert value.sampled_value[0].phase is msgspec.UNSET


# -- one-rule mutations of every example, at every depth ---------------------------------------------
Path_ = tuple[str | int, ...]


def replaced(payload: Any, path: Path_, value: Any) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(payload, list):
        assert isinstance(head, int)
        return [replaced(v, rest, value) if i == head else v for i, v in enumerate(payload)]
    return {**payload, head: replaced(payload[head], rest, value)}


def removed(payload: Any, path: Path_) -> Any:
    *parent, name = path

    def drop(node: Any, rest: Path_) -> Any:
        if not rest:
            return {k: v for k, v in node.items() if k != name}
        head = rest[0]
        if isinstance(node, list):
            return [drop(v, rest[1:]) if i == head else v for i, v in enumerate(node)]
        return {**node, head: drop(node[head], rest[1:])}

    return drop(payload, tuple(parent))


def mutations(
    node: dict[str, Any], example: Any, definitions: dict[str, Any], path: Path_ = ()
) -> Iterator[tuple[str, Path_, Any, ErrorCode | None]]:
    """(kind, path, mutated payload, expected code): each breaks one rule of the schema at ``path``.
    The payload is relative to the root; ``example`` is the value at ``path``."""
    if "$ref" in node:
        node = definitions[node["$ref"].removeprefix("#/definitions/")]
    kind = node.get("type")
    if kind == "object":
        yield "extra-field", path, ("extra", path), ErrorCode.FormationViolation
        for name in node.get("required", []):
            yield "missing-field", (*path, name), ("remove", (*path, name)), ErrorCode.ProtocolError
        for name, prop in node.get("properties", {}).items():
            if name in example:
                yield from mutations(prop, example[name], definitions, (*path, name))
        return
    for wrong in hostile.WRONG_VALUES[kind]:
        yield f"wrong-type {wrong!r}", path, ("set", wrong), ErrorCode.TypeConstraintViolation
    if "enum" in node:
        yield "bad-enum", path, ("set", "Bogus"), ErrorCode.PropertyConstraintViolation
        if example.lower() != example:
            yield "enum-case", path, ("set", example.lower()), ErrorCode.PropertyConstraintViolation
    if "maxLength" in node:
        yield "too-long", path, ("set", "z" * (node["maxLength"] + 1)), ErrorCode.TypeConstraintViolation
        yield "longest", path, ("set", "z" * node["maxLength"]), None
    if node.get("format") == "date-time":
        yield "not-a-date", path, ("set", "yesterday"), ErrorCode.PropertyConstraintViolation
        yield "no-zone", path, ("set", "2026-11-25T12:00:00"), ErrorCode.PropertyConstraintViolation
        yield "offset", path, ("set", "2026-11-25T12:00:00.123+0130"), None
    if node.get("format") == "uri":
        yield "not-a-uri", path, ("set", "no uri here"), ErrorCode.PropertyConstraintViolation
    if "multipleOf" in node:
        for bad in (0.05, 16.55, 1e-7):
            yield f"multiple-of {bad}", path, ("set", bad), ErrorCode.PropertyConstraintViolation
        for good in (0, 7.3, 0.3, 11.1, 1e20, 230):
            yield f"multiple-of {good}", path, ("set", good), None
    if kind == "array":
        if node.get("minItems"):
            yield "empty-array", path, ("set", []), ErrorCode.OccurenceConstraintViolation
        if example:
            yield from mutations(node["items"], example[0], definitions, (*path, 0))


def mutated(payload: dict[str, Any], path: Path_, how: tuple[Any, ...]) -> Any:
    if how[0] == "remove":
        return removed(payload, how[1])
    if how[0] == "extra":
        return replaced(payload, path, {**_at(payload, path), "vendorExtension": 1})
    return replaced(payload, path, how[1])


def _at(payload: Any, path: Path_) -> Any:
    for step in path:
        payload = payload[step]
    return payload


def all_mutations() -> Iterator[Any]:
    for action, response, example in EXAMPLES:
        schema = schemas.load_schema(action + ("Response" if response else ""))
        for kind, path, how, code in mutations(schema, example, schema.get("definitions", {})):
            label = f"{action}{'.conf' if response else '.req'}:{'/'.join(map(str, path))}:{kind}"
            yield pytest.param(action, response, mutated(example, path, how), code, id=label)


@pytest.mark.parametrize(("action", "response", "payload", "code"), list(all_mutations()))
def test_mutations_get_the_same_code_from_both(
    action: str, response: bool, payload: Any, code: ErrorCode | None
) -> None:
    assert codes(action, response, payload) == (code, code)


def test_zoneless_date_times_are_read_as_utc_when_lenient() -> None:
    payload = {
        "idTagInfo": {"status": "Accepted", "expiryDate": "2030-01-01T00:00:00"},
        "transactionId": 1,
    }
    assert codes("StartTransaction", True, payload) == (ErrorCode.PropertyConstraintViolation,) * 2
    assert codes("StartTransaction", True, payload, strict=False) == (None, None)
    parsed = schemas.parse_response("StartTransaction", payload, strict=False)
    assert isinstance(parsed, messages.StartTransactionResponse)
    assert parsed.id_tag_info.expiry_date == datetime(2030, 1, 1, tzinfo=UTC).timestamp()
    assert payload["idTagInfo"]["expiryDate"] == "2030-01-01T00:00:00"  # not modified

    many = {
        "listVersion": 2,
        "updateType": "Full",
        "localAuthorizationList": [
            {"idTag": f"T{n}", "idTagInfo": {"status": "Accepted", "expiryDate": "2030-01-01 00:00:00"}}
            for n in range(500)
        ],
    }
    parsed_list = schemas.parse_request("SendLocalList", many, strict=False)
    assert isinstance(parsed_list, messages.SendLocalListRequest)
    assert not isinstance(parsed_list.local_authorization_list, msgspec.UnsetType)
    assert all(
        not isinstance(e.id_tag_info, msgspec.UnsetType)
        and e.id_tag_info.expiry_date == datetime(2030, 1, 1, tzinfo=UTC).timestamp()
        for e in parsed_list.local_authorization_list
    )
    # Lenient about the zone only: anything else still fails, after the zones are added.
    broken = {**many, "localAuthorizationList": [*many["localAuthorizationList"], {"idTag": 5}]}
    assert codes("SendLocalList", False, broken, strict=False) == (ErrorCode.TypeConstraintViolation,) * 2


def test_error_description_names_the_field_and_is_short() -> None:
    with pytest.raises(OcppError) as info:
        schemas.validate_request(
            "SetChargingProfile", {**hostile.EXAMPLES["SetChargingProfile"], "connectorId": "1"}
        )
    assert info.value.description == "SetChargingProfile: payload.connectorId: Expected `int`, got `str`"
    assert info.value.details == {"rule": "type"}
    with pytest.raises(OcppError) as info:
        schemas.validate_request("Reset", {"type": "x" * 100_000})
    assert info.value.code is ErrorCode.PropertyConstraintViolation
    assert len(info.value.description) < 200


# -- the hostile-frame generator's mutations (sim/hostile.py), charge point's actions included -------
@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=2**32), st.sampled_from(sorted(REQUEST_EXAMPLES)))
def test_hostile_mutations_get_the_same_code_from_both(seed: int, action: str) -> None:
    rng = random.Random(seed)
    original = dict(hostile.EXAMPLES)
    hostile.EXAMPLES.update(REQUEST_EXAMPLES)  # _mutations reads the example of the action there
    try:
        cases = hostile._mutations(rng, action)
    finally:
        hostile.EXAMPLES.clear()
        hostile.EXAMPLES.update(original)
    for kind, payload, expected in cases:
        ours, reference = codes(action, False, payload)
        assert ours == reference, (kind, payload)
        if kind != "payload-not-object":  # that one is the frame's FormationViolation, before the schema
            assert ours == ErrorCode(expected), (kind, payload)


def test_charge_point_actions_are_in_the_examples() -> None:
    own = {a for a, who in ACTIONS.items() if Initiator.CHARGE_POINT in who}
    assert own <= set(REQUEST_EXAMPLES)
