"""Durability over a real network: a real Station against the development CSMS, through a TCP proxy
that cuts, truncates and blackholes connections (OCPP 1.6 §3.7 transaction-related messages, §4.7,
§9.1.31/§9.1.32; issue #3). Rate and queue rules are checked on the engine with the fake clock.

What "delivered in order, once" means here: the transaction messages the CSMS received, with a
message repeated back to back counted once (the resend of the CALL in flight when the link went
down, OCPP-J 1.6 §4.1.1), are exactly the distinct transaction messages the station sent, in the
order it first sent them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from ocpp_station.core.clock import parse_datetime
from ocpp_station.core.events import (
    CablePlugged,
    FaultCleared,
    FaultRaised,
    IdTagPresented,
    MeterRead,
    MeterReading,
    TimerDue,
)
from ocpp_station.core.settings import ConnectorSpec, EngineSettings
from ocpp_station.sim.csms import CentralSystem, LogEntry
from ocpp_station.transport.station import Station
from ocpp_station.wire import schemas
from ocpp_station.wire.errors import ErrorCode, OcppError
from ocpp_station.wire.messages import StatusNotificationRequest
from tests.core.harness import Harness, charging
from tests.durability.tcp_proxy import TcpProxy
from tests.stations import StationFactory, station_config

TX_ACTIONS = ("StartTransaction", "MeterValues", "StopTransaction")
CP = "CP_1"

Key = tuple[str, bytes]


# -- helpers ------------------------------------------------------------------------------------------


@pytest.fixture
async def proxy(csms: CentralSystem) -> AsyncIterator[TcpProxy]:
    async with TcpProxy(csms.port) as relay:
        yield relay


class FrameLog:
    """The station's outgoing frames (Station(frame_logger=...))."""

    def __init__(self) -> None:
        self.sent: list[list[Any]] = []

    def __call__(self, cp_id: str, outgoing: bool, data: bytes | str) -> None:
        if outgoing:
            self.sent.append(orjson.loads(data))

    def tx_keys(self) -> list[Key]:
        """Distinct transaction messages in the order they were first sent."""
        keys = [key(frame[2], frame[3]) for frame in self.sent if frame[0] == 2 and frame[2] in TX_ACTIONS]
        return list(dict.fromkeys(keys))


def key(action: str, payload: dict[str, Any]) -> Key:
    return action, orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)


def called(action: str) -> Callable[[LogEntry], bool]:
    return lambda e: e.direction == "in" and e.kind == "CALL" and e.action == action


def tx_calls(log: list[LogEntry]) -> list[LogEntry]:
    return [e for e in log if e.direction == "in" and e.kind == "CALL" and e.action in TX_ACTIONS]


def collapse(keys: list[Key]) -> tuple[list[Key], int]:
    """Back-to-back repeats removed; returns the rest and how many were removed."""
    out: list[Key] = []
    for k in keys:
        if not out or out[-1] != k:
            out.append(k)
    return out, len(keys) - len(out)


def assert_delivered_in_order(received: list[LogEntry], frames: FrameLog, *, max_resends: int) -> None:
    keys = [key(e.action or "", e.payload) for e in tx_calls(received)]
    delivered, resends = collapse(keys)
    assert delivered == frames.tx_keys()
    assert len(set(delivered)) == len(delivered), (
        "a transaction message was delivered twice, not back to back"
    )
    assert resends <= max_resends


def sample_call(e: LogEntry) -> bool:
    """A periodic MeterValues.req received by the CSMS."""
    return e.direction == "in" and e.kind == "CALL" and is_sample(e.action, e.payload)


def periodic(entries: list[LogEntry]) -> list[LogEntry]:
    return [e for e in entries if sample_call(e)]


def stamps(entries: list[LogEntry]) -> list[float]:
    return [parse_datetime(e.payload["meterValue"][0]["timestamp"]) for e in entries]


