"""Stations inside Locust: every OCPP exchange a Locust request (docs/locust.md).

Each :class:`OcppStationUser` is one charge point: a :class:`~ocpp_station.transport.station.Station`
with an in-memory store and no diagnostics log, on the process's one asyncio loop
(:mod:`ocpp_station.locust.loop`: a native thread beside Locust's gevent). Locust's users, ramp shapes,
master/worker mode, web UI and statistics then apply to stations:

* request type ``OCPP``, name = the action: each CALL of ours (BootNotification, Heartbeat,
  StatusNotification, MeterValues, ...); response time from sending it to its CALLRESULT; a failure
  for a CALLERROR (``CALLERROR <code>``), a ``Timeout`` or a CALL ``Lost`` with the link;
* request type ``OCPP-in``, name = the action: each CALL of the CSMS's the station answered (a failure
  when it answered a CALLERROR); response time 0;
* request type ``WS``: ``connect`` (response time from the start or the last loss to the websocket
  being open, back-off waits included; a failure for each refused attempt) and ``disconnect`` (a
  failure: the link dropped while the station was not stopping).

The stations report through ``EngineSettings.call_observer`` on the loop's thread; the reports wait in
a deque that a greenlet of the Locust process drains into ``environment.events.request`` (Locust's
events belong to the gevent world). Importing this module imports Locust, hence gevent's
monkey-patching: the rest of ``ocpp_station`` never imports it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import zlib
from collections import deque
from collections.abc import Callable
from itertools import count
from pathlib import Path
from typing import Any, ClassVar

import gevent  # type: ignore[import-untyped]
from locust import User, between, events, task
from locust.env import Environment
from locust.exception import StopUser

from ocpp_station.config.station import ConfigError, StationConfig, parse_config
from ocpp_station.fleet.atg import AtgConfig, parse_atg, run_atg
from ocpp_station.locust.loop import StationLoop, shared_loop
from ocpp_station.transport.station import Station

log = logging.getLogger("ocpp_station.locust")

#: The CSMS when neither ``--host`` nor ``--ocpp-config`` names one: the development CSMS.
DEFAULT_URL = "ws://127.0.0.1:9000/ocpp/"
#: How often the reports are handed to Locust (s).
DRAIN_S = 0.05

#: (request_type, name, response_time_ms, error or None, station id)
Report = tuple[str, str, float, str | None, str]


class OcppFailure(Exception):
    """What failed, as Locust shows it: ``CALLERROR <code>``, ``Timeout``, ``Lost``, a refused
    connection's reason, ``link lost``."""


def _options(parser: Any) -> None:
    group = parser.add_argument_group("ocpp-station", "stations as Locust users (docs/locust.md)")
    group.add_argument(
        "--ocpp-id-pattern",
        default="LOCUST-{worker}-{user:05d}",
        env_var="LOCUST_OCPP_ID_PATTERN",
        help="charge point ids: {worker} the Locust worker index, {user} a counter of the worker's "
        "users (default %(default)s)",
    )
    group.add_argument(
        "--ocpp-config",
        default="",
        env_var="LOCUST_OCPP_CONFIG",
        help="a station config file (docs/configuration.md) every station is made from; its "
        "chargePointID is replaced by the pattern, its WS_URL by --host when given",
    )
    group.add_argument(
        "--ocpp-behaviour",
        default="session",
        choices=["session", "idle", "atg"],
        env_var="LOCUST_OCPP_BEHAVIOUR",
        help="session: plug, card, charge, card, unplug, wait; idle: boot and stay connected; atg: the "
        "fleet's automatic transaction generator (--ocpp-atg)",
    )
    group.add_argument(
        "--ocpp-atg",
        default="",
        env_var="LOCUST_OCPP_ATG",
        help="with --ocpp-behaviour atg: a JSON file holding the atg object of a fleet template "
        "(docs/fleet-scenarios.md); default: the generator's defaults",
    )
    group.add_argument(
        "--ocpp-seed",
        type=int,
        default=1,
        env_var="LOCUST_OCPP_SEED",
        help="with --ocpp-behaviour atg: the seed; each station draws from seed + CRC-32 of its id",
    )
    group.add_argument(
        "--ocpp-id-tag",
        default="LOCUST",
        env_var="LOCUST_OCPP_ID_TAG",
        help="the card presented to start and stop a session",
    )
    group.add_argument(
        "--ocpp-charge-s",
        type=float,
        default=60.0,
        env_var="LOCUST_OCPP_CHARGE_S",
        help="seconds a session charges before the card is presented again",
    )
    group.add_argument(
        "--ocpp-meter-interval",
        type=int,
        default=60,
        env_var="LOCUST_OCPP_METER_INTERVAL",
        help="MeterValueSampleInterval (s) unless the config file sets it",
    )


