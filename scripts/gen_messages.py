"""Generate ``src/ocpp_station/wire/messages.py``: every OCPP 1.6 message as a typed ``msgspec.Struct``.

    .venv/bin/python scripts/gen_messages.py           # (re)write the module
    .venv/bin/python scripts/gen_messages.py --check   # exit 1 if the module on disk is stale

The input is the official OCPP 1.6 JSON schemas as shipped by the PyPI package ``ocpp``
(``ocpp/v16/schemas``, security whitepaper ed. 3 included), read by the names of the fixed action table
(:data:`ocpp_station.wire.actions.SCHEMA_NAMES`) and nothing else. The output is deterministic (sorted,
no dates, no versions) and ruff-formatted, so ``tests/wire/test_messages.py`` can regenerate it into a
string and compare it with the file: CI fails when the generated code is stale.

Names are explicit, never guessed: a nested object or an enumeration gets its name from the tables
below (the OCPP 1.6 §7 type names, keyed by the struct and the wire property that hold it) or, in the
security schemas, from its ``$ref`` definition (the whitepaper's type names). A schema with an object or
an enumeration that no table names, a keyword this generator does not translate, or two definitions of
one name that differ stops the generator with an error: a new or changed schema needs a decision here.
See docs/messages.md.
"""

from __future__ import annotations

import argparse
import json
import keyword
import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from ocpp_station.wire.actions import ACTIONS, SCHEMA_NAMES

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "src" / "ocpp_station" / "wire" / "messages.py"
COMMAND = ".venv/bin/python scripts/gen_messages.py"

#: Inline (non-``$ref``) objects: (name of the struct holding it, wire property) -> struct name.
#: OCPP 1.6 §7 names. StopTransaction's ``transactionData`` is its own type: its official schema's
#: ``unit`` enumeration lacks ``Hertz`` (MeterValues' has it), and the schema's rule is kept.
STRUCT_NAMES: dict[tuple[str, str], str] = {
    ("AuthorizeResponse", "idTagInfo"): "IdTagInfo",
    ("StartTransactionResponse", "idTagInfo"): "IdTagInfo",
    ("StopTransactionResponse", "idTagInfo"): "IdTagInfo",
    ("AuthorizationData", "idTagInfo"): "IdTagInfo",
    ("SendLocalListRequest", "localAuthorizationList"): "AuthorizationData",
    ("MeterValuesRequest", "meterValue"): "MeterValue",
    ("MeterValue", "sampledValue"): "SampledValue",
    ("StopTransactionRequest", "transactionData"): "StopTransactionMeterValue",
    ("StopTransactionMeterValue", "sampledValue"): "StopTransactionSampledValue",
    ("GetConfigurationResponse", "configurationKey"): "KeyValue",
    ("RemoteStartTransactionRequest", "chargingProfile"): "ChargingProfile",
    ("SetChargingProfileRequest", "csChargingProfiles"): "ChargingProfile",
    ("ChargingProfile", "chargingSchedule"): "ChargingSchedule",
    ("GetCompositeScheduleResponse", "chargingSchedule"): "ChargingSchedule",
    ("ChargingSchedule", "chargingSchedulePeriod"): "ChargingSchedulePeriod",
}

_SAMPLED_VALUE_ENUMS = {
    "context": "ReadingContext",
    "format": "ValueFormat",
    "measurand": "Measurand",
    "phase": "Phase",
    "location": "Location",
}

