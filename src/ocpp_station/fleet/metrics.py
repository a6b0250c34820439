"""The fleet's Prometheus ``/metrics`` (prometheus-client): the figures of the aggregated statistics
snapshot (:mod:`ocpp_station.fleet.stats`), read at each scrape by one custom collector: no metric
object per station or per action is kept, and with ``--processes N`` the snapshot is the parent's
merge of its workers' (at most a second old).

=============================================  =========  ==========================================
metric                                         type       labels / meaning
=============================================  =========  ==========================================
``ocpp_fleet_calls_sent_total``                counter    ``action``: our CALLs sent
``ocpp_fleet_call_outcomes_total``             counter    ``action``, ``outcome``: ``CALLRESULT``,
                                                          a CALLERROR code, ``Timeout`` or ``Lost``
``ocpp_fleet_call_latency_seconds``            histogram  ``action``: from the frame leaving to its
                                                          answer (CALLRESULT or CALLERROR)
``ocpp_fleet_csms_calls_total``                counter    ``action``, ``outcome``: the CSMS's CALLs,
                                                          ``CALLRESULT`` or the CALLERROR we answered
``ocpp_fleet_connects_total``                  counter    websockets opened
``ocpp_fleet_reconnects_total``                counter    of them, a station's second or later
``ocpp_fleet_stations``, ``_connected``,       gauge      sampled once a second: stations started,
``_booted``, ``_charging``, ``_faulted``                  connected, BootNotification Accepted, with a
                                                          connector Charging / Faulted
``ocpp_fleet_queue_depth``                     gauge      CALLs queued by the stations (in flight too)
``ocpp_fleet_atg_events_total``                counter    ``event``: the automatic transaction
                                                          generator's counts (plugged, started,
                                                          refused, ...; fleet/atg.py)
``ocpp_fleet_atg_running``                     gauge      ATGs running
=============================================  =========  ==========================================

The histogram's buckets are edges of the fleet's own logarithmic buckets (every 8th: 0.1 ms times a
power of two, 0.1 ms to 105 s), so its counts are exact; its ``_sum`` is approximate (each answer
counted at its bucket's middle, ±4.4 %), the fleet keeping no exact sum.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from ocpp_station.fleet.stats import BUCKETS, GROWTH, MIN_LATENCY_S, bucket_value_s

__all__ = ["CONTENT_TYPE_LATEST", "LATENCY_EDGES", "FleetCollector", "render_metrics"]

#: The fleet buckets whose upper edges are the histogram's ``le`` (their counts add up exactly).
_EDGE_BUCKETS = tuple(range(0, BUCKETS - 1, 8))
#: The histogram's upper edges in seconds: 0.1 ms * 2**k.
LATENCY_EDGES = tuple(MIN_LATENCY_S * GROWTH**k for k in _EDGE_BUCKETS)
#: Gauge name -> the snapshot's gauge it reads.
_GAUGES = {
    "stations": ("stations", "Stations started"),
    "connected": ("connected", "Stations whose websocket is up"),
    "booted": ("booted", "Stations whose BootNotification was Accepted"),
    "charging": ("charging", "Stations with a connector Charging"),
    "faulted": ("faulted", "Stations with a connector Faulted"),
    "queue_depth": ("queue", "CALLs queued by the stations, those in flight included"),
}


def _le(seconds: float) -> str:
    return f"{seconds:.6g}"


class FleetCollector:
    """A prometheus-client collector of ``snapshot()`` (a :meth:`FleetStats.snapshot` or a merge)."""

    def __init__(self, snapshot: Callable[[], dict[str, Any]], prefix: str = "ocpp_fleet") -> None:
        self.snapshot = snapshot
        self.prefix = prefix

    def collect(self) -> Iterator[Metric]:
        snap = self.snapshot()
        p = self.prefix
        sent = CounterMetricFamily(f"{p}_calls_sent", "OCPP CALLs sent by the stations", labels=["action"])
        for action, n in sorted(snap["sent"].items()):
            sent.add_metric([action], n)
        yield sent
        outcomes = CounterMetricFamily(
            f"{p}_call_outcomes",
            "Outcomes of the stations' CALLs: CALLRESULT, a CALLERROR code, Timeout or Lost",
            labels=["action", "outcome"],
        )
        for action, n in sorted(snap["answered"].items()):
            outcomes.add_metric([action, "CALLRESULT"], n)
        for action, codes in sorted(snap["errors"].items()):
            for code, n in sorted(codes.items()):
                outcomes.add_metric([action, code], n)
        yield outcomes
        latency = HistogramMetricFamily(
            f"{p}_call_latency_seconds",
            "Latency of the stations' CALLs, from the frame leaving to its answer",
            labels=["action"],
        )
        for action, histogram in sorted(snap["latency"].items()):
            counts = {int(i): n for i, n in histogram.items()}
            buckets: list[tuple[str, float]] = []
            cumulative = 0
            ordered = sorted(counts)
            position = 0
            for edge_bucket, edge in zip(_EDGE_BUCKETS, LATENCY_EDGES, strict=True):
                while position < len(ordered) and ordered[position] <= edge_bucket:
                    cumulative += counts[ordered[position]]
                    position += 1
                buckets.append((_le(edge), cumulative))
            total = sum(counts.values())
            buckets.append(("+Inf", total))
            approximate_sum = sum(bucket_value_s(i) * n for i, n in counts.items())
            latency.add_metric([action], buckets, approximate_sum)
        yield latency
        received = CounterMetricFamily(
            f"{p}_csms_calls",
            "The CSMS's CALLs to the stations: answered (CALLRESULT) or refused (the CALLERROR code)",
            labels=["action", "outcome"],
        )
        for action, n in sorted(snap["received"].items()):
            refused = snap["receivedErrors"].get(action, {})
            received.add_metric([action, "CALLRESULT"], n - sum(refused.values()))
            for code, count in sorted(refused.items()):
                received.add_metric([action, code], count)
        yield received
        yield CounterMetricFamily(f"{p}_connects", "Websocket connections opened", value=snap["connects"])
        yield CounterMetricFamily(
            f"{p}_reconnects",
            "Websocket connections that were a station's second or later",
            value=snap["reconnects"],
        )
        gauges = snap["gauges"]
        for name, (key, text) in _GAUGES.items():
            yield GaugeMetricFamily(f"{p}_{name}", text, value=gauges.get(key, 0))
        atg = snap.get("atg", {})
        if atg:
            events = CounterMetricFamily(
                f"{p}_atg_events",
                "The automatic transaction generator's counts (fleet/atg.py)",
                labels=["event"],
            )
            for event, n in sorted(atg.items()):
                if event != "running":
                    events.add_metric([event], n)
            yield events
            yield GaugeMetricFamily(
                f"{p}_atg_running", "Automatic transaction generators running", value=atg.get("running", 0)
            )


def render_metrics(snapshot: Callable[[], dict[str, Any]]) -> bytes:
    """The Prometheus text exposition of ``snapshot()``."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FleetCollector(snapshot))
    return generate_latest(registry)
