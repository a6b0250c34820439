"""Timed fleet actions and the packaged scenarios (issue 11): parsing and every error, the plan's
determinism (without time), a mass reconnect of 10 real stations against the development CSMS, and
each packaged scenario loads and parses."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

import pytest

from ocpp_station.fleet.atg import parse_atg
from ocpp_station.fleet.scenarios import (
    Action,
    Planned,
    load_scenario,
    parse_actions,
    plan_actions,
    run_actions,
    scenario_names,
)
from ocpp_station.hardware.simulated import EVParams
from ocpp_station.sim.csms import CentralSystem
from ocpp_station.transport.station import Station
from tests.stations import StationFactory, station_config, until

# -- parsing -----------------------------------------------------------------------------------------


def test_every_action_parses() -> None:
    actions = parse_actions(
        [
            {"at": 60, "do": "drop-network", "share": 0.5, "for": 30, "jitter": 10, "description": "outage"},
            {"at": 61, "do": "restore-network"},
            {"at": 1, "do": "plug", "connector": 2, "ev": {"batteryCapacityWh": 40000, "soc": 50}, "for": 5},
            {"at": 2, "do": "unplug"},
            {"at": 3, "do": "swipe", "idTag": "CARD-1"},
            {"at": 4, "do": "fault", "connector": 0, "errorCode": "GroundFailure", "for": 9},
            {"at": 5, "do": "clear-fault", "connector": 0},
            {"at": 6, "do": "ev-suspend", "for": 3},
            {"at": 7, "do": "ev-resume"},
            {"at": 8, "do": "reboot", "hard": True},
        ],
        "actions",
    )
    assert actions[0] == Action(60.0, "drop-network", share=0.5, for_s=30.0, jitter=10.0)
    assert actions[2].ev == EVParams(battery_wh=40_000, soc_percent=50) and actions[2].connector == 2
    assert actions[4].id_tag == "CARD-1"
    assert actions[5].error_code == "GroundFailure" and actions[5].connector == 0
    assert actions[9].hard and actions[9].share == 1.0


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({}, "actions: must be a list of actions"),
        ([3], "actions[0]: must be an object"),
        ([{"do": "plug"}], "actions[0].at: is required"),
        ([{"at": 1}], "actions[0].do: is required"),
        ([{"at": 1, "do": "explode"}], "actions[0].do: must be one of drop-network, restore-network"),
        ([{"at": -1, "do": "unplug"}], "actions[0].at: must be a number >= 0, got -1"),
        ([{"at": "soon", "do": "unplug"}], 'actions[0].at: must be a number, got "soon"'),
        ([{"at": 1, "do": "unplug", "share": 2}], "actions[0].share: must be a share between 0 and 1, got 2"),
        ([{"at": 1, "do": "unplug", "jitter": -1}], "actions[0].jitter: must be a number >= 0"),
        ([{"at": 1, "do": "drop-network", "for": 0}], "actions[0].for: must be a number > 0, got 0"),
        (
            [{"at": 1, "do": "unplug", "for": 3}],
            "actions[0].for: not a field of unplug; its fields: at, do, share, jitter, connector",
        ),
        (
            [{"at": 1, "do": "drop-network", "connector": 1}],
            "actions[0].connector: not a field of drop-network",
        ),
        (
            [{"at": 1, "do": "plug", "connector": 0}],
            "actions[0].connector: must be a connector id >= 1, got 0",
        ),
        ([{"at": 1, "do": "fault", "connector": -1}], "actions[0].connector: must be a connector id >= 0"),
        ([{"at": 1, "do": "swipe"}], "actions[0].idTag: is required, 1 to 20 characters"),
        ([{"at": 1, "do": "swipe", "idTag": "x" * 21}], "actions[0].idTag: is required, 1 to 20 characters"),
        (
            [{"at": 1, "do": "fault", "errorCode": "Oops"}],
            "actions[0].errorCode: must be one of ConnectorLockFailure",
        ),
        ([{"at": 1, "do": "plug", "ev": []}], "actions[0].ev: must be an object"),
        ([{"at": 1, "do": "plug", "ev": {"phases": 5}}], "actions[0].ev: phases must be 1, 2 or 3"),
        ([{"at": 1, "do": "plug", "ev": {"wings": 2}}], "actions[0].ev: unknown EV field(s): wings"),
        ([{"at": 1, "do": "reboot", "hard": "yes"}], 'actions[0].hard: must be true or false, got "yes"'),
        (
            [{"at": 1, "do": "reboot"}, {"at": 2, "do": "unplug", "idTag": "A"}],
            "actions[1].idTag: not a field of unplug",
        ),
    ],
)
def test_every_error_names_its_field(data: object, error: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_actions(data, "actions")
    assert str(caught.value).startswith(error), str(caught.value)


# -- the plan: deterministic, without time ----------------------------------------------------------

MIX = parse_actions(
    [
        {"at": 10, "do": "drop-network", "share": 0.3, "for": 20, "jitter": 5},
        {"at": 12, "do": "plug", "share": 0.5, "jitter": 4},
        {"at": 15, "do": "reboot", "share": 0.1},
    ],
    "actions",
)


def test_the_same_seed_makes_the_same_plan_and_another_seed_another() -> None:
    first = plan_actions(MIX, 100, 7)
    assert first == plan_actions(MIX, 100, 7)
    assert first != plan_actions(MIX, 100, 8)


def test_shares_durations_and_jitter() -> None:
    steps = plan_actions(MIX, 100, 7)
    assert [s.at for s in steps] == sorted(s.at for s in steps)
    by_kind = Counter(s.kind for s in steps)
    assert by_kind == {"drop-network": 30, "restore-network": 30, "plug": 50, "reboot": 10}
    drops = {s.station: s.at for s in steps if s.kind == "drop-network"}
    restores = {s.station: s.at for s in steps if s.kind == "restore-network"}
    assert set(drops) == set(restores) and set(drops.values()) == {10.0}  # the outage hits all at once
    assert all(30.0 <= at <= 35.0 for at in restores.values())  # back after "for", spread by the jitter
    assert max(restores.values()) - min(restores.values()) > 2.5
    plugs = [s for s in steps if s.kind == "plug"]
    assert len({s.station for s in plugs}) == 50 and all(12.0 <= s.at <= 16.0 for s in plugs)
    assert {s.at for s in steps if s.kind == "reboot"} == {15.0}
    # A share of 1 is every station, in order, without a draw.
    assert plan_actions(parse_actions([{"at": 0, "do": "unplug"}], "a"), 3, 1) == [
        Planned(0.0, "unplug", i, 0) for i in range(3)
    ]


# -- packaged scenarios ------------------------------------------------------------------------------


def test_the_packaged_scenarios() -> None:
    assert scenario_names() == [
        "boot-storm",
        "firmware-rollout",
        "mass-reconnect",
        "message-mix-day",
        "message-mix-heavy",
    ]
    with pytest.raises(KeyError, match="no scenario 'nope'; the scenarios are: boot-storm, firmware-rollout"):
        load_scenario("nope")


@pytest.mark.parametrize(
    "name", ["boot-storm", "firmware-rollout", "mass-reconnect", "message-mix-day", "message-mix-heavy"]
)
def test_each_scenario_loads_and_parses(name: str) -> None:
    from ocpp_station.fleet.config import parse_fleet

    data = load_scenario(name)
    assert isinstance(data["description"], str) and "docs/fleet-scenarios.md" in data["description"]
    assert "url" not in data  # the CSMS is the user's: --url
    fleet = parse_fleet({**data, "url": "ws://127.0.0.1:9000/ocpp/"}, f"<scenario {name}>")
    assert fleet.count >= 200
    templates: list[dict[str, Any]] = data["templates"]  # type: ignore[assignment]
    for i, template in enumerate(templates):
        if "atg" in template:
            assert parse_atg(template["atg"], f"templates[{i}].atg") == fleet.templates[i].atg
    if "actions" in data:
        assert parse_actions(data["actions"], "actions") == fleet.actions


def test_the_message_mixes_differ_as_documented() -> None:
    day = load_scenario("message-mix-day")["templates"][0]  # type: ignore[index]
    heavy = load_scenario("message-mix-heavy")["templates"][0]  # type: ignore[index]
    assert day["ocpp"]["HeartbeatInterval"] == 300 and heavy["ocpp"]["HeartbeatInterval"] == 60
    assert day["ocpp"]["MeterValueSampleInterval"] == 60 and heavy["ocpp"]["MeterValueSampleInterval"] == 15
    day_atg, heavy_atg = parse_atg(day["atg"], "d"), parse_atg(heavy["atg"], "h")
    assert day_atg.arrival.a > 10 * heavy_atg.arrival.a  # a depot is busier


# -- a real mass reconnect ---------------------------------------------------------------------------

COUNT = 10
REPLAY_RATE, REPLAY_BURST = 4, 1


def _tx_messages(csms: CentralSystem, cp: str, since: int) -> list[Any]:
    return [
        e
        for e in csms.log[since:]
        if e.charge_point_id == cp
        and e.kind == "CALL"
        and e.direction == "in"
        and e.action in ("MeterValues", "StopTransaction")
    ]


async def test_mass_reconnect_delivers_every_queued_message_once_spread_by_the_jitter(
    csms: CentralSystem, start_station: StationFactory
) -> None:
    stations: list[Station] = []
    for i in range(COUNT):
        config = station_config(
            csms.url,
            f"MR-{i:02d}",
            ocpp={"MeterValueSampleInterval": 1, "MeterValuesSampledData": "Energy.Active.Import.Register"},
            durability={"replayRate": REPLAY_RATE, "replayBurst": REPLAY_BURST},
        )
        stations.append(await start_station(config))
    for station in stations:
        station.plug(1)
        station.present_id_tag("CARD-1", 1)
    await until(lambda: all(s.state()["connectors"][1]["transactionId"] for s in stations))
    # The outage at 0.2 s for 4.8 s, back within 1 s more; the EVs leave during it (StopTransaction
    # queued). The queues are read at 1.6 s: 3.4 s of room before the first restore on a slow machine.
    seed = 5
    actions = parse_actions(
        [
            {"at": 0.2, "do": "drop-network", "for": 4.8, "jitter": 1.0},
            {"at": 1.2, "do": "unplug", "connector": 1},
        ],
        "actions",
    )
    planned = {s.station: s.at for s in plan_actions(actions, COUNT, seed) if s.kind == "restore-network"}
    assert min(planned.values()) >= 5.0
    loop = asyncio.get_running_loop()
    origin = loop.time()
    runner = asyncio.create_task(run_actions(stations, actions, seed, asyncio.Event()))
    await until(lambda: not any(s.state()["connected"] for s in stations), timeout=2)
    for station in stations:
        await csms.wait_disconnected(station.config.charge_point_id, timeout=2)
    dropped_at = len(csms.log)
    # What each station queued while offline (read before the first restore at 5.0 s).
    await asyncio.sleep(max(0.0, origin + 1.6 - loop.time()))
    assert loop.time() - origin < 4.95, "read after the first restore: the machine stalled for 3 s"
    queued = [s.view.queue_summary()["byAction"] for s in stations]
    assert all(q.get("StopTransaction") == 1 and q.get("MeterValues", 0) >= 1 for q in queued), queued
    assert len(csms.log) == dropped_at  # nothing reached the CSMS while offline
    async with asyncio.timeout(10):
        await runner
    await until(lambda: all(s.state()["connected"] and s.state()["queue"] == 0 for s in stations), timeout=10)

    wall_origin = time.time() - (loop.time() - origin)  # the CSMS log's clock at the origin
    for index, station in enumerate(stations):
        cp = station.config.charge_point_id
        delivered = _tx_messages(csms, cp, dropped_at)
        # Every queued transaction message delivered exactly once: the counts match the station's
        # queue and no message (by its content) arrived twice.
        assert Counter(e.action for e in delivered) == {
            "MeterValues": queued[index]["MeterValues"],
            "StopTransaction": 1,
        }, (cp, queued[index])
        keys = [
            (
                e.action,
                e.payload.get("transactionId"),
                str(e.payload.get("meterValue") or e.payload.get("timestamp")),
            )
            for e in delivered
        ]
        assert len(set(keys)) == len(keys), keys
        assert len({e.message_id for e in delivered}) == len(delivered)
        # Not reconnected before its planned restore (how much later depends on the machine's load:
        # not asserted; the plan's jitter is tested without time in test_shares_durations_and_jitter).
        first = next(e for e in csms.log[dropped_at:] if e.charge_point_id == cp and e.direction == "in")
        offset = first.time - wall_origin
        assert offset >= planned[index] - 0.05, (cp, planned[index], offset)
        # The backlog at no more than the replay rate after its burst (a load can only slow it).
        times = [e.time for e in delivered]
        assert times[-1] - times[0] >= (len(times) - REPLAY_BURST) / REPLAY_RATE - 0.1


async def test_an_action_acts_on_the_stations_started_by_its_time(
    csms: CentralSystem, start_station: StationFactory
) -> None:
    """The fleet's runner hands over its list while the ramp still fills it."""
    stations: list[Station] = []
    actions = parse_actions([{"at": 2, "do": "fault", "connector": 1, "errorCode": "HighTemperature"}], "a")
    runner = asyncio.create_task(run_actions(stations, actions, 1, asyncio.Event()))
    for i in range(2):
        stations.append(await start_station(station_config(csms.url, f"LIVE-{i}")))
    assert len(stations) == 2 and not runner.done()
    async with asyncio.timeout(5):
        await runner
    for station in stations:
        assert station.state()["connectors"][1]["errorCode"] == "HighTemperature"