#: Inline enumerations: (name of the struct holding it, wire property) -> enum name (OCPP 1.6 §7;
#: ``RecurrencyKindType`` as the errata sheet and the table of contents spell it).
ENUM_NAMES: dict[tuple[str, str], str] = {
    ("IdTagInfo", "status"): "AuthorizationStatus",
    ("BootNotificationResponse", "status"): "RegistrationStatus",
    ("CancelReservationResponse", "status"): "CancelReservationStatus",
    ("ChangeAvailabilityRequest", "type"): "AvailabilityType",
    ("ChangeAvailabilityResponse", "status"): "AvailabilityStatus",
    ("ChangeConfigurationResponse", "status"): "ConfigurationStatus",
    ("ClearCacheResponse", "status"): "ClearCacheStatus",
    ("ClearChargingProfileRequest", "chargingProfilePurpose"): "ChargingProfilePurposeType",
    ("ClearChargingProfileResponse", "status"): "ClearChargingProfileStatus",
    ("DataTransferResponse", "status"): "DataTransferStatus",
    ("DiagnosticsStatusNotificationRequest", "status"): "DiagnosticsStatus",
    ("FirmwareStatusNotificationRequest", "status"): "FirmwareStatus",
    ("GetCompositeScheduleRequest", "chargingRateUnit"): "ChargingRateUnitType",
    ("GetCompositeScheduleResponse", "status"): "GetCompositeScheduleStatus",
    ("ChargingSchedule", "chargingRateUnit"): "ChargingRateUnitType",
    ("ChargingProfile", "chargingProfilePurpose"): "ChargingProfilePurposeType",
    ("ChargingProfile", "chargingProfileKind"): "ChargingProfileKindType",
    ("ChargingProfile", "recurrencyKind"): "RecurrencyKindType",
    ("RemoteStartTransactionResponse", "status"): "RemoteStartStopStatus",
    ("RemoteStopTransactionResponse", "status"): "RemoteStartStopStatus",
    ("ReserveNowResponse", "status"): "ReservationStatus",
    ("ResetRequest", "type"): "ResetType",
    ("ResetResponse", "status"): "ResetStatus",
    ("SendLocalListRequest", "updateType"): "UpdateType",
    ("SendLocalListResponse", "status"): "UpdateStatus",
    ("SetChargingProfileResponse", "status"): "ChargingProfileStatus",
    ("StatusNotificationRequest", "errorCode"): "ChargePointErrorCode",
    ("StatusNotificationRequest", "status"): "ChargePointStatus",
    ("StopTransactionRequest", "reason"): "Reason",
    ("TriggerMessageRequest", "requestedMessage"): "MessageTrigger",
    ("TriggerMessageResponse", "status"): "TriggerMessageStatus",
    ("UnlockConnectorResponse", "status"): "UnlockStatus",
    **{("SampledValue", prop): name for prop, name in _SAMPLED_VALUE_ENUMS.items()},
    ("SampledValue", "unit"): "UnitOfMeasure",
    **{("StopTransactionSampledValue", prop): name for prop, name in _SAMPLED_VALUE_ENUMS.items()},
    ("StopTransactionSampledValue", "unit"): "StopTransactionUnitOfMeasure",
}

#: fastjsonschema's regular expression for ``"format": "uri"`` (draft 4 and 6), so both validators
#: accept the same locations.
URI_PATTERN = r"^\w+:(\/?\/?)[^\s]+\Z"

#: Schema keywords that carry no rule for a value (annotations) or none for the shapes used here:
#: ``additionalItems`` only matters when ``items`` is a list of schemas, never the case in OCPP 1.6.
_IGNORED = {"$schema", "$id", "title", "javaType", "additionalItems", "definitions"}
_TRANSLATED = {
    "type",
    "properties",
    "required",
    "additionalProperties",
    "enum",
    "maxLength",
    "format",
    "items",
    "minItems",
    "maxItems",
    "multipleOf",
    "$ref",
}


class SchemaError(Exception):
    """A schema this generator cannot translate without a decision (a name, a keyword)."""


@dataclass
class Field:
    wire: str
    attr: str
    annotation: str
    required: bool
    multiple_of: str | None = None


@dataclass
class StructDef:
    name: str
    fields: list[Field]
    uses: list[str] = field(default_factory=list)
    deps: set[str] = field(default_factory=set)
    message: str | None = None  # the schema file of a top-level message

    def body(self) -> tuple[tuple[str, str, str, bool, str | None], ...]:
        """What must agree when one name is defined at several places."""
        return tuple((f.wire, f.attr, f.annotation, f.required, f.multiple_of) for f in self.fields)


