"""One station's Prometheus ``/metrics`` (prometheus-client), served by its control API
(``ocpp-station run --control-port``) as the fleet serves its own (:mod:`ocpp_station.fleet.metrics`).

:class:`StationMetrics` exists only when a station is built with it (``Station(config,
metrics=StationMetrics())``): a station without one, every station of a fleet included, pays nothing.
It is the station's :class:`~ocpp_station.core.settings.CallObserver`, the fleet's
:class:`~ocpp_station.fleet.stats.FleetStats` counting the same exchanges the same way (plus the
connections the station reports), and it is rendered by the fleet's own collector under the prefix
``ocpp_station``: the families the two share have the same names after the prefix, the same labels,
the same histogram buckets and the same meaning. The gauges are read from the station's read-only
:class:`~ocpp_station.transport.view.EngineView` at each scrape, not sampled. Each station has its own
:class:`~prometheus_client.CollectorRegistry`, never the global one.

=============================================  =========  ==========================================
metric                                         type       labels / meaning
=============================================  =========  ==========================================
``ocpp_station_messages_total``                counter    ``action``, ``direction`` (``sent``,
                                                          ``received``), ``type`` (``CALL``,
                                                          ``CALLRESULT``, ``CALLERROR``)
``ocpp_station_call_errors_total``             counter    ``action``, ``code``, ``direction``:
                                                          CALLERRORs received for our CALLs / sent
                                                          for the CSMS's
``ocpp_station_calls_sent_total``              counter    ``action``: our CALLs sent (as the fleet's)
``ocpp_station_call_outcomes_total``           counter    ``action``, ``outcome``: ``CALLRESULT``, a
                                                          CALLERROR code, ``Timeout`` or ``Lost``
``ocpp_station_call_latency_seconds``          histogram  ``action``: our CALLs, from the frame leaving
                                                          to its answer
``ocpp_station_csms_calls_total``              counter    ``action``, ``outcome``: the CSMS's CALLs,
                                                          ``CALLRESULT`` or the CALLERROR we answered
``ocpp_station_connects_total``                counter    websockets opened
``ocpp_station_reconnects_total``              counter    of them, the second or later
``ocpp_station_connected``                     gauge      1 while the websocket is up
``ocpp_station_booted``                        gauge      1 once BootNotification is Accepted
``ocpp_station_registration``                  gauge      ``status``: 1 for the current one
                                                          (``Unknown`` before any answer)
``ocpp_station_queue_depth``                   gauge      CALLs queued, the one in flight included
``ocpp_station_connector_status``              gauge      ``connector``, ``status``: 1 for each
                                                          connector's current status, 0 for the others
``ocpp_station_info``                          gauge      ``charge_point_id``: always 1
=============================================  =========  ==========================================

A CALLRESULT that breaks the schema is counted as the fleet counts it: an outcome with the CALLERROR
code the station gives it (``ocpp_station_messages_total`` counts it as a CALLERROR received). The
histogram's ``_sum`` is the fleet's approximation (each answer at its bucket's middle, ±4.4 %).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from ocpp_station.fleet.metrics import FleetCollector
from ocpp_station.fleet.stats import NO_ANSWER, FleetStats
from ocpp_station.wire.messages import ChargePointStatus, RegistrationStatus

if TYPE_CHECKING:
    from ocpp_station.transport.station import Station

__all__ = ["CONTENT_TYPE_LATEST", "PREFIX", "StationMetrics", "serve_metrics"]

PREFIX = "ocpp_station"
#: The fleet collector's families a station shares (the others are about many stations).
_SHARED = frozenset(
    f"{PREFIX}_{name}"
    for name in (
        "calls_sent",
        "call_outcomes",
        "call_latency_seconds",
        "csms_calls",
        "connects",
        "reconnects",
    )
)
_STATUSES = tuple(str(s) for s in ChargePointStatus)
_REGISTRATIONS = (*(str(s) for s in RegistrationStatus), "Unknown")


class StationMetrics(FleetStats):
    """The statistics of one station (its CallObserver) and its Prometheus registry."""

    __slots__ = ("_opened_before", "_station", "registry")

    def __init__(self) -> None:
        super().__init__()
        self._station: Station | None = None
        self._opened_before = False
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_StationCollector(self))

    def attach(self, station: Station) -> None:
        """The station whose state the gauges read (``Station`` calls it when built with these metrics)."""
        self._station = station

    @property
    def station(self) -> Station | None:
        return self._station

    def link_opened(self) -> None:
        """The station's websocket opened (``Station.link_opened``)."""
        self.connects += 1
        if self._opened_before:
            self.reconnects += 1
        else:
            self._opened_before = True

    def render(self) -> bytes:
        """The Prometheus text exposition, now."""
        return generate_latest(self.registry)


