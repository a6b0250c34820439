"""Timed fleet actions and the packaged scenarios (issue 11).

A fleet file's ``actions`` list says what happens to a share of the stations at a given time, e.g.
``{"at": 60, "do": "drop-network", "share": 1.0, "for": 30, "jitter": 10}``: a minute in, every
station loses its network for 30 s and each gets it back within a further 10 s (uniformly spread), so
the CSMS sees a mass reconnect with the stations' queued transaction messages replayed at their
``durability.replayRate``. docs/fleet-scenarios.md lists every action and field.

As for the ATG, the *plan* (:func:`plan_actions`: which station does what when) is a pure function
of the actions, the number of stations and the seed; :func:`run_actions` walks it in one task, asleep
between steps, until ``stop`` (planning each action when its time comes, over the stations started
by then). In a fleet of several processes each process runs the actions on its
own stations (a share is per process). A step the station refuses (an EV already plugged in, no EV to
unplug) is counted and logged once at the end, never raised.

The packaged scenarios (``fleet/scenarios/*.json``) are fleet files without a URL:
:func:`scenario_names` and :func:`load_scenario`; ``ocpp-station fleet --scenario NAME --url ...``
runs one.
"""

from __future__ import annotations

import asyncio
import heapq
import json
import logging
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from ocpp_station.fleet.atg import FAULT_CODES, stopped_within
from ocpp_station.hardware.simulated import EVParams

if TYPE_CHECKING:
    from ocpp_station.transport.station import Station

__all__ = [
    "ACTIONS",
    "Action",
    "Planned",
    "load_scenario",
    "parse_actions",
    "plan_action",
    "plan_actions",
    "run_actions",
    "scenario_names",
]

log = logging.getLogger("ocpp_station.fleet")

#: Every action: the fields it takes besides at, do, share and jitter, and what undoes it after "for".
ACTIONS: Final[dict[str, tuple[tuple[str, ...], str | None]]] = {
    "drop-network": (("for",), "restore-network"),
    "restore-network": ((), None),
    "plug": (("connector", "ev", "for"), "unplug"),
    "unplug": (("connector",), None),
    "swipe": (("connector", "idTag"), None),
    "fault": (("connector", "errorCode", "for"), "clear-fault"),
    "clear-fault": (("connector",), None),
    "ev-suspend": (("connector", "for"), "ev-resume"),
    "ev-resume": (("connector",), None),
    "reboot": (("hard",), None),
}
_COMMON: Final = ("at", "do", "share", "jitter", "description")


@dataclass(frozen=True, slots=True)
class Action:
    """One timed fleet action (``actions[i]``)."""

    at: float
    do: str
    #: Share of the stations (of this process) it acts on, chosen by the seed.
    share: float = 1.0
    #: Undo it this many seconds later (drop-network, plug, fault, ev-suspend); None: never.
    for_s: float | None = None
    #: Spread, uniformly over this many seconds: the undo when there is a ``for``, else the action.
    jitter: float = 0.0
    connector: int = 1
    id_tag: str = ""
    error_code: str = "OtherError"
    ev: EVParams | None = None
    #: Reboot: hard (power cycle) or soft.
    hard: bool = False


