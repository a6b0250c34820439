"""OCTT 1.6 Core test cases across a power cycle (test case document FINAL 2024-04, §2.13 Power
failure, §2.14 Offline behaviour), driven through the engine with the scripted CSMS of
``tests/core/harness.py`` and the fake clock.

A power cycle here is what the station shell does after a crash: the engine is thrown away with
everything in memory; only what it asked the store to keep survives (Persist / PersistClear effects,
committed step by step, plus StoreConfigValue / StoreAvailability). A new engine is built from that
(``Restored``), the hardware reports what it sees (CablePlugged for an EV still connected), then
Booted, then the link comes up. ``Harness.reboot`` carries configuration and availability only, so
these tests keep the records themselves (:class:`PowerCycler`).

TC_032_1 and TC_032_2 live here (not in tests/core/test_octt_core.py) because they need it; TC_034 to
TC_039 exist there within one engine lifetime and get versions with a power cycle in the middle here.
"""

from __future__ import annotations

from typing import Any

import pytest

from ocpp_station.core.clock import parse_datetime
from ocpp_station.core.effects import Effect, Persist, PersistClear
from ocpp_station.core.engine import Engine
from ocpp_station.core.events import (
    Booted,
    CablePlugged,
    CableUnplugged,
    Connected,
    Event,
    IdTagPresented,
    MeterRead,
    MeterReading,
    ShutdownRequested,
)
from ocpp_station.core.model import Restored
from ocpp_station.core.settings import ConnectorSpec, EngineSettings
from ocpp_station.storage.base import KINDS
from ocpp_station.storage.memory import MemoryStore
from ocpp_station.wire.messages import AuthorizationStatus, IdTagInfo, MeterValuesRequest, OcppStruct
from tests.core.harness import T0, Harness, charging

T_SETTINGS = EngineSettings(connectors=(ConnectorSpec(), ConnectorSpec()))
RESUMING = EngineSettings(connectors=(ConnectorSpec(), ConnectorSpec()), resume_transactions=True)
OFFLINE_CONFIG = {
    "LocalAuthorizeOffline": "true",
    "AuthorizationCacheEnabled": "true",
    "AllowOfflineTxForUnknownId": "true",
}


# -- power cycles --------------------------------------------------------------------------------------


class PowerCycler:
    """The charge point's non-volatile memory: every Persist / PersistClear the engine emitted, applied
    to a store at the end of the step that emitted it (as the shell's ``_flush`` does)."""

    def __init__(self) -> None:
        self.store = MemoryStore()

    def attach(self, h: Harness) -> Harness:
        """Record what ``h.engine`` stores from now on."""
        handle = h.engine.handle

        def handle_and_store(event: Event, now: float, wall: float | None = None) -> list[Effect]:
            effects = handle(event, now, wall)
            self.apply(effects)
            return effects

        h.engine.handle = handle_and_store  # type: ignore[method-assign]
        return h

    def apply(self, effects: list[Effect]) -> None:
        ops: list[tuple[str, str, str, Any]] = []
        for effect in effects:
            if isinstance(effect, Persist):
                ops.append(("put", effect.kind, effect.key, effect.value))
            elif isinstance(effect, PersistClear):
                ops.append(("clear", effect.kind, "", None))
        self.store.apply(ops)

    def records(self, kind: str) -> dict[str, Any]:
        return self.store.load(kind)

    def restored(self, *, clean_shutdown: bool) -> Restored:
        restored = Restored.from_records({kind: self.records(kind) for kind in KINDS})
        restored.clean_shutdown = clean_shutdown
        return restored

    def power_cycle(
        self,
        h: Harness,
        *,
        plugged: tuple[int, ...] = (),
        connect: bool = True,
        downtime_s: float = 0.0,
        clean_shutdown: bool = False,
    ) -> Harness:
        """Lose power now (or after a graceful stop, ``clean_shutdown``); come back ``downtime_s`` later
        with a new engine built from the store, the EV still in on ``plugged``, and the link up
        (``connect``) or still down."""
        after = Harness(
            h.settings,
            config=h.stored_config,
            availability=h.stored_availability,
            now=h.now + downtime_s,
            connect=False,
            boot_status=h.boot_status,
            valid_tags=h.valid_tags,
        )
        after.parents = h.parents
        after.next_tx_id = h.next_tx_id  # the same CSMS: its transaction ids go on
        after.engine = Engine(
            after.settings,
            now=after.now,
            config_values=after.stored_config,
            availability=after.stored_availability,
            restored=self.restored(clean_shutdown=clean_shutdown),
        )
        self.attach(after)
        for connector_id in plugged:
            after.feed(CablePlugged(connector_id))
        after.feed(Booted())
        if connect:
            after.feed(Connected())
        else:
            after.online = False
        return after


