"""The shell's side of Firmware Management: carries out the engine's transfer effects.

``DownloadFirmware`` -> :func:`file_transfer.download` -> ``FirmwareDownloaded``;
``VerifyFirmware`` -> :func:`~ocpp_station.hardware.firmware.verify_signature` in a worker thread ->
``FirmwareVerified`` (a failed check deletes the image);
``InstallFirmware`` -> ``Hardware.install_firmware`` in a worker thread -> ``FirmwareInstalled`` (a
signed update's image is checked again right before: the hardware only gets a verified image);
``UploadDiagnostics`` -> a diagnostics archive (this station's log lines and frames inside the requested
window, its configuration, its queue) -> :func:`file_transfer.upload` -> ``DiagnosticsUploaded``.

Each effect is one attempt: retries, their interval and every status notification are the engine's
(``core.features.firmware``). Work files live under ``work_dir`` (``<dataDir>/transfers`` or a
temporary directory) and are removed when no longer needed.

The diagnostics log: :class:`StationLog` keeps the last lines of one station, fed by the frames it
sends and receives and by every ``ocpp_station`` log record emitted while that station handles an
event, or in a task started while it did (a context variable tells which station is running, so
thousands of simulated stations in one process keep separate logs). One handler on the
``ocpp_station`` logger serves them all; it is attached while at least one station log is open and
taken off when the last one is closed (:meth:`StationLog.close`) or garbage-collected.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import shutil
import ssl
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from ocpp_station.config.station import FileTransferPolicy
from ocpp_station.core import effects as fx
from ocpp_station.core.events import (
    DiagnosticsUploaded,
    Event,
    FirmwareDownloaded,
    FirmwareInstalled,
    FirmwareVerified,
    LogUploaded,
)
from ocpp_station.hardware.firmware import SignatureError, verify_signature
from ocpp_station.hardware.interface import Hardware
from ocpp_station.transport.file_transfer import (
    TransferError,
    build_diagnostics_archive,
    build_security_log,
    download,
    download_name,
    redact_url,
    upload,
    upload_log_status,
)

log = logging.getLogger("ocpp_station.transfers")

#: Lines a station keeps for its diagnostics by default (``fileTransfer.logLines``).
LOG_LINES = 2000
#: Text a station log keeps at most by default (``fileTransfer.logBytes``).
LOG_BYTES = 1024 * 1024
#: A frame longer than this is kept cut, with its length: a CSMS sending 1 MB frames must not make
#: a station's log hold ``LOG_LINES`` MB (issue #8, hostile frames).
FRAME_TEXT_MAX = 4096


#: The lines of every log that keeps none: appending to it keeps nothing (``maxlen`` 0).
_KEEPS_NOTHING: deque[tuple[float, str]] = deque(maxlen=0)


class StationLog:
    """The last ``size`` lines of one station: ``(unix time, text)``; size 0 keeps nothing.

    Open from construction until :meth:`close` (or until it is garbage-collected): while open, log
    records emitted in :meth:`active` blocks reach it."""

    def __init__(self, size: int = LOG_LINES, max_bytes: int = LOG_BYTES) -> None:
        #: A log that keeps nothing shares one empty deque (a deque allocates a 64-slot block).
        self.lines: deque[tuple[float, str]] = (
            deque(maxlen=size) if size > 0 and max_bytes > 0 else _KEEPS_NOTHING
        )
        self.enabled = size > 0 and max_bytes > 0
        #: The text kept is at most this long in all (characters), the oldest lines dropped first.
        self.max_bytes = max_bytes
        self._bytes = 0
        self._release: weakref.finalize[[], StationLog] | None = None
        if self.enabled:
            _HANDLER.add_user()
            # Runs once: at close(), or when the log is collected without having been closed.
            self._release = weakref.finalize(self, _HANDLER.remove_user)

    def close(self) -> None:
        """The station is gone: nothing more is added to this log (its lines stay readable). The
        last open log takes the shared handler off the ``ocpp_station`` logger. Idempotent."""
        self.enabled = False
        if self._release is not None:
            self._release()

    def add(self, text: str, at: float | None = None) -> None:
        if not self.enabled:
            return
        lines = self.lines
        if len(lines) == lines.maxlen:
            self._bytes -= len(lines[0][1])  # the deque drops it on append
        lines.append((time.time() if at is None else at, text))
        self._bytes += len(text)
        while self._bytes > self.max_bytes and len(lines) > 1:
            self._bytes -= len(lines.popleft()[1])

    def frame(self, outgoing: bool, data: bytes | str) -> None:
        if not self.enabled:
            return
        size = len(data)
        if size > FRAME_TEXT_MAX:
            data = data[:FRAME_TEXT_MAX]
        text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
        if size > FRAME_TEXT_MAX:
            text += f"... ({size} {'bytes' if isinstance(data, bytes) else 'characters'} in all)"
        self.add(("-> " if outgoing else "<- ") + text)

    def active(self) -> contextlib.AbstractContextManager[None]:
        """Log records emitted inside this block (and in tasks it starts) go to this station's log;
        a log that keeps nothing costs nothing."""
        return _Active(self) if self.enabled else _NOTHING


class _Active:
    """The block in which ``log`` is the running station's (a plain class: this is the hot path)."""

    __slots__ = ("_log", "_token")

    def __init__(self, log: StationLog) -> None:
        self._log = log
        self._token: contextvars.Token[StationLog | None] | None = None

    def __enter__(self) -> None:
        self._token = _CURRENT.set(self._log)

    def __exit__(self, *exc: object) -> None:
        if self._token is not None:
            _CURRENT.reset(self._token)


