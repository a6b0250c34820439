"""The simulated firmware image format and its installer."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ocpp_station.hardware.firmware import InstallError, make_image, parse_image, verify_and_install


def _write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "fw.bin"
    path.write_bytes(data)
    return path


def test_layout_is_header_payload_trailer() -> None:
    image = make_image("1.2.3", b"PAYLOAD")
    body = b"OCPP-STATION-FIRMWARE v1.2.3\nPAYLOAD"
    assert image == body + b"\nsha256:" + hashlib.sha256(body).hexdigest().encode() + b"\n"


def test_install_returns_version(tmp_path: Path) -> None:
    assert verify_and_install(_write(tmp_path, make_image("2.0.0-rc1", b"\x00\xff" * 1000))) == "2.0.0-rc1"


def test_empty_payload(tmp_path: Path) -> None:
    assert verify_and_install(_write(tmp_path, make_image("v", b""))) == "v"


def test_payload_that_looks_like_a_trailer() -> None:
    fake = b"\nsha256:" + b"0" * 64 + b"\n"
    assert parse_image(make_image("1", fake)) == ("1", fake)


@given(
    version=st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=50),
    payload=st.binary(max_size=300),
)
def test_roundtrip(version: str, payload: bytes) -> None:
    assert parse_image(make_image(version, payload)) == (version, payload)


@pytest.mark.parametrize("version", ["", "1 2", "x" * 51, "é", "1\n2"])
def test_make_image_rejects_bad_versions(version: str) -> None:
    with pytest.raises(ValueError):
        make_image(version, b"")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "bad header"),
        (b"MZ\x90\x00 some windows binary", "bad header"),
        (b"OCPP-STATION-FIRMWARE v" + b"1" * 80 + b"\n", "bad header"),
        (b"OCPP-STATION-FIRMWARE v1 2\npayload", "bad header"),
        (b"OCPP-STATION-FIRMWARE v\npayload", "bad header"),
        (b"OCPP-STATION-FIRMWARE v1.0\npayload", "truncated"),
        (b"OCPP-STATION-FIRMWARE v1.0\n" + b"p" * 200, "bad trailer"),
    ],
)
def test_malformed_images(tmp_path: Path, data: bytes, reason: str) -> None:
    with pytest.raises(InstallError, match=reason) as info:
        verify_and_install(_write(tmp_path, data))
    assert reason in info.value.reason


def test_corrupted_payload_is_a_checksum_mismatch(tmp_path: Path) -> None:
    image = bytearray(make_image("1.0", b"A" * 100))
    image[40] ^= 0x01
    with pytest.raises(InstallError, match="checksum mismatch"):
        verify_and_install(_write(tmp_path, bytes(image)))


def test_changed_version_is_a_checksum_mismatch(tmp_path: Path) -> None:
    image = make_image("1.0", b"payload").replace(b"v1.0", b"v9.0", 1)
    with pytest.raises(InstallError, match="checksum mismatch"):
        verify_and_install(_write(tmp_path, image))


def test_truncated_download_is_rejected(tmp_path: Path) -> None:
    image = make_image("1.0", b"x" * 1000)
    with pytest.raises(InstallError):
        verify_and_install(_write(tmp_path, image[:-10]))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InstallError, match="cannot read"):
        verify_and_install(tmp_path / "absent.bin")