async def start_charging(station: Station, id_tag: str = "CARD1") -> int:
    station.plug(1)
    station.present_id_tag(id_tag)
    state = await station.wait_for(lambda s: s["connectors"][1]["transactionId"] is not None)
    transaction_id: int = state["connectors"][1]["transactionId"]
    return transaction_id


async def stop_by_card(station: Station, id_tag: str = "CARD1") -> None:
    station.present_id_tag(id_tag)
    await station.wait_for(lambda s: s["connectors"][1]["idTag"] is None)


async def go_offline(station: Station) -> None:
    station.network_disconnect()
    await station.wait_for(lambda s: not s["connected"])


def is_sample(action: str | None, payload: dict[str, Any]) -> bool:
    return (
        action == "MeterValues"
        and payload["meterValue"][0]["sampledValue"][0]["context"] == "Sample.Periodic"
    )


async def queued_samples(station: Station, count: int) -> None:
    """Wait until ``count`` periodic MeterValues wait in the station's queue (taken while offline)."""

    def enough(state: dict[str, Any]) -> bool:
        outbox = station.engine.outbox
        return sum(is_sample(call.action, schemas.to_builtins(call.payload)) for call in outbox) >= count

    await station.wait_for(enough)


async def crash(station: Station, task: asyncio.Task[None]) -> None:
    """Kill a running station without stop(): no ShutdownRequested, no clean-shutdown mark, no close
    handshake. The run task is cancelled, the armed engine timer dropped, the store closed."""
    station.cancel_alarm()  # the engine's next deadline: a dead station has none
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    station.close()


FAST = {"MeterValueSampleInterval": 1}


# -- (a) network cut via the control API ------------------------------------------------------------


async def test_network_cut_mid_session_delivers_offline_messages_after_reconnect(
    csms: CentralSystem, proxy: TcpProxy, start_station: StationFactory
) -> None:
    frames = FrameLog()
    station = await start_station(station_config(proxy.url(), ocpp=FAST), frame_logger=frames)
    transaction_id = await start_charging(station)
    await csms.wait_for(
        lambda e: called("MeterValues")(e) and e.payload.get("transactionId") == transaction_id
    )
    await go_offline(station)
    offline_from = len(csms.log)
    await queued_samples(station, 3)  # every second, while offline
    await stop_by_card(station)
    queued_offline = station.state()["queue"]
    mark = len(csms.log)
    assert mark == offline_from  # nothing reached the CSMS while offline

    station.network_connect()
    stop = await csms.wait_for(called("StopTransaction"), since=mark)
    await station.wait_for(lambda s: s["queue"] == 0)

    after = csms.log[mark:]
    replayed = tx_calls(after)
    assert len(replayed) >= queued_offline - 1  # everything queued, maybe bar one status notification
    assert [e.action for e in replayed][-1] == "StopTransaction"
    assert all(e.payload["transactionId"] == transaction_id for e in replayed)
    assert stop.payload["transactionId"] == transaction_id and stop.payload["reason"] == "Local"
    seen_online = {key(e.action or "", e.payload) for e in tx_calls(csms.log[:mark])}
    offline_samples = [e for e in periodic(after) if key("MeterValues", e.payload) not in seen_online]
    assert len(offline_samples) >= 2  # (of the 3 waited for, one may be the CALL in flight at the cut)
    times = stamps(offline_samples)
    assert times == sorted(times) and len(set(times)) == len(times)
    assert stamps(offline_samples)[-1] <= parse_datetime(stop.payload["timestamp"])
    # Generated offline: delivered exactly once. Overall: in order, at most the one in flight resent.
    offline_keys = [key("MeterValues", e.payload) for e in offline_samples]
    all_keys = [key(e.action or "", e.payload) for e in tx_calls(csms.log)]
    assert all(all_keys.count(k) == 1 for k in offline_keys)
    assert all_keys.count(key("StopTransaction", stop.payload)) == 1
    assert_delivered_in_order(csms.log, frames, max_resends=1)
    recorded = csms.stations[CP].transactions[transaction_id]
    assert recorded.reason == "Local" and recorded.meter_stop == stop.payload["meterStop"]


