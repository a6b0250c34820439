"""Simulated firmware images and their installer (for SimulatedHardware, demos and tests).

Image format (bytes)::

    OCPP-STATION-FIRMWARE v<version>\\n     header line, ASCII
    <payload>                               any bytes, any length (may be empty)
    \\nsha256:<64 lower-case hex digits>\\n   trailer, exactly 73 bytes

``<version>`` is 1..50 printable ASCII characters without whitespace (it becomes
BootNotification ``firmwareVersion``, a CiString50Type). The digest is the SHA-256 of
everything before the trailer (header line and payload). The trailer is found by position (the
last 73 bytes), so the payload may contain anything, including text that looks like a trailer.

A real charge point would also check a signature (OCPP 1.6 §8.1 recommends signed firmware);
the simulation only checks integrity.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

__all__ = ["MAGIC", "InstallError", "make_image", "parse_image", "verify_and_install"]

MAGIC = b"OCPP-STATION-FIRMWARE v"
_TRAILER_PREFIX = b"\nsha256:"
_TRAILER_LEN = len(_TRAILER_PREFIX) + 64 + 1
_VERSION = re.compile(rb"[\x21-\x7e]{1,50}")
_HEX = re.compile(rb"[0-9a-f]{64}")
MAX_HEADER = len(MAGIC) + 50 + 1


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


def verify_and_install(image: Path) -> str:
    """Verify the image file and "install" it; return the new ``firmwareVersion``.

    The simulation has nothing to flash: a verified image counts as installed. Blocking (reads
    the file); call it through ``asyncio.to_thread`` from the event loop.

    :raises InstallError: unreadable file, bad header or checksum mismatch.
    """
    try:
        data = Path(image).read_bytes()
    except OSError as exc:
        raise InstallError(f"cannot read image: {exc}") from None
    version, _payload = parse_image(data)
    return version
