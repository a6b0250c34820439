"""The CSMS's frame log entries and the names its facade re-exports (src/ocpp_station/sim/records.py)."""

from __future__ import annotations

import ocpp_station.sim.csms as csms_module
from ocpp_station.sim import csms_link, records
from ocpp_station.sim.records import LogEntry
from ocpp_station.wire.frames import Call, CallError, CallResult


def test_log_entry_of_each_frame_kind() -> None:
    call = LogEntry.of_frame(1.5, "CP_1", "out", Call("m1", "Reset", {"type": "Soft"}), "Reset")
    assert (call.kind, call.message_id, call.action, call.payload) == (
        "CALL",
        "m1",
        "Reset",
        {"type": "Soft"},
    )
    result = LogEntry.of_frame(2.0, "CP_1", "in", CallResult("m1", {"status": "Accepted"}), "Reset")
    assert (result.kind, result.direction, result.payload) == ("CALLRESULT", "in", {"status": "Accepted"})
    error = LogEntry.of_frame(3.0, "CP_1", "in", CallError("m2", "NotImplemented", "no", {"a": 1}), None)
    assert error.kind == "CALLERROR" and error.action is None
    assert error.payload == {
        "errorCode": "NotImplemented",
        "errorDescription": "no",
        "errorDetails": {"a": 1},
    }


def test_the_facade_re_exports_the_split_names() -> None:
    for name in csms_module.__all__:
        assert hasattr(csms_module, name), name
    assert csms_module.LogEntry is records.LogEntry
    assert csms_module.CallErrorReceived is records.CallErrorReceived
    assert csms_module.CallHandler is csms_link.CallHandler
