"""EngineSettings.call_observer: every exchange seen for statistics (a fleet's CALLs/s and latency per
action, a load test's requests), in engine time; nothing changes for the engine."""

from __future__ import annotations

from ocpp_station.core.settings import EngineSettings
from tests.core.harness import Harness, Unanswered


class Observer:
    """A CallObserver (core/settings.py) that records what it sees."""

    def __init__(self) -> None:
        self.log: list[tuple[str, ...] | tuple[str, str, float, str | None]] = []

    def sent(self, action: str) -> None:
        self.log.append(("sent", action))

    def answered(self, action: str, latency_s: float, error: str | None) -> None:
        self.log.append(("answered", action, round(latency_s, 6), error))

    def received(self, action: str, error: str | None) -> None:
        self.log.append(("received", action, "" if error is None else error))


def observed() -> tuple[Harness, Observer]:
    observer = Observer()
    h = Harness(EngineSettings(call_observer=observer))
    return h, observer


def test_our_calls_sent_and_answered_with_their_latency() -> None:
    h, observer = observed()
    # The boot: BootNotification and the statuses, each sent and answered at once (latency 0).
    assert ("sent", "BootNotification") in observer.log
    assert ("answered", "BootNotification", 0.0, None) in observer.log
    mark = len(observer.log)
    h.responders["Heartbeat"] = lambda p: Unanswered()
    h.csms_result("TriggerMessage", {"requestedMessage": "Heartbeat"})
    h.advance(1.5)
    h.answer("Heartbeat", {"currentTime": "2026-11-30T00:00:00Z"})
    # (the clock the Heartbeat set is the security event SettingSystemTime: its own exchange)
    assert [e for e in observer.log[mark:] if e[1] != "SecurityEventNotification"] == [
        ("received", "TriggerMessage", ""),
        ("sent", "Heartbeat"),
        ("answered", "Heartbeat", 1.5, None),
    ]


def test_a_call_error_a_timeout_and_a_lost_link_end_a_call_too() -> None:
    h, observer = observed()
    h.responders["Heartbeat"] = lambda p: ("InternalError", "broken")
    mark = len(observer.log)
    h.csms_result("TriggerMessage", {"requestedMessage": "Heartbeat"})
    assert observer.log[-1] == ("answered", "Heartbeat", 0.0, "InternalError")
    h.responders["Heartbeat"] = lambda p: Unanswered()
    h.csms_result("TriggerMessage", {"requestedMessage": "Heartbeat"})
    h.advance(h.engine.settings.call_timeout_s + 1)
    timeout = h.engine.settings.call_timeout_s
    assert ("answered", "Heartbeat", timeout, "Timeout") in observer.log[mark:]
    h.csms_result("TriggerMessage", {"requestedMessage": "Heartbeat"})
    h.advance(2)
    h.disconnect()
    assert observer.log[-1] == ("answered", "Heartbeat", 2.0, "Lost")


def test_the_csms_calls_answered_and_refused() -> None:
    h, observer = observed()
    mark = len(observer.log)
    h.csms_call("GetConfiguration", {"key": ["HeartbeatInterval"]})
    h.csms_call("GetConfiguration", {"key": "not a list"})
    h.csms_call("NoSuchAction", {})
    assert [entry for entry in observer.log[mark:] if entry[0] == "received"] == [
        ("received", "GetConfiguration", ""),
        ("received", "GetConfiguration", "TypeConstraintViolation"),
        ("received", "(unknown)", "NotImplemented"),
    ]


def test_no_observer_is_the_default() -> None:
    assert EngineSettings().call_observer is None
    assert Harness().engine.rpc.observer is None