# -- (b) the link cut in the middle of a frame, several times ---------------------------------------


async def test_connection_cut_mid_frame_loses_and_duplicates_nothing(
    csms: CentralSystem, proxy: TcpProxy, start_station: StationFactory
) -> None:
    frames = FrameLog()
    station = await start_station(station_config(proxy.url(), ocpp=FAST), frame_logger=frames)
    transaction_id = await start_charging(station)
    cuts = (3, 9, 40)  # inside the frame header, the masking key, the payload
    for number, first_bytes in enumerate(cuts, start=1):
        await station.wait_for(lambda s: s["connected"])
        proxy.cut_mid_frame(first_bytes)
        async with asyncio.timeout(10):
            while len(proxy.mid_frame_cuts) < number:
                await asyncio.sleep(0.02)
        await proxy.wait_connections(number + 1)
    await station.wait_for(lambda s: s["connected"])
    await csms.wait_for(sample_call, since=len(csms.log))
    await stop_by_card(station)
    await csms.wait_for(called("StopTransaction"))
    await station.wait_for(lambda s: s["queue"] == 0)

    assert [len(cut) for cut in proxy.mid_frame_cuts] == list(cuts)
    assert proxy.connections >= len(cuts) + 1
    assert_delivered_in_order(csms.log, frames, max_resends=len(cuts))
    entries = tx_calls(csms.log)
    assert all(e.payload.get("transactionId", transaction_id) == transaction_id for e in entries)
    assert [e.action for e in entries].count("StartTransaction") == 1
    times = stamps(periodic(csms.log))
    assert times == sorted(times)


async def test_blackholed_link_is_replaced_and_the_swallowed_message_resent(
    csms: CentralSystem, proxy: TcpProxy, start_station: StationFactory
) -> None:
    """A dead link that stays open (NAT timeout): WebSocketPingInterval finds it; the CALL swallowed
    by it is sent again on the new connection."""
    frames = FrameLog()
    config = station_config(proxy.url(), ocpp={**FAST, "WebSocketPingInterval": 1})
    station = await start_station(config, frame_logger=frames)
    await start_charging(station)
    await csms.wait_for(called("MeterValues"))
    proxy.blackhole()
    await station.wait_for(lambda s: not s["connected"])
    await station.wait_for(lambda s: s["connected"])
    await stop_by_card(station)
    await csms.wait_for(called("StopTransaction"))
    await station.wait_for(lambda s: s["queue"] == 0)
    assert proxy.connections >= 2
    assert_delivered_in_order(csms.log, frames, max_resends=1)


async def test_connections_cut_by_the_network_lose_nothing(
    csms: CentralSystem, proxy: TcpProxy, start_station: StationFactory
) -> None:
    """Both sides of the TCP connection closed under the station, twice, while it charges."""
    frames = FrameLog()
    station = await start_station(station_config(proxy.url(), ocpp=FAST), frame_logger=frames)
    transaction_id = await start_charging(station)
    for number in (2, 3):
        await csms.wait_for(sample_call, since=len(csms.log))
        proxy.cut_all()
        await proxy.wait_connections(number)
        await station.wait_for(lambda s: s["connected"])
    await csms.wait_for(sample_call, since=len(csms.log))
    await stop_by_card(station)
    stop = await csms.wait_for(called("StopTransaction"))
    await station.wait_for(lambda s: s["queue"] == 0)
    assert stop.payload["transactionId"] == transaction_id
    assert_delivered_in_order(csms.log, frames, max_resends=2)


