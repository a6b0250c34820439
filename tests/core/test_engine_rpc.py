"""RPC behaviour of the engine (OCPP-J 1.6 §4, OCPP 1.6 §3.7, §4.2): one CALL in flight, no deadlock,
the pre-boot gate, CALLERROR codes for bad frames, timeouts, transaction-message retries, the
transactionId of offline transactions, duplicate CALLs and lenient mode."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from ocpp_station.core.clock import format_datetime
from ocpp_station.core.effects import CallCompleted, SendFrame
from ocpp_station.core.events import (
    CablePlugged,
    CableUnplugged,
    CallRequested,
    Connected,
    FrameReceived,
    IdTagPresented,
    MeterRead,
    MeterReading,
)
from ocpp_station.core.rpc_pump import INVALID_MESSAGE_CODES
from ocpp_station.core.settings import EngineSettings
from ocpp_station.wire.actions import is_known
from tests.core.harness import Harness, Unanswered, charging

LENIENT = EngineSettings(strict=False)


def frames(h: Harness, since: int = 0) -> list[list[Any]]:
    """Every frame we sent, from effect index ``since``."""
    return [orjson.loads(e.data) for e in h.effects[since:] if isinstance(e, SendFrame)]


def calls_out(h: Harness, since: int = 0) -> list[list[Any]]:
    return [f for f in frames(h, since) if f[0] == 2]


def answers_to(h: Harness, message_id: str, since: int = 0) -> list[list[Any]]:
    return [f for f in frames(h, since) if f[0] != 2 and f[1] == message_id]


def result(h: Harness, message_id: str, payload: dict[str, Any]) -> None:
    h.feed(FrameReceived(orjson.dumps([3, message_id, payload])))


def incoming(h: Harness, message_id: str, action: str, payload: dict[str, Any]) -> list[list[Any]]:
    """The CSMS sends a CALL; returns what we answered (possibly nothing)."""
    since = len(h.effects)
    h.feed(FrameReceived(orjson.dumps([2, message_id, action, payload])))
    return answers_to(h, message_id, since)


# -- one CALL in flight (OCPP-J 1.6 §4.1.1) ----------------------------------------------------------------


def test_one_call_in_flight_the_next_waits_for_the_answer() -> None:
    h = Harness()
    h.online = False  # the link stays up but the CSMS answers nothing by itself
    since = len(h.effects)
    h.feed(CablePlugged(1))
    h.feed(CallRequested("DataTransfer", {"vendorId": "com.example"}, ref=7))
    h.feed(IdTagPresented("TAG"))
    sent = calls_out(h, since)
    assert [f[2] for f in sent] == ["StatusNotification"]
    h.advance(10)  # nothing goes out while it waits (below the call timeout)
    assert len(calls_out(h, since)) == 1
    result(h, sent[0][1], {})
    sent = calls_out(h, since)
    assert [f[2] for f in sent] == ["StatusNotification", "DataTransfer"]
    result(h, sent[1][1], {"status": "Accepted"})
    assert CallCompleted(7, {"status": "Accepted"}, None, "") in h.effects
    sent = calls_out(h, since)
    assert [f[2] for f in sent] == ["StatusNotification", "DataTransfer", "Authorize"]
    result(h, sent[2][1], {"idTagInfo": {"status": "Accepted"}})
    sent = calls_out(h, since)
    assert [f[2] for f in sent][3] == "StartTransaction"
    assert len(sent) == 4


def test_incoming_call_is_answered_while_our_call_waits() -> None:
    h = Harness()
    h.responders["Authorize"] = lambda p: Unanswered()
    h.feed(CablePlugged(1))
    h.feed(IdTagPresented("TAG"))
    assert [action for _, action, _ in h.pending()] == ["Authorize"]
    mark = h.mark()
    # No deadlock: the CSMS's CALLs are answered at once while Authorize waits for its reply.
    conf = h.csms_result("GetConfiguration", {"key": ["HeartbeatInterval"]})
    assert conf["configurationKey"][0]["value"] == "300"
    assert h.csms_result("ChangeConfiguration", {"key": "HeartbeatInterval", "value": "600"}) == {
        "status": "Accepted"
    }
    assert h.actions(mark) == []
    h.answer("Authorize", {"idTagInfo": {"status": "Accepted"}})
    assert "StartTransaction" in h.actions(mark)


def test_callresult_and_callerror_with_unknown_id_are_ignored() -> None:
    h = Harness()
    h.responders["Authorize"] = lambda p: Unanswered()
    h.feed(CablePlugged(1))
    h.feed(IdTagPresented("TAG"))
    for frame in (
        [3, "no-such-id", {"idTagInfo": {"status": "Accepted"}}],
        [4, "other", "GenericError", "", {}],
    ):
        effects = h.feed(FrameReceived(orjson.dumps(frame)))
        assert effects == []
    assert h.engine.outbox.in_flight is not None
    assert h.engine.outbox.in_flight.call.action == "Authorize"
    mark = h.mark()
    h.answer("Authorize", {"idTagInfo": {"status": "Accepted"}})
    assert "StartTransaction" in h.actions(mark)


def test_call_timeout_fails_the_call_and_frees_the_line() -> None:
    h = Harness(settings=EngineSettings(call_timeout_s=30))
    h.responders["DataTransfer"] = lambda p: Unanswered()
    h.feed(CallRequested("DataTransfer", {"vendorId": "com.example"}, ref=1))
    h.feed(CallRequested("DataTransfer", {"vendorId": "com.example", "messageId": "2"}, ref=2))
    assert h.actions().count("DataTransfer") == 1
    assert h.engine.next_deadline() == h.now + 30
    h.advance(29.9)
    assert h.effects_of(CallCompleted) == []
    h.advance(0.1)
    assert h.effects_of(CallCompleted) == [CallCompleted(1, None, "Timeout", "")]
    assert h.actions().count("DataTransfer") == 2  # the next one went out
    # A late answer to the timed-out call is ignored.
    stale = h.pending()[0][0]
    assert h.feed(FrameReceived(orjson.dumps([3, stale, {"status": "Accepted"}]))) == []


def test_authorize_timeout_decides_offline() -> None:
    h = Harness(config={"AllowOfflineTxForUnknownId": "false"})
    h.responders["Authorize"] = lambda p: Unanswered()
    h.feed(CablePlugged(1))
    mark = h.mark()
    h.feed(IdTagPresented("UNKNOWN"))
    h.advance(31)
    assert h.actions(mark) == ["Authorize"]  # timed out, unknown idTag: no transaction
    assert h.engine.ctx.connectors[1].transaction is None


# -- nothing but BootNotification before Accepted (OCPP 1.6 §4.2) -------------------------------------------


def test_pending_only_boot_retries_and_csms_calls_are_answered() -> None:
    # ConnectionTimeOut off: the plugged connector stays Preparing while we wait (no errata B6 timeout).
    h = Harness(boot_status="Pending", config={"ConnectionTimeOut": "0"})  # interval 300
    assert h.actions() == ["BootNotification"]
    h.feed(CablePlugged(1))
    h.feed(IdTagPresented("TAG"))
    h.feed(CallRequested("DataTransfer", {"vendorId": "com.example"}, ref=1))
    conf = h.csms_result("GetConfiguration", {"key": ["NumberOfConnectors"]})
    assert conf["configurationKey"][0]["value"] == "1"
    # §4.2: RemoteStart/RemoteStopTransaction are not allowed while Pending.
    assert h.csms_result("RemoteStartTransaction", {"idTag": "TAG"}) == {"status": "Rejected"}
    assert h.csms_result("RemoteStopTransaction", {"transactionId": 1}) == {"status": "Rejected"}
    h.advance(299)
    assert h.actions() == ["BootNotification"]  # no heartbeat, status, authorize or data transfer
    h.advance(1)
    assert h.actions() == ["BootNotification", "BootNotification"]
    h.responders["BootNotification"] = lambda p: {
        "status": "Accepted",
        "currentTime": format_datetime(h.now),
        "interval": 300,
    }
    h.advance(300)
    actions = h.actions()
    assert actions[:3] == ["BootNotification"] * 3
    # Accepted: every connector's status (errata 3.22) and what waited go out.
    assert sorted(actions[3:]) == ["DataTransfer", "StatusNotification", "StatusNotification"]
    assert {p["connectorId"]: p["status"] for p in h.sent("StatusNotification")} == {
        0: "Available",
        1: "Preparing",
    }
    # The card presented while Pending was decided locally (unknown idTag, not accepted).
    assert h.engine.ctx.connectors[1].transaction is None


def test_rejected_strict_answers_nothing_and_sends_only_boot_after_interval() -> None:
    h = Harness(boot_status="Rejected")
    assert h.actions() == ["BootNotification"]
    since = len(h.effects)
    assert incoming(h, "r1", "GetConfiguration", {}) == []
    assert incoming(h, "r2", "RemoteStartTransaction", {"idTag": "TAG"}) == []
    assert incoming(h, "r3", "ReserveNow", {}) == []
    h.feed(FrameReceived(b"this is not json"))
    h.feed(FrameReceived(orjson.dumps([2, "r4", "NoSuchAction", {}])))
    h.feed(CablePlugged(1))
    h.advance(299)
    assert frames(h, since) == []
    h.advance(1)
    assert [f[2] for f in frames(h, since)] == ["BootNotification"]


def test_before_the_boot_reply_strict_answers_calls_with_an_error() -> None:
    h = Harness(connect=False)
    h.responders["BootNotification"] = lambda p: Unanswered()
    h.feed(Connected())
    answer = incoming(h, "early", "GetConfiguration", {})
    assert len(answer) == 1 and answer[0][0] == 4 and answer[0][2] == "GenericError"
    assert h.actions() == ["BootNotification"]


def test_boot_unanswered_is_retried() -> None:
    h = Harness(settings=EngineSettings(call_timeout_s=30, boot_retry_s=60), connect=False)
    h.responders["BootNotification"] = lambda p: Unanswered()
    h.feed(Connected())
    h.advance(30)  # timed out
    assert h.actions() == ["BootNotification"]
    h.advance(59)
    assert h.actions() == ["BootNotification"]
    h.advance(1)
    assert h.actions() == ["BootNotification", "BootNotification"]


# -- bad incoming frames -> CALLERROR codes (OCPP-J 1.6 §4.2.3) ----------------------------------------------


@pytest.mark.parametrize(
    ("action", "payload", "code"),
    [
        ("ChangeConfiguration", {"key": "HeartbeatInterval"}, "ProtocolError"),
        ("ChangeAvailability", {"connectorId": "1", "type": "Operative"}, "TypeConstraintViolation"),
        ("ChangeAvailability", {"connectorId": 1, "type": "Sideways"}, "PropertyConstraintViolation"),
        ("Reset", {"type": "Hard", "extra": 1}, "FormationViolation"),
        ("GetConfiguration", {"key": ["x" * 51]}, "TypeConstraintViolation"),
        ("FooBar", {}, "NotImplemented"),
        # A 1.6 action the charge point sends, never answers (every CSMS-initiated action of 1.6 and
        # of the security whitepaper is answered since SignedUpdateFirmware, L01, is built).
        ("Heartbeat", {}, "NotSupported"),
    ],
)
def test_invalid_call_is_answered_with_the_right_callerror(action: str, payload: Any, code: str) -> None:
    h = Harness()
    mark = h.mark()
    answer = incoming(h, "bad-1", action, payload)
    assert len(answer) == 1
    assert answer[0][:3] == [4, "bad-1", code]
    assert isinstance(answer[0][3], str) and isinstance(answer[0][4], dict)
    # A CALL that is no valid OCPP message is the security event InvalidMessages (whitepaper §8): the
    # action and the code in the techInfo, never the payload.
    invalid = code in {c.value for c in INVALID_MESSAGE_CODES}
    assert h.actions(mark) == (["SecurityEventNotification"] if invalid else [])
    if invalid:
        event = h.calls[-1][1]
        shown = action if is_known(action) else ascii(action)
        assert (event["type"], event["techInfo"]) == ("InvalidMessages", f"CALL {shown}: {code}")


def test_not_json_is_a_formation_violation_with_id_minus_one() -> None:
    h = Harness()
    since = len(h.effects)
    h.feed(FrameReceived(b'[2, "x", "Reset", {'))
    assert [f[:3] for f in frames(h, since) if f[0] != 2] == [[4, "-1", "FormationViolation"]]
    # Security whitepaper §8: an invalid message, told to the security log and the CSMS.
    assert [(f[2], f[3]["techInfo"]) for f in calls_out(h, since)] == [
        ("SecurityEventNotification", "a frame: FormationViolation")
    ]


def test_unknown_message_type_is_ignored() -> None:
    h = Harness()
    since = len(h.effects)
    h.feed(FrameReceived(orjson.dumps([7, "x", "Reset", {"type": "Hard"}])))
    # Not answered (OCPP-J §4.1.3); only the security event InvalidMessages goes out (whitepaper §8).
    assert [(f[0], f[2], f[3]["techInfo"]) for f in frames(h, since)] == [
        (2, "SecurityEventNotification", "a frame: ProtocolError")
    ]


def test_well_formed_call_still_works_after_bad_ones() -> None:
    h = Harness()
    incoming(h, "b1", "FooBar", {})
    h.feed(FrameReceived(b"garbage"))
    assert h.csms_result("GetConfiguration", {"key": ["NumberOfConnectors"]})["configurationKey"]


# -- duplicate CALL ids -------------------------------------------------------------------------------


def test_duplicate_incoming_call_is_answered_from_the_cache_and_done_once() -> None:
    h = Harness()
    h.feed(CablePlugged(1))
    mark = h.mark()
    first = incoming(h, "dup-1", "RemoteStartTransaction", {"connectorId": 1, "idTag": "TAG"})
    again = incoming(h, "dup-1", "RemoteStartTransaction", {"connectorId": 1, "idTag": "TAG"})
    assert first == again == [[3, "dup-1", {"status": "Accepted"}]]
    assert h.actions(mark).count("StartTransaction") == 1
    assert h.actions(mark).count("Authorize") == 1
    # The same id with another action is a different CALL.
    other = incoming(h, "dup-1", "GetConfiguration", {"key": ["NumberOfConnectors"]})
    assert other[0][0] == 3 and other[0][2]["configurationKey"][0]["key"] == "NumberOfConnectors"


# -- transaction-related messages (OCPP 1.6 §3.7) -------------------------------------------------------


def test_transaction_message_retried_on_callerror_with_growing_interval_then_dropped() -> None:
    h = Harness(config={"TransactionMessageAttempts": "3", "TransactionMessageRetryInterval": "60"})
    charging(h)
    tries: list[float] = []

    def failing(payload: dict[str, Any]) -> tuple[str, str]:
        tries.append(h.now)
        return ("InternalError", "cannot store it")

    h.responders["StopTransaction"] = failing
    stopped_at = h.now
    mark = h.mark()
    h.feed(IdTagPresented("TAG"))
    # The Finishing status is not held up behind the transaction message's retries.
    assert h.statuses(1)[-1] == "Finishing"
    h.advance(59)
    assert tries == [stopped_at]
    h.advance(600)
    # 3 attempts, 60 s then 120 s apart (the §3.7 example), then it is dropped.
    assert tries == [stopped_at, stopped_at + 60, stopped_at + 180]
    assert h.actions(mark).count("StopTransaction") == 3
    # The next transaction goes ahead.
    h.feed(CableUnplugged(1))
    h.responders["StopTransaction"] = lambda p: {}
    mark = h.mark()
    charging(h)
    assert "StartTransaction" in h.actions(mark)


def test_transaction_message_order_kept_while_one_waits_for_its_retry() -> None:
    h = Harness(config={"TransactionMessageRetryInterval": "60", "MeterValueSampleInterval": "0"})
    attempts = {"n": 0}

    def start(payload: dict[str, Any]) -> Any:
        attempts["n"] += 1
        if attempts["n"] == 1:
            return ("InternalError", "busy")
        return h._start(payload)

    h.responders["StartTransaction"] = start
    h.feed(CablePlugged(1))
    h.feed(IdTagPresented("TAG"))
    h.advance(10)
    h.feed(IdTagPresented("TAG"))  # stopped before the StartTransaction got through
    assert h.actions().count("StartTransaction") == 1
    assert "StopTransaction" not in h.actions()
    h.advance(50)
    actions = h.actions()
    assert actions.count("StartTransaction") == 2
    assert actions.index("StopTransaction") > len(actions) - 1 - actions[::-1].index("StartTransaction")
    assert h.sent("StopTransaction")[0]["transactionId"] == h.next_tx_id


def test_callerror_on_other_messages_is_not_retried() -> None:
    h = Harness()
    h.responders["DataTransfer"] = lambda p: ("InternalError", "no")
    h.feed(CallRequested("DataTransfer", {"vendorId": "com.example"}, ref=3))
    h.advance(600)
    assert h.actions().count("DataTransfer") == 1
    assert CallCompleted(3, None, "InternalError", "no") in h.effects


def test_transaction_message_in_flight_is_resent_after_reconnect() -> None:
    h = Harness()
    transaction_id = charging(h)
    h.responders["StopTransaction"] = lambda p: Unanswered()
    h.feed(IdTagPresented("TAG"))
    first = h.sent("StopTransaction")
    assert len(first) == 1
    h.disconnect()
    h.advance(120)
    h.responders["StopTransaction"] = lambda p: {}
    mark = h.mark()
    h.reconnect()
    again = [p for a, p in h.calls[mark:] if a == "StopTransaction"]
    assert again == first
    assert again[0]["transactionId"] == transaction_id
    h.advance(600)
    assert h.actions(mark).count("StopTransaction") == 1


def test_transaction_message_timed_out_is_resent_without_counting_an_attempt() -> None:
    h = Harness(settings=EngineSettings(call_timeout_s=30), config={"TransactionMessageAttempts": "1"})
    charging(h)
    replies = iter([Unanswered(), {}])
    h.responders["StopTransaction"] = lambda p: next(replies)
    mark = h.mark()
    h.feed(IdTagPresented("TAG"))
    h.advance(31)
    assert h.actions(mark).count("StopTransaction") == 2
    assert h.engine.transactions.open == {}


def test_transaction_started_offline_reports_the_csms_transaction_id() -> None:
    h = Harness(config={"AllowOfflineTxForUnknownId": "true", "MeterValueSampleInterval": "30"})
    h.disconnect()
    h.feed(MeterRead({1: MeterReading(energy_wh=10)}))
    h.feed(CablePlugged(1))
    h.feed(IdTagPresented("TAG"))
    h.advance(65)  # two periodic samples while offline
    h.feed(MeterRead({1: MeterReading(energy_wh=900)}))
    h.feed(IdTagPresented("TAG"))
    h.feed(CableUnplugged(1))
    h.next_tx_id = 4241
    h.responders["StartTransaction"] = lambda p: Unanswered()
    mark = h.mark()
    h.reconnect()
    # Nothing of the transaction goes out before the StartTransaction.conf.
    assert h.actions(mark) == ["StartTransaction"]
    h.answer("StartTransaction", {"transactionId": 4242, "idTagInfo": {"status": "Accepted"}})
    meter_values = [p for a, p in h.calls[mark:] if a == "MeterValues"]
    stops = [p for a, p in h.calls[mark:] if a == "StopTransaction"]
    assert len(meter_values) >= 2 and len(stops) == 1
    assert {p["transactionId"] for p in meter_values + stops} == {4242}
    assert stops[0]["meterStop"] == 900


def test_start_transaction_never_delivered_reports_minus_one() -> None:
    """Errata 3.18 (§4.8): the StartTransaction.req dropped after its attempts: transactionId -1."""
    h = Harness(config={"TransactionMessageAttempts": "2", "TransactionMessageRetryInterval": "10"})
    h.responders["StartTransaction"] = lambda p: ("InternalError", "no")
    h.feed(CablePlugged(1))
    h.feed(IdTagPresented("TAG"))
    h.advance(30)
    assert h.actions().count("StartTransaction") == 2
    h.feed(IdTagPresented("TAG"))
    assert [p["transactionId"] for p in h.sent("StopTransaction")] == [-1]


# -- StatusNotification while offline -------------------------------------------------------------------


def test_status_notifications_offline_are_collapsed_to_the_newest() -> None:
    h = Harness()
    h.responders["StatusNotification"] = lambda p: Unanswered()
    h.feed(CablePlugged(1))  # Preparing, in flight
    h.disconnect()
    h.feed(CableUnplugged(1))
    h.feed(CablePlugged(1))
    h.feed(CableUnplugged(1))  # Available is the newest
    h.responders["StatusNotification"] = lambda p: {}
    mark = h.mark()
    h.reconnect()
    assert [(p["connectorId"], p["status"]) for a, p in h.calls[mark:]] == [(1, "Available")]


def test_status_in_flight_when_the_link_drops_does_not_replace_a_newer_one() -> None:
    h = Harness()
    h.responders["StatusNotification"] = lambda p: Unanswered()
    h.feed(CablePlugged(1))  # Preparing, in flight
    h.feed(CableUnplugged(1))  # Available, queued behind it
    h.disconnect()  # Preparing is taken back: it is older than the queued Available
    h.responders["StatusNotification"] = lambda p: {}
    mark = h.mark()
    h.reconnect()
    assert [(p["connectorId"], p["status"]) for a, p in h.calls[mark:]] == [(1, "Available")]


def test_status_notifications_online_are_all_sent_in_order() -> None:
    h = Harness()
    h.responders["StatusNotification"] = lambda p: Unanswered()
    mark = h.mark()
    h.feed(CablePlugged(1))
    h.feed(CableUnplugged(1))
    h.feed(CablePlugged(1))
    h.responders["StatusNotification"] = lambda p: {}
    h.answer("StatusNotification", {})
    assert h.statuses(1)[-3:] == ["Preparing", "Available", "Preparing"]
    assert h.actions(mark) == ["StatusNotification"] * 3


# -- lenient mode ------------------------------------------------------------------------------------


def _zoneless_boot(h: Harness) -> None:
    h.responders["BootNotification"] = lambda p: {
        "status": "Accepted",
        "currentTime": format_datetime(h.now + 3600)[:-1],  # no "Z"
        "interval": 300,
    }


def test_lenient_accepts_current_time_without_zone() -> None:
    h = Harness(LENIENT, connect=False)
    _zoneless_boot(h)
    h.feed(Connected())
    assert h.engine.ctx.registration == "Accepted"
    assert "StatusNotification" in h.actions()
    assert h.engine.ctx.clock_offset_s == pytest.approx(3600, abs=0.01)  # read as UTC


def test_strict_rejects_current_time_without_zone() -> None:
    h = Harness(connect=False)
    _zoneless_boot(h)
    h.feed(Connected())
    assert h.engine.ctx.registration is None
    assert h.actions() == ["BootNotification"]


def test_lenient_answers_calls_before_the_boot_reply() -> None:
    h = Harness(LENIENT, connect=False)
    h.responders["BootNotification"] = lambda p: Unanswered()
    h.feed(Connected())
    answer = incoming(h, "early", "GetConfiguration", {"key": ["NumberOfConnectors"]})
    assert len(answer) == 1 and answer[0][0] == 3
    assert answer[0][2]["configurationKey"][0]["value"] == "1"
    assert h.actions() == ["BootNotification"]


def test_invalid_start_transaction_result_is_retried_like_a_callerror() -> None:
    """A StartTransaction.conf that breaks the schema (strict) is not a final answer: §4.7 retries."""
    h = Harness(config={"TransactionMessageAttempts": "3", "TransactionMessageRetryInterval": "10"})
    answers = iter([{"transactionId": "not a number"}])
    good = h.responders["StartTransaction"]
    h.responders["StartTransaction"] = lambda p: next(answers, None) or good(p)
    h.feed(CablePlugged(1))
    h.feed(IdTagPresented("TAG"))
    assert len(h.sent("StartTransaction")) == 1
    h.advance(11)
    assert len(h.sent("StartTransaction")) == 2
    assert h.engine.snapshot()["connectors"][1]["transactionId"] == 101
