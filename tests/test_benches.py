"""The benchmarks still run (bench/): each once with tiny sizes, as a subprocess. No timing is checked
(the machine is shared); a bench that no longer runs against the current code fails here, not on the
day someone needs its figures."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    "args",
    [
        ["bench/bench_validation.py", "--number", "50", "--repeat", "1"],
        ["bench/bench_hostile.py", "--frames", "300"],
        ["bench/bench_stations.py", "--modes", "engine", "--days", "1"],
        [
            "bench/bench_stations.py",
            *("--modes", "raw,station", "--stations", "3", "--duration", "2", "--ramp", "50"),
            *("--settle", "0.5", "--rounds", "2"),
        ],
        ["bench/bench_hot_path.py", "--calls", "300", "--stations", "3", "--repeat", "1"],
        ["bench/bench_rpc.py", "--calls", "20"],
        ["bench/bench_fleet.py", "--stations", "5", "--ramp", "50", "--hold", "1"],
        [
            "bench/bench_fleet.py",
            *("--scenario", "message-mix-day", "--busy", "--stations", "6", "--ramp", "50", "--hold", "2"),
            *("--processes", "2", "--csms", "2"),
        ],
        ["bench/bench_fleet.py", "--reconnect", "--stations", "6", "--ramp", "50", "--outage", "3", "3", "1"],
        ["bench/bench_atg.py", "--stations", "5", "--scenario", "message-mix-day"],
    ],
    ids=lambda args: Path(args[0]).stem + ("-" + args[2] if args[1] == "--modes" else ""),
)
def test_the_bench_runs(args: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
