"""Crash harness (durability): a real station process under a recording CSMS, killed with SIGKILL at
random (seeded) moments of charging sessions and started again, cycle after cycle; then the CSMS's
message log is checked.

    report = await run_crash_cycles(50, seed=1, data_dir=tmp_path)
    print(report)
    assert report.ok, report.details()

The development CSMS runs in this process and records every frame. It answers a repeated identical
StartTransaction with the transactionId it gave the first time, as a well-behaved CSMS does. Each
cycle starts ``python -m ocpp_station run`` (same interpreter), waits until it is Accepted, drives a
random sequence of plug / card / wait / unplug from a ``random.Random`` seeded with (seed, cycle),
kills the process with SIGKILL at a random moment (sometimes before it is even connected), waits for
it to exit and copies its store. At the end the station is started once more, delivers its queue
and is stopped with SIGTERM (graceful stop); then :func:`check` reads the log.

What :func:`check` counts, from the CSMS log (every CALL the station sent and every answer) and the
harness's own record (its actions and their times, the kill times, the station's outbox and open
transactions as stored at each kill, the store after the final stop):

* **lost**: a transaction message stored in the station's outbox at a kill that never arrived after
  that kill; a transaction (StartTransaction received) never stopped; its Transaction.Begin
  MeterValues missing; the periodic sample a PowerLoss stop reports (its timestamp) missing;
  anything still stored after the final graceful stop.
* **duplicated**: a StartTransaction with the same (connectorId, idTag, meterStart, timestamp), a
  StopTransaction for the same transactionId, a MeterValues with the same payload, received twice.
  The documented window (OCPP-J: a CALL is resent until its answer is processed): the CALL in
  flight when the process was killed may have been received and answered, the answer never stored;
  it is resent after the restart. One such resend is allowed per kill, and only of the last CALL the
  killed process sent, as the first transaction message after the kill. Anything else is
  "duplicated beyond the window".
* **order**: transaction messages arrive in the order they were made (their timestamps never go
  back); nothing of a transaction before its StartTransaction was answered, nothing after its Stop.
* **meter**: meterStop >= meterStart; sampled registers between the two; each transaction starts at
  or above the previous one's meterStop; a PowerLoss meterStop is the register of the sample it
  names.
* **reason**: Local after the card (with its idTag), EVDisconnected after an unplug, PowerLoss for a
  transaction running at a kill (either one when the kill cut the card or unplug request short).
* **transactionId**: never -1, never one the CSMS did not assign (or gave to a resent Start).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import shutil
import signal
import sqlite3
import sys
import tempfile
import time
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from ocpp_station.core.clock import format_datetime, parse_datetime
from ocpp_station.sim.csms import CentralSystem, LogEntry

CHARGE_POINT_ID = "CRASH_CP"
ID_TAG = "CRASHCARD"
TRANSACTION_ACTIONS = frozenset({"StartTransaction", "StopTransaction", "MeterValues"})
#: How often /state is polled while waiting for the station (a process boundary: polling is fine).
POLL_S = 0.025
#: The station stamps events with its OCPP clock, set from the CSMS's BootNotification answer: it is
#: behind the wall clock by that answer's transit time (never ahead). The checker bounds that lag for
#: each station process (the least time between a stamp and the CSMS receiving it); an action counts
#: as coming after a transaction's start only if it began more than the lag bound plus this margin
#: after the start's timestamp ...
CLOCK_MARGIN_S = 0.01
UNKNOWN_LAG_S = 0.03
#: ... and the driver leaves this long between an action being settled and the next one.
ACTION_GAP_S = 0.15
#: How long after an action the driver waits at most for the station's queue to empty.
SETTLE_S = 0.6
#: How the kill moment of a cycle is chosen, and how often: at a random time during start-up
#: (connecting, BootNotification, replay of the stored queue), at a random time of the charging
#: session, or at a transaction message: when the CSMS handles the n-th one of the cycle, just before
#: its answer goes out or a few milliseconds after (the station may or may not have stored it).
KILL_MODES = (("start-up", 0.1), ("session", 0.55), ("message", 0.35))

JsonDict = dict[str, Any]


class HarnessError(RuntimeError):
    """The harness itself could not go on (a station that does not start, a CSMS timeout)."""


# -- what the harness did -------------------------------------------------------------------------------


@dataclass(slots=True)
class Action:
    """A request to the station's control API: ``plug``, ``unplug`` or ``card``."""

    kind: str
    cycle: int
    t0: float
    #: When the answer came (the station had done it and stored the result); None: the kill came
    #: first, so the station may or may not have done it.
    t1: float | None = None


@dataclass(slots=True)
class Kill:
    cycle: int
    time: float
    #: "start-up", "session", "before answer" or "after answer" (see KILL_MODES).
    kind: str
    #: len(CSMS log) once every frame of the killed process was received.
    boundary: int
    #: What the station had stored at the kill: its outbox (transaction messages not yet answered)
    #: and its open transactions.
    outbox: list[JsonDict] = field(default_factory=list)
    transactions: list[JsonDict] = field(default_factory=list)
    #: When the killed process's control API came up (before it could do anything).
    started: float = 0.0