async def test_proxy_stops_by_itself_after_its_lifetime() -> None:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(1024):
            writer.write(data)
        writer.close()

    upstream = await asyncio.start_server(echo, "127.0.0.1", 0)
    async with upstream:
        proxy = TcpProxy(upstream.sockets[0].getsockname()[1], lifetime_s=0.3)
        await proxy.start()
        port = proxy.port
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"ping")
        assert await reader.read(4) == b"ping"
        assert proxy.connections == 1 and proxy.open_connections == 1
        assert await asyncio.wait_for(reader.read(), 5) == b""  # closed when the lifetime ends
        assert proxy.open_connections == 0
        with pytest.raises(OSError):
            await asyncio.open_connection("127.0.0.1", port)
        writer.close()
        await proxy.stop()  # again: harmless


# -- (c) the CSMS restarts mid-session ---------------------------------------------------------------


async def test_csms_restart_mid_session_delivery_continues(start_station: StationFactory) -> None:
    first = CentralSystem(port=0)
    await first.start()
    port = first.port
    second = CentralSystem(port=port)
    frames = FrameLog()
    try:
        station = await start_station(station_config(first.url, ocpp=FAST), frame_logger=frames)
        transaction_id = await start_charging(station)
        await first.wait_for(called("MeterValues"))
        await first.stop()
        await station.wait_for(lambda s: not s["connected"])
        await queued_samples(station, 2)
        await second.start()
        await station.wait_for(lambda s: s["connected"])
        await second.wait_for(called("MeterValues"))
        await stop_by_card(station)
        stop = await second.wait_for(called("StopTransaction"))
        await station.wait_for(lambda s: s["queue"] == 0)
    finally:
        await first.stop()
        await second.stop()

    assert stop.payload["transactionId"] == transaction_id
    assert all(e.payload["transactionId"] == transaction_id for e in tx_calls(second.log))
    assert "BootNotification" not in [e.action for e in second.log]  # still Accepted: just reconnected
    assert_delivered_in_order(first.log + second.log, frames, max_resends=1)
    times = stamps(periodic(first.log + second.log))
    assert times == sorted(times)
    assert second.stations[CP].transactions[transaction_id].reason == "Local"  # known from the stop alone


# -- (d) CALLERROR answers to transaction messages ---------------------------------------------------


def failing(times: int, then: Callable[[str, dict[str, Any]], Any]) -> Callable[[str, dict[str, Any]], Any]:
    """A CSMS handler that answers InternalError ``times`` times, then like ``then``."""
    left = [times]

    def handler(cp_id: str, payload: dict[str, Any]) -> Any:
        if left[0] > 0:
            left[0] -= 1
            raise OcppError(ErrorCode.InternalError, "database down")
        return then(cp_id, payload)

    return handler


def answers(log: list[LogEntry], action: str) -> list[str]:
    return [e.kind for e in log if e.direction == "out" and e.action == action and e.kind != "CALL"]


async def test_callerror_to_start_and_stop_is_retried_until_accepted(
    csms: CentralSystem, start_station: StationFactory
) -> None:
    attempts = 3
    config = station_config(
        csms.url, ocpp={"TransactionMessageAttempts": attempts, "TransactionMessageRetryInterval": 1}
    )
    station = await start_station(config)
    csms.handlers["StartTransaction"] = failing(attempts - 1, csms.handlers["StartTransaction"])
    csms.handlers["StopTransaction"] = failing(attempts - 1, csms.handlers["StopTransaction"])
    transaction_id = await start_charging(station)
    assert answers(csms.log, "StartTransaction") == ["CALLERROR", "CALLERROR", "CALLRESULT"]
    starts = [e.payload for e in csms.log if called("StartTransaction")(e)]
    assert len(starts) == attempts and all(p == starts[0] for p in starts)  # the same message again
    await stop_by_card(station)
    await csms.wait_for(lambda e: e.action == "StopTransaction" and e.kind == "CALLRESULT")
    await station.wait_for(lambda s: s["queue"] == 0)
    assert answers(csms.log, "StopTransaction") == ["CALLERROR", "CALLERROR", "CALLRESULT"]
    stops = [e.payload for e in csms.log if called("StopTransaction")(e)]
    assert len(stops) == attempts and all(p == stops[0] for p in stops)
    assert stops[0]["transactionId"] == transaction_id
    # The Transaction.Begin MeterValues waited behind the retried StartTransaction (§3.7 order).
    actions = [e.action for e in tx_calls(csms.log)]
    assert (
        actions == ["StartTransaction"] * 3 + ["MeterValues"] * (len(actions) - 6) + ["StopTransaction"] * 3
    )
    assert all(
        e.payload["transactionId"] == transaction_id for e in tx_calls(csms.log) if e.action == "MeterValues"
    )