@dataclass
class EnumDef:
    name: str
    values: list[str]
    uses: list[str] = field(default_factory=list)


def snake_case(wire: str) -> str:
    """``chargePointSerialNumber`` -> ``charge_point_serial_number`` (every OCPP 1.6 property is
    lowerCamelCase; the generated code states each wire name explicitly next to its attribute)."""
    attr = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", wire).lower()
    if not attr.isidentifier() or keyword.iskeyword(attr):
        raise SchemaError(f"property {wire!r} gives no usable attribute name ({attr!r})")
    return attr


def member_name(value: str) -> str:
    """An enum member named as the spec spells the value: ``Accepted``; ``.`` and ``-`` become ``_``
    (``Energy.Active.Import.Register`` -> ``Energy_Active_Import_Register``, ``L1-N`` -> ``L1_N``)."""
    name = value.replace(".", "_").replace("-", "_")
    if not name.isidentifier() or keyword.iskeyword(name) or name.startswith("_"):
        raise SchemaError(f"enum value {value!r} gives no usable member name")
    return name


class Generator:
    """Walks every schema once and collects the structs and enums, deduplicated by name."""

    def __init__(self) -> None:
        self.structs: dict[str, StructDef] = {}
        self.enums: dict[str, EnumDef] = {}
        self.messages: list[str] = []

    # -- schema walking -------------------------------------------------------------------------
    def message(self, action: str, response: bool) -> str:
        schema_name = f"{action}Response" if response else action
        schema = load(schema_name)
        struct = f"{action}{'Response' if response else 'Request'}"
        label = f"{action}.{'conf' if response else 'req'}"
        self._object(schema, struct, label, schema.get("definitions", {}), message=f"{schema_name}.json")
        self.messages.append(struct)
        return struct

    def _check_keywords(self, spec: dict[str, Any], where: str) -> None:
        unknown = set(spec) - _TRANSLATED - _IGNORED
        if unknown:
            raise SchemaError(f"{where}: keywords not translated: {sorted(unknown)}")

    def _object(
        self,
        spec: dict[str, Any],
        name: str,
        where: str,
        definitions: dict[str, Any],
        message: str | None = None,
    ) -> None:
        self._check_keywords(spec, where)
        if spec.get("type") != "object":
            raise SchemaError(f"{where}: expected an object")
        if spec.get("additionalProperties") is not False:
            raise SchemaError(f"{where}: additionalProperties is not false (forbid_unknown_fields)")
        required = set(spec.get("required", []))
        properties: dict[str, Any] = spec.get("properties", {})
        if required - set(properties):
            raise SchemaError(f"{where}: required but not declared: {sorted(required - set(properties))}")
        struct = StructDef(name, [], message=message)
        for wire, prop in properties.items():
            annotation, multiple_of = self._value(prop, name, wire, _child(where, wire), definitions, struct)
            struct.fields.append(Field(wire, snake_case(wire), annotation, wire in required, multiple_of))
        attrs = [f.attr for f in struct.fields]
        if len(set(attrs)) != len(attrs):
            raise SchemaError(f"{where}: two properties give one attribute name")
        existing = self.structs.get(name)
        if existing is None:
            self.structs[name] = struct
        elif existing.body() != struct.body():
            raise SchemaError(f"{where}: {name} defined differently elsewhere ({existing.uses})")
        self.structs[name].uses.append(where)

    def _value(
        self,
        spec: dict[str, Any],
        owner: str,
        wire: str,
        where: str,
        definitions: dict[str, Any],
        struct: StructDef,
    ) -> tuple[str, str | None]:
        """The annotation of a property, and its multipleOf (checked in ``__post_init__``)."""
        if "$ref" in spec:
            if set(spec) != {"$ref"}:
                raise SchemaError(f"{where}: $ref with siblings")
            ref: str = spec["$ref"]
            if not ref.startswith("#/definitions/"):
                raise SchemaError(f"{where}: $ref outside the schema: {ref}")
            name = ref.removeprefix("#/definitions/")
            target = definitions[name]
            if "enum" in target:
                self._enum(target, name, where)
            else:
                self._object(target, name, where, definitions)
            struct.deps.add(name)
            return name, None
        self._check_keywords(spec, where)
        kind = spec.get("type")
        if "enum" in spec:
            if kind != "string":
                raise SchemaError(f"{where}: enum of type {kind}")
            enum_name = ENUM_NAMES.get((owner, wire))
            if enum_name is None:
                raise SchemaError(f"{where}: no enum name for ({owner!r}, {wire!r}) in ENUM_NAMES")
            self._enum(spec, enum_name, where)
            struct.deps.add(enum_name)
            return enum_name, None
        if kind == "object":
            struct_name = STRUCT_NAMES.get((owner, wire))
            if struct_name is None:
                raise SchemaError(f"{where}: no struct name for ({owner!r}, {wire!r}) in STRUCT_NAMES")
            self._object(spec, struct_name, where, definitions)
            struct.deps.add(struct_name)
            return struct_name, None
        if kind == "array":
            items = spec["items"]
            if not isinstance(items, dict):
                raise SchemaError(f"{where}: items must be one schema")
            item, item_multiple = self._value(items, owner, wire, f"{where}[]", definitions, struct)
            if item_multiple is not None:
                raise SchemaError(f"{where}: multipleOf inside an array")
            meta = _meta(min_length=spec.get("minItems"), max_length=spec.get("maxItems"))
            return _annotated(f"list[{item}]", meta), None
        if kind == "string":
            fmt = spec.get("format")
            if fmt == "date-time":
                if "maxLength" in spec:
                    raise SchemaError(f"{where}: maxLength on a date-time")
                return "DateTime", None
            if fmt == "uri":
                if "maxLength" in spec:
                    return _annotated("str", _meta(max_length=spec["maxLength"], pattern="URI_PATTERN")), None
                return "Uri", None
            if fmt is not None:
                raise SchemaError(f"{where}: format {fmt!r} not translated")
            return _annotated("str", _meta(max_length=spec.get("maxLength"))), None
        if kind == "integer":
            return "int", None
        if kind == "number":
            multiple = spec.get("multipleOf")
            if multiple is not None:
                if multiple != 0.1:
                    raise SchemaError(f"{where}: multipleOf {multiple} (only 0.1 is translated)")
                return "float", "0.1"
            return "float", None
        if kind == "boolean":
            return "bool", None
        raise SchemaError(f"{where}: type {kind!r} not translated")

    def _enum(self, spec: dict[str, Any], name: str, where: str) -> None:
        values = list(spec["enum"])
        if not all(isinstance(v, str) for v in values) or len(set(values)) != len(values):
            raise SchemaError(f"{where}: enum values must be distinct strings")
        members = [member_name(v) for v in values]
        if len(set(members)) != len(members):
            raise SchemaError(f"{where}: two values of {name} give one member name")
        existing = self.enums.get(name)
        if existing is None:
            self.enums[name] = EnumDef(name, values)
        elif existing.values != values:
            raise SchemaError(f"{where}: {name} has other values elsewhere ({existing.uses})")
        self.enums[name].uses.append(where)

    # -- rendering ------------------------------------------------------------------------------
    def render(self) -> str:
        out: list[str] = [HEADER]
        for enum in sorted(self.enums.values(), key=lambda e: e.name):
            out.append(_render_enum(enum))
        for name in self._nested_order():
            out.append(_render_struct(self.structs[name]))
        for name in self.messages:
            out.append(_render_struct(self.structs[name]))
        out.append(_render_tables())
        return "\n\n".join(out) + "\n"

    def _nested_order(self) -> list[str]:
        """Nested structs, each after the ones it holds (depth first, by name)."""
        done: list[str] = []

        def visit(name: str) -> None:
            if name in done or name not in self.structs:
                return
            for dep in sorted(self.structs[name].deps):
                visit(dep)
            done.append(name)

        for name in sorted(n for n, s in self.structs.items() if s.message is None):
            visit(name)
        return done


