"""The station's Prometheus ``/metrics`` over real HTTP: a real station with its metrics against the
development CSMS, a boot, a transaction, a CALLERROR each way and a reconnect, scraped and parsed with
prometheus-client's own parser."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from ocpp_station.control.api import bound_port, start_control_api
from ocpp_station.control.metrics import StationMetrics
from ocpp_station.core.settings import CallObserver
from ocpp_station.fleet.metrics import LATENCY_EDGES
from ocpp_station.sim.csms import CentralSystem
from ocpp_station.transport.station import CallFailed, Station
from tests.stations import StationFactory, station_config

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(base: str) -> tuple[Samples, dict[str, str]]:
    """Every sample of ``/metrics`` by (name, labels), and each family's type."""
    async with aiohttp.ClientSession() as http, http.get(f"{base}/metrics") as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=")
        text = await response.text()
    samples: Samples = {}
    types: dict[str, str] = {}
    for family in text_string_to_metric_families(text):
        types[family.name] = family.type
        for sample in family.samples:
            key = (sample.name, frozenset(sample.labels.items()))
            assert key not in samples, f"{key} twice"
            samples[key] = sample.value
    return samples, types


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
async def metered(csms: CentralSystem, start_station: StationFactory) -> AsyncIterator[tuple[str, Station]]:
    station = await start_station(station_config(csms.url, connectors={"count": 2}), metrics=StationMetrics())
    runner = await start_control_api(station, "127.0.0.1", 0)
    yield f"http://127.0.0.1:{bound_port(runner)}", station
    await runner.cleanup()


