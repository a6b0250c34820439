"""The fleet's report: ``--report out.json`` (the aggregate) and ``out.html`` next to it (a static
page: tables, no script, no external asset)."""

from __future__ import annotations

import html
import json
import os
from pathlib import Path
from typing import Any

from ocpp_station import __version__
from ocpp_station.core.clock import format_datetime
from ocpp_station.fleet.config import FleetConfig
from ocpp_station.fleet.stats import summarize


def build_report(
    config: FleetConfig, snapshot: dict[str, Any], elapsed_s: float, started_at: float, processes: int
) -> dict[str, Any]:
    """The report of a run: the configuration summary, the run's times and processes, and the
    figures of :func:`ocpp_station.fleet.stats.summarize` (per action counts, CALLs/s, CALLERRORs,
    timeouts, p50/p95/p99; the CSMS's CALLs; connects, reconnects; the last gauges)."""
    figures = summarize(snapshot, elapsed_s)
    return {
        "ocppStation": __version__,
        "startedAt": format_datetime(started_at),
        "durationSeconds": round(elapsed_s, 3),
        "processes": processes,
        "config": config.summary(),
        **figures,
    }


def write_report(path: Path, report: dict[str, Any]) -> None:
    """``path`` (JSON) and ``path`` with the suffix ``.html``, each written to a temporary file and
    renamed (a report being read is never half written)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _write(path, json.dumps(report, indent=2) + "\n")
    _write(path.with_suffix(".html"), render_html(report))


def _write(path: Path, text: str) -> None:
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_text(text, encoding="utf-8")
    os.replace(temp, path)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, dict):
        return html.escape(", ".join(f"{k} {v}" for k, v in value.items()) or "-")
    return html.escape(str(value))


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_cell(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


_STYLE = (
    "body{font-family:sans-serif;margin:2em;color:#222}"
    "table{border-collapse:collapse;margin:0.5em 0 1.5em}"
    "th,td{border:1px solid #bbb;padding:0.25em 0.6em;text-align:right}"
    "th:first-child,td:first-child{text-align:left}th{background:#eee}"
)


def render_html(report: dict[str, Any]) -> str:
    """A static page of the report."""
    config = report["config"]
    totals = report["totals"]
    gauges = report["gauges"]
    title = f"ocpp-station fleet: {config['count']} stations, {report['durationSeconds']:.1f} s"
    run = _table(
        ["", ""],
        [
            ["started", report["startedAt"]],
            ["duration (s)", report["durationSeconds"]],
            ["processes", report["processes"]],
            ["CSMS", config["url"]],
            ["stations", f"{config['count']} ({config['firstId']} .. {config['lastId']})"],
            ["ramp (stations/s)", config["rampPerSecond"]],
            ["seed", config["seed"]],
            ["scenario", config["scenario"]],
            ["connects", report["connects"]],
            ["reconnects", report["reconnects"]],
            *[[f"at the end: {name}", value] for name, value in gauges.items()],
        ],
    )
    atg_counts = report.get("atg", {})
    atg = _table(["counter", "count"], [[k, v] for k, v in sorted(atg_counts.items())])
    templates = _table(
        ["template", "stations", "ATG"],
        [[t["name"], t["stations"], "yes" if t["atg"] else "no"] for t in config["templates"]],
    )
    headers = ["action", "sent", "CALLs/s", "answered", "CALLERRORs", "timeouts", "lost"]
    headers += ["p50 ms", "p95 ms", "p99 ms"]
    rows = [
        [
            action,
            a["sent"],
            a["perSecond"],
            a["answered"],
            a["callErrors"],
            a["timeouts"],
            a["lost"],
            a["p50Ms"],
            a["p95Ms"],
            a["p99Ms"],
        ]
        for action, a in report["actions"].items()
    ]
    rows.append(
        [
            "all",
            totals["sent"],
            totals["perSecond"],
            totals["answered"],
            totals["callErrors"],
            totals["timeouts"],
            totals["lost"],
            totals["p50Ms"],
            totals["p95Ms"],
            totals["p99Ms"],
        ]
    )
    received = _table(
        ["CSMS action", "received", "CALLERRORs"],
        [[action, r["count"], r["callErrors"]] for action, r in report["received"].items()],
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><h2>Run</h2>{run}<h2>Templates</h2>{templates}"
        f"<h2>Our CALLs</h2>{_table(headers, rows)}<h2>The CSMS's CALLs</h2>{received}"
        + (f"<h2>Automatic transaction generator</h2>{atg}" if atg_counts else "")
        + f"<p>ocpp-station {html.escape(report['ocppStation'])}</p></body></html>\n"
    )
