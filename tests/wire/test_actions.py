"""The fixed action table (issue #8 §4: no file, path or code from frame content)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ocpp_station.wire import schemas
from ocpp_station.wire.actions import ACTIONS, MAX_ACTION_LENGTH, SCHEMA_NAMES, Initiator, is_known, printable
from ocpp_station.wire.errors import ErrorCode, OcppError

# -- a guard that sees every file the interpreter opens (PEP 578 audit hooks cannot be removed, so
#    the hook only records while a test asks it to) ------------------------------------------------
_RECORDING: list[list[str]] = []


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _RECORDING and event in ("open", "os.listdir", "os.scandir", "os.stat"):
        _RECORDING[-1].append(f"{event} {args[0]!r}")


sys.addaudithook(_audit)


@pytest.fixture
def opened_files() -> Iterator[list[str]]:
    seen: list[str] = []
    _RECORDING.append(seen)
    try:
        yield seen
    finally:
        _RECORDING.pop()


def test_the_table_is_exactly_the_official_schema_set() -> None:
    assert sorted(SCHEMA_NAMES) == schemas.shipped_schema_names()
    assert len(ACTIONS) == 39 and len(SCHEMA_NAMES) == 78
    assert ACTIONS["DataTransfer"] is Initiator.BOTH
    assert ACTIONS["RemoteStartTransaction"] is Initiator.CENTRAL_SYSTEM
    assert ACTIONS["SignCertificate"] is Initiator.CHARGE_POINT


HOSTILE_ACTIONS = [
    "A" * 300,  # "File name too long" when it was used as a file name
    "../" * 12 + "etc/passwd",
    "../../../../../../../../tmp/evil",
    "/etc/hostname",
    "..",
    "BootNotificationResponse",  # a schema name but not an action
    "bootnotification",
    "Heartbeat\x00",
    "Heartbeat/../Heartbeat",
    "__init__",
    "",
]


@pytest.mark.parametrize("action", HOSTILE_ACTIONS)
def test_hostile_action_names_are_unknown_without_touching_the_filesystem(
    action: str, opened_files: list[str]
) -> None:
    assert not is_known(action)
    assert not schemas.has_schema(action)
    with pytest.raises(OcppError) as info:
        schemas.validate_request(action, {})
    assert info.value.code is ErrorCode.NotImplemented
    with pytest.raises(OcppError):
        schemas.validate_response(action, {})
    assert opened_files == []


def test_no_file_existence_oracle(tmp_path: Path) -> None:
    """A file that exists and one that does not give the same answer."""
    (tmp_path / "evil.json").write_text('{"type": "object"}')
    up = "../" * 40
    present = up + str(tmp_path / "evil").lstrip("/")
    absent = up + str(tmp_path / "missing").lstrip("/")
    answers = []
    for action in (present, absent):
        with pytest.raises(OcppError) as info:
            schemas.validate_request(action, {})
        answers.append(info.value.code)
    assert answers == [ErrorCode.NotImplemented, ErrorCode.NotImplemented]
    with pytest.raises(KeyError):
        schemas.load_schema(present)


@given(st.text(max_size=MAX_ACTION_LENGTH + 5))
def test_is_known_is_the_table(action: str) -> None:
    assert is_known(action) == (action in ACTIONS)


def test_is_known_takes_any_wire_value() -> None:
    for value in (None, 5, ["Heartbeat"], {"a": 1}, b"Heartbeat"):
        assert not is_known(value)


def test_printable_cuts_and_quotes() -> None:
    assert printable("Heartbeat") == "'Heartbeat'"
    assert printable("x" * 100, 10) == "'xxxxxxxxxx'..."
    assert "\n" not in printable("a\nb")
