"""Firmware download and diagnostics upload over HTTP, HTTPS and FTP (OCPP 1.6 §8, §5.9, §5.19).

A thin asyncio adapter the station shell calls for the engine's ``DownloadFirmware`` and
``UploadDiagnostics`` effects:

* :func:`download` fetches a URL to a local path. HTTP(S) goes through aiohttp, FTP through the
  stdlib :mod:`ftplib` in a worker thread (passive mode, ``ftp://user:password@host:port/path``).
  The body is streamed to a hidden temporary file next to ``dest``, fsync'ed and renamed over
  ``dest``: ``dest`` is either the complete file or untouched, never a half file.
* :func:`upload` sends a local file to a URL. HTTP(S) defaults to a ``POST`` of a
  ``multipart/form-data`` body with a single field ``file`` carrying the file name, which is
  what the common CSMSs (SteVe, and most home-made ones built on web frameworks' upload
  handlers) accept; ``method="PUT"`` sends the raw bytes instead (S3/WebDAV style pre-signed
  URLs). FTP ``STOR``\\ s to the URL path, appending the file name when the path ends with ``/``.
* :func:`build_diagnostics_archive` writes the zip whose name becomes ``GetDiagnostics.conf``
  ``fileName``.

Both transfers make ``1 + retries`` attempts with ``retry_interval_s`` between them (the
caller passes the OCPP ``retries``/``retryInterval``) and raise :class:`TransferError` after the
last one; no other exception type escapes (cancellation excepted). FTP paths follow RFC 1738:
they are relative to the login directory, ``%2F`` makes them absolute.
"""

from __future__ import annotations

import asyncio
import contextlib
import ftplib
import io
import json
import os
import re
import ssl
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Literal
from urllib.parse import SplitResult, unquote, urlsplit, urlunsplit

import aiohttp

from ocpp_station.core.features.firmware import diagnostics_file_name
from ocpp_station.wire.timestamps import parse_datetime

__all__ = [
    "DEFAULT_DOWNLOAD_NAME",
    "DEFAULT_MAX_BYTES",
    "SUPPORTED_SCHEMES",
    "TransferError",
    "build_diagnostics_archive",
    "download",
    "download_name",
    "upload",
]

SUPPORTED_SCHEMES: tuple[str, ...] = ("http", "https", "ftp")
"""URL schemes handled here; ``SupportedFileTransferProtocols`` lists them upper-cased."""

DEFAULT_MAX_BYTES = 64 * 1024 * 1024
_CHUNK = 64 * 1024
#: A downloaded file's name when the URL path gives none.
DEFAULT_DOWNLOAD_NAME = "firmware.bin"
_MAX_NAME = 100
_NAME_UNSAFE = re.compile(r"[^0-9A-Za-z._+-]")


class TransferError(Exception):
    """A download or upload failed for good (after the last attempt).

    ``url`` is the URL with any password masked, ``reason`` a short human-readable cause
    (HTTP status, FTP reply, OS error, timeout, size limit, unsupported scheme).
    """

    def __init__(self, url: str, reason: str) -> None:
        self.url = redact_url(url)
        self.reason = reason
        super().__init__(f"{self.url}: {reason}")