async def test_transaction_messages_dropped_after_the_last_attempt_then_the_next_transaction_works(
    csms: CentralSystem, start_station: StationFactory
) -> None:
    attempts = 2
    config = station_config(
        csms.url, ocpp={"TransactionMessageAttempts": attempts, "TransactionMessageRetryInterval": 1}
    )
    station = await start_station(config)
    start_ok, stop_ok = csms.handlers["StartTransaction"], csms.handlers["StopTransaction"]
    csms.handlers["StartTransaction"] = failing(attempts, start_ok)
    station.plug(1)
    station.present_id_tag("CARD1")
    # Dropped after TransactionMessageAttempts: the transaction goes on with transactionId -1
    # (errata 3.18), its other messages are not blocked.
    await station.wait_for(lambda s: s["connectors"][1]["transactionId"] == -1)
    assert answers(csms.log, "StartTransaction") == ["CALLERROR"] * attempts
    csms.handlers["StopTransaction"] = failing(attempts, stop_ok)
    await stop_by_card(station)
    await csms.wait_for(lambda e: e.action == "StopTransaction" and e.kind == "CALLERROR", since=0)
    await station.wait_for(lambda s: s["queue"] == 0)
    assert answers(csms.log, "StopTransaction") == ["CALLERROR"] * attempts
    assert all(e.payload["transactionId"] == -1 for e in tx_calls(csms.log) if e.action != "StartTransaction")

    # The station carries on: the next transaction is a normal one.
    csms.handlers["StartTransaction"], csms.handlers["StopTransaction"] = start_ok, stop_ok
    station.unplug(1)
    await station.wait_for(lambda s: s["connectors"][1]["status"] == "Available")
    mark = len(csms.log)
    transaction_id = await start_charging(station, "CARD2")
    assert transaction_id > 0
    await stop_by_card(station, "CARD2")
    stop = await csms.wait_for(lambda e: e.action == "StopTransaction" and e.kind == "CALLRESULT", since=mark)
    assert stop.message_id == next(e.message_id for e in csms.log[mark:] if called("StopTransaction")(e))
    assert csms.stations[CP].transactions[transaction_id].reason == "Local"
    await station.wait_for(lambda s: s["queue"] == 0)


# -- (e) a transaction started offline ---------------------------------------------------------------