@dataclass(slots=True)
class Timeline:
    actions: list[Action] = field(default_factory=list)
    kills: list[Kill] = field(default_factory=list)
    #: The last station process: when it came up; the final graceful stop (SIGTERM), its exit code
    #: and what was stored after it.
    final_started: float | None = None
    stop_time: float | None = None
    exit_code: int | None = None
    final_outbox: list[JsonDict] = field(default_factory=list)
    final_transactions: list[JsonDict] = field(default_factory=list)
    #: Station processes that exited without being killed: (cycle, exit code).
    unexpected_exits: list[tuple[int, int]] = field(default_factory=list)


# -- the report -------------------------------------------------------------------------------------------


@dataclass
class CrashReport:
    cycles: int = 0
    kills: int = 0
    #: CALLs received by the CSMS (all actions).
    messages: int = 0
    #: Distinct StartTransactions received.
    transactions: int = 0
    lost: int = 0
    duplicated_beyond_window: int = 0
    duplicates_in_window: int = 0
    order_violations: int = 0
    meter_violations: int = 0
    reason_violations: int = 0
    bad_transaction_ids: int = 0
    #: transactionIds the CSMS gave to a StartTransaction that was then resent in the window, when the
    #: CSMS does not recognise the resend (the harness's CSMS does: then 0).
    orphaned_by_design: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    #: Transaction messages (Start, Stop, MeterValues) received, resends included.
    transaction_messages: int = 0
    kill_kinds: Counter[str] = field(default_factory=Counter)
    #: The largest bound on how far a station process's OCPP clock was behind the wall clock.
    clock_lag_s: float = 0.0
    seed: int | None = None
    runtime_s: float = 0.0
    final_exit_code: int | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def violations(self) -> int:
        return (
            self.lost
            + self.duplicated_beyond_window
            + self.order_violations
            + self.meter_violations
            + self.reason_violations
            + self.bad_transaction_ids
        )

    @property
    def ok(self) -> bool:
        return self.violations == 0 and not self.problems and self.final_exit_code in (0, None)

    def __str__(self) -> str:
        resends = self.duplicates_in_window
        lines = [
            f"crash harness: {self.cycles} cycles, {self.kills} kill -9, {self.messages} messages, "
            f"{self.transactions} transactions",
            f"lost {self.lost}, duplicated {self.duplicated_beyond_window} ({resends} "
            f"resend{'' if resends == 1 else 's'} of the message in flight at a kill, as OCPP allows), "
            f"order violations {self.order_violations}, meter violations {self.meter_violations}, "
            f"wrong reasons {self.reason_violations}",
        ]
        reasons = ", ".join(f"{reason} {n}" for reason, n in sorted(self.reasons.items()))
        extra = f"seed {self.seed}, {self.runtime_s:.1f} s" if self.seed is not None else ""
        extra += f"; {self.transaction_messages} transaction messages; stop reasons: {reasons or 'none'}"
        if self.kill_kinds:
            kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(self.kill_kinds.items()))
            extra += f"; kills at: {kinds}"
        if self.clock_lag_s:
            extra += f"; station clock lag <= {self.clock_lag_s * 1000:.0f} ms"
        if self.bad_transaction_ids:
            extra += f"; bad transactionIds {self.bad_transaction_ids}"
        if self.orphaned_by_design:
            extra += f"; {self.orphaned_by_design} transactionIds orphaned by a resent StartTransaction"
        lines.append(extra.lstrip("; "))
        return "\n".join(lines)

    def details(self, limit: int = 40) -> str:
        """The report and the first ``limit`` problems, one a line."""
        shown = self.problems[:limit]
        more = len(self.problems) - len(shown)
        tail = [f"  ... and {more} more"] if more > 0 else []
        return "\n".join([str(self), *(f"  {p}" for p in shown), *tail])

    def add(self, counter: str, problem: str) -> None:
        setattr(self, counter, getattr(self, counter) + 1)
        self.problems.append(problem)


# -- the checker ------------------------------------------------------------------------------------------


