"""Simulated firmware images and their installer (for SimulatedHardware, demos and tests).

Image format (bytes)::

    OCPP-STATION-FIRMWARE v<version>\\n     header line, ASCII
    <payload>                               any bytes, any length (may be empty)
    \\nsha256:<64 lower-case hex digits>\\n   trailer, exactly 73 bytes

``<version>`` is 1..50 printable ASCII characters without whitespace (it becomes
BootNotification ``firmwareVersion``, a CiString50Type). The digest is the SHA-256 of
everything before the trailer (header line and payload). The trailer is found by position (the
last 73 bytes), so the payload may contain anything, including text that looks like a trailer.

A signed update (security whitepaper L01) is checked by :func:`verify_signature` before it is
installed: the signature over the whole file, SHA-256, RSA-PSS or ECDSA (L01.FR.04); the installer
then only ever gets a verified image. A plain 1.6 UpdateFirmware image has no signature: the
simulation only checks its integrity.

Installing (:func:`verify_and_install`) has two modes:

* lenient (the simulator's default): any non-empty file installs, so a CSMS can send its own firmware
  file. A file that starts with the header above is one of ours and is checked in full (a bad
  checksum fails); any other file's version comes from its file name (:func:`version_from_name`).
* strict (``ev.strictFirmware`` in the config file): only valid images of the format above install.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

__all__ = [
    "MAGIC",
    "MAX_VERSION_LEN",
    "InstallError",
    "SignatureError",
    "make_image",
    "parse_image",
    "verify_and_install",
    "verify_signature",
    "version_from_name",
]

MAGIC = b"OCPP-STATION-FIRMWARE v"
_TRAILER_PREFIX = b"\nsha256:"
_TRAILER_LEN = len(_TRAILER_PREFIX) + 64 + 1
_VERSION = re.compile(rb"[\x21-\x7e]{1,50}")
_HEX = re.compile(rb"[0-9a-f]{64}")
#: BootNotification.req firmwareVersion is a CiString50Type (OCPP 1.6 §6.2).
MAX_VERSION_LEN = 50
MAX_HEADER = len(MAGIC) + MAX_VERSION_LEN + 1
#: A version in a file name: dotted numbers (at least two), an optional ``v`` before them and one
#: optional ``-``/``+`` suffix (``2.4.1``, ``v3.0``, ``2.0.0-rc1``, ``1.2+build7``); not glued to
#: more digits or dots on its left.
_NAME_VERSION = re.compile(r"(?<![0-9.])[vV]?(\d+(?:\.\d+)+(?:[-+][0-9A-Za-z]+)?)")
#: What a version derived from a file name may contain (no separators: never path-like).
_NAME_UNSAFE = re.compile(r"[^0-9A-Za-z._+-]")


class InstallError(Exception):
    """The image is not a valid firmware image; ``reason`` says why (header, checksum, I/O)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def make_image(version: str, payload: bytes) -> bytes:
    """A valid image of ``version`` carrying ``payload``.

    :raises ValueError: ``version`` is empty, too long or has whitespace/non-ASCII characters.
    """
    raw = version.encode("ascii", errors="replace")
    if not _VERSION.fullmatch(raw) or raw.decode("ascii") != version:
        raise ValueError(f"invalid firmware version {version!r}")
    body = MAGIC + raw + b"\n" + payload
    return body + _TRAILER_PREFIX + hashlib.sha256(body).hexdigest().encode("ascii") + b"\n"


def parse_image(data: bytes) -> tuple[str, bytes]:
    """The ``(version, payload)`` of a valid image.

    :raises InstallError: bad header, missing/malformed trailer or checksum mismatch.
    """
    if not data.startswith(MAGIC):
        raise InstallError("bad header: not an OCPP-STATION-FIRMWARE image")
    end = data.find(b"\n", 0, MAX_HEADER)
    if end < 0:
        raise InstallError("bad header: no version line")
    version = data[len(MAGIC) : end]
    if not _VERSION.fullmatch(version):
        raise InstallError("bad header: invalid version")
    if len(data) < end + _TRAILER_LEN:
        raise InstallError("truncated image: no checksum trailer")
    trailer = data[-_TRAILER_LEN:]
    digest = trailer[len(_TRAILER_PREFIX) : -1]
    if not trailer.startswith(_TRAILER_PREFIX) or not trailer.endswith(b"\n") or not _HEX.fullmatch(digest):
        raise InstallError("bad trailer: no sha256 checksum line")
    body = data[:-_TRAILER_LEN]
    if hashlib.sha256(body).hexdigest().encode("ascii") != digest:
        raise InstallError("checksum mismatch")
    return version.decode("ascii"), body[end + 1 :]


