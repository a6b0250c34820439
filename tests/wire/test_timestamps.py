"""OCPP date-times in the typed messages (``ocpp_station.wire.timestamps``, OCPP 1.6 §3.15)."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ocpp_station.wire import schemas
from ocpp_station.wire.errors import ErrorCode, OcppError
from ocpp_station.wire.frames import decode_frame, encode_call_body, encode_result_body
from ocpp_station.wire.messages import HeartbeatResponse, MeterValue, SampledValue
from ocpp_station.wire.timestamps import Timestamp, enc_hook, format_datetime, parse_datetime

T = datetime(2026, 11, 25, 17, 37, 18, 123000, tzinfo=UTC).timestamp()


def test_a_timestamp_goes_out_as_the_text_the_station_always_sent() -> None:
    assert schemas.encode(HeartbeatResponse(current_time=Timestamp(T))) == (
        b'{"currentTime":"2026-11-25T17:37:18.123Z"}'
    )
    assert schemas.to_builtins(HeartbeatResponse(current_time=Timestamp(T))) == {
        "currentTime": "2026-11-25T17:37:18.123Z"
    }


def test_a_timestamp_is_posix_seconds() -> None:
    parsed = schemas.parse_response("Heartbeat", {"currentTime": "2026-11-25T18:37:18.123+01:00"})
    assert isinstance(parsed, HeartbeatResponse)
    assert isinstance(parsed.current_time, Timestamp)
    assert parsed.current_time == pytest.approx(T)
    assert parsed.current_time + 60 == pytest.approx(T + 60)  # arithmetic gives a plain float
    assert repr(Timestamp(T)) == "Timestamp('2026-11-25T17:37:18.123Z')"


@pytest.mark.parametrize(
    ("text", "strict", "lenient"),
    [
        ("2026-11-25T17:37:18Z", None, None),
        ("2026-11-25T17:37:18.5+02:00", None, None),
        ("2026-11-25 17:37:18z", None, None),
        ("2026-11-25T17:37:18", ErrorCode.PropertyConstraintViolation, None),  # no zone: UTC when lenient
        ("yesterday", ErrorCode.PropertyConstraintViolation, ErrorCode.PropertyConstraintViolation),
        (
            "2026-13-45T17:37:18Z",
            ErrorCode.PropertyConstraintViolation,
            ErrorCode.PropertyConstraintViolation,
        ),
        (12, ErrorCode.TypeConstraintViolation, ErrorCode.TypeConstraintViolation),
        (None, ErrorCode.TypeConstraintViolation, ErrorCode.TypeConstraintViolation),
    ],
)
def test_date_times_in_are_checked_as_the_schema_checks_them(
    text: object, strict: ErrorCode | None, lenient: ErrorCode | None
) -> None:
    for mode, expected in ((True, strict), (False, lenient)):
        try:
            schemas.parse_response("Heartbeat", {"currentTime": text}, strict=mode)
            code = None
        except OcppError as exc:
            code = exc.code
            assert "payload.currentTime" in exc.description
        assert code == expected, (text, mode)
        reference = None
        try:
            schemas.validate_with_schema("Heartbeat", {"currentTime": text}, response=True, strict=mode)
        except OcppError as exc:
            reference = exc.code
        if text != "2026-13-45T17:37:18Z":  # the schema's date-time pattern does not know calendars
            assert (code is None) == (reference is None), (text, mode)  # as the official schema says


def test_a_zoneless_date_time_is_utc_when_lenient() -> None:
    parsed = schemas.parse_response("Heartbeat", {"currentTime": "2026-11-25T17:37:18.123"}, strict=False)
    assert isinstance(parsed, HeartbeatResponse)
    assert parsed.current_time == pytest.approx(T)


def test_nothing_but_a_timestamp_is_encoded_by_the_hook() -> None:
    with pytest.raises(NotImplementedError):
        enc_hook(object())
    with pytest.raises(NotImplementedError):
        enc_hook(1.5)  # a plain float is no date-time


@given(st.floats(min_value=0, max_value=4_102_444_800, allow_nan=False))
def test_text_and_seconds_round_trip_to_the_millisecond(epoch_s: float) -> None:
    text = format_datetime(epoch_s)
    assert abs(parse_datetime(text) - epoch_s) < 1e-3
    assert format_datetime(parse_datetime(text)) == text
    decoded = msgspec.json.decode(schemas.encode(HeartbeatResponse(current_time=Timestamp(epoch_s))))
    assert decoded == {"currentTime": text}


def test_a_struct_we_send_is_checked_against_its_schema() -> None:
    value = MeterValue(timestamp=Timestamp(T), sampled_value=[SampledValue(value="1")])
    good = schemas.encode_checked(
        schemas.parse_request("MeterValues", {"connectorId": 1, "meterValue": [schemas.to_builtins(value)]}),
        "MeterValues",
    )
    assert orjson.loads(good)["meterValue"][0]["timestamp"] == "2026-11-25T17:37:18.123Z"
    too_long = schemas.parse_request("Authorize", {"idTag": "T"})
    bad = msgspec.structs.replace(too_long, id_tag="X" * 21)  # structs are not checked when built
    with pytest.raises(OcppError) as caught:
        schemas.encode_checked(bad, "Authorize")
    assert caught.value.code is ErrorCode.TypeConstraintViolation
    assert "Authorize: payload.idTag" in caught.value.description


def test_frames_around_an_encoded_body() -> None:
    call = decode_frame(encode_call_body('m"1', "Heartbeat", b"{}"))
    assert (call.message_id, getattr(call, "action", None), call.payload) == ('m"1', "Heartbeat", {})
    result = decode_frame(encode_result_body("m2", b'{"status":"Accepted"}'))
    assert (result.message_id, result.payload) == ("m2", {"status": "Accepted"})


def test_a_date_time_no_text_can_say_is_refused_not_raised() -> None:
    for bad in (float("inf"), float("nan"), 1e300):
        with pytest.raises(OcppError) as caught:
            schemas.encode_checked(HeartbeatResponse(current_time=Timestamp(bad)), "HeartbeatResponse")
        assert caught.value.code is ErrorCode.FormationViolation
        assert "HeartbeatResponse: cannot be encoded" in caught.value.description