_NOTHING: contextlib.nullcontext[None] = contextlib.nullcontext()


_CURRENT: contextvars.ContextVar[StationLog | None] = contextvars.ContextVar("ocpp_station_log", default=None)


class _ToStationLog(logging.Handler):
    """Hands each ``ocpp_station`` record to the log of the station running now, if any (records as
    the logging configuration lets them through: the CLI's ``--log-level``)."""

    def __init__(self) -> None:
        super().__init__()
        self.users = 0
        # Reentrant: a garbage collection inside add_user() may run a finalizer that calls remove_user().
        self._users_lock = threading.RLock()

    def add_user(self) -> None:
        """A station log opened: attach to the ``ocpp_station`` logger if it is the first."""
        with self._users_lock:
            self.users += 1
            if self.users == 1:
                logging.getLogger("ocpp_station").addHandler(self)

    def remove_user(self) -> None:
        """A station log closed: detach when it was the last."""
        with self._users_lock:
            self.users -= 1
            if self.users == 0:
                logging.getLogger("ocpp_station").removeHandler(self)

    def emit(self, record: logging.LogRecord) -> None:
        target = _CURRENT.get()
        if target is not None:
            target.add(f"{record.levelname} {record.name}: {record.getMessage()}", record.created)


#: The one handler shared by the open station logs (attached only while there is one).
_HANDLER = _ToStationLog()


