"""Signed firmware for development and tests (security whitepaper L01): a manufacturer PKI and the
signature a SignedUpdateFirmware.req carries.

* :func:`make_manufacturer_pki`: a ManufacturerRootCertificate and a Firmware Signing certificate issued
  directly by it (no intermediate: L01 remark), with the signing key; PEM texts (A00.FR.507).
* :func:`sign_firmware`: FirmwareType.signature (§6.9): base64 of the signature over the whole image,
  SHA-256 (L01.FR.04), RSA-PSS (MGF1-SHA-256, salt as long as the digest) for an RSA key, ECDSA for an
  EC key; what :func:`ocpp_station.hardware.firmware.verify_signature` checks.

``ocpp-station sign-firmware`` (cli) runs both from the command line. (The development CSMS's own
Certificate Authority is another module: :mod:`ocpp_station.sim.signing`.)
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils
from cryptography.x509.oid import NameOID

from ocpp_station.hardware.firmware import file_sha256

__all__ = ["ManufacturerPki", "load_signing_key", "make_manufacturer_pki", "sign_firmware"]

SigningKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


@dataclass(frozen=True, slots=True)
class ManufacturerPki:
    """PEM texts: the root to install as ManufacturerRootCertificate, the signing certificate to send
    as FirmwareType.signingCertificate, and its private key (keep it secret)."""

    root: str
    signing_certificate: str
    signing_key: str


def _name(organization: str, common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),  # A00.FR.509
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _new_key(kind: str) -> SigningKey:
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)  # A00.FR.502
    if kind == "ec":
        return ec.generate_private_key(ec.SECP256R1())  # A00.FR.503
    raise ValueError(f"key type {kind!r}: rsa or ec")


def _pem(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")


def make_manufacturer_pki(
    organization: str = "ocpp-station manufacturer",
    *,
    key_type: str = "ec",
    now: dt.datetime | None = None,
    days: int = 3650,
) -> ManufacturerPki:
    """A new manufacturer root and a firmware signing certificate issued by it, valid from an hour
    before ``now`` for ``days`` days; ``key_type`` "ec" (P-256) or "rsa" (2048 bits) for both keys."""
    start = (now or dt.datetime.now(dt.UTC)) - dt.timedelta(hours=1)
    end = start + dt.timedelta(days=days)
    root_key = _new_key(key_type)
    root_name = _name(organization, f"{organization} root")
    root = (
        x509.CertificateBuilder()
        .subject_name(root_name)
        .issuer_name(root_name)
        .public_key(root_key.public_key())
        .serial_number(x509.random_serial_number())  # A00.FR.508
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(root_key, hashes.SHA256())
    )
    key = _new_key(key_type)
    usage = x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )
    signing = (
        x509.CertificateBuilder()
        .subject_name(_name(organization, f"{organization} firmware signing"))
        .issuer_name(root_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .sign(root_key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")
    return ManufacturerPki(_pem(root), _pem(signing), key_pem)


def load_signing_key(pem: bytes, password: bytes | None = None) -> SigningKey:
    """An RSA or EC private key from PEM. :raises ValueError: not one."""
    key = serialization.load_pem_private_key(pem, password=password)
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise ValueError(f"{type(key).__name__}: an RSA or EC private key is needed")
    return key


def sign_firmware(image: bytes | Path, key: SigningKey) -> str:
    """FirmwareType.signature for ``image`` (its bytes, or a file read in chunks): base64."""
    digest = file_sha256(image) if isinstance(image, Path) else hashlib.sha256(image).digest()
    prehashed = utils.Prehashed(hashes.SHA256())
    if isinstance(key, rsa.RSAPrivateKey):
        pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)
        signature = key.sign(digest, pss, prehashed)
    else:
        signature = key.sign(digest, ec.ECDSA(prehashed))
    return base64.b64encode(signature).decode("ascii")
