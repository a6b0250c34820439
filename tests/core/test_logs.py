"""GetLog and LogStatusNotification in the engine (OCPP 1.6 security whitepaper ed. 3, N01), with a
fake clock and the upload results fed as events."""

from __future__ import annotations

from typing import Any

import pytest

from ocpp_station.core.clock import format_datetime
from ocpp_station.core.effects import UploadLog
from ocpp_station.core.events import LogUploaded
from ocpp_station.core.features.firmware import diagnostics_file_name
from ocpp_station.core.features.logs import log_file_name
from ocpp_station.core.settings import EngineSettings
from ocpp_station.wire.messages import LogEnumType
from tests.core.harness import Harness

UPLOAD = "ftp://127.0.0.1:2121/logs/"


def harness(**kwargs: Any) -> Harness:
    h = Harness(**kwargs)
    h.responders["LogStatusNotification"] = lambda p: {}
    return h


def log_statuses(h: Harness, since: int = 0) -> list[tuple[str, int | None]]:
    return [(p["status"], p.get("requestId")) for a, p in h.calls[since:] if a == "LogStatusNotification"]


def get_log(
    h: Harness, log_type: str = "SecurityLog", request_id: int = 7, **extra: Any
) -> tuple[dict[str, Any], list[UploadLog]]:
    before = len(h.effects)
    log = {"remoteLocation": extra.pop("location", UPLOAD), **extra.pop("log", {})}
    result = h.csms_result("GetLog", {"logType": log_type, "requestId": request_id, "log": log, **extra})
    return result, [e for e in h.effects[before:] if isinstance(e, UploadLog)]


def test_n01_fr_01_02_03_07_08_09_security_log_accepted_uploading_uploaded() -> None:
    h = harness()
    mark = h.mark()
    result, uploads = get_log(h)
    name = log_file_name(LogEnumType.SecurityLog, "CP_1", h.now)
    assert result == {"status": "Accepted", "filename": name}
    assert (
        name
        == "CP_1-securitylog-" + diagnostics_file_name("CP_1", h.now).split("-diagnostics-")[1][:-4] + ".txt"
    )
    assert len(uploads) == 1
    upload = uploads[0]
    assert (upload.log_type, upload.location, upload.file_name) == ("SecurityLog", UPLOAD, name)
    assert (upload.start_s, upload.stop_s) == (None, None)
    assert log_statuses(h, mark) == [("Uploading", 7)]
    assert h.engine.logs.status == "Uploading"
    h.feed(LogUploaded(upload.job, "Uploaded"))
    assert log_statuses(h, mark) == [("Uploading", 7), ("Uploaded", 7)]
    assert h.engine.logs.status == "Idle"


def test_n01_fr_04_diagnostics_log_is_the_diagnostics_archive_window_in_local_time() -> None:
    h = harness()
    h.engine.ctx.clock_offset_s = 100.0  # the CSMS clock runs 100 s ahead of the wall clock
    oldest, latest = h.now - 3600, h.now
    window = {"oldestTimestamp": format_datetime(oldest), "latestTimestamp": format_datetime(latest)}
    result, (upload,) = get_log(h, "DiagnosticsLog", log=window)
    assert result["filename"] == diagnostics_file_name("CP_1", h.now + 100) and result["filename"].endswith(
        ".zip"
    )
    assert (upload.start_s, upload.stop_s) == (oldest - 100, latest - 100)


def test_security_log_window_stays_in_ocpp_time() -> None:
    h = harness()
    h.engine.ctx.clock_offset_s = 100.0
    oldest = h.now - 60
    _, (upload,) = get_log(h, log={"oldestTimestamp": format_datetime(oldest)})
    assert (upload.start_s, upload.stop_s) == (oldest, None)


@pytest.mark.parametrize(
    "failure", ["UploadFailure", "PermissionDenied", "NotSupportedOperation", "BadMessage"]
)
def test_n01_fr_10_failure_reported_precisely_after_the_retries(failure: str) -> None:
    h = harness()
    mark = h.mark()
    _, (upload,) = get_log(h, retries=2, retryInterval=30)
    h.feed(LogUploaded(upload.job, failure, "why"))
    h.advance(29)
    assert len(h.effects_of(UploadLog)) == 1
    h.advance(1)
    assert len(h.effects_of(UploadLog)) == 2
    h.feed(LogUploaded(upload.job, failure, "why"))
    h.advance(30)
    h.feed(LogUploaded(upload.job, failure, "why"))
    assert len(h.effects_of(UploadLog)) == 3  # 1 + retries attempts
    assert log_statuses(h, mark) == [("Uploading", 7), (failure, 7)]  # Uploading once, not per retry
    h.advance(600)
    assert len(h.effects_of(UploadLog)) == 3


