"""The automatic transaction generator (issue 11): its parser and every error, the plan's determinism
(without time), and real runs of a few stations against the development CSMS."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import random
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ocpp_station.core.settings import ConnectorSpec
from ocpp_station.fleet.atg import (
    CHECK,
    FAULT,
    NETWORK_DOWN,
    PLUG,
    STOP_CARD,
    SWIPE,
    UNPLUG,
    AtgConfig,
    AtgCounters,
    AtgPlan,
    Distribution,
    SplitMix64,
    Step,
    atg_snapshot,
    parse_atg,
    parse_distribution,
    plan,
    run_atg,
    start_atg,
)
from ocpp_station.hardware.simulated import EVParams
from ocpp_station.sim.csms import CentralSystem
from ocpp_station.transport.station import Station
from tests.stations import StationFactory, station_config, until

# -- parsing -----------------------------------------------------------------------------------------

FULL = {
    "connectors": [1, 2],
    "arrival": {"exponential": {"mean": 600, "max": 3600}},
    "dailyProfile": [1] * 6 + [5] * 12 + [2] * 6,
    "remoteShare": 0.25,
    "idTagPattern": "TAG{n:05d}",
    "idTagCount": 500,
    "authDelay": {"uniform": [1, 5]},
    "startTimeout": 20,
    "ev": [
        {"weight": 3, "batteryKWh": 60, "maxPowerKW": 11, "phases": 3, "soc": {"uniform": [10, 40]}},
        {"weight": 1, "batteryKWh": 40, "maxPowerKW": 7.4, "phases": 1, "targetSoc": 80, "reportsSoc": False},
    ],
    "duration": {"normal": {"mean": 3600, "sd": 900, "min": 600, "max": 7200}},
    "idleAfterFull": 0,
    "stopByCard": 0.4,
    "unplugDelay": {"choice": [[5, 3], [60, 1]]},
    "faults": {
        "perHour": 0.1,
        "duration": {"fixed": 120},
        "errorCodes": ["GroundFailure", "HighTemperature"],
    },
    "networkDrops": {"perHour": 0.05, "duration": {"exponential": 30}},
}


def test_a_full_atg_object_parses() -> None:
    config = parse_atg(FULL, "templates[0].atg")
    assert config.connectors == (1, 2)
    assert config.arrival == Distribution("exponential", 600.0, d=3600.0)
    assert config.remote_share == 0.25
    assert config.id_tag_pattern == "TAG{n:05d}" and config.id_tag_count == 500 and config.id_tags == ()
    assert [m.weight for m in config.evs] == [3.0, 1.0]
    assert config.evs[1].battery_wh == 40_000 and config.evs[1].max_power_w == 7400
    assert config.evs[1].target_soc == Distribution("fixed", 80.0) and not config.evs[1].reports_soc
    assert config.duration == Distribution("normal", 3600.0, 900.0, 600.0, 7200.0)
    assert config.unplug_delay.values == (5.0, 60.0)
    assert config.faults is not None and config.faults.error_codes == ("GroundFailure", "HighTemperature")
    assert config.network_drops is not None and config.network_drops.per_hour == 0.05


def test_defaults_and_until_full() -> None:
    assert parse_atg({}, "atg") == AtgConfig()
    assert parse_atg({"duration": "full"}, "atg").duration is None
    assert parse_atg({"arrival": 30}, "atg").arrival == Distribution("fixed", 30.0)


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ([], "atg: must be an object"),
        ({"bogus": 1}, "atg.bogus: unknown field; known: connectors"),
        ({"connectors": []}, "atg.connectors: must be a non-empty list"),
        ({"connectors": [0]}, "atg.connectors[0]: must be a connector id >= 1"),
        ({"connectors": [1, 1]}, "atg.connectors: lists a connector twice"),
        ({"arrival": "soon"}, "atg.arrival: must be a number or one of"),
        ({"arrival": {"poisson": 3}}, "atg.arrival: must hold exactly one of fixed"),
        ({"arrival": {"fixed": 1, "uniform": [1, 2]}}, "atg.arrival: must hold exactly one of"),
        ({"arrival": -1}, "atg.arrival: every value must be >= 0"),
        ({"arrival": {"fixed": True}}, "atg.arrival.fixed: must be a number, got true"),
        ({"arrival": {"uniform": [5]}}, "atg.arrival.uniform: must be [low, high]"),
        ({"arrival": {"uniform": [5, "x"]}}, 'atg.arrival.uniform[1]: must be a number, got "x"'),
        ({"arrival": {"uniform": [5, 1]}}, "atg.arrival.uniform: low 5 is above high 1"),
        ({"arrival": {"uniform": [-5, 1]}}, "atg.arrival: every value must be >= 0"),
        ({"arrival": {"normal": {"sd": 1}}}, "atg.arrival.normal.mean: is required"),
        ({"arrival": {"normal": {"mean": 1}}}, "atg.arrival.normal.sd: is required"),
        ({"arrival": {"normal": {"mean": 1, "sd": -1}}}, "atg.arrival.normal.sd: must be a number >= 0"),
        (
            {"arrival": {"normal": {"mean": 1, "sd": 1, "min": 5, "max": 2}}},
            "atg.arrival.normal: min 5 is above max 2",
        ),
        ({"arrival": {"normal": {"mean": 1, "sd": 1, "min": -5}}}, "atg.arrival: every value must be >= 0"),
        ({"arrival": {"normal": {"mean": 1, "sd": 1, "low": 0}}}, "atg.arrival.normal.low: unknown field"),
        ({"arrival": {"exponential": 0}}, "atg.arrival.exponential: must be a number > 0, got 0"),
        ({"arrival": {"exponential": {"max": 3}}}, "atg.arrival.exponential.mean: is required"),
        (
            {"arrival": {"exponential": {"mean": 3, "max": -1}}},
            "atg.arrival.exponential.max: must be a number >= 0",
        ),
        ({"arrival": {"choice": []}}, "atg.arrival.choice: must be a non-empty list of [value, weight]"),
        ({"arrival": {"choice": [[1]]}}, "atg.arrival.choice[0]: must be [value, weight]"),
        ({"arrival": {"choice": [[1, -1]]}}, "atg.arrival.choice[0][1]: must be a number >= 0"),
        ({"arrival": {"choice": [[1, 0]]}}, "atg.arrival.choice: the weights add up to 0"),
        ({"dailyProfile": [1] * 23}, "atg.dailyProfile: must be a list of 24 rates"),
        ({"dailyProfile": [0] * 24}, "atg.dailyProfile: at least one hour must have a rate > 0"),
        ({"dailyProfile": [1] * 23 + [-1]}, "atg.dailyProfile[23]: must be a number >= 0"),
        ({"remoteShare": 1.5}, "atg.remoteShare: must be a share between 0 and 1, got 1.5"),
        ({"stopByCard": -0.1}, "atg.stopByCard: must be a number >= 0"),
        ({"startTimeout": 0}, "atg.startTimeout: must be a number > 0"),
        ({"idTags": []}, "atg.idTags: must be a non-empty list"),
        ({"idTags": ["x" * 21]}, "atg.idTags[0]: must be 1 to 20 characters"),
        ({"idTags": ["A"], "idTagPattern": "T{n}"}, "atg.idTags: give idTags or idTagPattern, not both"),
        ({"idTagCount": 3}, "atg.idTagCount: needs idTagPattern"),
        ({"idTagPattern": "T{m}"}, "atg.idTagPattern: 'T{m}' does not format with n and id"),
        ({"idTagPattern": "T{n}", "idTagCount": 0}, "atg.idTagCount: must be a whole number >= 1"),
        ({"idTagPattern": "VERY-LONG-CARD-NAME-{n}"}, "atg.idTagPattern: makes 'VERY-LONG-CARD-NAME-1'"),
        ({"idTagPattern": ""}, "atg.idTagPattern: must be a non-empty text"),
        ({"ev": []}, "atg.ev: must be a non-empty list of EV models"),
        ({"ev": [{"batteryKWh": 0}]}, "atg.ev[0].batteryKWh: must be a number > 0, got 0"),
        ({"ev": [{"maxPowerKW": "fast"}]}, 'atg.ev[0].maxPowerKW: must be a number, got "fast"'),
        ({"ev": [{"phases": 4}]}, "atg.ev[0].phases: must be 1, 2 or 3, got 4"),
        ({"ev": [{"soc": 120}]}, "atg.ev[0].soc: every value must be between 0 and 100"),
        (
            {"ev": [{"targetSoc": {"uniform": [50, 101]}}]},
            "atg.ev[0].targetSoc: every value must be between 0 and 100",
        ),
        ({"ev": [{"reportsSoc": 1}]}, "atg.ev[0].reportsSoc: must be true or false, got 1"),
        ({"ev": [{"weight": 0}]}, "atg.ev: the weights add up to 0"),
        ({"ev": [{}, {"color": "red"}]}, "atg.ev[1].color: unknown field"),
        ({"duration": "forever"}, "atg.duration: must be a number or one of"),
        ({"faults": {"duration": 3}}, "atg.faults.perHour: is required"),
        ({"faults": {"perHour": -1}}, "atg.faults.perHour: must be a number >= 0"),
        ({"faults": {"perHour": 1, "errorCodes": ["NoError"]}}, "atg.faults.errorCodes[0]: must be one of"),
        ({"faults": {"perHour": 1, "errorCodes": []}}, "atg.faults.errorCodes: must be a non-empty list"),
        (
            {"networkDrops": {"perHour": 1, "errorCodes": ["OtherError"]}},
            "atg.networkDrops.errorCodes: unknown field",
        ),
        (
            {"networkDrops": {"perHour": 1, "duration": {"uniform": [-1, 2]}}},
            "atg.networkDrops.duration: every value",
        ),
    ],
)
def test_every_error_names_its_field(data: object, error: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_atg(data, "atg")
    assert str(caught.value).startswith(error), str(caught.value)


@pytest.mark.parametrize(
    ("spec", "low", "high"),
    [
        (7, 7, 7),
        ({"uniform": [2, 3]}, 2, 3),
        ({"normal": {"mean": 10, "sd": 50, "min": 5, "max": 12}}, 5, 12),
        ({"exponential": {"mean": 10, "max": 15}}, 0, 15),
        ({"choice": [[1, 1], [9, 2]]}, 1, 9),
    ],
)
def test_distributions_keep_within_their_bounds(spec: object, low: float, high: float) -> None:
    dist = parse_distribution(spec, "d")
    rng = SplitMix64(3)
    samples = [dist.sample(rng) for _ in range(2000)]
    assert low <= min(samples) and max(samples) <= high
    if spec == {"choice": [[1, 1], [9, 2]]}:
        assert 0.6 < samples.count(9) / len(samples) < 0.73  # weighted 2 in 3


# -- the generator -------------------------------------------------------------------------------------

#: The first outputs of Vigna's reference splitmix64.c for the state 1477776061723855037, as the
#: rand_xoshiro crate's test ``reference`` lists them (rust-random/rngs, rand_xoshiro/src/splitmix64.rs).
SPLITMIX64_REFERENCE = (
    1985237415132408290,
    2979275885539914483,
    13511426838097143398,
    8488337342461049707,
    15141737807933549159,
    17093170987380407015,
    16389528042912955399,
    13177319091862933652,
    10841969400225389492,
    17094824097954834098,
)
SEEDS = st.integers(min_value=-(2**70), max_value=2**70)


def test_splitmix64_gives_the_reference_outputs() -> None:
    rng = SplitMix64(1477776061723855037)
    assert tuple(rng.next_u64() for _ in SPLITMIX64_REFERENCE) == SPLITMIX64_REFERENCE


def test_the_generator_is_small() -> None:
    rng = SplitMix64(2**63 + 5)
    assert not hasattr(rng, "__dict__") and type(rng).__slots__ == ("state",)
    assert rng.state == 2**63 + 5 and SplitMix64(-1).state == 2**64 - 1  # the seed modulo 2**64


@given(SEEDS)
def test_the_same_seed_draws_the_same(seed: int) -> None:
    one, two = SplitMix64(seed), SplitMix64(seed)
    assert [one.random() for _ in range(5)] == [two.random() for _ in range(5)]
    assert one.normal(0, 1) == two.normal(0, 1) and one.randrange(7) == two.randrange(7)
    assert SplitMix64(seed).next_u64() != SplitMix64(seed + 1).next_u64()


@given(SEEDS, st.floats(-1e6, 1e6), st.floats(0, 1e6), st.floats(1e-6, 1e6), st.integers(1, 2**64))
def test_every_draw_keeps_within_its_range(seed: int, a: float, width: float, lambd: float, n: int) -> None:
    rng = SplitMix64(seed)
    for _ in range(20):
        assert 0.0 <= rng.random() < 1.0
        assert a <= rng.uniform(a, a + width) <= a + width
        assert rng.expovariate(lambd) >= 0.0
        assert math.isfinite(rng.normal(a, width))
        assert 0 <= rng.randrange(n) < n
        assert rng.choice("xyz") in "xyz"
        assert rng.weighted_index([0.0, width + 1.0, 0.0, 1.0]) in (1, 3)


@given(SEEDS, st.lists(st.floats(0, 100), min_size=1, max_size=6).filter(lambda w: sum(w) > 0))
def test_a_zero_weight_is_never_drawn(seed: int, weights: list[float]) -> None:
    rng = SplitMix64(seed)
    assert all(weights[rng.weighted_index(weights)] > 0 for _ in range(20))


def test_randrange_refuses_a_range_it_cannot_draw() -> None:
    for n in (0, 2**64 + 1):
        with pytest.raises(ValueError, match=f"randrange: n must be between 1 and 2\\*\\*64, got {n}"):
            SplitMix64(1).randrange(n)


def _mean_var(xs: list[float]) -> tuple[float, float]:
    mean = sum(xs) / len(xs)
    return mean, sum((x - mean) ** 2 for x in xs) / (len(xs) - 1)


def test_the_draws_have_their_distributions_moments() -> None:
    """10,000 draws of each, a fixed seed (deterministic: never flaky); tolerances of about 5
    standard errors, so a wrong formula (a factor, a missing square root) fails."""
    rng = SplitMix64(20240611)
    n = 10_000
    mean, var = _mean_var([rng.random() for _ in range(n)])
    assert abs(mean - 0.5) < 0.015 and abs(var - 1 / 12) < 0.005
    mean, var = _mean_var([rng.uniform(10, 20) for _ in range(n)])
    assert abs(mean - 15) < 0.15 and abs(var - 100 / 12) < 0.5
    mean, var = _mean_var([rng.expovariate(1 / 600) for _ in range(n)])
    assert abs(mean - 600) < 30 and abs(var - 600**2) < 0.1 * 600**2
    mean, var = _mean_var([rng.normal(3600, 900) for _ in range(n)])
    assert abs(mean - 3600) < 45 and abs(var - 900**2) < 0.07 * 900**2
    draws = [rng.randrange(6) for _ in range(n)]
    assert all(abs(draws.count(k) / n - 1 / 6) < 0.02 for k in range(6))
    picks = [rng.weighted_index([3, 2, 1]) for _ in range(n)]
    assert [round(picks.count(k) / n, 1) for k in range(3)] == [0.5, 0.3, 0.2]


# -- the plan: deterministic, without time ----------------------------------------------------------

TWO = (ConnectorSpec(), ConnectorSpec(max_current_a=16, phases=1))


def _take(config: AtgConfig, seed: int, count: int = 300, **kwargs: Any) -> list[Step]:
    return list(itertools.islice(plan(config, seed, TWO, **kwargs), count))


def test_the_same_seed_makes_the_same_plan_and_another_seed_another() -> None:
    config = parse_atg(FULL, "atg")
    first = _take(config, 42, charge_point_id="CP-1", start_hour=8.5)
    assert first == _take(config, 42, charge_point_id="CP-1", start_hour=8.5)
    assert first != _take(config, 43, charge_point_id="CP-1", start_hour=8.5)
    # No global random state is used: drawing from it in between changes nothing.
    random.seed(1)
    random.random()
    assert first == _take(config, 42, charge_point_id="CP-1", start_hour=8.5)


def test_the_plan_is_in_time_order_and_each_session_is_well_formed() -> None:
    config = parse_atg(FULL, "atg")
    steps = _take(config, 7, count=2000)
    times = [s.at for s in steps]
    assert times == sorted(times)
    kinds = {s.kind for s in steps}
    assert {PLUG, SWIPE, CHECK, STOP_CARD, UNPLUG}.issubset(kinds)
    for cid in (1, 2):
        sessions: dict[int, list[str]] = {}
        for s in steps:
            if s.connector == cid and s.session:
                sessions.setdefault(s.session, []).append(s.kind)
        complete = list(sessions.values())[:-1]  # the last may be cut by the islice
        assert len(complete) > 10
        for kinds_of in complete:
            assert kinds_of[0] == PLUG and kinds_of[-1] == UNPLUG
            assert kinds_of.count(CHECK) == 1
            assert kinds_of in (
                [PLUG, SWIPE, CHECK, UNPLUG],
                [PLUG, SWIPE, CHECK, STOP_CARD, UNPLUG],
                [PLUG, CHECK, UNPLUG],
                [PLUG, CHECK, STOP_CARD, UNPLUG],
            )


def test_ev_models_ids_and_shares_follow_the_template() -> None:
    config = parse_atg(FULL, "atg")
    steps = _take(config, 11, count=5000, charge_point_id="CP-1")
    plugs = [s for s in steps if s.kind == PLUG]
    evs: list[EVParams] = [s.value for s in plugs]
    three = [e for e in evs if e.phases == 3]
    one = [e for e in evs if e.phases == 1]
    assert 0.6 < len(three) / len(evs) < 0.9  # weights 3:1
    assert all(
        e.battery_wh == 60_000 and 10 <= e.soc_percent <= 40 and e.target_soc_percent == 100 for e in three
    )
    assert all(math.isclose(e.max_current_a * 230 * 3, 11_000) for e in three)
    assert all(e.target_soc_percent == 80 and not e.reports_soc for e in one)
    assert all(math.isclose(e.max_current_a * 230, 7_400) for e in one)
    tags = {s.value for s in steps if s.kind == SWIPE}
    assert all(t.startswith("TAG") and 1 <= int(t[3:]) <= 500 for t in tags)
    checks = [s for s in steps if s.kind == CHECK]
    assert 0.15 < sum(1 for c in checks if c.value) / len(checks) < 0.35  # remoteShare 0.25


def test_until_full_lasts_the_time_to_charge() -> None:
    config = parse_atg(
        {
            "duration": "full",
            "remoteShare": 1,
            "stopByCard": 0,
            "startTimeout": 1e9,
            "ev": [{"batteryKWh": 22, "maxPowerKW": 11, "soc": 50, "targetSoc": 100}],
        },
        "atg",
    )
    steps = list(itertools.islice(plan(config, 1, (ConnectorSpec(),)), 3))
    assert [s.kind for s in steps] == [PLUG, CHECK, UNPLUG]
    # 11 kWh at 11 kW: one hour from the plug (a remote start starts at the plug).
    assert steps[2].at - steps[0].at == pytest.approx(3600.0)


def test_faults_and_network_drops_come_at_their_rate() -> None:
    config = parse_atg(
        {
            "arrival": 1e6,
            "faults": {"perHour": 6, "duration": 60},
            "networkDrops": {"perHour": 3, "duration": 30},
        },
        "atg",
    )
    steps = [s for s in itertools.islice(plan(config, 5, TWO), 4000) if s.at < 1000 * 3600]
    faults = sum(1 for s in steps if s.kind == FAULT)
    drops = sum(1 for s in steps if s.kind == NETWORK_DOWN)
    # About 6 and 3 per hour (less the time the previous one lasted).
    assert 5.0 < faults / (steps[-1].at / 3600) < 6.5
    assert 2.5 < drops / (steps[-1].at / 3600) < 3.3


def test_a_daily_profile_shapes_the_arrivals() -> None:
    profile = [0.0] * 24
    profile[9] = 1.0  # only between 9:00 and 10:00
    config = parse_atg({"arrival": {"exponential": 60}, "dailyProfile": profile, "duration": 10}, "atg")
    plugs = [
        s
        for s in itertools.islice(plan(config, 2, (ConnectorSpec(),), start_hour=8.0), 2000)
        if s.kind == PLUG
    ]
    assert len(plugs) > 50
    assert all(int((8.0 + s.at / 3600) % 24) == 9 for s in plugs)


def test_the_plan_is_one_small_state_stepped_in_place() -> None:
    config = parse_atg(FULL, "atg")
    state = AtgPlan(config, 42, TWO, charge_point_id="CP-1", start_hour=8.5)
    assert not hasattr(state, "__dict__")
    expected = _take(config, 42, count=500, charge_point_id="CP-1", start_hour=8.5)
    for step in expected:
        assert state.next_at() == step.at
        assert state.next_step() == step


def test_a_plan_with_nothing_to_drive_is_empty() -> None:
    config = parse_atg({"connectors": [3]}, "atg")  # the station has two
    assert list(plan(config, 1, TWO)) == []
    assert AtgPlan(config, 1, TWO).next_at() == math.inf
    with pytest.raises(StopIteration):
        AtgPlan(config, 1, TWO).next_step()
    drops = parse_atg({"connectors": [3], "networkDrops": {"perHour": 1}}, "atg")
    assert {s.kind for s in itertools.islice(plan(drops, 1, TWO), 10)} == {NETWORK_DOWN, "network-up"}


# -- real runs against the development CSMS ----------------------------------------------------------

FAST = {
    "arrival": {"uniform": [0.1, 0.3]},
    "authDelay": 0.1,
    "duration": {"uniform": [1.0, 1.5]},
    "stopByCard": 0.5,
    "unplugDelay": 0.1,
    "startTimeout": 3,
    "idTags": ["CARD-1", "CARD-2"],
    "ev": [{"batteryKWh": 50, "maxPowerKW": 22, "soc": {"uniform": [20, 60]}}],
}
SAMPLED = {
    "MeterValueSampleInterval": 1,
    "MeterValuesSampledData": "Energy.Active.Import.Register,Power.Active.Import",
}


async def _run_for(
    stations: list[Station], config: AtgConfig, seconds: float, counters: AtgCounters, seed: int = 100
) -> None:
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(run_atg(s, config, seed + i, stop, counters=counters))
        for i, s in enumerate(stations)
    ]
    await asyncio.sleep(seconds)
    stop.set()
    async with asyncio.timeout(2):
        await asyncio.gather(*tasks)


async def test_sessions_reach_the_csms(csms: CentralSystem, start_station: StationFactory) -> None:
    stations = [await start_station(station_config(csms.url, f"ATG-{i}", ocpp=SAMPLED)) for i in range(3)]
    counters = AtgCounters()
    await _run_for(stations, parse_atg(FAST, "atg"), 4.5, counters)
    for station in stations:
        cp = station.config.charge_point_id
        calls = [e for e in csms.log if e.charge_point_id == cp and e.kind == "CALL" and e.direction == "in"]
        actions = {e.action for e in calls}
        assert {"StartTransaction", "StopTransaction", "MeterValues"} <= actions, (cp, actions)
        starts = [e.payload for e in calls if e.action == "StartTransaction"]
        assert {s["idTag"] for s in starts} <= {"CARD-1", "CARD-2"}
    assert counters.plugged >= 6 and counters.started >= 6 and counters.refused == 0
    assert counters.stopped_by_card >= 1 and counters.errors == 0
    assert counters.unplugged >= counters.started


async def test_a_refused_card_ends_the_attempt_and_is_counted(
    csms: CentralSystem, start_station: StationFactory
) -> None:
    csms.valid_id_tags = {"CARD-1"}
    station = await start_station(station_config(csms.url, "ATG-R"))
    counters = AtgCounters()
    config = parse_atg({**FAST, "idTags": ["STOLEN"], "startTimeout": 0.5}, "atg")
    await _run_for([station], config, 2.5, counters)
    assert counters.refused >= 1 and counters.started == 0 and counters.errors == 0
    assert counters.unplugged == counters.plugged or counters.unplugged == counters.plugged - 1
    assert not [e for e in csms.log if e.action == "StartTransaction"]
    assert [e for e in csms.log if e.action == "Authorize" and e.kind == "CALL"]


async def test_a_remote_start_comes_from_the_csms(csms: CentralSystem, start_station: StationFactory) -> None:
    station = await start_station(station_config(csms.url, "ATG-REMOTE"))

    async def operator() -> None:
        """The CSMS starts a transaction on every connector that becomes Preparing."""
        since = 0
        while True:
            entry = await csms.wait_for(
                lambda e: (
                    e.action == "StatusNotification"
                    and e.kind == "CALL"
                    and e.payload["status"] == "Preparing"
                ),
                timeout=30,
                since=since,
            )
            since = csms.log.index(entry) + 1
            await csms.call("ATG-REMOTE", "RemoteStartTransaction", {"idTag": "OPERATOR", "connectorId": 1})

    helper = asyncio.create_task(operator())
    counters = AtgCounters()
    try:
        await _run_for(
            [station], parse_atg({**FAST, "remoteShare": 1, "stopByCard": 1}, "atg"), 3.5, counters
        )
    finally:
        helper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await helper
    assert counters.swipes == 0 and counters.started >= 2 and counters.remote_timeouts == 0
    stops = [e.payload for e in csms.log if e.action == "StopTransaction" and e.kind == "CALL"]
    assert stops and all(s["idTag"] == "OPERATOR" for s in stops)  # stopped by the same card
    assert {e.payload["idTag"] for e in csms.log if e.action == "StartTransaction" and e.kind == "CALL"} == {
        "OPERATOR"
    }


async def test_without_the_remote_start_the_ev_gives_up(
    csms: CentralSystem, start_station: StationFactory
) -> None:
    station = await start_station(station_config(csms.url, "ATG-WAIT"))
    counters = AtgCounters()
    await _run_for(
        [station], parse_atg({**FAST, "remoteShare": 1, "startTimeout": 0.3}, "atg"), 2.0, counters
    )
    assert counters.remote_timeouts >= 2 and counters.started == 0 and counters.errors == 0


async def test_faults_and_network_drops_are_undone_at_stop(
    csms: CentralSystem, start_station: StationFactory
) -> None:
    station = await start_station(station_config(csms.url, "ATG-F"))
    counters = AtgCounters()
    config = parse_atg(
        {
            "arrival": 1e6,
            "faults": {"perHour": 3600 * 4, "duration": 30, "errorCodes": ["GroundFailure"]},
            "networkDrops": {"perHour": 3600 * 4, "duration": 30},
        },
        "atg",
    )
    # A seed whose fault comes first (its StatusNotification is not queued while the network is down).
    first = list(itertools.islice(plan(config, 102, station.config.connectors), 2))
    assert [s.kind for s in first] == [FAULT, NETWORK_DOWN] and first[1].at - first[0].at > 0.1
    await _run_for([station], config, 1.0, counters, seed=102)
    assert counters.faults == 1 and counters.network_drops == 1  # each lasts 30 s: one of each
    # The faults and the drop end with the ATG: the station reconnects and reports the fault cleared.
    await until(lambda: station.state()["connected"], timeout=5)
    await csms.wait_for(
        lambda e: (
            e.action == "StatusNotification"
            and e.kind == "CALL"
            and e.payload["errorCode"] == "NoError"
            and e.payload["connectorId"] == 1
            and e.payload["status"] == "Available"
        ),
        since=max(
            i
            for i, e in enumerate(csms.log)
            if e.action == "StatusNotification" and e.payload.get("errorCode") == "GroundFailure"
        ),
    )


async def test_stop_already_set_returns_at_once(csms: CentralSystem, start_station: StationFactory) -> None:
    station = await start_station(station_config(csms.url, "ATG-S"))
    stop = asyncio.Event()
    stop.set()
    async with asyncio.timeout(1):
        await run_atg(station, parse_atg(FAST, "atg"), 1, stop)
    assert not station.state()["connectors"][1]["meterWh"]


async def test_cancelling_leaves_nothing_behind(csms: CentralSystem, start_station: StationFactory) -> None:
    station = await start_station(station_config(csms.url, "ATG-C"))
    config = parse_atg({"arrival": 1e6, "networkDrops": {"perHour": 3600 * 10, "duration": 60}}, "atg")
    task = asyncio.create_task(run_atg(station, config, 1, asyncio.Event(), counters=AtgCounters()))
    await until(lambda: not station.state()["connected"], timeout=5)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await until(lambda: station.state()["connected"], timeout=5)


async def test_start_atg_runs_without_a_task(csms: CentralSystem, start_station: StationFactory) -> None:
    station = await start_station(station_config(csms.url, "ATG-T", ocpp=SAMPLED))
    counters = AtgCounters()
    tasks = len(asyncio.all_tasks())
    running = atg_snapshot()["running"]
    driver = start_atg(station, parse_atg(FAST, "atg"), 5, counters=counters)
    assert len(asyncio.all_tasks()) == tasks and atg_snapshot()["running"] == running + 1
    await until(lambda: counters.started >= 2 and counters.unplugged >= 2, timeout=10)
    driver.close()
    driver.close()  # idempotent
    assert atg_snapshot()["running"] == running and not driver.running
    done = counters.as_dict()
    await asyncio.sleep(0.5)
    assert counters.as_dict() == done  # no step after close
    assert counters.errors == 0 and counters.refused == 0


def test_atg_snapshot_is_plain_ints_that_add_up() -> None:
    snapshot = atg_snapshot()
    assert set(snapshot) == set(AtgCounters().as_dict()) | {"running"}
    assert all(type(v) is int for v in snapshot.values())


async def test_zero_gaps_never_hold_the_loop(csms: CentralSystem, start_station: StationFactory) -> None:
    """A template whose every time is 0 makes endless steps at t = 0: a wake takes a bounded number
    and lets the loop run."""
    station = await start_station(station_config(csms.url, "ATG-Z"))
    counters = AtgCounters()
    config = parse_atg(
        {"arrival": 0, "authDelay": 0, "duration": 0, "unplugDelay": 0, "startTimeout": 1}, "atg"
    )
    driver = start_atg(station, config, 1, counters=counters)
    try:
        async with asyncio.timeout(5):
            await asyncio.sleep(0.05)
            await asyncio.sleep(0.05)
    finally:
        driver.close()
    assert counters.plugged >= 300  # about 220 sessions a wake: the loop went round between wakes
