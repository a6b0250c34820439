"""The fleet file (FLEET.json) and the ``ocpp-station fleet`` flags: N stations from templates.

A fleet is a CSMS URL, a count, an id pattern (``CP-{n:05d}``, n = 1..count), a paced start (``ramp``
stations per second), a duration, a seed and one or more templates. A template is the body of a
station config file (``identity``, ``connectors``, ``ocpp``, ``ev``, ``connection``, ``durability``,
``fileTransfer``, ``security``: docs/configuration.md) plus its share of the fleet (``share`` or
``count``), Basic-auth passwords per id (``passwords``) and the automatic transaction generator
(``atg``, :mod:`ocpp_station.fleet.atg`). Each template is parsed once by the station's own parser
(:func:`~ocpp_station.config.station.parse_config`), so every station option works and every error
names its field; each station is that StationConfig with its own id, URL and password.

Errors raise :class:`~ocpp_station.config.station.ConfigError` (``FILE: FIELD: what is wrong``), like
the station's config: the CLI exits with code 2. docs/fleet.md lists every field.
"""

from __future__ import annotations

import importlib
import json
import math
import os
import re
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ocpp_station.config.station import ConfigError, StationConfig, build_url, parse_config, read_json_file

#: Station config sections a template may hold (passed to the station's parser as they are).
STATION_SECTIONS = (
    "identity",
    "connectors",
    "ocpp",
    "ev",
    "connection",
    "durability",
    "fileTransfer",
    "security",
)
#: A template's own fields besides the station sections.
TEMPLATE_FIELDS = ("name", "share", "count", "passwords", "atg")
#: What a fleet station gets unless its template says otherwise: no diagnostics log (issue 11: a
#: 2,000-line log per station costs more than the station), a short grace at stop.
FLEET_DEFAULTS: dict[str, dict[str, Any]] = {
    "fileTransfer": {"logLines": 0, "logBytes": 0},
}
#: Top-level fields of a fleet file.
FLEET_FIELDS = (
    "url",
    "development",
    "count",
    "idPattern",
    "ramp",
    "duration",
    "seed",
    "processes",
    "templates",
    "actions",
    "report",
    "controlPort",
    "controlHost",
    "live",
    "description",
)
DEFAULT_ID_PATTERN = "CP-{n:05d}"
DEFAULT_RAMP_PER_S = 100.0
#: Characters a charge point id may hold so that it is one path segment of the OCPP-J URL as it is
#: (RFC 3986 pchar without percent-encoding; OCPP-J 1.6 §3.1.1), at most 48 of them.
ID_CHARACTERS = frozenset(string.ascii_letters + string.digits + "-._~!$&'()*+,;=:@")
MAX_ID_LENGTH = 48
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h)?\s*$")
_DURATION_UNITS = {None: 1.0, "ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}
_RAMP = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:/\s*s)?\s*$")


@dataclass(frozen=True)
class Template:
    """One kind of station in the fleet."""

    name: str
    #: The station config every station of this template starts from (parsed once; its id, URL and
    #: password are replaced per station).
    station: StationConfig
    #: Exactly this many stations (``count``), or this fraction of what the counts leave (``share``).
    count: int | None = None
    share: float | None = None
    #: Basic-auth password per id: a pattern formatted with ``id`` and ``n``, or a map id -> password.
    password_pattern: str | None = None
    passwords: Mapping[str, str] | None = None
    #: The automatic transaction generator (``fleet.atg.AtgConfig``), None: none.
    atg: Any = None

    def password_for(self, cp_id: str, n: int) -> str | None:
        if self.passwords is not None:
            return self.passwords[cp_id]
        if self.password_pattern is not None:
            return self.password_pattern.format(id=cp_id, n=n)
        return self.station.basic_auth_password


