"""OCPP date-times (OCPP 1.6 §3.15 Time Zones: UTC, RFC 3339) as POSIX seconds. Pure functions."""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec

from ocpp_station.wire.timestamps import Timestamp, format_datetime, parse_datetime

__all__ = ["format_datetime", "next_aligned", "parse_datetime", "shift_message"]

_S = TypeVar("_S", bound=msgspec.Struct)


def next_aligned(epoch_s: float, interval_s: int) -> float:
    """The next instant strictly after ``epoch_s`` on the grid of ``interval_s`` seconds that starts
    at 00:00:00 UTC (OCPP 1.6 §9.1.5 ClockAlignedDataInterval)."""
    day_start = (epoch_s // 86400) * 86400
    since = epoch_s - day_start
    steps = int(since // interval_s) + 1
    candidate = day_start + steps * interval_s
    next_midnight = day_start + 86400
    return min(candidate, next_midnight)


def shift_message(message: _S, jump_s: float) -> _S:
    """``message`` (a typed message, or a part of one) with every ``timestamp`` moved by ``jump_s``
    seconds: the date-times the charge point stamped itself (a clock correction, §4.2), not those
    the CSMS gave (an expiryDate)."""
    changes: dict[str, Any] = {}
    for field in msgspec.structs.fields(message):
        value = getattr(message, field.name)
        if field.encode_name == "timestamp" and isinstance(value, Timestamp):
            changes[field.name] = Timestamp(value + jump_s)
        elif isinstance(value, msgspec.Struct):
            changes[field.name] = shift_message(value, jump_s)
        elif isinstance(value, list) and value and isinstance(value[0], msgspec.Struct):
            changes[field.name] = [shift_message(item, jump_s) for item in value]
    return msgspec.structs.replace(message, **changes) if changes else message
