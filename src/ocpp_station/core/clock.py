"""OCPP date-times (OCPP 1.6 §3.15 Time Zones: UTC, RFC 3339) as POSIX seconds. Pure functions."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any


def format_datetime(epoch_s: float) -> str:
    """``2026-11-25T17:37:18.123Z``: UTC with millisecond precision, as §3.15 recommends."""
    # As datetime.fromtimestamp: the fraction rounded to microseconds, then cut to milliseconds.
    fraction, whole = math.modf(epoch_s)
    micros = round(fraction * 1e6)
    second = int(whole)
    if micros >= 1_000_000:
        second, micros = second + 1, micros - 1_000_000
    elif micros < 0:
        second, micros = second - 1, micros + 1_000_000
    return f"{_seconds_text(second)}.{micros // 1000:03d}Z"


@lru_cache(maxsize=256)
def _seconds_text(second: int) -> str:
    """``2026-11-25T17:37:18`` of a whole second (cached: many stamps share their second)."""
    return datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def parse_datetime(text: str) -> float:
    """POSIX seconds of an RFC 3339 date-time; a missing zone designator is read as UTC.

    Raises ValueError for text that is not a date-time.
    """
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def next_aligned(epoch_s: float, interval_s: int) -> float:
    """The next instant strictly after ``epoch_s`` on the grid of ``interval_s`` seconds that starts
    at 00:00:00 UTC (OCPP 1.6 §9.1.5 ClockAlignedDataInterval)."""
    day_start = (epoch_s // 86400) * 86400
    since = epoch_s - day_start
    steps = int(since // interval_s) + 1
    candidate = day_start + steps * interval_s
    next_midnight = day_start + 86400
    return min(candidate, next_midnight)


def shift_timestamps(payload: Any, jump_s: float) -> None:
    """Move every ``timestamp`` in a payload (nested too) by ``jump_s`` seconds, in place."""
    if isinstance(payload, dict):
        for key, value in payload.items():
            if key == "timestamp" and isinstance(value, str):
                try:
                    payload[key] = format_datetime(parse_datetime(value) + jump_s)
                except ValueError:
                    pass
            else:
                shift_timestamps(value, jump_s)
    elif isinstance(payload, list):
        for item in payload:
            shift_timestamps(item, jump_s)