@dataclass(frozen=True)
class FleetConfig:
    source: str
    #: The CSMS endpoint; a station connects to url + its id (OCPP-J 1.6 §3.1.1).
    url: str
    count: int
    id_pattern: str = DEFAULT_ID_PATTERN
    #: New stations per second (the whole fleet's, shared by its processes).
    ramp_per_s: float = DEFAULT_RAMP_PER_S
    #: Seconds from the start to the clean stop; None: until SIGINT/SIGTERM.
    duration_s: float | None = None
    seed: int = 0
    #: Worker processes; None: one per core.
    processes: int | None = None
    templates: tuple[Template, ...] = ()
    #: Timed fleet actions (``fleet.scenarios.Action``), run once per process.
    actions: tuple[Any, ...] = ()
    report: Path | None = None
    #: The scenario the fleet started from (``--scenario``), "" for none.
    scenario: str = ""
    #: The control API and /metrics (``fleet/control.py``): its port (0: any free one), None: none.
    control_port: int | None = None
    control_host: str = "127.0.0.1"
    #: The live terminal view (``fleet/live.py``): True, False, None: when stderr is a terminal.
    live: bool | None = None
    #: Every endpoint when the fleet file lists several (``"url": [...]``, ``--url`` given more than
    #: once): station ``i`` connects to ``urls[i % len(urls)]`` (a CSMS behind several addresses, or
    #: more connections than one client address has ports for one server port). Empty: ``url`` alone.
    urls: tuple[str, ...] = ()
    #: The ids, n = 1..count (checked distinct and URL-safe).
    ids: tuple[str, ...] = field(default=(), repr=False)
    #: Each station's template index, in id order.
    template_of: tuple[int, ...] = field(default=(), repr=False)

    @property
    def process_count(self) -> int:
        return max(1, min(self.processes or os.cpu_count() or 1, self.count))

    def station_config(self, index: int) -> StationConfig:
        """Station ``index`` (0-based): its template's StationConfig with its id, URL and password."""
        template = self.templates[self.template_of[index]]
        cp_id = self.ids[index]
        endpoint = self.urls[index % len(self.urls)] if self.urls else self.url
        return replace(
            template.station,
            charge_point_id=cp_id,
            url=build_url(endpoint, cp_id),
            basic_auth_password=template.password_for(cp_id, index + 1),
        )

    def summary(self) -> dict[str, Any]:
        """What the report says about the configuration."""
        counts = [0] * len(self.templates)
        for t in self.template_of:
            counts[t] += 1
        return {
            "source": self.source,
            "scenario": self.scenario or None,
            "url": self.url,
            **({"urls": list(self.urls)} if self.urls else {}),
            "count": self.count,
            "idPattern": self.id_pattern,
            "firstId": self.ids[0],
            "lastId": self.ids[-1],
            "rampPerSecond": self.ramp_per_s,
            "durationSeconds": self.duration_s,
            "seed": self.seed,
            "processes": self.process_count,
            "templates": [
                {"name": t.name, "stations": counts[i], "atg": t.atg is not None}
                for i, t in enumerate(self.templates)
            ],
            "actions": len(self.actions),
        }


@dataclass(frozen=True)
class Overrides:
    """The command line's flags (None: not given)."""

    #: One endpoint, or several (``--url`` given more than once).
    url: str | Sequence[str] | None = None
    count: int | None = None
    id_pattern: str | None = None
    ramp: str | None = None
    duration: str | None = None
    processes: int | None = None
    seed: int | None = None
    report: Path | None = None
    control_port: int | None = None
    control_host: str | None = None
    live: bool | None = None


class _Fail:
    def __init__(self, source: str) -> None:
        self.source = source

    def __call__(self, path: str, message: str) -> ConfigError:
        return ConfigError(self.source, path, message)


def parse_duration(value: object) -> float:
    """``600``, ``"600s"``, ``"10m"``, ``"1.5h"``, ``"500ms"`` -> seconds (> 0); ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"must be seconds or a text like 10m, 600s, 1h; got {json.dumps(value)}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (m := _DURATION.match(value)):
        seconds = float(m.group(1)) * _DURATION_UNITS[m.group(2)]
    else:
        raise ValueError(f"must be seconds or a text like 10m, 600s, 1h; got {json.dumps(value)}")
    if not seconds > 0 or math.isinf(seconds):
        raise ValueError(f"must be more than 0 s, got {json.dumps(value)}")
    return seconds


def parse_ramp(value: object) -> float:
    """``200``, ``"200/s"`` -> stations per second (> 0); ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError(f'must be stations per second, e.g. 200 or "200/s"; got {json.dumps(value)}')
    if isinstance(value, int | float):
        rate = float(value)
    elif isinstance(value, str) and (m := _RAMP.match(value)):
        rate = float(m.group(1))
    else:
        raise ValueError(f'must be stations per second, e.g. 200 or "200/s"; got {json.dumps(value)}')
    if not rate > 0 or math.isinf(rate):
        raise ValueError(f"must be more than 0 stations per second, got {json.dumps(value)}")
    return rate


