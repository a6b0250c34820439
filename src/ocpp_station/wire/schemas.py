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
from ocpp_station.wire.timestamps import (
    LENIENT_DATETIME,
    STRICT_DATETIME,
    Timestamp,
    enc_hook,
    lenient_dec_hook,
    strict_dec_hook,
)

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
#: How much of msgspec's message goes into a CALLERROR description (an enum error quotes the value).
_MESSAGE_LIMIT = 120


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
    try:
        return msgspec.convert(
            payload, table[action], dec_hook=strict_dec_hook if strict else lenient_dec_hook
        )
    except msgspec.ValidationError as exc:
        raise msgspec_error(action + suffix, exc, message_id) from None


#: Encodes a typed message: date-times as OCPP text (:mod:`ocpp_station.wire.timestamps`).
_ENCODER = msgspec.json.Encoder(enc_hook=enc_hook)
#: A strict decoder per struct, for the check of what we send.
_DECODERS: dict[type[OcppStruct], msgspec.json.Decoder[Any]] = {}


def encode(message: OcppStruct) -> bytes:
    """The JSON text of a typed message (not checked: :func:`encode_checked` is what goes out)."""
    return _ENCODER.encode(message)


def encode_checked(message: OcppStruct, name: str) -> bytes:
    """The JSON text of a message we send, checked against its schema first (strict on output: a
    struct built with a value its schema refuses, a too long idTag say, is a bug of ours and raises
    :class:`OcppError` naming schema ``name`` and the field; so does a date-time no text can say)."""
    try:
        data = _ENCODER.encode(message)
    except (TypeError, ValueError, OverflowError) as exc:
        raise OcppError(ErrorCode.FormationViolation, f"{name}: cannot be encoded: {exc}") from None
    decoder = _DECODERS.get(type(message))
    if decoder is None:
        decoder = _DECODERS[type(message)] = msgspec.json.Decoder(type(message), dec_hook=_written_by_us)
    try:
        decoder.decode(data)
    except msgspec.ValidationError as exc:
        raise msgspec_error(name, exc) from None
    return data


def _written_by_us(kind: type, value: Any) -> Any:
    """The check of what we send reads back text our own ``enc_hook`` wrote: a date-time there is
    valid by construction, so it is not parsed again (everything else is checked as on input)."""
    if kind is Timestamp and type(value) is str:
        return _EPOCH
    return strict_dec_hook(kind, value)


_EPOCH = Timestamp(0.0)


def to_builtins(message: OcppStruct) -> dict[str, Any]:
    """The payload of a typed message as JSON-ready builtins (wire names; date-times as text): what a
    record of the store or an API answer holds."""
    value: dict[str, Any] = msgspec.to_builtins(message, enc_hook=enc_hook)
    return value


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


# -- the reference: the compiled official schemas (fastjsonschema) ------------------------------------
@cache
def _compiled(name: str, strict: bool) -> Validator:
    import fastjsonschema  # a dev dependency: the reference in tests and the bench baseline

    schema = load_schema(name)
    formats = {"date-time": (STRICT_DATETIME if strict else LENIENT_DATETIME).pattern}
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
