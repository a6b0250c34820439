"""The command line as a person uses it: real processes, exit codes, signals."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ocpp_station.sim.csms import CentralSystem

PY = sys.executable


async def _run(*args: str, timeout: float = 60) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        PY, "-m", "ocpp_station", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def _wait_for_state(
    http: aiohttp.ClientSession, base: str, predicate: Callable[[dict[str, Any]], bool], timeout: float
) -> dict[str, Any]:
    """Poll the control API's ``GET /state`` until ``predicate`` holds (a real process: no event to
    wait on); fail with the last state seen after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        async with http.get(f"{base}/state") as response:
            assert response.status == 200
            state: dict[str, Any] = await response.json()
        if predicate(state):
            return state
        assert loop.time() < deadline, f"state not reached within {timeout} s: {state}"
        await asyncio.sleep(0.05)


async def test_bad_config_exits_2_naming_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(
        json.dumps(
            {
                "development": {"WS_URL": "ws://x/", "chargePointID": "A"},
                "ocpp": {"HeartbeatInterval": "often"},
            }
        )
    )
    code, _, err = await _run("run", "--config", str(path))
    assert code == 2
    assert str(path) in err and "HeartbeatInterval" in err
    assert "Traceback" not in err


async def test_missing_config_exits_2(tmp_path: Path) -> None:
    code, _, err = await _run("run", "--config", str(tmp_path / "nope.json"))
    assert code == 2 and "file not found" in err and "Traceback" not in err


async def test_demo_completes_a_session() -> None:
    code, out, err = await _run("demo", "--charge-seconds", "1", timeout=90)
    assert code == 0, err
    for action in ("BootNotification", "Authorize", "StartTransaction", "MeterValues", "StopTransaction"):
        assert action in out
    assert "Session complete" in out


async def test_run_with_control_api_and_sigterm(tmp_path: Path) -> None:
    async with CentralSystem(port=0) as csms:
        path = tmp_path / "config.json"
        path.write_text(json.dumps({"development": {"WS_URL": csms.url, "chargePointID": "CLI_CP"}}))
        proc = await asyncio.create_subprocess_exec(
            PY,
            "-m",
            "ocpp_station",
            "run",
            "--config",
            str(path),
            "--control-port",
            "0",
            "--data-dir",
            str(tmp_path / "data"),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode()
        assert line.startswith("control API on http://127.0.0.1:")
        base = line.split(" on ")[1].strip()
        await csms.wait_connected("CLI_CP", timeout=20)
        async with aiohttp.ClientSession() as http:
            state = await _wait_for_state(http, base, lambda s: s["registration"] == "Accepted", timeout=30)
            assert state["chargePointId"] == "CLI_CP"
            async with http.post(f"{base}/connectors/1/plug") as response:
                assert response.status == 200
            async with http.post(f"{base}/id-tag", json={"idTag": "CARD"}) as response:
                assert response.status == 200
            await csms.wait_for(lambda e: e.action == "StartTransaction" and e.direction == "in")
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(proc.wait(), 20)
        assert code == 0
        info = await csms.wait_disconnected("CLI_CP", timeout=10)
        assert not info.connected
        assert (tmp_path / "data" / "station.db").exists()


def test_firmware_image_writes_an_installable_image(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ocpp_station.cli import main
    from ocpp_station.hardware.firmware import verify_and_install

    out = tmp_path / "fw.img"
    assert main(["firmware-image", "--version", "4.2.0", str(out)]) == 0
    assert verify_and_install(out) == "4.2.0"
    assert main(["firmware-image", "--version", "has space", str(tmp_path / "bad.img")]) == 2
    assert "invalid firmware version" in capsys.readouterr().err
    assert not (tmp_path / "bad.img").exists()