def make_ids(pattern: str, count: int) -> tuple[str, ...]:
    """The ids ``pattern.format(n=n)`` for n = 1..count; ValueError when the pattern does not format,
    makes an id the OCPP-J URL cannot carry as one path segment, or makes the same id twice."""
    ids = []
    seen: dict[str, int] = {}
    for n in range(1, count + 1):
        try:
            cp_id = pattern.format(n=n)
        except (KeyError, IndexError, ValueError, AttributeError) as exc:
            raise ValueError(
                f"{pattern!r} does not format with n (e.g. CP-{{n:05d}}): {type(exc).__name__}: {exc}"
            ) from None
        if not 1 <= len(cp_id) <= MAX_ID_LENGTH:
            raise ValueError(f"makes {cp_id!r} (n={n}): an id is 1 to {MAX_ID_LENGTH} characters")
        bad = sorted(set(cp_id) - ID_CHARACTERS)
        if bad:
            raise ValueError(
                f"makes {cp_id!r} (n={n}): {''.join(bad)!r} cannot stand in the URL path segment "
                "(letters, digits and -._~!$&'()*+,;=:@ only)"
            )
        if cp_id in seen:
            raise ValueError(f"makes {cp_id!r} for n={seen[cp_id]} and n={n}: ids must be distinct")
        seen[cp_id] = n
        ids.append(cp_id)
    return tuple(ids)


def assign_templates(templates: Sequence[Template], count: int) -> tuple[int, ...]:
    """Each station's template index: fixed ``count`` templates first (in order), what is left split
    by ``share`` (1 when a template gives neither; largest remainder, so the numbers add up exactly); stations in id order, one
    template's stations together. ValueError when the counts exceed the fleet or nothing takes the
    rest."""
    fixed = sum(t.count or 0 for t in templates)
    if fixed > count:
        raise ValueError(f"the templates' counts add up to {fixed}, more than the fleet's {count}")
    rest = count - fixed
    # A template with neither count nor share has share 1.
    shares = [
        (i, 1.0 if t.share is None else t.share)
        for i, t in enumerate(templates)
        if t.share is not None or t.count is None
    ]
    numbers = [t.count or 0 for t in templates]
    if rest:
        if not shares:
            raise ValueError(
                f"the templates' counts add up to {fixed} of {count} stations and no template has a "
                "share for the rest"
            )
        total = sum(s for _, s in shares)
        exact = [(i, rest * s / total) for i, s in shares]
        for i, x in exact:
            numbers[i] += int(x)
        left = rest - sum(int(x) for _, x in exact)
        for i, _ in sorted(exact, key=lambda item: (-(item[1] - int(item[1])), item[0]))[:left]:
            numbers[i] += 1
    return tuple(i for i, n in enumerate(numbers) for _ in range(n))


def _url(root: dict[str, Any], fail: _Fail) -> tuple[str, ...] | None:
    if "url" in root:
        return _check_urls(root["url"], "url", fail)
    if "development" in root:
        section = root["development"]
        if not isinstance(section, dict) or "WS_URL" not in section:
            raise fail("development.WS_URL", 'is required (e.g. "ws://127.0.0.1:9000/ocpp/")')
        return (_check_url(section["WS_URL"], "development.WS_URL", fail),)
    return None


def _check_urls(value: object, where: str, fail: _Fail) -> tuple[str, ...]:
    """One URL, or a non-empty list of them (the stations spread over them in turn)."""
    if isinstance(value, str):
        return (_check_url(value, where, fail),)
    if not isinstance(value, (list, tuple)) or not value:
        raise fail(where, "must be a ws:// or wss:// URL or a non-empty list of them")
    return tuple(
        _check_url(url, f"{where}[{i}]" if where != "--url" else where, fail) for i, url in enumerate(value)
    )


def _check_url(url: object, where: str, fail: _Fail) -> str:
    if not isinstance(url, str) or not url:
        raise fail(where, "must be a non-empty string")
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise fail(where, f"must be a ws:// or wss:// URL, got {url!r}")
    return url


