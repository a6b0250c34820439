"""The automatic transaction generator (ATG): drivers and EVs for one station of a fleet, seeded.

A template's ``atg`` object (docs/fleet-scenarios.md lists every field) says how sessions come and go
on each connector: arrivals (a gap between sessions, optionally shaped by a daily profile), a card
(``present_id_tag``) or a remote start (the EV is plugged in and waits a bounded time for the CSMS's
RemoteStartTransaction, which the station itself handles), an EV model from a weighted mix (battery,
maximum power, state of charge) handed to the station's simulator, a session duration (or "until
full"), a stop by card or by unplugging, and faults and network drops at given rates per hour.

Two halves, so that determinism is tested without time:

* :func:`plan` is a pure function of the configuration, the seed and the station's connectors: an
  endless sequence of timed :class:`Step` s (seconds from the start), each computed when the one
  before it is taken (:class:`AtgPlan`: a small object per connector and per kind of event). One
  :class:`SplitMix64` (one int of state, not a 2.5 KB ``random.Random``) per station draws
  everything, in the order the steps come out.
* :func:`start_atg` walks the plan on a running :class:`~ocpp_station.transport.station.Station`
  without a task: one timer on the loop for the next step (:class:`AtgDriver`); :func:`run_atg` is
  the same for a caller that keeps a task per station. OCPP outcomes only change what is done at a
  step: a card refused, or a remote start that did not come within ``startTimeout``, ends the
  session attempt (the EV is unplugged, the session's later steps are skipped) and is counted in
  :class:`AtgCounters`; it never raises for them. :func:`atg_snapshot` gives the process's figures.

Distributions (``fixed``, ``uniform``, ``normal`` with bounds, ``exponential``, weighted ``choice``)
are parsed by :func:`parse_distribution`; every error names its field:
``templates[0].atg.duration.normal.sd: must be a number >= 0, got -1``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, Final, NamedTuple, TypeVar

from ocpp_station.core.settings import ConnectorSpec
from ocpp_station.hardware.simulated import EVParams

if TYPE_CHECKING:
    from ocpp_station.transport.station import Station

__all__ = [
    "TOTALS",
    "AtgConfig",
    "AtgCounters",
    "AtgDriver",
    "AtgPlan",
    "Distribution",
    "EvModel",
    "RateConfig",
    "SplitMix64",
    "Step",
    "atg_snapshot",
    "parse_atg",
    "parse_distribution",
    "plan",
    "run_atg",
    "start_atg",
    "stopped_within",
]

#: The fault codes a fault step may raise (StatusNotification.errorCode without NoError).
FAULT_CODES: Final = (
    "ConnectorLockFailure",
    "EVCommunicationError",
    "GroundFailure",
    "HighTemperature",
    "InternalError",
    "LocalListConflict",
    "OtherError",
    "OverCurrentFailure",
    "OverVoltage",
    "PowerMeterFailure",
    "PowerSwitchFailure",
    "ReaderFailure",
    "ResetFailure",
    "UnderVoltage",
    "WeakSignal",
)
T = TypeVar("T")
#: Steps one wake of the timer may take before it lets the loop run (a plan of zero-length gaps).
_STEPS_PER_WAKE: Final = 1000
#: Tries a bounded normal distribution makes before it clamps to its bounds.
_NORMAL_TRIES: Final = 32
#: Candidate arrivals a daily profile may refuse in a row before one is taken anyway (a profile
#: of one busy hour in 24 refuses about 23 in 24).
_PROFILE_TRIES: Final = 10_000


# -- the random numbers -----------------------------------------------------------------------------

_MASK: Final = (1 << 64) - 1
_GAMMA: Final = 0x9E3779B97F4A7C15


class SplitMix64:
    """A seeded generator with one int of state (a 64-bit counter): SplitMix64 (Steele, Lea and
    Flood, "Fast splittable pseudorandom number generators", 2014; Vigna's splitmix64.c), about
    100 bytes where a ``random.Random`` (Mersenne Twister) holds 2.5 KB. Not for cryptography.

    The seed is taken modulo 2**64. Seeds a little apart (a fleet's ``seed + index``) give
    unrelated streams: the state advances by the golden-ratio constant, so two streams overlap
    within n draws only if their seeds differ by about 2**64 / n.
    It offers what the ATG draws: :meth:`random`, :meth:`uniform`, :meth:`expovariate`,
    :meth:`normal`, :meth:`randrange`, :meth:`choice` and :meth:`weighted_index`."""

    __slots__ = ("state",)

    def __init__(self, seed: int) -> None:
        self.state = seed & _MASK

    def next_u64(self) -> int:
        """The next 64-bit output (the reference algorithm's ``next()``)."""
        z = self.state = (self.state + _GAMMA) & _MASK
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
        return z ^ (z >> 31)

    def random(self) -> float:
        """A float in [0, 1): the top 53 bits of one output."""
        return (self.next_u64() >> 11) * 1.1102230246251565e-16  # 2**-53

    def uniform(self, a: float, b: float) -> float:
        """A float in [a, b]."""
        return a + (b - a) * self.random()

    def expovariate(self, lambd: float) -> float:
        """Exponential with rate ``lambd`` > 0 (mean 1 / lambd), >= 0."""
        return -math.log(1.0 - self.random()) / lambd

    def normal(self, mu: float, sigma: float) -> float:
        """Normal (Box-Muller, one value of the pair: two outputs a draw, nothing kept between)."""
        radius = math.sqrt(-2.0 * math.log(1.0 - self.random()))
        return mu + sigma * radius * math.cos(2.0 * math.pi * self.random())

    def randrange(self, n: int) -> int:
        """An int in [0, n), 1 <= n <= 2**64, unbiased (the top bits of an output, drawn again
        when >= n)."""
        if not 1 <= n <= _MASK + 1:
            raise ValueError(f"randrange: n must be between 1 and 2**64, got {n}")
        shift = 64 - (n - 1).bit_length()
        while True:
            x = self.next_u64() >> shift
            if x < n:
                return x

    def choice(self, seq: Sequence[T]) -> T:
        """One element of a non-empty ``seq``, each as likely."""
        return seq[self.randrange(len(seq))]

    def weighted_index(self, weights: Sequence[float]) -> int:
        """An index of ``weights`` (>= 0, not all 0) drawn in proportion to its weight."""
        x = self.random() * sum(weights)
        last = 0
        for index, weight in enumerate(weights):
            if weight > 0:
                if x < weight:
                    return index
                x -= weight
                last = index
        return last  # rounding left x at the very top: the last index that has a weight


# -- distributions ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Distribution:
    """A random number: ``fixed`` (a), ``uniform`` (a..b), ``normal`` (mean a, sd b, kept within
    c..d), ``exponential`` (mean a, at most d), ``choice`` (values with weights)."""

    kind: str
    a: float = 0.0
    b: float = 0.0
    c: float = -math.inf
    d: float = math.inf
    values: tuple[float, ...] = ()
    weights: tuple[float, ...] = ()

    def sample(self, rng: SplitMix64) -> float:
        kind = self.kind
        if kind == "fixed":
            return self.a
        if kind == "uniform":
            return rng.uniform(self.a, self.b)
        if kind == "exponential":
            return min(rng.expovariate(1.0 / self.a), self.d) if self.a > 0 else 0.0
        if kind == "normal":
            for _ in range(_NORMAL_TRIES):
                x = rng.normal(self.a, self.b)
                if self.c <= x <= self.d:
                    return x
            return min(max(self.a, self.c), self.d)
        return self.values[rng.weighted_index(self.weights)]

    @property
    def low(self) -> float:
        """The least value it can give."""
        if self.kind == "fixed" or self.kind == "uniform":
            return self.a
        if self.kind == "exponential":
            return 0.0
        if self.kind == "normal":
            return self.c
        return min(self.values)

    @property
    def high(self) -> float:
        """The greatest value it can give."""
        if self.kind == "fixed":
            return self.a
        if self.kind == "uniform":
            return self.b
        if self.kind == "exponential" or self.kind == "normal":
            return self.d
        return max(self.values)


def _fixed(value: float) -> Distribution:
    return Distribution("fixed", value)


def _number(value: object, where: str, low: float | None = None, *, above: bool = False) -> float:
    """A JSON number (not a boolean), finite, >= low (> low with ``above``); ValueError naming ``where``."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{where}: must be a number, got {json.dumps(value)}")
    if low is not None and (value <= low if above else value < low):
        raise ValueError(
            f"{where}: must be a number {'>' if above else '>='} {low:g}, got {json.dumps(value)}"
        )
    return float(value)


def _share(value: object, where: str) -> float:
    share = _number(value, where, 0.0)
    if share > 1:
        raise ValueError(f"{where}: must be a share between 0 and 1, got {json.dumps(value)}")
    return share


def _object(value: object, where: str, known: Sequence[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"{where}: must be an object, got {json.dumps(value)}")
    unknown = sorted(set(value) - set(known))
    if unknown:
        raise ValueError(f"{where}.{unknown[0]}: unknown field; known: {', '.join(known)}")
    return value


_DISTRIBUTION_KINDS: Final = ("fixed", "uniform", "normal", "exponential", "choice")


def parse_distribution(value: object, where: str, low: float = 0.0, high: float = math.inf) -> Distribution:
    """A number (fixed) or one of ``{"fixed": x}``, ``{"uniform": [a, b]}``,
    ``{"normal": {"mean": m, "sd": s, "min": a, "max": b}}`` (min defaults to ``low``),
    ``{"exponential": m}`` or ``{"exponential": {"mean": m, "max": b}}``,
    ``{"choice": [[value, weight], ...]}``; every value it can give within ``low``..``high``.
    ValueError naming the field."""
    if not isinstance(value, dict):
        if isinstance(value, int | float) and not isinstance(value, bool):
            dist = _fixed(_number(value, where))
            _within(dist, where, low, high)
            return dist
        raise ValueError(
            f"{where}: must be a number or one of {{{', '.join(_DISTRIBUTION_KINDS)}: ...}}, "
            f"got {json.dumps(value)}"
        )
    if len(value) != 1 or next(iter(value)) not in _DISTRIBUTION_KINDS:
        raise ValueError(
            f"{where}: must hold exactly one of {', '.join(_DISTRIBUTION_KINDS)}, got {json.dumps(value)}"
        )
    kind, body = next(iter(value.items()))
    at = f"{where}.{kind}"
    if kind == "fixed":
        dist = _fixed(_number(body, at))
    elif kind == "uniform":
        if not isinstance(body, list) or len(body) != 2:
            raise ValueError(f"{at}: must be [low, high], got {json.dumps(body)}")
        a, b = _number(body[0], f"{at}[0]"), _number(body[1], f"{at}[1]")
        if a > b:
            raise ValueError(f"{at}: low {a:g} is above high {b:g}")
        dist = Distribution("uniform", a, b)
    elif kind == "normal":
        spec = _object(body, at, ("mean", "sd", "min", "max"))
        for name in ("mean", "sd"):
            if name not in spec:
                raise ValueError(f"{at}.{name}: is required")
        mean = _number(spec["mean"], f"{at}.mean")
        sd = _number(spec["sd"], f"{at}.sd", 0.0)
        lo = _number(spec["min"], f"{at}.min") if "min" in spec else low
        hi = _number(spec["max"], f"{at}.max") if "max" in spec else high
        if lo > hi:
            raise ValueError(f"{at}: min {lo:g} is above max {hi:g}")
        dist = Distribution("normal", mean, sd, lo, hi)
    elif kind == "exponential":
        if isinstance(body, dict):
            spec = _object(body, at, ("mean", "max"))
            if "mean" not in spec:
                raise ValueError(f"{at}.mean: is required")
            mean = _number(spec["mean"], f"{at}.mean", 0.0, above=True)
            hi = _number(spec["max"], f"{at}.max", 0.0) if "max" in spec else high
        else:
            mean, hi = _number(body, at, 0.0, above=True), high
        dist = Distribution("exponential", mean, d=hi)
    else:
        if not isinstance(body, list) or not body:
            raise ValueError(f"{at}: must be a non-empty list of [value, weight], got {json.dumps(body)}")
        values, weights = [], []
        for i, pair in enumerate(body):
            if not isinstance(pair, list) or len(pair) != 2:
                raise ValueError(f"{at}[{i}]: must be [value, weight], got {json.dumps(pair)}")
            values.append(_number(pair[0], f"{at}[{i}][0]"))
            weights.append(_number(pair[1], f"{at}[{i}][1]", 0.0))
        if not sum(weights) > 0:
            raise ValueError(f"{at}: the weights add up to 0")
        dist = Distribution("choice", values=tuple(values), weights=tuple(weights))
    _within(dist, where, low, high)
    return dist


def _within(dist: Distribution, where: str, low: float, high: float) -> None:
    if dist.low < low or dist.high > high:
        bounds = f"between {low:g} and {high:g}" if math.isfinite(high) else f">= {low:g}"
        raise ValueError(
            f"{where}: every value must be {bounds} (give min/max), got {dist.low:g}..{dist.high:g}"
        )


# -- configuration ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EvModel:
    """One EV model of the mix (``atg.ev[i]``)."""

    weight: float = 1.0
    battery_wh: float = 60_000.0
    max_power_w: float = 11_000.0
    phases: int = 3
    soc: Distribution = Distribution("uniform", 10.0, 50.0)
    target_soc: Distribution = Distribution("fixed", 100.0)
    reports_soc: bool = True


@dataclass(frozen=True, slots=True)
class RateConfig:
    """Events at a rate per hour (exponential gaps), each lasting ``duration`` seconds."""

    per_hour: float
    duration: Distribution
    error_codes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AtgConfig:
    """A template's ``atg`` object, parsed (times in seconds). See docs/fleet-scenarios.md."""

    #: Connector ids the ATG drives; empty: every connector of the station.
    connectors: tuple[int, ...] = ()
    #: Gap between one session's unplug and the next plug on a connector.
    arrival: Distribution = Distribution("exponential", 600.0)
    #: 24 relative arrival rates, one per hour of the local day (empty: none).
    daily_profile: tuple[float, ...] = ()
    #: Share of sessions started by the CSMS (RemoteStartTransaction) instead of a card.
    remote_share: float = 0.0
    #: Cards presented: this list, or ``id_tag_pattern`` formatted with n = 1..id_tag_count and id.
    id_tags: tuple[str, ...] = ("ATG-CARD",)
    id_tag_pattern: str = ""
    id_tag_count: int = 0
    #: From plug to card.
    auth_delay: Distribution = Distribution("fixed", 2.0)
    #: How long after the card (or the plug, for a remote start) a transaction must have started.
    start_timeout: float = 30.0
    #: The EV mix; empty: the station's own ``ev`` section.
    evs: tuple[EvModel, ...] = ()
    #: From the start (card or plug) to the stop; None: until the battery is full (estimated).
    duration: Distribution | None = Distribution("normal", 3600.0, 1800.0, 300.0, 14_400.0)
    #: With duration "full": how long the EV stays plugged in once full.
    idle_after_full: Distribution = Distribution("fixed", 0.0)
    #: Share of sessions stopped by presenting the card again (the rest: by unplugging).
    stop_by_card: float = 0.5
    #: From a stop by card to the unplug.
    unplug_delay: Distribution = Distribution("fixed", 2.0)
    faults: RateConfig | None = None
    network_drops: RateConfig | None = None


_ATG_FIELDS: Final = (
    "connectors",
    "arrival",
    "dailyProfile",
    "remoteShare",
    "idTags",
    "idTagPattern",
    "idTagCount",
    "authDelay",
    "startTimeout",
    "ev",
    "duration",
    "idleAfterFull",
    "stopByCard",
    "unplugDelay",
    "faults",
    "networkDrops",
)
_EV_FIELDS: Final = ("weight", "batteryKWh", "maxPowerKW", "phases", "soc", "targetSoc", "reportsSoc")


def parse_atg(data: object, path: str) -> AtgConfig:
    """The ``atg`` object at ``path`` (e.g. ``templates[0].atg``); ValueError("<path>.<field>: ...")."""
    spec = _object(data, path, _ATG_FIELDS)
    values: dict[str, Any] = {}
    at = f"{path}.".__add__
    if "connectors" in spec:
        ids = spec["connectors"]
        if not isinstance(ids, list) or not ids:
            raise ValueError(
                f"{at('connectors')}: must be a non-empty list of connector ids, got {json.dumps(ids)}"
            )
        for i, cid in enumerate(ids):
            if isinstance(cid, bool) or not isinstance(cid, int) or cid < 1:
                raise ValueError(
                    f"{at('connectors')}[{i}]: must be a connector id >= 1, got {json.dumps(cid)}"
                )
        if len(set(ids)) != len(ids):
            raise ValueError(f"{at('connectors')}: lists a connector twice")
        values["connectors"] = tuple(ids)
    for name, attr in (
        ("arrival", "arrival"),
        ("authDelay", "auth_delay"),
        ("idleAfterFull", "idle_after_full"),
        ("unplugDelay", "unplug_delay"),
    ):
        if name in spec:
            values[attr] = parse_distribution(spec[name], at(name))
    if "dailyProfile" in spec:
        profile = spec["dailyProfile"]
        if not isinstance(profile, list) or len(profile) != 24:
            raise ValueError(
                f"{at('dailyProfile')}: must be a list of 24 rates (one per hour), got {json.dumps(profile)}"
            )
        rates = tuple(_number(r, f"{at('dailyProfile')}[{i}]", 0.0) for i, r in enumerate(profile))
        if not max(rates) > 0:
            raise ValueError(f"{at('dailyProfile')}: at least one hour must have a rate > 0")
        values["daily_profile"] = rates
    if "remoteShare" in spec:
        values["remote_share"] = _share(spec["remoteShare"], at("remoteShare"))
    if "stopByCard" in spec:
        values["stop_by_card"] = _share(spec["stopByCard"], at("stopByCard"))
    if "startTimeout" in spec:
        values["start_timeout"] = _number(spec["startTimeout"], at("startTimeout"), 0.0, above=True)
    _parse_id_tags(spec, at, values)
    if "ev" in spec:
        models = spec["ev"]
        if not isinstance(models, list) or not models:
            raise ValueError(f"{at('ev')}: must be a non-empty list of EV models, got {json.dumps(models)}")
        values["evs"] = tuple(_parse_ev(m, f"{at('ev')}[{i}]") for i, m in enumerate(models))
        if not sum(m.weight for m in values["evs"]) > 0:
            raise ValueError(f"{at('ev')}: the weights add up to 0")
    if "duration" in spec:
        given = spec["duration"]
        values["duration"] = None if given == "full" else parse_distribution(given, at("duration"))
    for name, attr in (("faults", "faults"), ("networkDrops", "network_drops")):
        if name in spec:
            values[attr] = _parse_rate(spec[name], at(name), faults=name == "faults")
    return AtgConfig(**values)


def _parse_id_tags(spec: dict[str, Any], at: Callable[[str], str], values: dict[str, Any]) -> None:
    if "idTags" in spec and "idTagPattern" in spec:
        raise ValueError(f"{at('idTags')}: give idTags or idTagPattern, not both")
    if "idTagCount" in spec and "idTagPattern" not in spec:
        raise ValueError(f"{at('idTagCount')}: needs idTagPattern")
    if "idTags" in spec:
        tags = spec["idTags"]
        if not isinstance(tags, list) or not tags:
            raise ValueError(f"{at('idTags')}: must be a non-empty list of idTags, got {json.dumps(tags)}")
        for i, tag in enumerate(tags):
            if not isinstance(tag, str) or not 1 <= len(tag) <= 20:
                raise ValueError(
                    f"{at('idTags')}[{i}]: must be 1 to 20 characters (OCPP 1.6 IdToken), got {json.dumps(tag)}"
                )
        values["id_tags"] = tuple(tags)
    if "idTagPattern" in spec:
        pattern = spec["idTagPattern"]
        count = spec.get("idTagCount", 1)
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError(f"{at('idTagCount')}: must be a whole number >= 1, got {json.dumps(count)}")
        if not isinstance(pattern, str) or not pattern:
            raise ValueError(f'{at("idTagPattern")}: must be a non-empty text like "TAG{{n:05d}}"')
        try:
            sample = pattern.format(n=count, id="")
        except (KeyError, IndexError, ValueError, AttributeError) as exc:
            raise ValueError(
                f"{at('idTagPattern')}: {pattern!r} does not format with n and id: {type(exc).__name__}: {exc}"
            ) from None
        if not 1 <= len(sample) <= 20:
            raise ValueError(f"{at('idTagPattern')}: makes {sample!r}: an idTag is 1 to 20 characters")
        values["id_tag_pattern"] = pattern
        values["id_tag_count"] = count
        values["id_tags"] = ()


def _parse_ev(data: object, where: str) -> EvModel:
    spec = _object(data, where, _EV_FIELDS)
    at = f"{where}.".__add__
    values: dict[str, Any] = {}
    if "weight" in spec:
        values["weight"] = _number(spec["weight"], at("weight"), 0.0)
    if "batteryKWh" in spec:
        values["battery_wh"] = 1000.0 * _number(spec["batteryKWh"], at("batteryKWh"), 0.0, above=True)
    if "maxPowerKW" in spec:
        values["max_power_w"] = 1000.0 * _number(spec["maxPowerKW"], at("maxPowerKW"), 0.0, above=True)
    if "phases" in spec:
        phases = spec["phases"]
        if phases not in (1, 2, 3) or isinstance(phases, bool):
            raise ValueError(f"{at('phases')}: must be 1, 2 or 3, got {json.dumps(phases)}")
        values["phases"] = int(phases)
    if "soc" in spec:
        values["soc"] = parse_distribution(spec["soc"], at("soc"), 0.0, 100.0)
    if "targetSoc" in spec:
        values["target_soc"] = parse_distribution(spec["targetSoc"], at("targetSoc"), 0.0, 100.0)
    if "reportsSoc" in spec:
        if not isinstance(spec["reportsSoc"], bool):
            raise ValueError(
                f"{at('reportsSoc')}: must be true or false, got {json.dumps(spec['reportsSoc'])}"
            )
        values["reports_soc"] = spec["reportsSoc"]
    return EvModel(**values)


def _parse_rate(data: object, where: str, *, faults: bool) -> RateConfig:
    known = ("perHour", "duration", "errorCodes") if faults else ("perHour", "duration")
    spec = _object(data, where, known)
    if "perHour" not in spec:
        raise ValueError(f"{where}.perHour: is required (events per hour per station)")
    per_hour = _number(spec["perHour"], f"{where}.perHour", 0.0)
    duration = parse_distribution(spec.get("duration", 60), f"{where}.duration")
    codes: tuple[str, ...] = ()
    if faults:
        given = spec.get("errorCodes", ["OtherError"])
        if not isinstance(given, list) or not given:
            raise ValueError(f"{where}.errorCodes: must be a non-empty list, got {json.dumps(given)}")
        for i, code in enumerate(given):
            if code not in FAULT_CODES:
                raise ValueError(
                    f"{where}.errorCodes[{i}]: must be one of {', '.join(FAULT_CODES)}, got {json.dumps(code)}"
                )
        codes = tuple(given)
    return RateConfig(per_hour, duration, codes)


# -- the plan ---------------------------------------------------------------------------------------

PLUG: Final = "plug"
SWIPE: Final = "swipe"
CHECK: Final = "check"
STOP_CARD: Final = "stop-card"
UNPLUG: Final = "unplug"
FAULT: Final = "fault"
CLEAR_FAULT: Final = "clear-fault"
NETWORK_DOWN: Final = "network-down"
NETWORK_UP: Final = "network-up"


class Step(NamedTuple):
    """One timed step: ``at`` seconds from the start, on ``connector`` (0: the station), in session
    ``session`` of that connector (0: not part of a session). ``value``: the EVParams of a plug, the
    idTag of a swipe, whether a check is for a remote start, the errorCode of a fault."""

    at: float
    kind: str
    connector: int
    session: int
    value: Any = None


#: :attr:`_Lane.flags`: the session is started remotely, stopped by card, given up by the run.
_REMOTE: Final = 1
_BY_CARD: Final = 2
_ABANDONED: Final = 4
_EVENT_KINDS: Final = frozenset((FAULT, CLEAR_FAULT, NETWORK_DOWN, NETWORK_UP))


class _Lane:
    """What comes next on one connector (its sessions), or for the faults or the network drops:
    the next step's time and kind, and what the session drew at its plug (its stop, :data:`_REMOTE`
    and :data:`_BY_CARD`). Between sessions it holds one float of its own (``at``)."""

    __slots__ = ("at", "connector", "flags", "kind", "session", "stop")

    def __init__(self, kind: str, connector: int, at: float) -> None:
        self.at = at
        self.kind = kind
        self.connector = connector
        self.session = 1
        #: The session's stop (sessions only; 0.0 between sessions).
        self.stop = 0.0
        self.flags = 0


class AtgPlan(SplitMix64):
    """One station's plan as a state: :meth:`next_at` and :meth:`next_step` give its steps in time
    order, each computed when the one before it is taken: no generator, no heap, a small
    :class:`_Lane` per connector and per kind of event. The plan is its own :class:`SplitMix64`
    (one int of state drawn by every lane in the order the steps come out). A pure function of its
    arguments, as :func:`plan`."""

    __slots__ = ("_base", "_charge_point_id", "_connectors", "_lanes", "_start_hour", "config")

    def __init__(
        self,
        config: AtgConfig,
        seed: int,
        connectors: Sequence[ConnectorSpec],
        default_ev: EVParams | None = None,
        *,
        charge_point_id: str = "",
        start_hour: float = 0.0,
    ) -> None:
        super().__init__(seed)
        self.config = config
        self._connectors = connectors
        self._base = default_ev
        self._charge_point_id = charge_point_id
        self._start_hour = start_hour if config.daily_profile else 0.0
        ids = config.connectors or tuple(range(1, len(connectors) + 1))
        lanes = [_Lane(PLUG, cid, self._arrival(0.0)) for cid in ids if cid <= len(connectors)]
        if config.faults is not None and config.faults.per_hour > 0 and lanes:
            lanes.append(_Lane(FAULT, 0, self.expovariate(config.faults.per_hour / 3600.0)))
        if config.network_drops is not None and config.network_drops.per_hour > 0:
            lanes.append(_Lane(NETWORK_DOWN, 0, self.expovariate(config.network_drops.per_hour / 3600.0)))
        self._lanes = tuple(lanes)

    def next_at(self) -> float:
        """When the next step is due (seconds from the start); inf: never (nothing to drive)."""
        at = math.inf
        for lane in self._lanes:
            if lane.at < at:
                at = lane.at
        return at

    def next_step(self) -> Step:
        """The next step (the earliest; on a tie, the lowest connector, then faults, then drops).
        StopIteration when there is none (no connector driven, no events)."""
        best: _Lane | None = None
        for lane in self._lanes:
            if best is None or lane.at < best.at:
                best = lane
        if best is None:
            raise StopIteration
        return self._take_event(best) if best.kind in _EVENT_KINDS else self._take(best)

    def abandon(self, connector: int) -> None:
        """The run gave up the current session on ``connector``: :meth:`skipped` says so of its
        later steps (the plan itself goes on unchanged)."""
        for lane in self._lanes:
            if lane.connector == connector and lane.kind not in _EVENT_KINDS:
                lane.flags |= _ABANDONED

    def skipped(self, step: Step) -> bool:
        """Whether ``step`` belongs to a session the run gave up (call it right after
        :meth:`next_step` gave the step)."""
        if not step.session:
            return False
        for lane in self._lanes:
            if lane.connector == step.connector and lane.kind not in _EVENT_KINDS:
                return bool(lane.flags & _ABANDONED)
        return False

    def _arrival(self, t: float) -> float:
        config = self.config
        t += config.arrival.sample(self)
        profile = config.daily_profile
        if profile:
            peak = max(profile)
            for _ in range(_PROFILE_TRIES):
                hour = int((self._start_hour + t / 3600.0) % 24.0)
                if self.random() * peak < profile[hour]:
                    break
                t += config.arrival.sample(self)
        return t

    def _take(self, lane: _Lane) -> Step:
        config = self.config
        kind, at, cid, session = lane.kind, lane.at, lane.connector, lane.session
        value: Any = None
        if kind == PLUG:
            spec = self._connectors[cid - 1]
            ev = value = _ev(config, self, spec, self._base or _DEFAULT_EV)
            remote = self.random() < config.remote_share
            start = at if remote else at + config.auth_delay.sample(self)
            if config.duration is None:
                length = _time_to_full(ev, spec) + config.idle_after_full.sample(self)
            else:
                length = config.duration.sample(self)
            lane.stop = start + length
            lane.flags = (_REMOTE if remote else 0) | (_BY_CARD if self.random() < config.stop_by_card else 0)
            if remote:
                lane.kind, lane.at = CHECK, min(start + config.start_timeout, lane.stop)
            else:
                lane.kind, lane.at = SWIPE, start
        elif kind == SWIPE:
            value = _id_tag(config, self, self._charge_point_id)
            lane.kind, lane.at = CHECK, min(at + config.start_timeout, lane.stop)
        elif kind == CHECK:
            value = bool(lane.flags & _REMOTE)
            lane.kind, lane.at = (STOP_CARD if lane.flags & _BY_CARD else UNPLUG), lane.stop
        elif kind == STOP_CARD:
            lane.kind, lane.at = UNPLUG, at + config.unplug_delay.sample(self)
        else:  # UNPLUG: the session is over (its flags stay until the next plug, for skipped())
            lane.session += 1
            lane.stop = 0.0
            lane.kind, lane.at = PLUG, self._arrival(at)
        return Step(at, kind, cid, session, value)

    def _take_event(self, lane: _Lane) -> Step:
        """Faults or network drops: exponential gaps, one at a time (the next after the last ended)."""
        kind, at = lane.kind, lane.at
        rate = self.config.faults if kind in (FAULT, CLEAR_FAULT) else self.config.network_drops
        assert rate is not None
        value: Any = None
        if kind == FAULT or kind == NETWORK_DOWN:
            if kind == FAULT:
                ids = [other.connector for other in self._lanes if other.kind not in _EVENT_KINDS]
                lane.connector = ids[0] if len(ids) == 1 else self.choice(ids)
                value = self.choice(rate.error_codes) if rate.error_codes else None
            lane.kind = CLEAR_FAULT if kind == FAULT else NETWORK_UP
            lane.at = at + rate.duration.sample(self)
        else:
            lane.kind = FAULT if kind == CLEAR_FAULT else NETWORK_DOWN
            lane.at = at + self.expovariate(rate.per_hour / 3600.0)
        return Step(at, kind, lane.connector, 0, value)


_DEFAULT_EV: Final = EVParams()


def plan(
    config: AtgConfig,
    seed: int,
    connectors: Sequence[ConnectorSpec],
    default_ev: EVParams | None = None,
    *,
    charge_point_id: str = "",
    start_hour: float = 0.0,
) -> Iterator[Step]:
    """The endless plan of one station, in time order: a pure function of its arguments (one
    :class:`SplitMix64` seeded with ``seed``; the steps of every connector, the faults and the
    network drops merged). ``start_hour``: the hour of the local day at the start (for a daily
    profile). The steps of :class:`AtgPlan`, as an iterator."""
    state = AtgPlan(
        config, seed, connectors, default_ev, charge_point_id=charge_point_id, start_hour=start_hour
    )
    while math.isfinite(state.next_at()):
        yield state.next_step()


def _ev(config: AtgConfig, rng: SplitMix64, spec: ConnectorSpec, base: EVParams) -> EVParams:
    evs = config.evs
    if not evs:
        return base
    model = evs[0] if len(evs) == 1 else evs[rng.weighted_index([m.weight for m in evs])]
    soc = model.soc.sample(rng)
    target = max(soc, model.target_soc.sample(rng))
    return EVParams(
        max_current_a=model.max_power_w / (spec.voltage_v * model.phases),
        phases=model.phases,
        battery_wh=model.battery_wh,
        soc_percent=soc,
        target_soc_percent=target,
        reports_soc=model.reports_soc,
        strict_firmware=base.strict_firmware,
    )


def _time_to_full(ev: EVParams, spec: ConnectorSpec) -> float:
    """Seconds to charge from the EV's SoC to its target at the most the EV and connector allow (the
    CSMS's limits are not known in advance)."""
    power = min(ev.max_current_a, spec.max_current_a) * spec.voltage_v * min(ev.phases, spec.phases)
    energy = max(0.0, ev.target_soc_percent - ev.soc_percent) / 100.0 * ev.battery_wh
    return energy / power * 3600.0 if power > 0 else 0.0


def _id_tag(config: AtgConfig, rng: SplitMix64, charge_point_id: str) -> str:
    if config.id_tag_pattern:
        return config.id_tag_pattern.format(n=1 + rng.randrange(config.id_tag_count), id=charge_point_id)
    tags = config.id_tags
    return tags[0] if len(tags) == 1 else rng.choice(tags)


# -- running ----------------------------------------------------------------------------------------


@dataclass(slots=True)
class AtgCounters:
    """What the ATGs did (one set may serve every station of a process: :data:`TOTALS`)."""

    plugged: int = 0
    swipes: int = 0
    started: int = 0
    refused: int = 0
    remote_timeouts: int = 0
    stopped_by_card: int = 0
    unplugged: int = 0
    faults: int = 0
    network_drops: int = 0
    #: Steps the station refused (e.g. a plug while an EV is still plugged in after a scenario's plug).
    errors: int = 0

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


#: The counters of every ATG of this process that was not given its own.
TOTALS: Final = AtgCounters()
#: ATGs of this process running now (started, not closed).
_running = 0


def atg_snapshot() -> dict[str, int]:
    """This process's ATG figures: :data:`TOTALS` (counts since the process started) and
    ``running`` (ATGs running now). Plain ints: the figures of several processes merge by adding
    them key by key."""
    return {**TOTALS.as_dict(), "running": _running}


class AtgDriver(AtgPlan):
    """One station's ATG running on the event loop without a task: its :class:`AtgPlan` (which it
    is), what it changed on the station (a network drop, faults: one int of bits) and one timer for
    the next step. Made by :func:`start_atg`; :meth:`close` stops it and undoes what it left."""

    __slots__ = ("_handle", "_left", "_origin", "counters", "station")

    def __init__(
        self, station: Station, config: AtgConfig, seed: int, counters: AtgCounters, start_hour: float
    ) -> None:
        spec = station.config
        super().__init__(
            config,
            seed,
            spec.connectors,
            spec.ev,
            charge_point_id=spec.charge_point_id,
            start_hour=start_hour,
        )
        self.station = station
        self.counters = counters
        #: Bit 0: the network is down by its drop; bit n: connector n has a fault of its own.
        self._left = 0
        loop = asyncio.get_running_loop()
        self._origin = loop.time()
        self._handle: asyncio.TimerHandle | None = None
        self._schedule(loop)

    @property
    def running(self) -> bool:
        return self._handle is not None

    def _schedule(self, loop: asyncio.AbstractEventLoop) -> None:
        at = self.next_at()
        self._handle = loop.call_at(self._origin + at, self._wake) if math.isfinite(at) else None

    def _wake(self) -> None:
        """The steps that are due (at most :data:`_STEPS_PER_WAKE`), then the timer for the next."""
        global _running
        loop = asyncio.get_running_loop()
        self._handle = None
        try:
            for _ in range(_STEPS_PER_WAKE):
                if self.next_at() > loop.time() - self._origin:
                    break
                self._do(self.next_step())
        except BaseException:
            _running -= 1  # a bug: the loop's exception handler logs it; this ATG ends here
            raise
        self._schedule(loop)
        if self._handle is None:
            _running -= 1

    def _do(self, step: Step) -> None:
        if self.skipped(step):
            return
        station, tally = self.station, self.counters
        kind, cid = step.kind, step.connector
        try:
            if kind == PLUG:
                station.plug(cid, step.value)
                tally.plugged += 1
            elif kind == SWIPE:
                station.present_id_tag(step.value, cid)
                tally.swipes += 1
            elif kind == CHECK:
                if _transaction_tag(station, cid) is not None:
                    tally.started += 1
                else:
                    if step.value:
                        tally.remote_timeouts += 1
                    else:
                        tally.refused += 1
                    self.abandon(cid)
                    station.unplug(cid)
                    tally.unplugged += 1
            elif kind == STOP_CARD:
                tag = _transaction_tag(station, cid)
                if tag is not None:
                    station.present_id_tag(tag, cid)
                    tally.stopped_by_card += 1
            elif kind == UNPLUG:
                station.unplug(cid)
                tally.unplugged += 1
            elif kind == FAULT:
                station.raise_fault(cid, step.value)
                self._left |= 1 << cid
                tally.faults += 1
            elif kind == CLEAR_FAULT:
                self._left &= ~(1 << cid)
                station.clear_fault(cid)
            elif kind == NETWORK_DOWN:
                station.network_disconnect()
                self._left |= 1
                tally.network_drops += 1
            elif kind == NETWORK_UP:
                self._left &= ~1
                station.network_connect()
        except (ValueError, TypeError):
            tally.errors += 1

    def close(self) -> None:
        """Stop (no step after this) and undo a network drop or a fault of its own. Idempotent."""
        global _running
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
            _running -= 1
        left, self._left = self._left, 0
        if left & 1:
            self.station.network_connect()
        cid = 1
        left >>= 1
        while left:
            if left & 1:
                with contextlib.suppress(ValueError):
                    self.station.clear_fault(cid)
            left >>= 1
            cid += 1


def start_atg(
    station: Station, config: AtgConfig, seed: int, *, counters: AtgCounters | None = None
) -> AtgDriver:
    """Drive one started station by its plan from now on, without a task (a timer for the next
    step, on the running loop), until :meth:`AtgDriver.close`. Never raises for OCPP outcomes or
    for a step the station refuses (counted in ``counters``, :data:`TOTALS` by default)."""
    global _running
    local = time.localtime()
    start_hour = local.tm_hour + local.tm_min / 60.0
    driver = AtgDriver(station, config, seed, TOTALS if counters is None else counters, start_hour)
    if driver.running:
        _running += 1
    return driver


async def run_atg(
    station: Station,
    config: AtgConfig,
    seed: int,
    stop: asyncio.Event,
    *,
    counters: AtgCounters | None = None,
) -> None:
    """:func:`start_atg` until ``stop`` is set (or the task is cancelled), then
    :meth:`AtgDriver.close`. For a caller that holds one task per station anyway; a fleet saves
    the task with :func:`start_atg`."""
    if stop.is_set():
        return
    driver = start_atg(station, config, seed, counters=counters)
    try:
        await stop.wait()
    finally:
        driver.close()


async def stopped_within(stop: asyncio.Event, delay: float) -> bool:
    """Sleep ``delay`` seconds unless ``stop`` is set first: whether it was (no task, no polling)."""
    if delay > 0 and not stop.is_set():
        try:
            async with asyncio.timeout(delay):
                await stop.wait()
        except TimeoutError:
            return False
    return stop.is_set()


def _transaction_tag(station: Station, connector_id: int) -> str | None:
    """The idTag of the transaction on ``connector_id`` (None: none)."""
    for connector in station.view.snapshot()["connectors"]:
        if connector["id"] == connector_id:
            tag: str | None = connector["idTag"]
            return tag
    return None
