"""GetLog and LogStatusNotification (OCPP 1.6 security whitepaper edition 3: use case N01, §5.9-5.10,
§5.13-5.14, §6.13-6.15, §6.19).

The CSMS asks for one of two logs (LogEnumType, §6.13):

* **DiagnosticsLog** (N01.FR.04): the very archive GetDiagnostics uploads (its log lines inside the
  window, the readable configuration, the queue; ``transport.file_transfer.build_diagnostics_archive``).
* **SecurityLog** (N01.FR.03): the security log of ``core.features.security_events`` (records of kind
  ``security_log``), one text line per entry inside the window: ``<time> <type> <techInfo>``.

Neither holds the AuthorizationKey: it is no security event's techInfo (ReconfigurationOfSecurityParameters
names the key, never its value), the frames in the diagnostics log are redacted
(``wire.redact``, A01.FR.12) and the configuration in the archive is the readable one (the key is
write-only).

The steps, as GetDiagnostics takes them (``core.features.firmware``), one effect and one result each:

* GetLog.conf Accepted with the ``filename`` at once (N01.FR.01); the upload starts after the answer
  (N01.FR.02): LogStatusNotification Uploading (N01.FR.08), the effect
  :class:`~ocpp_station.core.effects.UploadLog`, its result :class:`~ocpp_station.core.events.LogUploaded`.
* Uploaded (N01.FR.09), or after ``1 + retries`` attempts ``retryInterval`` apart the failure as
  precisely as the shell could tell it (N01.FR.10: PermissionDenied for HTTP 401/403 or FTP 530,
  NotSupportedOperation for HTTP 405/501 or FTP 502/504, BadMessage for HTTP 400, else
  UploadFailure). Absent retries / retryInterval take the charge point's defaults (§5.9 "left to the
  Charge Point"), as GetDiagnostics does.
* Every LogStatusNotification of an upload carries the GetLog's requestId (N01.FR.07).
* A GetLog while an upload runs cancels it (N01.FR.11 SHOULD): AcceptedCanceled, the old upload's
  result is ignored and no status of it is sent any more.
* Rejected: a location whose protocol is not in SupportedFileTransferProtocols (nothing could be
  uploaded there), or a window whose latestTimestamp is before its oldestTimestamp (no entry can be
  inside it). A station with no SupportedFileTransferProtocols does not offer GetLog (NotSupported).
* ExtendedTriggerMessage LogStatusNotification (§6.16): the status of the upload in progress with
  its requestId, or Idle without a requestId when nothing runs (§6.19: Idle only in this answer;
  N01.FR.12: the requestId may then be left out).

**Across a restart** the upload in progress is made again from the start, as GetDiagnostics' is
(``core.features.firmware``): the request (requestId, logType, location, file name, window, retry
policy) is a record (kind ``security``, key :data:`UPLOAD_KEY`)
from GetLog.conf until the last LogStatusNotification; after the restart LogStatusNotification
Uploading is sent again (N01.FR.08: an upload starts) with the same requestId (N01.FR.07), then Uploaded
or the failure. N01 does not say what a restart does; doing it again answers the GetLog the CSMS was
told was Accepted (N01.FR.01-02) instead of leaving it without an outcome.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from msgspec import UNSET

from ocpp_station.core.context import Context, log
from ocpp_station.core.effects import UploadLog
from ocpp_station.core.features.base import Feature, Trigger, answers, extended
from ocpp_station.core.features.firmware import diagnostics_file_name
from ocpp_station.wire.frames import Call
from ocpp_station.wire.messages import (
    GetLogRequest,
    GetLogResponse,
    LogEnumType,
    LogStatusEnumType,
    LogStatusNotificationRequest,
    MessageTriggerEnumType,
    UploadLogStatusEnumType,
)

if TYPE_CHECKING:
    from ocpp_station.core.model import Restored

LOG_TIMER = "log_upload"
#: The record of the upload in progress (kind ``security``).
UPLOAD_KIND = "security"
UPLOAD_KEY = "logUpload"
_U = UploadLogStatusEnumType
#: What an upload may end with (N01.FR.09-10).
OUTCOMES = frozenset(
    {_U.Uploaded, _U.UploadFailure, _U.BadMessage, _U.NotSupportedOperation, _U.PermissionDenied}
)


def log_file_name(log_type: LogEnumType, charge_point_id: str, ocpp_time: float) -> str:
    """The DiagnosticsLog keeps GetDiagnostics' name (``<cpid>-diagnostics-<stamp>.zip``); the
    SecurityLog is ``<cpid>-securitylog-<stamp>.txt`` (as long, at most 255 characters)."""
    name = diagnostics_file_name(charge_point_id, ocpp_time)
    if log_type is LogEnumType.DiagnosticsLog:
        return name
    head, _, stamp = name.rpartition("-diagnostics-")
    return f"{head}-securitylog-{stamp.removesuffix('.zip')}.txt"


def _scheme(location: str) -> str:
    return location.split(":", 1)[0].upper() if ":" in location else ""


@dataclass(slots=True)
class _Upload:
    """The upload in progress: what the GetLog asked for and the attempts made."""

    job: int
    request_id: int
    log_type: LogEnumType
    location: str
    file_name: str
    start: float | None
    stop: float | None
    retries: int
    retry_interval: int
    attempt: int = 0


class Logs(Feature):
    """GetLog / LogStatusNotification (security whitepaper N01)."""

    __slots__ = ("_next_job", "ctx", "upload")

    PROFILE = "Core"

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        #: The upload in progress: requestId, logType, location, fileName, window, retry policy.
        self.upload: _Upload | None = None
        self._next_job = 1

    @property
    def supported(self) -> bool:
        """Only with a file transfer protocol to upload by (SupportedFileTransferProtocols)."""
        return bool(self.ctx.settings.file_transfer_protocols)

    @property
    def status(self) -> UploadLogStatusEnumType:
        """What a triggered LogStatusNotification reports: Uploading from the request on, else Idle."""
        return _U.Idle if self.upload is None else _U.Uploading

    def triggers(self) -> Mapping[str, Trigger]:
        """ExtendedTriggerMessage LogStatusNotification (§6.16, N01.FR.12); NotImplemented without
        GetLog."""
        if not self.supported:
            return {}
        return {
            extended(MessageTriggerEnumType.LogStatusNotification): lambda connector_id: self._send_status
        }

    def _send_status(self) -> None:
        upload = self.upload
        if upload is None:
            self.ctx.call(LogStatusNotificationRequest(status=_U.Idle))
        else:
            self._notify(_U.Uploading, upload.request_id)

    def _notify(self, status: UploadLogStatusEnumType, request_id: int) -> None:
        self.ctx.call(LogStatusNotificationRequest(status=status, request_id=request_id))

    @answers(GetLogRequest)
    def _get_log(self, request: GetLogRequest, call: Call) -> GetLogResponse:
        """GetLog.req (§5.9, N01.FR.01-02, N01.FR.11): the file name at once, the upload after it."""
        location = request.log.remote_location
        if _scheme(location) not in self.ctx.settings.file_transfer_protocols:
            log.warning("GetLog: protocol %r not supported", _scheme(location))
            return GetLogResponse(status=LogStatusEnumType.Rejected)
        oldest = None if request.log.oldest_timestamp is UNSET else float(request.log.oldest_timestamp)
        latest = None if request.log.latest_timestamp is UNSET else float(request.log.latest_timestamp)
        if oldest is not None and latest is not None and latest < oldest:
            log.warning("GetLog: latestTimestamp is before oldestTimestamp")
            return GetLogResponse(status=LogStatusEnumType.Rejected)
        if request.log_type is LogEnumType.DiagnosticsLog:
            # The diagnostics log lines are stamped with the wall clock: the window in local time.
            offset = self.ctx.wall_offset()
            oldest = None if oldest is None else oldest - offset
            latest = None if latest is None else latest - offset
        settings = self.ctx.settings
        file_name = log_file_name(request.log_type, settings.charge_point_id, self.ctx.ocpp_time())
        canceled = self.upload is not None
        if self.upload is not None:
            log.info("GetLog %s cancels the upload of request %s", request.request_id, self.upload.request_id)
        job = self._next_job
        self._next_job += 1
        retries = settings.transfer_retries if request.retries is UNSET else request.retries
        interval = (
            settings.transfer_retry_interval_s if request.retry_interval is UNSET else request.retry_interval
        )
        self.upload = _Upload(
            job,
            request.request_id,
            request.log_type,
            location,
            file_name,
            oldest,
            latest,
            max(0, retries),
            max(0, interval),
        )
        self.ctx.timers.cancel(LOG_TIMER)
        self._store()
        self.ctx.after_reply.append(lambda: self._attempt(job, announce=True))
        status = LogStatusEnumType.AcceptedCanceled if canceled else LogStatusEnumType.Accepted
        return GetLogResponse(status=status, filename=file_name)

    def _attempt(self, job: int, *, announce: bool = False) -> None:
        upload = self.upload
        if upload is None or upload.job != job:
            return
        if announce:
            self._notify(_U.Uploading, upload.request_id)  # N01.FR.08
        upload.attempt += 1
        self.ctx.emit(
            UploadLog(
                job, upload.log_type.value, upload.location, upload.file_name, upload.start, upload.stop
            )
        )

    def uploaded(self, job: int, status: str, reason: str) -> None:
        """The shell's LogUploaded: Uploaded, a retry, or the failure after the last attempt."""
        upload = self.upload
        if upload is None or upload.job != job:
            log.info("ignoring the result of log upload job %s", job)
            return
        try:
            outcome = _U(status)
        except ValueError:
            outcome = _U.UploadFailure
        if outcome not in OUTCOMES:
            outcome = _U.UploadFailure
        if outcome is not _U.Uploaded:
            log.warning("log upload %s failed (attempt %s): %s %s", job, upload.attempt, outcome, reason)
            if upload.attempt <= upload.retries:
                self.ctx.timers.set(
                    LOG_TIMER, self.ctx.now + upload.retry_interval, lambda now: self._attempt(job)
                )
                return
        self.upload = None
        self.ctx.persist(UPLOAD_KIND, UPLOAD_KEY, None)
        self._notify(outcome, upload.request_id)  # N01.FR.09-10

    # -- restart ------------------------------------------------------------------------------------------
    def _store(self) -> None:
        upload = self.upload
        if upload is not None:
            record: dict[str, Any] = {**asdict(upload), "log_type": upload.log_type.value}
            del record["attempt"]
            self.ctx.persist(UPLOAD_KIND, UPLOAD_KEY, record)

    def restore(self, restored: Restored) -> None:
        """An upload the last run did not finish is made again from the start (Uploading again)."""
        record = restored.security.get(UPLOAD_KEY)
        if not isinstance(record, Mapping):
            return
        try:
            upload = _Upload(
                job=int(record["job"]),
                request_id=int(record["request_id"]),
                log_type=LogEnumType(record["log_type"]),
                location=str(record["location"]),
                file_name=str(record["file_name"]),
                start=None if record.get("start") is None else float(record["start"]),
                stop=None if record.get("stop") is None else float(record["stop"]),
                retries=max(0, int(record["retries"])),
                retry_interval=max(0, int(record["retry_interval"])),
            )
        except (KeyError, TypeError, ValueError) as exc:
            log.error("the log upload of the last run cannot be made again: %s", exc)
            self.ctx.persist(UPLOAD_KIND, UPLOAD_KEY, None)
            return
        if not self.supported:
            self.ctx.persist(UPLOAD_KIND, UPLOAD_KEY, None)
            return
        log.info("GetLog %s: the upload interrupted by the restart is made again", upload.request_id)
        self.upload = upload
        self._next_job = upload.job + 1
        self.ctx.timers.set(LOG_TIMER, self.ctx.now, lambda now: self._attempt(upload.job, announce=True))
