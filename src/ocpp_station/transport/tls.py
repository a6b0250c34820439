"""TLS for security profiles 2 and 3 (OCPP 1.6 security whitepaper edition 3, §2.4-2.5): the station's
client context, the development CSMS's server context, and what a failed handshake means.

Both sides follow the same policy (A00.FR.311-320):

* TLS 1.2 or newer only; nothing older is offered or accepted (A00.FR.312-315);
* for TLS 1.2 the cipher suites of A00.FR.317-318 (:data:`TLS12_CIPHERS`); for TLS 1.3 the suites OpenSSL
  enables by default (all AEAD; Python's ``ssl`` cannot narrow them);
* no TLS compression (A00.FR.320);
* the station verifies the CSMS's certification path against its trusted roots and checks the host
  name (A00.FR.307-308): subjectAltName first, the commonName when the certificate has no
  subjectAltName (``hostname_checks_common_name``, as A00.FR.308 words it).

A handshake that fails is classified by :func:`tls_failure` into the security event the whitepaper
names for it (InvalidCentralSystemCertificate, InvalidTLSVersion, InvalidTLSCipherSuite); the link logs
it and keeps reconnecting with back-off.
"""

from __future__ import annotations

import logging
import os
import ssl
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

log = logging.getLogger("ocpp_station.station")

#: The TLS 1.2 cipher suites, in OpenSSL's names, most preferred first. A00.FR.318 asks the station
#: for the two ECDHE-ECDSA AES-GCM suites or the two TLS_RSA AES-GCM ones (A00.FR.317: the CSMS
#: supports all four); the ECDHE-RSA AES-GCM pair is added because the whitepaper recommends forward
#: secrecy over TLS_RSA and a CSMS with an RSA certificate can then use it. Nothing else (A00.FR.319:
#: no CBC, no SHA-1 MAC, no RC4/3DES, no anonymous or export suite).
TLS12_CIPHERS: Final = (
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "AES256-GCM-SHA384",  # TLS_RSA_WITH_AES_256_GCM_SHA384
    "AES128-GCM-SHA256",  # TLS_RSA_WITH_AES_128_GCM_SHA256
)

#: Security event types (whitepaper §8) a refused handshake is reported as.
INVALID_CENTRAL_SYSTEM_CERTIFICATE: Final = "InvalidCentralSystemCertificate"
INVALID_TLS_VERSION: Final = "InvalidTLSVersion"
INVALID_TLS_CIPHER_SUITE: Final = "InvalidTLSCipherSuite"
FAILED_TO_AUTHENTICATE: Final = "FailedToAuthenticationAtCentralSystem"

#: OpenSSL reasons meaning "no common protocol version" (A00.FR.315) ...
_VERSION_REASONS: Final = frozenset(
    {
        "UNSUPPORTED_PROTOCOL",
        "TLSV1_ALERT_PROTOCOL_VERSION",
        "WRONG_SSL_VERSION",
        "WRONG_VERSION_NUMBER",
        "VERSION_TOO_LOW",
        "NO_PROTOCOLS_AVAILABLE",
    }
)
#: ... and "no common cipher suite" (A00.FR.322).
_CIPHER_REASONS: Final = frozenset({"NO_SHARED_CIPHER", "NO_CIPHERS_AVAILABLE", "NO_CIPHER_MATCH"})
#: Alerts of a CSMS that refuses the station's client certificate, or its absence (profile 3).
_CLIENT_CERTIFICATE_REASONS: Final = frozenset(
    {
        "TLSV13_ALERT_CERTIFICATE_REQUIRED",
        "SSLV3_ALERT_BAD_CERTIFICATE",
        "SSLV3_ALERT_CERTIFICATE_EXPIRED",
        "SSLV3_ALERT_CERTIFICATE_REVOKED",
        "SSLV3_ALERT_CERTIFICATE_UNKNOWN",
        "SSLV3_ALERT_UNSUPPORTED_CERTIFICATE",
        "TLSV1_ALERT_UNKNOWN_CA",
    }
)


def harden(context: ssl.SSLContext) -> ssl.SSLContext:
    """Apply the whitepaper's policy to ``context``: TLS 1.2+ (A00.FR.312), the cipher suites of
    A00.FR.317-318 for TLS 1.2, no compression (A00.FR.320), no renegotiation."""
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(":".join(TLS12_CIPHERS))
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION
    return context


