"""The GetLog files and failure statuses of ``transport.file_transfer`` (security whitepaper N01.FR.03,
N01.FR.10), on real files and against a real FTP server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ocpp_station.core.clock import parse_datetime
from ocpp_station.transport.file_transfer import TransferError, build_security_log, upload, upload_log_status
from tests.transport.servers import ftp_server

ENTRIES: list[dict[str, Any]] = [
    {"timestamp": "2025-11-24T16:00:02.000Z", "type": "ResetOrReboot", "techInfo": "soft reset"},
    {"timestamp": "2025-11-24T16:00:00.000Z", "type": "StartupOfTheDevice", "techInfo": "started\nagain"},
    {"timestamp": "2025-11-24T16:00:01.000Z", "type": "InvalidTLSVersion", "techInfo": ""},
    {"timestamp": "not a time", "type": "InvalidMessages"},
    {"firmwareJob": 3},  # the feature's state record: no entry
]


def test_N01_FR_03_security_log_one_line_per_entry_oldest_first(tmp_path: Path) -> None:
    path = build_security_log(tmp_path / "sec.txt", ENTRIES, start=None, stop=None)
    assert path.read_text().splitlines() == [
        "2025-11-24T16:00:00.000Z StartupOfTheDevice started again",
        "2025-11-24T16:00:01.000Z InvalidTLSVersion",
        "2025-11-24T16:00:02.000Z ResetOrReboot soft reset",
    ]
    assert [p.name for p in tmp_path.iterdir()] == ["sec.txt"]  # no temporary file left


def test_security_log_window_is_inclusive(tmp_path: Path) -> None:
    start = parse_datetime("2025-11-24T16:00:01Z")
    path = build_security_log(tmp_path / "sec.txt", ENTRIES, start=start, stop=start)
    assert path.read_text() == "2025-11-24T16:00:01.000Z InvalidTLSVersion\n"
    empty = build_security_log(tmp_path / "none.txt", ENTRIES, start=start + 10, stop=None)
    assert empty.read_text() == ""


@pytest.mark.parametrize(
    ("reason", "status"),
    [
        ("HTTP 401 Unauthorized", "PermissionDenied"),
        ("HTTP 403 Forbidden", "PermissionDenied"),
        ("HTTP 405 Method Not Allowed", "NotSupportedOperation"),
        ("HTTP 501 Not Implemented", "NotSupportedOperation"),
        ("HTTP 400 Bad Request", "BadMessage"),
        ("HTTP 503 Service Unavailable", "UploadFailure"),
        ("error_perm: 530 Authentication failed.", "PermissionDenied"),
        ("error_perm: 502 Command not implemented.", "NotSupportedOperation"),
        ("error_perm: 550 No such file or directory.", "UploadFailure"),
        ("timed out after 5 s", "UploadFailure"),
    ],
)
def test_N01_FR_10_failure_status_as_precise_as_the_error(reason: str, status: str) -> None:
    assert upload_log_status(TransferError("ftp://u:p@h/x", reason)) == status


async def test_N01_FR_10_real_ftp_login_refused_is_permission_denied(tmp_path: Path) -> None:
    source = build_security_log(tmp_path / "sec.txt", ENTRIES, start=None, stop=None)
    (tmp_path / "root").mkdir()
    with ftp_server(tmp_path / "root") as port:
        with pytest.raises(TransferError) as caught:
            await upload(f"ftp://user:wrong@127.0.0.1:{port}/", source, timeout_s=5)
    assert upload_log_status(caught.value) == "PermissionDenied", caught.value.reason
