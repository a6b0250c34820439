"""Firmware Management in the engine: UpdateFirmware and GetDiagnostics (OCPP 1.6 §5.19, §5.9),
OCTT TC_044_x and TC_045_x, with a fake clock and the transfer results fed as events."""

from __future__ import annotations

from typing import Any

from ocpp_station.core.clock import format_datetime
from ocpp_station.core.effects import DownloadFirmware, InstallFirmware, Reboot, UploadDiagnostics
from ocpp_station.core.events import (
    CablePlugged,
    DiagnosticsUploaded,
    FirmwareDownloaded,
    FirmwareInstalled,
    IdTagPresented,
)
from ocpp_station.core.features.firmware import diagnostics_file_name
from ocpp_station.core.settings import EngineSettings
from tests.core.harness import Harness, Unanswered

URL = "ftp://127.0.0.1:2121/firmware-2.0.bin"
UPLOAD = "ftp://127.0.0.1:2121/diagnostics/"


def firmware_statuses(h: Harness, since: int = 0) -> list[str]:
    return [p["status"] for a, p in h.calls[since:] if a == "FirmwareStatusNotification"]


def diagnostics_statuses(h: Harness, since: int = 0) -> list[str]:
    return [p["status"] for a, p in h.calls[since:] if a == "DiagnosticsStatusNotification"]


def update_firmware(h: Harness, *, delay_s: float = 0, **extra: Any) -> DownloadFirmware | None:
    """Send UpdateFirmware; return the DownloadFirmware effect it started (None if it waits)."""
    before = len(h.effects)
    payload = {"location": URL, "retrieveDate": format_datetime(h.now + delay_s), **extra}
    assert h.csms_result("UpdateFirmware", payload) == {}
    started = [e for e in h.effects[before:] if isinstance(e, DownloadFirmware)]
    return started[-1] if started else None


def last(h: Harness, kind: type) -> Any:
    found = h.effects_of(kind)
    assert found, f"no {kind.__name__} effect"
    return found[-1]


# -- TC_044_x ------------------------------------------------------------------------------------------


def test_tc_044_1_firmware_update_download_and_install() -> None:
    h = Harness(
        EngineSettings(identity={"chargePointVendor": "V", "chargePointModel": "M", "firmwareVersion": "1.0"})
    )
    assert h.sent("BootNotification")[0]["firmwareVersion"] == "1.0"
    mark = h.mark()
    download = update_firmware(h)
    assert download is not None and download.location == URL
    assert firmware_statuses(h, mark) == ["Downloading"]
    h.feed(FirmwareDownloaded(download.job, ok=True))
    install = last(h, InstallFirmware)
    assert install.job == download.job
    assert firmware_statuses(h, mark) == ["Downloading", "Downloaded", "Installing"]
    # Connectors are held out of service while installing (the OCTT "MAY set all connectors Unavailable").
    assert h.statuses(1)[-1] == "Unavailable"
    h.feed(FirmwareInstalled(install.job, ok=True, version="2.0"))
    assert h.effects_of(Reboot) == [Reboot(hard=True)]

    after = h.reboot(restore=True)
    actions = after.actions()
    assert actions[0] == "BootNotification"
    assert after.sent("BootNotification")[0]["firmwareVersion"] == "2.0"
    assert after.statuses(1) == ["Available"]
    assert firmware_statuses(after) == ["Installed"]
    assert actions.index("FirmwareStatusNotification") > actions.index("StatusNotification")
    # Installed is reported once: the next boot reports nothing, and keeps the new version.
    again = after.reboot(restore=True)
    assert firmware_statuses(again) == []
    assert again.sent("BootNotification")[0]["firmwareVersion"] == "2.0"


