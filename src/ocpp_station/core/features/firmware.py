"""Firmware Management: UpdateFirmware and GetDiagnostics (OCPP 1.6 §5.19, §5.9, §4.4, §4.5, §8;
errata 3.12, 3.31, 3.47-3.49, 3.63, 3.90).

The engine decides, the shell transfers. Each step is one effect and one result event:

====================  ====================  =======================================================
state                 effect out            result event in -> next state
====================  ====================  =======================================================
Waiting               (timer: retrieveDate)  -> Downloading
Downloading           DownloadFirmware      FirmwareDownloaded ok -> Downloaded; failed -> a retry
                                            after retryInterval, or DownloadFailed (done)
Downloaded            (transactions end)     -> Installing
Installing            InstallFirmware       FirmwareInstalled ok -> reboot, Installed after the
                                            next BootNotification; failed -> InstallationFailed
====================  ====================  =======================================================

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
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from ocpp_station.core.clock import parse_datetime
from ocpp_station.core.context import Context, log
from ocpp_station.core.effects import DownloadFirmware, InstallFirmware, UploadDiagnostics
from ocpp_station.core.features.status import StatusReporter
from ocpp_station.core.features.transactions import Transactions
from ocpp_station.core.rpc import OutgoingCall
from ocpp_station.wire.errors import ErrorCode, OcppError
from ocpp_station.wire.frames import Call

KIND = "firmware"
FIRMWARE_TIMER = "firmware"
DIAGNOSTICS_TIMER = "diagnostics"
#: Busy firmware states, as reported to a TriggerMessage; any other state reports Idle.
_BUSY = ("Downloading", "Downloaded", "Installing")
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


def _timestamp(payload: dict[str, Any], name: str) -> float | None:
    text = payload.get(name)
    if text is None:
        return None
    try:
        return parse_datetime(text)
    except ValueError:
        raise OcppError(ErrorCode.TypeConstraintViolation, f"{name} is not a date-time: {text!r}") from None


class FirmwareManagement:
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
        if self.supported:  # else the CALLs are answered NotSupported
            ctx.route("UpdateFirmware", incoming=self._update_firmware)
            ctx.route("GetDiagnostics", incoming=self._get_diagnostics)
            ctx.route("FirmwareStatusNotification", result=self._report_sent)
            transactions.on_ended.append(lambda connector_id: self._install_if_idle())

    @property
    def supported(self) -> bool:
        """The profile needs at least one file transfer protocol (§8, erratum 3.90)."""
        return bool(self.ctx.settings.file_transfer_protocols)

    @property
    def firmware_status(self) -> str:
        """What a triggered FirmwareStatusNotification reports (§4.5)."""
        state = None if self.update is None else self.update["state"]
        return state if state in _BUSY else "Idle"

    @property
    def diagnostics_status(self) -> str:
        """What a triggered DiagnosticsStatusNotification reports (§4.4)."""
        return "Idle" if self.diagnostics is None else "Uploading"

    # -- restart ------------------------------------------------------------------------------------
    def restore(self, records: dict[str, Any]) -> None:
        """Take back what the store kept (after the clock offset, which retrieveDate needs). Nothing
        starts here: effects of the constructor would be lost, so each job resumes at a timer."""
        installed = records.get("installed")
        if installed is not None:
            self.ctx.firmware_version = str(installed["version"])
        self._report = records.get("report")
        jobs = [int(record.get("job", 0)) for record in records.values()]
        self._next_job = max(jobs, default=0) + 1
        update = records.get("update")
        if update is not None:
            self.update = dict(update)
            at = self.ctx.now
            if update["state"] == "Waiting":
                at = max(at, parse_datetime(update["retrieveDate"]) - self.ctx.clock_offset_s)
            else:
                # The image on disk may be partial or gone: start over with a fresh download.
                self.update["state"] = "Waiting"
                self.update["attempt"] = 0
            self.ctx.timers.set(FIRMWARE_TIMER, at, lambda now: self._download())
        diagnostics = records.get("diagnostics")
        if diagnostics is not None:
            self.diagnostics = dict(diagnostics)
            self.diagnostics["attempt"] = 0
            self.ctx.timers.set(DIAGNOSTICS_TIMER, self.ctx.now, lambda now: self._upload(announce=True))

    def accepted(self) -> None:
        """BootNotification Accepted: report what the last run could not (Installed after the reboot)."""
        if self._report is not None:
            self.ctx.call(
                "FirmwareStatusNotification", {"status": self._report["status"]}, meta={"report": True}
            )

    def _report_sent(self, call: OutgoingCall, payload: dict[str, Any]) -> None:
        if call.meta.get("report"):
            self._report = None
            self.ctx.persist(KIND, "report", None)

    # -- UpdateFirmware (§5.19) ------------------------------------------------------------------------
    def _update_firmware(self, call: Call) -> dict[str, Any]:
        payload = call.payload
        retrieve_at = _timestamp(payload, "retrieveDate")
        assert retrieve_at is not None  # required by the schema
        if self.update is not None and self.update["state"] == "Installing":
            log.warning("UpdateFirmware ignored: a firmware is being installed")
            return {}
        self.update = {
            "job": self._take_job(),
            "location": payload["location"],
            "retrieveDate": payload["retrieveDate"],
            **self._retry_policy(payload),
            "state": "Waiting",
        }
        self._hold(False)
        self._save_update()
        self.ctx.after_reply.append(self._arm_retrieve)
        return {}

    def _retry_policy(self, payload: dict[str, Any]) -> dict[str, int]:
        """retries / retryInterval of a request, or the charge point's defaults (§6.25, §6.55)."""
        settings = self.ctx.settings
        return {
            "retries": max(0, int(payload.get("retries", settings.transfer_retries))),
            "retryInterval": max(0, int(payload.get("retryInterval", settings.transfer_retry_interval_s))),
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
        if self.update is not None and self.update["state"] == "Waiting":
            self._arm_retrieve()

    def _download(self) -> None:
        update = self.update
        if update is None:
            return
        self.ctx.timers.cancel(FIRMWARE_TIMER)
        if not self._supports(update["location"]):
            log.warning("UpdateFirmware: protocol %r not supported", _scheme(update["location"]))
            self._finish("DownloadFailed")  # no attempt can succeed: no retries
            return
        if update["state"] != "Downloading":
            update["state"] = "Downloading"
            self._notify("Downloading")
        update["attempt"] += 1
        self._save_update()
        self.ctx.emit(DownloadFirmware(update["job"], update["location"]))

    def downloaded(self, job: int, ok: bool, reason: str) -> None:
        update = self.update
        if update is None or update["job"] != job or update["state"] != "Downloading":
            log.info("ignoring the result of firmware download job %s", job)
            return
        if ok:
            update["state"] = "Downloaded"
            self._save_update()
            self._notify("Downloaded")
            self._install_if_idle()
            return
        log.warning("firmware download %s failed (attempt %s): %s", job, update["attempt"], reason)
        if update["attempt"] <= update["retries"]:
            self._save_update()
            self.ctx.timers.set(
                FIRMWARE_TIMER, self.ctx.now + update["retryInterval"], lambda now: self._download()
            )
            return
        self._finish("DownloadFailed")

    def _install_if_idle(self) -> None:
        update = self.update
        if update is None or update["state"] != "Downloaded":
            return
        self._hold(True)
        if self.transactions.running():
            log.info("firmware downloaded: installing once the running transactions end")
            return
        update["state"] = "Installing"
        self._save_update()
        self._notify("Installing")
        self.ctx.emit(InstallFirmware(update["job"]))

    def installed(self, job: int, ok: bool, version: str | None, reason: str) -> None:
        update = self.update
        if update is None or update["job"] != job or update["state"] != "Installing":
            log.info("ignoring the result of firmware installation job %s", job)
            return
        if not ok or not version:
            log.error("firmware installation %s failed: %s", job, reason or "no version reported")
            self._finish("InstallationFailed")
            return
        log.info("firmware %s installed: rebooting", version)
        self.update = None
        self.ctx.persist(KIND, "update", None)
        self.ctx.persist(KIND, "installed", {"version": version, "job": job})
        self.ctx.persist(KIND, "report", {"status": "Installed", "job": job})
        self._reboot()

    def _finish(self, status: str) -> None:
        """The update ended without a new firmware: report it, free the connectors."""
        self.update = None
        self.ctx.timers.cancel(FIRMWARE_TIMER)
        self.ctx.persist(KIND, "update", None)
        self._notify(status)
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

    def _notify(self, status: str) -> None:
        self.ctx.call("FirmwareStatusNotification", {"status": status})

    # -- GetDiagnostics (§5.9) ----------------------------------------------------------------------------
    def _get_diagnostics(self, call: Call) -> dict[str, Any]:
        payload = call.payload
        start = _timestamp(payload, "startTime")
        stop = _timestamp(payload, "stopTime")
        if start is not None and stop is not None and stop < start:
            raise OcppError(ErrorCode.PropertyConstraintViolation, "stopTime is before startTime")
        settings = self.ctx.settings
        offset = self.ctx.wall_offset()  # the station's log lines are stamped with the wall clock
        file_name = diagnostics_file_name(settings.charge_point_id, self.ctx.ocpp_time())
        self.diagnostics = {
            "job": self._take_job(),
            "location": payload["location"],
            "fileName": file_name,
            "start": None if start is None else start - offset,
            "stop": None if stop is None else stop - offset,
            **self._retry_policy(payload),
        }
        self.ctx.timers.cancel(DIAGNOSTICS_TIMER)
        self.ctx.after_reply.append(lambda: self._upload(announce=True))
        return {"fileName": file_name}

    def _upload(self, *, announce: bool = False) -> None:
        job = self.diagnostics
        if job is None:
            return
        self.ctx.timers.cancel(DIAGNOSTICS_TIMER)
        if not self._supports(job["location"]):
            log.warning("GetDiagnostics: protocol %r not supported", _scheme(job["location"]))
            self._finish_upload("UploadFailed")
            return
        if announce:
            self.ctx.call("DiagnosticsStatusNotification", {"status": "Uploading"})
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
        self._finish_upload("Uploaded" if ok else "UploadFailed")

    def _finish_upload(self, status: str) -> None:
        self.diagnostics = None
        self.ctx.persist(KIND, "diagnostics", None)
        self.ctx.call("DiagnosticsStatusNotification", {"status": status})
