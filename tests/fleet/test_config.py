"""The fleet file and flags (fleet/config.py): every error names its field; id patterns; shares."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ocpp_station.config.station import ConfigError
from ocpp_station.fleet.config import (
    Overrides,
    assign_templates,
    load_fleet,
    make_ids,
    parse_duration,
    parse_fleet,
    parse_ramp,
)

URL = "ws://127.0.0.1:9000/ocpp/"
REPO = Path(__file__).resolve().parents[2]


def fleet(**fields: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"url": URL, "count": 4}
    data.update(fields)
    return {k: v for k, v in data.items() if v is not None}


ERRORS: list[tuple[str, dict[str, Any], str, str]] = [
    # (case, fleet file, the field named, a part of the message)
    ("not an object", [], "", "must be a JSON object"),  # type: ignore[list-item]
    ("unknown field", fleet(cout=3), "cout", "unknown field"),
    ("no url", fleet(url=None), "url", "is required"),
    ("url scheme", fleet(url="http://x/ocpp/"), "url", "ws:// or wss://"),
    ("empty url list", fleet(url=[]), "url", "non-empty list"),
    ("url list item", fleet(url=[URL, "http://x/"]), "url[1]", "ws:// or wss://"),
    ("environment without WS_URL", fleet(url=None, development={}), "development.WS_URL", "is required"),
    ("environment url", fleet(url=None, development={"WS_URL": "ftp://x"}), "development.WS_URL", "ws://"),
    ("no count", fleet(count=None), "count", "is required"),
    ("count zero", fleet(count=0), "count", ">= 1"),
    ("count decimal", fleet(count=2.5), "count", "whole number"),
    ("count text", fleet(count="4"), "count", "whole number"),
    ("pattern without n", fleet(idPattern="CP"), "idPattern", "ids must be distinct"),
    ("pattern other field", fleet(idPattern="CP-{id}"), "idPattern", "does not format with n"),
    ("pattern positional", fleet(idPattern="CP-{}"), "idPattern", "does not format with n"),
    ("pattern bad spec", fleet(idPattern="CP-{n:q}"), "idPattern", "does not format with n"),
    ("pattern slash", fleet(idPattern="site/{n}"), "idPattern", "cannot stand in the URL"),
    ("pattern space", fleet(idPattern="CP {n}"), "idPattern", "cannot stand in the URL"),
    ("pattern percent", fleet(idPattern="CP%{n}"), "idPattern", "cannot stand in the URL"),
    ("pattern too long", fleet(idPattern="C" * 47 + "{n:02d}"), "idPattern", "1 to 48 characters"),
    ("pattern repeats", fleet(idPattern="CP-{n!s:.1}", count=12), "idPattern", "distinct"),
    ("pattern empty", fleet(idPattern=""), "idPattern", "non-empty"),
    ("ramp zero", fleet(ramp=0), "ramp", "more than 0"),
    ("ramp text", fleet(ramp="fast"), "ramp", "stations per second"),
    ("duration unit", fleet(duration="10 days"), "duration", "10m, 600s"),
    ("duration negative", fleet(duration=-1), "duration", "more than 0"),
    ("seed", fleet(seed=-1), "seed", ">= 0"),
    ("processes", fleet(processes=0), "processes", ">= 1"),
    ("report", fleet(report=3), "report", "path"),
    ("templates empty", fleet(templates=[]), "templates", "at least one"),
    ("templates object", fleet(templates={}), "templates", "at least one"),
    ("template not object", fleet(templates=[3]), "templates[0]", "must be an object"),
    ("template unknown field", fleet(templates=[{"dataDir": "x"}]), "templates[0].dataDir", "unknown field"),
    ("template control", fleet(templates=[{"control": {}}]), "templates[0].control", "unknown field"),
    ("template both", fleet(templates=[{"count": 1, "share": 1}]), "templates[0]", "not both"),
    ("template share", fleet(templates=[{"share": 0}]), "templates[0].share", "> 0"),
    ("template count", fleet(templates=[{"count": -1}]), "templates[0].count", ">= 0"),
    ("template name", fleet(templates=[{"name": ""}]), "templates[0].name", "non-empty"),
    (
        "template names taken",
        fleet(templates=[{"name": "a", "share": 1}, {"name": "a", "share": 1}]),
        "templates[1].name",
        "taken",
    ),
    ("counts too many", fleet(templates=[{"count": 5}]), "templates", "more than the fleet's 4"),
    ("no share for the rest", fleet(templates=[{"count": 3}]), "templates", "no template has a share"),
    (
        "ocpp key unknown",
        fleet(templates=[{"ocpp": {"HeartbeatIntervall": 5}}]),
        "templates[0].ocpp",
        "HeartbeatIntervall",
    ),
    (
        "ocpp value",
        fleet(templates=[{"ocpp": {"HeartbeatInterval": "often"}}]),
        "templates[0].ocpp",
        "HeartbeatInterval",
    ),
    (
        "identity too long",
        fleet(templates=[{"identity": {"chargePointModel": "M" * 21}}]),
        "templates[0].identity.chargePointModel",
        "at most 20",
    ),
    (
        "connector phases",
        fleet(templates=[{"connectors": [{"phases": 2}]}]),
        "templates[0].connectors[0].phases",
        "1 or 3",
    ),
    ("ev", fleet(templates=[{"ev": {"phases": 5}}]), "templates[0].ev", "phases"),
    (
        "durability",
        fleet(templates=[{"durability": {"sync": "fast"}}]),
        "templates[0].durability.sync",
        "full",
    ),
    (
        "fileTransfer",
        fleet(templates=[{"fileTransfer": {"logLine": 0}}]),
        "templates[0].fileTransfer",
        "unknown field",
    ),
    ("passwords type", fleet(templates=[{"passwords": 3}]), "templates[0].passwords", "pattern"),
    ("passwords pattern", fleet(templates=[{"passwords": "pw-{cp}"}]), "templates[0].passwords", "format"),
    (
        "passwords file missing",
        fleet(templates=[{"passwords": {"file": "nope.json"}}]),
        "templates[0].passwords.file",
        "file not found",
    ),
]


@pytest.mark.parametrize(("case", "data", "field", "text"), ERRORS, ids=[e[0] for e in ERRORS])
def test_every_error_names_its_field(case: str, data: Any, field: str, text: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_fleet(data, "fleet.json")
    assert caught.value.field_path == field, str(caught.value)
    assert text in caught.value.message, str(caught.value)
    assert str(caught.value).startswith("fleet.json: ")


FLAG_ERRORS: list[tuple[Overrides, str, str]] = [
    (Overrides(url="tcp://x"), "--url", "ws://"),
    (Overrides(count=0), "--count", ">= 1"),
    (Overrides(id_pattern="a/{n}"), "--id-pattern", "URL"),
    (Overrides(ramp="-3/s"), "--ramp", "stations per second"),
    (Overrides(duration="soon"), "--duration", "10m"),
    (Overrides(processes=0), "--processes", ">= 1"),
]


@pytest.mark.parametrize(("flags", "field", "text"), FLAG_ERRORS, ids=[f[1] for f in FLAG_ERRORS])
def test_flag_errors_name_the_flag(flags: Overrides, field: str, text: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_fleet(fleet(), "fleet.json", flags)
    assert caught.value.field_path == field
    assert text in caught.value.message


def test_flags_win_over_the_file() -> None:
    flags = Overrides(
        url="ws://10.0.0.1:9000/x",
        count=3,
        id_pattern="S{n}",
        ramp="7/s",
        duration="2m",
        processes=2,
        seed=9,
        report=Path("r.json"),
    )
    config = parse_fleet(fleet(ramp=1, duration=5, seed=1, processes=1), "f.json", flags)
    assert (config.url, config.count, config.ids) == ("ws://10.0.0.1:9000/x", 3, ("S1", "S2", "S3"))
    assert (config.ramp_per_s, config.duration_s, config.processes, config.seed) == (7.0, 120.0, 2, 9)
    assert config.report == Path("r.json")
    # each station: its id appended to the URL (OCPP-J 1.6 §3.1.1)
    assert config.station_config(2).url == "ws://10.0.0.1:9000/x/S3"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        (600, 600.0),
        (1.5, 1.5),
        ("600s", 600.0),
        ("10m", 600.0),
        ("10min", 600.0),
        ("1.5h", 5400.0),
        ("500ms", 0.5),
    ],
)
def test_durations(text: Any, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(("text", "rate"), [(200, 200.0), ("200/s", 200.0), ("2.5", 2.5), ("50 / s", 50.0)])
def test_ramps(text: Any, rate: float) -> None:
    assert parse_ramp(text) == rate


def test_id_patterns() -> None:
    assert make_ids("CP-{n:05d}", 3) == ("CP-00001", "CP-00002", "CP-00003")
    assert make_ids("site.A_{n}~x", 2) == ("site.A_1~x", "site.A_2~x")
    assert make_ids("only", 1) == ("only",)  # one station needs no n
    with pytest.raises(ValueError, match="for n=1 and n=2"):
        make_ids("only", 2)
    with pytest.raises(ValueError, match="for n=1 and n=10"):
        make_ids("CP{n!s:.1}", 11)  # the first digit only: 1 and 10 collide


def test_the_url_of_an_environment_section_like_the_station_config() -> None:
    config = parse_fleet({"development": {"WS_URL": "ws://h:1/ocpp"}, "count": 2}, "f.json")
    assert config.station_config(0).url == "ws://h:1/ocpp/CP-00001"


def test_several_urls_spread_the_stations_in_turn() -> None:
    """A CSMS behind several endpoints (or more connections than one client address has ephemeral
    ports for one server port): station i connects to urls[i % len(urls)]."""
    two = ["ws://h:1/ocpp/", "ws://h:2/ocpp/"]
    config = parse_fleet(fleet(url=two, count=3), "f.json")
    assert [config.station_config(i).url for i in range(3)] == [
        "ws://h:1/ocpp/CP-00001",
        "ws://h:2/ocpp/CP-00002",
        "ws://h:1/ocpp/CP-00003",
    ]
    assert config.summary()["urls"] == two
    flags = parse_fleet(fleet(), "f.json", Overrides(url=[*two, "ws://h:3/"]))
    assert flags.station_config(2).url == "ws://h:3/CP-00003"
    one = parse_fleet(fleet(), "f.json", Overrides(url=["ws://h:4/"]))
    assert one.urls == () and "urls" not in one.summary()
    with pytest.raises(ConfigError, match="--url"):
        parse_fleet(fleet(), "f.json", Overrides(url=["ws://h:4/", "nope"]))


def test_template_shares_and_counts_add_up_exactly() -> None:
    config = parse_fleet(
        fleet(
            count=10,
            templates=[
                {"name": "a", "share": 1},
                {"name": "fixed", "count": 3},
                {"name": "b", "share": 2},
            ],
        ),
        "f.json",
    )
    names = [config.templates[t].name for t in config.template_of]
    # 3 fixed, the other 7 split 1:2 -> 2.33 / 4.67 -> 2 / 5 (largest remainder gives b the extra one)
    assert names.count("fixed") == 3 and names.count("a") == 2 and names.count("b") == 5
    assert len(config.template_of) == 10
    assert assign_templates(config.templates, 3) is not None


def test_a_template_counts_zero_is_allowed_and_shares_need_not_sum_to_one() -> None:
    config = parse_fleet(fleet(count=4, templates=[{"count": 0}, {"share": 0.3}, {"share": 0.3}]), "f.json")
    assert config.template_of == (1, 1, 2, 2)


def test_templates_go_through_the_station_parser_with_fleet_defaults() -> None:
    config = parse_fleet(
        fleet(
            count=2,
            templates=[
                {
                    "identity": {"chargePointVendor": "ACME"},
                    "connectors": {"count": 2, "type": "cable"},
                    "ocpp": {"heartbeatinterval": 60},
                    "ev": {"soc": 50},
                    "connection": {"callTimeout": 7},
                    "passwords": "pw-{id}-{n}",
                }
            ],
        ),
        "f.json",
    )
    station = config.station_config(1)
    assert station.charge_point_id == "CP-00002"
    assert station.identity["chargePointVendor"] == "ACME"
    assert len(station.connectors) == 2 and station.connectors[0].kind == "cable"
    assert station.ocpp == {"HeartbeatInterval": "60"}
    assert station.ev.soc_percent == 50 and station.call_timeout_s == 7
    assert station.basic_auth_password == "pw-CP-00002-2"
    assert station.data_dir is None  # the memory store
    assert station.file_transfer.log_lines == 0  # no diagnostics log unless asked
    custom = parse_fleet(fleet(templates=[{"fileTransfer": {"logLines": 50}}]), "f.json")
    assert custom.station_config(0).file_transfer.log_lines == 50


def test_passwords_from_a_map_file(tmp_path: Path) -> None:
    (tmp_path / "pw.json").write_text(json.dumps({"CP-00001": "one", "CP-00002": "two"}))
    data = fleet(count=2, templates=[{"passwords": {"file": "pw.json"}}])
    (tmp_path / "fleet.json").write_text(json.dumps(data))
    config = load_fleet(tmp_path / "fleet.json")
    assert [config.station_config(i).basic_auth_password for i in range(2)] == ["one", "two"]
    data["count"] = 3
    (tmp_path / "fleet.json").write_text(json.dumps(data))
    with pytest.raises(ConfigError, match=r"templates\[0\].passwords.file: no password for 'CP-00003'"):
        load_fleet(tmp_path / "fleet.json")
    (tmp_path / "pw.json").write_text("[1]")
    with pytest.raises(ConfigError, match="id -> non-empty password"):
        load_fleet(tmp_path / "fleet.json")


def test_load_fleet_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_fleet(tmp_path / "none.json")
    (tmp_path / "bad.json").write_text('{"count": 1,}')
    with pytest.raises(ConfigError, match="line 1 column"):
        load_fleet(tmp_path / "bad.json")


def test_the_example_file_loads() -> None:
    config = load_fleet(REPO / "examples" / "fleet.json")
    assert config.count == 200 and config.duration_s == 600 and config.ramp_per_s == 50
    names = [config.templates[t].name for t in config.template_of]
    assert names.count("wallbox") == 150 and names.count("twin") == 50
    twin = config.station_config(names.index("twin"))
    assert len(twin.connectors) == 2 and twin.basic_auth_password == f"secret-{twin.charge_point_id}"


def test_every_packaged_scenario_loads_through_the_fleet_config() -> None:
    from ocpp_station.fleet.scenarios import scenario_names

    for name in scenario_names():
        config = load_fleet(None, Overrides(url=URL, count=10), name)
        assert config.count == 10 and config.scenario == name
    with pytest.raises(ConfigError) as caught:
        load_fleet(None, Overrides(url=URL, count=10), "no-such-scenario")
    assert caught.value.source == "--scenario"
