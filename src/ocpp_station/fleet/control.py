"""The fleet's HTTP control API (aiohttp, like the station's: :mod:`ocpp_station.control.api`) and its
Prometheus ``/metrics`` (:mod:`ocpp_station.fleet.metrics`), on ``--control-port`` (127.0.0.1 by
default).

=======  ==========================  ====================================================================
method   path                        what
=======  ==========================  ====================================================================
GET      /state                      the aggregate: gauges, connects, totals and figures per action
GET      /stations                   the stations, paginated (``offset``, ``limit`` <= 1000) and
                                     filtered (``status``, ``connected``, ``booted``, ``template``,
                                     ``ids``): id, template, connected, booted, status per connector, queue
GET      /stations/{id}              one station's whole state (as the station's ``GET /state``)
POST     /actions/{do}               ``do`` = plug, unplug, swipe, ev-suspend, ev-resume, fault,
                                     clear-fault, drop-network, restore-network; the body names the
                                     stations (``id``, ``ids`` or ``share`` + ``seed``) and the
                                     action's fields (``connector``, ``idTag``, ``errorCode``, ``ev``...)
GET      /metrics                    Prometheus text format
GET      /, /events, /stations/{id}/ the dashboard: the overview page, its live figures (SSE) and each
                                     station's own page and API (:mod:`ocpp_station.fleet.dashboard`)
=======  ==========================  ====================================================================

``GET /stations`` also takes ``match`` (ids containing it) and ``sort=reconnects`` (the stations
that reconnected most first).

An action answers with what was done: ``affected`` (ids), ``refused`` (id -> why, e.g. an EV
already plugged in), ``unknown`` (ids not in the fleet), ``notStarted`` (ids the ramp has not
reached). Bad requests get 400 with ``{"error": "..."}`` naming the field.

With ``--processes N`` the parent serves the API: a request goes to every worker over its pipe
(:class:`ocpp_station.fleet.runner.Workers`), each answers for its own stations
(:func:`handle_request`) and the parent merges the answers (:func:`merge_stations`,
:func:`merge_action`). One process answers itself (:class:`LocalBackend`).
"""

from __future__ import annotations

import json
import random
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from aiohttp import web

from ocpp_station.control.api import api_errors
from ocpp_station.control.dashboard import close_streams_on_shutdown
from ocpp_station.fleet.config import FleetConfig
from ocpp_station.fleet.dashboard import (
    EVENTS,
    FleetEvents,
    get_asset,
    get_page,
    proxy_route,
    proxy_session,
    station_mount,
)
from ocpp_station.fleet.stats import summarize
from ocpp_station.hardware.simulated import EVParams
from ocpp_station.transport.station import Station
from ocpp_station.wire.errors import OcppError

#: The actions and the station method each calls.
ACTIONS = (
    "plug",
    "unplug",
    "swipe",
    "ev-suspend",
    "ev-resume",
    "fault",
    "clear-fault",
    "drop-network",
    "restore-network",
)
#: Fields of an action's body besides the target (id / ids / share / seed).
ACTION_FIELDS: dict[str, tuple[str, ...]] = {
    "plug": ("connector", "ev"),
    "unplug": ("connector",),
    "swipe": ("connector", "idTag"),
    "ev-suspend": ("connector",),
    "ev-resume": ("connector",),
    "fault": ("connector", "errorCode", "info", "vendorErrorCode"),
    "clear-fault": ("connector",),
    "drop-network": (),
    "restore-network": (),
}
TARGET_FIELDS = ("id", "ids", "share", "seed")
MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
#: Seconds the parent waits for its workers' answers.
WORKER_TIMEOUT_S = 10.0


