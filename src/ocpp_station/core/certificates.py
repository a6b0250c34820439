"""X.509 certificates of the security whitepaper (OCPP 1.6 security whitepaper edition 3, §2.6, §6.1):
parsing, the checks a CA certificate must pass, and the CertificateHashData that names one. Pure: text
in, values out, no file, no clock (the time to check validity against is passed in: OCPP time).

**CertificateHashDataType** (§6.1, edition 3, which follows OCSP, RFC 6960 §4.1.1):

* ``issuerNameHash``: the hash of the DER encoding of the certificate's *issuer* name;
* ``issuerKeyHash``: the hash of the issuer's public key: the value of the BIT STRING
  ``subjectPublicKey`` in the issuer's certificate, tag, length and unused-bits octet excluded (what
  OpenSSL and the PyCA's OCSP builder hash). A self-signed root is its own issuer; any other
  certificate needs its issuer at hand, so the store keeps the issuer's key bits with it;
* ``serialNumber``: hexadecimal, no leading zeros, no ``0x`` (4095 is ``FFF``);
* hashes as hexadecimal text (lower case; CiStrings, so compared without case).

**What a certificate installed as a root must be** (the checks of :func:`check_ca`): one X.509
certificate in PEM (A00.FR.507) with a non-negative serial number of at most 20 octets (A00.FR.508,
CiString40), a CA certificate (basicConstraints cA), and a key of at least 2048 bits for RSA / DSA
(A00.FR.502) or 224 bits for elliptic curves (A00.FR.503).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ocpp_station.wire.messages import CertificateHashDataType, CertificateUseEnumType, HashAlgorithmEnumType

CSMS_ROOT = CertificateUseEnumType.CentralSystemRootCertificate
MANUFACTURER_ROOT = CertificateUseEnumType.ManufacturerRootCertificate

#: HashAlgorithmEnumType (§6.12) -> the hash function.
HASHES = {
    HashAlgorithmEnumType.SHA256: hashlib.sha256,
    HashAlgorithmEnumType.SHA384: hashlib.sha384,
    HashAlgorithmEnumType.SHA512: hashlib.sha512,
}

#: Smallest keys allowed (A00.FR.501-503: security equivalent to 112 symmetric bits).
MIN_RSA_DSA_BITS = 2048
MIN_EC_BITS = 224


class CertificateError(ValueError):
    """Not a certificate the store takes; the message says why (and cites the requirement)."""


class UnknownIssuer(CertificateError):
    """Neither self-signed nor issued by an installed certificate: its issuerKeyHash (§6.1) cannot be
    computed. The certificate itself may be fine."""


# -- parsing and checks -------------------------------------------------------------------------------
def parse_certificates(text: str) -> list[x509.Certificate]:
    """Every certificate of a PEM text (a bundle may hold several), in order."""
    try:
        certificates = x509.load_pem_x509_certificates(text.encode("ascii"))
    except UnicodeEncodeError:
        raise CertificateError("not PEM: PEM is ASCII text (A00.FR.507)") from None
    except ValueError as exc:
        raise CertificateError(f"no X.509 certificate in PEM (A00.FR.507): {exc}") from None
    return certificates


def parse_certificate(text: str) -> x509.Certificate:
    """The one certificate of a PEM text (InstallCertificate.req carries one, §5.11)."""
    certificates = parse_certificates(text)
    if len(certificates) != 1:
        raise CertificateError(f"one certificate expected, the PEM text holds {len(certificates)}")
    return certificates[0]


def to_pem(certificate: x509.Certificate) -> str:
    """The certificate as PEM text (what the store keeps and ``csms_roots()`` gives)."""
    return certificate.public_bytes(Encoding.PEM).decode("ascii")


def check_ca(certificate: x509.Certificate) -> None:
    """Raise CertificateError unless ``certificate`` may be installed as a root / CA certificate
    (the module docstring lists the checks)."""
    serial = certificate.serial_number
    if serial < 0:
        raise CertificateError(f"negative serial number {serial} (A00.FR.508, RFC 5280 §4.1.2.2)")
    if len(serial_hex(certificate)) > 40:
        raise CertificateError("serial number longer than 20 octets (RFC 5280 §4.1.2.2, CiString40)")
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        raise CertificateError("not a CA certificate: no basicConstraints extension") from None
    except ValueError as exc:  # a malformed extension
        raise CertificateError(f"unreadable extensions: {exc}") from None
    if not constraints.ca:
        raise CertificateError("not a CA certificate: basicConstraints cA is false")
    key = certificate.public_key()
    if isinstance(key, (rsa.RSAPublicKey, dsa.DSAPublicKey)) and key.key_size < MIN_RSA_DSA_BITS:
        raise CertificateError(f"{key.key_size}-bit key, at least {MIN_RSA_DSA_BITS} required (A00.FR.502)")
    if isinstance(key, ec.EllipticCurvePublicKey) and key.key_size < MIN_EC_BITS:
        raise CertificateError(f"{key.key_size}-bit curve, at least {MIN_EC_BITS} required (A00.FR.503)")


def validity_problem(certificate: x509.Certificate, at: float) -> str | None:
    """Why ``certificate`` is not valid at ``at`` (POSIX seconds, OCPP time), or None."""
    not_before = certificate.not_valid_before_utc
    not_after = certificate.not_valid_after_utc
    if at < not_before.timestamp():
        return f"not valid before {not_before.isoformat()}"
    if at > not_after.timestamp():
        return f"expired {not_after.isoformat()}"
    return None


def issued_by(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    """``issuer``'s subject is ``certificate``'s issuer and its key verifies the signature."""
    try:
        certificate.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


# -- CertificateHashDataType (§6.1) ------------------------------------------------------------------
def _der_items(data: bytes) -> Iterator[tuple[int, bytes]]:
    """The (tag, content) of each DER element in ``data`` (one level)."""
    i = 0
    while i < len(data):
        tag, length = data[i], data[i + 1]
        i += 2
        if length & 0x80:
            octets = length & 0x7F
            length = int.from_bytes(data[i : i + octets], "big")
            i += octets
        yield tag, data[i : i + length]
        i += length


def public_key_bits(certificate: x509.Certificate) -> bytes:
    """The value of the certificate's subjectPublicKey BIT STRING (RFC 6960 §4.1.1: what
    issuerKeyHash hashes), the unused-bits octet left out."""
    spki = certificate.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    ((_, fields),) = _der_items(spki)  # SEQUENCE { algorithm, subjectPublicKey }
    tag, bits = list(_der_items(fields))[1]
    if tag != 0x03:  # BIT STRING
        raise CertificateError("subjectPublicKey is not a BIT STRING")
    return bits[1:]


def serial_hex(certificate: x509.Certificate) -> str:
    """The serial number as §6.1 writes it: upper-case hexadecimal without leading zeros."""
    return format(certificate.serial_number, "X")


def hash_data(
    certificate: x509.Certificate,
    issuer_key: bytes,
    algorithm: HashAlgorithmEnumType = HashAlgorithmEnumType.SHA256,
) -> CertificateHashDataType:
    """The CertificateHashData naming ``certificate``, whose issuer's key bits are ``issuer_key``."""
    digest = HASHES[algorithm]
    return CertificateHashDataType(
        hash_algorithm=algorithm,
        issuer_name_hash=digest(certificate.issuer.public_bytes()).hexdigest(),
        issuer_key_hash=digest(issuer_key).hexdigest(),
        serial_number=serial_hex(certificate),
    )