def test_tc_044_2_firmware_update_download_failed() -> None:
    h = Harness()
    mark = h.mark()
    download = update_firmware(h, location="ftp://127.0.0.1:21/download_fail.fwi", retries=0)
    assert download is not None
    h.feed(FirmwareDownloaded(download.job, ok=False, reason="550 no such file"))
    assert firmware_statuses(h, mark) == ["Downloading", "DownloadFailed"]
    assert not h.effects_of(InstallFirmware)
    assert h.engine.firmware.firmware_status == "Idle"
    assert h.statuses(1) == ["Available"]  # never held: the old firmware stays and serves


def test_tc_044_3_firmware_update_installation_failed() -> None:
    h = Harness()
    mark = h.mark()
    download = update_firmware(h)
    assert download is not None
    h.feed(FirmwareDownloaded(download.job, ok=True))
    h.feed(FirmwareInstalled(download.job, ok=False, reason="checksum mismatch"))
    assert firmware_statuses(h, mark) == ["Downloading", "Downloaded", "Installing", "InstallationFailed"]
    assert not h.effects_of(Reboot)
    assert h.statuses(1)[-2:] == ["Unavailable", "Available"]
    assert h.engine.firmware.firmware_status == "Idle"


# -- UpdateFirmware details -------------------------------------------------------------------------------


def test_download_waits_for_retrieve_date_on_the_csms_clock() -> None:
    h = Harness()
    assert update_firmware(h, delay_s=120) is None
    assert firmware_statuses(h) == []
    h.advance(119)
    assert not h.effects_of(DownloadFirmware)
    h.advance(1)
    assert len(h.effects_of(DownloadFirmware)) == 1
    assert firmware_statuses(h) == ["Downloading"]


def test_download_retries_after_the_interval_then_fails() -> None:
    h = Harness()
    download = update_firmware(h, retries=2, retryInterval=30)
    assert download is not None
    for attempt in range(2):
        h.feed(FirmwareDownloaded(download.job, ok=False, reason="timeout"))
        h.advance(29)
        assert len(h.effects_of(DownloadFirmware)) == attempt + 1
        h.advance(1)
        assert len(h.effects_of(DownloadFirmware)) == attempt + 2
    h.feed(FirmwareDownloaded(download.job, ok=False, reason="timeout"))
    # Downloading is reported once, not per attempt (erratum 3.52: retries are re-tries).
    assert firmware_statuses(h) == ["Downloading", "DownloadFailed"]
    h.advance(600)
    assert len(h.effects_of(DownloadFirmware)) == 3


def test_a_retry_that_succeeds_goes_on_to_install() -> None:
    h = Harness()
    download = update_firmware(h, retries=1, retryInterval=10)
    assert download is not None
    h.feed(FirmwareDownloaded(download.job, ok=False, reason="refused"))
    h.advance(10)
    h.feed(FirmwareDownloaded(download.job, ok=True))
    assert firmware_statuses(h) == ["Downloading", "Downloaded", "Installing"]


def test_missing_retries_use_the_charge_point_default() -> None:
    h = Harness(EngineSettings(transfer_retries=1, transfer_retry_interval_s=5))
    download = update_firmware(h)
    assert download is not None
    h.feed(FirmwareDownloaded(download.job, ok=False))
    h.advance(5)
    h.feed(FirmwareDownloaded(download.job, ok=False))
    assert firmware_statuses(h) == ["Downloading", "DownloadFailed"]
    assert len(h.effects_of(DownloadFirmware)) == 2


def test_running_transaction_finishes_before_installation() -> None:
    settings = EngineSettings(connectors=(EngineSettings().connectors[0],) * 2)
    h = Harness(settings)
    h.feed(CablePlugged(1))
    h.feed(IdTagPresented("TAG", 1))
    assert h.statuses(1)[-1] == "Charging"
    download = update_firmware(h)
    assert download is not None
    h.feed(FirmwareDownloaded(download.job, ok=True))
    assert firmware_statuses(h) == ["Downloading", "Downloaded"]
    assert not h.effects_of(InstallFirmware)
    # The idle connector is held Unavailable meanwhile (erratum 3.49); the charging one goes on.
    assert h.statuses(2)[-1] == "Unavailable"
    assert h.statuses(1)[-1] == "Charging"
    h.feed(IdTagPresented("TAG", 1))  # the driver stops
    assert h.sent("StopTransaction")
    assert firmware_statuses(h)[-1] == "Installing"
    assert len(h.effects_of(InstallFirmware)) == 1