class StationGroup:
    """The stations of one process: the runner's live list (it grows during the ramp) and the global
    indices it runs (``range(part, count, parts)``), so global index -> station is arithmetic."""

    def __init__(self, config: FleetConfig, stations: list[Station], indices: range) -> None:
        self.config = config
        self.stations = stations
        self.indices = indices

    def station(self, index: int) -> Station | None:
        """Station ``index`` (global) if this process runs it and has started it."""
        if index not in self.indices:
            return None
        position = self.indices.index(index)
        return self.stations[position] if position < len(self.stations) else None

    def owns(self, index: int) -> bool:
        return index in self.indices

    def started(self) -> Sequence[tuple[int, Station]]:
        return [(self.indices[p], s) for p, s in enumerate(self.stations)]


def station_row(config: FleetConfig, index: int, station: Station) -> dict[str, Any]:
    """One station in ``GET /stations``: cheap reads of its view (no meter read)."""
    view = station.view
    return {
        "id": config.ids[index],
        "index": index,
        "template": config.templates[config.template_of[index]].name,
        "connected": view.connected,
        "registration": view.registration,
        "booted": view.registration == "Accepted",
        "connectors": view.connector_statuses(),
        "queue": view.queue_length,
        "reconnects": getattr(station, "reconnects", 0),  # a FleetStation counts its own
    }


def _matches(row: dict[str, Any], query: dict[str, Any]) -> bool:
    if query.get("status") is not None and query["status"] not in row["connectors"]:
        return False
    if query.get("match") is not None and query["match"] not in row["id"]:
        return False
    for name in ("connected", "booted", "template"):
        if query.get(name) is not None and row[name] != query[name]:
            return False
    return True


def _apply(station: Station, do: str, body: dict[str, Any]) -> None:
    cid = body.get("connector", 1)
    if do == "plug":
        station.plug(cid, body.get("ev"))
    elif do == "unplug":
        station.unplug(cid)
    elif do == "swipe":
        station.present_id_tag(body["idTag"], body.get("connector"))
    elif do == "ev-suspend":
        station.ev_suspend(cid)
    elif do == "ev-resume":
        station.ev_resume(cid)
    elif do == "fault":
        station.raise_fault(
            cid,
            body.get("errorCode", "OtherError"),
            body.get("info"),
            body.get("vendorErrorCode"),
        )
    elif do == "clear-fault":
        station.clear_fault(cid)
    elif do == "drop-network":
        station.network_disconnect()
    elif do == "restore-network":
        station.network_connect()
    else:  # pragma: no cover: checked by the API
        raise ValueError(f"unknown action {do!r}")


def handle_request(group: StationGroup, request: dict[str, Any]) -> dict[str, Any]:
    """One process's answer for its own stations: ``stations`` (the first ``offset + limit``
    matches, in index order, and how many match), ``station`` (one station's state), ``action``
    (carried out on the given indices this process runs)."""
    kind = request["kind"]
    config = group.config
    if kind == "stations":
        wanted = request.get("indices")
        pairs: Sequence[tuple[int, Station]]
        if wanted is not None:
            pairs = [(i, s) for i in wanted if (s := group.station(i)) is not None]
        else:
            pairs = group.started()
        keep = request["offset"] + request["limit"]
        rows: list[dict[str, Any]] = []
        total = 0
        sort = request.get("sort")
        for index, each in pairs:
            row = station_row(config, index, each)
            if _matches(row, request):
                total += 1
                if sort is not None or len(rows) < keep:
                    rows.append(row)
        if sort is not None:
            rows = sorted(rows, key=_sort_key(sort))[:keep]
        return {"total": total, "rows": rows}
    if kind == "station":
        one = group.station(request["index"])
        if one is None:
            return {"owned": group.owns(request["index"]), "state": None}
        state = one.state()
        state["template"] = config.templates[config.template_of[request["index"]]].name
        return {"owned": True, "state": state}
    if kind == "action":
        affected: list[str] = []
        refused: dict[str, str] = {}
        not_started: list[str] = []
        for index in request["indices"]:
            if not group.owns(index):
                continue
            cp_id = config.ids[index]
            target = group.station(index)
            if target is None:
                not_started.append(cp_id)
                continue
            try:
                _apply(target, request["do"], request["body"])
            except (ValueError, TypeError, KeyError, OcppError) as exc:
                refused[cp_id] = str(exc) or type(exc).__name__
            else:
                affected.append(cp_id)
        return {"affected": affected, "refused": refused, "notStarted": not_started}
    raise ValueError(f"unknown request kind {kind!r}")