def client_context(
    ca_file: Path | None,
    roots: Sequence[str] = (),
    client_certificate: tuple[str, str] | None = None,
) -> ssl.SSLContext:
    """The station's context for a ``wss://`` connection.

    ``ca_file`` is the config file's ``caBundle``; ``roots`` are PEM texts of the installed
    CentralSystemRootCertificates. Together they are the trusted roots; a root text that is no
    certificate is logged and left out (the others still count). Without either, the system's default
    roots are trusted (a CSMS with a publicly trusted certificate, as before the certificate store).
    ``client_certificate`` is (certificate chain PEM, private key PEM) for security profile 3
    (A00.FR.401-): loaded when given; one that does not load is logged and the connection is made
    without it (the CSMS will refuse it, which is what the log explains)."""
    context = harden(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT))  # CERT_REQUIRED, check_hostname
    context.hostname_checks_common_name = True  # A00.FR.308 names the commonName
    if ca_file is not None:
        try:
            context.load_verify_locations(cafile=str(ca_file))
        except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
            raise OSError(f"caBundle {ca_file} does not load: {exc}") from None
    for index, pem in enumerate(roots):
        try:
            context.load_verify_locations(cadata=pem)
        except (ssl.SSLError, ValueError) as exc:
            log.error("installed CSMS root certificate #%d is not a PEM certificate, ignored: %s", index, exc)
    if ca_file is None and not roots:
        context.load_default_certs(ssl.Purpose.SERVER_AUTH)
    if client_certificate is not None:
        try:
            load_pem_chain(context, *client_certificate)
        except (ssl.SSLError, OSError, ValueError) as exc:
            log.error("the charge point certificate or its key does not load, connecting without: %s", exc)
    return context


def server_context(cert_file: Path, key_file: Path, ca_file: Path | None = None) -> ssl.SSLContext:
    """A Central System's context (the development CSMS; A00.FR.305-306, 312-320): ``cert_file`` (the
    certificate chain, PEM) and ``key_file``; with ``ca_file``, a client certificate issued under it is
    required (security profile 3, A00.FR.401-). Raises OSError or ssl.SSLError naming what does not load."""
    context = harden(ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER))
    try:
        context.load_cert_chain(str(cert_file), str(key_file))
    except ssl.SSLError as exc:
        raise ssl.SSLError(f"{cert_file} / {key_file}: not a certificate chain and its key: {exc}") from None
    if ca_file is not None:
        try:
            context.load_verify_locations(cafile=str(ca_file))
        except ssl.SSLError as exc:
            raise ssl.SSLError(f"{ca_file}: no PEM certificate in it: {exc}") from None
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def load_pem_chain(context: ssl.SSLContext, chain_pem: str, key_pem: str) -> None:
    """Load a certificate chain and its private key given as PEM texts (the ``ssl`` module reads only
    files: they are written to a private temporary directory, mode 0700, and removed at once)."""
    with tempfile.TemporaryDirectory(prefix="ocpp-tls-") as directory:
        cert_path = os.path.join(directory, "cert.pem")
        key_path = os.path.join(directory, "key.pem")
        for path, text in ((cert_path, chain_pem), (key_path, key_pem)):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="ascii") as f:
                f.write(text)
        context.load_cert_chain(cert_path, key_path)


@dataclass(frozen=True, slots=True)
class TlsFailure:
    """Why a handshake failed: the security event type (whitepaper §8) and the detail to log."""

    event: str
    requirement: str
    detail: str

    def describe(self) -> str:
        return f"{self.detail} (security event {self.event}, {self.requirement})"


def ssl_cause(exc: BaseException) -> ssl.SSLError | None:
    """The TLS error behind ``exc``: itself, or one it was raised from (websockets reports an alert
    that comes after the handshake, as TLS 1.3's certificate_required does, as a bad HTTP response)."""
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None or isinstance(seen, ssl.SSLError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def tls_failure(exc: BaseException) -> TlsFailure | None:
    """What a connection error (or the TLS error behind it) says; None when it is no TLS refusal
    the station can name (a network failure, an alert that says nothing more precise).

    * the CSMS's certificate is untrusted, expired, not yet valid or for another host:
      InvalidCentralSystemCertificate (A00.FR.309-310);
    * no common protocol version, the CSMS offers only TLS 1.1 or older: InvalidTLSVersion (A00.FR.315);
    * no common cipher suite: InvalidTLSCipherSuite (A00.FR.322);
    * the CSMS refused the station's client certificate or its absence (profile 3):
      FailedToAuthenticationAtCentralSystem (whitepaper §8).

    A server that fails a handshake may also just close the connection without an alert (asyncio's TLS
    servers, the development CSMS among them, do): the station sees a reset and cannot say why."""
    exc = ssl_cause(exc) or exc
    if isinstance(exc, ssl.SSLCertVerificationError):
        why = exc.verify_message or str(exc)
        return TlsFailure(
            INVALID_CENTRAL_SYSTEM_CERTIFICATE,
            "A00.FR.307-310",
            f"the central system's certificate is refused: {why} ({exc})",
        )
    if isinstance(exc, ssl.SSLError):
        reason = exc.reason or ""
        if reason in _VERSION_REASONS:
            return TlsFailure(
                INVALID_TLS_VERSION,
                "A00.FR.312-315",
                f"the central system offers no TLS version this station accepts (1.2 or newer): {exc}",
            )
        if reason in _CIPHER_REASONS:
            return TlsFailure(
                INVALID_TLS_CIPHER_SUITE,
                "A00.FR.318-322",
                f"the central system offers none of the cipher suites of A00.FR.318: {exc}",
            )
        if reason in _CLIENT_CERTIFICATE_REASONS:
            return TlsFailure(
                FAILED_TO_AUTHENTICATE,
                "A00.FR.401-407",
                f"the central system refused the charge point certificate (or its absence): {exc}",
            )
    return None