events.init_command_line_parser.add_listener(_options)  # type: ignore[no-untyped-call]


class _Reporter:
    """The :class:`~ocpp_station.core.settings.CallObserver` of one station: reports into the
    process's queue (called on the loop's thread; ``deque.append`` is atomic)."""

    __slots__ = ("_id", "_out")

    def __init__(self, out: deque[Report], charge_point_id: str) -> None:
        self._out = out
        self._id = charge_point_id

    def sent(self, action: str) -> None:
        pass

    def answered(self, action: str, latency_s: float, error: str | None) -> None:
        self._out.append(("OCPP", action, latency_s * 1000.0, error, self._id))

    def received(self, action: str, error: str | None) -> None:
        self._out.append(("OCPP-in", action, 0.0, error, self._id))


def _failure(request_type: str, error: str | None) -> OcppFailure | None:
    if error is None:
        return None
    if request_type == "WS" or error in ("Timeout", "Lost"):
        return OcppFailure(error)
    return OcppFailure(f"CALLERROR {error}")


class _Bridge:
    """The process's reports on their way to Locust: filled on the loop's thread, drained by one
    greenlet into ``environment.events.request``."""

    def __init__(self, environment: Environment) -> None:
        self.environment = environment
        self.reports: deque[Report] = deque()
        self._greenlet = gevent.spawn(self._drain_forever)

    def _drain_forever(self) -> None:
        while True:
            gevent.sleep(DRAIN_S)
            self.drain()

    def drain(self) -> None:
        fire: Callable[..., Any] = self.environment.events.request.fire
        reports = self.reports
        while reports:
            request_type, name, response_time, error, station = reports.popleft()
            fire(
                request_type=request_type,
                name=name,
                response_time=response_time,
                response_length=0,
                exception=_failure(request_type, error),
                context={"chargePointId": station},
            )


_bridges: dict[int, _Bridge] = {}


def _bridge(environment: Environment) -> _Bridge:
    found = _bridges.get(id(environment))
    if found is None:
        found = _bridges[id(environment)] = _Bridge(environment)
    return found


