"""Validation of OCPP 1.6 payloads against the official JSON schemas (OCPP-J 1.6 §4.2, §4.2.3).

The schemas are the Open Charge Alliance's, as shipped in the PyPI package ``ocpp``
(``ocpp/v16/schemas``); we compile each once with ``fastjsonschema`` (about 50 us for a 9-value
MeterValues.req, 20x faster than ``jsonschema``) and keep the compiled functions for the process, so a
fleet of thousands of simulated stations shares them.

Strict mode is the default. Lenient mode (``strict=False``) accepts date-times without a zone
designator, as some central systems send them; everything else is checked the same.

A failure is raised as :class:`OcppError` with the CALLERROR code that fits it (OCPP-J 1.6 Table 7):

=====================  =================================
schema rule            CALLERROR code
=====================  =================================
required               ProtocolError ("payload incomplete")
type, maxLength        TypeConstraintViolation
enum, format, minimum  PropertyConstraintViolation
minItems, maxItems     OccurenceConstraintViolation
additionalProperties   FormationViolation
=====================  =================================
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any

import fastjsonschema
import orjson

from ocpp_station.wire.actions import SCHEMA_NAMES, is_known, printable
from ocpp_station.wire.errors import ErrorCode, OcppError

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

# RFC 3339 date-time, as OCPP 1.6 §3.15 asks ("SHALL be formatted as ... UTC, with Z or offset").
_STRICT_DATETIME = re.compile(r"^\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d(?:\.\d+)?(?:[Zz]|[+-]\d\d:?\d\d)$")
# Lenient: the zone designator may be missing (read as UTC by ocpp_station.core.clock.parse_datetime).
_LENIENT_DATETIME = re.compile(r"^\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d(?:\.\d+)?(?:[Zz]|[+-]\d\d:?\d\d)?$")


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


@cache
def _compiled(name: str, strict: bool) -> Validator:
    schema = load_schema(name)
    formats = {"date-time": (_STRICT_DATETIME if strict else _LENIENT_DATETIME).pattern}
    validator: Validator = fastjsonschema.compile(schema, formats=formats, use_default=False)
    return validator


def has_schema(action: str) -> bool:
    """Whether OCPP 1.6 defines ``action`` (a table lookup: no file is touched)."""
    return is_known(action)


def _check(action: str, suffix: str, payload: dict[str, Any], strict: bool, message_id: str | None) -> None:
    if not is_known(action):
        raise OcppError(
            ErrorCode.NotImplemented, f"unknown action {printable(action)}", message_id=message_id
        )
    name = action + suffix
    validator = _compiled(name, strict)
    try:
        validator(payload)
    except fastjsonschema.JsonSchemaValueException as exc:
        code = _RULE_TO_CODE.get(exc.rule or "", ErrorCode.FormationViolation)
        where = (exc.name or "data").replace("data", "payload", 1)
        raise OcppError(
            code, f"{name}: {where}: {exc.message}", message_id=message_id, details={"rule": exc.rule}
        ) from None


def validate_request(
    action: str, payload: dict[str, Any], *, strict: bool = True, message_id: str | None = None
) -> None:
    """Check a CALL payload of ``action``; raise :class:`OcppError` naming the field otherwise."""
    _check(action, "", payload, strict, message_id)


def validate_response(
    action: str, payload: dict[str, Any], *, strict: bool = True, message_id: str | None = None
) -> None:
    """Check a CALLRESULT payload answering ``action``; raise :class:`OcppError` otherwise."""
    _check(action, "Response", payload, strict, message_id)
