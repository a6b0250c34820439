"""Firmware Management: UpdateFirmware and GetDiagnostics (OCPP 1.6 §5.19, §5.9, §4.4, §4.5, §8;
errata 3.12, 3.31, 3.47-3.49, 3.63, 3.90).

The engine decides, the shell transfers. Each step is one effect and one result event:

====================  ====================  =======================================================
state                 effect out            result event in -> next state
====================  ====================  =======================================================
Idle (waiting)        (timer: retrieveDate)  -> Downloading
Downloading           DownloadFirmware      FirmwareDownloaded ok -> Downloaded; failed -> a retry
                                            after retryInterval, or DownloadFailed (done)
Downloaded            (transactions end)     -> Installing
Installing            InstallFirmware       FirmwareInstalled ok -> reboot, Installed after the
                                            next BootNotification; failed -> InstallationFailed
====================  ====================  =======================================================

The steps are data: :data:`FIRMWARE_STEPS` and :data:`DIAGNOSTICS_STEPS` (states in the vocabulary of
FirmwareStatus / DiagnosticsStatus, §7.25 / §7.23) list every allowed transition; every step the
feature takes is checked against them (:func:`check_step`), and one that is not in its table is logged
as a defect, the way ``status.py`` checks §4.9. A job waiting for its retrieveDate is Idle: that is
what a TriggerMessage reports for it (§4.5).

* UpdateFirmware.conf first, then the steps (§5.19); retrieveDate is the time after which the charge
  point *may* download (erratum 3.63), so one in the past starts at once.
* Each status is a FirmwareStatusNotification (§4.5, errata 3.12/3.47): Downloading once (not per
  retry), then Downloaded, Installing, and Installed only after the reboot into the new firmware
  (erratum 3.47's good practice); or DownloadFailed / InstallationFailed.
* Running transactions finish first (erratum 3.49): the other connectors are held Unavailable
  meanwhile (``Connector.maintenance``), and all of them while installing.
* The installed version is stored and replaces the configured ``firmwareVersion`` in every later
  BootNotification (TC_044_1).
* A new UpdateFirmware replaces one that is not installing yet (results of the old job are ignored);
  one that arrives while installing is ignored: the charge point reboots into the new firmware.
* GetDiagnostics answers with the file name at once (§5.9) and uploads afterwards: Uploading, then
  Uploaded or UploadFailed (§4.4, erratum 3.31) after ``1 + retries`` attempts (erratum 3.52: retries
  are *re*-tries). A new request replaces a running upload.
* A location whose protocol is not in SupportedFileTransferProtocols fails at once, without retries:
  DownloadFailed / UploadFailed (§8).
* Absent ``retries`` / ``retryInterval`` take :attr:`EngineSettings.transfer_retries` /
  ``transfer_retry_interval_s`` ("left to the charge point", §6.25, §6.55).
* TriggerMessage reads :attr:`FirmwareManagement.firmware_status` / ``diagnostics_status``: Idle
  unless something is being done (§4.4, §4.5: Idle only in answer to a TriggerMessage).
* Everything survives a restart (records of kind ``firmware``): ``update`` (the request and its
  state), ``diagnostics`` (an upload in progress), ``installed`` (the running version), ``report``
  (a status still to send after the reboot). An interrupted download or installation starts over
  with a fresh download; an interrupted upload is made again.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

from msgspec import UNSET, UnsetType

from ocpp_station.core.clock import format_datetime, parse_datetime
from ocpp_station.core.context import Context, log
from ocpp_station.core.effects import DownloadFirmware, InstallFirmware, UploadDiagnostics
from ocpp_station.core.features.base import Feature, Trigger, answers, on_result
from ocpp_station.core.features.status import StatusReporter
from ocpp_station.core.features.transactions import Transactions
from ocpp_station.core.model import Restored
from ocpp_station.core.rpc import OutgoingCall
from ocpp_station.wire.errors import ErrorCode, OcppError
from ocpp_station.wire.frames import Call
from ocpp_station.wire.messages import (
    DiagnosticsStatus,
    DiagnosticsStatusNotificationRequest,
    FirmwareStatus,
    FirmwareStatusNotificationRequest,
    FirmwareStatusNotificationResponse,
    GetDiagnosticsRequest,
    GetDiagnosticsResponse,
    MessageTrigger,
    UpdateFirmwareRequest,
    UpdateFirmwareResponse,
)

KIND = "firmware"
FIRMWARE_TIMER = "firmware"
DIAGNOSTICS_TIMER = "diagnostics"

S = TypeVar("S", bound=str)

_F = FirmwareStatus
#: The steps of a firmware update (§4.5, §5.19; errata 3.47, 3.49, 3.63): state -> allowed next states.
#: Idle: no update, or one waiting for its retrieveDate. Installed is reported after the reboot.
FIRMWARE_STEPS: dict[FirmwareStatus, frozenset[FirmwareStatus]] = {
    # retrieveDate reached; or a protocol not in SupportedFileTransferProtocols fails at once (§8)
    _F.Idle: frozenset({_F.Downloading, _F.DownloadFailed}),
    # Idle: replaced by a new UpdateFirmware, or a restart (an interrupted download starts over)
    _F.Downloading: frozenset({_F.Downloaded, _F.DownloadFailed, _F.Idle}),
    # Installing once no transaction runs (erratum 3.49); Idle: replaced, or a restart
    _F.Downloaded: frozenset({_F.Installing, _F.Idle}),
    # Idle: a restart interrupted the installation (starts over with a fresh download)
    _F.Installing: frozenset({_F.Installed, _F.InstallationFailed, _F.Idle}),
    # An outcome ends the update.
    _F.DownloadFailed: frozenset({_F.Idle}),
    _F.InstallationFailed: frozenset({_F.Idle}),
    _F.Installed: frozenset({_F.Idle}),
}
#: Outcomes of a firmware update: reported, then the update is over (Idle).
_FIRMWARE_OUTCOMES = frozenset({_F.DownloadFailed, _F.InstallationFailed, _F.Installed})

_D = DiagnosticsStatus
#: The steps of a diagnostics upload (§4.4, §5.9; erratum 3.31): state -> allowed next states.
#: Idle: no upload, or one requested and not yet started (it starts after GetDiagnostics.conf).
DIAGNOSTICS_STEPS: dict[DiagnosticsStatus, frozenset[DiagnosticsStatus]] = {
    # Started; or a protocol not in SupportedFileTransferProtocols fails at once (§8)
    _D.Idle: frozenset({_D.Uploading, _D.UploadFailed}),
    # Idle: replaced by a new GetDiagnostics, or a restart (the upload is made again)
    _D.Uploading: frozenset({_D.Uploaded, _D.UploadFailed, _D.Idle}),
    _D.Uploaded: frozenset({_D.Idle}),
    _D.UploadFailed: frozenset({_D.Idle}),
}


def check_step(steps: Mapping[S, frozenset[S]], what: str, current: S, to: S) -> bool:
    """Whether ``current -> to`` is a step of ``steps``; one that is not is logged as our defect.
    Staying in a state is no step."""
    if current == to or to in steps.get(current, frozenset()):
        return True
    log.error("%s: %s -> %s is not a step of its table", what, current, to)
    return False


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_MAX_FILE_NAME = 255  # GetDiagnostics.conf fileName: CiString255Type


def diagnostics_file_name(charge_point_id: str, ocpp_time: float) -> str:
    """``<cpid>-diagnostics-<YYYYmmddTHHMMSSZ>.zip``: file-system safe, at most 255 characters."""
    stamp = datetime.fromtimestamp(ocpp_time, UTC).strftime("%Y%m%dT%H%M%SZ")
    suffix = f"-diagnostics-{stamp}.zip"
    cpid = _UNSAFE.sub("_", charge_point_id).lstrip(".") or "station"
    return cpid[: _MAX_FILE_NAME - len(suffix)] + suffix


def _scheme(location: str) -> str:
    """The upper-cased URL scheme (no credentials: locations may carry a password, §8)."""
    return location.split(":", 1)[0].upper() if ":" in location else ""


class FirmwareManagement(Feature):
    PROFILE = "FirmwareManagement"

    def __init__(
        self,
        ctx: Context,
        transactions: Transactions,
        status: StatusReporter,
        reboot: Callable[[], None],
    ) -> None:
        self.ctx = ctx
        self.transactions = transactions
        self.status = status
        self._reboot = reboot
        #: The UpdateFirmware being carried out (its stored record), or None.
        self.update: dict[str, Any] | None = None
        #: The GetDiagnostics being carried out (its stored record), or None.
        self.diagnostics: dict[str, Any] | None = None
        self._next_job = 1
        self._report: dict[str, Any] | None = None

    @property
    def supported(self) -> bool:
        """The profile needs at least one file transfer protocol (§8, erratum 3.90); without one,
        UpdateFirmware and GetDiagnostics are answered NotSupported."""
        return bool(self.ctx.settings.file_transfer_protocols)

    def transaction_ended(self, connector_id: int) -> None:
        """An installation waiting for the transactions to end may start (erratum 3.49)."""
        if self.supported:
            self._install_if_idle()

    def triggers(self) -> Mapping[str, Trigger]:
        """TriggerMessage (§5.17): the status of the update or upload in progress, as it is when the
        message is queued; Idle when nothing runs (§4.4, §4.5 allow Idle only in this answer)."""
        return {
            MessageTrigger.FirmwareStatusNotification: lambda connector_id: (
                lambda: self.ctx.call(FirmwareStatusNotificationRequest(status=self.firmware_status))
            ),
            MessageTrigger.DiagnosticsStatusNotification: lambda connector_id: (
                lambda: self.ctx.call(DiagnosticsStatusNotificationRequest(status=self.diagnostics_status))
            ),
        }

    @property
    def firmware_status(self) -> FirmwareStatus:
        """The update's state (:data:`FIRMWARE_STEPS`), Idle without one: what a triggered
        FirmwareStatusNotification reports (§4.5)."""
        return _F.Idle if self.update is None else _F(self.update["state"])

    @property
    def diagnostics_status(self) -> DiagnosticsStatus:
        """What a triggered DiagnosticsStatusNotification reports (§4.4): Uploading from the request on."""
        return _D.Idle if self.diagnostics is None else _D.Uploading

    def _firmware_step(self, to: FirmwareStatus, *, notify: bool = True) -> None:
        """Move the update to ``to`` (checked against :data:`FIRMWARE_STEPS`) and report it; an outcome
        ends the update (Idle)."""
        check_step(FIRMWARE_STEPS, "firmware update", self.firmware_status, to)
        if to in _FIRMWARE_OUTCOMES:
            self.update = None
        else:
            assert self.update is not None
            self.update["state"] = to.value
        if notify:
            self.ctx.call(FirmwareStatusNotificationRequest(status=to))

    def _diagnostics_step(self, to: DiagnosticsStatus) -> None:
        """Move the upload to ``to`` (checked against :data:`DIAGNOSTICS_STEPS`) and report it; an
        outcome ends the upload (Idle)."""
        current = _D.Idle if self.diagnostics is None else _D(self.diagnostics.get("state", _D.Idle))
        check_step(DIAGNOSTICS_STEPS, "diagnostics upload", current, to)
        if to in (_D.Uploaded, _D.UploadFailed):
            self.diagnostics = None
        else:
            assert self.diagnostics is not None
            self.diagnostics["state"] = to.value
        self.ctx.call(DiagnosticsStatusNotificationRequest(status=to))

    # -- restart ------------------------------------------------------------------------------------
    def restore(self, restored: Restored) -> None:
        """Take back what the store kept (after the clock offset, which retrieveDate needs). Nothing
        starts here: effects of the constructor would be lost, so each job resumes at a timer."""
        records = restored.firmware
        installed = records.get("installed")
        if installed is not None:
            self.ctx.firmware_version = str(installed["version"])
        self._report = records.get("report")
        jobs = [int(record.get("job", 0)) for record in records.values()]
        self._next_job = max(jobs, default=0) + 1
        update = records.get("update")
        if update is not None:
            # "Waiting": a record of an earlier version (a job waiting for its retrieveDate is Idle).
            state = _F.Idle if update["state"] == "Waiting" else _F(update["state"])
            self.update = {**update, "state": _F.Idle.value}
            at = self.ctx.now
            if state is _F.Idle:
                at = max(at, parse_datetime(update["retrieveDate"]) - self.ctx.clock_offset_s)
            else:
                # The image on disk may be partial or gone: start over with a fresh download.
                check_step(FIRMWARE_STEPS, "firmware update", state, _F.Idle)
                self.update["attempt"] = 0
            self.ctx.timers.set(FIRMWARE_TIMER, at, lambda now: self._download())
        diagnostics = records.get("diagnostics")
        if diagnostics is not None:
            # The upload is made again from the start.
            upload_state = _D(diagnostics.get("state", _D.Idle))
            check_step(DIAGNOSTICS_STEPS, "diagnostics upload", upload_state, _D.Idle)
            self.diagnostics = {**diagnostics, "state": _D.Idle.value}
            self.diagnostics["attempt"] = 0
            self.ctx.timers.set(DIAGNOSTICS_TIMER, self.ctx.now, lambda now: self._upload(announce=True))

    def registration_accepted(self) -> None:
        """BootNotification Accepted: report what the last run could not (Installed after the reboot)."""
        if self._report is not None:
            status = _F(self._report["status"])
            self.ctx.call(FirmwareStatusNotificationRequest(status=status), meta={"report": True})

    @on_result(FirmwareStatusNotificationRequest)
    def _report_sent(self, call: OutgoingCall, response: FirmwareStatusNotificationResponse) -> None:
        """The status the last run could not send is out: forget it."""
        if call.meta.get("report"):
            self._report = None
            self.ctx.persist(KIND, "report", None)

    # -- UpdateFirmware (§5.19) ------------------------------------------------------------------------
    @answers(UpdateFirmwareRequest)
    def _update_firmware(self, request: UpdateFirmwareRequest, call: Call) -> UpdateFirmwareResponse:
        """UpdateFirmware.req (§5.19, §6.55): answered at once; the download waits for retrieveDate."""
        if self.firmware_status is _F.Installing:
            log.warning("UpdateFirmware ignored: a firmware is being installed")
            return UpdateFirmwareResponse()
        check_step(FIRMWARE_STEPS, "firmware update", self.firmware_status, _F.Idle)  # replaced
        self.update = {
            "job": self._take_job(),
            "location": request.location,
            # RFC 3339 text, as the record has always held it (earlier versions kept the CSMS's
            # own text; this is the same instant, in UTC to the millisecond).
            "retrieveDate": format_datetime(request.retrieve_date),
            **self._retry_policy(request.retries, request.retry_interval),
            "state": _F.Idle.value,
        }
        self._hold(False)
        self._save_update()
        self.ctx.after_reply.append(self._arm_retrieve)
        return UpdateFirmwareResponse()

    def _retry_policy(self, retries: int | UnsetType, interval_s: int | UnsetType) -> dict[str, int]:
        """retries / retryInterval of a request, or the charge point's defaults (§6.25, §6.55)."""
        settings = self.ctx.settings
        return {
            "retries": max(0, settings.transfer_retries if retries is UNSET else retries),
            "retryInterval": max(
                0, settings.transfer_retry_interval_s if interval_s is UNSET else interval_s
            ),
            "attempt": 0,
        }

    def _take_job(self) -> int:
        job = self._next_job
        self._next_job += 1
        return job

    def _save_update(self) -> None:
        self.ctx.persist(KIND, "update", None if self.update is None else dict(self.update))

    def _arm_retrieve(self) -> None:
        assert self.update is not None
        retrieve_local = parse_datetime(self.update["retrieveDate"]) - self.ctx.clock_offset_s
        if retrieve_local <= self.ctx.now:
            self.ctx.timers.cancel(FIRMWARE_TIMER)
            self._download()
        else:
            self.ctx.timers.set(FIRMWARE_TIMER, retrieve_local, lambda now: self._download())

    def _supports(self, location: str) -> bool:
        """Whether ``location``'s scheme is one of SupportedFileTransferProtocols (§8)."""
        return _scheme(location) in self.ctx.settings.file_transfer_protocols

    def clock_changed(self) -> None:
        """The OCPP clock moved: a waiting update's retrieveDate falls at another local time."""
        if self.update is not None and self.firmware_status is _F.Idle:
            self._arm_retrieve()

    def _download(self) -> None:
        update = self.update
        if update is None:
            return
        self.ctx.timers.cancel(FIRMWARE_TIMER)
        if not self._supports(update["location"]):
            log.warning("UpdateFirmware: protocol %r not supported", _scheme(update["location"]))
            self._finish(_F.DownloadFailed)  # no attempt can succeed: no retries
            return
        if self.firmware_status is not _F.Downloading:
            self._firmware_step(_F.Downloading)
        update["attempt"] += 1
        self._save_update()
        self.ctx.emit(DownloadFirmware(update["job"], update["location"]))

    def downloaded(self, job: int, ok: bool, reason: str) -> None:
        update = self.update
        if update is None or update["job"] != job or self.firmware_status is not _F.Downloading:
            log.info("ignoring the result of firmware download job %s", job)
            return
        if ok:
            self._firmware_step(_F.Downloaded)
            self._save_update()
            self._install_if_idle()
            return
        log.warning("firmware download %s failed (attempt %s): %s", job, update["attempt"], reason)
        if update["attempt"] <= update["retries"]:
            self._save_update()
            self.ctx.timers.set(
                FIRMWARE_TIMER, self.ctx.now + update["retryInterval"], lambda now: self._download()
            )
            return
        self._finish(_F.DownloadFailed)

    def _install_if_idle(self) -> None:
        update = self.update
        if update is None or self.firmware_status is not _F.Downloaded:
            return
        self._hold(True)
        if self.transactions.running():
            log.info("firmware downloaded: installing once the running transactions end")
            return
        self._firmware_step(_F.Installing)
        self._save_update()
        self.ctx.emit(InstallFirmware(update["job"]))

    def installed(self, job: int, ok: bool, version: str | None, reason: str) -> None:
        update = self.update
        if update is None or update["job"] != job or self.firmware_status is not _F.Installing:
            log.info("ignoring the result of firmware installation job %s", job)
            return
        if not ok or not version:
            log.error("firmware installation %s failed: %s", job, reason or "no version reported")
            self._finish(_F.InstallationFailed)
            return
        log.info("firmware %s installed: rebooting", version)
        self._firmware_step(_F.Installed, notify=False)  # reported after the reboot (erratum 3.47)
        self.ctx.persist(KIND, "update", None)
        self.ctx.persist(KIND, "installed", {"version": version, "job": job})
        self.ctx.persist(KIND, "report", {"status": _F.Installed.value, "job": job})
        self._reboot()

    def _finish(self, outcome: FirmwareStatus) -> None:
        """The update ended without a new firmware: report it, free the connectors."""
        self.ctx.timers.cancel(FIRMWARE_TIMER)
        self.ctx.persist(KIND, "update", None)
        self._firmware_step(outcome)
        self._hold(False)

    def _hold(self, on: bool) -> None:
        """Hold connectors 1..n out of service (Unavailable once idle) while an update waits to install."""
        changed = False
        for c in self.ctx.connectors[1:]:
            if c.maintenance != on:
                c.maintenance = on
                changed = True
        if changed:
            self.status.refresh()

    # -- GetDiagnostics (§5.9) ----------------------------------------------------------------------------
    @answers(GetDiagnosticsRequest)
    def _get_diagnostics(self, request: GetDiagnosticsRequest, call: Call) -> GetDiagnosticsResponse:
        """GetDiagnostics.req (§5.9, §6.25): the file name at once, the upload after the answer."""
        start = None if request.start_time is UNSET else float(request.start_time)
        stop = None if request.stop_time is UNSET else float(request.stop_time)
        if start is not None and stop is not None and stop < start:
            raise OcppError(ErrorCode.PropertyConstraintViolation, "stopTime is before startTime")
        settings = self.ctx.settings
        offset = self.ctx.wall_offset()  # the station's log lines are stamped with the wall clock
        file_name = diagnostics_file_name(settings.charge_point_id, self.ctx.ocpp_time())
        job = {
            "job": self._take_job(),
            "location": request.location,
            "fileName": file_name,
            "start": None if start is None else start - offset,
            "stop": None if stop is None else stop - offset,
            **self._retry_policy(request.retries, request.retry_interval),
            "state": _D.Idle.value,
        }
        if self.diagnostics is not None:  # a new request replaces a running upload
            check_step(DIAGNOSTICS_STEPS, "diagnostics upload", _D(self.diagnostics["state"]), _D.Idle)
        self.diagnostics = job
        self.ctx.timers.cancel(DIAGNOSTICS_TIMER)
        self.ctx.after_reply.append(lambda: self._upload(announce=True))
        return GetDiagnosticsResponse(file_name=file_name)

    def _upload(self, *, announce: bool = False) -> None:
        job = self.diagnostics
        if job is None:
            return
        self.ctx.timers.cancel(DIAGNOSTICS_TIMER)
        if not self._supports(job["location"]):
            log.warning("GetDiagnostics: protocol %r not supported", _scheme(job["location"]))
            self._finish_upload(_D.UploadFailed)
            return
        if announce:
            self._diagnostics_step(_D.Uploading)
        job["attempt"] += 1
        self.ctx.persist(KIND, "diagnostics", dict(job))
        self.ctx.emit(
            UploadDiagnostics(job["job"], job["location"], job["fileName"], job["start"], job["stop"])
        )

    def uploaded(self, job_id: int, ok: bool, reason: str) -> None:
        job = self.diagnostics
        if job is None or job["job"] != job_id:
            log.info("ignoring the result of diagnostics upload job %s", job_id)
            return
        if not ok:
            log.warning("diagnostics upload %s failed (attempt %s): %s", job_id, job["attempt"], reason)
            if job["attempt"] <= job["retries"]:
                self.ctx.timers.set(
                    DIAGNOSTICS_TIMER, self.ctx.now + job["retryInterval"], lambda now: self._upload()
                )
                return
        self._finish_upload(_D.Uploaded if ok else _D.UploadFailed)

    def _finish_upload(self, outcome: DiagnosticsStatus) -> None:
        self.ctx.persist(KIND, "diagnostics", None)
        self._diagnostics_step(outcome)
