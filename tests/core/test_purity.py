"""The engine is sans-I/O: it imports no I/O module and reads no clock (STYLE: sans-I/O core)."""

from __future__ import annotations

import ast
from pathlib import Path

import ocpp_station.core
import ocpp_station.wire

FORBIDDEN_MODULES = {
    "asyncio",
    "socket",
    "sqlite3",
    "ssl",
    "websockets",
    "aiohttp",
    "time",
    "os",
    "subprocess",
    "threading",
    "random",
    "select",
}
FORBIDDEN_CALLS = {"datetime.now", "datetime.utcnow", "date.today", "time.time", "time.monotonic"}


def _modules(package: object) -> list[Path]:
    root = Path(package.__file__).parent  # type: ignore[attr-defined]
    return sorted(root.rglob("*.py"))


def test_core_and_wire_import_no_io_modules() -> None:
    offenders = []
    for path in _modules(ocpp_station.core) + _modules(ocpp_station.wire):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                if name.split(".")[0] in FORBIDDEN_MODULES:
                    offenders.append(f"{path.name}: import {name}")
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                if f"{node.value.id}.{node.attr}" in FORBIDDEN_CALLS:
                    offenders.append(f"{path.name}: {node.value.id}.{node.attr}")
    assert offenders == []