class FileTransfers:
    """Runs the transfer effects of one station as asyncio tasks and feeds their results back."""

    def __init__(
        self,
        *,
        work_dir: Path | Callable[[], Path],
        policy: FileTransferPolicy,
        hardware: Callable[[], Hardware],
        feed: Callable[[Event], None],
        station_log: StationLog,
        diagnostics: Callable[[], tuple[dict[str, str], dict[str, Any]]],
        charge_point_id: str,
        ca_bundle: Path | None = None,
        spawn: Callable[[Coroutine[Any, Any, None]], asyncio.Task[None]] | None = None,
    ) -> None:
        self._work_dir = work_dir
        self.policy = policy
        self._hardware = hardware
        self._feed = feed
        self._log = station_log
        self._diagnostics = diagnostics
        self._charge_point_id = charge_point_id
        self._ca_bundle = ca_bundle
        #: Starts a task the station owns (its TaskGroup); by default one on the running loop.
        self._start = spawn
        #: The transfers running (kept for :meth:`cancel_all`).
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def work_dir(self) -> Path:
        """The folder of this station's transfers; a factory given is called at the first transfer
        (a fleet of in-memory stations makes no temporary directory until one is needed)."""
        if callable(self._work_dir):
            self._work_dir = self._work_dir()
        return self._work_dir

    def _ssl(self) -> ssl.SSLContext | None:
        if self._ca_bundle is None:
            return None
        return ssl.create_default_context(cafile=str(self._ca_bundle))

    def _image_dir(self, job: int) -> Path:
        """Where ``job``'s image is downloaded to, under the name its URL gives it (the simulator
        reads the firmware version of a file not made by us from that name)."""
        return self.work_dir / "firmware" / f"job-{job}"

    def _downloaded_image(self, job: int) -> Path | None:
        """The complete image downloaded for ``job`` (temporary ``.part`` files are hidden)."""
        with contextlib.suppress(OSError):
            for entry in sorted(self._image_dir(job).iterdir()):
                if entry.is_file() and not entry.name.startswith("."):
                    return entry
        return None

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        if self._start is not None:
            task = self._start(work)
        else:
            task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def cancel_all(self) -> None:
        """Abandon running transfers (the station restarts; the engine starts them over if needed)."""
        for task in list(self._tasks):
            task.cancel()
        self._tasks.clear()

    # -- effects -------------------------------------------------------------------------------------
    def download_firmware(self, effect: fx.DownloadFirmware) -> None:
        self._spawn(self._download(effect))

    async def _download(self, effect: fx.DownloadFirmware) -> None:
        folder = self._image_dir(effect.job)
        dest = folder / download_name(effect.location)
        try:
            shutil.rmtree(folder, ignore_errors=True)  # an earlier attempt's file
            folder.mkdir(parents=True, exist_ok=True)
            await download(
                effect.location,
                dest,
                timeout_s=self.policy.timeout_s,
                ssl_context=self._ssl(),
                max_bytes=self.policy.max_bytes,
            )
        except (TransferError, OSError) as exc:
            self._feed(FirmwareDownloaded(effect.job, False, str(exc)))
            return
        log.info("firmware downloaded from %s (%s bytes)", redact_url(effect.location), dest.stat().st_size)
        self._feed(FirmwareDownloaded(effect.job, True))

    def install_firmware(self, effect: fx.InstallFirmware) -> None:
        self._spawn(self._install(effect))

    def verify_firmware(self, effect: fx.VerifyFirmware) -> None:
        self._spawn(self._verify(effect))

    async def _verify(self, effect: fx.VerifyFirmware) -> None:
        """The signature over the downloaded image (security whitepaper L01.FR.04, L01.FR.12)."""
        image = self._downloaded_image(effect.job)
        try:
            if image is None:
                raise SignatureError("no downloaded image")
            await asyncio.to_thread(verify_signature, image, effect.signing_certificate, effect.signature)
        except SignatureError as exc:
            shutil.rmtree(self._image_dir(effect.job), ignore_errors=True)  # never installed
            self._feed(FirmwareVerified(effect.job, False, str(exc)))
            return
        log.info("firmware signature of %s verified", image.name)
        self._feed(FirmwareVerified(effect.job, True))

    async def _install(self, effect: fx.InstallFirmware) -> None:
        image = self._downloaded_image(effect.job)
        try:
            if image is None:
                raise FileNotFoundError("no downloaded image")
            if effect.signature is not None and effect.signing_certificate is not None:
                # checked again: the file may have changed on disk since VerifyFirmware
                await asyncio.to_thread(verify_signature, image, effect.signing_certificate, effect.signature)
            version = await asyncio.to_thread(self._hardware().install_firmware, image)
        except SignatureError as exc:  # nothing reached the hardware: InstallVerificationFailed
            self._feed(FirmwareInstalled(effect.job, False, None, str(exc), verification_failed=True))
            return
        except Exception as exc:  # the hardware's own errors: any failure is InstallationFailed
            self._feed(FirmwareInstalled(effect.job, False, None, str(exc) or type(exc).__name__))
            return
        finally:
            shutil.rmtree(self._image_dir(effect.job), ignore_errors=True)
        self._feed(FirmwareInstalled(effect.job, True, version))

    def upload_diagnostics(self, effect: fx.UploadDiagnostics) -> None:
        self._spawn(self._upload(effect))

    async def _upload(self, effect: fx.UploadDiagnostics) -> None:
        folder = self.work_dir / "diagnostics" / str(effect.job)
        try:
            archive = await self._diagnostics_archive(folder, effect.start_s, effect.stop_s, effect.file_name)
            await self._send(effect.location, archive)
        except (TransferError, OSError) as exc:
            self._feed(DiagnosticsUploaded(effect.job, False, str(exc)))
            return
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        log.info("diagnostics %s uploaded to %s", effect.file_name, redact_url(effect.location))
        self._feed(DiagnosticsUploaded(effect.job, True))

    async def _diagnostics_archive(
        self, folder: Path, start: float | None, stop: float | None, file_name: str
    ) -> Path:
        """The diagnostics zip (GetDiagnostics, and GetLog's DiagnosticsLog) in ``folder``."""
        folder.mkdir(parents=True, exist_ok=True)
        config, queue = self._diagnostics()
        return await asyncio.to_thread(
            build_diagnostics_archive,
            folder,
            log_lines=list(self._log.lines),
            start=start,
            stop=stop,
            config=config,
            queue_summary=queue,
            charge_point_id=self._charge_point_id,
            now=time.time(),
            file_name=file_name,
        )

    async def _send(self, location: str, path: Path) -> None:
        await upload(
            target_url(location),
            path,
            timeout_s=self.policy.timeout_s,
            ssl_context=self._ssl(),
            method="PUT" if self.policy.upload_method == "PUT" else "POST",
        )

    def upload_log(self, effect: fx.UploadLog, security_log: list[dict[str, Any]] | None = None) -> None:
        """GetLog (security whitepaper N01): the DiagnosticsLog is the diagnostics archive, the
        SecurityLog a text file of ``security_log`` (the store's records, read by the caller)."""
        self._spawn(self._upload_log(effect, security_log or []))

    async def _upload_log(self, effect: fx.UploadLog, security_log: list[dict[str, Any]]) -> None:
        folder = self.work_dir / "logs" / str(effect.job)
        try:
            if effect.log_type == "SecurityLog":
                folder.mkdir(parents=True, exist_ok=True)
                path = await asyncio.to_thread(
                    build_security_log,
                    folder / effect.file_name,
                    security_log,
                    start=effect.start_s,
                    stop=effect.stop_s,
                )
            else:
                path = await self._diagnostics_archive(
                    folder, effect.start_s, effect.stop_s, effect.file_name
                )
            await self._send(effect.location, path)
        except TransferError as exc:
            self._feed(LogUploaded(effect.job, upload_log_status(exc), str(exc)))
            return
        except OSError as exc:
            self._feed(LogUploaded(effect.job, "UploadFailure", str(exc)))
            return
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        log.info("%s %s uploaded to %s", effect.log_type, effect.file_name, redact_url(effect.location))
        self._feed(LogUploaded(effect.job, "Uploaded"))


def target_url(location: str) -> str:
    """Where the file goes. GetDiagnostics' location is a directory (§6.25): FTP stores
    ``<location>/<fileName>``; HTTP(S) sends to the location as given (a POST carries the file name
    in its multipart part; a PUT goes to a URL the CSMS made for this one file)."""
    if location.lower().startswith("ftp://"):
        return location if location.endswith("/") else location + "/"
    return location