class _StationCollector:
    """Everything at scrape time: the shared families from the fleet's collector over this station's
    snapshot, then the message counts derived from it and the gauges read from the station."""

    def __init__(self, metrics: StationMetrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        snap = self.metrics.snapshot()
        for family in FleetCollector(lambda: snap, PREFIX).collect():
            if family.name in _SHARED:
                yield family
        yield from _messages(snap)
        station = self.metrics.station
        if station is not None:
            yield from _gauges(station)


def _messages(snap: dict[str, Any]) -> Iterator[Metric]:
    """Messages by action, direction and type, and the CALLERRORs by code, from the exchanges: our
    CALLs (sent), their answers (received; Timeout and Lost are none), the CSMS's CALLs (received) and
    our answers to them (sent)."""
    messages = CounterMetricFamily(
        f"{PREFIX}_messages",
        "OCPP messages by action, direction (sent, received) and type (CALL, CALLRESULT, CALLERROR)",
        labels=["action", "direction", "type"],
    )
    errors = CounterMetricFamily(
        f"{PREFIX}_call_errors",
        "CALLERRORs by action and code: received for our CALLs, sent for the CSMS's",
        labels=["action", "code", "direction"],
    )
    for action, n in sorted(snap["sent"].items()):
        messages.add_metric([action, "sent", "CALL"], n)
    for action, n in sorted(snap["answered"].items()):
        messages.add_metric([action, "received", "CALLRESULT"], n)
    for action, codes in sorted(snap["errors"].items()):
        answered = {code: n for code, n in sorted(codes.items()) if code not in NO_ANSWER}
        if answered:
            messages.add_metric([action, "received", "CALLERROR"], sum(answered.values()))
        for code, n in answered.items():
            errors.add_metric([action, code, "received"], n)
    for action, n in sorted(snap["received"].items()):
        refused = snap["receivedErrors"].get(action, {})
        messages.add_metric([action, "received", "CALL"], n)
        if n - sum(refused.values()):
            messages.add_metric([action, "sent", "CALLRESULT"], n - sum(refused.values()))
        if refused:
            messages.add_metric([action, "sent", "CALLERROR"], sum(refused.values()))
        for code, count in sorted(refused.items()):
            errors.add_metric([action, code, "sent"], count)
    yield messages
    yield errors


def _gauges(station: Station) -> Iterator[Metric]:
    view = station.view
    yield GaugeMetricFamily(f"{PREFIX}_connected", "1 while the websocket is up", value=int(view.connected))
    registration = view.registration or "Unknown"
    yield GaugeMetricFamily(
        f"{PREFIX}_booted", "1 once BootNotification is Accepted", value=int(registration == "Accepted")
    )
    states = GaugeMetricFamily(
        f"{PREFIX}_registration",
        "BootNotification status: 1 for the current one (Unknown before any answer)",
        labels=["status"],
    )
    for status in _REGISTRATIONS:
        states.add_metric([status], int(status == registration))
    yield states
    yield GaugeMetricFamily(
        f"{PREFIX}_queue_depth", "CALLs queued, the one in flight included", value=view.queue_length
    )
    connectors = GaugeMetricFamily(
        f"{PREFIX}_connector_status",
        "Each connector's status: 1 for the current one, 0 for the others",
        labels=["connector", "status"],
    )
    for connector_id, current in enumerate(view.connector_statuses(), start=1):
        for status in _STATUSES:
            connectors.add_metric([str(connector_id), status], int(status == current))
    yield connectors
    info = GaugeMetricFamily(f"{PREFIX}_info", "The station's identity", labels=["charge_point_id"])
    info.add_metric([station.config.charge_point_id], 1)
    yield info


async def serve_metrics(request: web.Request, station: Station) -> web.Response:
    """``GET /metrics`` of the control API: 404 for a station built without metrics."""
    metrics = station.metrics
    if metrics is None:
        return web.json_response(
            {"error": "this station keeps no metrics (ocpp-station run --control-port serves them)"},
            status=404,
        )
    response = web.Response(body=metrics.render())
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return response