def test_no_new_transaction_while_an_update_waits_to_install() -> None:
    settings = EngineSettings(connectors=(EngineSettings().connectors[0],) * 2)
    h = Harness(settings)
    h.feed(CablePlugged(1))
    h.feed(IdTagPresented("TAG", 1))
    download = update_firmware(h)
    assert download is not None
    h.feed(FirmwareDownloaded(download.job, ok=True))
    h.feed(CablePlugged(2))
    h.feed(IdTagPresented("TAG2", 2))
    assert len(h.sent("StartTransaction")) == 1


def test_a_new_update_replaces_one_not_yet_installing() -> None:
    h = Harness()
    first = update_firmware(h)
    assert first is not None
    second = update_firmware(h, location="http://127.0.0.1:8080/fw-3.bin")
    assert second is not None and second.job != first.job
    h.feed(FirmwareDownloaded(first.job, ok=True))  # the old job's result: ignored
    assert not h.effects_of(InstallFirmware)
    h.feed(FirmwareDownloaded(second.job, ok=True))
    assert last(h, InstallFirmware).job == second.job


def test_update_while_installing_is_ignored() -> None:
    h = Harness()
    download = update_firmware(h)
    assert download is not None
    h.feed(FirmwareDownloaded(download.job, ok=True))
    assert update_firmware(h, location="http://127.0.0.1/other.bin") is None
    h.feed(FirmwareInstalled(download.job, ok=True, version="2.0"))
    assert h.effects_of(Reboot)


def test_reboot_waits_for_installing_to_reach_the_csms() -> None:
    h = Harness()
    h.responders["FirmwareStatusNotification"] = lambda p: Unanswered()
    download = update_firmware(h)
    assert download is not None
    h.answer("FirmwareStatusNotification", {})
    h.feed(FirmwareDownloaded(download.job, ok=True))
    h.answer("FirmwareStatusNotification", {})
    h.feed(FirmwareInstalled(download.job, ok=True, version="2.0"))
    assert not h.effects_of(Reboot)  # Installing is still unanswered
    h.answer("FirmwareStatusNotification", {})
    assert h.effects_of(Reboot) == [Reboot(hard=True)]


def test_waiting_update_survives_a_restart() -> None:
    h = Harness()
    assert update_firmware(h, delay_s=300) is None
    h.advance(100)
    after = h.reboot(restore=True)
    after.advance(199)
    assert not after.effects_of(DownloadFirmware)
    after.advance(1)
    assert len(after.effects_of(DownloadFirmware)) == 1
    assert firmware_statuses(after) == ["Downloading"]


def test_retrieve_date_that_passed_while_off_starts_the_download_after_a_restart() -> None:
    h = Harness()
    assert update_firmware(h, delay_s=60) is None
    h.now += 3600  # off for an hour
    after = h.reboot(restore=True)
    assert not after.effects_of(DownloadFirmware)  # nothing is lost in the constructor ...
    after.advance(0.001)  # ... it starts at the first timer
    assert len(after.effects_of(DownloadFirmware)) == 1
    assert after.records["firmware"]["update"]["state"] == "Downloading"
    assert firmware_statuses(after) == ["Downloading"]


def test_interrupted_download_starts_over_after_a_restart() -> None:
    h = Harness()
    download = update_firmware(h)
    assert download is not None
    after = h.reboot(restore=True)
    after.advance(0.001)
    restarted = last(after, DownloadFirmware)
    assert restarted.location == URL and restarted.job == download.job
    after.feed(FirmwareDownloaded(restarted.job, ok=True))
    assert firmware_statuses(after) == ["Downloading", "Downloaded", "Installing"]


