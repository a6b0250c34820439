"""The OCPP clock follows the CSMS (§4.2, §4.6); the first sync corrects what was stamped before it."""

from __future__ import annotations

from ocpp_station.core.clock import format_datetime, parse_datetime
from ocpp_station.core.events import CablePlugged, Connected, IdTagPresented
from tests.core.harness import Harness


def test_first_sync_shifts_unsent_timestamps_of_an_offline_start() -> None:
    h = Harness(connect=False, config={"AllowOfflineTxForUnknownId": "true"})
    h.feed(CablePlugged(1))
    h.feed(IdTagPresented("TAG"))  # offline: started at once, StartTransaction queued
    skew = -3600.0
    h.responders["BootNotification"] = lambda p: {
        "status": "Accepted",
        "currentTime": format_datetime(h.now + skew),
        "interval": 300,
    }
    h.feed(Connected())
    start = h.sent("StartTransaction")[0]
    assert parse_datetime(start["timestamp"]) == h.now + skew
    h.feed(IdTagPresented("TAG"))
    stop = h.sent("StopTransaction")[0]
    assert parse_datetime(stop["timestamp"]) >= parse_datetime(start["timestamp"])


def test_clock_offset_is_stored() -> None:
    h = Harness()
    from ocpp_station.core.effects import Persist

    assert (
        any(isinstance(e, Persist) and e.kind == "station" and e.key == "clock" for e in h.effects) is False
    )
    h.responders["Heartbeat"] = lambda p: {"currentTime": format_datetime(h.now + 120)}
    h.advance(301)
    stored = [e for e in h.effects if isinstance(e, Persist) and e.kind == "station" and e.key == "clock"]
    assert stored and abs(stored[-1].value["offsetS"] - 120) < 1  # type: ignore[index]