def durable(settings: EngineSettings = T_SETTINGS, **kwargs: Any) -> tuple[Harness, PowerCycler]:
    """A connected, Accepted harness whose stored records are kept from the start."""
    cycler = PowerCycler()
    h = cycler.attach(Harness(settings, connect=False, **kwargs))
    h.feed(Connected())
    return h, cycler


# -- helpers -------------------------------------------------------------------------------------------


def sent_since(h: Harness, mark: int, action: str) -> list[dict[str, Any]]:
    return [payload for name, payload in h.calls[mark:] if name == action]


def statuses_since(h: Harness, mark: int, connector_id: int) -> list[str]:
    return [
        p["status"] for p in sent_since(h, mark, "StatusNotification") if p["connectorId"] == connector_id
    ]


def boot_statuses(h: Harness) -> dict[int, str]:
    """The first status each connector reported since the engine started."""
    statuses: dict[int, str] = {}
    for payload in h.sent("StatusNotification"):
        statuses.setdefault(payload["connectorId"], payload["status"])
    return statuses


def meter(energy_wh: float) -> MeterRead:
    return MeterRead({1: MeterReading(energy_wh=energy_wh, power_w=11000.0)})


def periodic(h: Harness, mark: int = 0) -> list[dict[str, Any]]:
    return [
        p
        for p in sent_since(h, mark, "MeterValues")
        if p["meterValue"][0]["sampledValue"][0]["context"] == "Sample.Periodic"
    ]


def stamp(payload: OcppStruct | dict[str, Any]) -> float:
    """The time of the first meterValue of a MeterValues.req, typed (queued) or as sent."""
    if isinstance(payload, MeterValuesRequest):
        return payload.meter_value[0].timestamp
    assert isinstance(payload, dict)
    return parse_datetime(payload["meterValue"][0]["timestamp"])


def transaction_actions(h: Harness, mark: int = 0) -> list[str]:
    return [a for a in h.actions(mark) if a in ("StartTransaction", "MeterValues", "StopTransaction")]


def id_tag_cached(h: Harness, id_tag: str = "TAG") -> None:
    """Memory state IdTagCached (§2.26): a transaction started and stopped with ``id_tag``."""
    charging(h, id_tag=id_tag)
    h.feed(IdTagPresented(id_tag))
    h.feed(CableUnplugged(1))
    assert h.engine.transactions.auth.local_entry(id_tag) == IdTagInfo(status=AuthorizationStatus.Accepted)
    assert h.statuses(1)[-1] == "Available"


def charging_with_samples(h: Harness) -> int:
    """Charging with MeterValueSampleInterval 60 and three samples at 1000, 2000, 3000 Wh; then the
    register goes on to 3500 Wh, not sampled (so not stored) before the power goes."""
    h.feed(meter(100))
    transaction_id = charging(h)
    for energy in (1000, 2000, 3000):
        h.feed(meter(energy))
        h.advance(60)
    h.feed(meter(3500))
    h.advance(20)
    return transaction_id


SAMPLED = {"MeterValueSampleInterval": "60"}


# -- 2.13 Power failure ----------------------------------------------------------------------------------