def _canon(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def _without_id(payload: JsonDict) -> bytes:
    return _canon({k: v for k, v in payload.items() if k != "transactionId"})


def _brief(entry: LogEntry, limit: int = 220) -> str:
    text = entry.describe()
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _is_transactional(entry: LogEntry) -> bool:
    if entry.action not in TRANSACTION_ACTIONS:
        return False
    return entry.action != "MeterValues" or "transactionId" in entry.payload


def _key(entry: LogEntry) -> tuple[Any, ...]:
    """What makes two transaction messages the same message."""
    p = entry.payload
    if entry.action == "StartTransaction":
        return ("Start", p["connectorId"], p["idTag"], p["meterStart"], p["timestamp"])
    if entry.action == "StopTransaction":
        return ("Stop", p["transactionId"])
    return ("MeterValues", _canon(p))


def _event_time(entry: LogEntry) -> float:
    """When the station made the message (its OCPP clock)."""
    p = entry.payload
    if entry.action == "MeterValues":
        return min(parse_datetime(v["timestamp"]) for v in p["meterValue"])
    return parse_datetime(p["timestamp"])


def _registers(payload: JsonDict) -> list[tuple[str, str, float]]:
    """(timestamp, context, Wh) of every Energy.Active.Import.Register sample of a MeterValues."""
    out = []
    for value in payload["meterValue"]:
        for sample in value["sampledValue"]:
            if sample.get("measurand", "Energy.Active.Import.Register") == "Energy.Active.Import.Register":
                wh = float(sample["value"]) * (1000.0 if sample.get("unit") == "kWh" else 1.0)
                out.append((value["timestamp"], sample.get("context", "Sample.Periodic"), wh))
    return out


@dataclass(slots=True)
class _Tx:
    index: int
    start: JsonDict
    #: transactionIds the CSMS answered to this Start (and its resends), in order.
    ids: list[int] = field(default_factory=list)
    answer_index: int | None = None
    stop_index: int | None = None
    stop: JsonDict | None = None
    meter_values: list[tuple[int, JsonDict]] = field(default_factory=list)

    @property
    def transaction_id(self) -> int | None:
        """The id the station kept: the answer it processed, so the last one given."""
        return self.ids[-1] if self.ids else None

    @property
    def name(self) -> str:
        return f"transaction {self.transaction_id} (started {self.start['timestamp']})"


def check(
    entries: Sequence[LogEntry],
    timeline: Timeline,
    report: CrashReport | None = None,
    charge_point_id: str = CHARGE_POINT_ID,
) -> CrashReport:
    """Check the CSMS log of one crash run against what the harness did; see the module docstring."""
    report = report or CrashReport()
    log = [e for e in entries if e.charge_point_id == charge_point_id]
    # The harness records log indices over the whole CSMS log: map them onto this station's entries.
    position = {id(e): i for i, e in enumerate(log)}
    boundaries = [_boundary(entries, kill.boundary, position, len(log)) for kill in timeline.kills]
    calls = [(i, e) for i, e in enumerate(log) if e.direction == "in" and e.kind == "CALL"]
    answers = {e.message_id: (i, e) for i, e in enumerate(log) if e.direction == "out"}
    report.messages = len(calls)
    report.final_exit_code = timeline.exit_code
    report.kills = len(timeline.kills)
    report.kill_kinds = Counter(kill.kind for kill in timeline.kills)
    tx_calls = [(i, e) for i, e in calls if _is_transactional(e)]
    report.transaction_messages = len(tx_calls)

    # Duplicates, and the ones the window allows: the last CALL of a killed process, resent as the
    # first transaction message after the kill.
    first_seen: dict[tuple[Any, ...], int] = {}
    copies: list[tuple[int, LogEntry]] = []
    for i, e in tx_calls:
        k = _key(e)
        if k in first_seen:
            copies.append((i, e))
        else:
            first_seen[k] = i
    allowed: set[int] = set()
    call_indices = [i for i, _ in calls]
    tx_indices = [i for i, _ in tx_calls]
    low = 0
    for high in boundaries:
        # The killed process's CALLs are those between the previous kill's boundary and this one.
        first, end = bisect_left(call_indices, low), bisect_left(call_indices, high)
        low = high
        if end == first or not _is_transactional(calls[end - 1][1]):
            continue
        last = calls[end - 1][1]
        nxt = bisect_left(tx_indices, high)
        after = tx_calls[nxt] if nxt < len(tx_calls) else None
        if (
            after is not None
            and (after[1].action, _canon(after[1].payload)) == (last.action, _canon(last.payload))
            and first_seen[_key(after[1])] != after[0]
        ):
            allowed.add(after[0])  # the same message again, not merely one for the same transaction
    for i, e in copies:
        if i in allowed:
            report.duplicates_in_window += 1
        else:
            report.add(
                "duplicated_beyond_window",
                f"duplicate beyond the window: [{i}] {_brief(e)} (first at [{first_seen[_key(e)]}])",
            )

    # Transactions as the CSMS saw them.
    txs: dict[tuple[Any, ...], _Tx] = {}
    owner: dict[int, tuple[_Tx, int]] = {}  # transactionId -> (transaction, index of the answer)
    for i, e in tx_calls:
        if e.action != "StartTransaction":
            continue
        tx = txs.setdefault(_key(e), _Tx(i, e.payload))
        answer = answers.get(e.message_id)
        if answer is not None and answer[1].kind == "CALLRESULT":
            tid = int(answer[1].payload["transactionId"])
            if tid not in tx.ids:
                tx.ids.append(tid)
            owner.setdefault(tid, (tx, answer[0]))
            if tx.answer_index is None:
                tx.answer_index = answer[0]
    report.transactions = len(txs)
    orphans = {tid for tx in txs.values() for tid in tx.ids[:-1]}
    report.orphaned_by_design = len(orphans)

    for i, e in tx_calls:
        if e.action == "StartTransaction" or first_seen[_key(e)] != i:
            continue
        tid = e.payload["transactionId"]
        if tid == -1 or tid not in owner or tid in orphans:
            what = "" if tid == -1 else ", orphaned" if tid in orphans else ", never assigned"
            report.add("bad_transaction_ids", f"{e.action} with transactionId {tid}{what}: [{i}] {_brief(e)}")
            continue
        tx, answered_at = owner[tid]
        if i < answered_at:
            report.add("order_violations", f"{e.action} before its StartTransaction was answered: [{i}]")
        if e.action == "StopTransaction":
            tx.stop_index, tx.stop = i, e.payload
        else:
            if tx.stop_index is not None:
                report.add("order_violations", f"MeterValues after the StopTransaction of {tx.name}: [{i}]")
            tx.meter_values.append((i, e.payload))

    # Order of making: the timestamps of first arrivals never go back.
    latest: tuple[float, int] | None = None
    for i, e in tx_calls:
        if first_seen[_key(e)] != i:
            continue
        made = _event_time(e)
        if latest is not None and made < latest[0] - 1e-6:
            report.add(
                "order_violations",
                f"[{i}] {e.action} made at {made:.3f} arrived after [{latest[1]}] made at {latest[0]:.3f}",
            )
        if latest is None or made >= latest[0]:
            latest = (made, i)

    lags, report.clock_lag_s = _clock_lags(calls, timeline, boundaries)
    _check_transactions(report, txs, timeline, lags)
    _check_stored(report, calls, timeline, boundaries)
    if timeline.exit_code not in (0, None):
        report.problems.append(f"the final graceful stop exited with code {timeline.exit_code}")
    for cycle, code in timeline.unexpected_exits:
        report.problems.append(f"cycle {cycle}: the station exited by itself with code {code}")
    return report


def _boundary(entries: Sequence[LogEntry], index: int, position: dict[int, int], size: int) -> int:
    """The first entry of this station at or after ``index`` of the whole log, as an index into its own."""
    for entry in entries[index:]:
        if id(entry) in position:
            return position[id(entry)]
    return size


def _clock_lags(
    calls: list[tuple[int, LogEntry]], timeline: Timeline, boundaries: list[int]
) -> tuple[list[tuple[float, float]], float]:
    """(start time, bound on its clock lag) of every station process: the least time between a stamp
    it made (a stamp after it came up: not a replayed message of an older process) and the CSMS
    receiving that message; UNKNOWN_LAG_S for a process the CSMS heard no stamp of. And the largest
    bound measured."""
    starts = [kill.started for kill in timeline.kills]
    if timeline.final_started is not None:
        starts.append(timeline.final_started)
    least: list[float | None] = [None] * len(starts)
    for i, e in calls:
        process = bisect_right(boundaries, i)  # the process whose segment holds entry i
        if process >= len(starts):
            continue
        stamps = [v["timestamp"] for v in e.payload.get("meterValue", [])]
        if "timestamp" in e.payload:
            stamps.append(e.payload["timestamp"])
        for stamp in stamps:
            made = parse_datetime(stamp)
            if made <= starts[process]:
                continue
            delay = max(0.0, e.time - made)
            current = least[process]
            least[process] = delay if current is None else min(current, delay)
    lags = [(up, UNKNOWN_LAG_S if lag is None else lag) for up, lag in zip(starts, least, strict=True)]
    return lags, max((lag for lag in least if lag is not None), default=0.0)


def _check_transactions(
    report: CrashReport,
    txs: dict[tuple[Any, ...], _Tx],
    timeline: Timeline,
    lags: list[tuple[float, float]],
) -> None:
    # What the station had stored at each kill: its transactions running then (not stopping).
    running_at_kill: dict[tuple[int, str], Kill] = {}
    known = {(int(tx.start["meterStart"]), tx.start["timestamp"]) for tx in txs.values()}
    for kill in timeline.kills:
        for record in kill.transactions:
            key = (int(record["meterStart"]), format_datetime(float(record["startedAt"])))
            if key not in known:
                report.add(
                    "lost", f"transaction stored at the kill of cycle {kill.cycle} never started: {record}"
                )
            if not record.get("stopping"):
                running_at_kill.setdefault(key, kill)
    previous_stop: tuple[int, str] | None = None
    for tx in sorted(txs.values(), key=lambda t: parse_datetime(t.start["timestamp"])):
        start_wh = int(tx.start["meterStart"])
        begins = [r for _, p in tx.meter_values for r in _registers(p) if r[1] == "Transaction.Begin"]
        if not begins:
            report.add("lost", f"{tx.name}: its Transaction.Begin MeterValues never arrived")
        for stamp, context, wh in (r for _, p in tx.meter_values for r in _registers(p)):
            stop_wh = tx.stop["meterStop"] if tx.stop is not None else None
            if wh < start_wh - 1 or (stop_wh is not None and wh > stop_wh + 1):
                report.add(
                    "meter_violations",
                    f"{tx.name}: {context} register {wh} at {stamp} outside meterStart {start_wh} .. "
                    f"meterStop {stop_wh}",
                )
        if previous_stop is not None and start_wh < previous_stop[0] - 1:
            report.add(
                "meter_violations",
                f"{tx.name}: meterStart {start_wh} below the meterStop {previous_stop[0]} of {previous_stop[1]}",
            )
        if tx.stop is None:
            report.add("lost", f"{tx.name}: no StopTransaction ever arrived")
            continue
        stop = tx.stop
        previous_stop = (int(stop["meterStop"]), tx.name)
        reason = stop.get("reason", "Local")
        report.reasons[reason] += 1
        if stop["meterStop"] < start_wh:
            report.add(
                "meter_violations", f"{tx.name}: meterStop {stop['meterStop']} < meterStart {start_wh}"
            )
        if parse_datetime(stop["timestamp"]) < parse_datetime(tx.start["timestamp"]):
            report.add("order_violations", f"{tx.name}: stopped at {stop['timestamp']}, before its start")
        if reason == "PowerLoss" and stop["timestamp"] == tx.start["timestamp"]:
            if abs(stop["meterStop"] - start_wh) > 1:  # no sample stored: its start is all it knows
                report.add(
                    "meter_violations",
                    f"{tx.name}: PowerLoss without a sample, yet meterStop {stop['meterStop']} != {start_wh}",
                )
        elif reason == "PowerLoss":
            # The last stored sample is what a PowerLoss stop reports: that sample was sent too.
            samples = [r for _, p in tx.meter_values for r in _registers(p) if r[0] == stop["timestamp"]]
            if not samples:
                report.add(
                    "lost",
                    f"{tx.name}: PowerLoss stop at {stop['timestamp']}, but no sample of that time arrived",
                )
            elif all(abs(wh - stop["meterStop"]) > 1 for _, _, wh in samples):
                report.add(
                    "meter_violations",
                    f"{tx.name}: PowerLoss meterStop {stop['meterStop']} is not the sampled {samples[0][2]}",
                )
        started = parse_datetime(tx.start["timestamp"])
        # The process it started in: the last one up before its (wall clock) start.
        lag = next((lag for up, lag in reversed(lags) if up <= started), 0.0)
        expected, cause = _expected_reasons(tx, timeline, CLOCK_MARGIN_S + lag)
        kill = running_at_kill.get((start_wh, tx.start["timestamp"]))
        if kill is not None:
            if "PowerLoss" in expected:
                expected = {"PowerLoss"}  # its store says it was still running at the kill
            else:
                cause += f"; yet it was stored as running at the kill of cycle {kill.cycle}"
        if reason not in expected:
            report.add(
                "reason_violations",
                f"{tx.name}: stopped with {reason}, expected {' or '.join(sorted(expected)) or 'no stop'} "
                f"({cause})",
            )
        elif reason == "Local" and stop.get("idTag") != tx.start["idTag"]:
            report.add("reason_violations", f"{tx.name}: Local stop with idTag {stop.get('idTag')!r}")


def _expected_reasons(tx: _Tx, timeline: Timeline, margin: float) -> tuple[set[str], str]:
    """What should have ended the transaction: the first card or unplug after its start, a kill, or
    the final graceful stop (then onShutdown's default, Reboot)."""
    started = parse_datetime(tx.start["timestamp"])
    events: list[tuple[float, str, set[str]]] = []
    for a in timeline.actions:
        if a.kind in ("card", "unplug") and a.t0 > started + margin:
            reason = "Local" if a.kind == "card" else "EVDisconnected"
            done = a.t1 is not None
            cause = f"{a.kind} at {a.t0:.3f} in cycle {a.cycle}" + ("" if done else ", cut short by the kill")
            events.append((a.t0, cause, {reason} if done else {reason, "PowerLoss"}))
            break  # actions are in time order
    for k in timeline.kills:
        if k.time > started:
            events.append((k.time, f"kill at {k.time:.3f} in cycle {k.cycle}", {"PowerLoss"}))
            break
    if timeline.stop_time is not None and timeline.stop_time > started:
        events.append((timeline.stop_time, "the final graceful stop", {"Reboot"}))
    if not events:
        return set(), "nothing stopped it"
    _, cause, reasons = min(events, key=lambda ev: ev[0])
    return reasons, cause


def _check_stored(
    report: CrashReport, calls: list[tuple[int, LogEntry]], timeline: Timeline, boundaries: list[int]
) -> None:
    """Every transaction message stored at a kill arrives after it; nothing is left at the end."""
    arrivals: dict[tuple[str, bytes], list[int]] = {}
    for i, e in calls:
        if _is_transactional(e):
            arrivals.setdefault((e.action or "", _without_id(e.payload)), []).append(i)
    for kill, boundary in zip(timeline.kills, boundaries, strict=True):
        for record in kill.outbox:
            seen = arrivals.get((record["action"], _without_id(record["payload"])), [])
            if not any(i >= boundary for i in seen):
                report.add(
                    "lost",
                    f"{record['action']} stored at the kill of cycle {kill.cycle} never arrived after it: "
                    f"{_canon(record['payload']).decode()[:160]}",
                )
    for record in timeline.final_outbox:
        report.add("lost", f"{record['action']} still queued after the final graceful stop")
    for record in timeline.final_transactions:
        report.add("lost", f"transaction {record.get('transactionId')} still open after the final stop")


# -- the station process ----------------------------------------------------------------------------------


def read_store(station_dir: Path) -> tuple[list[JsonDict], list[JsonDict]]:
    """The outbox records and open transactions in the station's database, read from a copy (the
    database and its WAL) so that the station's own files are never touched."""
    db = station_dir / "station.db"
    if not db.exists():
        return [], []
    with tempfile.TemporaryDirectory(prefix="crash-store-") as tmp:
        copy = Path(tmp) / "station.db"
        for suffix in ("", "-wal"):
            source = Path(str(db) + suffix)
            if source.exists():
                shutil.copyfile(source, Path(str(copy) + suffix))
        connection = sqlite3.connect(copy)
        try:
            rows = connection.execute(
                "SELECT kind, value FROM records WHERE kind IN ('outbox', 'transactions') ORDER BY kind, key"
            ).fetchall()
        except sqlite3.OperationalError:  # killed before the first migration finished
            rows = []
        finally:
            connection.close()
    outbox = [orjson.loads(v) for kind, v in rows if kind == "outbox"]
    transactions = [orjson.loads(v) for kind, v in rows if kind == "transactions"]
    return outbox, transactions


class StationProcess:
    """``python -m ocpp_station run`` with its control API on a free port."""

    def __init__(self, config: Path, data_dir: Path, log_path: Path) -> None:
        self.config = config
        self.data_dir = data_dir
        self.log_path = log_path
        self.proc: asyncio.subprocess.Process | None = None
        self.base = ""
        #: When SIGKILL was sent to the current process (None: not yet).
        self.killed_at: float | None = None

    async def start(self, timeout: float = 30) -> float:
        """Start it; returns when its control API is up (the time of that)."""
        self.killed_at = None
        with self.log_path.open("ab") as log_file:
            log_file.write(f"--- {time.strftime('%H:%M:%S')} start\n".encode())
            log_file.flush()
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "ocpp_station",
                "run",
                "--config",
                str(self.config),
                "--control-port",
                "0",
                "--data-dir",
                str(self.data_dir),
                stdout=asyncio.subprocess.PIPE,
                stderr=log_file,
            )
        assert self.proc.stdout is not None
        try:
            line = (await asyncio.wait_for(self.proc.stdout.readline(), timeout)).decode()
        except TimeoutError:
            raise HarnessError(
                f"the station printed nothing within {timeout} s; see {self.log_path}"
            ) from None
        if not line.startswith("control API on "):
            raise HarnessError(
                f"unexpected first line {line!r} (exit code {self.proc.returncode}); see {self.log_path}"
            )
        self.base = line.split(" on ", 1)[1].strip()
        return time.time()

    @property
    def exited(self) -> int | None:
        return None if self.proc is None else self.proc.returncode

    def kill_now(self) -> None:
        """Send SIGKILL (once) and note when."""
        if self.proc is None or self.killed_at is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()
        self.killed_at = time.time()

    async def kill(self) -> float:
        """SIGKILL unless sent already; returns the time it was sent, once the process is gone."""
        assert self.proc is not None
        self.kill_now()
        await self.proc.wait()
        assert self.killed_at is not None
        return self.killed_at

    async def terminate(self, timeout: float = 30) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(self.proc.wait(), timeout)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
            raise HarnessError(f"the station did not stop within {timeout} s of SIGTERM") from None