async def test_boot_transaction_errors_and_reconnect(
    metered: tuple[str, Station], csms: CentralSystem
) -> None:
    base, station = metered
    assert station.metrics is not None
    await station.wait_for(lambda s: s["queue"] == 0)
    samples, types = await scrape(base)
    p = "ocpp_station"
    # The boot: one CALL each way of the exchange, answered, its latency in the fleet's buckets.
    assert (
        value(samples, f"{p}_messages_total", action="BootNotification", direction="sent", type="CALL") == 1
    )
    assert (
        value(
            samples, f"{p}_messages_total", action="BootNotification", direction="received", type="CALLRESULT"
        )
        == 1
    )
    assert value(samples, f"{p}_calls_sent_total", action="BootNotification") == 1
    assert value(samples, f"{p}_call_outcomes_total", action="BootNotification", outcome="CALLRESULT") == 1
    assert value(samples, f"{p}_call_latency_seconds_count", action="BootNotification") == 1
    assert types[f"{p}_call_latency_seconds"] == "histogram"
    edges = [
        float(dict(labels)["le"])
        for (name, labels) in samples
        if name == f"{p}_call_latency_seconds_bucket" and dict(labels)["action"] == "BootNotification"
    ]
    assert sorted(edges)[:-1] == pytest.approx(list(LATENCY_EDGES), rel=1e-5) and max(edges) == float("inf")
    assert value(samples, f"{p}_connects_total") == 1 and value(samples, f"{p}_reconnects_total") == 0
    assert value(samples, f"{p}_connected") == 1 and value(samples, f"{p}_booted") == 1
    assert value(samples, f"{p}_registration", status="Accepted") == 1
    assert value(samples, f"{p}_registration", status="Pending") == 0
    assert value(samples, f"{p}_registration", status="Unknown") == 0
    assert value(samples, f"{p}_queue_depth") == 0
    assert value(samples, f"{p}_info", charge_point_id="CP_1") == 1
    for connector in ("1", "2"):
        assert value(samples, f"{p}_connector_status", connector=connector, status="Available") == 1
        assert (
            sum(
                v
                for (n, labels), v in samples.items()
                if n == f"{p}_connector_status" and ("connector", connector) in labels
            )
            == 1
        )

    # A transaction: the connector's one-hot status follows it.
    station.plug(1)
    station.present_id_tag("CARD", 1)
    await station.wait_for(lambda s: s["connectors"][1]["status"] == "Charging" and s["queue"] == 0)
    samples, _ = await scrape(base)
    assert value(samples, f"{p}_connector_status", connector="1", status="Charging") == 1
    assert value(samples, f"{p}_connector_status", connector="1", status="Available") == 0
    assert value(samples, f"{p}_connector_status", connector="2", status="Available") == 1
    station.present_id_tag("CARD", 1)
    station.unplug(1)
    await station.wait_for(lambda s: s["connectors"][1]["status"] == "Available" and s["queue"] == 0)

    # A CALLERROR from the CSMS: it handles no DataTransfer now (NotSupported).
    del csms.handlers["DataTransfer"]
    with pytest.raises(CallFailed) as failed:
        await station.call("DataTransfer", {"vendorId": "org.example"}, timeout=5)
    assert failed.value.code == "NotSupported"
    # A CALLERROR of ours: a Reset whose type is no ResetType.
    await csms.send_raw("CP_1", '[2,"bad-reset-1","Reset",{"type":"Sideways"}]')
    refused = await csms.wait_for(lambda e: e.message_id == "bad-reset-1" and e.kind == "CALLERROR")
    code = refused.payload["errorCode"]

    # A reconnect through the control API.
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{base}/network/disconnect") as response:
            assert response.status == 200
        await station.wait_for(lambda s: not s["connected"])
        samples, _ = await scrape(base)
        assert value(samples, f"{p}_connected") == 0
        async with http.post(f"{base}/network/connect") as response:
            assert response.status == 200
    await station.wait_for(lambda s: s["connected"] and s["queue"] == 0)

    samples, _ = await scrape(base)
    for action in ("StartTransaction", "StopTransaction"):
        assert value(samples, f"{p}_messages_total", action=action, direction="sent", type="CALL") == 1
        assert (
            value(samples, f"{p}_messages_total", action=action, direction="received", type="CALLRESULT") == 1
        )
        assert value(samples, f"{p}_call_latency_seconds_count", action=action) == 1
        assert value(samples, f"{p}_call_latency_seconds_bucket", action=action, le="+Inf") == 1
        assert value(samples, f"{p}_call_latency_seconds_sum", action=action) > 0
    assert (
        value(samples, f"{p}_messages_total", action="StatusNotification", direction="sent", type="CALL") >= 6
    )
    assert (
        value(samples, f"{p}_messages_total", action="DataTransfer", direction="received", type="CALLERROR")
        == 1
    )
    assert (
        value(
            samples,
            f"{p}_call_errors_total",
            action="DataTransfer",
            code="NotSupported",
            direction="received",
        )
        == 1
    )
    assert value(samples, f"{p}_call_outcomes_total", action="DataTransfer", outcome="NotSupported") == 1
    assert value(samples, f"{p}_messages_total", action="Reset", direction="received", type="CALL") == 1
    assert value(samples, f"{p}_messages_total", action="Reset", direction="sent", type="CALLERROR") == 1
    assert value(samples, f"{p}_messages_total", action="Reset", direction="sent", type="CALLRESULT") == 0
    assert value(samples, f"{p}_call_errors_total", action="Reset", code=code, direction="sent") == 1
    assert value(samples, f"{p}_csms_calls_total", action="Reset", outcome=code) == 1
    assert value(samples, f"{p}_connects_total") == 2 and value(samples, f"{p}_reconnects_total") == 1
    assert value(samples, f"{p}_connected") == 1
    # Every family is the station's: none of the fleet's gauges about many stations.
    assert all(name.startswith(f"{p}_") for name in types)
    assert not {f"{p}_stations", f"{p}_charging", f"{p}_faulted"} & set(types)


async def test_a_station_without_metrics_pays_nothing_and_serves_none(
    csms: CentralSystem, start_station: StationFactory
) -> None:
    station = await start_station(station_config(csms.url))
    assert station.metrics is None and "metrics" not in vars(station)  # the class's default
    runner = await start_control_api(station, "127.0.0.1", 0)
    try:
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"http://127.0.0.1:{bound_port(runner)}/metrics") as response,
        ):
            assert response.status == 404
            body: dict[str, Any] = await response.json()
            assert "no metrics" in body["error"]
    finally:
        await runner.cleanup()


def test_metrics_are_the_call_observer_and_their_own_registry() -> None:
    """Given both, the station refuses: the metrics are its observer. Each has its own registry."""
    first, second = StationMetrics(), StationMetrics()
    assert first.registry is not second.registry
    observer: CallObserver = first
    observer.sent("Heartbeat")
    assert b'ocpp_station_calls_sent_total{action="Heartbeat"} 1.0' in first.render()
    assert b"Heartbeat" not in second.render()
    with pytest.raises(ValueError, match="not both"):
        Station(station_config("ws://127.0.0.1:9/"), metrics=first, call_observer=second)