def test_TC_032_1_power_failure_stop_transactions_before_going_down() -> None:
    """Back-up power: the charge point stops its transactions (PowerLoss) while it still can, then
    goes down (a graceful stop), and boots when the power is back with the EV still connected."""
    h, cycler = durable(config=SAMPLED)
    transaction_id = charging_with_samples(h)
    mark = h.mark()
    h.feed(ShutdownRequested("PowerLoss"))  # the power monitor, running on the back-up supply
    stops = sent_since(h, mark, "StopTransaction")
    assert len(stops) == 1
    assert stops[0]["reason"] == "PowerLoss" and stops[0]["transactionId"] == transaction_id
    assert stops[0]["meterStop"] == 3500  # stopped while running: the register now
    assert statuses_since(h, mark, 1) == ["Finishing"]  # step 3
    assert cycler.records("transactions") == {} and cycler.records("outbox") == {}

    h = cycler.power_cycle(h, plugged=(1,), downtime_s=120, clean_shutdown=True)
    assert h.actions()[0] == "BootNotification"  # step 5
    statuses = boot_statuses(h)  # step 7
    assert statuses[1] in ("Finishing", "Preparing")
    assert statuses[0] == statuses[2] == "Available"
    assert "StopTransaction" not in h.actions() and "StartTransaction" not in h.actions()
    assert h.engine.ctx.connectors[1].transaction is None


def test_TC_032_2_power_failure_stop_transactions_after_reboot() -> None:
    """No back-up power, configured to stop transactions: after the reboot the interrupted transaction
    is stopped with reason PowerLoss, the last stored meter value and its time."""
    h, cycler = durable(config=SAMPLED)
    transaction_id = charging_with_samples(h)
    last_sample = periodic(h)[-1]
    h = cycler.power_cycle(h, plugged=(1,), downtime_s=30)  # the EV is still connected
    assert h.actions()[0] == "BootNotification"  # step 1
    stops = h.sent("StopTransaction")  # step 5
    assert len(stops) == 1
    assert stops[0]["reason"] == "PowerLoss" and stops[0]["transactionId"] == transaction_id
    assert stops[0]["meterStop"] == 3000  # the last stored value, not the 3500 never sampled
    assert stops[0]["meterStop"] == int(last_sample["meterValue"][0]["sampledValue"][0]["value"])
    assert parse_datetime(stops[0]["timestamp"]) == stamp(last_sample)
    statuses = boot_statuses(h)  # step 3
    assert statuses[1] in ("Preparing", "Finishing", "Charging")
    assert statuses[0] == statuses[2] == "Available"
    assert h.statuses(1)[-1] in ("Preparing", "Finishing")  # step 7
    assert "StartTransaction" not in h.actions()
    assert cycler.records("transactions") == {} and cycler.records("outbox") == {}
    # The EV leaves; the connector is free again.
    h.feed(CableUnplugged(1))
    assert h.statuses(1)[-1] == "Available"


def test_TC_032_2_power_failure_transaction_resumed_after_reboot() -> None:
    """Configured to resume (EV still connected): Charging again, the same transaction; the driver
    stops it with the card: reason Local (or omitted), the CSMS transactionId."""
    h, cycler = durable(RESUMING, config=SAMPLED)
    transaction_id = charging_with_samples(h)
    h = cycler.power_cycle(h, plugged=(1,), downtime_s=30)
    assert h.actions()[0] == "BootNotification"
    assert boot_statuses(h) == {0: "Available", 1: "Charging", 2: "Available"}  # step 3
    assert "StopTransaction" not in h.actions()
    tx = h.engine.ctx.connectors[1].transaction
    assert tx is not None and tx.transaction_id == transaction_id
    # Sampling goes on, with the same transactionId.
    h.feed(meter(3600))
    h.advance(60)
    assert [p["transactionId"] for p in periodic(h)] == [transaction_id]
    h.feed(meter(3700))
    mark = h.mark()
    h.feed(IdTagPresented("TAG"))  # step 5
    stops = sent_since(h, mark, "StopTransaction")
    assert len(stops) == 1 and stops[0].get("reason", "Local") == "Local"
    assert stops[0]["transactionId"] == transaction_id and stops[0]["meterStop"] == 3700
    assert statuses_since(h, mark, 1) == ["Finishing"]  # step 7


def test_TC_032_2_power_failure_ev_gone_after_reboot() -> None:
    """Configured to resume, but the EV left while the power was off: stopped with PowerLoss."""
    h, cycler = durable(RESUMING, config=SAMPLED)
    transaction_id = charging_with_samples(h)
    h = cycler.power_cycle(h, downtime_s=600)
    stops = h.sent("StopTransaction")
    assert len(stops) == 1
    assert stops[0]["reason"] == "PowerLoss" and stops[0]["transactionId"] == transaction_id
    assert stops[0]["meterStop"] == 3000
    assert boot_statuses(h) == {0: "Available", 1: "Available", 2: "Available"}


