"""OCPP-J framing (OCPP-J 1.6 §4): round trips and the parse-or-documented-error property."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ocpp_station.wire.errors import ErrorCode, OcppError, parse_error_code
from ocpp_station.wire.frames import Call, CallError, CallResult, decode_frame, encode_frame

ids = st.text(min_size=1, max_size=36)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
payloads = st.dictionaries(st.text(max_size=12), json_values, max_size=5)


@given(ids, st.text(min_size=1, max_size=30), payloads)
def test_call_round_trip(message_id: str, action: str, payload: dict) -> None:
    frame = Call(message_id, action, payload)
    assert decode_frame(encode_frame(frame)) == frame


@given(ids, payloads)
def test_call_result_round_trip(message_id: str, payload: dict) -> None:
    frame = CallResult(message_id, payload)
    assert decode_frame(encode_frame(frame)) == frame


@given(ids, st.sampled_from(list(ErrorCode)), st.text(max_size=50), payloads)
def test_call_error_round_trip(message_id: str, code: ErrorCode, text: str, details: dict) -> None:
    frame = CallError(message_id, code, text, details)
    assert decode_frame(encode_frame(frame)) == frame


@settings(max_examples=500)
@given(st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_any_bytes_decode_or_raise_ocpp_error(data: bytes) -> None:
    try:
        decode_frame(data)
    except OcppError as exc:
        assert isinstance(exc.code, ErrorCode)


@settings(max_examples=500)
@given(st.lists(json_values, max_size=6))
def test_any_json_array_decodes_or_raises_ocpp_error(items: list) -> None:
    try:
        frame = decode_frame(orjson.dumps(items))
    except OcppError as exc:
        assert isinstance(exc.code, ErrorCode)
    else:
        assert isinstance(frame, Call | CallResult | CallError)


def test_null_payload_is_an_empty_object() -> None:
    # OCPP-J 1.6 §4.2.1: "null or an empty object {}"
    assert decode_frame(b'[2,"1","Heartbeat",null]') == Call("1", "Heartbeat", {})


@pytest.mark.parametrize(
    ("text", "code", "message_id"),
    [
        (b"not json", ErrorCode.FormationViolation, None),
        (b"{}", ErrorCode.FormationViolation, None),
        (b'[2,"1","Heartbeat"]', ErrorCode.FormationViolation, "1"),
        (b'[2,"1",3,{}]', ErrorCode.FormationViolation, "1"),
        (b'[2,"1","Heartbeat",[]]', ErrorCode.FormationViolation, "1"),
        (b'[2,1,"Heartbeat",{}]', ErrorCode.FormationViolation, None),
        (b'[7,"1",{}]', ErrorCode.ProtocolError, "1"),
        (b'["2","1","Heartbeat",{}]', ErrorCode.FormationViolation, "1"),
        (b'[2,"' + b"x" * 37 + b'","Heartbeat",{}]', ErrorCode.FormationViolation, "x" * 37),
        # A malformed CALLRESULT / CALLERROR is not answered (ProtocolError: ignore, OCPP-J §4.2.3).
        (b'[3,"1"]', ErrorCode.ProtocolError, "1"),
        (b'[3,"1",[1]]', ErrorCode.ProtocolError, "1"),
        (b'[4,"1",5,"x",{}]', ErrorCode.ProtocolError, "1"),
        (b'[4,"1","GenericError","x",[]]', ErrorCode.ProtocolError, "1"),
    ],
)
def test_malformed_frames(text: bytes, code: ErrorCode, message_id: str | None) -> None:
    with pytest.raises(OcppError) as info:
        decode_frame(text)
    assert info.value.code is code
    assert info.value.message_id == message_id


def test_error_code_spellings() -> None:
    # OCPP-J 1.6 errata §5.1/§5.2: 1.6 keeps its spellings; later spellings are read as the same code.
    assert parse_error_code("FormatViolation") is ErrorCode.FormationViolation
    assert parse_error_code("OccurrenceConstraintViolation") is ErrorCode.OccurenceConstraintViolation
    assert parse_error_code("FormationViolation") is ErrorCode.FormationViolation
    assert parse_error_code("Nonsense") is None
