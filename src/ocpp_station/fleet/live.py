"""The fleet's live terminal view (rich): a :class:`~ocpp_station.fleet.runner.Progress` redrawn about
once a second from the aggregated snapshot (:func:`ocpp_station.fleet.stats.summarize`).

Shown: the gauges (stations, connected, booted, charging, faulted, queue depth), connects and
reconnects, then one row per OCPP action: CALLs/s over the last update, sent, answered, CALLERRORs by
code, timeouts, CALLs lost with the link, latency p50/p95/p99; a total row; and the CSMS's CALLs.

``ocpp-station fleet`` uses it when stderr is a terminal (or ``--live``), the plain progress line
otherwise (``--no-live``). :func:`render` is a pure function of the figures, so it is tested by
printing to a recording ``rich.console.Console``, no terminal needed.
"""

from __future__ import annotations

import sys
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _codes(codes: dict[str, int]) -> str:
    return ", ".join(f"{code} {n}" for code, n in codes.items()) or "0"


def rates_between(previous: dict[str, Any] | None, summary: dict[str, Any]) -> tuple[dict[str, float], float]:
    """CALLs/s per action and in all between two summaries (since the start when there is none)."""
    span = summary["elapsedSeconds"] - (previous["elapsedSeconds"] if previous else 0.0)
    if span <= 0:
        return {}, 0.0
    before = previous["actions"] if previous else {}
    rates = {
        action: (figures["sent"] - before.get(action, {}).get("sent", 0)) / span
        for action, figures in summary["actions"].items()
    }
    total_before = previous["totals"]["sent"] if previous else 0
    return rates, (summary["totals"]["sent"] - total_before) / span


def render(
    summary: dict[str, Any],
    rates: dict[str, float] | None = None,
    total_rate: float | None = None,
    *,
    title: str = "ocpp-station fleet",
    final: bool = False,
) -> RenderableType:
    """The view of ``summary``; ``rates``: CALLs/s per action (:func:`rates_between`; the run's
    average when None)."""
    g = summary["gauges"]
    totals = summary["totals"]
    if rates is None:
        rates = {a: f["perSecond"] for a, f in summary["actions"].items()}
    if total_rate is None:
        total_rate = totals["perSecond"]
    head = Text.assemble(
        (f"{title}  ", "bold"),
        f"{summary['elapsedSeconds']:.1f} s{'  (done)' if final else ''}\n",
        f"stations {g['stations']}  connected {g['connected']}  booted {g['booted']}  "
        f"charging {g['charging']}  faulted {g['faulted']}  queue {g['queue']}  "
        f"connects {summary['connects']}  reconnects {summary['reconnects']}",
    )
    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column("action")
    for name in ("CALLs/s", "sent", "answered"):
        table.add_column(name, justify="right")
    table.add_column("CALLERRORs")
    for name in ("timeouts", "lost", "p50 ms", "p95 ms", "p99 ms"):
        table.add_column(name, justify="right")
    for action, f in summary["actions"].items():
        errors = f["callErrors"]
        table.add_row(
            action,
            f"{rates.get(action, 0.0):.1f}",
            str(f["sent"]),
            str(f["answered"]),
            Text(_codes(errors), style="red" if errors else ""),
            Text(str(f["timeouts"]), style="red" if f["timeouts"] else ""),
            str(f["lost"]),
            _ms(f["p50Ms"]),
            _ms(f["p95Ms"]),
            _ms(f["p99Ms"]),
        )
    table.add_row(
        Text("all", style="bold"),
        f"{total_rate:.1f}",
        str(totals["sent"]),
        str(totals["answered"]),
        str(totals["callErrors"]),
        str(totals["timeouts"]),
        str(totals["lost"]),
        _ms(totals["p50Ms"]),
        _ms(totals["p95Ms"]),
        _ms(totals["p99Ms"]),
    )
    parts: list[RenderableType] = [head, table]
    if summary["received"]:
        received = "  ".join(
            f"{action} {r['count']}" + (f" (refused: {_codes(r['callErrors'])})" if r["callErrors"] else "")
            for action, r in summary["received"].items()
        )
        parts.append(Text(f"CSMS's CALLs: {received}"))
    return Group(*parts)


class LiveProgress:
    """The live view on ``console`` (stderr by default), redrawn on each update (the runner calls
    about once a second); the last view stays on the screen at the end."""

    def __init__(self, console: Console | None = None, title: str = "ocpp-station fleet") -> None:
        self.console = console or Console(file=sys.stderr)
        self.title = title
        self._previous: dict[str, Any] | None = None
        self._live: Live | None = None

    def update(self, summary: dict[str, Any], final: bool = False) -> None:
        if final:  # the run's averages at the end
            view = render(summary, title=self.title, final=True)
        else:
            rates, total = rates_between(self._previous, summary)
            self._previous = summary
            view = render(summary, rates, total, title=self.title)
        if self._live is None:
            self._live = Live(view, console=self.console, auto_refresh=False, transient=False)
            self._live.start()
        self._live.update(view, refresh=True)
        if final:
            self._live.stop()
            self._live = None
