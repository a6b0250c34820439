"""OCPP date-times (OCPP 1.6 §3.15 Time Zones: UTC, RFC 3339) on the wire and in the typed messages.

The engine computes with POSIX seconds (floats); a date-time field of a typed message
(:mod:`ocpp_station.wire.messages`) holds a :class:`Timestamp`, a float that says it is one. It goes on
the wire as ``2026-11-25T17:37:18.123Z`` (UTC, millisecond precision: the text the station has always
sent), through :func:`enc_hook`; it is read back through :func:`strict_dec_hook` (an RFC 3339 text
with a zone designator, as §3.15 asks) or :func:`lenient_dec_hook` (a missing zone is read as UTC).

Their error messages are the ones msgspec gives for its own ``datetime`` type, so the CALLERROR
mapping of :mod:`ocpp_station.wire.schemas` treats both alike (a bad text: ``format``,
PropertyConstraintViolation; another JSON type: ``type``, TypeConstraintViolation).
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any


class Timestamp(float):
    """An OCPP date-time as POSIX seconds (UTC). Arithmetic on it gives plain floats."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"Timestamp({format_datetime(self)!r})"


def format_datetime(epoch_s: float) -> str:
    """``2026-11-25T17:37:18.123Z``: UTC with millisecond precision, as §3.15 recommends."""
    global _last
    last = _last
    if last[0] == epoch_s:
        # The same instant again (a message's stamp in its stored record, then on the wire): once.
        return last[1]
    text = _format(epoch_s)
    _last = (epoch_s, text)
    return text


def _format(epoch_s: float) -> str:
    # As datetime.fromtimestamp: the fraction rounded to microseconds, then cut to milliseconds.
    fraction, whole = math.modf(epoch_s)
    micros = round(fraction * 1e6)
    second = int(whole)
    if micros >= 1_000_000:
        second, micros = second + 1, micros - 1_000_000
    elif micros < 0:
        second, micros = second - 1, micros + 1_000_000
    return f"{_seconds_text(second)}.{micros // 1000:03d}Z"


#: The last instant formatted and its text (one entry: a stamp is formatted twice in a row).
_last: tuple[float, str] = (math.nan, "")


def _seconds_text(second: int) -> str:
    """``2026-11-25T17:37:18`` of a whole second: the day's text (cached) and the time of day."""
    day, rest = divmod(second, 86400)
    hour, rest = divmod(rest, 3600)
    minute, sec = divmod(rest, 60)
    return f"{_day_text(day)}T{hour:02d}:{minute:02d}:{sec:02d}"


@lru_cache(maxsize=64)
def _day_text(day: int) -> str:
    """``2026-11-25`` of a day since the epoch (cached: every stamp of a day shares it)."""
    return datetime.fromtimestamp(day * 86400, UTC).strftime("%Y-%m-%d")


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


#: RFC 3339 date-time, as OCPP 1.6 §3.15 asks ("SHALL be formatted as ... UTC, with Z or offset").
STRICT_DATETIME = re.compile(r"^\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d(?:\.\d+)?(?:[Zz]|[+-]\d\d:?\d\d)$")
#: Lenient: the zone designator may be missing (read as UTC).
LENIENT_DATETIME = re.compile(r"^\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d(?:\.\d+)?(?:[Zz]|[+-]\d\d:?\d\d)?$")

#: msgspec's names of the JSON types, for a "got" in an error message.
_JSON_TYPES: dict[type, str] = {
    bool: "bool",
    int: "int",
    float: "float",
    str: "str",
    list: "array",
    dict: "object",
    type(None): "null",
}


def enc_hook(value: Any) -> Any:
    """msgspec ``enc_hook``: a :class:`Timestamp` as OCPP text; nothing else is ours to encode."""
    if type(value) is Timestamp:
        return format_datetime(value)
    raise NotImplementedError(f"cannot encode {type(value).__name__}")


def _decoder(pattern: re.Pattern[str]) -> Any:
    def dec_hook(kind: type, value: Any) -> Any:
        if kind is not Timestamp:
            raise NotImplementedError(f"cannot decode {kind!r}")
        if type(value) is Timestamp:
            return value
        if not isinstance(value, str):
            raise TypeError(f"Expected `datetime`, got `{_JSON_TYPES.get(type(value), 'object')}`")
        if pattern.match(value) is None:
            if STRICT_DATETIME is pattern and LENIENT_DATETIME.match(value) is not None:
                raise ValueError("Expected `datetime` with a timezone component")
            raise ValueError("Invalid RFC3339 encoded datetime")
        try:
            return Timestamp(parse_datetime(value))
        except (ValueError, OverflowError, OSError):
            raise ValueError("Invalid RFC3339 encoded datetime") from None

    return dec_hook


#: msgspec ``dec_hook`` of strict input: RFC 3339 with a zone designator.
strict_dec_hook = _decoder(STRICT_DATETIME)
#: msgspec ``dec_hook`` of lenient input: the zone designator may be missing (read as UTC).
lenient_dec_hook = _decoder(LENIENT_DATETIME)