def test_TC_032_2_power_failure_before_start_transaction_was_answered() -> None:
    """The power goes while the StartTransaction of an offline transaction waits: after the reboot it
    goes out first, then the PowerLoss StopTransaction with the transactionId it got (never -1)."""
    h, cycler = durable(config={**OFFLINE_CONFIG, **SAMPLED})
    h.disconnect()
    h.feed(meter(500))
    h.feed(CablePlugged(1))
    h.feed(IdTagPresented("TAG"))
    h.feed(meter(900))
    h.advance(61)
    assert [a for a, _ in h.calls].count("StartTransaction") == 0
    h = cycler.power_cycle(h, plugged=(1,))
    assert h.actions()[0] == "BootNotification"
    assert transaction_actions(h) == ["StartTransaction", "MeterValues", "MeterValues", "StopTransaction"]
    (start,) = h.sent("StartTransaction")
    assert start["meterStart"] == 500
    assert {p["transactionId"] for p in h.sent("MeterValues")} == {h.next_tx_id}
    (stop,) = h.sent("StopTransaction")
    assert stop["transactionId"] == h.next_tx_id and stop["reason"] == "PowerLoss"
    assert stop["meterStop"] == 900


def test_graceful_stop_leaves_the_transaction_to_resume_then_reboot_reason_without_ev() -> None:
    """A graceful stop without a reason (DurabilityPolicy onShutdown "resume") stores the register;
    the EV gone after the restart: the transaction is stopped with reason Reboot and that register."""
    h, cycler = durable(config=SAMPLED)
    transaction_id = charging_with_samples(h)
    h.feed(ShutdownRequested(None))
    assert "StopTransaction" not in h.actions()
    h = cycler.power_cycle(h, clean_shutdown=True)
    (stop,) = h.sent("StopTransaction")
    assert stop["reason"] == "Reboot" and stop["transactionId"] == transaction_id
    assert stop["meterStop"] == 3500  # the checkpoint at the graceful stop


def test_TC_034_power_failure_with_unavailable_status_with_restart() -> None:
    h, cycler = durable()
    assert h.csms_result("ChangeAvailability", {"connectorId": 0, "type": "Inoperative"}) == {
        "status": "Accepted"
    }
    h = cycler.power_cycle(h, downtime_s=60)
    assert h.actions()[0] == "BootNotification"
    assert boot_statuses(h) == {0: "Unavailable", 1: "Unavailable", 2: "Unavailable"}
    # It stays unavailable: no transaction starts.
    h.feed(CablePlugged(1))
    h.feed(IdTagPresented("TAG"))
    assert "StartTransaction" not in h.actions()


def test_TC_034_scheduled_unavailable_survives_power_failure() -> None:
    """A ChangeAvailability answered Scheduled is stored as its target at once: the power cut that
    ends the transaction leaves the connector Unavailable, as the CSMS asked."""
    h, cycler = durable()
    charging(h)
    assert h.csms_result("ChangeAvailability", {"connectorId": 1, "type": "Inoperative"}) == {
        "status": "Scheduled"
    }
    h = cycler.power_cycle(h)
    assert [p["reason"] for p in h.sent("StopTransaction")] == ["PowerLoss"]
    assert boot_statuses(h)[1] == "Unavailable"


# -- 2.14 Offline behaviour -------------------------------------------------------------------------------