def _number(value: object, where: str, low: float = 0.0, *, above: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{where}: must be a number, got {json.dumps(value)}")
    if value <= low if above else value < low:
        raise ValueError(
            f"{where}: must be a number {'>' if above else '>='} {low:g}, got {json.dumps(value)}"
        )
    return float(value)


def parse_actions(data: object, path: str) -> tuple[Action, ...]:
    """The fleet file's ``actions`` list at ``path``; ValueError("<path>[i].<field>: what is wrong")."""
    if not isinstance(data, list):
        raise ValueError(f"{path}: must be a list of actions, got {json.dumps(data)[:60]}")
    return tuple(_parse_action(item, f"{path}[{i}]") for i, item in enumerate(data))


def _parse_action(data: object, where: str) -> Action:
    if not isinstance(data, dict):
        raise ValueError(f'{where}: must be an object like {{"at": 60, "do": "drop-network"}}')
    for name in ("at", "do"):
        if name not in data:
            raise ValueError(f"{where}.{name}: is required")
    do = data["do"]
    if do not in ACTIONS:
        raise ValueError(f"{where}.do: must be one of {', '.join(ACTIONS)}, got {json.dumps(do)}")
    own, _ = ACTIONS[do]
    unknown = sorted(set(data) - set(_COMMON) - set(own))
    if unknown:
        known = ", ".join((*_COMMON[:-1], *own))
        raise ValueError(f"{where}.{unknown[0]}: not a field of {do}; its fields: {known}")
    values: dict[str, Any] = {"at": _number(data["at"], f"{where}.at"), "do": do}
    if "share" in data:
        share = _number(data["share"], f"{where}.share")
        if share > 1:
            raise ValueError(
                f"{where}.share: must be a share between 0 and 1, got {json.dumps(data['share'])}"
            )
        values["share"] = share
    if "jitter" in data:
        values["jitter"] = _number(data["jitter"], f"{where}.jitter")
    if "for" in data:
        values["for_s"] = _number(data["for"], f"{where}.for", above=True)
    if "connector" in data:
        cid = data["connector"]
        low = 0 if do in ("fault", "clear-fault") else 1
        if isinstance(cid, bool) or not isinstance(cid, int) or cid < low:
            raise ValueError(f"{where}.connector: must be a connector id >= {low}, got {json.dumps(cid)}")
        values["connector"] = cid
    if do == "swipe":
        tag = data.get("idTag")
        if not isinstance(tag, str) or not 1 <= len(tag) <= 20:
            raise ValueError(
                f"{where}.idTag: is required, 1 to 20 characters (OCPP 1.6 IdToken), got {json.dumps(tag)}"
            )
        values["id_tag"] = tag
    if "errorCode" in data:
        if data["errorCode"] not in FAULT_CODES:
            raise ValueError(
                f"{where}.errorCode: must be one of {', '.join(FAULT_CODES)}, got {json.dumps(data['errorCode'])}"
            )
        values["error_code"] = data["errorCode"]
    if "ev" in data:
        if not isinstance(data["ev"], dict):
            raise ValueError(
                f"{where}.ev: must be an object (the config file's ev fields), got {json.dumps(data['ev'])}"
            )
        try:
            values["ev"] = EVParams.from_dict(data["ev"])
        except ValueError as exc:
            raise ValueError(f"{where}.ev: {exc}") from None
    if "hard" in data:
        if not isinstance(data["hard"], bool):
            raise ValueError(f"{where}.hard: must be true or false, got {json.dumps(data['hard'])}")
        values["hard"] = data["hard"]
    return Action(**values)


class Planned(NamedTuple):
    """One station's step of an action: at ``at`` s, station ``station`` (index) does ``kind``
    (the action's, or its undo) for ``actions[action]``."""

    at: float
    kind: str
    station: int
    action: int


def plan_actions(actions: Sequence[Action], stations: int, seed: int) -> list[Planned]:
    """Every station's steps, in time order: a pure function of its arguments (each action draws
    its share and its jitter from its own ``random.Random``, seeded by ``seed`` and its index)."""
    steps = [
        step for index, action in enumerate(actions) for step in plan_action(action, index, stations, seed)
    ]
    steps.sort(key=lambda step: step.at)  # stable: ties keep the actions' order
    return steps


def plan_action(action: Action, index: int, stations: int, seed: int) -> list[Planned]:
    """The steps of ``actions[index]`` on ``stations`` stations (times from the actions' start)."""
    rng = random.Random(f"{seed}:{index}")
    count = min(stations, round(action.share * stations))
    chosen = range(stations) if count == stations else sorted(rng.sample(range(stations), count))
    undo = ACTIONS[action.do][1]
    steps: list[Planned] = []
    for station in chosen:
        spread = rng.uniform(0.0, action.jitter) if action.jitter else 0.0
        if action.for_s is not None and undo is not None:
            steps.append(Planned(action.at, action.do, station, index))
            steps.append(Planned(action.at + action.for_s + spread, undo, station, index))
        else:
            steps.append(Planned(action.at + spread, action.do, station, index))
    return steps


async def run_actions(
    stations: Sequence[Station], actions: tuple[Action, ...], seed: int, stop: asyncio.Event
) -> None:
    """Carry out the actions on ``stations`` (times from now) until done or ``stop``. Each action
    is planned (:func:`plan_action`) when its time comes, over the stations there are then: the
    fleet's runner passes its list while the ramp still fills it. A network it dropped and has not
    restored is restored on the way out."""
    loop = asyncio.get_running_loop()
    origin = loop.time()
    dropped: set[int] = set()
    refused: dict[str, int] = {}
    upcoming = sorted(range(len(actions)), key=lambda i: actions[i].at)
    due: list[tuple[float, int, int, Planned]] = []  # (at, action, order, step)
    order = 0
    try:
        while upcoming or due:
            if upcoming and (not due or actions[upcoming[0]].at <= due[0][0]):
                index = upcoming.pop(0)
                if await stopped_within(stop, origin + actions[index].at - loop.time()):
                    return
                for step in plan_action(actions[index], index, len(stations), seed):
                    heapq.heappush(due, (step.at, index, order, step))
                    order += 1
                continue
            step = heapq.heappop(due)[3]
            if await stopped_within(stop, origin + step.at - loop.time()):
                return
            station = stations[step.station]
            try:
                _apply(station, step.kind, actions[step.action])
            except (ValueError, TypeError) as exc:
                refused[step.kind] = refused.get(step.kind, 0) + 1
                log.debug("%s: %s refused: %s", station.config.charge_point_id, step.kind, exc)
                continue
            if step.kind == "drop-network":
                dropped.add(step.station)
            elif step.kind == "restore-network":
                dropped.discard(step.station)
    finally:
        for index in dropped:
            stations[index].network_connect()
        for kind, count in refused.items():
            log.info("fleet action %s: %d station(s) refused it", kind, count)


def _apply(station: Station, kind: str, action: Action) -> None:
    cid = action.connector
    if kind == "drop-network":
        station.network_disconnect()
    elif kind == "restore-network":
        station.network_connect()
    elif kind == "plug":
        station.plug(cid, action.ev)
    elif kind == "unplug":
        station.unplug(cid)
    elif kind == "swipe":
        station.present_id_tag(action.id_tag, cid)
    elif kind == "fault":
        station.raise_fault(cid, action.error_code)
    elif kind == "clear-fault":
        station.clear_fault(cid)
    elif kind == "ev-suspend":
        station.ev_suspend(cid)
    elif kind == "ev-resume":
        station.ev_resume(cid)
    elif kind == "reboot":
        restart = getattr(station, "restart_soon", None)  # the Reset path: hardware reboot, fresh engine
        if restart is not None:
            restart(action.hard)


# -- packaged scenarios -----------------------------------------------------------------------------


def scenario_names() -> list[str]:
    """The packaged scenarios' names, sorted."""
    folder = resources.files("ocpp_station.fleet") / "scenarios"
    return sorted(p.name[: -len(".json")] for p in folder.iterdir() if p.name.endswith(".json"))


def load_scenario(name: str) -> dict[str, object]:
    """The packaged scenario ``name``: a fleet file's dict without a URL. KeyError naming the known
    scenarios when there is none of that name."""
    names = scenario_names()
    if name not in names:
        raise KeyError(f"no scenario {name!r}; the scenarios are: {', '.join(names)}")
    text = (resources.files("ocpp_station.fleet") / "scenarios" / f"{name}.json").read_text(encoding="utf-8")
    data: dict[str, object] = json.loads(text)
    return data