class _LocustStation(Station):
    """A Station that also reports its websocket: ``WS connect`` and ``WS disconnect``."""

    def __init__(self, config: StationConfig, reports: deque[Report], **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self._reports = reports
        self._since = time.monotonic()

    def _report(self, name: str, error: str | None) -> None:
        now = time.monotonic()
        self._reports.append(("WS", name, (now - self._since) * 1000.0, error, self.config.charge_point_id))
        self._since = now

    def link_opened(self) -> None:
        self._report("connect", None)
        super().link_opened()

    def connect_failed(self, reason: str) -> None:
        self._report("connect", reason or "refused")
        super().connect_failed(reason)

    def link_closed(self) -> None:
        if not self.link.stopping:
            self._report("disconnect", "link lost")
        super().link_closed()


_users = count()


def _template(path: str) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(path, "", "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, "", f"cannot read: {exc}") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(path, f"line {exc.lineno} column {exc.colno}", f"invalid JSON: {exc.msg}") from None
    if not isinstance(data, dict):
        raise ConfigError(path, "", "must be a JSON object")
    return data


_atg_configs: dict[str, AtgConfig] = {}


def _atg_config(path: str) -> AtgConfig:
    """The ``--ocpp-atg`` file, parsed once per process; ConfigError naming the file and the field."""
    found = _atg_configs.get(path)
    if found is None:
        try:
            found = parse_atg(_template(path) if path else {}, "atg")
        except ValueError as exc:
            raise ConfigError(path, "", str(exc)) from None
        _atg_configs[path] = found
    return found


def station_config(options: Any, host: str | None, charge_point_id: str) -> StationConfig:
    """The config of one station from Locust's options (see :func:`_options`); ConfigError when the
    ``--ocpp-config`` file is wrong."""
    path = getattr(options, "ocpp_config", "") or ""
    data: dict[str, Any] = _template(path) if path else {}
    env = dict(data.get("development") or {}) if isinstance(data.get("development"), dict) else {}
    env["WS_URL"] = host or env.get("WS_URL") or DEFAULT_URL
    env["chargePointID"] = charge_point_id
    data["development"] = env
    ocpp = data.setdefault("ocpp", {})
    if isinstance(ocpp, dict):
        ocpp.setdefault("MeterValueSampleInterval", int(getattr(options, "ocpp_meter_interval", 60)))
    transfers = data.setdefault("fileTransfer", {})
    if isinstance(transfers, dict):
        transfers.setdefault("logLines", 0)  # no diagnostics log per station unless the file asks
    durability = data.setdefault("durability", {})
    if isinstance(durability, dict):
        durability.setdefault("shutdownGrace", 2)
    if "dataDir" in data:
        raise ConfigError(path, "dataDir", "stations in Locust keep their state in memory: remove it")
    return parse_config(data, path or "<locust>")


class OcppStationUser(User):
    """One charge point per Locust user (subclass it; the package's locustfile does).

    ``on_start`` builds and starts the station on the process's asyncio loop; ``on_stop`` stops it
    gracefully (running sessions stopped, the websocket closed with 1000). The built-in task runs the
    ``--ocpp-behaviour``; subclasses add or replace tasks and drive the station with :meth:`on_loop`.
    """

    abstract = True
    host: str | None = None
    wait_time = between(1, 5)
    #: The connector the built-in session uses.
    connector_id: ClassVar[int] = 1

    station: Station | None
    charge_point_id: str

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        self.station = None
        self.charge_point_id = ""
        self._loop: StationLoop | None = None
        self._atg_stop: asyncio.Event | None = None

    @property
    def options(self) -> Any:
        return self.environment.parsed_options

    def on_start(self) -> None:
        bridge = _bridge(self.environment)
        runner = self.environment.runner
        worker = getattr(runner, "worker_index", 0) if runner is not None else 0
        pattern = getattr(self.options, "ocpp_id_pattern", None) or "LOCUST-{worker}-{user:05d}"
        self.charge_point_id = pattern.format(worker=worker, user=next(_users))
        try:
            config = station_config(self.options, self.host, self.charge_point_id)
        except ConfigError as exc:
            log.error("%s", exc)
            raise StopUser() from None
        loop = self._loop = shared_loop()
        reports = bridge.reports
        self.station = loop.call(
            lambda: _LocustStation(config, reports, call_observer=_Reporter(reports, config.charge_point_id))
        )
        station = self.station
        loop.start(station.run)
        if getattr(self.options, "ocpp_behaviour", "session") == "atg":
            self._start_atg(loop, station)

    def _start_atg(self, loop: StationLoop, station: Station) -> None:
        """The fleet's automatic transaction generator drives the station, on the loop, until on_stop."""
        path = getattr(self.options, "ocpp_atg", "") or ""
        try:
            atg = _atg_config(path)
        except ConfigError as exc:
            log.error("%s", exc)
            raise StopUser() from None
        seed = int(getattr(self.options, "ocpp_seed", 1)) + zlib.crc32(self.charge_point_id.encode())
        stop = self._atg_stop = loop.call(asyncio.Event)
        loop.start(lambda: run_atg(station, atg, seed, stop))

    def on_stop(self) -> None:
        station, loop = self.station, self._loop
        if station is None or loop is None:
            return
        self.station = None
        if self._atg_stop is not None:
            loop.call(self._atg_stop.set)
        grace = station.config.durability.shutdown_grace_s
        try:
            loop.call(station.stop, timeout=grace + 5.0)
        except Exception as exc:
            log.warning("%s: did not stop cleanly: %s", self.charge_point_id, exc)
        loop.call(station.close)

    def on_loop(self, action: Callable[[Station], Any], timeout: float = 30.0) -> Any:
        """Run ``action(station)`` on the asyncio loop (station methods are not thread-safe) and
        return its result; the greenlet waits, the others run."""
        station, loop = self.station, self._loop
        if station is None or loop is None:
            raise RuntimeError("the station is not running (on_start has not run)")
        return loop.call(lambda: action(station), timeout)

    @task
    def behave(self) -> None:
        """The ``--ocpp-behaviour``: one charging session; nothing for idle and atg (the generator
        runs on the loop from on_start)."""
        if getattr(self.options, "ocpp_behaviour", "session") != "session":
            return
        if self.wait_until_booted():
            self.charging_session()

    def wait_until_booted(self, timeout: float = 10.0) -> bool:
        """Wait (at most ``timeout`` s) until the CSMS accepted the BootNotification: a card presented
        before is refused (no Authorize can go out). False when it did not happen in time."""
        try:
            self.on_loop(
                lambda s: s.wait_for(lambda state: state["registration"] == "Accepted", timeout), timeout + 5
            )
        except TimeoutError:
            return False
        return True

    def charging_session(self) -> None:
        """Plug, present the card (Authorize, StartTransaction), charge ``--ocpp-charge-s`` seconds
        (MeterValues), present the card again (StopTransaction), unplug."""
        cid = self.connector_id
        id_tag = getattr(self.options, "ocpp_id_tag", "LOCUST")
        charge_s = float(getattr(self.options, "ocpp_charge_s", 60.0))
        self.on_loop(lambda s: s.plug(cid))
        self.on_loop(lambda s: s.present_id_tag(id_tag, cid))
        gevent.sleep(charge_s)
        self.on_loop(lambda s: s.present_id_tag(id_tag, cid))
        self.on_loop(lambda s: s.unplug(cid))


__all__ = ["DEFAULT_URL", "OcppFailure", "OcppStationUser", "station_config"]
