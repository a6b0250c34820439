"""The documentation's diagrams are drawn from the code's tables and must not go stale."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_architecture_diagrams_are_drawn_from_the_current_tables() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_diagrams.py"), "--check"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_architecture_page_names_only_modules_that_exist() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text()
    for path in (
        "wire/actions.py",
        "wire/messages.py",
        "config/keys.py",
        "core/features/status.py",
        "core/policy.py",
        "core/measurands.py",
        "core/features/firmware.py",
    ):
        assert path in text
        assert (ROOT / "src" / "ocpp_station" / path).exists(), path