def test_interrupted_installation_starts_over_after_a_restart() -> None:
    h = Harness()
    download = update_firmware(h)
    assert download is not None
    h.feed(FirmwareDownloaded(download.job, ok=True))
    assert last(h, InstallFirmware).job == download.job
    after = h.reboot(restore=True)  # power lost while installing
    after.advance(0.001)
    assert last(after, DownloadFirmware).job == download.job
    assert firmware_statuses(after) == ["Downloading"]


def test_a_new_update_replaces_one_waiting_to_install() -> None:
    h = Harness()
    h.feed(CablePlugged(1))
    h.feed(IdTagPresented("TAG", 1))
    first = update_firmware(h)
    assert first is not None
    h.feed(FirmwareDownloaded(first.job, ok=True))
    assert firmware_statuses(h) == ["Downloading", "Downloaded"]  # installs once charging ends
    second = update_firmware(h, location="http://127.0.0.1:8080/fw-3.bin")
    assert second is not None and second.job != first.job
    h.feed(FirmwareDownloaded(second.job, ok=True))
    h.feed(IdTagPresented("TAG", 1))  # the driver stops
    assert [e.job for e in h.effects_of(InstallFirmware)] == [second.job]
    assert firmware_statuses(h) == ["Downloading", "Downloaded", "Downloading", "Downloaded", "Installing"]


def test_triggered_firmware_status_reports_progress() -> None:
    h = Harness()

    def triggered() -> str:
        mark = h.mark()
        assert h.csms_result("TriggerMessage", {"requestedMessage": "FirmwareStatusNotification"}) == {
            "status": "Accepted"
        }
        return firmware_statuses(h, mark)[-1]

    assert triggered() == "Idle"
    download = update_firmware(h)
    assert download is not None
    assert triggered() == "Downloading"
    h.feed(FirmwareDownloaded(download.job, ok=True))
    assert triggered() == "Installing"
    h.feed(FirmwareInstalled(download.job, ok=False))
    assert triggered() == "Idle"


# -- GetDiagnostics: TC_045_x ---------------------------------------------------------------------------------


def get_diagnostics(h: Harness, **extra: Any) -> tuple[dict[str, Any], UploadDiagnostics]:
    before = len(h.effects)
    result = h.csms_result("GetDiagnostics", {"location": UPLOAD, **extra})
    uploads = [e for e in h.effects[before:] if isinstance(e, UploadDiagnostics)]
    assert len(uploads) == 1
    return result, uploads[0]


def test_tc_045_1_get_diagnostics() -> None:
    h = Harness()
    mark = h.mark()
    result, upload = get_diagnostics(h)
    assert result == {"fileName": diagnostics_file_name("CP_1", h.now)}
    assert upload.file_name == result["fileName"] and upload.location == UPLOAD
    assert diagnostics_statuses(h, mark) == ["Uploading"]
    h.feed(DiagnosticsUploaded(upload.job, ok=True))
    assert diagnostics_statuses(h, mark) == ["Uploading", "Uploaded"]
    assert h.engine.firmware.diagnostics_status == "Idle"


def test_tc_045_2_get_diagnostics_upload_failed() -> None:
    h = Harness()
    _, upload = get_diagnostics(h, retries=0)
    h.feed(DiagnosticsUploaded(upload.job, ok=False, reason="550 failedLocation"))
    assert diagnostics_statuses(h) == ["Uploading", "UploadFailed"]
    h.advance(600)
    assert len(h.effects_of(UploadDiagnostics)) == 1


def test_diagnostics_window_is_converted_to_the_local_clock() -> None:
    h = Harness()
    h.engine.ctx.clock_offset_s = 100.0  # the CSMS clock runs 100 s ahead
    start, stop = h.now - 3600, h.now
    _, upload = get_diagnostics(h, startTime=format_datetime(start), stopTime=format_datetime(stop))
    assert upload.start_s == start - 100 and upload.stop_s == stop - 100