@pytest.mark.parametrize("resume", [True, False], ids=["resumed", "stopped"])
def test_TC_036_connection_loss_during_transaction_with_restart(resume: bool) -> None:
    """MeterValues queued offline survive a power cycle while still offline and are delivered, in
    chronological order and before any new ones, once the link is back."""
    h, cycler = durable(RESUMING if resume else T_SETTINGS, config={"MeterValueSampleInterval": "30"})
    h.feed(meter(100))
    transaction_id = charging(h)
    started = h.now
    h.disconnect()
    for step in range(1, 4):
        h.feed(meter(100 + 200 * step))
        h.advance(30)
    h.advance(5)
    queued = [stamp(c.payload) for c in h.engine.outbox if c.action == "MeterValues"]
    assert queued[-3:] == [started + 30, started + 60, started + 90]

    h = cycler.power_cycle(h, plugged=(1,), connect=False, downtime_s=10)
    if resume:
        h.feed(meter(900))
        h.advance(30)  # sampling goes on offline after the restart
    mark = h.mark()
    h.reconnect()
    assert h.actions(mark)[0] == "BootNotification"
    values = periodic(h, mark)
    stamps = [stamp(v) for v in values]
    assert stamps[:3] == [started + 30, started + 60, started + 90]
    assert stamps == sorted(stamps)
    assert all(v["transactionId"] == transaction_id for v in values)
    if resume:
        assert stamps[3:] == [started + 95 + 10 + 30]  # resumed after the restart, every 30 s
        assert "StopTransaction" not in h.actions(mark)
        h.feed(meter(1000))
        h.advance(30)
        assert [stamp(v) for v in periodic(h, mark)][-1] == started + 95 + 10 + 60
    else:
        assert len(values) == 3
        (stop,) = sent_since(h, mark, "StopTransaction")
        assert transaction_actions(h, mark)[-1] == "StopTransaction"
        assert stop["reason"] == "PowerLoss" and stop["transactionId"] == transaction_id
        assert stop["meterStop"] == 700 and parse_datetime(stop["timestamp"]) == started + 90


def test_TC_037_1_offline_start_transaction_valid_idtag_with_restart() -> None:
    """The cached idTag survives a power cycle (§3.5.1: cache values SHOULD persist across reboots and
    power outages): offline afterwards, it still starts a transaction without AllowOfflineTxForUnknownId."""
    h, cycler = durable(config={**OFFLINE_CONFIG, "AllowOfflineTxForUnknownId": "false"})
    id_tag_cached(h, "TAG")
    h = cycler.power_cycle(h, downtime_s=60)
    h.disconnect()
    h.feed(CablePlugged(1))
    h.feed(IdTagPresented("TAG"))
    assert h.engine.ctx.connectors[1].transaction is not None
    h.feed(IdTagPresented("UNKNOWN", 2))
    assert h.engine.ctx.connectors[2].transaction is None  # unknown ids are not allowed offline
    mark = h.mark()
    h.reconnect()
    actions = h.actions(mark)
    starts = sent_since(h, mark, "StartTransaction")
    assert len(starts) == 1 and starts[0]["idTag"] == "TAG"
    assert statuses_since(h, mark, 1) == ["Charging"]
    assert actions.index("StartTransaction") < actions.index("StatusNotification")


def test_TC_037_1_offline_start_transaction_valid_idtag_restart_before_reconnect() -> None:
    """Started offline, then a power cycle before the link is back (resume configured, EV connected):
    StartTransaction goes out after BootNotification, the connector reports Charging, and the
    transaction's MeterValues carry the transactionId the CSMS gave."""
    h, cycler = durable(RESUMING, config={**OFFLINE_CONFIG, **SAMPLED})
    id_tag_cached(h, "TAG")
    h.disconnect()
    h.feed(CablePlugged(1))
    h.feed(IdTagPresented("TAG"))
    local_id = h.engine.transactions.next_local_id - 1
    h.advance(30)
    h = cycler.power_cycle(h, plugged=(1,), connect=False, downtime_s=5)
    mark = h.mark()
    h.reconnect()
    actions = h.actions(mark)
    assert actions[0] == "BootNotification"
    starts = sent_since(h, mark, "StartTransaction")
    assert len(starts) == 1 and starts[0]["idTag"] == "TAG"
    assert statuses_since(h, mark, 1) == ["Charging"]
    h.advance(120)
    transaction_id = h.next_tx_id
    assert transaction_id != local_id
    values = sent_since(h, mark, "MeterValues")
    assert len(values) >= 2 and {v["transactionId"] for v in values} == {transaction_id}