def _meta(**constraints: Any) -> str | None:
    parts = [f"{key}={value}" for key, value in constraints.items() if value is not None]
    return f"Meta({', '.join(parts)})" if parts else None


def _annotated(base: str, meta: str | None) -> str:
    return f"Annotated[{base}, {meta}]" if meta else base


def _render_enum(enum: EnumDef) -> str:
    lines: list[str] = [f"class {enum.name}(StrEnum):", f'    """{_uses_doc(enum.name, enum.uses)}"""', ""]
    lines += [f"    {member_name(v)} = {json.dumps(v)}" for v in enum.values]
    return "\n".join(lines)


def _render_struct(struct: StructDef) -> str:
    if struct.message is not None:
        doc = f"OCPP 1.6 {struct.uses[0]} (schema ``{struct.message}``)."
    else:
        doc = _uses_doc(struct.name, struct.uses)
    # frozen / kw_only repeated: mypy's dataclass_transform does not inherit them from the base.
    lines = [f"class {struct.name}(OcppStruct, frozen=True, kw_only=True):", f'    """{doc}"""', ""]
    for f in struct.fields:
        if f.required:
            lines.append(f'    {f.attr}: {f.annotation} = field(name="{f.wire}")')
        else:
            lines.append(f'    {f.attr}: {f.annotation} | UnsetType = field(default=UNSET, name="{f.wire}")')
    checks = [f for f in struct.fields if f.multiple_of is not None]
    if checks:
        lines += ["", "    def __post_init__(self) -> None:"]
        for f in checks:
            if f.required:
                lines.append(f'        _check_tenths(self.{f.attr}, "{f.wire}")')
            else:
                lines.append(f"        if not isinstance(self.{f.attr}, UnsetType):")
                lines.append(f'            _check_tenths(self.{f.attr}, "{f.wire}")')
    return "\n".join(lines)