def test_an_unknown_result_status_is_upload_failure() -> None:
    h = harness()
    _, (upload,) = get_log(h, retries=0)
    h.feed(LogUploaded(upload.job, "Uploading", "nonsense"))
    assert log_statuses(h)[-1] == ("UploadFailure", 7)


def test_n01_fr_11_new_request_cancels_the_running_upload() -> None:
    h = harness()
    mark = h.mark()
    _, (first,) = get_log(h, request_id=1)
    result, (second,) = get_log(h, "DiagnosticsLog", request_id=2)
    assert result["status"] == "AcceptedCanceled"
    h.feed(LogUploaded(first.job, "Uploaded"))  # the canceled upload's result: ignored
    assert log_statuses(h, mark) == [("Uploading", 1), ("Uploading", 2)]
    h.feed(LogUploaded(second.job, "Uploaded"))
    assert log_statuses(h, mark)[-1] == ("Uploaded", 2)
    result, _ = get_log(h, request_id=3)
    assert result["status"] == "Accepted"  # nothing was running any more


def test_canceled_request_retry_timer_does_not_fire() -> None:
    h = harness()
    _, (first,) = get_log(h, request_id=1, retries=1, retryInterval=10)
    h.feed(LogUploaded(first.job, "UploadFailure"))
    get_log(h, request_id=2)
    h.advance(60)
    assert [e.job for e in h.effects_of(UploadLog)] == [first.job, first.job + 1]


def test_rejected_for_an_unsupported_protocol_or_an_empty_window() -> None:
    h = harness()
    result, uploads = get_log(h, location="gopher://127.0.0.1/logs/")
    assert result == {"status": "Rejected"} and uploads == []
    window = {"oldestTimestamp": format_datetime(h.now), "latestTimestamp": format_datetime(h.now - 1)}
    result, uploads = get_log(h, log=window)
    assert result == {"status": "Rejected"} and uploads == []
    assert log_statuses(h) == []


def test_no_file_transfer_protocol_get_log_not_supported_and_trigger_not_implemented() -> None:
    h = harness(settings=EngineSettings(file_transfer_protocols=()))
    answer = h.csms_call(
        "GetLog", {"logType": "SecurityLog", "requestId": 1, "log": {"remoteLocation": UPLOAD}}
    )
    assert answer[0] == 4 and answer[2] == "NotSupported"
    result = h.csms_result("ExtendedTriggerMessage", {"requestedMessage": "LogStatusNotification"})
    assert result == {"status": "NotImplemented"}


def test_n01_fr_12_extended_trigger_idle_without_request_id() -> None:
    h = harness()
    mark = h.mark()
    result = h.csms_result("ExtendedTriggerMessage", {"requestedMessage": "LogStatusNotification"})
    assert result == {"status": "Accepted"}
    assert [p for a, p in h.calls[mark:] if a == "LogStatusNotification"] == [{"status": "Idle"}]


def test_extended_trigger_reports_the_upload_in_progress_with_its_request_id() -> None:
    h = harness()
    _, (upload,) = get_log(h, request_id=42)
    mark = h.mark()
    result = h.csms_result("ExtendedTriggerMessage", {"requestedMessage": "LogStatusNotification"})
    assert result == {"status": "Accepted"}
    assert log_statuses(h, mark) == [("Uploading", 42)]
    h.feed(LogUploaded(upload.job, "Uploaded"))
    assert log_statuses(h, mark)[-1] == ("Uploaded", 42)
    result = h.csms_result(
        "ExtendedTriggerMessage", {"requestedMessage": "LogStatusNotification", "connectorId": 0}
    )
    assert result == {"status": "Rejected"}  # §5.5: connectorId > 0


def test_trigger_message_has_no_log_status_notification() -> None:
    """LogStatusNotification is no 1.6 TriggerMessage message (MessageTrigger): the frame breaks the schema."""
    h = harness()
    answer = h.csms_call("TriggerMessage", {"requestedMessage": "LogStatusNotification"})
    assert answer[0] == 4
