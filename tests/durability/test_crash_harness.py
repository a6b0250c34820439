"""The crash harness: 50 kill -9 cycles of a real station process, and the checker's own tests (a
checker that never fails proves nothing)."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from ocpp_station.core.clock import format_datetime, parse_datetime
from ocpp_station.sim.csms import LogEntry
from tests.durability.crash_harness import (
    CHARGE_POINT_ID,
    ID_TAG,
    Action,
    CrashReport,
    Kill,
    Timeline,
    check,
    run_crash_cycles,
)


async def test_fifty_kill_9_cycles_lose_and_duplicate_nothing(tmp_path: Path) -> None:
    report = await run_crash_cycles(50, seed=1, data_dir=tmp_path)
    print(f"\n{report}")
    assert report.cycles == 50 and report.kills == 50
    assert report.transactions > 0 and report.messages > 0
    assert report.lost == 0, report.details()
    assert report.duplicated_beyond_window == 0, report.details()
    assert report.order_violations == 0, report.details()
    assert report.meter_violations == 0, report.details()
    assert report.reason_violations == 0, report.details()
    assert report.bad_transaction_ids == 0, report.details()
    assert report.duplicates_in_window <= report.kills
    assert report.final_exit_code == 0, report.details()
    assert report.ok, report.details()


# -- the checker on logs written by hand ------------------------------------------------------------------

T0 = 1_800_000_000.0


class Log:
    """A CSMS log as the station and the CSMS would have written it."""

    def __init__(self) -> None:
        self.entries: list[LogEntry] = []
        self._ids = itertools.count(1)
        self._tx_ids = itertools.count(1)
        self.given: dict[tuple[Any, ...], int] = {}

    def call(self, action: str, payload: dict[str, Any], answer: dict[str, Any] | None = None) -> None:
        """Received 2 ms after it was stamped (its timestamps), or at T0."""
        message_id = str(next(self._ids))
        stamps = [v["timestamp"] for v in payload.get("meterValue", [])]
        stamps += [payload["timestamp"]] if "timestamp" in payload else []
        now = max((parse_datetime(t) for t in stamps), default=T0) + 0.002
        self.entries.append(LogEntry(now, CHARGE_POINT_ID, "in", "CALL", message_id, action, payload))
        self.entries.append(
            LogEntry(now, CHARGE_POINT_ID, "out", "CALLRESULT", message_id, action, answer or {})
        )

    def start(self, at: float, meter: int) -> int:
        payload = {"connectorId": 1, "idTag": ID_TAG, "meterStart": meter, "timestamp": format_datetime(at)}
        key = tuple(payload.values())
        tid = self.given.setdefault(key, next(self._tx_ids))
        self.call("StartTransaction", payload, {"transactionId": tid, "idTagInfo": {"status": "Accepted"}})
        return tid

    def meter(self, tid: int, at: float, wh: int, context: str = "Sample.Periodic") -> None:
        self.call("MeterValues", meter_values(tid, at, wh, context))

    def stop(self, tid: int, at: float, meter: int, reason: str) -> None:
        payload: dict[str, Any] = {
            "transactionId": tid,
            "meterStop": meter,
            "timestamp": format_datetime(at),
            "reason": reason,
        }
        if reason == "Local":
            payload["idTag"] = ID_TAG
        self.call("StopTransaction", payload)

    def session(self, at: float, start_wh: int, stop_wh: int, reason: str = "Local") -> int:
        """A whole transaction: Start, Transaction.Begin, one sample, Stop."""
        tid = self.start(at, start_wh)
        self.meter(tid, at, start_wh, "Transaction.Begin")
        self.meter(tid, at + 1, stop_wh)
        self.stop(tid, at + 1.5, stop_wh, reason)
        return tid


def meter_values(tid: int | None, at: float, wh: int, context: str) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "connectorId": 1,
        "meterValue": [
            {
                "timestamp": format_datetime(at),
                "sampledValue": [
                    {"value": str(wh), "context": context, "measurand": "Energy.Active.Import.Register"}
                ],
            }
        ],
    }
    if tid is not None:
        payload["transactionId"] = tid
    return payload


def card_session_timeline(at: float) -> Timeline:
    """The harness's side of :meth:`Log.session`: the card that started it, the card that stopped it."""
    return Timeline(
        actions=[Action("card", 1, at - 0.1, at - 0.05), Action("card", 1, at + 1.4, at + 1.45)],
        stop_time=at + 100,
        exit_code=0,
    )


def figures(report: CrashReport) -> dict[str, int]:
    return {
        name: getattr(report, name)
        for name in (
            "lost",
            "duplicated_beyond_window",
            "duplicates_in_window",
            "order_violations",
            "meter_violations",
            "reason_violations",
            "bad_transaction_ids",
        )
        if getattr(report, name)
    }


def test_checker_passes_a_clean_session() -> None:
    log = Log()
    log.session(T0, 1000, 1200)
    report = check(log.entries, card_session_timeline(T0))
    assert figures(report) == {} and report.ok, report.details()
    assert report.transactions == 1 and report.reasons == {"Local": 1}


def test_checker_counts_a_transaction_never_stopped_as_lost() -> None:
    log = Log()
    tid = log.start(T0, 1000)
    log.meter(tid, T0, 1000, "Transaction.Begin")
    report = check(log.entries, card_session_timeline(T0))
    assert figures(report) == {"lost": 1}


