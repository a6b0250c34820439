#!/usr/bin/env python3
"""Draw the state machines of docs/architecture.md from their tables (Mermaid), between markers.

    .venv/bin/python scripts/gen_diagrams.py          # rewrite the diagrams in docs/architecture.md
    .venv/bin/python scripts/gen_diagrams.py --check  # exit 1 when they are stale (tests/test_docs.py)

Each diagram sits between ``<!-- diagram:NAME -->`` and ``<!-- /diagram:NAME -->``; the rest of the
page is left alone. The tables are the code's: a diagram can never disagree with what runs.
"""

from __future__ import annotations

import argparse
import inspect
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from ocpp_station.core.features import firmware, status  # noqa: E402

DOC = ROOT / "docs" / "architecture.md"


def _node(name: str) -> str:
    return re.sub(r"\W", "_", name)


def connector_status() -> str:
    """OCPP 1.6 §4.9: the transitions a connector's reported status may take (status.TRANSITIONS)."""
    lines = ["stateDiagram-v2", "    direction LR"]
    for source in status.TRANSITIONS:
        for target in sorted(status.TRANSITIONS[source]):
            lines.append(f"    {_node(source)} --> {_node(target)}")
    return "\n".join(lines)


def _steps(table: Mapping[Any, Iterable[Any]]) -> str:
    lines = ["stateDiagram-v2", "    direction LR", "    [*] --> Idle"]
    for source, targets in table.items():
        for target in sorted(targets, key=str):
            lines.append(f"    {_node(str(source))} --> {_node(str(target))}")
    return "\n".join(lines)


def firmware_steps() -> str:
    """FirmwareStatusNotification steps of an update (firmware.FIRMWARE_STEPS)."""
    return _steps(firmware.FIRMWARE_STEPS)


def signed_firmware_steps() -> str:
    """SignedFirmwareStatusNotification steps of a secure update (firmware.SIGNED_FIRMWARE_STEPS)."""
    return _steps(firmware.SIGNED_FIRMWARE_STEPS)


def diagnostics_steps() -> str:
    """DiagnosticsStatusNotification steps of an upload (firmware.DIAGNOSTICS_STEPS)."""
    return _steps(firmware.DIAGNOSTICS_STEPS)


def _condition(rule: Callable[..., bool]) -> str:
    """The condition of a rule, as its source says it (``lambda c: <condition>``)."""
    source = " ".join(inspect.getsource(rule).split())
    match = re.search(r"lambda c: (.*?)\),?$", source)
    text = match.group(1) if match else "?"
    return text.replace('"', "#quot;")


def status_rules() -> str:
    """The priority table that derives a connector's status (status.STATUS_RULES), first match wins."""
    lines = ["flowchart TD"]
    rules = status.STATUS_RULES
    for i, (name, holds) in enumerate(rules):
        lines.append(f'    r{i}{{"{_condition(holds)}"}} -- yes --> s{i}(["{name}"])')
        if i + 1 < len(rules):
            lines.append(f"    r{i} -- no --> r{i + 1}")
    return "\n".join(lines)


DIAGRAMS: dict[str, Callable[[], str]] = {
    "connector-status": connector_status,
    "status-rules": status_rules,
    "firmware-steps": firmware_steps,
    "signed-firmware-steps": signed_firmware_steps,
    "diagnostics-steps": diagnostics_steps,
}


def render(text: str) -> str:
    for name, draw in DIAGRAMS.items():
        begin, end = f"<!-- diagram:{name} -->", f"<!-- /diagram:{name} -->"
        pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
        if not pattern.search(text):
            raise SystemExit(f"{DOC}: no markers for diagram {name!r}")
        block = f"{begin}\n```mermaid\n{draw()}\n```\n{end}"
        text = pattern.sub(lambda _, block=block: block, text)
    return text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the page is stale")
    args = parser.parse_args()
    current = DOC.read_text()
    fresh = render(current)
    if args.check:
        if fresh != current:
            print(f"{DOC} is stale: run .venv/bin/python scripts/gen_diagrams.py", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(fresh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
