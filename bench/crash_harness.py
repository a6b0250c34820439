"""Crash harness, benchmark size: kill -9 a real station process at random (seeded) moments of charging
sessions, many times, and check that no transaction message was lost or duplicated beyond the window.

    .venv/bin/python bench/crash_harness.py --cycles 500 --seed 1

The same harness as ``tests/durability/test_crash_harness.py`` (50 cycles in CI); see
``tests/durability/crash_harness.py`` for what is checked. Prints the figures and exits 1 when a
check fails (the first problems listed). The working directory (station database, config, the
station's log) is a temporary one, kept with ``--data-dir``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from tests.durability.crash_harness import run_crash_cycles  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=500, help="kill -9 cycles (default 500)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--data-dir", type=Path, help="keep the working directory here (must be new)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    args = parser.parse_args()
    if args.cycles < 1:
        parser.error("--cycles must be at least 1")

    def progress(text: str) -> None:
        print(text, flush=True)

    async def run(data_dir: Path) -> int:
        report = await run_crash_cycles(
            args.cycles, args.seed, data_dir, progress=None if args.quiet else progress
        )
        print(report.details() if not report.ok else report, flush=True)
        return 0 if report.ok else 1

    if args.data_dir is not None:
        return asyncio.run(run(args.data_dir))
    with tempfile.TemporaryDirectory(prefix="crash-harness-") as tmp:
        return asyncio.run(run(Path(tmp)))


if __name__ == "__main__":
    sys.exit(main())
