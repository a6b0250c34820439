"""Fleet runner bench (issue 11): N stations of ``ocpp-station fleet`` in this process against the
minimal CSMS of bench_stations.py in another; prints the connect time and the RSS per station.

    .venv/bin/python bench/bench_fleet.py [--stations 2000] [--ramp 500] [--hold 10] [--tracemalloc]
    .venv/bin/python bench/bench_fleet.py --scenario message-mix-day --stations 10000 --ramp 500 --hold 600

With ``--scenario`` it is the load run of issue 11's Performance section: the packaged scenario's
template (message-mix-day: Heartbeat every 300 s, StatusNotification on every change, MeterValues with
9 sampled values every 60 s during the ATG's sessions; ``--busy``: the first EVs within minutes instead
of hours, so that nearly every connector is in a session; ``--aligned``: its clock-aligned readings
every 15 min too, off by default as in the issue's load) without its planned network drops and remote
starts (the minimal CSMS sends no RemoteStartTransaction, and a planned drop is not a disconnect), and
measured over ``--hold`` seconds once every station is booted: CALLs, CALLERRORs, timeouts, disconnects
(websocket connections reopened), latency p50/p99 over that window (and over the boot storm apart),
the RSS per station at the start and at the end of the window (flat?), and this process's CPU per CALL,
and the cyclic collector's pauses in the window: this process's and each CSMS process's (the CSMS's own
pauses are the fleet's tail when they are long: its collector is tended, see bench_stations.serve_csms).

The stations are what ``ocpp-station fleet`` builds (one template, the fleet defaults: memory store,
no diagnostics log), run by :func:`ocpp_station.fleet.runner.run_stations` with one shared
FleetStats. Measured: the time from the first start until every station is booted (BootNotification
Accepted, sampled once a second as the fleet does, so to within a second), and
(RSS once all are booted and ``--hold`` seconds have passed - RSS before the first) / N. With
``--tracemalloc`` the Python allocations per station are listed by line, biggest first. Timings are
never asserted: the machine is shared.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import multiprocessing
import os
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

import orjson
from websockets.asyncio.server import ServerConnection

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_stations import (
    GcPauses,
    _child_setup,
    _cpu_of,
    _csms_main,
    _free_port,
    _raise_nofile,
    _rss,
    _say,
    _serve_until_term,
    _stop,
    csms_answerer,
    serve_csms,
)

from ocpp_station.fleet.config import Overrides, parse_duration, parse_fleet
from ocpp_station.fleet.runner import Workers, _run_workers, event_loop_factory, run_stations
from ocpp_station.fleet.scenarios import load_scenario
from ocpp_station.fleet.stats import FleetStats, empty_snapshot, summarize


async def measure(url: str, args: argparse.Namespace) -> dict[str, float]:
    config = parse_fleet(
        {"templates": [{"ocpp": {"HeartbeatInterval": 300, "WebSocketPingInterval": 0}}]},
        "<bench>",
        Overrides(url=url, count=args.stations, ramp=str(args.ramp), processes=1),
    )
    stats = FleetStats()
    stop = asyncio.Event()
    gc.collect()
    if args.tracemalloc:
        tracemalloc.start(3)
    rss_before = _rss()
    before = tracemalloc.take_snapshot() if args.tracemalloc else None
    started = time.perf_counter()
    booted_at: list[float] = []

    def sampled() -> None:
        if not booted_at and stats.gauges["booted"] == args.stations:
            booted_at.append(time.perf_counter() - started)

    run = asyncio.create_task(
        run_stations(config, range(args.stations), stats, stop, ramp_per_s=args.ramp, on_sample=sampled)
    )
    budget = args.stations / args.ramp + 120
    while not booted_at and time.perf_counter() - started < budget:
        await asyncio.sleep(0.2)
    gc.collect()
    gc.freeze()
    await asyncio.sleep(args.hold)
    rss_after = _rss()
    if before is not None:
        after = tracemalloc.take_snapshot()
        print(f"tracemalloc: top allocations per station ({args.stations} stations)", file=sys.stderr)
        for diff in after.compare_to(before, "lineno")[:25]:
            print(f"  {diff.size_diff / args.stations:8.0f} B  {diff.traceback}", file=sys.stderr)
    stop.set()
    await run
    figures = summarize(stats.snapshot(), time.perf_counter() - started)
    return {
        "stations": args.stations,
        "connect_s": booted_at[0] if booted_at else float("nan"),
        "rss_kb_per_station": (rss_after - rss_before) / 1024 / args.stations,
        "rss_mb": rss_after / 1024 / 1024,
        "boot_p99_ms": figures["actions"].get("BootNotification", {}).get("p99Ms") or float("nan"),
        "errors": figures["totals"]["callErrors"] + figures["totals"]["timeouts"],
    }


def _since(after: dict[str, Any], before: dict[str, Any]) -> dict[str, Any]:
    """What happened between two FleetStats snapshots (counts and histogram buckets subtract)."""

    def minus(a: dict[Any, int], b: dict[Any, int]) -> dict[Any, int]:
        return {k: n - b.get(k, 0) for k, n in a.items() if n - b.get(k, 0)}

    window = dict(after)
    for name in ("sent", "answered", "received"):
        window[name] = minus(after[name], before[name])
    for name in ("errors", "latency", "receivedErrors"):
        window[name] = {a: minus(c, before[name].get(a, {})) for a, c in after[name].items()}
    window["connects"] = after["connects"] - before["connects"]
    window["reconnects"] = after["reconnects"] - before["reconnects"]
    return window


def _load_fleet(urls: list[str], args: argparse.Namespace) -> Any:
    """The scenario's fleet at the bench's size, without planned drops and remote starts."""
    data = load_scenario(args.scenario)
    data.pop("actions", None)
    data.pop("duration", None)  # the bench stops the fleet itself, after the window
    for template in data["templates"]:  # type: ignore[attr-defined]
        atg = template.get("atg")
        if not args.aligned:
            # The load has no clock-aligned data: with it, every connector of the fleet sends
            # its reading in the same second (a burst of 2 x N CALLs every ClockAlignedDataInterval).
            template.setdefault("ocpp", {})["ClockAlignedDataInterval"] = 0
        if atg:
            atg.pop("networkDrops", None)
            atg["remoteShare"] = 0
            if args.busy:
                # The first EVs within a minute or two, not the scenario's hours: the window sees
                # (nearly) every connector in a session, the heaviest the scenario gets.
                atg["arrival"] = {"exponential": {"mean": 30, "max": 120}}
                atg.pop("dailyProfile", None)
    return parse_fleet(
        data,
        f"<scenario {args.scenario}>",
        Overrides(url=urls, count=args.stations, ramp=str(args.ramp), processes=args.processes),
    )


def _rss_of(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


def _children(exclude: set[int]) -> list[int]:
    """This process's child processes (the fleet's workers), but ``exclude`` (the CSMSs)."""
    me, found = os.getpid(), []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) not in exclude:
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rpartition(")")[2].split()[1]) == me:
                        found.append(int(entry))
            except (OSError, ValueError, IndexError):
                continue
    return found


async def load(
    urls: list[str], args: argparse.Namespace, csms_pids: set[int], csms_gc: list[GcPauses]
) -> dict[str, Any]:
    """The load run: boot storm, then ``--hold`` seconds of the scenario's traffic, measured. One
    process: the stations run here (run_stations); ``--processes N``: in the fleet's own worker
    processes (the runner's Workers, as ``ocpp-station fleet --processes N`` runs them)."""
    config = _load_fleet(urls, args)
    stop = asyncio.Event()
    gc.collect()
    rss_before = _rss()
    started = time.perf_counter()
    booted_at: list[float] = []
    latest: list[dict[str, Any]] = [empty_snapshot()]

    def sampled(snapshot: dict[str, Any], final: bool = False) -> None:
        latest[0] = snapshot
        if not booted_at and snapshot["gauges"]["booted"] == args.stations:
            booted_at.append(time.perf_counter() - started)

    if args.processes == 1:
        stats = FleetStats()
        run = asyncio.create_task(
            run_stations(
                config,
                range(args.stations),
                stats,
                stop,
                ramp_per_s=args.ramp,
                on_sample=lambda: sampled(stats.snapshot()),
                tune_gc=True,  # as `ocpp-station fleet` does
            )
        )
    else:
        run = asyncio.create_task(_run_workers(config, Workers(args.processes), stop, sampled))
    budget = args.stations / args.ramp + 180
    while not booted_at and time.perf_counter() - started < budget and not run.done():
        await asyncio.sleep(0.2)
    if args.warmup:
        # Not measured: the sessions' start (with --busy every connector plugs, authorizes and starts
        # within minutes) and the boot storm's tail; the window is the steady state after it.
        _say(f"  all booted; {args.warmup:g} s of warm-up before the window")
        await asyncio.sleep(args.warmup)
    boot = latest[0]
    pids = [os.getpid()] if args.processes == 1 else _children(csms_pids)
    profiler = None
    if args.profile and args.processes == 1:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    pauses = GcPauses()  # this process's collector (the workers' are their own)
    pauses.on = True
    gc.callbacks.append(pauses)
    for shared in csms_gc:
        shared.on = True
    cpu0 = sum(_cpu_of(pid) for pid in pids)
    csms_cpu0 = sum(_cpu_of(pid) for pid in csms_pids)
    wall0 = time.perf_counter()
    rss_samples: list[tuple[float, float]] = []
    min_connected = args.stations
    while time.perf_counter() - wall0 < args.hold:
        await asyncio.sleep(min(10.0, args.hold))
        gauges = latest[0]["gauges"]
        # Workers: each one's RSS less this process's before the stations (the same interpreter and
        # imports), so that the figure is what the stations take.
        rss = _rss() - rss_before if args.processes == 1 else sum(_rss_of(p) - rss_before for p in pids)
        rss_samples.append((time.perf_counter() - wall0, rss / 1024 / args.stations))
        min_connected = min(min_connected, gauges["connected"])
        _say(
            f"  {rss_samples[-1][0]:5.0f} s: connected {gauges['connected']}, charging "
            f"{gauges['charging']}, {rss_samples[-1][1]:.1f} KB/station"
        )
    cpu, wall = sum(_cpu_of(pid) for pid in pids) - cpu0, time.perf_counter() - wall0
    csms_cpu = sum(_cpu_of(pid) for pid in csms_pids) - csms_cpu0
    gc.callbacks.remove(pauses)
    for shared in csms_gc:
        shared.on = False
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(args.profile)
    rss_mb = (_rss() if args.processes == 1 else sum(_rss_of(pid) for pid in pids)) / 1024 / 1024
    after = latest[0]
    stop.set()
    await run
    hold = summarize(_since(after, boot), wall)
    storm = summarize(boot, booted_at[0] if booted_at else wall)
    calls = hold["totals"]["answered"] + hold["totals"]["callErrors"]
    return {
        "stations": args.stations,
        "connect_s": booted_at[0] if booted_at else float("nan"),
        "hold_s": wall,
        "calls": calls,
        "calls_per_s": calls / wall,
        "by_action": {a: (f["sent"], f["p99Ms"]) for a, f in hold["actions"].items()},
        "errors": hold["totals"]["callErrors"] + hold["totals"]["timeouts"] + hold["totals"]["lost"],
        "storm_errors": storm["totals"]["callErrors"] + storm["totals"]["timeouts"] + storm["totals"]["lost"],
        "disconnects": hold["connects"],
        "min_connected": min_connected,
        "p50_ms": hold["totals"]["p50Ms"],
        "p99_ms": hold["totals"]["p99Ms"],
        "storm_p99_ms": storm["totals"]["p99Ms"],
        "rss_first": rss_samples[0][1] if rss_samples else float("nan"),
        "rss_last": rss_samples[-1][1] if rss_samples else float("nan"),
        "rss_mb": rss_mb,
        "cpu_us_per_call": cpu / calls * 1e6 if calls else float("nan"),
        "cpu_share": cpu / wall,
        "csms_share": csms_cpu / wall,
        "gc": pauses,
        "csms_gc": [shared.describe() for shared in csms_gc],
        "atg": hold["atg"],
    }


def _print_load(result: dict[str, Any], args: argparse.Namespace) -> None:
    loop = "uvloop" if event_loop_factory() is not None else "asyncio"
    where = "one process" if args.processes == 1 else f"{args.processes} worker processes"
    print(
        f"{result['stations']} stations in {where} ({loop}), scenario {args.scenario}"
        f"{' --busy' if args.busy else ''}{' --aligned' if args.aligned else ''}, "
        f"minimal CSMS in {args.csms} other process(es)"
    )
    print(
        f"  all booted in {result['connect_s']:.1f} s (ramp {args.ramp:g}/s; target <= 30 s), "
        f"boot storm{' and warm-up' if args.warmup else ''}: p99 {result['storm_p99_ms']} ms, "
        f"errors {result['storm_errors']}"
    )
    print(
        f"  {result['hold_s']:.0f} s of load: {result['calls']} CALLs ({result['calls_per_s']:.1f}/s), "
        f"errors {result['errors']} (target 0), disconnects {result['disconnects']} (target 0), "
        f"fewest connected {result['min_connected']}"
    )
    print(f"  latency p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms (target < 100 ms)")
    for action, (sent, p99) in sorted(result["by_action"].items()):
        print(f"    {action:<20} {sent:>8} CALLs  p99 {p99} ms")
    print(
        f"  RSS {result['rss_first']:.1f} KB/station after booting, {result['rss_last']:.1f} at the end "
        f"(target <= 35, flat); {result['rss_mb']:.0f} MB in all"
    )
    print(
        f"  client CPU {result['cpu_us_per_call']:.0f} us per CALL, {100 * result['cpu_share']:.1f} % of a core; "
        f"the CSMS {100 * result['csms_share']:.1f} % of a core"
    )
    if args.processes == 1:
        gc_ = result["gc"]
        print(
            f"  GC in the window: {'/'.join(map(str, gc_.by_generation))} collections (gen 0/1/2), "
            f"{1000 * gc_.total_s:.0f} ms in all, the longest {gc_.describe_longest()}"
        )
    for i, described in enumerate(result["csms_gc"]):
        print(
            f"  the CSMS{f' {i + 1}' if len(result['csms_gc']) > 1 else ''}'s GC in the window: {described}"
        )
    print(f"  ATG: {result['atg']}")


# -- mass reconnect -------------------------------------------------------------------------------------
#: The transaction messages (OCPP 1.6 §4.10 / errata: kept and resent after an outage) and what makes
#: one of them unique at the CSMS, so that a message delivered twice is seen as such.
TRANSACTION_ACTIONS = ("StartTransaction", "StopTransaction", "MeterValues")


def _message_key(action: str, payload: dict[str, Any]) -> tuple[Any, ...] | None:
    if action == "StartTransaction":
        return (action, payload.get("connectorId"), payload.get("timestamp"), payload.get("idTag"))
    if action == "StopTransaction":
        return (action, payload.get("transactionId"), payload.get("timestamp"))
    if action == "MeterValues" and "transactionId" in payload:
        values = payload.get("meterValue") or [{}]
        return (action, payload.get("connectorId"), payload["transactionId"], values[0].get("timestamp"))
    return None


def _recording_csms_main(port: int, nofile: int, ready: Any, pipe: Any) -> None:
    """The minimal CSMS that also records, per station, every transaction message: its key (to count
    duplicates) and when it arrived (to check the replay rate). ``pipe``: "report" -> the summary."""
    _child_setup(nofile)
    answer = csms_answerer(300)
    seen: dict[tuple[Any, ...], int] = {}
    reasons: dict[str, int] = {}
    #: MeterValues without a transactionId (not transaction messages: no key, just counted).
    untied: dict[str, int] = {}
    arrivals: dict[str, list[float]] = {}

    async def handler(ws: ServerConnection) -> None:
        cp_id = ws.request.path.rsplit("/", 1)[-1] if ws.request is not None else "?"
        with contextlib.suppress(Exception):
            async for message in ws:
                frame = orjson.loads(message)
                if frame[0] != 2:
                    continue
                key = _message_key(frame[2], frame[3])
                if key is None and frame[2] == "MeterValues":
                    untied["MeterValues"] = untied.get("MeterValues", 0) + 1
                if key is not None:
                    key = (cp_id, *key)
                    seen[key] = seen.get(key, 0) + 1
                    arrivals.setdefault(cp_id, []).append(time.monotonic())
                    if frame[2] == "StopTransaction":
                        reason = frame[3].get("reason", "Local")
                        reasons[reason] = reasons.get(reason, 0) + 1
                await ws.send(orjson.dumps([3, frame[1], answer(frame[2], frame[3])]), text=True)

    def summary() -> dict[str, Any]:
        by_action: dict[str, int] = {}
        duplicates = 0
        for key, n in seen.items():
            by_action[key[1]] = by_action.get(key[1], 0) + 1
            duplicates += n - 1
        return {
            "unique": by_action,
            "duplicates": duplicates,
            "arrivals": arrivals,
            "reasons": reasons,
            "untied": untied,
        }

    async def reporter() -> None:
        loop = asyncio.get_running_loop()
        while True:
            request = await loop.run_in_executor(None, pipe.recv)
            if request == "report":
                pipe.send(summary())

    with contextlib.suppress(asyncio.CancelledError):
        asyncio.run(_serve_until_term(lambda: serve_csms(handler, port, ready, reporter())))


def _excess(times: list[float], rate: float) -> float:
    """The most messages any time window [t_i, t_j] held beyond ``rate`` x its length: a token bucket
    of rate ``rate`` lets through at most its burst beyond that."""
    worst = 0.0
    for i in range(len(times)):
        for j in range(i, len(times)):
            worst = max(worst, (j - i + 1) - rate * (times[j] - times[i]))
    return worst


async def reconnect(url: str, args: argparse.Namespace, pipe: Any) -> dict[str, Any]:
    """The mass-reconnect scenario at the bench's size, then the CSMS's records checked."""
    data = load_scenario("mass-reconnect")
    if args.outage:
        at, length, jitter = args.outage
        data["actions"] = [{"at": at, "do": "drop-network", "share": 1, "for": length, "jitter": jitter}]
        data["duration"] = at + 2 * length + jitter  # as long again as the outage to drain
    # The bench checks the CSMS's records before the fleet stops (a fleet's stop ends every
    # transaction: StopTransactions that are not the replay's): the duration is the bench's, not the
    # fleet's.
    window = parse_duration(data.pop("duration"))
    config = parse_fleet(
        data,
        "<scenario mass-reconnect>",
        Overrides(url=url, count=args.stations, ramp=str(args.ramp), processes=1),
    )
    template = config.templates[0].station.durability
    stats = FleetStats()
    stop = asyncio.Event()
    started = time.perf_counter()
    run = asyncio.create_task(run_stations(config, range(args.stations), stats, stop, ramp_per_s=args.ramp))
    peak_queue = 0
    while time.perf_counter() - started < window:
        await asyncio.sleep(5)
        peak_queue = max(peak_queue, stats.gauges["queue"])
        _say(
            f"  {time.perf_counter() - started:5.0f} s: connected {stats.gauges['connected']}, "
            f"charging {stats.gauges['charging']}, queue {stats.gauges['queue']}"
        )
    # The scenario's end: stop the ATGs' new sessions? No: the fleet's stop ends them cleanly (each
    # station's stop waits for its queue within its grace); drain first, then stop.
    drain_started = time.perf_counter()
    while stats.gauges["queue"] and time.perf_counter() - drain_started < 120:
        await asyncio.sleep(1)
    queue_left = stats.gauges["queue"]
    pipe.send("report")
    csms = await asyncio.get_running_loop().run_in_executor(None, pipe.recv)
    # After the CSMS's records: a message the CSMS recorded has been answered by then or is in flight.
    snap = stats.snapshot()
    stop.set()
    await run
    answered = {a: snap["answered"].get(a, 0) for a in TRANSACTION_ACTIONS}
    excess = [(_excess(times, template.replay_rate_per_s), cp) for cp, times in csms["arrivals"].items()]
    worst, worst_cp = max(excess) if excess else (0.0, "")
    return {
        "stations": args.stations,
        "reconnects": snap["reconnects"],
        "peak_queue": peak_queue,
        "queue_left": queue_left,
        "answered": answered,
        "unique": {a: csms["unique"].get(a, 0) for a in TRANSACTION_ACTIONS},
        "duplicates": csms["duplicates"],
        "reasons": csms["reasons"],
        "lost": {
            action: codes.get("Lost", 0) + codes.get("Dropped", 0)
            for action, codes in snap["errors"].items()
            if codes.get("Lost", 0) + codes.get("Dropped", 0)
        },
        "untied": csms["untied"].get("MeterValues", 0),
        "errors": summarize(snap, 1.0)["totals"]["callErrors"],
        "rate": template.replay_rate_per_s,
        "burst": template.replay_burst,
        "worst_excess": worst,
        "worst_cp": worst_cp,
    }


def _print_reconnect(r: dict[str, Any]) -> None:
    print(f"mass reconnect, {r['stations']} stations in one process, recording minimal CSMS in another")
    print(
        f"  reconnects {r['reconnects']}, peak queue {r['peak_queue']} messages, left queued {r['queue_left']}"
    )
    for action in TRANSACTION_ACTIONS:
        print(
            f"  {action:<17} answered at the stations {r['answered'][action]:>7}, "
            f"distinct at the CSMS {r['unique'][action]:>7}"
            + (f" + {r['untied']} without a transaction" if action == "MeterValues" else "")
        )
    print(f"  StopTransaction reasons at the CSMS: {r['reasons']}")
    print(
        f"  CALLs lost with a dropped link (resent if transaction messages) or dropped, by action: {r['lost']}"
    )
    print(f"  duplicates at the CSMS {r['duplicates']} (target 0), CALLERRORs {r['errors']}")
    print(
        f"  replay rate {r['rate']:g}/s after a burst of {r['burst']}: the most transaction messages one "
        f"station's window held beyond rate x length: {r['worst_excess']:.2f} ({r['worst_cp']}; "
        f"allowed: the burst, {r['burst']})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stations", type=int, default=2000)
    parser.add_argument("--ramp", type=float, default=500.0, help="stations started per second")
    parser.add_argument(
        "--hold", type=float, default=10.0, help="seconds after all booted before RSS is read"
    )
    parser.add_argument("--tracemalloc", action="store_true", help="list what the stations allocate")
    parser.add_argument(
        "--scenario", help="a packaged scenario's load (message-mix-day): the load run, measured over --hold"
    )
    parser.add_argument(
        "--profile", metavar="FILE", help="with --scenario, one process: cProfile over the window into FILE"
    )
    parser.add_argument(
        "--warmup",
        type=float,
        default=0.0,
        help="with --scenario: seconds after all booted before the window",
    )
    parser.add_argument(
        "--aligned",
        action="store_true",
        help="with --scenario: keep the scenario's clock-aligned readings (every connector in the same second)",
    )
    parser.add_argument(
        "--busy",
        action="store_true",
        help="with --scenario: the first EVs arrive within minutes (every connector soon in a session)",
    )
    parser.add_argument(
        "--reconnect",
        action="store_true",
        help="the mass-reconnect scenario against a recording CSMS: duplicates, losses, replay rate",
    )
    parser.add_argument(
        "--outage",
        type=float,
        nargs=3,
        metavar=("AT", "FOR", "JITTER"),
        help="with --reconnect: the outage's start, length and reconnect jitter in s (default the scenario's)",
    )
    parser.add_argument(
        "--processes", type=int, default=1, help="with --scenario: the fleet's worker processes"
    )
    parser.add_argument(
        "--csms",
        type=int,
        default=1,
        help="CSMS processes, each on its own port, the stations spread over them in turn (one process "
        "holds at most its open-files limit of connections, one port about 28,000 from 127.0.0.1)",
    )
    args = parser.parse_args()
    if (args.processes > 1 or args.csms > 1) and not args.scenario:
        parser.error("--processes and --csms go with --scenario")
    nofile = args.stations * 2 + 1024
    _raise_nofile(nofile)
    ctx = multiprocessing.get_context("spawn")
    here, there = ctx.Pipe()
    servers, urls, csms_gc = [], [], []
    for _ in range(1 if args.reconnect else args.csms):
        port = _free_port()
        ready = ctx.Event()
        if args.reconnect:
            csms = ctx.Process(target=_recording_csms_main, args=(port, nofile, ready, there), daemon=True)
        else:
            csms_gc.append(GcPauses.shared(ctx))
            csms = ctx.Process(
                target=_csms_main, args=(port, 300, nofile, ready, csms_gc[-1].storage), daemon=True
            )
        csms.start()
        servers.append((csms, ready))
        urls.append(f"ws://127.0.0.1:{port}/ocpp/")
    try:
        for _, ready in servers:
            if not ready.wait(30):
                raise RuntimeError("the bench CSMS did not start")
        with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
            if args.reconnect:
                _print_reconnect(runner.run(reconnect(urls[0], args, here)))
                return 0
            if args.scenario:
                pids = {csms.pid for csms, _ in servers if csms.pid is not None}
                _print_load(runner.run(load(urls, args, pids, csms_gc)), args)
                return 0
            result = runner.run(measure(urls[0], args))
    finally:
        for csms, _ in servers:
            _stop(csms, 0)
    loop = "uvloop" if event_loop_factory() is not None else "asyncio"
    print(
        f"{result['stations']:.0f} stations in one process ({loop}): all booted in {result['connect_s']:.1f} s "
        f"(ramp {args.ramp:g}/s), RSS {result['rss_kb_per_station']:.1f} KB/station "
        f"({result['rss_mb']:.0f} MB in all), BootNotification p99 {result['boot_p99_ms']:.1f} ms, "
        f"errors {result['errors']:.0f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