def redact_url(url: str) -> str:
    """``url`` with the password of its user-info part replaced by ``***``."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        port = f":{parts.port}" if parts.port is not None else ""
        netloc = f"{parts.username or ''}:***@{host}{port}"
        return urlunsplit(parts._replace(netloc=netloc))
    except ValueError:
        return url


def _scheme(url: str) -> str:
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError as exc:
        raise TransferError(url, f"invalid URL: {exc}") from None
    if scheme not in SUPPORTED_SCHEMES:
        raise TransferError(url, f"unsupported scheme {scheme!r} (supported: {', '.join(SUPPORTED_SCHEMES)})")
    return scheme


def download_name(url: str) -> str:
    """The name a download is saved under: the last segment of the URL path, percent-decoded
    (``https://h/fw/acme-2.4.1.bin?sig=...`` -> ``acme-2.4.1.bin``), made safe for any file system:
    characters other than ``A-Z a-z 0-9 . _ + -`` become ``_``, leading dots go, at most 100
    characters; :data:`DEFAULT_DOWNLOAD_NAME` when nothing is left. Never a path."""
    try:
        path = urlsplit(url).path
    except ValueError:
        path = ""
    name = _NAME_UNSAFE.sub("_", unquote(path.rsplit("/", 1)[-1])).lstrip(".")[:_MAX_NAME]
    return name if name.strip("._-") else DEFAULT_DOWNLOAD_NAME


async def _with_retries(url: str, attempt: Callable[[], Any], retries: int, retry_interval_s: float) -> Any:
    last: TransferError | None = None
    for n in range(max(0, retries) + 1):
        if n:
            await asyncio.sleep(max(0.0, retry_interval_s))
        try:
            return await attempt()
        except TransferError as exc:
            last = exc
    assert last is not None
    raise last


# ----------------------------------------------------------------------------------------- download


async def download(
    url: str,
    dest: Path,
    *,
    retries: int = 0,
    retry_interval_s: float = 0,
    timeout_s: float = 60,
    ssl_context: ssl.SSLContext | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Path:
    """Fetch ``url`` into ``dest`` (atomically) and return ``dest``.

    Makes ``1 + retries`` attempts, sleeping ``retry_interval_s`` between them; each attempt is
    bounded by ``timeout_s`` and fails when the body exceeds ``max_bytes``. ``ssl_context``
    verifies HTTPS servers (the system trust store when ``None``).

    :raises TransferError: unsupported scheme (at once) or the last attempt failed.
    """
    scheme = _scheme(url)
    dest = Path(dest)

    async def attempt() -> Path:
        if scheme == "ftp":
            await _run_in_thread(url, _ftp_download, url, dest, timeout_s, max_bytes)
        else:
            await _http_download(url, dest, timeout_s, ssl_context, max_bytes)
        return dest

    result: Path = await _with_retries(url, attempt, retries, retry_interval_s)
    return result


def _temp_beside(dest: Path) -> tuple[int, Path]:
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name[:200]}.", suffix=".part")
    return fd, Path(name)


def _commit(tmp: IO[bytes], tmp_path: Path, dest: Path) -> None:
    tmp.flush()
    os.fsync(tmp.fileno())
    tmp.close()
    os.replace(tmp_path, dest)
    with contextlib.suppress(OSError):  # persist the rename itself (POSIX; not on Windows)
        dir_fd = os.open(dest.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _write_file(dest: Path, write: Callable[[IO[bytes]], object]) -> None:
    """Write ``dest`` whole or not at all: ``write`` fills a temporary file beside it, which is then
    synced and renamed over it (removed if ``write`` fails)."""
    fd, tmp_path = _temp_beside(dest)
    committed = False
    try:
        with os.fdopen(fd, "wb") as tmp:
            write(tmp)
            _commit(tmp, tmp_path, dest)
            committed = True
    finally:
        if not committed:
            with contextlib.suppress(OSError):
                tmp_path.unlink()


async def _http_download(
    url: str, dest: Path, timeout_s: float, ssl_context: ssl.SSLContext | None, max_bytes: int
) -> None:
    try:
        fd, tmp_path = _temp_beside(dest)
    except OSError as exc:
        raise TransferError(url, f"cannot create temporary file: {exc}") from None
    committed = False
    try:
        with os.fdopen(fd, "wb") as tmp:
            timeout = aiohttp.ClientTimeout(total=timeout_s)
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.get(url, ssl=ssl_context if ssl_context is not None else True) as resp,
            ):
                if resp.status != 200:
                    raise TransferError(url, f"HTTP {resp.status} {resp.reason or ''}".rstrip())
                if resp.content_length is not None and resp.content_length > max_bytes:
                    raise TransferError(url, f"file too large ({resp.content_length} > {max_bytes} bytes)")
                size = 0
                async for chunk in resp.content.iter_chunked(_CHUNK):
                    size += len(chunk)
                    if size > max_bytes:
                        raise TransferError(url, f"file too large (> {max_bytes} bytes)")
                    tmp.write(chunk)
            await asyncio.to_thread(_commit, tmp, tmp_path, dest)
            committed = True
    except TransferError:
        raise
    except TimeoutError:
        raise TransferError(url, f"timed out after {timeout_s:g} s") from None
    except (aiohttp.ClientError, OSError, ValueError) as exc:
        raise TransferError(url, _describe(exc)) from None
    finally:
        if not committed:
            with contextlib.suppress(OSError):
                tmp_path.unlink()


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# ----------------------------------------------------------------------------------------------- FTP


class _Aborted(Exception):
    pass


async def _run_in_thread(url: str, func: Callable[..., None], *args: Any) -> None:
    """Run a blocking FTP transfer in a thread; a cancelled caller makes it stop at the next block."""
    abort = threading.Event()
    try:
        await asyncio.to_thread(func, *args, abort)
    except asyncio.CancelledError:
        abort.set()
        raise


def _ftp_connect(url: str, timeout_s: float) -> tuple[ftplib.FTP, str]:
    """Connected, logged-in, passive-mode FTP client and the unquoted RFC 1738 path."""
    parts: SplitResult = urlsplit(url)
    if not parts.hostname:
        raise TransferError(url, "no host in URL")
    user = unquote(parts.username) if parts.username else "anonymous"
    password = (
        unquote(parts.password)
        if parts.password is not None
        else ("anonymous@" if user == "anonymous" else "")
    )
    ftp = ftplib.FTP(timeout=timeout_s)
    try:
        ftp.connect(parts.hostname, parts.port or 21)
        ftp.login(user, password)
        ftp.set_pasv(True)
    except BaseException:
        ftp.close()
        raise
    path = parts.path[1:] if parts.path.startswith("/") else parts.path
    return ftp, unquote(path)


def _ftp_close(ftp: ftplib.FTP) -> None:
    try:
        ftp.quit()
    except Exception:  # the transfer's outcome is already decided; just drop the connection
        ftp.close()


def _ftp_errors(url: str, timeout_s: float, body: Callable[[], None]) -> None:
    try:
        body()
    except TransferError:
        raise
    except _Aborted:
        raise TransferError(url, "aborted") from None
    except TimeoutError:
        raise TransferError(url, f"timed out after {timeout_s:g} s") from None
    except ftplib.error_reply as exc:
        raise TransferError(url, f"unexpected FTP reply: {exc}") from None
    except ftplib.all_errors as exc:
        raise TransferError(url, _describe(exc)) from None
    except (ValueError, UnicodeError) as exc:
        raise TransferError(url, _describe(exc)) from None


def _ftp_download(url: str, dest: Path, timeout_s: float, max_bytes: int, abort: threading.Event) -> None:
    deadline = time.monotonic() + timeout_s

    def body() -> None:
        fd, tmp_path = _temp_beside(dest)
        committed = False
        try:
            with os.fdopen(fd, "wb") as tmp:
                ftp, path = _ftp_connect(url, timeout_s)
                try:
                    if not path:
                        raise TransferError(url, "no file path in URL")
                    size = 0

                    def write(block: bytes) -> None:
                        nonlocal size
                        if abort.is_set():
                            raise _Aborted
                        if time.monotonic() > deadline:
                            raise TimeoutError
                        size += len(block)
                        if size > max_bytes:
                            raise TransferError(url, f"file too large (> {max_bytes} bytes)")
                        tmp.write(block)

                    ftp.retrbinary(f"RETR {path}", write, blocksize=_CHUNK)
                finally:
                    _ftp_close(ftp)
                if abort.is_set():
                    raise _Aborted
                _commit(tmp, tmp_path, dest)
                committed = True
        finally:
            if not committed:
                with contextlib.suppress(OSError):
                    tmp_path.unlink()

    _ftp_errors(url, timeout_s, body)


def _ftp_upload(url: str, source: Path, timeout_s: float, abort: threading.Event) -> None:
    deadline = time.monotonic() + timeout_s

    def body() -> None:
        with source.open("rb") as fh:
            ftp, path = _ftp_connect(url, timeout_s)
            try:
                if not path or path.endswith("/"):
                    path += source.name

                def check(_block: bytes) -> None:
                    if abort.is_set():
                        raise _Aborted
                    if time.monotonic() > deadline:
                        raise TimeoutError

                ftp.storbinary(f"STOR {path}", fh, blocksize=_CHUNK, callback=check)
            finally:
                _ftp_close(ftp)

    _ftp_errors(url, timeout_s, body)


# ------------------------------------------------------------------------------------------- upload


async def upload(
    url: str,
    source: Path,
    *,
    retries: int = 0,
    retry_interval_s: float = 0,
    timeout_s: float = 60,
    ssl_context: ssl.SSLContext | None = None,
    method: Literal["POST", "PUT"] = "POST",
    field_name: str = "file",
) -> None:
    """Send ``source`` to ``url``.

    HTTP(S): ``POST`` as ``multipart/form-data`` with one part named ``field_name`` (default
    ``"file"``) whose filename is ``source.name``; ``method="PUT"`` sends the raw bytes as
    ``application/octet-stream``. Any 2xx status is success. FTP: ``STOR`` to the URL path, or
    to ``<path>/<source.name>`` when the path ends with ``/`` (or is empty).

    Makes ``1 + retries`` attempts, sleeping ``retry_interval_s`` between them.

    :raises TransferError: unsupported scheme (at once), unreadable ``source`` (at once) or the
        last attempt failed.
    """
    scheme = _scheme(url)
    source = Path(source)
    if not source.is_file():
        raise TransferError(url, f"no such file to upload: {source}")

    async def attempt() -> None:
        if scheme == "ftp":
            await _run_in_thread(url, _ftp_upload, url, source, timeout_s)
        else:
            await _http_upload(url, source, timeout_s, ssl_context, method, field_name)

    await _with_retries(url, attempt, retries, retry_interval_s)


async def _http_upload(
    url: str,
    source: Path,
    timeout_s: float,
    ssl_context: ssl.SSLContext | None,
    method: Literal["POST", "PUT"],
    field_name: str,
) -> None:
    try:
        timeout = aiohttp.ClientTimeout(total=timeout_s)
        with source.open("rb") as fh:
            data: aiohttp.FormData | IO[bytes]
            headers: dict[str, str] = {}
            if method == "POST":
                data = aiohttp.FormData()
                data.add_field(field_name, fh, filename=source.name, content_type=_content_type(source))
            else:
                data = fh
                headers["Content-Type"] = "application/octet-stream"
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.request(
                    method,
                    url,
                    data=data,
                    headers=headers,
                    ssl=ssl_context if ssl_context is not None else True,
                ) as resp,
            ):
                if not 200 <= resp.status < 300:
                    raise TransferError(url, f"HTTP {resp.status} {resp.reason or ''}".rstrip())
    except TransferError:
        raise
    except TimeoutError:
        raise TransferError(url, f"timed out after {timeout_s:g} s") from None
    except (aiohttp.ClientError, OSError, ValueError) as exc:
        raise TransferError(url, _describe(exc)) from None


def _content_type(path: Path) -> str:
    return "application/zip" if path.suffix.lower() == ".zip" else "application/octet-stream"


# -------------------------------------------------------------------------------- diagnostics archive


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def build_diagnostics_archive(
    dest_dir: Path,
    *,
    log_lines: Iterable[tuple[float, str]],
    start: float | None,
    stop: float | None,
    config: Mapping[str, str],
    queue_summary: Mapping[str, Any],
    charge_point_id: str,
    now: float,
    file_name: str | None = None,
) -> Path:
    """Write the diagnostics zip into ``dest_dir`` and return its path.

    Entries: ``log.txt`` (the ``(unix_time, text)`` lines with ``start <= time <= stop``, either
    bound open when ``None``, one ``<ISO-8601 UTC> <text>`` line each, in the given order),
    ``config.json`` (the configuration keys, sorted), ``queue.json`` (the message-queue summary;
    non-JSON values are written as strings) and ``info.json`` (charge point id, generation
    time, the requested window). The name (see :func:`diagnostics_file_name`) is what
    GetDiagnostics.conf reports as ``fileName``. Written to a temporary file and renamed.

    :raises OSError: ``dest_dir`` cannot be written.
    """
    dest_dir = Path(dest_dir)
    dest = dest_dir / (file_name or diagnostics_file_name(charge_point_id, now))
    log = io.StringIO()
    for ts, text in log_lines:
        if (start is None or ts >= start) and (stop is None or ts <= stop):
            log.write(f"{_iso(ts)} {text.rstrip(chr(10))}\n")
    info = {
        "chargePointId": charge_point_id,
        "generatedAt": _iso(now),
        "startTime": _iso(start) if start is not None else None,
        "stopTime": _iso(stop) if stop is not None else None,
    }
    stamp = datetime.fromtimestamp(max(now, 315532800.0), UTC).timetuple()[:6]  # zip dates start 1980
    entries = {
        "info.json": json.dumps(info, indent=2),
        "log.txt": log.getvalue(),
        "config.json": json.dumps(dict(config), indent=2, sort_keys=True, default=str),
        "queue.json": json.dumps(dict(queue_summary), indent=2, sort_keys=True, default=str),
    }

    def write(tmp: IO[bytes]) -> None:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for name, text in entries.items():
                zf.writestr(zipfile.ZipInfo(name, date_time=stamp), text, compress_type=zipfile.ZIP_DEFLATED)

    _write_file(dest, write)
    return dest


# ------------------------------------------------------------------------ security log (GetLog, N01)


def build_security_log(
    dest: Path,
    entries: Iterable[Mapping[str, Any]],
    *,
    start: float | None,
    stop: float | None,
) -> Path:
    """Write the security log file ``dest`` (security whitepaper N01.FR.03): the entries of the
    ``security_log`` store records (``timestamp`` RFC 3339 OCPP time, ``type``, ``techInfo``) with
    ``start <= time <= stop`` (OCPP POSIX seconds, either bound open when None), oldest first, one
    ``<ISO-8601 UTC> <type> <techInfo>`` line each (a line break in techInfo becomes a space). A record
    that is no entry (no ``type`` or an unreadable ``timestamp``) is left out. Written to a temporary
    file and renamed.

    :raises OSError: ``dest``'s folder cannot be written.
    """
    lines: list[tuple[float, str]] = []
    for entry in entries:
        try:
            at = parse_datetime(str(entry["timestamp"]))
            kind = str(entry["type"])
        except (KeyError, ValueError):
            continue
        if (start is not None and at < start) or (stop is not None and at > stop):
            continue
        info = " ".join(str(entry.get("techInfo", "")).split())
        lines.append((at, f"{_iso(at)} {kind}" + (f" {info}" if info else "")))
    lines.sort(key=lambda line: line[0])  # stable: entries of one instant keep their order
    dest = Path(dest)
    _write_file(dest, lambda tmp: tmp.write("".join(text + "\n" for _, text in lines).encode()))
    return dest


_HTTP_STATUS = re.compile(r"\bHTTP (\d{3})\b")
_HTTP_STATUSES = {
    401: "PermissionDenied",
    403: "PermissionDenied",
    405: "NotSupportedOperation",
    501: "NotSupportedOperation",
    400: "BadMessage",
}
_FTP_REPLY = re.compile(r"\berror_(?:perm|temp): (\d{3})\b")


def upload_log_status(error: TransferError) -> str:
    """The UploadLogStatusEnumType value that tells why an upload failed, as precisely as the error
    says (security whitepaper N01.FR.10): PermissionDenied (HTTP 401/403, FTP 530/532),
    NotSupportedOperation (HTTP 405/501, FTP 502/504), BadMessage (HTTP 400, FTP 500/501), else
    UploadFailure (timeouts, refused connections, full disks...)."""
    http = _HTTP_STATUS.search(error.reason)
    if http is not None:
        code = int(http.group(1))
        return _HTTP_STATUSES.get(code, "UploadFailure")
    ftp = _FTP_REPLY.search(error.reason)
    if ftp is not None:
        code = int(ftp.group(1))
        if code in (530, 532):
            return "PermissionDenied"
        if code in (502, 504):
            return "NotSupportedOperation"
        if code in (500, 501):
            return "BadMessage"
    return "UploadFailure"
