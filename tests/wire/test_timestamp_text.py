"""format_datetime's fast path (issue 9: a day's text cached, the last instant kept) gives exactly the
text datetime gives, at every instant, the same instant twice in a row included."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from ocpp_station.wire.timestamps import format_datetime


def _reference(epoch_s: float) -> str:
    """The text through datetime: the fraction rounded to microseconds, then cut to milliseconds."""
    fraction, whole = math.modf(epoch_s)
    micros = round(fraction * 1e6)
    second = int(whole)
    if micros >= 1_000_000:
        second, micros = second + 1, micros - 1_000_000
    elif micros < 0:
        second, micros = second - 1, micros + 1_000_000
    return datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{micros // 1000:03d}Z"


@given(
    st.one_of(
        st.floats(min_value=-62_000_000_000, max_value=253_000_000_000),
        st.floats(min_value=1.7e9, max_value=1.8e9),
        st.integers(min_value=-100, max_value=100).map(lambda day: day * 86400.0 - 1e-4),
    )
)
def test_the_text_is_datetime_s(epoch_s: float) -> None:
    expected = _reference(epoch_s)
    assert format_datetime(epoch_s) == expected
    assert format_datetime(epoch_s) == expected  # the kept last instant


def test_day_boundaries_and_before_the_epoch() -> None:
    for epoch_s in (0.0, -0.0, -1.0, -0.0005, 86399.9996, 86400.0, 1_764_460_799.9999, -86400.5):
        assert format_datetime(epoch_s) == _reference(epoch_s), epoch_s
    assert format_datetime(1_764_460_800.0) == "2025-11-30T00:00:00.000Z"