# -- the run ------------------------------------------------------------------------------------------------


class _Run:
    def __init__(
        self,
        csms: CentralSystem,
        http: aiohttp.ClientSession,
        station: StationProcess,
        timeline: Timeline,
        progress: Callable[[str], None] | None,
    ) -> None:
        self.csms = csms
        self.http = http
        self.station = station
        self.timeline = timeline
        self.progress = progress
        self._trigger: tuple[int, bool, float] | None = None
        self._kill_kind = ""
        self._killed = asyncio.Event()
        self._pending_kill: asyncio.TimerHandle | None = None

    async def state(self) -> JsonDict:
        async with self.http.get(f"{self.station.base}/state") as response:
            data: JsonDict = await response.json()
            return data

    async def post(self, path: str, body: JsonDict | None = None) -> JsonDict:
        async with self.http.post(f"{self.station.base}{path}", json=body) as response:
            data: JsonDict = await response.json()
            if response.status != 200:
                raise HarnessError(f"POST {path}: {response.status} {data}")
            return data

    async def wait_state(self, predicate: Callable[[JsonDict], bool], timeout: float, what: str) -> JsonDict:
        deadline = time.monotonic() + timeout
        while True:
            if self.station.exited is not None:
                raise HarnessError(f"the station exited with code {self.station.exited} while waiting {what}")
            with contextlib.suppress(aiohttp.ClientError):
                state = await self.state()
                if predicate(state):
                    return state
            if time.monotonic() > deadline:
                raise HarnessError(
                    f"the station was not {what} within {timeout} s; see {self.station.log_path}"
                )
            await asyncio.sleep(POLL_S)

    async def wait_accepted(self, timeout: float = 30) -> float:
        await self.wait_state(
            lambda s: s["connected"] and s["registration"] == "Accepted", timeout, "Accepted"
        )
        return time.time()

    async def drive(self, rng: random.Random, cycle: int) -> None:
        """Plug, card, wait, unplug, card again ... until cancelled by the kill."""
        plugged = running = False
        while True:
            r = rng.random()
            if running:
                kind = "wait" if r < 0.4 else "card" if r < 0.7 else "unplug"
            elif plugged:
                kind = "card" if r < 0.65 else "unplug" if r < 0.8 else "wait"
            else:
                kind = "plug" if r < 0.6 else "card" if r < 0.75 else "wait"
            if kind == "wait":
                await asyncio.sleep(rng.uniform(0.0, 0.8))
                continue
            action = Action(kind, cycle, time.time())
            self.timeline.actions.append(action)
            if kind == "card":
                await self.post("/id-tag", {"idTag": ID_TAG})
            else:
                await self.post(f"/connectors/1/{kind}")
            action.t1 = time.time()
            plugged = kind == "plug" or (plugged and kind != "unplug")
            state = await self.settle()
            running = state["connectors"][1]["idTag"] is not None
            await asyncio.sleep(ACTION_GAP_S)

    async def settle(self) -> JsonDict:
        """Until the station's queue is empty (an Authorize answered, the StartTransaction it led to
        sent and answered), at most SETTLE_S."""
        deadline = time.monotonic() + SETTLE_S
        while True:
            state = await self.state()
            if state["queue"] == 0 or time.monotonic() > deadline:
                return state
            await asyncio.sleep(POLL_S)

    def arm(self, count: int, before_answer: bool, delay: float) -> None:
        """Kill the station when the CSMS handles the ``count``-th transaction message from now:
        before answering it, or ``delay`` s after the answer went out."""
        self._trigger = (count, before_answer, delay)

    def on_transaction_message(self) -> None:
        """Called by the CSMS handlers of StartTransaction, StopTransaction and MeterValues."""
        if self._trigger is None:
            return
        count, before_answer, delay = self._trigger
        if count > 1:
            self._trigger = (count - 1, before_answer, delay)
            return
        self._trigger = None
        self._kill_kind = "before answer" if before_answer else "after answer"
        if before_answer:
            self._kill_at_message()  # the answer goes out to a dead process
        else:
            self._pending_kill = asyncio.get_running_loop().call_later(delay, self._kill_at_message)

    def _kill_at_message(self) -> None:
        self.station.kill_now()
        self._killed.set()

    async def cycle(self, cycle: int, seed: int) -> None:
        rng = random.Random(f"crash-harness:{seed}:{cycle}")
        mode = rng.choices([m for m, _ in KILL_MODES], weights=[w for _, w in KILL_MODES])[0]
        delay = rng.uniform(0.0, 0.25) if mode == "start-up" else rng.uniform(0.0, 1.2)
        self._trigger = None
        self._kill_kind = mode
        self._killed = asyncio.Event()
        if mode == "message":
            before = rng.random() < 0.5
            self.arm(rng.randint(1, 3), before, 0.0 if before else rng.uniform(0.0, 0.004))
            delay += 1.0  # the time-out, if that message does not come
        started = await self.station.start()
        driver: asyncio.Task[None] | None = None
        waiter = asyncio.create_task(self._killed.wait())
        try:
            if mode == "start-up":
                await asyncio.wait({waiter}, timeout=max(0.0, started + delay - time.time()))
            else:
                try:
                    accepted = await self.wait_accepted()
                except HarnessError:
                    if self.station.killed_at is None:
                        raise
                    accepted = 0.0  # killed at a message replayed before it was Accepted
                if self.station.killed_at is None:
                    driver = asyncio.create_task(self.drive(rng, cycle))
                    timeout = max(0.0, accepted + delay - time.time())
                    await asyncio.wait({driver, waiter}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
                    if driver.done() and self.station.killed_at is None:
                        driver.result()  # the driver failed: raise its exception
            if self.station.killed_at is None:
                self._kill_kind = "start-up" if mode == "start-up" else "session"
        finally:
            self._trigger = None
            if self._pending_kill is not None:
                self._pending_kill.cancel()  # never into the next cycle: the kill below is now
                self._pending_kill = None
            waiter.cancel()
            if driver is not None and not driver.done():
                driver.cancel()
            if driver is not None:
                with contextlib.suppress(asyncio.CancelledError, aiohttp.ClientError, HarnessError):
                    await driver
            if self.station.exited is not None and self.station.killed_at is None:
                self.timeline.unexpected_exits.append((cycle, self.station.exited))
            # An "after answer" kill may still be waiting for its few milliseconds: it goes now.
            killed = await self.station.kill()
        await self.csms.wait_disconnected(CHARGE_POINT_ID, timeout=10)
        outbox, transactions = read_store(self.station.data_dir)
        self.timeline.kills.append(
            Kill(cycle, killed, self._kill_kind, len(self.csms.log), outbox, transactions, started)
        )

    async def finish(self) -> None:
        """Start once more, let the queue go out, stop gracefully (SIGTERM)."""
        self.timeline.final_started = await self.station.start()
        await self.wait_accepted()
        await self.wait_state(lambda s: s["queue"] == 0, 60, "done with its queue")
        self.timeline.stop_time = time.time()
        self.timeline.exit_code = await self.station.terminate()
        await self.csms.wait_disconnected(CHARGE_POINT_ID, timeout=10)
        self.timeline.final_outbox, self.timeline.final_transactions = read_store(self.station.data_dir)


def watch_transaction_messages(csms: CentralSystem, watcher: Callable[[], None]) -> None:
    """Call ``watcher`` whenever the CSMS handles a transaction message, before it answers."""
    for action in TRANSACTION_ACTIONS:
        handler = csms.handlers[action]

        def watched(cp_id: str, payload: JsonDict, handler: Any = handler) -> Any:
            watcher()
            return handler(cp_id, payload)

        csms.handlers[action] = watched


def dedupe_start_transactions(csms: CentralSystem) -> None:
    """Answer a repeated identical StartTransaction (a resend after a lost answer) with the
    transactionId given the first time, as a well-behaved CSMS does."""
    given: dict[tuple[Any, ...], int] = {}

    def on_start(cp_id: str, payload: JsonDict) -> JsonDict:
        key = (cp_id, payload["connectorId"], payload["idTag"], payload["meterStart"], payload["timestamp"])
        if key not in given:
            given[key] = csms.next_transaction_id()
        return {"transactionId": given[key], "idTagInfo": csms.id_tag_info(payload["idTag"])}

    csms.handlers["StartTransaction"] = on_start


def station_config(url: str, data_dir: Path) -> JsonDict:
    return {
        "development": {"WS_URL": url, "chargePointID": CHARGE_POINT_ID},
        "ocpp": {"MeterValueSampleInterval": 1},
        "dataDir": str(data_dir),
        "connection": {"reconnect": {"initialDelay": 0.05, "maxDelay": 0.3}},
        "durability": {},
    }


async def run_crash_cycles(
    cycles: int,
    seed: int,
    data_dir: Path,
    *,
    dedupe_starts: bool = True,
    progress: Callable[[str], None] | None = None,
) -> CrashReport:
    """Run ``cycles`` kill -9 cycles of a station process and check the CSMS's log.

    ``data_dir`` is the harness's working directory: the station's data directory is
    ``data_dir/station`` (it must not hold a database yet), its config ``data_dir/config.json``,
    its log (stderr of every run) ``data_dir/station.log``.
    """
    if cycles < 1:
        raise ValueError("cycles must be at least 1")
    data_dir = Path(data_dir)
    station_dir = data_dir / "station"
    if (station_dir / "station.db").exists():
        raise HarnessError(f"{station_dir} already holds a station database: use a fresh directory")
    station_dir.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    timeline = Timeline()
    async with CentralSystem(port=0) as csms:
        if dedupe_starts:
            dedupe_start_transactions(csms)
        config = data_dir / "config.json"
        config.write_text(json.dumps(station_config(csms.url, station_dir), indent=2))
        station = StationProcess(config, station_dir, data_dir / "station.log")
        timeout = aiohttp.ClientTimeout(total=5)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            run = _Run(csms, http, station, timeline, progress)
            watch_transaction_messages(csms, run.on_transaction_message)
            try:
                for n in range(1, cycles + 1):
                    await run.cycle(n, seed)
                    if progress is not None and (n % 10 == 0 or n == cycles):
                        progress(
                            f"{n}/{cycles} cycles, {len(csms.log)} frames, {time.monotonic() - began:.0f} s"
                        )
                await run.finish()
            finally:
                if station.exited is None and station.proc is not None:
                    await station.kill()
        report = CrashReport(cycles=cycles, seed=seed)
        check(csms.log, timeline, report)
    report.runtime_s = time.monotonic() - began
    return report
