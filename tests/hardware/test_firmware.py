"""The simulated firmware image format and its installer."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ocpp_station.hardware.firmware import (
    MAX_VERSION_LEN,
    InstallError,
    make_image,
    parse_image,
    verify_and_install,
    version_from_name,
)


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


# -- lenient installs: any file a CSMS sends ---------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "version"),
    [
        ("acme-wallbox-2.4.1.bin", "2.4.1"),
        ("vendor-fw-3.1.0.bin", "3.1.0"),
        ("fw_v3.0-rc2.img", "3.0-rc2"),
        ("Wallbox_V10.2.bin", "10.2"),
        ("charger-1.2+build7.tar", "1.2+build7"),
        ("ocpp1.6-charger-2.4.1.bin", "2.4.1"),  # the last version-looking part
        ("2.0.0", "2.0.0"),
        ("wallbox-latest.bin", "wallbox-latest"),  # no version: the stem
        ("firmware", "firmware"),
        ("wallbox.v3.bin", "wallbox.v3"),  # one number is not a version
        ("image.tar.gz", "image.tar"),
        (".hidden.bin", "hidden"),
        ("a b$c.bin", "a_b_c"),
        ("x" * 80 + ".bin", "x" * 50),
        ("fw-" + "1." * 40 + "1.bin", ("1." * 25)[:50]),
    ],
)
def test_version_from_file_name(name: str, version: str) -> None:
    assert version_from_name(name) == version


@pytest.mark.parametrize("name", ["../../etc/passwd-1.0", "dir/sub/fw-1.0", "C:\\fw\\fw-1.0", "/abs/1.0"])
def test_version_from_name_uses_the_last_path_component_only(name: str) -> None:
    version = version_from_name(name)
    assert version == "1.0"


@given(st.text(max_size=300))
def test_version_from_name_is_never_path_like_and_fits_boot_notification(name: str) -> None:
    try:
        version = version_from_name(name)
    except InstallError:
        return
    assert 1 <= len(version) <= MAX_VERSION_LEN
    assert "/" not in version and "\\" not in version and not version.startswith(".")
    assert version.isascii() and version.isprintable() and " " not in version


@pytest.mark.parametrize("name", ["...", "-", "._-"])
def test_version_from_an_unusable_name_fails(name: str) -> None:
    with pytest.raises(InstallError, match="cannot derive a firmware version"):
        version_from_name(name)


def test_lenient_install_of_a_foreign_file_takes_the_version_from_its_name(tmp_path: Path) -> None:
    image = tmp_path / "acme-wallbox-2.4.1.bin"
    image.write_bytes(b"MZ\x90\x00" + bytes(range(256)) * 10)
    assert verify_and_install(image, strict=False) == "2.4.1"


def test_lenient_install_of_our_image_takes_the_version_from_its_header(tmp_path: Path) -> None:
    image = tmp_path / "fw-9.9.9.img"
    image.write_bytes(make_image("2.0.0", b"payload"))
    assert verify_and_install(image, strict=False) == "2.0.0"


def test_lenient_install_of_our_image_with_a_bad_checksum_fails(tmp_path: Path) -> None:
    image = bytearray(make_image("2.0.0", b"payload"))
    image[-10] = ord("0") if image[-10] != ord("0") else ord("1")  # another digest
    with pytest.raises(InstallError, match="checksum mismatch"):
        verify_and_install(_write(tmp_path, bytes(image)), strict=False)


def test_lenient_install_of_a_truncated_image_of_ours_fails(tmp_path: Path) -> None:
    image = make_image("1.0", b"x" * 1000)
    with pytest.raises(InstallError):
        verify_and_install(_write(tmp_path, image[:-10]), strict=False)


def test_lenient_install_of_an_empty_file_fails(tmp_path: Path) -> None:
    with pytest.raises(InstallError, match="empty image"):
        verify_and_install(_write(tmp_path, b""), strict=False)


def test_lenient_install_of_a_missing_file_fails(tmp_path: Path) -> None:
    with pytest.raises(InstallError, match="cannot read"):
        verify_and_install(tmp_path / "fw-1.0.bin", strict=False)


def test_strict_install_rejects_a_foreign_file(tmp_path: Path) -> None:
    image = tmp_path / "vendor-fw-3.1.0.bin"
    image.write_bytes(b"\x7fELF" + b"\x00" * 100)
    with pytest.raises(InstallError, match="bad header"):
        verify_and_install(image, strict=True)
    assert verify_and_install(image, strict=False) == "3.1.0"
