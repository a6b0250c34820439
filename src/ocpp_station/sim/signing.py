"""The development CSMS as Certificate Authority (OCPP 1.6 security whitepaper edition 3: A02, A03,
§2.5): it signs a station's CSR (SignCertificate.req) and checks the client certificate a station
presents under security profile 3 (A00.FR.403-405, 407).

The whitepaper wants a CSMS to forward the CSR to a separate CA (A02.FR.04 SHOULD); for development the
CSMS signs itself, as the OCTT does ("the tool shall take on the role of both Central System and
Certificate Authority Server", TC_074_CS).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

#: Validity of a certificate the development CA signs.
VALIDITY = dt.timedelta(days=365)


@dataclass(frozen=True, slots=True)
class SigningCa:
    """A CA certificate and its key (``--sign-ca-cert`` / ``--sign-ca-key``)."""

    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

    @classmethod
    def load(cls, cert_file: Path, key_file: Path) -> SigningCa:
        """From PEM files; ValueError naming the file that does not load."""
        try:
            certificate = x509.load_pem_x509_certificate(cert_file.read_bytes())
        except (OSError, ValueError) as exc:
            raise ValueError(f"{cert_file}: no PEM certificate ({exc})") from None
        try:
            key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
        except (OSError, ValueError, TypeError) as exc:
            raise ValueError(f"{key_file}: no unencrypted PEM private key ({exc})") from None
        if not isinstance(key, (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey)):
            raise ValueError(f"{key_file}: an EC or RSA key is needed")
        if key.public_key().public_numbers() != certificate.public_key().public_numbers():  # type: ignore[union-attr]
            raise ValueError(f"{key_file} is not the key of {cert_file}")
        return cls(certificate, key)

    def sign(self, csr_pem: str, *, now: dt.datetime | None = None, validity: dt.timedelta = VALIDITY) -> str:
        """The PEM chain (the new certificate, then this CA's) for a CSR; ValueError for a CSR that is
        no PEM PKCS #10 or whose signature does not verify."""
        try:
            csr = x509.load_pem_x509_csr(csr_pem.encode("ascii"))
        except (ValueError, UnicodeEncodeError) as exc:
            raise ValueError(f"not a PEM CSR: {exc}") from None
        if not csr.is_signature_valid:
            raise ValueError("the CSR's signature does not verify")
        start = (now or dt.datetime.now(dt.UTC)) - dt.timedelta(minutes=5)
        public_key = csr.public_key()
        certificate = (
            x509.CertificateBuilder()
            .subject_name(csr.subject)
            .issuer_name(self.certificate.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + validity)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=isinstance(public_key, rsa.RSAPublicKey),
                    data_encipherment=False,
                    key_agreement=isinstance(public_key, ec.EllipticCurvePublicKey),
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        pems = [certificate.public_bytes(serialization.Encoding.PEM)]
        if self.certificate.issuer != self.certificate.subject:
            pems.append(self.certificate.public_bytes(serialization.Encoding.PEM))  # a sub-CA: in the chain
        return b"".join(pems).decode("ascii")


def client_certificate_problem(
    der: bytes | None, charge_point_id: str, *, cpo_name: str | None, serial_number: str | None
) -> str | None:
    """Why the client certificate a station presented (DER, TLS already verified its path, A00.FR.403)
    does not identify it, or None: its subject's O must hold the CPO name (``cpo_name``; None: any
    organization, A00.FR.404) and its CN the station's serial number: the chargePointSerialNumber it
    booted with, or its charge point id (A00.FR.405)."""
    if der is None:
        return "no client certificate (A00.FR.407)"
    certificate = x509.load_der_x509_certificate(der)
    subject = certificate.subject
    organizations = [str(a.value) for a in subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
    names = [str(a.value) for a in subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    if not organizations or (cpo_name is not None and cpo_name not in organizations):
        return f"subject O {organizations} is not the CPO {cpo_name!r} (A00.FR.404)"
    allowed = {charge_point_id} | ({serial_number} if serial_number else set())
    if not set(names) & allowed:
        return f"subject CN {names} is not the serial number of {charge_point_id!r} (A00.FR.405)"
    return None