def _child(where: str, wire: str) -> str:
    """``Authorize.conf`` + ``idTagInfo`` -> ``Authorize.conf idTagInfo``; then ``.status`` etc."""
    return f"{where}.{wire}" if " " in where else f"{where} {wire}"


def _uses_doc(name: str, uses: list[str]) -> str:
    """``Name``, used at: Authorize.conf ``idTagInfo.status``, ... (wrapped at 100 columns)."""
    places = []
    for use in sorted(set(uses)):
        label, _, path = use.partition(" ")
        places.append(f"{label} ``{path}``")
    lines = textwrap.wrap(f"``{name}``, used at: {', '.join(places)}.", width=100, break_long_words=False)
    if len(lines) == 1:
        return lines[0]
    return "\n    ".join(lines) + "\n    "


def _render_tables() -> str:
    requests = "\n".join(f'    "{a}": {a}Request,' for a in ACTIONS)
    responses = "\n".join(f'    "{a}": {a}Response,' for a in ACTIONS)
    return (
        "#: The request struct of every action of :data:`ocpp_station.wire.actions.ACTIONS`.\n"
        f"REQUESTS: Final[Mapping[str, type[OcppStruct]]] = MappingProxyType({{\n{requests}\n}})\n\n"
        "#: The response struct of every action of :data:`ocpp_station.wire.actions.ACTIONS`.\n"
        f"RESPONSES: Final[Mapping[str, type[OcppStruct]]] = MappingProxyType({{\n{responses}\n}})\n\n"
        "#: The action of every request struct (the inverse of :data:`REQUESTS`).\n"
        "REQUEST_ACTIONS: Final[Mapping[type[OcppStruct], str]] = MappingProxyType(\n"
        "    {struct: action for action, struct in REQUESTS.items()}\n)"
    )