def _whole(value: object, where: str, fail: _Fail, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise fail(where, f"must be a whole number, got {json.dumps(value)}")
    if value < minimum:
        raise fail(where, f"must be >= {minimum}, got {json.dumps(value)}")
    return int(value)


def _passwords(
    value: object, where: str, fail: _Fail, base: Path
) -> tuple[str | None, dict[str, str] | None]:
    if isinstance(value, str):
        if not value:
            raise fail(where, 'must be a non-empty pattern, e.g. "secret-{id}"')
        try:
            value.format(id="CP", n=1)
        except (KeyError, IndexError, ValueError, AttributeError) as exc:
            raise fail(
                where, f"{value!r} does not format with id and n: {type(exc).__name__}: {exc}"
            ) from None
        return value, None
    if isinstance(value, dict) and set(value) == {"file"}:
        name = value["file"]
        if not isinstance(name, str) or not name:
            raise fail(f"{where}.file", "must be a path (a JSON object: id -> password)")
        path = base / name
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise fail(f"{where}.file", f"file not found: {path}") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise fail(f"{where}.file", f"cannot read {path}: {exc}") from None
        if not isinstance(data, dict) or not all(isinstance(v, str) and v for v in data.values()):
            raise fail(f"{where}.file", f"{path} must hold a JSON object of id -> non-empty password")
        return None, data
    raise fail(where, 'must be a pattern like "secret-{id}" or {"file": "passwords.json"}')


def _template(data: object, where: str, url: str, fail: _Fail, source: str, base: Path) -> Template:
    if not isinstance(data, dict):
        raise fail(where, f"must be an object, got {type(data).__name__}")
    unknown = set(data) - set(STATION_SECTIONS) - set(TEMPLATE_FIELDS)
    if unknown:
        known = ", ".join((*TEMPLATE_FIELDS, *STATION_SECTIONS))
        raise fail(f"{where}.{sorted(unknown)[0]}", f"unknown field; known: {known}")
    name = data.get("name", where.replace("templates[", "template-").rstrip("]"))
    if not isinstance(name, str) or not name:
        raise fail(f"{where}.name", "must be a non-empty string")
    count = share = None
    if "count" in data and "share" in data:
        raise fail(where, "give count or share, not both")
    if "count" in data:
        count = _whole(data["count"], f"{where}.count", fail, 0)
    if "share" in data:
        value = data["share"]
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
            raise fail(f"{where}.share", f"must be a number > 0, got {json.dumps(value)}")
        share = float(value)
    body: dict[str, Any] = {k: dict(v) for k, v in FLEET_DEFAULTS.items()}
    for section in STATION_SECTIONS:
        if section in data:
            given = data[section]
            if isinstance(given, dict) and isinstance(body.get(section), dict):
                body[section] = {**body[section], **given}
            else:
                body[section] = given
    # The station's own parser checks every section; its errors get the template's place in front.
    body["development"] = {"WS_URL": url, "chargePointID": "CP"}
    try:
        station = parse_config(body, source)
    except ConfigError as exc:
        raise fail(f"{where}.{exc.field_path}" if exc.field_path else where, exc.message) from None
    pattern = passwords = None
    if "passwords" in data:
        pattern, passwords = _passwords(data["passwords"], f"{where}.passwords", fail, base)
    atg = None
    if "atg" in data:
        try:
            atg = _module("atg").parse_atg(data["atg"], f"{where}.atg")
        except ValueError as exc:
            raise _field_error(fail, str(exc), f"{where}.atg") from None
    return Template(name, station, count, share, pattern, passwords, atg)


def _module(name: str) -> Any:
    """``ocpp_station.fleet.atg`` / ``.scenarios``, imported when a fleet uses them (a fleet of
    stations that only boot and heartbeat needs neither)."""
    return importlib.import_module(f"ocpp_station.fleet.{name}")


def _field_error(fail: _Fail, text: str, where: str) -> ConfigError:
    """A ValueError text ``<path>: what is wrong`` (F2's parsers) as a ConfigError on that path."""
    path, sep, message = text.partition(": ")
    if sep and path.startswith(where.split(".")[0].split("[")[0]):
        return fail(path, message)
    return fail(where, text)


def parse_fleet(
    data: object, source: str, overrides: Overrides | None = None, scenario: str = ""
) -> FleetConfig:
    """Build a FleetConfig from the parsed fleet file and the flags (which win); raise ConfigError
    naming the field."""
    flags = overrides or Overrides()
    fail = _Fail(source)
    if not isinstance(data, dict):
        raise fail("", f"must be a JSON object, got {type(data).__name__}")
    root: dict[str, Any] = data
    unknown = set(root) - set(FLEET_FIELDS)
    if unknown:
        raise fail(sorted(unknown)[0], f"unknown field; known: {', '.join(FLEET_FIELDS)}")
    base = Path(source).parent if source and not source.startswith("<") else Path.cwd()

    urls = _check_urls(flags.url, "--url", fail) if flags.url is not None else _url(root, fail)
    if urls is None:
        raise fail("url", 'is required (e.g. "ws://127.0.0.1:9000/ocpp/"), or give --url')
    url = urls[0]
    if flags.count is not None:
        count = _whole(flags.count, "--count", fail, 1)
    elif "count" in root:
        count = _whole(root["count"], "count", fail, 1)
    else:
        raise fail("count", "is required (how many stations), or give --count")
    pattern, where = (
        (flags.id_pattern, "--id-pattern")
        if flags.id_pattern is not None
        else (root.get("idPattern", DEFAULT_ID_PATTERN), "idPattern")
    )
    if not isinstance(pattern, str) or not pattern:
        raise fail(where, "must be a non-empty string like CP-{n:05d}")
    try:
        ids = make_ids(pattern, count)
    except ValueError as exc:
        raise fail(where, str(exc)) from None

    ramp = DEFAULT_RAMP_PER_S
    for value, where in ((root.get("ramp"), "ramp"), (flags.ramp, "--ramp")):
        if value is not None:
            try:
                ramp = parse_ramp(value)
            except ValueError as exc:
                raise fail(where, str(exc)) from None
    duration: float | None = None
    for value, where in ((root.get("duration"), "duration"), (flags.duration, "--duration")):
        if value is not None:
            try:
                duration = parse_duration(value)
            except ValueError as exc:
                raise fail(where, str(exc)) from None
    seed = _whole(root.get("seed", 0), "seed", fail, 0) if flags.seed is None else flags.seed
    processes = None
    if flags.processes is not None:
        processes = _whole(flags.processes, "--processes", fail, 1)
    elif "processes" in root:
        processes = _whole(root["processes"], "processes", fail, 1)
    report = flags.report
    if report is None and "report" in root:
        if not isinstance(root["report"], str) or not root["report"]:
            raise fail("report", "must be a path")
        report = base / root["report"]

    raw_templates = root.get("templates", [{"share": 1}])
    if not isinstance(raw_templates, list) or not raw_templates:
        raise fail("templates", "must be a list of at least one template")
    templates = tuple(
        _template(t, f"templates[{i}]", url, fail, source, base) for i, t in enumerate(raw_templates)
    )
    names = [t.name for t in templates]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise fail(f"templates[{i}].name", f"{name!r} is taken by another template")
    try:
        template_of = assign_templates(templates, count)
    except ValueError as exc:
        raise fail("templates", str(exc)) from None
    for index, t in enumerate(template_of):
        if templates[t].passwords is not None and ids[index] not in templates[t].passwords:  # type: ignore[operator]
            raise fail(f"templates[{t}].passwords.file", f"no password for {ids[index]!r}")

    control_port = None
    if flags.control_port is not None:
        control_port = _whole(flags.control_port, "--control-port", fail, 0)
        if control_port > 65535:
            raise fail("--control-port", f"must be a TCP port (0 to 65535), got {control_port}")
    elif root.get("controlPort") is not None:
        control_port = _whole(root["controlPort"], "controlPort", fail, 0)
        if control_port > 65535:
            raise fail("controlPort", f"must be a TCP port (0 to 65535), got {control_port}")
    control_host = (
        flags.control_host if flags.control_host is not None else root.get("controlHost", "127.0.0.1")
    )
    if not isinstance(control_host, str) or not control_host:
        raise fail("controlHost", "must be a host name or address, e.g. 127.0.0.1")
    live = flags.live if flags.live is not None else root.get("live")
    if live is not None and not isinstance(live, bool):
        raise fail("live", f"must be true or false, got {json.dumps(live)}")

    actions: tuple[Any, ...] = ()
    if "actions" in root:
        try:
            actions = tuple(_module("scenarios").parse_actions(root["actions"], "actions"))
        except ValueError as exc:
            raise _field_error(fail, str(exc), "actions") from None
    return FleetConfig(
        source=source,
        url=url,
        urls=urls if len(urls) > 1 else (),
        count=count,
        id_pattern=pattern,
        ramp_per_s=ramp,
        duration_s=duration,
        seed=seed,
        processes=processes,
        templates=templates,
        actions=actions,
        report=report,
        scenario=scenario,
        control_port=control_port,
        control_host=control_host,
        live=live,
        ids=ids,
        template_of=template_of,
    )


def load_fleet(
    path: Path | None, overrides: Overrides | None = None, scenario: str | None = None
) -> FleetConfig:
    """The fleet of ``--config PATH`` (and/or ``--scenario NAME``: the packaged scenario, the file's
    top-level fields over it) with the flags over both; ConfigError when anything is wrong."""
    data: dict[str, Any] = {}
    source = "<flags>"
    if scenario is not None:
        try:
            data = dict(_module("scenarios").load_scenario(scenario))
        except KeyError as exc:
            raise ConfigError("--scenario", "", str(exc.args[0] if exc.args else exc)) from None
        source = f"<scenario {scenario}>"
    if path is not None:
        source = str(path)
        given = read_json_file(path)
        if not isinstance(given, dict):
            raise ConfigError(source, "", f"must be a JSON object, got {type(given).__name__}")
        data.update(given)
    return parse_fleet(data, source, overrides, scenario or "")
