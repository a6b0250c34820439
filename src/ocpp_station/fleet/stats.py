"""Fleet statistics: one :class:`FleetStats` per process, shared by every station in it.

It is the stations' :class:`~ocpp_station.core.settings.CallObserver` (``Station(call_observer=...)``):
CALLs sent per action, their outcome (CALLRESULT, the CALLERROR code, ``Timeout``, ``Lost``) and
latency, the CSMS's CALLs received per action; plus counters the fleet's stations report (connects,
reconnects) and gauges the runner samples once a second through each station's read-only
:class:`~ocpp_station.transport.view.EngineView` (connected, booted, charging, faulted, queue depth).

Latencies go into a fixed histogram of logarithmic buckets (:data:`BUCKETS` of ratio 2^(1/8), about
±4.4 % around each bucket's middle, 0.1 ms to about 2 minutes): memory stays the same however long
the run, and merging the snapshots of several processes is exact (counts add up bucket by bucket).

A :meth:`FleetStats.snapshot` is a plain dict (picklable, JSON-able); :func:`merge` adds snapshots
up and :func:`summarize` turns one into the figures the progress line and the report show.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable
from typing import Any

#: The lower edge of bucket 1; bucket 0 holds everything faster.
MIN_LATENCY_S = 1e-4
#: Each bucket's upper edge over its lower edge.
GROWTH = 2 ** (1 / 8)
#: Buckets: 0 (< 0.1 ms), then 1..BUCKETS-1 up to 0.1 ms * GROWTH**(BUCKETS-1), about 2 minutes; the
#: last bucket also holds anything slower.
BUCKETS = 162
_LOG_GROWTH = math.log(GROWTH)
#: Outcomes of our CALLs that are no answer from the CSMS (no latency recorded).
NO_ANSWER = ("Timeout", "Lost")
#: The gauges sampled from the stations, in display order.
GAUGES = ("stations", "connected", "booted", "charging", "faulted", "queue")


def bucket_of(latency_s: float) -> int:
    """The histogram bucket of ``latency_s``."""
    if latency_s < MIN_LATENCY_S:
        return 0
    return min(BUCKETS - 1, 1 + int(math.log(latency_s / MIN_LATENCY_S) / _LOG_GROWTH))


def bucket_value_s(index: int) -> float:
    """What a bucket stands for: the geometric middle of its edges (half the lowest edge for 0)."""
    if index == 0:
        return MIN_LATENCY_S / 2
    return float(MIN_LATENCY_S * GROWTH ** (index - 0.5))


def percentile_s(histogram: dict[int, int], q: float) -> float | None:
    """The ``q`` quantile (0-1) of a sparse histogram {bucket: count}; None when it is empty."""
    total = sum(histogram.values())
    if total == 0:
        return None
    rank = q * total
    seen = 0
    for index in sorted(histogram):
        seen += histogram[index]
        if seen >= rank:
            return bucket_value_s(index)
    return bucket_value_s(max(histogram))  # pragma: no cover: rounding only


class FleetStats:
    """The CallObserver of every station of one process, and its counters and gauges."""

    __slots__ = (
        "answered_by_action",
        "connects",
        "errors",
        "gauges",
        "latency",
        "received_by_action",
        "received_errors",
        "reconnects",
        "sent_by_action",
        "statuses",
    )

    def __init__(self) -> None:
        self.sent_by_action: dict[str, int] = {}
        #: CALLRESULTs per action.
        self.answered_by_action: dict[str, int] = {}
        #: Per action, per CALLERROR code (or Timeout / Lost): how many.
        self.errors: dict[str, dict[str, int]] = {}
        #: Per action, the latency histogram of every answer (CALLRESULT or CALLERROR).
        self.latency: dict[str, list[int]] = {}
        #: The CSMS's CALLs we answered, per action, and those we refused, per CALLERROR code.
        self.received_by_action: dict[str, int] = {}
        self.received_errors: dict[str, dict[str, int]] = {}
        #: Websocket connections opened, and those of them that were a station's second or later.
        self.connects = 0
        self.reconnects = 0
        self.gauges: dict[str, int] = dict.fromkeys(GAUGES, 0)
        #: Connectors per status (connector 0 left out), sampled with the gauges.
        self.statuses: dict[str, int] = {}

    # -- CallObserver (core/settings.py) ----------------------------------------------------------------
    def sent(self, action: str) -> None:
        sent = self.sent_by_action
        sent[action] = sent.get(action, 0) + 1

    def answered(self, action: str, latency_s: float, error: str | None) -> None:
        if error is None:
            counts = self.answered_by_action
            counts[action] = counts.get(action, 0) + 1
        else:
            by_code = self.errors.setdefault(action, {})
            by_code[error] = by_code.get(error, 0) + 1
            if error in NO_ANSWER:
                return
        histogram = self.latency.get(action)
        if histogram is None:
            histogram = self.latency[action] = [0] * BUCKETS
        histogram[bucket_of(latency_s)] += 1

    def received(self, action: str, error: str | None) -> None:
        counts = self.received_by_action
        counts[action] = counts.get(action, 0) + 1
        if error is not None:
            by_code = self.received_errors.setdefault(action, {})
            by_code[error] = by_code.get(error, 0) + 1

    # -- snapshots ------------------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """Everything so far, as plain data (copies: the stats go on counting)."""
        return {
            "sent": dict(self.sent_by_action),
            "answered": dict(self.answered_by_action),
            "errors": {a: dict(codes) for a, codes in self.errors.items()},
            "latency": {a: {i: n for i, n in enumerate(h) if n} for a, h in self.latency.items()},
            "received": dict(self.received_by_action),
            "receivedErrors": {a: dict(codes) for a, codes in self.received_errors.items()},
            "connects": self.connects,
            "reconnects": self.reconnects,
            "gauges": dict(self.gauges),
            "statuses": dict(self.statuses),
            "atg": _atg_counts(),
        }


def _atg_counts() -> dict[str, int]:
    """This process's ATG counters (fleet/atg.py ``atg_snapshot``: sessions plugged, started,
    refused, ..., and ``running``), empty when no ATG was ever loaded (a fleet without one does not
    import it)."""
    atg = sys.modules.get("ocpp_station.fleet.atg")
    return {} if atg is None else dict(atg.atg_snapshot())


def empty_snapshot() -> dict[str, Any]:
    """A snapshot of nothing (the ATG counters too: they are per process, not per FleetStats)."""
    return {**FleetStats().snapshot(), "atg": {}}


def _add_counts(into: dict[Any, int], counts: dict[Any, int]) -> None:
    for key, n in counts.items():
        into[key] = into.get(key, 0) + n


def merge(snapshots: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The snapshots of several processes as one (exact: counters and histogram buckets add up)."""
    total = empty_snapshot()
    for snap in snapshots:
        for name in ("sent", "answered", "received"):
            _add_counts(total[name], snap[name])
        for name in ("errors", "latency", "receivedErrors"):
            for action, counts in snap[name].items():
                _add_counts(total[name].setdefault(action, {}), counts)
        total["connects"] += snap["connects"]
        total["reconnects"] += snap["reconnects"]
        _add_counts(total["gauges"], snap["gauges"])
        _add_counts(total["statuses"], snap.get("statuses", {}))
        _add_counts(total["atg"], snap.get("atg", {}))
    return total


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 3)


