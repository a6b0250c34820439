"""Hostile frames straight into the engine (issue #8 §4): every CALL with a readable id gets the spec's
CALLERROR, the rest is ignored, nothing changes, and valid CALLs keep being answered."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import orjson

from ocpp_station.core.events import FrameReceived
from ocpp_station.sim.hostile import HostileFrame, hostile_frames
from tests.core.harness import Harness


def expected_ok(frame: HostileFrame, answers: list[list[Any]], supported: set[str]) -> bool:
    """Whether ``answers`` (what the charge point sent back) is what OCPP-J asks for ``frame``."""
    if frame.answer == "ignore":
        return answers == []
    if frame.answer == "unaddressed":
        return answers == [] or (len(answers) == 1 and answers[0][:2] == [4, "-1"])
    code = "NotSupported" if frame.action is not None and frame.action not in supported else frame.code
    return (
        len(answers) == 1
        and answers[0][:2] == [4, frame.message_id]
        and (code is None or answers[0][2] == code)
        and isinstance(answers[0][3], str)
        and len(answers[0][3]) <= 255
        and isinstance(answers[0][4], dict)
    )


def test_hostile_frames_get_the_spec_answer_and_change_nothing() -> None:
    h = Harness()
    engine = h.engine
    supported = set(engine.rpc.answered())
    before = (
        engine.snapshot(),
        {key.name: value for key, value in engine.config.items()},
        copy.deepcopy(others(h.records)),
        h.mark(),
    )
    wrong: list[tuple[str, str, Any]] = []
    for n, frame in enumerate(hostile_frames(seed=2026, count=4000)):
        mark = len(h.replies)
        h.feed(FrameReceived(frame.data))
        answers = h.replies[mark:]
        if not expected_ok(frame, answers, supported):
            wrong.append((frame.kind, frame.data[:80].decode(errors="replace"), [a[:3] for a in answers]))
        if n % 100 == 0:  # a valid CALL in between is still answered
            result = h.csms_result("GetConfiguration", {"key": ["HeartbeatInterval"]})
            assert result["configurationKey"][0]["value"] == "300"
    assert wrong == []
    # Nothing changes but the security log: InvalidMessages (whitepaper §8), never a payload in it.
    events = [p for action, p in h.calls[before[3] :] if action == "SecurityEventNotification"]
    assert events and {e["type"] for e in events} == {"InvalidMessages"}
    logged = [r for key, r in h.records["security_log"].items() if key.isdigit()]
    assert {r["type"] for r in logged[1:]} == {"InvalidMessages"}
    assert all(len(r["techInfo"]) < 160 for r in logged), max((r["techInfo"] for r in logged), key=len)
    after = (
        engine.snapshot(),
        {key.name: value for key, value in engine.config.items()},
        others(h.records),
        h.mark() - len(events),
    )
    assert after == before


def others(records: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {kind: kept for kind, kept in records.items() if kind != "security_log"}


def test_a_failing_handler_answers_internal_error_and_keeps_going() -> None:
    h = Harness()

    def broken(feature: Any, request: Any, call: Any) -> Any:
        raise KeyError("bug")

    # The routes are shared by every engine of this make-up: this engine gets a patched copy.
    routes = h.engine.rpc.routes
    index, _ = routes.answers["ClearCache"]
    h.engine.rpc.routes = dataclasses.replace(
        routes, answers={**routes.answers, "ClearCache": (index, broken)}
    )
    answer = h.csms_call("ClearCache", {})
    assert answer[:3] == [4, answer[1], "InternalError"]
    assert h.csms_result("GetLocalListVersion", {}) == {"listVersion": 0}


def test_same_id_with_an_unknown_action_is_not_served_from_the_reply_cache() -> None:
    h = Harness()
    h.csms_result("GetLocalListVersion", {}, message_id="m1")
    mark = len(h.replies)
    h.feed(FrameReceived(orjson.dumps([2, "m1", "../GetLocalListVersion", {}])))
    assert [r[:3] for r in h.replies[mark:]] == [[4, "m1", "NotImplemented"]]