@pytest.mark.parametrize("authorized_by", ["AllowOfflineTxForUnknownId", "LocalAuthorizeOffline"])
async def test_offline_started_transaction_reports_the_csms_transaction_id(
    csms: CentralSystem, proxy: TcpProxy, start_station: StationFactory, authorized_by: str
) -> None:
    ocpp: dict[str, Any] = dict(FAST)
    if authorized_by == "AllowOfflineTxForUnknownId":
        ocpp |= {"AllowOfflineTxForUnknownId": True, "LocalAuthorizeOffline": False}
    else:
        ocpp |= {
            "AllowOfflineTxForUnknownId": False,
            "LocalAuthorizeOffline": True,
            "AuthorizationCacheEnabled": True,
        }
    frames = FrameLog()
    station = await start_station(station_config(proxy.url(), ocpp=ocpp), frame_logger=frames)
    next_id = iter(range(7001, 7100))  # far from any local id
    csms.handlers["StartTransaction"] = lambda cp, p: {
        "transactionId": next(next_id),
        "idTagInfo": {"status": "Accepted"},
    }
    if authorized_by == "LocalAuthorizeOffline":  # the tag gets into the Authorization Cache online
        await start_charging(station, "CACHED")
        await stop_by_card(station, "CACHED")
        station.unplug(1)
        await station.wait_for(lambda s: s["queue"] == 0 and s["connectors"][1]["status"] == "Available")
    tag = "CACHED" if authorized_by == "LocalAuthorizeOffline" else "UNKNOWN"
    mark = len(csms.log)

    await go_offline(station)
    station.plug(1)
    station.present_id_tag(tag)
    await station.wait_for(lambda s: s["connectors"][1]["status"] == "Charging")
    assert station.state()["connectors"][1]["idTag"] == tag
    await queued_samples(station, 2)
    stop_offline = authorized_by == "LocalAuthorizeOffline"
    if stop_offline:
        await stop_by_card(station, tag)
    station.network_connect()
    start = await csms.wait_for(called("StartTransaction"), since=mark)
    answer = await csms.wait_for(
        lambda e: e.action == "StartTransaction" and e.kind == "CALLRESULT", since=mark
    )
    transaction_id = answer.payload["transactionId"]
    assert start.payload["idTag"] == tag and transaction_id >= 7001
    if not stop_offline:
        await station.wait_for(lambda s: s["connectors"][1]["transactionId"] == transaction_id)
        await csms.wait_for(sample_call, since=len(csms.log))
        await stop_by_card(station, tag)
    stop = await csms.wait_for(called("StopTransaction"), since=mark)
    await station.wait_for(lambda s: s["queue"] == 0)

    session = tx_calls(csms.log[mark:])
    assert session[0] is start and session[-1] is stop
    later = session[1:]
    assert len([e for e in later if e.action == "MeterValues"]) >= 3
    assert {e.payload["transactionId"] for e in later} == {transaction_id}  # never -1, never ours
    assert_delivered_in_order(csms.log, frames, max_resends=1)


# -- (f) a crash while a StopTransaction waits offline -------------------------------------------------


async def test_crash_with_queued_stop_transaction_replays_after_boot(
    csms: CentralSystem, tmp_path: Path
) -> None:
    config = station_config(csms.url, ocpp=FAST, dataDir=str(tmp_path / "data"))
    station = Station(config)
    task = asyncio.create_task(station.run())
    try:
        await station.wait_for(lambda s: s["registration"] == "Accepted")
        transaction_id = await start_charging(station)
        await go_offline(station)
        await queued_samples(station, 2)
        await stop_by_card(station)
        waiting = station.state()["queue"]
    finally:
        await crash(station, task)
    mark = len(csms.log)

    again = Station(config)
    task = asyncio.create_task(again.run())
    try:
        await again.wait_for(lambda s: s["queue"] == 0 and s["registration"] == "Accepted")
        stop = await csms.wait_for(called("StopTransaction"), since=mark)
    finally:
        await again.stop()
        await asyncio.wait_for(task, 5)
        again.close()

    after = [e for e in csms.log[mark:] if e.direction == "in" and e.kind == "CALL"]
    assert after[0].action == "BootNotification"
    accepted_at = next(
        i for i, e in enumerate(csms.log[mark:]) if e.action == "BootNotification" and e.kind == "CALLRESULT"
    )
    replay = tx_calls(csms.log[mark:])
    assert all(csms.log.index(e) > mark + accepted_at for e in replay)  # not before Accepted (§4.2)
    assert len(replay) >= waiting - 1  # (the queue also held the Finishing status notification)
    assert replay[-1] is stop and stop.payload["reason"] == "Local"
    assert all(e.payload["transactionId"] == transaction_id for e in replay)
    times = stamps(periodic(replay))
    assert len(times) >= 2 and times == sorted(times)
    assert len({key(e.action or "", e.payload) for e in replay}) == len(replay)


