"""The ChargePointCertificate's private keys (OCPP 1.6 security whitepaper edition 3: A02, A03, §2.5).

The engine asks for a key pair and a CSR (:class:`~ocpp_station.core.effects.GenerateKeyPair`); this
module makes them, in a worker thread so the loop never waits for it:

* **the key**: EC P-256 (secp256r1). A00.FR.503 asks for at least 224 bits of elliptic curve (or 2048
  bits of RSA, A00.FR.502): P-256 gives 128-bit security, a key made in a millisecond (an RSA-3072 key
  of the same strength takes a second of CPU on a small charger), a small CSR and certificate, and it
  is the curve of the ECDHE-ECDSA suites A00.FR.318 names first;
* **the CSR**: PKCS #10 (RFC 2986), PEM, signed with SHA-256 (A00.FR.506); subject O = CpoName
  (A02.FR.13) and CN = the charge point's serial number (A00.FR.511); a keyUsage (digitalSignature,
  A00.FR.512) and an extendedKeyUsage clientAuth request;
* **where the key lives**: with a data directory, ``<data_dir>/keys/<key id>.pem`` (the key id is the
  SHA-256 of the public key, :func:`ocpp_station.core.certificates.key_id`: the engine's certificate
  record names its key by it), written atomically (a temporary file, fsync, rename) with mode 0600 in
  a directory of mode 0700; without one, in memory only (lost with the process, as the memory store's
  records are). The private key never leaves: not in a message, log line, record, ``/state`` or the
  diagnostics archive (A02.FR.05); only :meth:`KeyStore.private_key_pem` gives it, to the TLS context.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ocpp_station.core.certificates import spki_id

log = logging.getLogger("ocpp_station.station")


def make_csr(private_key: ec.EllipticCurvePrivateKey, organization: str, common_name: str) -> str:
    """A PEM CSR (RFC 2986) of ``private_key``'s public key for subject O / CN."""
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )
    usage = x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=True,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )
    request = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(subject)
        .add_extension(usage, critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(private_key, hashes.SHA256())
    )
    return request.public_bytes(serialization.Encoding.PEM).decode("ascii")


class KeyStore:
    """The private keys of the charge point's certificates, by key id."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self._memory: dict[str, str] = {}

    def generate(self, organization: str, common_name: str) -> tuple[str, str]:
        """A new key pair, kept: (CSR PEM, public key PEM). Blocking: run it in a thread."""
        key = ec.generate_private_key(ec.SECP256R1())
        csr = make_csr(key, organization, common_name)
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode("ascii")
        self.keep(spki_id(key.public_key()), pem)
        public = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return csr, public.decode("ascii")

    def keep(self, key_id: str, pem: str, *, persist: bool = True) -> None:
        """Keep a private key (PEM) under its id: in memory, and in the data directory when there is
        one and ``persist`` (a key of the config file stays where it is)."""
        self._memory[key_id] = pem
        if persist and self.directory is not None:
            self._write(self.directory / f"{key_id}.pem", pem)

    def forget(self, key_id: str) -> None:
        """Delete the private key ``key_id``: from memory, and its file in the data directory (a key of
        the config file has none there). Unknown: nothing to do."""
        self._memory.pop(key_id, None)
        if self.directory is None:
            return
        try:
            (self.directory / f"{key_id}.pem").unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            log.warning("cannot delete the key file of %s: %s", key_id, exc)

    def private_key_pem(self, key_id: str) -> str | None:
        """The private key of ``key_id`` (PEM), None when this station does not hold it."""
        pem = self._memory.get(key_id)
        if pem is None and self.directory is not None:
            try:
                pem = (self.directory / f"{key_id}.pem").read_text(encoding="ascii")
            except OSError:
                return None
            self._memory[key_id] = pem
        return pem

    @staticmethod
    def _write(path: Path, text: str) -> None:
        """Atomically, mode 0600, in a directory of mode 0700."""
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=".key-", dir=path.parent)  # mode 0600
        try:
            with os.fdopen(fd, "w", encoding="ascii") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(temp, 0o600)
            os.replace(temp, path)
        except BaseException:
            try:
                os.unlink(temp)
            except OSError:
                pass
            raise
        try:
            dir_fd = os.open(path.parent, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def load_private_key(pem: bytes, source: str) -> tuple[str, str]:
    """A private key of the config file (PEM, unencrypted): (key id, PEM text); ValueError naming
    ``source`` when it does not load."""
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{source}: not an unencrypted PEM private key ({exc})") from None
    return spki_id(key.public_key()), pem.decode("ascii")