def summarize(snap: dict[str, Any], elapsed_s: float) -> dict[str, Any]:
    """The figures of a snapshot: per action the CALLs sent, CALLs/s over ``elapsed_s``, answered,
    CALLERRORs by code, timeouts, lost, latency p50/p95/p99 (ms); the CSMS's CALLs per action; the
    totals, connects, reconnects, gauges and connectors per status."""
    actions = {}
    names = sorted(set(snap["sent"]) | set(snap["answered"]) | set(snap["errors"]))
    for action in names:
        errors = snap["errors"].get(action, {})
        histogram = snap["latency"].get(action, {})
        actions[action] = {
            "sent": snap["sent"].get(action, 0),
            "perSecond": round(snap["sent"].get(action, 0) / elapsed_s, 2) if elapsed_s > 0 else 0.0,
            "answered": snap["answered"].get(action, 0),
            "callErrors": {c: n for c, n in sorted(errors.items()) if c not in NO_ANSWER},
            "timeouts": errors.get("Timeout", 0),
            "lost": errors.get("Lost", 0),
            "p50Ms": _ms(percentile_s(histogram, 0.50)),
            "p95Ms": _ms(percentile_s(histogram, 0.95)),
            "p99Ms": _ms(percentile_s(histogram, 0.99)),
        }
    everything: dict[int, int] = {}
    for histogram in snap["latency"].values():
        _add_counts(everything, histogram)
    sent = sum(snap["sent"].values())
    errors = [(code, n) for codes in snap["errors"].values() for code, n in codes.items()]
    return {
        "elapsedSeconds": round(elapsed_s, 3),
        "actions": actions,
        "received": {
            action: {"count": n, "callErrors": dict(snap["receivedErrors"].get(action, {}))}
            for action, n in sorted(snap["received"].items())
        },
        "totals": {
            "sent": sent,
            "perSecond": round(sent / elapsed_s, 2) if elapsed_s > 0 else 0.0,
            "answered": sum(snap["answered"].values()),
            "callErrors": sum(n for code, n in errors if code not in NO_ANSWER),
            "timeouts": sum(n for code, n in errors if code == "Timeout"),
            "lost": sum(n for code, n in errors if code == "Lost"),
            "received": sum(snap["received"].values()),
            "p50Ms": _ms(percentile_s(everything, 0.50)),
            "p95Ms": _ms(percentile_s(everything, 0.95)),
            "p99Ms": _ms(percentile_s(everything, 0.99)),
        },
        "connects": snap["connects"],
        "reconnects": snap["reconnects"],
        "gauges": dict(snap["gauges"]),
        "statuses": dict(sorted(snap.get("statuses", {}).items())),
        "atg": dict(snap.get("atg", {})),
    }