async def test_crash_while_charging_stops_the_transaction_with_power_loss(
    csms: CentralSystem, tmp_path: Path
) -> None:
    config = station_config(csms.url, ocpp=FAST, dataDir=str(tmp_path / "data"))
    station = Station(config)
    task = asyncio.create_task(station.run())
    try:
        await station.wait_for(lambda s: s["registration"] == "Accepted")
        transaction_id = await start_charging(station)
        sample = await csms.wait_for(sample_call)
        await go_offline(station)  # the last samples are stored but never reach the CSMS
        await queued_samples(station, 2)  # (one of them may be the CALL in flight at the cut)
    finally:
        await crash(station, task)
    mark = len(csms.log)

    again = Station(config)  # the simulated EV is gone after the power cycle
    task = asyncio.create_task(again.run())
    try:
        stop = await csms.wait_for(called("StopTransaction"), since=mark)
        await again.wait_for(lambda s: s["queue"] == 0)
    finally:
        await again.stop()
        await asyncio.wait_for(task, 5)
        again.close()

    assert stop.payload["transactionId"] == transaction_id and stop.payload["reason"] == "PowerLoss"
    replayed = periodic(csms.log[mark:])
    assert replayed, "the samples taken offline before the crash are delivered"
    last_register = float(replayed[-1].payload["meterValue"][0]["sampledValue"][0]["value"])
    assert stop.payload["meterStop"] == round(last_register)  # the last stored meter value
    assert parse_datetime(stop.payload["timestamp"]) == stamps(replayed)[-1]
    assert stamps(replayed)[-1] > stamps([sample])[0]  # taken offline, delivered after the restart


# -- (g) throttled replay (engine, fake clock) ---------------------------------------------------------


def advance_bounded(h: Harness, seconds: float, max_steps: int = 1000) -> None:
    """Harness.advance that fails instead of spinning when a deadline keeps firing at the same time."""
    end = h.now + seconds
    for _ in range(max_steps):
        deadline = h.engine.next_deadline()
        if deadline is None or deadline > end:
            h.now = end
            return
        h.now = max(h.now, deadline)
        h.feed(TimerDue())
    raise AssertionError(f"more than {max_steps} timer steps in {seconds} s (stuck at {h.now})")


def test_replay_after_reconnect_is_throttled() -> None:
    rate, burst = 5.0, 10
    h = Harness(
        EngineSettings(replay_rate_per_s=rate, replay_burst=burst),
        config={"MeterValueSampleInterval": "10"},
    )
    charging(h)
    h.disconnect()
    h.advance(300)  # 30 samples
    queued_samples = [
        schemas.to_builtins(call.payload)["meterValue"][0]["timestamp"] for call in h.engine.outbox
    ]
    assert len(queued_samples) == 30
    sent_at: list[tuple[float, str]] = []

    def record(payload: dict[str, Any]) -> dict[str, Any]:
        sent_at.append((h.now, payload["meterValue"][0]["timestamp"]))
        return {}

    h.responders["MeterValues"] = record
    reconnected = h.now
    h.reconnect()
    assert len(sent_at) == burst  # the burst at once
    advance_bounded(h, 10)
    replayed = [stamp for _, stamp in sent_at[:30]]
    assert replayed == queued_samples  # in order
    times = [at - reconnected for at, _ in sent_at[:30]]
    for index, offset in enumerate(times):
        expected = max(0.0, (index + 1 - burst) / rate)
        assert offset == pytest.approx(expected, abs=1e-3), (index, offset)
    assert times[-1] >= (30 - burst) / rate - 1e-3
    # A new sample after the backlog is not throttled (nothing left to replay).
    assert len(sent_at) == 31 and sent_at[-1][0] - reconnected == pytest.approx(10.0)


def test_replay_without_rate_limit_goes_out_at_once() -> None:
    h = Harness(EngineSettings(replay_rate_per_s=0), config={"MeterValueSampleInterval": "10"})
    charging(h)
    h.disconnect()
    h.advance(300)
    mark = h.mark()
    h.reconnect()
    assert h.actions(mark) == ["MeterValues"] * 30


# -- (h) what is queued offline, and the queue cap (engine) ---------------------------------------------


