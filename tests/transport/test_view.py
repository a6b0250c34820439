"""The read-only view of the engine the shell reads (``transport/view.py``, issue 9 §5)."""

from __future__ import annotations

import copy

from ocpp_station.core.events import CablePlugged, IdTagPresented
from ocpp_station.transport.view import EngineView
from tests.core.harness import Harness, Unanswered


def test_the_view_reads_the_engine_and_changes_nothing() -> None:
    h = Harness()
    view = EngineView(h.engine)
    assert view.connected is True
    assert view.registration == "Accepted"
    assert view.ping_interval_s == h.engine.config.get_int("WebSocketPingInterval")
    config = view.readable_config()
    assert config["HeartbeatInterval"] == "300"
    assert all(key.name in config for key, _ in h.engine.config.items() if key.access != "W")
    before = copy.deepcopy(h.engine.snapshot())
    for _ in range(3):
        view.snapshot()
        view.queue_summary()
        view.readable_config()
    assert h.engine.snapshot() == before
    snapshot = view.snapshot()
    snapshot["extra"] = 1  # a fresh dict: the caller may add to it
    assert "extra" not in view.snapshot()


def test_the_queue_summary_counts_by_action_and_names_the_call_in_flight() -> None:
    h = Harness()
    h.responders["StartTransaction"] = lambda p: Unanswered()
    h.feed(CablePlugged(1))
    h.feed(IdTagPresented("TAG"))
    summary = EngineView(h.engine).queue_summary()
    assert summary["inFlight"] == "StartTransaction"
    assert summary["queued"] == sum(summary["byAction"].values())
    assert summary["connected"] is True and summary["registration"] == "Accepted"
    assert EngineView(h.engine).meter_energy_wh(1) >= 0
