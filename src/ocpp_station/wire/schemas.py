"""Validation of OCPP 1.6 payloads against the official JSON schemas (OCPP-J 1.6 §4.2, §4.2.3).

The schemas are the Open Charge Alliance's, as shipped in the PyPI package ``ocpp``
(``ocpp/v16/schemas``). They are checked through the typed structs generated from them
(:mod:`ocpp_station.wire.messages`, ``scripts/gen_messages.py``): ``msgspec.convert`` builds the
struct of the action from the payload and refuses anything the schema refuses, about 2 us for a
9-value MeterValues.req, 10x faster than the compiled schema (``fastjsonschema``, about 20 us) it
replaced (``bench/bench_validation.py``, docs/messages.md). The compiled schemas stay, as the
reference the structs are tested against (:func:`validate_with_schema`, ``tests/wire/test_messages.py``).

Strict mode is the default. Lenient mode (``strict=False``) accepts date-times without a zone
designator, as some central systems send them, and reads them as UTC; everything else is checked the
same.

A failure is raised as :class:`OcppError` with the CALLERROR code that fits it (OCPP-J 1.6 Table 7).
msgspec's messages are matched by a fixed table (:data:`MSGSPEC_RULES`) to the JSON Schema rule they
stand for, and the rule gives the code (``details["rule"]``):

====================  =================================  ====================================
schema rule           msgspec message                    CALLERROR code
====================  =================================  ====================================
required              Object missing required field `x`  ProtocolError ("payload incomplete")
type                  Expected `int`, got `str`          TypeConstraintViolation
maxLength             Expected `str` of length <= 20     TypeConstraintViolation
enum                  Invalid enum value 'x'             PropertyConstraintViolation
format                (date-time, uri)                   PropertyConstraintViolation
multipleOf            `limit` must be a multiple of 0.1  PropertyConstraintViolation
minItems              Expected `array` of length >= 1    OccurenceConstraintViolation
additionalProperties  Object contains unknown field `x`  FormationViolation
====================  =================================  ====================================
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import cache
from importlib import resources
from typing import Any

import msgspec
import orjson

from ocpp_station.wire.actions import SCHEMA_NAMES, is_known, printable
from ocpp_station.wire.errors import ErrorCode, OcppError
from ocpp_station.wire.messages import REQUESTS, RESPONSES, OcppStruct

Validator = Callable[[Any], Any]

_RULE_TO_CODE: dict[str, ErrorCode] = {
    "required": ErrorCode.ProtocolError,
    "type": ErrorCode.TypeConstraintViolation,
    "maxLength": ErrorCode.TypeConstraintViolation,
    "minLength": ErrorCode.TypeConstraintViolation,
    "enum": ErrorCode.PropertyConstraintViolation,
    "format": ErrorCode.PropertyConstraintViolation,
    "minimum": ErrorCode.PropertyConstraintViolation,
    "maximum": ErrorCode.PropertyConstraintViolation,
    "exclusiveMinimum": ErrorCode.PropertyConstraintViolation,
    "exclusiveMaximum": ErrorCode.PropertyConstraintViolation,
    "multipleOf": ErrorCode.PropertyConstraintViolation,
    "pattern": ErrorCode.PropertyConstraintViolation,
    "minItems": ErrorCode.OccurenceConstraintViolation,
    "maxItems": ErrorCode.OccurenceConstraintViolation,
    "uniqueItems": ErrorCode.OccurenceConstraintViolation,
    "additionalProperties": ErrorCode.FormationViolation,
}

#: msgspec.ValidationError message (without its " - at `$...`" suffix) -> the JSON Schema rule it
#: enforces. First match wins; the order matters only where a later pattern is more general.
MSGSPEC_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), rule)
    for pattern, rule in (
        (r"^Object missing required field `", "required"),
        (r"^Object contains unknown field `", "additionalProperties"),
        (r"^Expected `str` of length <= \d+$", "maxLength"),
        (r"^Expected `str` of length >= \d+$", "minLength"),
        (r"^Expected `array` of length >= \d+$", "minItems"),
        (r"^Expected `array` of length <= \d+$", "maxItems"),
        (r"^Expected `str` matching regex ", "format"),  # format "uri"
        (r"^Expected `datetime` with a timezone component$", "format"),
        (r"^Invalid RFC3339 encoded datetime$", "format"),
        (r"^Invalid enum value ", "enum"),
        (r"^`\w+` must be a multiple of ", "multipleOf"),
        (r"^Expected `\w+`, got `\w+`$", "type"),
    )
)

_AT = re.compile(r" - at `(\$[^`]*)`\Z")
_NO_ZONE_MESSAGE = "Expected `datetime` with a timezone component"
#: How much of msgspec's message goes into a CALLERROR description (an enum error quotes the value).
_MESSAGE_LIMIT = 120

# RFC 3339 date-time, as OCPP 1.6 §3.15 asks ("SHALL be formatted as ... UTC, with Z or offset").
_STRICT_DATETIME = re.compile(r"^\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d(?:\.\d+)?(?:[Zz]|[+-]\d\d:?\d\d)$")
# Lenient: the zone designator may be missing (read as UTC by ocpp_station.core.clock.parse_datetime).
_LENIENT_DATETIME = re.compile(r"^\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d(?:\.\d+)?(?:[Zz]|[+-]\d\d:?\d\d)?$")
_ZONELESS_DATETIME = re.compile(r"^\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d(?:\.\d+)?$")


def shipped_schema_names() -> list[str]:
    """Every schema file name (without .json) the ``ocpp`` package ships for OCPP 1.6 (for the test
    that keeps :data:`ocpp_station.wire.actions.ACTIONS` in step with it)."""
    folder = resources.files("ocpp.v16") / "schemas"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".json"))


def schema_names() -> list[str]:
    """Every official OCPP 1.6 schema name we know (without .json): requests and responses."""
    return sorted(SCHEMA_NAMES)


@cache
def load_schema(name: str) -> dict[str, Any]:
    """The official schema ``name`` (e.g. ``"MeterValues"`` or ``"MeterValuesResponse"``).

    ``name`` must be one of the fixed table's (KeyError otherwise): the file is only ever opened for a
    name of :data:`~ocpp_station.wire.actions.SCHEMA_NAMES`, never for text from a frame.
    """
    if name not in SCHEMA_NAMES:
        raise KeyError(name)
    path = resources.files("ocpp.v16") / "schemas" / f"{name}.json"
    data: dict[str, Any] = orjson.loads(path.read_bytes())
    return data


def has_schema(action: str) -> bool:
    """Whether OCPP 1.6 defines ``action`` (a table lookup: no file is touched)."""
    return is_known(action)


# -- msgspec: the structs generated from the schemas ------------------------------------------------
def parse_request(
    action: str, payload: Any, *, strict: bool = True, message_id: str | None = None
) -> OcppStruct:
    """The typed request (:data:`~ocpp_station.wire.messages.REQUESTS`) of a CALL payload of ``action``;
    :class:`OcppError` with the CALLERROR code (module docstring) if the payload breaks the schema."""
    return _parse(action, REQUESTS, "", payload, strict, message_id)


def parse_response(
    action: str, payload: Any, *, strict: bool = True, message_id: str | None = None
) -> OcppStruct:
    """The typed response (:data:`~ocpp_station.wire.messages.RESPONSES`) of a CALLRESULT payload
    answering ``action``; :class:`OcppError` otherwise."""
    return _parse(action, RESPONSES, "Response", payload, strict, message_id)


def validate_request(
    action: str, payload: dict[str, Any], *, strict: bool = True, message_id: str | None = None
) -> None:
    """Check a CALL payload of ``action``; raise :class:`OcppError` naming the field otherwise."""
    _parse(action, REQUESTS, "", payload, strict, message_id)


def validate_response(
    action: str, payload: dict[str, Any], *, strict: bool = True, message_id: str | None = None
) -> None:
    """Check a CALLRESULT payload answering ``action``; raise :class:`OcppError` otherwise."""
    _parse(action, RESPONSES, "Response", payload, strict, message_id)


def _parse(
    action: str,
    table: Mapping[str, type[OcppStruct]],
    suffix: str,
    payload: Any,
    strict: bool,
    message_id: str | None,
) -> OcppStruct:
    if not is_known(action):
        raise OcppError(
            ErrorCode.NotImplemented, f"unknown action {printable(action)}", message_id=message_id
        )
    struct = table[action]
    try:
        return msgspec.convert(payload, struct)
    except msgspec.ValidationError as exc:
        error = exc
    if not strict and str(error).startswith(_NO_ZONE_MESSAGE):
        try:
            return msgspec.convert(with_utc_zones(payload, struct), struct)
        except msgspec.ValidationError as exc:
            error = exc
    raise msgspec_error(action + suffix, error, message_id) from None


def msgspec_error(name: str, exc: msgspec.ValidationError, message_id: str | None = None) -> OcppError:
    """The :class:`OcppError` for msgspec's ``exc`` about schema ``name`` (table :data:`MSGSPEC_RULES`;
    a message that no pattern matches is a FormationViolation, as an unknown schema rule was)."""
    text = str(exc)
    at = _AT.search(text)
    message = text[: at.start()] if at else text
    where = "payload" + (at.group(1)[1:] if at else "")
    rule = next((rule for pattern, rule in MSGSPEC_RULES if pattern.search(message)), None)
    code = _RULE_TO_CODE[rule] if rule else ErrorCode.FormationViolation
    if len(message) > _MESSAGE_LIMIT:
        message = message[:_MESSAGE_LIMIT] + "..."
    details = {"rule": rule} if rule else {}
    return OcppError(code, f"{name}: {where}: {message}", message_id=message_id, details=details)


def with_utc_zones(payload: Any, struct: type[OcppStruct]) -> Any:
    """Lenient input: ``payload`` with ``Z`` after every date-time of ``struct`` that has no zone
    designator (OCPP 1.6 §3.15 asks for UTC; a missing zone is read as UTC). A copy where something
    changes: the payload itself is never modified."""
    return _add_zones(payload, _datetime_tree(struct))


# A tree of where date-times sit in a struct: wire name -> subtree for objects, a 1-tuple (subtree,)
# for the items of an array, True for a date-time.
_Tree = dict[str, Any]


@cache
def _datetime_tree(struct: type[OcppStruct]) -> _Tree:
    info = msgspec.inspect.type_info(struct)
    assert isinstance(info, msgspec.inspect.StructType)
    return _struct_tree(info)


def _struct_tree(info: msgspec.inspect.StructType) -> _Tree:
    tree: _Tree = {}
    for f in info.fields:
        sub = _type_tree(f.type)
        if sub is not None:
            tree[f.encode_name] = sub
    return tree


def _type_tree(t: msgspec.inspect.Type) -> Any:
    if isinstance(t, msgspec.inspect.DateTimeType):
        return True
    if isinstance(t, msgspec.inspect.UnionType):
        subs = [s for s in map(_type_tree, t.types) if s is not None]
        return subs[0] if subs else None
    if isinstance(t, msgspec.inspect.ListType):
        item = _type_tree(t.item_type)
        return (item,) if item is not None else None
    if isinstance(t, msgspec.inspect.StructType):
        return _struct_tree(t) or None
    return None


def _add_zones(value: Any, tree: Any) -> Any:
    if tree is True:
        if isinstance(value, str) and _ZONELESS_DATETIME.match(value):
            return value + "Z"
        return value
    if isinstance(tree, tuple):
        if not isinstance(value, list):
            return value
        items = [_add_zones(item, tree[0]) for item in value]
        return items if any(a is not b for a, b in zip(items, value, strict=True)) else value
    if not isinstance(value, dict):
        return value
    changed = {k: _add_zones(value[k], sub) for k, sub in tree.items() if k in value}
    if all(changed[k] is value[k] for k in changed):
        return value
    return {**value, **changed}


# -- the reference: the compiled official schemas (fastjsonschema) ------------------------------------
@cache
def _compiled(name: str, strict: bool) -> Validator:
    import fastjsonschema  # a dev dependency: the reference in tests and the bench baseline

    schema = load_schema(name)
    formats = {"date-time": (_STRICT_DATETIME if strict else _LENIENT_DATETIME).pattern}
    validator: Validator = fastjsonschema.compile(schema, formats=formats, use_default=False)
    return validator


def validate_with_schema(
    action: str, payload: Any, *, response: bool = False, strict: bool = True, message_id: str | None = None
) -> None:
    """The same check as :func:`validate_request` / :func:`validate_response`, by the compiled official
    schema (fastjsonschema, a dev dependency): the reference the generated structs are tested against
    (``tests/wire/test_messages.py``) and the bench baseline. Not used on the wire."""
    import fastjsonschema

    if not is_known(action):
        raise OcppError(
            ErrorCode.NotImplemented, f"unknown action {printable(action)}", message_id=message_id
        )
    name = action + ("Response" if response else "")
    validator = _compiled(name, strict)
    try:
        validator(payload)
    except fastjsonschema.JsonSchemaValueException as exc:
        code = _RULE_TO_CODE.get(exc.rule or "", ErrorCode.FormationViolation)
        where = (exc.name or "data").replace("data", "payload", 1)
        raise OcppError(
            code, f"{name}: {where}: {exc.message}", message_id=message_id, details={"rule": exc.rule}
        ) from None