@pytest.mark.parametrize("stop_on_invalid", [False, True], ids=["TC_037_2", "TC_037_3"])
def test_TC_037_2_and_3_offline_start_transaction_invalid_idtag_with_restart(stop_on_invalid: bool) -> None:
    """An offline transaction with an idTag the CSMS then calls Invalid, with a power cycle (resume
    configured, EV connected) before the link is back: SuspendedEVSE (TC_037_2) or stopped with
    reason DeAuthorized (TC_037_3), with the CSMS transactionId."""
    h, cycler = durable(
        RESUMING,
        config={
            **OFFLINE_CONFIG,
            "StopTransactionOnInvalidId": "true" if stop_on_invalid else "false",
            "MaxEnergyOnInvalidId": "0",
        },
    )
    h.disconnect()
    h.feed(CablePlugged(1))
    h.feed(IdTagPresented("BAD"))
    assert h.engine.ctx.connectors[1].transaction is not None
    h = cycler.power_cycle(h, plugged=(1,), connect=False, downtime_s=5)
    assert h.engine.ctx.connectors[1].transaction is not None  # resumed, offline
    mark = h.mark()
    h.reconnect()
    starts = sent_since(h, mark, "StartTransaction")
    assert len(starts) == 1 and starts[0]["idTag"] == "BAD"
    if stop_on_invalid:
        (stop,) = sent_since(h, mark, "StopTransaction")
        assert stop["reason"] == "DeAuthorized" and stop["transactionId"] == h.next_tx_id
        assert statuses_since(h, mark, 1) == ["Charging", "Finishing"]
    else:
        assert statuses_since(h, mark, 1) == ["Charging", "SuspendedEVSE"]
        assert "StopTransaction" not in h.actions(mark)
        assert h.engine.ctx.connectors[1].transaction is not None


def test_TC_038_offline_stop_transaction_with_restart() -> None:
    """Stopped offline, then a power cycle before the link is back: the StopTransaction (reason Local,
    the CSMS transactionId) goes out after BootNotification; the connector reports Finishing."""
    h, cycler = durable()
    transaction_id = charging(h)
    h.disconnect()
    h.advance(10)
    h.feed(meter(2500))
    h.feed(IdTagPresented("TAG"))
    assert h.engine.ctx.connectors[1].transaction is None
    h = cycler.power_cycle(h, plugged=(1,), connect=False, downtime_s=20)
    mark = h.mark()
    h.reconnect()
    assert h.actions(mark)[0] == "BootNotification"
    stops = sent_since(h, mark, "StopTransaction")
    assert len(stops) == 1
    assert stops[0].get("reason", "Local") == "Local" and stops[0]["transactionId"] == transaction_id
    assert stops[0]["meterStop"] == 2500 and stops[0]["idTag"] == "TAG"
    assert statuses_since(h, mark, 1) == ["Finishing"]
    assert cycler.records("transactions") == {} and cycler.records("outbox") == {}


def test_TC_039_offline_transaction_with_restart() -> None:
    """Started, stopped and unplugged offline; a power cycle; then the link: StartTransaction, then
    StopTransaction with the transactionId from StartTransaction.conf, reason Local."""
    h, cycler = durable(config=OFFLINE_CONFIG)
    id_tag_cached(h, "TAG")
    h.disconnect()
    h.feed(CablePlugged(1))
    h.feed(IdTagPresented("TAG"))
    h.advance(60)
    h.feed(IdTagPresented("TAG"))
    h.feed(CableUnplugged(1))
    h = cycler.power_cycle(h, connect=False, downtime_s=300)
    mark = h.mark()
    h.reconnect()
    assert h.actions(mark)[0] == "BootNotification"
    starts = sent_since(h, mark, "StartTransaction")
    stops = sent_since(h, mark, "StopTransaction")
    assert len(starts) == 1 and len(stops) == 1
    assert h.actions(mark).index("StartTransaction") < h.actions(mark).index("StopTransaction")
    assert stops[0].get("reason", "Local") == "Local"
    assert stops[0]["transactionId"] == h.next_tx_id
    assert boot_statuses(h)[1] == "Available"
    assert cycler.records("transactions") == {} and cycler.records("outbox") == {}