def test_checker_counts_a_missing_transaction_begin_as_lost() -> None:
    log = Log()
    tid = log.start(T0, 1000)
    log.stop(tid, T0 + 1.5, 1000, "Local")
    assert figures(check(log.entries, card_session_timeline(T0))) == {"lost": 1}


def test_checker_counts_a_message_stored_at_a_kill_that_never_came_as_lost() -> None:
    log = Log()
    tid = log.session(T0, 1000, 1200)
    stored = {"action": "MeterValues", "payload": meter_values(None, T0 + 0.5, 1100, "Sample.Periodic")}
    timeline = card_session_timeline(T0)
    timeline.kills = [Kill(1, T0 + 50, "session", len(log.entries), [stored], [])]
    log.call("BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"})
    report = check(log.entries, timeline)
    assert figures(report) == {"lost": 1}, report.details()
    # Delivered after the restart (with its transactionId filled in): nothing lost.
    log.call("MeterValues", meter_values(tid, T0 + 0.5, 1100, "Sample.Periodic"))
    assert "lost" not in figures(check(log.entries, timeline))


def test_checker_allows_one_resend_of_the_message_in_flight_at_a_kill() -> None:
    log = Log()
    tid = log.start(T0, 1000)  # answered by the CSMS, the station killed before storing the answer
    timeline = Timeline(
        actions=[Action("card", 1, T0 - 0.1, T0 - 0.05)],
        kills=[Kill(1, T0 + 0.2, "before answer", len(log.entries))],
        stop_time=T0 + 100,
        exit_code=0,
    )
    log.call("BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"})
    assert log.start(T0, 1000) == tid  # the resend, answered with the same transactionId
    log.meter(tid, T0, 1000, "Transaction.Begin")
    log.stop(tid, T0, 1000, "PowerLoss")
    report = check(log.entries, timeline)
    assert figures(report) == {"duplicates_in_window": 1}, report.details()
    assert report.ok and report.reasons == {"PowerLoss": 1}


def test_checker_counts_other_duplicates_beyond_the_window() -> None:
    log = Log()
    tid = log.start(T0, 1000)
    log.meter(tid, T0, 1000, "Transaction.Begin")
    log.meter(tid, T0 + 1, 1100)
    log.meter(tid, T0 + 1, 1100)  # no kill in between: a plain duplicate
    log.stop(tid, T0 + 1.5, 1150, "Local")
    log.stop(tid, T0 + 1.5, 1150, "Local")
    report = check(log.entries, card_session_timeline(T0))
    assert figures(report) == {"duplicated_beyond_window": 2}, report.details()


def test_checker_allows_no_resend_of_a_message_that_was_not_the_last_before_the_kill() -> None:
    log = Log()
    tid = log.start(T0, 1000)
    log.meter(tid, T0, 1000, "Transaction.Begin")  # the last CALL before the kill
    timeline = Timeline(
        actions=[Action("card", 1, T0 - 0.1, T0 - 0.05)],
        kills=[Kill(1, T0 + 0.2, "session", len(log.entries))],
        stop_time=T0 + 100,
        exit_code=0,
    )
    log.start(T0, 1000)  # not the message in flight: beyond the window
    log.stop(tid, T0, 1000, "PowerLoss")
    report = check(log.entries, timeline)
    assert figures(report) == {"duplicated_beyond_window": 1}, report.details()


def test_checker_finds_wrong_reasons_meters_order_and_ids() -> None:
    log = Log()
    tid = log.start(T0, 1000)
    log.meter(tid, T0, 1000, "Transaction.Begin")
    log.stop(tid, T0 + 1.5, 900, "Local")  # meterStop < meterStart
    log.meter(tid, T0 + 1.6, 1000)  # after its Stop
    log.stop(-1, T0 + 2, 1000, "Local")  # -1
    log.stop(77, T0 + 2, 1000, "Local")  # never assigned
    timeline = card_session_timeline(T0)
    report = check(log.entries, timeline)
    assert figures(report) == {
        "order_violations": 1,
        "meter_violations": 3,  # meterStop < meterStart; two samples above meterStop
        "bad_transaction_ids": 2,
    }, report.details()
    # Killed while running, but stopped Local: the wrong reason.
    log = Log()
    log.session(T0, 1000, 1200, reason="Local")
    timeline = Timeline(
        actions=[Action("card", 1, T0 - 0.1, T0 - 0.05)],
        kills=[Kill(1, T0 + 1.2, "session", len(log.entries))],
        stop_time=T0 + 100,
        exit_code=0,
    )
    assert figures(check(log.entries, timeline)) == {"reason_violations": 1}
    # A card request cut short by the kill: Local or PowerLoss are both right.
    timeline.actions.append(Action("card", 1, T0 + 1.1, None))
    assert figures(check(log.entries, timeline)) == {}
    # ... unless the store copied at the kill says it was still running: then only PowerLoss.
    record = {"meterStart": 1000, "startedAt": T0, "stopping": False, "connectorId": 1, "idTag": ID_TAG}
    timeline.kills[0].transactions = [record]
    assert figures(check(log.entries, timeline)) == {"reason_violations": 1}


def test_report_prints_its_figures() -> None:
    report = CrashReport(cycles=50, kills=50, messages=812, transactions=37, duplicates_in_window=2)
    lines = str(report).splitlines()
    assert lines[0] == "crash harness: 50 cycles, 50 kill -9, 812 messages, 37 transactions"
    assert lines[1] == (
        "lost 0, duplicated 0 (2 resends of the message in flight at a kill, as OCPP allows), "
        "order violations 0, meter violations 0, wrong reasons 0"
    )
