"""The firmware signature check of the shell (security whitepaper L01.FR.04, L01.FR.12): SHA-256 over the
whole file, RSA-PSS or ECDSA, with real keys; the shell re-checks it before the hardware installs;
``ocpp-station sign-firmware`` makes a PKI and signatures that pass."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from ocpp_station.cli import main
from ocpp_station.config.station import FileTransferPolicy
from ocpp_station.core import effects as fx
from ocpp_station.core.events import Event, FirmwareInstalled, FirmwareVerified
from ocpp_station.hardware.firmware import SignatureError, make_image, verify_signature
from ocpp_station.sim.firmware_signing import (
    ManufacturerPki,
    load_signing_key,
    make_manufacturer_pki,
    sign_firmware,
)
from ocpp_station.transport.transfers import FileTransfers, StationLog


@pytest.fixture(scope="module", params=["ec", "rsa"])
def pki(request: pytest.FixtureRequest) -> ManufacturerPki:
    return make_manufacturer_pki("ACME", key_type=request.param)


def image_file(tmp_path: Path, data: bytes | None = None) -> Path:
    path = tmp_path / "fw.img"
    path.write_bytes(data if data is not None else make_image("5.0", b"x" * 3_000_000))  # > one chunk
    return path


def test_L01_FR_04_a_good_signature_verifies(pki: ManufacturerPki, tmp_path: Path) -> None:
    path = image_file(tmp_path)
    signature = sign_firmware(path, load_signing_key(pki.signing_key.encode()))
    assert signature == signature.strip() and len(signature) <= 800  # FirmwareType.signature string[0..800]
    verify_signature(path, pki.signing_certificate, signature)
    # the bytes and the file give signatures over the same digest
    verify_signature(
        path,
        pki.signing_certificate,
        sign_firmware(path.read_bytes(), load_signing_key(pki.signing_key.encode())),
    )


@pytest.mark.parametrize("case", ["tampered", "other key", "not base64", "empty", "truncated"])
def test_L01_FR_03_a_bad_signature_is_refused(pki: ManufacturerPki, tmp_path: Path, case: str) -> None:
    path = image_file(tmp_path, make_image("5.0", b"payload"))
    key = load_signing_key(pki.signing_key.encode())
    signature = sign_firmware(path, key)
    if case == "tampered":
        path.write_bytes(path.read_bytes() + b"\0")
    elif case == "other key":
        signature = sign_firmware(
            path, load_signing_key(make_manufacturer_pki(key_type="ec").signing_key.encode())
        )
    elif case == "not base64":
        signature = "not base64!"
    elif case == "empty":
        signature = ""
    else:
        signature = base64.b64encode(base64.b64decode(signature)[:-8]).decode()
    with pytest.raises(SignatureError):
        verify_signature(path, pki.signing_certificate, signature)


def test_rsa_pkcs1_v1_5_is_not_the_whitepaper_s_rsa_pss(tmp_path: Path) -> None:
    pki = make_manufacturer_pki(key_type="rsa")
    path = image_file(tmp_path, b"firmware")
    key = load_signing_key(pki.signing_key.encode())
    assert isinstance(key, rsa.RSAPrivateKey)
    raw = key.sign(b"firmware", padding.PKCS1v15(), hashes.SHA256())
    with pytest.raises(SignatureError, match="does not match"):
        verify_signature(path, pki.signing_certificate, base64.b64encode(raw).decode())
    assert hashlib.sha256(b"firmware").digest()  # the digest is SHA-256 of the whole file


def test_missing_image_is_a_signature_error(pki: ManufacturerPki, tmp_path: Path) -> None:
    with pytest.raises(SignatureError, match="cannot read"):
        verify_signature(tmp_path / "gone.img", pki.signing_certificate, "AAAA")


class _Hardware:
    def __init__(self) -> None:
        self.installed: list[bytes] = []

    def install_firmware(self, image: Path) -> str:
        self.installed.append(image.read_bytes())
        return "5.0"


async def test_the_shell_checks_again_before_the_hardware_installs(
    pki: ManufacturerPki, tmp_path: Path
) -> None:
    events: list[Event] = []
    hardware = _Hardware()
    transfers = FileTransfers(
        work_dir=tmp_path / "work",
        policy=FileTransferPolicy(),
        hardware=lambda: hardware,  # type: ignore[arg-type, return-value]
        feed=events.append,
        station_log=StationLog(0),
        diagnostics=lambda: ({}, {}),
        charge_point_id="CP",
    )
    folder = tmp_path / "work" / "firmware" / "job-1"
    folder.mkdir(parents=True)
    image = folder / "fw.img"
    image.write_bytes(make_image("5.0", b"good"))
    signature = sign_firmware(image, load_signing_key(pki.signing_key.encode()))
    transfers.verify_firmware(fx.VerifyFirmware(1, pki.signing_certificate, signature))
    await asyncio.sleep(0.2)
    assert events == [FirmwareVerified(1, True)]
    image.write_bytes(make_image("6.6.6", b"swapped after the check"))
    transfers.install_firmware(fx.InstallFirmware(1, pki.signing_certificate, signature))
    await asyncio.sleep(0.2)
    assert isinstance(events[-1], FirmwareInstalled) and not events[-1].ok
    assert events[-1].verification_failed  # InstallVerificationFailed, not InstallationFailed
    assert hardware.installed == []  # the hardware never saw the unverified image
    # a failed check deletes the image
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "fw.img").write_bytes(b"junk")
    transfers.verify_firmware(fx.VerifyFirmware(1, pki.signing_certificate, signature))
    await asyncio.sleep(0.2)
    verdict = events[-1]
    assert isinstance(verdict, FirmwareVerified) and not verdict.ok
    assert not folder.exists()


def test_cli_sign_firmware(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    image = tmp_path / "fw.img"
    assert main(["firmware-image", "--version", "7.0", str(image)]) == 0
    capsys.readouterr()
    assert main(["sign-firmware", "--new-pki", str(tmp_path / "pki"), "--key-type", "rsa", str(image)]) == 0
    signature = capsys.readouterr().out.strip()
    certificate = (tmp_path / "pki" / "signing.pem").read_text()
    verify_signature(image, certificate, signature)
    assert (tmp_path / "pki" / "signing.key").stat().st_mode & 0o077 == 0
    assert main(["sign-firmware", "--key", str(tmp_path / "pki" / "signing.key"), str(image)]) == 0
    verify_signature(image, certificate, capsys.readouterr().out.strip())
    assert main(["sign-firmware"]) == 2
    assert main(["sign-firmware", "--key", str(tmp_path / "nope.key"), str(image)]) == 1
    assert "nope.key" in capsys.readouterr().err