def test_TC_039_offline_transaction_power_cycle_between_start_and_stop() -> None:
    """Started offline, a power cycle while still charging offline (not configured to resume): after
    the restart the transaction is stopped with PowerLoss; both messages go out once the link is back,
    the stop with the transactionId from StartTransaction.conf."""
    h, cycler = durable(config={**OFFLINE_CONFIG, **SAMPLED})
    h.disconnect()
    h.feed(meter(10))
    h.feed(CablePlugged(1))
    h.feed(IdTagPresented("TAG"))
    h.feed(meter(400))
    h.advance(60)
    h = cycler.power_cycle(h, plugged=(1,), connect=False)
    mark = h.mark()
    h.reconnect()
    assert transaction_actions(h, mark) == [
        "StartTransaction",
        "MeterValues",
        "MeterValues",
        "StopTransaction",
    ]
    (stop,) = sent_since(h, mark, "StopTransaction")
    assert stop["reason"] == "PowerLoss" and stop["transactionId"] == h.next_tx_id
    assert stop["meterStop"] == 400
    assert statuses_since(h, mark, 1)[0] in ("Finishing", "Preparing")


def test_records_of_an_earlier_version_still_load() -> None:
    """A data dir written before the typed messages: a queued StopTransaction without the
    transactionId its schema requires (filled in when sent), its transactionData, a MeterValues and an
    Authorization Cache entry as JSON records. They load; the stop goes out with the CSMS id."""
    sampled = {"value": "1200", "context": "Transaction.End", "measurand": "Energy.Active.Import.Register"}
    data = [{"timestamp": "2025-11-24T15:59:00.000Z", "sampledValue": [{**sampled, "unit": "Wh"}]}]
    records: dict[str, dict[str, Any]] = {
        "transactions": {
            "1": {
                "localId": 1,
                "connectorId": 1,
                "idTag": "TAG",
                "meterStart": 1000,
                "startedAt": T0 - 120,
                "transactionId": 4711,
                "stopping": True,
                "stopData": data,
            }
        },
        "outbox": {
            "000000000001": {
                "action": "MeterValues",
                "payload": {
                    "connectorId": 1,
                    "meterValue": [{"timestamp": "2025-11-24T15:58:30.000Z", "sampledValue": [sampled]}],
                },
                "meta": {"tx": 1},
            },
            "000000000002": {
                "action": "StopTransaction",
                "payload": {
                    "meterStop": 1200,
                    "timestamp": "2025-11-24T15:59:00.000Z",
                    "reason": "Local",
                    "transactionData": data,
                },
                "meta": {"tx": 1},
            },
        },
        "auth_cache": {"TAG2": {"status": "Accepted", "expiryDate": "2030-01-01T00:00:00.000Z"}},
    }
    h = Harness(T_SETTINGS, records=records, connect=False)
    assert h.engine.transactions.open[1].stop_data[0].sampled_value[0].value == "1200"
    assert h.engine.transactions.auth.cache["TAG2"].status == AuthorizationStatus.Accepted
    mark = h.mark()
    h.feed(Connected())
    h.advance(5)
    (values,) = sent_since(h, mark, "MeterValues")
    assert values["transactionId"] == 4711 and values["meterValue"][0]["sampledValue"] == [sampled]
    (stop,) = sent_since(h, mark, "StopTransaction")
    assert stop["transactionId"] == 4711 and stop["meterStop"] == 1200 and stop["reason"] == "Local"
    assert stop["transactionData"] == data
    assert 1 not in h.engine.transactions.open  # answered: forgotten


def test_a_damaged_stored_message_is_dropped_and_the_rest_goes_out(caplog: pytest.LogCaptureFixture) -> None:
    """A queued record that is no valid request of its action (a damaged store) could never be sent
    (strict on output): it is dropped at start, said in the log and deleted from the store; the
    messages behind it go out as usual."""
    good = {
        "connectorId": 1,
        "meterValue": [{"timestamp": "2025-11-24T15:58:30.000Z", "sampledValue": [{"value": "5"}]}],
    }
    records: dict[str, dict[str, Any]] = {
        "outbox": {
            "000000000001": {"action": "MeterValues", "payload": {"connectorId": "one"}},
            "000000000002": {"action": "../Evil", "payload": {}},
            "000000000003": {"action": "MeterValues", "payload": good},
        }
    }
    h = Harness(T_SETTINGS, records=records, connect=False)
    assert "stored message 1 dropped" in caplog.text and "stored message 2 dropped" in caplog.text
    mark = h.mark()
    h.feed(Connected())
    h.advance(5)
    assert sent_since(h, mark, "MeterValues") == [good]
    assert h.records["outbox"] == {}
    assert h.engine.outbox.next_seq == 4  # the damaged ones' numbers are not given out again