def version_from_name(name: str) -> str:
    """The firmware version a file name announces (lenient installs of files not made by us).

    The last version-looking part of the name (``acme-wallbox-2.4.1.bin`` -> ``2.4.1``,
    ``fw_v3.0-rc2.img`` -> ``3.0-rc2``); without one, the name without its extension
    (``wallbox-latest.bin`` -> ``wallbox-latest``). Only the final path component counts; characters
    other than ``A-Z a-z 0-9 . _ + -`` become ``_``, leading dots are dropped and the result is cut to
    :data:`MAX_VERSION_LEN` (BootNotification firmwareVersion, OCPP 1.6 §6.2).

    :raises InstallError: nothing usable is left of the name.
    """
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    matches = list(_NAME_VERSION.finditer(base))
    if matches:
        candidate = matches[-1].group(1)
    else:
        stem, dot, _extension = base.rpartition(".")
        candidate = stem if dot and stem.strip(".") else base
    version = _NAME_UNSAFE.sub("_", candidate).lstrip(".")[:MAX_VERSION_LEN]
    if not version.strip("._-"):
        raise InstallError(f"cannot derive a firmware version from the file name {name!r}")
    return version


def verify_and_install(image: Path, *, strict: bool = True) -> str:
    """Verify the image file and "install" it; return the new ``firmwareVersion``.

    ``strict``: only a valid image of ours installs. Otherwise any non-empty file does: one of ours
    (it starts with :data:`MAGIC`) must still be valid, any other gets :func:`version_from_name`.
    The simulation has nothing to flash: a verified image counts as installed. Blocking (reads
    the file); call it through ``asyncio.to_thread`` from the event loop.

    :raises InstallError: unreadable or empty file, bad header (strict) or checksum mismatch.
    """
    path = Path(image)
    try:
        with path.open("rb") as file:
            head = file.read(len(MAGIC))
            if not strict:
                if not head:
                    raise InstallError("empty image: the downloaded file has 0 bytes")
                if head != MAGIC:  # not one of ours: any file installs
                    return version_from_name(path.name)
            data = head + file.read()
    except OSError as exc:
        raise InstallError(f"cannot read image: {exc}") from None
    version, _payload = parse_image(data)
    return version


class SignatureError(Exception):
    """The firmware signature does not hold (security whitepaper L01: InvalidSignature); the message
    says why (bad base64, wrong key, modified image, unreadable file)."""


#: Bytes read at a time while hashing an image (images may be large).
_CHUNK = 1 << 20


def file_sha256(image: Path) -> bytes:
    """The SHA-256 digest of the whole file (read in chunks). :raises OSError: unreadable."""
    digest = hashlib.sha256()
    with Path(image).open("rb") as file:
        while chunk := file.read(_CHUNK):
            digest.update(chunk)
    return digest.digest()


def verify_signature(image: Path, signing_certificate: str, signature: str) -> None:
    """Check ``signature`` (base64, FirmwareType.signature) over the whole ``image`` file with the key of
    ``signing_certificate`` (PEM): SHA-256 (L01.FR.04); RSA-PSS (MGF1-SHA-256, any salt length) for an
    RSA key, ECDSA for an EC key (the whitepaper's ECSchnorr has no standard encoding; ECDSA is the
    signature A00.FR.505 names). The certificate itself is checked by the engine (L01.FR.23). Blocking.

    :raises SignatureError: the signature does not hold, or the file cannot be read.
    """
    try:
        raw = base64.b64decode(signature.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError("signature is not base64") from None
    if not raw:
        raise SignatureError("signature is empty")
    try:
        key = x509.load_pem_x509_certificate(signing_certificate.encode("ascii")).public_key()
    except (ValueError, UnicodeEncodeError) as exc:
        raise SignatureError(f"signing certificate unreadable: {exc}") from None
    try:
        digest = file_sha256(image)
    except OSError as exc:
        raise SignatureError(f"cannot read image: {exc}") from None
    prehashed = utils.Prehashed(hashes.SHA256())
    try:
        if isinstance(key, rsa.RSAPublicKey):
            pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO)
            key.verify(raw, digest, pss, prehashed)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(raw, digest, ec.ECDSA(prehashed))
        else:
            raise SignatureError(f"unsupported signing key {type(key).__name__}: RSA or EC expected")
    except InvalidSignature:
        raise SignatureError("signature does not match the image (SHA-256, RSA-PSS / ECDSA)") from None