#: ``GET /stations?sort=``: the orders besides the fleet's (by index).
SORTS = ("reconnects",)


def _sort_key(sort: str | None) -> Callable[[dict[str, Any]], Any]:
    if sort is None:
        return lambda row: row["index"]
    return lambda row: (-row[sort], row["index"])


def merge_stations(
    parts: Sequence[dict[str, Any]], offset: int, limit: int, sort: str | None = None
) -> dict[str, Any]:
    rows = sorted((row for part in parts for row in part["rows"]), key=_sort_key(sort))
    return {
        "total": sum(part["total"] for part in parts),
        "offset": offset,
        "limit": limit,
        "stations": rows[offset : offset + limit],
    }


def merge_action(parts: Sequence[dict[str, Any]], config: FleetConfig) -> dict[str, Any]:
    position = {cp_id: i for i, cp_id in enumerate(config.ids)}

    def ordered(ids: list[str]) -> list[str]:
        return sorted(ids, key=position.__getitem__)

    refused: dict[str, str] = {}
    for part in parts:
        refused.update(part["refused"])
    return {
        "affected": ordered([i for part in parts for i in part["affected"]]),
        "refused": {k: refused[k] for k in ordered(list(refused))},
        "notStarted": ordered([i for part in parts for i in part["notStarted"]]),
    }


class Backend(Protocol):
    """Where a request goes: this process's stations, or every worker's."""

    async def ask(self, request: dict[str, Any]) -> list[dict[str, Any]]: ...


class LocalBackend:
    """One process: the request is answered here."""

    def __init__(self, group: StationGroup) -> None:
        self.group = group

    async def ask(self, request: dict[str, Any]) -> list[dict[str, Any]]:
        return [handle_request(self.group, request)]


# -- the HTTP API ----------------------------------------------------------------------------------------


class BadRequest(Exception):
    pass


