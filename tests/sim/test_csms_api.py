"""The CSMS API's request-body parsing, without a server (src/ocpp_station/sim/csms_api.py); the routes
themselves are exercised over real HTTP in test_csms.py."""

from __future__ import annotations

import pytest

from ocpp_station.sim.csms_api import ApiError, parse_call_body


def test_call_body_defaults_and_timeout() -> None:
    assert parse_call_body(b'{"action": "ClearCache"}') == ("ClearCache", {}, None)
    body = b'{"action": "Reset", "payload": {"type": "Soft"}, "timeout": 2}'
    assert parse_call_body(body) == ("Reset", {"type": "Soft"}, 2.0)


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (b"{not json", "not valid JSON"),
        (b'["Reset"]', "JSON object"),
        (b'{"action": ""}', '"action"'),
        (b'{"action": 3}', '"action"'),
        (b'{"action": "Reset", "payload": []}', '"payload"'),
        (b'{"action": "Reset", "timeout": 0}', '"timeout"'),
        (b'{"action": "Reset", "timeout": true}', '"timeout"'),
        (b'{"action": "Reset", "timeout": "5"}', '"timeout"'),
    ],
)
def test_bad_call_bodies_are_400(raw: bytes, words: str) -> None:
    with pytest.raises(ApiError) as caught:
        parse_call_body(raw)
    assert caught.value.status == 400 and words in caught.value.body["error"]
