"""OCPP-J 1.6 CALLERROR codes (OCPP-J 1.6 §4.2.3, Table 7) and the error we raise for them.

The OCPP-J 1.6 errata sheet (§5.1, §5.2, "known issues that will not be fixed") keeps the 1.6 spellings
``FormationViolation`` and ``OccurenceConstraintViolation`` on the wire, so those are what we send. Real
central systems also send the later spellings ``FormatViolation`` / ``OccurrenceConstraintViolation``;
:func:`parse_error_code` accepts both.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    """The CALLERROR codes of OCPP-J 1.6, spelled as 1.6 sends them."""

    NotImplemented = "NotImplemented"
    NotSupported = "NotSupported"
    InternalError = "InternalError"
    ProtocolError = "ProtocolError"
    SecurityError = "SecurityError"
    FormationViolation = "FormationViolation"
    PropertyConstraintViolation = "PropertyConstraintViolation"
    OccurenceConstraintViolation = "OccurenceConstraintViolation"
    TypeConstraintViolation = "TypeConstraintViolation"
    GenericError = "GenericError"


#: Spellings used by later OCPP versions and many central systems, mapped to the 1.6 code.
ERROR_CODE_ALIASES: dict[str, ErrorCode] = {
    "FormatViolation": ErrorCode.FormationViolation,
    "OccurrenceConstraintViolation": ErrorCode.OccurenceConstraintViolation,
}


def parse_error_code(text: str) -> ErrorCode | None:
    """The :class:`ErrorCode` for a received code (either spelling), or None if it is not one."""
    try:
        return ErrorCode(text)
    except ValueError:
        return ERROR_CODE_ALIASES.get(text)


class OcppError(Exception):
    """Something broke OCPP: carries the CALLERROR code that answers it.

    ``message_id`` is set when the offending frame's id could be read, so a CALLERROR can be sent;
    without it the frame cannot be answered (OCPP-J §4.2.3) and is only logged.
    """

    def __init__(
        self,
        code: ErrorCode,
        description: str,
        *,
        message_id: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{code}: {description}")
        self.code = code
        self.description = description
        self.message_id = message_id
        self.details = details or {}