def test_diagnostics_window_stop_before_start_is_refused() -> None:
    h = Harness()
    answer = h.csms_call(
        "GetDiagnostics",
        {"location": UPLOAD, "startTime": format_datetime(h.now), "stopTime": format_datetime(h.now - 1)},
    )
    assert answer[:3] == [4, answer[1], "PropertyConstraintViolation"]


def test_diagnostics_upload_retries() -> None:
    h = Harness()
    _, upload = get_diagnostics(h, retries=1, retryInterval=20)
    h.feed(DiagnosticsUploaded(upload.job, ok=False))
    h.advance(20)
    assert len(h.effects_of(UploadDiagnostics)) == 2
    h.feed(DiagnosticsUploaded(upload.job, ok=True))
    assert diagnostics_statuses(h) == ["Uploading", "Uploaded"]


def test_triggered_diagnostics_status_reports_progress() -> None:
    h = Harness()
    h.csms_result("TriggerMessage", {"requestedMessage": "DiagnosticsStatusNotification"})
    _, upload = get_diagnostics(h)
    h.csms_result("TriggerMessage", {"requestedMessage": "DiagnosticsStatusNotification"})
    h.feed(DiagnosticsUploaded(upload.job, ok=True))
    assert diagnostics_statuses(h) == ["Idle", "Uploading", "Uploading", "Uploaded"]


def test_interrupted_upload_is_made_again_after_a_restart() -> None:
    h = Harness()
    result, upload = get_diagnostics(h)
    after = h.reboot(restore=True)
    after.advance(0.001)
    again = last(after, UploadDiagnostics)
    assert again.file_name == result["fileName"] and again.job == upload.job
    after.feed(DiagnosticsUploaded(again.job, ok=True))
    assert diagnostics_statuses(after) == ["Uploading", "Uploaded"]


def test_profile_and_protocols_are_advertised() -> None:
    h = Harness()
    profiles = h.engine.config.get("SupportedFeatureProfiles").split(",")
    assert "FirmwareManagement" in profiles
    assert h.engine.config.get("SupportedFileTransferProtocols") == "FTP,HTTP,HTTPS"
    without = Harness(EngineSettings(file_transfer_protocols=()))
    assert "FirmwareManagement" not in without.engine.config.get("SupportedFeatureProfiles")
    answer = without.csms_call("UpdateFirmware", {"location": URL, "retrieveDate": format_datetime(h.now)})
    assert answer[0] == 4 and answer[2] == "NotSupported"


def test_unsupported_protocol_fails_at_once_without_retries() -> None:
    h = Harness(EngineSettings(file_transfer_protocols=("HTTP",)))
    assert h.engine.config.get("SupportedFileTransferProtocols") == "HTTP"
    assert update_firmware(h, location="sftp://127.0.0.1/fw.bin", retries=3) is None
    assert firmware_statuses(h) == ["DownloadFailed"]
    result = h.csms_result("GetDiagnostics", {"location": "ftp://127.0.0.1/logs/", "retries": 3})
    assert "fileName" in result
    assert diagnostics_statuses(h) == ["UploadFailed"]
    assert not h.effects_of(DownloadFirmware) and not h.effects_of(UploadDiagnostics)
    h.advance(3600)
    assert not h.effects_of(DownloadFirmware) and not h.effects_of(UploadDiagnostics)


def test_retrieve_date_follows_a_later_csms_clock_jump() -> None:
    h = Harness()
    start = h.now
    assert update_firmware(h, delay_s=1000) is None
    # The heartbeat at +300 s learns the CSMS clock runs 500 s ahead: retrieveDate is 200 s away.
    h.responders["Heartbeat"] = lambda p: {"currentTime": format_datetime(h.now + 500)}
    h.advance(300)
    assert h.sent("Heartbeat")
    h.advance(199.9)
    assert not h.effects_of(DownloadFirmware)
    h.advance(0.1)
    assert len(h.effects_of(DownloadFirmware)) == 1
    assert h.now == start + 500