TWO = EngineSettings(connectors=(ConnectorSpec(), ConnectorSpec()))


def test_offline_status_notifications_collapse_to_the_latest_per_connector() -> None:
    h = Harness(TWO, config={"ConnectionTimeOut": "30"})
    h.disconnect()
    h.feed(CablePlugged(1))  # Preparing
    h.advance(31)  # ConnectionTimeOut: Finishing
    h.feed(FaultRaised(2, "GroundFailure"))
    h.feed(FaultCleared(2))
    h.feed(FaultRaised(2, "HighTemperature"))
    statuses = [call.payload for call in h.engine.outbox if call.action == "StatusNotification"]
    assert all(isinstance(p, StatusNotificationRequest) for p in statuses)
    assert [(p.connector_id, p.status) for p in statuses] == [(1, "Finishing"), (2, "Faulted")]
    mark = h.mark()
    h.reconnect()
    sent = [(p["connectorId"], p["status"], p["errorCode"]) for p in h.sent("StatusNotification")[-2:]]
    assert h.actions(mark) == ["StatusNotification", "StatusNotification"]
    assert sent == [(1, "Finishing", "NoError"), (2, "Faulted", "HighTemperature")]
    # Online again, every change is sent.
    mark = h.mark()
    h.feed(FaultCleared(2))
    h.feed(FaultRaised(2, "GroundFailure"))
    assert [p["status"] for p in h.sent("StatusNotification")[-2:]] == ["Available", "Faulted"]
    assert h.actions(mark) == ["StatusNotification"] * 2


def test_heartbeat_is_not_queued_offline() -> None:
    h = Harness()
    interval = h.engine.config.get_int("HeartbeatInterval")  # from BootNotification.conf
    beats = len(h.sent("Heartbeat"))
    h.disconnect()
    h.advance(10 * interval)
    assert not any(call.action == "Heartbeat" for call in h.engine.outbox)
    mark = h.mark()
    h.reconnect()
    assert "Heartbeat" not in h.actions(mark)
    h.advance(interval)
    assert h.actions(mark) == ["Heartbeat"]
    assert len(h.sent("Heartbeat")) == beats + 1


def test_queue_cap_drops_oldest_non_transaction_messages_never_transaction_messages() -> None:
    cap = 5
    h = Harness(
        EngineSettings(connectors=(ConnectorSpec(), ConnectorSpec()), queue_cap=cap),
        config={"ClockAlignedDataInterval": "60", "MeterValueSampleInterval": "0"},
    )
    h.feed(MeterRead({1: MeterReading(energy_wh=1000), 2: MeterReading(energy_wh=5000)}))
    transaction_id = charging(h)
    h.disconnect()
    h.advance(1200)  # 20 clock-aligned values per connector: connector 1's belong to the transaction
    h.feed(IdTagPresented("TAG"))  # stop offline
    queue = list(h.engine.outbox)
    in_tx = [c for c in queue if c.transactional]
    others = [c for c in queue if not c.transactional]
    assert len(in_tx) == 21 and in_tx[-1].action == "StopTransaction"
    assert len(others) == cap
    assert h.engine.outbox.dropped_count >= 20 + 1 - cap
    mark = h.mark()
    h.reconnect()
    advance_bounded(h, 30)
    sent = h.calls[mark:]
    tx_values = [p for a, p in sent if a == "MeterValues" and p["connectorId"] == 1]
    assert len(tx_values) == 20 and all(p["transactionId"] == transaction_id for p in tx_values)
    assert [a for a, _ in sent].count("StopTransaction") == 1
    idle_values = [p for a, p in sent if a == "MeterValues" and p["connectorId"] == 2]
    # The newest ones survive, the oldest went first.
    newest = [
        schemas.to_builtins(call.payload)["meterValue"][0]["timestamp"]
        for call in others
        if call.action == "MeterValues"
    ]
    assert [p["meterValue"][0]["timestamp"] for p in idle_values] == newest
    assert all("transactionId" not in p for p in idle_values)
