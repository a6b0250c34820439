"""A real PKI for the certificate-store tests, made with ``cryptography``: roots, an intermediate, a
leaf, an expired and a not-yet-valid root, a weak key, a root's successor signed by it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from tests.core.harness import T0

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
DAY = dt.timedelta(days=1)
NOW = dt.datetime.fromtimestamp(T0, dt.UTC)


@dataclass(frozen=True)
class Issued:
    certificate: x509.Certificate
    key: PrivateKey

    @property
    def pem(self) -> str:
        return self.certificate.public_bytes(Encoding.PEM).decode("ascii")


def name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ocpp-station tests"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def issue(
    subject: str,
    *,
    by: Issued | None = None,
    ca: bool = True,
    serial: int | None = None,
    not_before: dt.datetime = NOW - 30 * DAY,
    not_after: dt.datetime = NOW + 3650 * DAY,
    key: PrivateKey | None = None,
    issuer_name: x509.Name | None = None,
) -> Issued:
    """A certificate for ``subject``, signed by ``by`` (None: self-signed)."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    signer_key = key if by is None else by.key
    issuer = issuer_name or (name(subject) if by is None else by.certificate.subject)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name(subject))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(serial if serial is not None else x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    return Issued(builder.sign(signer_key, hashes.SHA256()), key)


@dataclass(frozen=True)
class Pki:
    root: Issued
    other_root: Issued
    intermediate: Issued
    leaf: Issued
    expired: Issued
    future: Issued
    weak: Issued
    #: The root's successor: a new key, signed by the root (AdditionalRootCertificateCheck, M05.FR.09).
    successor: Issued
    #: Its own successor, signed by it.
    successor2: Issued
    #: A would-be successor signed by the other root (M05.FR.10).
    impostor: Issued


@cache
def pki() -> Pki:
    root = issue("Root CA", serial=0x0FFF)
    other = issue("Other Root CA")
    intermediate = issue("Sub CA", by=root)
    successor = issue("Root CA 2", by=root)
    return Pki(
        root=root,
        other_root=other,
        intermediate=intermediate,
        leaf=issue("csms.example.com", by=intermediate, ca=False),
        expired=issue("Old Root CA", not_before=NOW - 400 * DAY, not_after=NOW - DAY),
        future=issue("Future Root CA", not_before=NOW + DAY),
        weak=issue("Weak Root CA", key=rsa.generate_private_key(public_exponent=65537, key_size=1024)),
        successor=successor,
        successor2=issue("Root CA 3", by=successor),
        impostor=issue("Root CA 2", by=other),
    )
