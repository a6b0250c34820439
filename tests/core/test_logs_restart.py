"""GetLog across a restart in the engine (security whitepaper N01; ``core/features/logs.py``): the upload in
progress is a record until its last LogStatusNotification, and is made again after a restart."""

from __future__ import annotations

from ocpp_station.core.effects import UploadLog
from ocpp_station.core.events import LogUploaded, TimerDue
from ocpp_station.core.features.logs import UPLOAD_KEY
from ocpp_station.core.settings import EngineSettings
from tests.core.harness import Harness
from tests.core.test_logs import get_log, harness, log_statuses


def test_N01_an_upload_in_progress_is_made_again_after_a_restart() -> None:
    h = harness()
    result, (upload,) = get_log(
        h, request_id=9, retries=2, retryInterval=30, log={"oldestTimestamp": "2025-11-24T00:00:00Z"}
    )
    record = h.records["security"][UPLOAD_KEY]
    assert (record["request_id"], record["file_name"], record["retries"]) == (9, result["filename"], 2)
    h.feed(LogUploaded(upload.job, "UploadFailure", "refused"))  # attempt 1 of 3 failed
    again = h.reboot(restore=True)
    again.responders["LogStatusNotification"] = lambda p: {}
    mark, effects = again.mark(), len(again.effects)
    again.feed(TimerDue())
    (redo,) = [e for e in again.effects[effects:] if isinstance(e, UploadLog)]
    assert (redo.log_type, redo.file_name, redo.start_s) == (
        "SecurityLog",
        result["filename"],
        upload.start_s,
    )
    assert redo.job == upload.job
    assert log_statuses(again, mark) == [("Uploading", 9)]
    assert again.engine.logs.status == "Uploading"
    # The retries count again from the restart; the outcome ends the record.
    again.feed(LogUploaded(redo.job, "Uploaded"))
    assert log_statuses(again, mark) == [("Uploading", 9), ("Uploaded", 9)]
    assert again.records.get("security", {}).get(UPLOAD_KEY) is None
    assert again.reboot(restore=True).engine.logs.upload is None
    # A new GetLog after the restart does not reuse the job number.
    _, (new,) = get_log(again, request_id=10)
    assert new.job != redo.job


def test_a_bad_upload_record_is_dropped_and_nothing_is_uploaded() -> None:
    for record in ({"job": "x"}, {"job": 1}):
        h = Harness(records={"security": {UPLOAD_KEY: record}})
        assert h.engine.logs.upload is None
    no_transfer = Harness(
        EngineSettings(file_transfer_protocols=()),
        records={
            "security": {
                UPLOAD_KEY: {
                    "job": 1,
                    "request_id": 1,
                    "log_type": "SecurityLog",
                    "location": "ftp://h/",
                    "file_name": "f",
                    "start": None,
                    "stop": None,
                    "retries": 0,
                    "retry_interval": 0,
                }
            }
        },
    )
    assert no_transfer.engine.logs.upload is None