HEADER = f'''# GENERATED FILE, DO NOT EDIT. Written by scripts/gen_messages.py from the official OCPP 1.6 JSON
# schemas of the `ocpp` package; regenerate with:
#     {COMMAND}
"""Every OCPP 1.6 message (78 schemas: core and security whitepaper ed. 3) as a typed ``msgspec.Struct``.

One struct per schema, ``<Action>Request`` and ``<Action>Response``, looked up by action name only in
:data:`REQUESTS` / :data:`RESPONSES` (the keys of :data:`ocpp_station.wire.actions.ACTIONS`). Nested
objects and enumerations carry the OCPP 1.6 §7 type names (security: the whitepaper's), one class per
name wherever the schemas use it. Attributes are snake_case, each with its wire name spelled out.

* ``forbid_unknown_fields``: every OCPP 1.6 object has ``"additionalProperties": false``.
* An optional property is :data:`msgspec.UNSET` when absent, never ``None``: JSON ``null`` is no valid
  value of any OCPP 1.6 property, so a decoder must reject it (TypeConstraintViolation) rather than
  read it as "absent". UNSET fields are left out on encode.
* Date-times are :class:`~ocpp_station.wire.timestamps.Timestamp` (``DateTime``): POSIX seconds, what
  the engine computes with; on the wire RFC 3339 in UTC with milliseconds (OCPP 1.6 §3.15). Encode
  and decode with the hooks of :mod:`ocpp_station.wire.timestamps` (strict: a zone designator is
  required; lenient: a missing one is read as UTC), as :mod:`ocpp_station.wire.schemas` does.
* ``multipleOf`` (the 0.1 of charging limits) is checked in ``__post_init__`` the way fastjsonschema
  does it (decimal arithmetic on the number's shortest repr): msgspec's own ``multiple_of`` uses
  binary floating point and rejects 16.0 as a multiple of 0.1.

How the file is generated, and why msgspec: docs/messages.md.
"""

from collections.abc import Mapping
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import Annotated, Final

from msgspec import UNSET, Meta, Struct, UnsetType, field

from ocpp_station.wire.timestamps import Timestamp

#: fastjsonschema's regular expression for the JSON Schema format ``uri``.
URI_PATTERN: Final = {URI_PATTERN!r}

#: An OCPP date-time (OCPP 1.6 §3.15): POSIX seconds, RFC 3339 text on the wire.
DateTime = Timestamp

#: A string of the JSON Schema format ``uri``.
Uri = Annotated[str, Meta(pattern=URI_PATTERN)]


def _check_tenths(value: float, wire: str) -> None:
    """JSON Schema ``"multipleOf": 0.1`` in decimal arithmetic on the shortest repr, as fastjsonschema
    checks it (binary floating point, as in msgspec's ``multiple_of``, finds 16.0 no multiple of 0.1)."""
    text = repr(value)
    dot = text.find(".")
    if dot >= 0 and "e" not in text and len(text) - dot <= 2:
        return  # "16.0", "6.5": at most one decimal
    number = Decimal(text)
    if not number.is_finite() or number % Decimal("0.1") != 0:
        raise ValueError(f"`{{wire}}` must be a multiple of 0.1")


class OcppStruct(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, omit_defaults=True):
    """The base of every generated struct: immutable, keyword-only, unknown fields refused."""'''


def load(name: str) -> dict[str, Any]:
    """The official schema ``name``: only names of the fixed table are ever opened."""
    if name not in SCHEMA_NAMES:
        raise KeyError(name)
    path = resources.files("ocpp.v16") / "schemas" / f"{name}.json"
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def ruff_format(source: str) -> str:
    """``source`` formatted by the project's ruff settings (pyproject.toml)."""
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--stdin-filename", str(OUTPUT), "-"],
        input=source,
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    if result.returncode != 0:
        raise SchemaError(f"ruff format failed: {result.stderr}")
    return result.stdout


def generate() -> str:
    """The full text of ``messages.py`` for the installed schemas."""
    gen = Generator()
    for action in ACTIONS:
        gen.message(action, response=False)
        gen.message(action, response=True)
    return ruff_format(gen.render())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="exit 1 if the file on disk is stale")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    text = generate()
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is stale: run {COMMAND}", file=sys.stderr)
            return 1
        return 0
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