def same_hash_data(a: CertificateHashDataType, b: CertificateHashDataType) -> bool:
    """Whether two CertificateHashData name the same certificate: CiStrings, compared without case;
    a serial number given with leading zeros still matches."""
    return (
        a.hash_algorithm == b.hash_algorithm
        and a.issuer_name_hash.lower() == b.issuer_name_hash.lower()
        and a.issuer_key_hash.lower() == b.issuer_key_hash.lower()
        and (a.serial_number.upper().lstrip("0") or "0") == (b.serial_number.upper().lstrip("0") or "0")
    )


# -- the store ---------------------------------------------------------------------------------------
def record_key(use: CertificateUseEnumType, certificate: x509.Certificate) -> str:
    """The key of a certificate in the store and its records: the use and the SHA-256 fingerprint
    of the DER certificate."""
    return f"{use.value}:{certificate.fingerprint(hashes.SHA256()).hex()}"


@dataclass(frozen=True, slots=True)
class InstalledCertificate:
    """One certificate of the store, for one certificateUse."""

    use: CertificateUseEnumType
    certificate: x509.Certificate
    #: The issuer's public-key bits (its own for a self-signed root): what issuerKeyHash hashes.
    issuer_key: bytes
    #: The previous CentralSystemRootCertificate, kept while the new one is not proven (M05.FR.11).
    fallback: bool = False
    #: Installed at manufacturing or installation (the config file's ``security``), not by the CSMS.
    from_file: bool = False

    @property
    def key(self) -> str:
        return record_key(self.use, self.certificate)

    @property
    def pem(self) -> str:
        return to_pem(self.certificate)

    def hash_data(
        self, algorithm: HashAlgorithmEnumType = HashAlgorithmEnumType.SHA256
    ) -> CertificateHashDataType:
        return hash_data(self.certificate, self.issuer_key, algorithm)

    def named_by(self, data: CertificateHashDataType) -> bool:
        return same_hash_data(self.hash_data(data.hash_algorithm), data)

    def valid_at(self, at: float) -> bool:
        return validity_problem(self.certificate, at) is None

    def to_record(self, seq: int) -> dict[str, Any]:
        """What survives a restart: the PEM text, the issuer's key bits, the role, the order."""
        return {
            "use": self.use.value,
            "pem": self.pem,
            "issuerKey": self.issuer_key.hex(),
            "fallback": self.fallback,
            "seq": seq,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> InstalledCertificate:
        """Back from :meth:`to_record`; CertificateError (a ValueError) for a damaged record."""
        try:
            return cls(
                use=CertificateUseEnumType(record["use"]),
                certificate=parse_certificate(record["pem"]),
                issuer_key=bytes.fromhex(record["issuerKey"]),
                fallback=bool(record.get("fallback", False)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise CertificateError(f"damaged certificate record: {exc!r}") from None


class CertificateStore:
    """The installed certificates by record key, in installation order."""

    def __init__(self) -> None:
        self._entries: dict[str, InstalledCertificate] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[InstalledCertificate]:
        return iter(list(self._entries.values()))

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def get(self, key: str) -> InstalledCertificate | None:
        return self._entries.get(key)

    def put(self, entry: InstalledCertificate) -> None:
        """Add ``entry``, or replace the one of the same key where it stands."""
        self._entries[entry.key] = entry

    def remove(self, key: str) -> InstalledCertificate | None:
        return self._entries.pop(key, None)

    def of_use(self, use: CertificateUseEnumType) -> list[InstalledCertificate]:
        """The certificates of ``use``: the current ones first, then a fallback (M05.FR.11)."""
        entries = [e for e in self._entries.values() if e.use == use]
        return [e for e in entries if not e.fallback] + [e for e in entries if e.fallback]

    def named_by(self, data: CertificateHashDataType) -> list[InstalledCertificate]:
        """Every certificate the hash data names (one certificate installed for both uses: two)."""
        return [e for e in self._entries.values() if e.named_by(data)]

    def issuer_key_of(self, certificate: x509.Certificate) -> bytes:
        """The issuer's key bits of ``certificate``: its own when self-signed, else an installed
        certificate's that verifies it; UnknownIssuer otherwise."""
        if issued_by(certificate, certificate):
            return public_key_bits(certificate)
        for entry in self._entries.values():
            if issued_by(certificate, entry.certificate):
                return public_key_bits(entry.certificate)
        raise UnknownIssuer(
            f"issuer {certificate.issuer.rfc4514_string()!r} is neither the certificate itself nor installed:"
            " its issuerKeyHash (§6.1) cannot be computed"
        )

    def identify(
        self, use: CertificateUseEnumType, certificate: x509.Certificate, *, from_file: bool = False
    ) -> InstalledCertificate:
        """``certificate`` ready to install for ``use`` (its issuer's key found); UnknownIssuer."""
        return InstalledCertificate(use, certificate, self.issuer_key_of(certificate), from_file=from_file)


def add_installed(store: CertificateStore, use: str, text: str) -> None:
    """Add every certificate of the PEM ``text`` to ``store`` as installed at manufacturing or
    installation (§2.6.4) for ``use``: each must pass :func:`check_ca` and be self-signed or issued by
    one already in ``store``: CertificateError otherwise."""
    try:
        kind = CertificateUseEnumType(use)
    except ValueError:
        raise CertificateError(f"unknown certificateUse {use!r}") from None
    for certificate in parse_certificates(text):
        check_ca(certificate)
        store.put(store.identify(kind, certificate, from_file=True))


def initial_store(entries: Iterable[tuple[str, str]]) -> CertificateStore:
    """The store of the certificates installed at manufacturing or installation: (use, PEM text)
    pairs, in order (:func:`add_installed`); CertificateError naming the pair's index."""
    store = CertificateStore()
    for index, (use, text) in enumerate(entries):
        try:
            add_installed(store, use, text)
        except CertificateError as exc:
            raise type(exc)(f"[{index}]: {exc}") from None
    return store


# -- the ChargePointCertificate (A02, A03, §2.6) -----------------------------------------------------
def key_id(public_key_pem: str) -> str:
    """The name of a key pair: the SHA-256 of its public key's DER SubjectPublicKeyInfo, hexadecimal.
    The engine knows a pending or installed key pair only by it (the private key stays in the shell,
    A02.FR.05); the shell names the key file after it."""
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    try:
        key = load_pem_public_key(public_key_pem.encode("ascii"))
    except (ValueError, UnicodeEncodeError) as exc:
        raise CertificateError(f"not a PEM public key: {exc}") from None
    return spki_id(key)


def spki_id(key: Any) -> str:
    """:func:`key_id` of a loaded public key (or of a certificate's)."""
    return hashlib.sha256(key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)).hexdigest()


def _name_values(name: x509.Name, oid: x509.ObjectIdentifier) -> list[str]:
    return [str(attribute.value) for attribute in name.get_attributes_for_oid(oid)]


def check_key_size(certificate: x509.Certificate) -> None:
    """A00.FR.501-503: at least 2048 bits RSA / DSA, 224 bits elliptic curve."""
    key = certificate.public_key()
    if isinstance(key, (rsa.RSAPublicKey, dsa.DSAPublicKey)) and key.key_size < MIN_RSA_DSA_BITS:
        raise CertificateError(f"{key.key_size}-bit key, at least {MIN_RSA_DSA_BITS} required (A00.FR.502)")
    if isinstance(key, ec.EllipticCurvePublicKey) and key.key_size < MIN_EC_BITS:
        raise CertificateError(f"{key.key_size}-bit curve, at least {MIN_EC_BITS} required (A00.FR.503)")


def _is_ca(certificate: x509.Certificate) -> bool:
    try:
        return bool(certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False
    except ValueError as exc:
        raise CertificateError(f"unreadable extensions: {exc}") from None


def check_leaf_properties(leaf: x509.Certificate, *, organization: str, common_name: str) -> None:
    """The Certificate Properties (§2.6.1) of a ChargePointCertificate: a serial number (A00.FR.508),
    the CpoName in the O RDN (A00.FR.509, A02.FR.13: as the CSR asked), the charge point's serial
    number in the CN RDN (A00.FR.511), no CA, a key large enough (A00.FR.501-503), and, where the
    extensions are present, usable for a TLS client (digitalSignature, clientAuth; A00.FR.512)."""
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    serial = leaf.serial_number
    if serial <= 0 or len(serial_hex(leaf)) > 40:
        raise CertificateError(
            f"serial number {serial} is not a positive number of at most 20 octets (A00.FR.508)"
        )
    organizations = _name_values(leaf.subject, NameOID.ORGANIZATION_NAME)
    if organization not in organizations:
        raise CertificateError(
            f"subject O {organizations or '(none)'} is not the CpoName {organization!r} (A00.FR.509, A02.FR.13)"
        )
    names = _name_values(leaf.subject, NameOID.COMMON_NAME)
    if names != [common_name]:
        raise CertificateError(
            f"subject CN {names or '(none)'} is not the charge point's serial number {common_name!r} (A00.FR.511)"
        )
    if _is_ca(leaf):
        raise CertificateError("a CA certificate, not a charge point certificate (basicConstraints cA)")
    check_key_size(leaf)
    try:
        usage = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
        if not usage.digital_signature:
            raise CertificateError(
                "keyUsage without digitalSignature: no TLS client certificate (A00.FR.512)"
            )
    except x509.ExtensionNotFound:
        pass
    try:
        purposes = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        if ExtendedKeyUsageOID.CLIENT_AUTH not in purposes:
            raise CertificateError(
                "extendedKeyUsage without clientAuth: no TLS client certificate (A00.FR.402)"
            )
    except x509.ExtensionNotFound:
        pass


def check_hierarchy(chain: list[x509.Certificate], roots: Iterable[str], at: float) -> None:
    """The chain (leaf first, then sub-CA certificates in any order) leads from the leaf to one of
    ``roots`` (PEM texts of the installed CentralSystemRootCertificates: the CPO hierarchy, §2.6.2,
    A02.FR.06): each link's signature verifies, every issuer on the way is a CA valid at ``at``."""
    anchors: list[x509.Certificate] = []
    for text in roots:
        try:
            anchors.extend(parse_certificates(text))
        except CertificateError:
            continue
    if not anchors:
        raise CertificateError(
            "no CentralSystemRootCertificate installed: the CPO hierarchy is unknown (A02.FR.06)"
        )
    current = chain[0]
    spare = list(chain[1:])
    for _ in range(len(chain) + 1):
        for anchor in anchors:
            if issued_by(current, anchor):
                return
        issuer = next((c for c in spare if issued_by(current, c)), None)
        if issuer is None:
            break
        if not _is_ca(issuer):
            raise CertificateError(f"{issuer.subject.rfc4514_string()!r} in the chain is no CA certificate")
        problem = validity_problem(issuer, at)
        if problem is not None:
            raise CertificateError(f"{issuer.subject.rfc4514_string()!r} in the chain is {problem}")
        spare.remove(issuer)
        current = issuer
    raise CertificateError(
        f"issuer {current.issuer.rfc4514_string()!r} leads to no installed CentralSystemRootCertificate"
        " (not of the CPO hierarchy, A02.FR.06)"
    )


@dataclass(frozen=True, slots=True)
class SignedCertificate:
    """A ChargePointCertificate checked by :func:`check_charge_point_certificate`."""

    chain_pem: str
    leaf: x509.Certificate
    key_id: str

    @property
    def not_before(self) -> float:
        return self.leaf.not_valid_before_utc.timestamp()

    @property
    def not_after(self) -> float:
        return self.leaf.not_valid_after_utc.timestamp()


def check_charge_point_certificate(
    chain_pem: str,
    *,
    key: str | None,
    organization: str,
    common_name: str,
    roots: Iterable[str],
    at: float,
) -> SignedCertificate:
    """A CertificateSigned.req's certificateChain (§5.1, A02.FR.06, A03.FR.06), checked: PEM X.509
    certificates (A00.FR.507), the leaf first; its public key is the key pair ``key`` (a
    :func:`key_id`; None: no key pair awaits a certificate); not expired at ``at`` (OCPP time; a
    certificate not valid *yet* is taken and used from its notBefore on, A02.FR.08); the Certificate
    Properties (:func:`check_leaf_properties`); part of the CPO hierarchy (:func:`check_hierarchy`).
    CertificateError saying why otherwise."""
    chain = parse_certificates(chain_pem)
    if not chain:
        raise CertificateError("no certificate in the certificateChain (A00.FR.507)")
    leaf = chain[0]
    if key is None:
        raise CertificateError("no key pair awaits a certificate: no SignCertificate.req was sent")
    if spki_id(leaf.public_key()) != key:
        raise CertificateError("its public key is not the one of the key pair sent in the CSR (A02.FR.06)")
    if at > leaf.not_valid_after_utc.timestamp():
        raise CertificateError(f"expired {leaf.not_valid_after_utc.isoformat()} (A02.FR.06)")
    check_leaf_properties(leaf, organization=organization, common_name=common_name)
    check_hierarchy(chain, roots, at)
    text = "".join(to_pem(c) for c in chain)
    return SignedCertificate(text, leaf, key)
