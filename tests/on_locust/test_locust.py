"""Stations inside Locust (issue 11, docs/locust.md): the package's locustfile in real ``locust --headless``
processes (one master and two workers on 127.0.0.1, or one local process) against the real development
CSMS, run in this test's event loop. Locust is never imported here: its gevent monkey-patching belongs
to its own processes."""

from __future__ import annotations

import asyncio
import csv
import importlib.util
import json
import socket
import sys
from pathlib import Path
from typing import Any

import pytest

from ocpp_station.sim.csms import CentralSystem
from ocpp_station.wire.errors import ErrorCode, OcppError

# Only looked up, never imported: importing Locust would monkey-patch this test process with gevent.
pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("locust") is None, reason="the locust extra is not installed"
)

PY = sys.executable
LOCUSTFILE = Path(__file__).resolve().parents[2] / "src" / "ocpp_station" / "locust" / "locustfile.py"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def _start(*args: str, log: Path) -> asyncio.subprocess.Process:
    out = log.open("wb")
    try:
        return await asyncio.create_subprocess_exec(
            PY, "-m", "locust", "-f", str(LOCUSTFILE), *args, stdout=out, stderr=asyncio.subprocess.STDOUT
        )
    finally:
        out.close()  # the child holds its own descriptor


async def _finish(proc: asyncio.subprocess.Process, log: Path, timeout: float = 40) -> int:
    try:
        return await asyncio.wait_for(proc.wait(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise AssertionError(
            f"locust did not finish within {timeout} s:\n{log.read_text()[-3000:]}"
        ) from None


def _stats(prefix: Path) -> dict[tuple[str, str], dict[str, str]]:
    with open(f"{prefix}_stats.csv", newline="") as f:
        return {(row["Type"], row["Name"]): row for row in csv.DictReader(f)}


def _count(stats: dict[tuple[str, str], dict[str, str]], kind: str, name: str) -> int:
    row = stats.get((kind, name))
    return 0 if row is None else int(row["Request Count"])


def _failures(prefix: Path) -> list[dict[str, str]]:
    with open(f"{prefix}_failures.csv", newline="") as f:
        return list(csv.DictReader(f))


async def test_one_master_two_workers_report_every_call_of_their_stations(tmp_path: Path) -> None:
    """4 users = 4 stations, 2 per worker: each boots, charges with MeterValues every second and
    heartbeats every 2 s; the master's statistics hold their CALLs from both workers, no failure."""
    async with CentralSystem(port=0, heartbeat_interval=2) as csms:
        port = str(_free_port())
        prefix = tmp_path / "run"
        master = await _start(
            "--headless", "--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", port,
            "--expect-workers", "2", "-u", "4", "-r", "4", "-t", "7s", "--csv", str(prefix),
            "-H", csms.url, "--ocpp-charge-s", "2", "--ocpp-meter-interval", "1", "--only-summary",
            log=tmp_path / "master.log",
        )  # fmt: skip
        workers = [
            await _start(
                "--worker",
                "--master-host",
                "127.0.0.1",
                "--master-port",
                port,
                log=tmp_path / f"worker{i}.log",
            )
            for i in range(2)
        ]
        code = await _finish(master, tmp_path / "master.log")
        for i, worker in enumerate(workers):
            await _finish(worker, tmp_path / f"worker{i}.log", timeout=15)
        log = (tmp_path / "master.log").read_text()
        assert code == 0, log[-3000:]

        expected = {f"LOCUST-{w}-{u:05d}" for w in (0, 1) for u in (0, 1)}
        assert set(csms.stations) == expected, csms.stations.keys()
        assert all(csms.stations[cp].boot_status == "Accepted" for cp in expected)
        stats = _stats(prefix)
        assert _count(stats, "OCPP", "BootNotification") == 4  # two from each worker, summed by the master
        assert _count(stats, "WS", "connect") == 4
        assert _count(stats, "OCPP", "StatusNotification") >= 8  # connectors 0 and 1 at boot, then sessions
        assert _count(stats, "OCPP", "Heartbeat") + _count(stats, "OCPP", "MeterValues") > 0
        assert _count(stats, "OCPP", "StartTransaction") >= 4
        seen = {(e.action, e.charge_point_id) for e in csms.log if e.kind == "CALL"}
        assert {cp for action, cp in seen if action == "MeterValues"} == expected
        assert int(stats[("", "Aggregated")]["Failure Count"]) == 0, _failures(prefix)
        assert _failures(prefix) == []
        # The stations stopped gracefully with the test: every session stopped, every link closed.
        assert not any(info.connected for info in csms.stations.values())


async def test_callerrors_and_refused_connections_are_locust_failures(tmp_path: Path) -> None:
    """A CSMS that answers Heartbeat with a CALLERROR, refuses one of two stations, sends a CALL the
    station refuses and drops the other's link: Locust counts each as a failure (and exits 1, its code
    for a run with failures); the CSMS's CALL the station answers is an OCPP-in success."""

    def refuse(cp_id: str, payload: dict[str, Any]) -> dict[str, Any]:
        raise OcppError(ErrorCode.InternalError, "no heartbeats today")

    async with CentralSystem(port=0, heartbeat_interval=1, allowed_stations={"LOCUST-0-00000"}) as csms:
        csms.handlers["Heartbeat"] = refuse
        prefix = tmp_path / "run"
        proc = await _start(
            "--headless", "-u", "2", "-r", "2", "-t", "5s", "--csv", str(prefix), "-H", csms.url,
            "--ocpp-behaviour", "idle", "--only-summary", log=tmp_path / "locust.log",
        )  # fmt: skip
        # The CSMS's own CALLs: one answered (OCPP-in), one refused by the station, then a dropped link.
        cp = "LOCUST-0-00000"
        await csms.wait_for(lambda e: e.action == "BootNotification" and e.kind == "CALLRESULT", timeout=15)
        await csms.call(cp, "GetConfiguration", {"key": ["HeartbeatInterval"]})
        await csms.send_raw(cp, '[2, "x1", "NoSuchAction", {}]')
        await csms.wait_for(lambda e: e.kind == "CALLERROR" and e.message_id == "x1")
        await csms._link(cp).close(1011, "going away")
        code = await _finish(proc, tmp_path / "locust.log")
        assert code == 1, (tmp_path / "locust.log").read_text()[-3000:]
        failures = {(f["Method"], f["Name"]): f for f in _failures(prefix)}
        assert "CALLERROR InternalError" in failures[("OCPP", "Heartbeat")]["Error"]
        assert int(failures[("OCPP", "Heartbeat")]["Occurrences"]) >= 2
        assert "404" in failures[("WS", "connect")]["Error"], failures[("WS", "connect")]
        assert "CALLERROR NotImplemented" in failures[("OCPP-in", "(unknown)")]["Error"]
        assert "link lost" in failures[("WS", "disconnect")]["Error"]
        stats = _stats(prefix)
        assert _count(stats, "OCPP-in", "GetConfiguration") == 1
        assert stats[("OCPP-in", "GetConfiguration")]["Failure Count"] == "0"
        assert _count(stats, "OCPP", "BootNotification") >= 1  # again after the drop
        assert stats[("OCPP", "BootNotification")]["Failure Count"] == "0"


def test_importing_ocpp_station_does_not_monkey_patch(tmp_path: Path) -> None:
    """Only ocpp_station.locust brings Locust (and gevent's patching) in."""
    import subprocess

    code = (
        "import sys, ocpp_station.cli, ocpp_station.transport.station, ocpp_station.sim.csms\n"
        "assert 'gevent' not in sys.modules and 'locust' not in sys.modules, 'patched'\n"
    )
    subprocess.run([PY, "-c", code], check=True)


def test_stations_from_a_config_file_and_its_errors(tmp_path: Path) -> None:
    """``--ocpp-config``: every station is made from the file (its identity, connectors, OCPP keys),
    with its own id; a bad file or one with a dataDir is a clear error, and so is a bad ``--ocpp-atg``."""
    import subprocess

    good = tmp_path / "station.json"
    good.write_text(
        json.dumps(
            {
                "development": {"WS_URL": "ws://10.0.0.1:9000/ocpp/", "chargePointID": "X"},
                "identity": {"chargePointVendor": "ACME"},
                "connectors": {"count": 2},
                "ocpp": {"MeterValueSampleInterval": 15},
            }
        )
    )
    (tmp_path / "datadir.json").write_text(json.dumps({"dataDir": "data"}))
    (tmp_path / "broken.json").write_text("{")
    (tmp_path / "badatg.json").write_text(json.dumps({"stopByCard": 2}))
    script = f"""
import json, types
from ocpp_station.locust import _atg_config, station_config
from ocpp_station.config.station import ConfigError
opts = types.SimpleNamespace(ocpp_config={str(good)!r}, ocpp_meter_interval=60)
c = station_config(opts, None, "CP-7")
d = station_config(opts, "ws://csms:1/ocpp", "CP-8")
errors = []
for name in ("datadir.json", "broken.json", "missing.json"):
    try:
        station_config(types.SimpleNamespace(ocpp_config={str(tmp_path)!r} + "/" + name), None, "CP")
    except ConfigError as exc:
        errors.append(str(exc))
try:
    _atg_config({str(tmp_path)!r} + "/badatg.json")
except ConfigError as exc:
    errors.append(str(exc))
print(json.dumps([c.url, c.identity["chargePointVendor"], len(c.connectors), c.ocpp["MeterValueSampleInterval"],
                  c.file_transfer.log_lines, d.url, errors]))
"""
    done = subprocess.run([PY, "-c", script], capture_output=True, text=True, check=True)
    url, vendor, connectors, interval, log_lines, other_url, errors = json.loads(done.stdout.splitlines()[-1])
    assert (url, vendor, connectors, interval, log_lines) == (
        "ws://10.0.0.1:9000/ocpp/CP-7",
        "ACME",
        2,
        "15",
        0,
    )
    assert other_url == "ws://csms:1/ocpp/CP-8"
    assert "datadir.json: dataDir: stations in Locust keep their state in memory" in errors[0]
    assert "broken.json: line 1" in errors[1]
    assert "missing.json: file not found" in errors[2]
    assert "badatg.json: atg.stopByCard:" in errors[3], errors[3]


async def test_the_fleet_atg_drives_the_stations(tmp_path: Path) -> None:
    """``--ocpp-behaviour atg``: the fleet's automatic transaction generator (seeded, from an ``atg``
    file) drives each station on the loop; its sessions are Locust requests like any other."""
    atg = tmp_path / "atg.json"
    atg.write_text(
        json.dumps(
            {
                "arrival": {"fixed": 0.2},
                "authDelay": {"fixed": 0.1},
                "duration": {"fixed": 1},
                "stopByCard": 1,
                "unplugDelay": {"fixed": 0.1},
            }
        )
    )
    async with CentralSystem(port=0) as csms:
        prefix = tmp_path / "run"
        proc = await _start(
            "--headless", "-u", "2", "-r", "2", "-t", "4s", "--csv", str(prefix), "-H", csms.url,
            "--ocpp-behaviour", "atg", "--ocpp-atg", str(atg), "--ocpp-seed", "7", "--only-summary",
            log=tmp_path / "locust.log",
        )  # fmt: skip
        code = await _finish(proc, tmp_path / "locust.log")
        assert code == 0, (tmp_path / "locust.log").read_text()[-3000:]
        stats = _stats(prefix)
        assert _count(stats, "OCPP", "StartTransaction") >= 2
        assert _count(stats, "OCPP", "StopTransaction") >= 2
        assert _failures(prefix) == []
        tags = {e.payload["idTag"] for e in csms.log if e.action == "StartTransaction" and e.kind == "CALL"}
        assert tags == {"ATG-CARD"}


def test_this_test_process_was_never_monkey_patched() -> None:
    """The tests above run Locust in subprocesses only: gevent never patches the test suite."""
    assert "gevent" not in sys.modules and "locust" not in sys.modules
