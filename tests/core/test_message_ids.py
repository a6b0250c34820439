"""CALL message ids (OCPP-J 1.6 §4.1.4): unique, at most 36 characters."""

from __future__ import annotations

import subprocess
import sys

from ocpp_station.core.rpc import new_message_id
from ocpp_station.wire.frames import MAX_MESSAGE_ID_LENGTH, Call, decode_frame, encode_frame


def test_ids_never_repeat_and_fit_the_limit() -> None:
    ids = [new_message_id() for _ in range(10_000)]
    assert len(set(ids)) == len(ids)
    assert all(len(i) <= MAX_MESSAGE_ID_LENGTH for i in ids)
    # A frame carrying one reads back as such (no character the decoder refuses).
    frame = decode_frame(encode_frame(Call(ids[-1], "Heartbeat", {})))
    assert isinstance(frame, Call) and frame.message_id == ids[-1]


def test_another_process_uses_another_prefix() -> None:
    """A restarted process does not send the ids of the one before it again."""
    code = "from ocpp_station.core.rpc import new_message_id; print(new_message_id())"
    first, second = (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
        for _ in range(2)
    )
    assert first.strip() != second.strip()
    assert first.rsplit("-", 1)[1].strip() == "1"
