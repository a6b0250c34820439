"""Firmware Management: UpdateFirmware and GetDiagnostics (OCPP 1.6 §5.19, §5.9, §4.4, §4.5, §8;
errata 3.12, 3.31, 3.47-3.49, 3.63, 3.90), and the secure firmware update SignedUpdateFirmware
(security whitepaper ed. 3, L01; at the end of this docstring).

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

**SignedUpdateFirmware** (L01, §5.21, §6.8-6.9; its steps: :data:`SIGNED_FIRMWARE_STEPS`, each reported
as a SignedFirmwareStatusNotification with the request's requestId, L01.FR.01, L01.FR.10):

* The signingCertificate is checked before the answer (L01.FR.23, :func:`signing_certificate_problem`):
  issued directly by an installed ManufacturerRootCertificate (``ctx.manufacturer_roots``), both valid
  at the OCPP time, key sizes of A00.FR.502-503. Invalid: InvalidCertificate and the security event
  InvalidFirmwareSigningCertificate (L01.FR.24, L01.FR.02); no revocation service, so never
  RevokedCertificate (L01.FR.25).
* DownloadScheduled while retrieveDateTime is ahead (L01.FR.13), Downloading (retries as above),
  Downloaded, then the shell checks the signature over the whole file (effect ``VerifyFirmware``,
  L01.FR.04, L01.FR.12): SignatureVerified, or InvalidSignature and the security event
  InvalidFirmwareSignature (L01.FR.03), the end. InstallScheduled while installDateTime is ahead
  (L01.FR.16-17); running transactions end first, the connectors are held Unavailable meanwhile
  (L01.FR.06-07, L01.FR.18-19); Installing (``InstallFirmware`` with the signature: the shell checks
  it again, so the hardware only gets a verified image), InstallRebooting before the reboot
  (L01.FR.15), Installed after it (record ``report`` with its requestId); or InstallationFailed.
* A new SignedUpdateFirmware cancels an update (signed or plain) that is not being installed:
  AcceptedCanceled (L01.FR.26); while installing: Rejected (L01.FR.27). A plain UpdateFirmware never
  displaces a signed update (it is ignored), and with :attr:`EngineSettings.signed_firmware_only` it is
  a CALLERROR NotSupported (L01.FR.20; off by default, so a CSMS without the whitepaper can update).
* ExtendedTriggerMessage FirmwareStatusNotification: the last status sent with its requestId
  (L01.FR.29), Idle without requestId after Installed or before any (L01.FR.28, L01.FR.21).
* Records ``signed`` (the update) and ``signedLast`` (the last status sent) survive a restart; an update
  past DownloadScheduled starts over with a fresh download and a fresh signature check.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import dsa, ec, rsa
from msgspec import UNSET, UnsetType

from ocpp_station.core.certificates import (
    MIN_EC_BITS,
    MIN_RSA_DSA_BITS,
    CertificateError,
    issued_by,
    parse_certificate,
    parse_certificates,
    validity_problem,
)
from ocpp_station.core.clock import format_datetime, parse_datetime
from ocpp_station.core.context import Context, log
from ocpp_station.core.effects import DownloadFirmware, InstallFirmware, UploadDiagnostics, VerifyFirmware
from ocpp_station.core.features.base import Feature, Trigger, answers, extended, on_result
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
    FirmwareStatusEnumType,
    FirmwareStatusNotificationRequest,
    FirmwareStatusNotificationResponse,
    GetDiagnosticsRequest,
    GetDiagnosticsResponse,
    MessageTrigger,
    MessageTriggerEnumType,
    SignedFirmwareStatusNotificationRequest,
    SignedFirmwareStatusNotificationResponse,
    SignedUpdateFirmwareRequest,
    SignedUpdateFirmwareResponse,
    UpdateFirmwareRequest,
    UpdateFirmwareResponse,
    UpdateFirmwareStatusEnumType,
)

KIND = "firmware"
FIRMWARE_TIMER = "firmware"
SIGNED_TIMER = "signed_firmware"
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

_S = FirmwareStatusEnumType
#: The steps of a signed firmware update (security whitepaper L01, §6.8): state -> allowed next states.
#: Idle: no signed update, or one accepted and not started yet. Idle is never reported as a step
#: (§6.8: only in answer to ExtendedTriggerMessage); a step to Idle is a cancel (L01.FR.26) or a restart.
SIGNED_FIRMWARE_STEPS: dict[FirmwareStatusEnumType, frozenset[FirmwareStatusEnumType]] = {
    # retrieveDateTime in the future (L01.FR.13), reached, or a protocol not supported (§8)
    _S.Idle: frozenset({_S.DownloadScheduled, _S.Downloading, _S.DownloadFailed}),
    _S.DownloadScheduled: frozenset({_S.Downloading, _S.DownloadFailed, _S.Idle}),
    # retries stay in Downloading (one notification per update)
    _S.Downloading: frozenset({_S.Downloaded, _S.DownloadFailed, _S.Idle}),
    # the signature, checked before anything is installed (L01.FR.04, L01.FR.12, L01.FR.03)
    _S.Downloaded: frozenset({_S.SignatureVerified, _S.InvalidSignature, _S.Idle}),
    # installDateTime in the future (L01.FR.16), or at once once no transaction runs (L01.FR.05-07)
    _S.SignatureVerified: frozenset({_S.InstallScheduled, _S.Installing, _S.Idle}),
    _S.InstallScheduled: frozenset({_S.Installing, _S.Idle}),
    # the hardware installed it: InstallRebooting before the reboot (L01.FR.15); Idle: a restart
    # InstallVerificationFailed: the image's signature, checked again right before the hardware gets
    # it, no longer verifies (the file changed since SignatureVerified); nothing is installed
    _S.Installing: frozenset(
        {_S.InstallRebooting, _S.InstallationFailed, _S.InstallVerificationFailed, _S.Idle}
    ),
    # Installed is reported after the reboot into the new firmware (OCTT TC_080_CS step 17)
    _S.InstallRebooting: frozenset({_S.Installed, _S.Idle}),
    _S.DownloadFailed: frozenset({_S.Idle}),
    _S.InvalidSignature: frozenset({_S.Idle}),
    _S.InstallationFailed: frozenset({_S.Idle}),
    _S.InstallVerificationFailed: frozenset({_S.Idle}),
    _S.Installed: frozenset({_S.Idle}),
}
#: End states of a signed update (§6.8 "end state"): reported, then the update is over (Idle).
_SIGNED_OUTCOMES = frozenset(
    {
        _S.DownloadFailed,
        _S.InvalidSignature,
        _S.InstallationFailed,
        _S.InstallVerificationFailed,
        _S.Installed,
    }
)
#: States in which a signed update can still be cancelled by a new one (L01.FR.26); not while the
#: hardware installs (L01.FR.27: Rejected).
_SIGNED_CANCELLABLE = frozenset(set(_S) - {_S.Installing, _S.InstallRebooting})


def signing_certificate_problem(pem: str, roots: list[str], at: float) -> str | None:
    """Why a SignedUpdateFirmware.req's signingCertificate is not valid (L01.FR.12, L01.FR.23), or None.

    It must be one X.509 certificate in PEM (A00.FR.507), valid at ``at`` (OCPP time), with a key of at
    least 2048 (RSA / DSA) or 224 (EC) bits (A00.FR.502-503), usable for signatures when it has a
    keyUsage extension, and issued directly by one of the installed ManufacturerRootCertificates
    ``roots`` (PEM texts), itself valid at ``at`` (no intermediate certificates: L01 remark).
    Revocation (§2.6.3: online verification) is not checked: there is no such service here."""
    try:
        certificate = parse_certificate(pem)
    except CertificateError as exc:
        return f"signingCertificate: {exc}"
    problem = validity_problem(certificate, at)
    if problem is not None:
        return f"signing certificate {problem}"
    key = certificate.public_key()
    if isinstance(key, rsa.RSAPublicKey | dsa.DSAPublicKey) and key.key_size < MIN_RSA_DSA_BITS:
        return f"signing certificate: {key.key_size}-bit key, at least {MIN_RSA_DSA_BITS} (A00.FR.502)"
    if isinstance(key, ec.EllipticCurvePublicKey) and key.key_size < MIN_EC_BITS:
        return f"signing certificate: {key.key_size}-bit curve, at least {MIN_EC_BITS} (A00.FR.503)"
    if not isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        return "signing certificate: neither an RSA nor an EC key (L01.FR.04)"
    try:
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        pass
    else:
        if not usage.digital_signature:
            return "signing certificate: keyUsage has no digitalSignature"
    if not roots:
        return "no ManufacturerRootCertificate installed"
    for text in roots:
        try:
            candidates = parse_certificates(text)
        except CertificateError:
            continue
        for root in candidates:
            if issued_by(certificate, root):
                problem = validity_problem(root, at)
                return None if problem is None else f"ManufacturerRootCertificate {problem}"
    return "signing certificate not issued by an installed ManufacturerRootCertificate"


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
    __slots__ = (
        "_next_job",
        "_reboot",
        "_report",
        "_signed_last",
        "ctx",
        "diagnostics",
        "signed",
        "status",
        "transactions",
        "update",
    )
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
        #: The SignedUpdateFirmware being carried out (its stored record), or None (L01).
        self.signed: dict[str, Any] | None = None
        #: The last SignedFirmwareStatusNotification sent: ``{"status", "requestId"}`` (L01.FR.28-29).
        self._signed_last: dict[str, Any] | None = None

    @property
    def supported(self) -> bool:
        """The profile needs at least one file transfer protocol (§8, erratum 3.90); without one,
        UpdateFirmware and GetDiagnostics are answered NotSupported."""
        return bool(self.ctx.settings.file_transfer_protocols)

    def transaction_ended(self, connector_id: int) -> None:
        """An installation waiting for the transactions to end may start (erratum 3.49)."""
        if self.supported:
            self._install_if_idle()
            self._signed_install_if_idle()

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
            # ExtendedTriggerMessage FirmwareStatusNotification: the *signed* status (§6.16, L01.FR.28-29)
            extended(MessageTriggerEnumType.FirmwareStatusNotification): lambda connector_id: (
                self._send_signed_last
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
        self._signed_last = records.get("signedLast")
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
        signed = records.get("signed")
        if signed is not None:
            self._restore_signed(signed)
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
        report = self._report
        if report is not None and report.get("requestId") is not None:  # a signed update's (L01)
            self._signed_notify(_S(report["status"]), int(report["requestId"]), meta={"report": True})
        elif report is not None:
            status = _F(report["status"])
            self.ctx.call(FirmwareStatusNotificationRequest(status=status), meta={"report": True})

    @on_result(FirmwareStatusNotificationRequest)
    def _report_sent(self, call: OutgoingCall, response: FirmwareStatusNotificationResponse) -> None:
        """The status the last run could not send is out: forget it."""
        if call.meta.get("report"):
            self._report = None
            self.ctx.persist(KIND, "report", None)

    @on_result(SignedFirmwareStatusNotificationRequest)
    def _signed_report_sent(
        self, call: OutgoingCall, response: SignedFirmwareStatusNotificationResponse
    ) -> None:
        """Installed, after the reboot into a signed firmware, is out: forget it."""
        self._report_sent(call, FirmwareStatusNotificationResponse())

    # -- UpdateFirmware (§5.19) ------------------------------------------------------------------------
    @answers(UpdateFirmwareRequest)
    def _update_firmware(self, request: UpdateFirmwareRequest, call: Call) -> UpdateFirmwareResponse:
        """UpdateFirmware.req (§5.19, §6.55): answered at once; the download waits for retrieveDate.

        With :attr:`EngineSettings.signed_firmware_only` a CALLERROR NotSupported, and nothing starts
        (security whitepaper L01.FR.20). Ignored while a signed update runs: an unsigned image does
        not displace a signed one."""
        if self.ctx.settings.signed_firmware_only:
            raise OcppError(ErrorCode.NotSupported, "only SignedUpdateFirmware is supported (L01.FR.20)")
        if self.signed is not None:
            log.warning(
                "UpdateFirmware ignored: a signed firmware update (requestId %s) runs",
                self.signed["requestId"],
            )
            return UpdateFirmwareResponse()
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
        if self.signed is not None and self.signed_status in (_S.Idle, _S.DownloadScheduled):
            self._signed_arm()
        elif self.signed is not None and self.signed_status is _S.InstallScheduled:
            self._signed_schedule_install()

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
        if self.signed is not None and self.signed["job"] == job:
            self._signed_downloaded(ok, reason)
            return
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

    def installed(
        self, job: int, ok: bool, version: str | None, reason: str, *, verification_failed: bool = False
    ) -> None:
        if self.signed is not None and self.signed["job"] == job:
            self._signed_installed(ok, version, reason, verification_failed)
            return
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

    # -- SignedUpdateFirmware (security whitepaper L01, §5.21) ---------------------------------------------
    @property
    def signed_status(self) -> FirmwareStatusEnumType:
        """The signed update's state (:data:`SIGNED_FIRMWARE_STEPS`), Idle without one."""
        return _S.Idle if self.signed is None else _S(self.signed["state"])

    def _signed_step(self, to: FirmwareStatusEnumType, *, notify: bool = True) -> None:
        """Move the signed update to ``to`` (checked against :data:`SIGNED_FIRMWARE_STEPS`) and report
        it with the update's requestId (L01.FR.01, L01.FR.10); an end state ends the update."""
        signed = self.signed
        assert signed is not None
        check_step(SIGNED_FIRMWARE_STEPS, "signed firmware update", self.signed_status, to)
        if to in _SIGNED_OUTCOMES:
            self.signed = None
            self.ctx.persist(KIND, "signed", None)
        else:
            signed["state"] = to.value
            self.ctx.persist(KIND, "signed", dict(signed))
        if notify:
            self._signed_notify(to, int(signed["requestId"]))

    def _signed_notify(self, status: FirmwareStatusEnumType, request_id: int, **kwargs: Any) -> None:
        self.ctx.call(SignedFirmwareStatusNotificationRequest(status=status, request_id=request_id), **kwargs)
        self._signed_last = {"status": status.value, "requestId": request_id}
        self.ctx.persist(KIND, "signedLast", dict(self._signed_last))

    def _send_signed_last(self) -> None:
        """ExtendedTriggerMessage FirmwareStatusNotification: the last status sent, with its requestId
        (L01.FR.29); Idle, without requestId (L01.FR.21), after Installed or when none was sent
        (L01.FR.28)."""
        last = self._signed_last
        if last is None or last["status"] == _S.Installed.value:
            self.ctx.call(SignedFirmwareStatusNotificationRequest(status=_S.Idle))
        else:
            self.ctx.call(
                SignedFirmwareStatusNotificationRequest(
                    status=_S(last["status"]), request_id=last["requestId"]
                )
            )

    @answers(SignedUpdateFirmwareRequest)
    def _signed_update_firmware(
        self, request: SignedUpdateFirmwareRequest, call: Call
    ) -> SignedUpdateFirmwareResponse:
        """SignedUpdateFirmware.req (§5.21): the signing certificate is checked first (L01.FR.23);
        invalid: InvalidCertificate and the security event InvalidFirmwareSigningCertificate
        (L01.FR.24, L01.FR.02), the update in progress goes on. Otherwise an update in progress that is
        not being installed is cancelled, AcceptedCanceled (L01.FR.26); one being installed cannot be,
        Rejected (L01.FR.27). The steps start after the answer."""
        firmware = request.firmware
        problem = signing_certificate_problem(
            firmware.signing_certificate, self.ctx.manufacturer_roots(), self.ctx.ocpp_time()
        )
        if problem is not None:
            log.warning("SignedUpdateFirmware %s: invalid certificate: %s", request.request_id, problem)
            self.ctx.tell("security_event", "InvalidFirmwareSigningCertificate", problem)
            return SignedUpdateFirmwareResponse(status=UpdateFirmwareStatusEnumType.InvalidCertificate)
        status = UpdateFirmwareStatusEnumType.Accepted
        if self.firmware_status is _F.Installing or self.signed_status not in _SIGNED_CANCELLABLE:
            log.warning("SignedUpdateFirmware %s rejected: a firmware is being installed", request.request_id)
            return SignedUpdateFirmwareResponse(status=UpdateFirmwareStatusEnumType.Rejected)
        if self.signed is not None:
            log.info(
                "signed firmware update %s cancelled by %s", self.signed["requestId"], request.request_id
            )
            self._signed_step(_S.Idle, notify=False)
            status = UpdateFirmwareStatusEnumType.AcceptedCanceled
        elif self.update is not None:
            log.info("firmware update cancelled by SignedUpdateFirmware %s", request.request_id)
            check_step(FIRMWARE_STEPS, "firmware update", self.firmware_status, _F.Idle)
            self.update = None
            self.ctx.persist(KIND, "update", None)
            self.ctx.timers.cancel(FIRMWARE_TIMER)
            status = UpdateFirmwareStatusEnumType.AcceptedCanceled
        self.ctx.timers.cancel(SIGNED_TIMER)
        self._hold(False)
        install = firmware.install_date_time
        self.signed = {
            "job": self._take_job(),
            "requestId": request.request_id,
            "location": firmware.location,
            "retrieveDateTime": format_datetime(firmware.retrieve_date_time),
            "installDateTime": None if install is UNSET else format_datetime(install),
            "signingCertificate": firmware.signing_certificate,
            "signature": firmware.signature,
            **self._retry_policy(request.retries, request.retry_interval),
            "state": _S.Idle.value,
        }
        self.ctx.persist(KIND, "signed", dict(self.signed))
        self.ctx.after_reply.append(self._signed_arm)
        return SignedUpdateFirmwareResponse(status=status)

    def _restore_signed(self, record: dict[str, Any]) -> None:
        """A signed update survives a restart: one waiting for its retrieveDateTime waits on; one
        further on starts over with a fresh download (the image on disk may be partial or gone),
        checked again before it is installed."""
        state = _S(record["state"])
        self.signed = dict(record)
        if state in (_S.Idle, _S.DownloadScheduled):
            retrieve = parse_datetime(record["retrieveDateTime"]) - self.ctx.clock_offset_s
            self.ctx.timers.set(
                SIGNED_TIMER, max(self.ctx.now, retrieve), lambda now: self._signed_download()
            )
            return
        check_step(SIGNED_FIRMWARE_STEPS, "signed firmware update", state, _S.Idle)
        self.signed["state"] = _S.Idle.value
        self.signed["attempt"] = 0
        self.ctx.timers.set(SIGNED_TIMER, self.ctx.now, lambda now: self._signed_download())

    def _signed_arm(self) -> None:
        """Download at retrieveDateTime; until then DownloadScheduled (L01.FR.13)."""
        signed = self.signed
        if signed is None or self.signed_status not in (_S.Idle, _S.DownloadScheduled):
            return
        retrieve = parse_datetime(signed["retrieveDateTime"]) - self.ctx.clock_offset_s
        if retrieve <= self.ctx.now:
            self._signed_download()
            return
        if self.signed_status is _S.Idle:
            self._signed_step(_S.DownloadScheduled)
        self.ctx.timers.set(SIGNED_TIMER, retrieve, lambda now: self._signed_download())

    def _signed_download(self) -> None:
        signed = self.signed
        if signed is None:
            return
        self.ctx.timers.cancel(SIGNED_TIMER)
        if not self._supports(signed["location"]):
            log.warning("SignedUpdateFirmware: protocol %r not supported", _scheme(signed["location"]))
            self._signed_finish(_S.DownloadFailed)
            return
        if self.signed_status is not _S.Downloading:
            self._signed_step(_S.Downloading)
        signed["attempt"] += 1
        self.ctx.persist(KIND, "signed", dict(signed))
        self.ctx.emit(DownloadFirmware(signed["job"], signed["location"]))

    def _signed_downloaded(self, ok: bool, reason: str) -> None:
        signed = self.signed
        if signed is None or self.signed_status is not _S.Downloading:
            log.info("ignoring a download result of the signed firmware update")
            return
        if ok:
            # Downloaded, then the signature over the whole file before anything else (L01.FR.04)
            self._signed_step(_S.Downloaded)
            self.ctx.emit(VerifyFirmware(signed["job"], signed["signingCertificate"], signed["signature"]))
            return
        log.warning(
            "signed firmware download %s failed (attempt %s): %s", signed["job"], signed["attempt"], reason
        )
        if signed["attempt"] <= signed["retries"]:
            self.ctx.persist(KIND, "signed", dict(signed))
            self.ctx.timers.set(
                SIGNED_TIMER, self.ctx.now + signed["retryInterval"], lambda now: self._signed_download()
            )
            return
        self._signed_finish(_S.DownloadFailed)

    def verified(self, job: int, ok: bool, reason: str) -> None:
        """The shell checked the downloaded image's signature (L01.FR.04, L01.FR.12): SignatureVerified,
        or InvalidSignature and the security event InvalidFirmwareSignature (L01.FR.03)."""
        signed = self.signed
        if signed is None or signed["job"] != job or self.signed_status is not _S.Downloaded:
            log.info("ignoring the signature check of firmware job %s", job)
            return
        if not ok:
            log.error("firmware signature of update %s invalid: %s", signed["requestId"], reason)
            self.ctx.tell("security_event", "InvalidFirmwareSignature", reason or "signature does not verify")
            self._signed_finish(_S.InvalidSignature)
            return
        self._signed_step(_S.SignatureVerified)
        self._signed_schedule_install()

    def _install_at(self) -> float | None:
        """The local time of the signed update's installDateTime, None without one."""
        assert self.signed is not None
        text = self.signed.get("installDateTime")
        return None if text is None else parse_datetime(text) - self.ctx.clock_offset_s

    def _signed_schedule_install(self) -> None:
        """installDateTime in the future: InstallScheduled, installed then (L01.FR.16-17); otherwise
        as soon as the station can (L01.FR.05)."""
        at = self._install_at()
        if at is not None and at > self.ctx.now:
            if self.signed_status is not _S.InstallScheduled:
                self._signed_step(_S.InstallScheduled)
            self.ctx.timers.set(SIGNED_TIMER, at, lambda now: self._signed_install_if_idle())
            return
        self._signed_install_if_idle()

    def _signed_install_if_idle(self) -> None:
        """Install once no transaction runs (L01.FR.06, L01.FR.18); the connectors are held
        Unavailable meanwhile (L01.FR.07, L01.FR.19)."""
        signed = self.signed
        if signed is None or self.signed_status not in (_S.SignatureVerified, _S.InstallScheduled):
            return
        at = self._install_at()
        if at is not None and at > self.ctx.now:
            return
        self._hold(True)
        if self.transactions.running():
            log.info("signed firmware verified: installing once the running transactions end")
            return
        self._signed_step(_S.Installing)
        self.ctx.emit(InstallFirmware(signed["job"], signed["signingCertificate"], signed["signature"]))

    def _signed_installed(
        self, ok: bool, version: str | None, reason: str, verification_failed: bool
    ) -> None:
        signed = self.signed
        if signed is None or self.signed_status is not _S.Installing:
            log.info("ignoring an installation result of the signed firmware update")
            return
        if verification_failed:
            # The image changed since SignatureVerified: nothing installed (InstallVerificationFailed),
            # and an image whose signature does not verify is the security event of L01.FR.03.
            log.error("signed firmware: the image no longer verifies before installing: %s", reason)
            self.ctx.tell("security_event", "InvalidFirmwareSignature", f"before installing: {reason}")
            self._signed_finish(_S.InstallVerificationFailed)
            return
        if not ok or not version:
            log.error("signed firmware installation failed: %s", reason or "no version reported")
            self._signed_finish(_S.InstallationFailed)
            return
        log.info("signed firmware %s installed: rebooting", version)
        job = signed["job"]
        self._signed_step(_S.InstallRebooting)  # before the reboot (L01.FR.15)
        self.ctx.persist(KIND, "signed", None)
        self.ctx.persist(KIND, "installed", {"version": version, "job": job})
        self.ctx.persist(
            KIND, "report", {"status": _S.Installed.value, "job": job, "requestId": signed["requestId"]}
        )
        self._reboot()

    def _signed_finish(self, outcome: FirmwareStatusEnumType) -> None:
        """The signed update ended without a new firmware: report it, free the connectors."""
        self.ctx.timers.cancel(SIGNED_TIMER)
        self._signed_step(outcome)
        self._hold(False)

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