def _whole(value: object, name: str, low: int, high: int | None = None) -> int:
    if isinstance(value, str):
        try:
            value = int(value)
        except ValueError:
            raise BadRequest(f"{name} must be a whole number, got {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest(f"{name} must be a whole number, got {json.dumps(value)}")
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f">= {low}"
        raise BadRequest(f"{name} must be {bound}, got {value}")
    return value


def _flag(value: str, name: str) -> bool:
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no"):
        return False
    raise BadRequest(f"{name} must be true or false, got {value!r}")


def _split_ids(position: dict[str, int], ids: Sequence[str]) -> tuple[list[int], list[str]]:
    known = [position[i] for i in ids if i in position]
    return sorted(set(known)), [i for i in ids if i not in position]


def parse_action(
    config: FleetConfig, do: str, body: dict[str, Any], position: dict[str, int] | None = None
) -> tuple[list[int], list[str], dict[str, Any]]:
    """The indices an action's body targets, the unknown ids it names, and the action's fields
    checked; BadRequest naming the field. ``position``: id -> index (made when not given)."""
    if position is None:
        position = {cp_id: i for i, cp_id in enumerate(config.ids)}
    if do not in ACTIONS:
        raise BadRequest(f"no action {do!r}; the actions: {', '.join(ACTIONS)}")
    allowed = set(TARGET_FIELDS) | set(ACTION_FIELDS[do])
    unknown_fields = sorted(set(body) - allowed)
    if unknown_fields:
        raise BadRequest(
            f"{unknown_fields[0]}: not a field of {do}; its fields: {', '.join((*TARGET_FIELDS, *ACTION_FIELDS[do]))}"
        )
    targets = [name for name in ("id", "ids", "share") if name in body]
    if len(targets) != 1:
        raise BadRequest("give one of id (a station), ids (a list of ids) or share (0 to 1 of the fleet)")
    unknown: list[str] = []
    if "id" in body:
        if not isinstance(body["id"], str):
            raise BadRequest(f"id must be a station id (string), got {json.dumps(body['id'])}")
        indices, unknown = _split_ids(position, [body["id"]])
    elif "ids" in body:
        ids = body["ids"]
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise BadRequest("ids must be a list of station ids (strings)")
        indices, unknown = _split_ids(position, ids)
    else:
        share = body["share"]
        if isinstance(share, bool) or not isinstance(share, int | float) or not 0 <= share <= 1:
            raise BadRequest(f"share must be a number from 0 to 1, got {json.dumps(share)}")
        seed = _whole(body.get("seed", config.seed), "seed", 0)
        count = min(config.count, round(share * config.count))
        indices = sorted(random.Random(seed).sample(range(config.count), count))
    if "seed" in body and "share" not in body:
        raise BadRequest("seed goes with share")
    fields: dict[str, Any] = {}
    if "connector" in body:
        fields["connector"] = _whole(
            body["connector"], "connector", 0 if do in ("fault", "clear-fault") else 1
        )
    if do == "swipe":
        tag = body.get("idTag")
        if not isinstance(tag, str) or not 1 <= len(tag) <= 20:
            raise BadRequest(
                f"idTag is required: 1 to 20 characters (OCPP 1.6 IdToken), got {json.dumps(tag)}"
            )
        fields["idTag"] = tag
    if do == "plug" and "ev" in body:
        if not isinstance(body["ev"], dict):
            raise BadRequest("ev must be an object (maxCurrent, phases, batteryCapacityWh, soc, targetSoc)")
        try:
            EVParams.from_dict(body["ev"])
        except ValueError as exc:
            raise BadRequest(f"ev: {exc}") from None
        fields["ev"] = body["ev"]
    if do == "fault":
        for name in ("errorCode", "info", "vendorErrorCode"):
            if name in body and not isinstance(body[name], str):
                raise BadRequest(f"{name} must be a string")
            if name in body:
                fields[name] = body[name]
    return indices, unknown, fields


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def build_app(
    config: FleetConfig,
    backend: Backend,
    snapshot: Callable[[], dict[str, Any]],
    elapsed: Callable[[], float],
) -> web.Application:
    """The fleet's API over ``backend``; ``snapshot()`` is the aggregated statistics (for
    ``/state`` and ``/metrics``), ``elapsed()`` the seconds since the start."""
    position = {cp_id: i for i, cp_id in enumerate(config.ids)}

    def summary() -> dict[str, Any]:
        figures = summarize(snapshot(), elapsed())
        figures["count"] = config.count
        figures["processes"] = config.process_count
        return figures

    async def get_state(request: web.Request) -> web.Response:
        return web.json_response(summary())

    async def get_stations(request: web.Request) -> web.Response:
        q = request.query
        known = ("offset", "limit", "status", "connected", "booted", "template", "ids", "match", "sort")
        for name in q:
            if name not in known:
                raise BadRequest(f"{name}: unknown parameter; known: {', '.join(known)}")
        offset = _whole(q.get("offset", "0"), "offset", 0)
        limit = _whole(q.get("limit", str(DEFAULT_LIMIT)), "limit", 1, MAX_LIMIT)
        query: dict[str, Any] = {"kind": "stations", "offset": offset, "limit": limit}
        for name in ("status", "match"):
            if name in q:
                query[name] = q[name]
        if "sort" in q:
            if q["sort"] not in SORTS:
                raise BadRequest(f"sort: no order {q['sort']!r}; the orders: {', '.join(SORTS)}")
            query["sort"] = q["sort"]
        for name in ("connected", "booted"):
            if name in q:
                query[name] = _flag(q[name], name)
        if "template" in q:
            names = [t.name for t in config.templates]
            if q["template"] not in names:
                raise BadRequest(
                    f"template: no template {q['template']!r}; the templates: {', '.join(names)}"
                )
            query["template"] = q["template"]
        unknown: list[str] = []
        if "ids" in q:
            query["indices"], unknown = _split_ids(position, [i for i in q["ids"].split(",") if i])
        answer = merge_stations(await backend.ask(query), offset, limit, query.get("sort"))
        if "ids" in q:
            answer["unknown"] = unknown
        return web.json_response(answer)

    async def get_station(request: web.Request) -> web.Response:
        cp_id = request.match_info["id"]
        index = position.get(cp_id)
        if index is None:
            return _error(404, f"no station {cp_id!r} in the fleet")
        parts = await backend.ask({"kind": "station", "index": index})
        for part in parts:
            if part["state"] is not None:
                return web.json_response(part["state"])
        return _error(404, f"station {cp_id!r} has not started yet")

    async def post_action(request: web.Request) -> web.Response:
        do = request.match_info["do"]
        text = await request.text()
        try:
            body = json.loads(text) if text.strip() else {}
        except json.JSONDecodeError as exc:
            raise BadRequest(f"body is not JSON: {exc.msg}") from None
        if not isinstance(body, dict):
            raise BadRequest("body must be a JSON object")
        indices, unknown, fields = parse_action(config, do, body, position)
        parts = await backend.ask({"kind": "action", "do": do, "indices": indices, "body": fields})
        answer = {"do": do, "requested": len(indices) + len(unknown), **merge_action(parts, config)}
        answer["unknown"] = unknown
        return web.json_response(answer)

    async def get_metrics(request: web.Request) -> web.Response:
        try:
            from ocpp_station.fleet.metrics import CONTENT_TYPE_LATEST, render_metrics
        except ImportError:
            return _error(501, 'prometheus-client is not installed: pip install "ocpp-station[fleet]"')
        response = web.Response(body=render_metrics(snapshot))
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response

    @web.middleware
    async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except BadRequest as exc:
            return _error(400, str(exc))
        except TimeoutError as exc:
            return _error(504, str(exc) or "the workers did not answer in time")

    # api_errors: the mounted station routes' bad values (400) as on a station's own API
    app = web.Application(middlewares=[errors, api_errors])
    events = FleetEvents(summary)
    app[EVENTS] = events
    app.on_shutdown.append(events.close)
    app.add_routes(
        [
            web.get("/state", get_state),
            web.get("/stations", get_stations),
            web.get("/stations/{id}", get_station),
            web.post("/actions/{do}", post_action),
            web.get("/metrics", get_metrics),
            web.get("/", get_page),
            web.get("/static/{name}", get_asset),
            web.get("/events", events.handle),
        ]
    )
    if isinstance(backend, LocalBackend):
        app.add_routes(station_mount(config, backend.group))
        close_streams_on_shutdown(app)  # the station pages' streams end with the API
    else:
        port_of = getattr(backend, "station_port", None)  # Workers (fleet/runner.py)
        if port_of is not None:
            app.add_routes([proxy_route(config, port_of)])
            app.cleanup_ctx.append(proxy_session)
    return app


async def start_fleet_api(
    config: FleetConfig,
    backend: Backend,
    snapshot: Callable[[], dict[str, Any]],
    elapsed: Callable[[], float],
) -> tuple[web.AppRunner, int]:
    """Serve the API on ``config.control_host:config.control_port``; the runner (``cleanup()`` to
    stop) and the port bound (``controlPort`` 0: any free port)."""
    runner = web.AppRunner(
        build_app(config, backend, snapshot, elapsed), access_log=None, shutdown_timeout=2.0
    )
    await runner.setup()
    site = web.TCPSite(runner, config.control_host, config.control_port)
    await site.start()
    port = 0
    server = getattr(site, "_server", None)
    if server is not None and server.sockets:
        port = server.sockets[0].getsockname()[1]
    return runner, port
