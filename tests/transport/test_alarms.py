"""transport/alarms.py: one loop timer for every station's deadline."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ocpp_station.transport import alarms as alarms_module
from ocpp_station.transport.alarms import Alarms


class Owner:
    def __init__(self, name: str, fired: list[str], action: Any = None) -> None:
        self.name = name
        self.fired = fired
        self.alarm_seq = 0
        self.action = action

    def alarm_fired(self) -> None:
        self.fired.append(self.name)
        if self.action is not None:
            self.action(self)

    def __repr__(self) -> str:
        return f"Owner({self.name})"


async def test_owners_fire_in_deadline_order_once() -> None:
    alarms = Alarms.of(asyncio.get_running_loop())
    fired: list[str] = []
    owners = {name: Owner(name, fired) for name in "abc"}
    for name, delay in (("a", 0.03), ("b", 0.01), ("c", 0.02)):
        owners[name].alarm_seq = alarms.set(delay, owners[name])
    await asyncio.sleep(0.08)
    assert fired == ["b", "c", "a"]
    assert all(owner.alarm_seq == 0 for owner in owners.values())
    assert len(alarms) == 0


async def test_setting_again_moves_and_zero_cancels() -> None:
    alarms = Alarms.of(asyncio.get_running_loop())
    fired: list[str] = []
    moved, cancelled = Owner("moved", fired), Owner("cancelled", fired)
    moved.alarm_seq = alarms.set(0.01, moved)
    moved.alarm_seq = alarms.set(0.05, moved)  # later: the first entry is stale
    cancelled.alarm_seq = alarms.set(0.02, cancelled)
    cancelled.alarm_seq = 0
    await asyncio.sleep(0.03)
    assert fired == []
    await asyncio.sleep(0.05)
    assert fired == ["moved"]


async def test_an_earlier_alarm_rearms_the_loop_timer() -> None:
    alarms = Alarms.of(asyncio.get_running_loop())
    fired: list[str] = []
    late, early = Owner("late", fired), Owner("early", fired)
    late.alarm_seq = alarms.set(0.2, late)
    early.alarm_seq = alarms.set(0.01, early)
    await asyncio.sleep(0.05)
    assert fired == ["early"]
    await asyncio.sleep(0.2)
    assert fired == ["early", "late"]


async def test_an_owner_setting_its_deadline_in_the_past_does_not_hold_the_loop() -> None:
    alarms = Alarms.of(asyncio.get_running_loop())
    fired: list[str] = []
    rounds = 0

    def again(owner: Owner) -> None:
        nonlocal rounds
        rounds += 1
        if rounds < 5:
            owner.alarm_seq = alarms.set(0.0, owner)  # due at once: the next round, not this one

    busy = Owner("busy", fired, again)
    busy.alarm_seq = alarms.set(0.0, busy)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        for _ in range(20):
            ticks += 1
            await asyncio.sleep(0)

    await asyncio.gather(ticker(), asyncio.sleep(0.05))
    assert fired == ["busy"] * 5
    assert ticks == 20


async def test_a_failing_owner_is_reported_and_the_others_still_fire() -> None:
    loop = asyncio.get_running_loop()
    reported: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    try:
        alarms = Alarms.of(loop)
        fired: list[str] = []

        def boom(owner: Owner) -> None:
            raise RuntimeError("broken station")

        bad, good = Owner("bad", fired, boom), Owner("good", fired)
        bad.alarm_seq = alarms.set(0.01, bad)
        good.alarm_seq = alarms.set(0.01, good)
        await asyncio.sleep(0.05)
        assert fired == ["bad", "good"]
        assert len(reported) == 1
        assert isinstance(reported[0]["exception"], RuntimeError)
        assert "Owner(bad)" in reported[0]["message"]
    finally:
        loop.set_exception_handler(None)


async def test_stale_entries_are_compacted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(alarms_module, "_COMPACT_SLACK", 8)
    alarms = Alarms.of(asyncio.get_running_loop())
    fired: list[str] = []
    owner = Owner("one", fired)
    first = alarms.set(0.01, Owner("first", fired))  # an earlier live one keeps the loop timer
    del first
    for _ in range(100):
        owner.alarm_seq = alarms.set(10.0, owner)  # moved 100 times: 99 stale entries
    assert len(alarms) <= 2 * 2 + 8 + 1
    assert alarms.pending() == 1
    await asyncio.sleep(0.03)
    assert fired == []  # "first" was never the owner of its number: stale, not fired


async def test_one_per_loop() -> None:
    loop = asyncio.get_running_loop()
    assert Alarms.of(loop) is Alarms.of(loop)
    other = asyncio.new_event_loop()
    try:
        assert Alarms.of(other) is not Alarms.of(loop)
    finally:
        other.close()


def test_the_registry_does_not_keep_a_loop_alive() -> None:
    import gc
    import weakref

    loop = asyncio.new_event_loop()
    alarms = Alarms.of(loop)
    owner = Owner("left", [])
    owner.alarm_seq = alarms.set(60.0, owner)  # pending when the loop is dropped
    gone = weakref.ref(loop)
    loop.close()
    del loop, alarms
    gc.collect()
    assert gone() is None
