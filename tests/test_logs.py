"""Structured logs (logs.py): JSON lines with the station id, the wire trace at DEBUG, text by default.
The command line runs as a real process against the real development CSMS; in-process, real stations
sharing one process each stamp their own id on what their tasks log."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
import signal
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ocpp_station.logs import STATION_ID, WIRE_LOG, JsonFormatter, StationFilter, configure_logging
from ocpp_station.sim.csms import CentralSystem
from ocpp_station.transport.station import Station
from tests.stations import StationFactory, station_config

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
TEXT_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) +\S+: ")


def parse_json_lines(stderr: str) -> list[dict[str, Any]]:
    """Every line of ``stderr`` as one JSON record with the required fields."""
    records = []
    for line in stderr.splitlines():
        record = json.loads(line)  # fails the test on any line that is not JSON
        assert isinstance(record, dict)
        assert ISO_UTC.match(record["time"]), record
        assert record["level"] in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
        assert isinstance(record["logger"], str) and isinstance(record["message"], str)
        records.append(record)
    assert records
    return records


def check_wire_trace(records: list[dict[str, Any]], station: str) -> None:
    """Frames both ways on ``ocpp_station.wire``, each with its station, direction and OCPP-J text."""
    wire = [r for r in records if r["logger"] == "ocpp_station.wire" and r.get("station") == station]
    assert {r["direction"] for r in wire} == {"sent", "received"}
    for record in wire:
        assert record["level"] == "DEBUG"
        assert json.loads(record["frame"])[0] in (2, 3, 4)
        assert record["frame"] in record["message"]
    sent = [json.loads(r["frame"]) for r in wire if r["direction"] == "sent"]
    assert [2, "BootNotification"] == sent[0][::2][:2]


async def start_cli(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ocpp_station",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def line_starting(process: asyncio.subprocess.Process, prefix: str) -> str:
    """The first stdout line that starts with ``prefix``."""
    assert process.stdout is not None
    async with asyncio.timeout(20):
        while True:
            line = (await process.stdout.readline()).decode()
            assert line, f"the process ended before printing {prefix!r}"
            if line.startswith(prefix):
                return line.strip()


async def stop(process: asyncio.subprocess.Process, sig: int = signal.SIGTERM, status: int = 0) -> str:
    """Signal ``sig``, then its stderr (exit status ``status`` required)."""
    process.send_signal(sig)
    async with asyncio.timeout(30):
        _, stderr = await process.communicate()
    assert process.returncode == status, stderr.decode()
    return stderr.decode()


def station_file(tmp_path: Path, csms: CentralSystem, cp_id: str) -> Path:
    path = tmp_path / f"{cp_id}.json"
    path.write_text(
        json.dumps(
            {
                "development": {"WS_URL": csms.url, "chargePointID": cp_id},
                "connection": {"reconnect": {"initialDelay": 0.05, "maxDelay": 0.2}},
            }
        )
    )
    return path


async def booted(csms: CentralSystem, cp_id: str) -> None:
    await csms.wait_for(
        lambda e: e.charge_point_id == cp_id and e.action == "BootNotification" and e.kind == "CALLRESULT",
        timeout=20,
    )


async def test_run_json_lines_with_the_station_id_and_the_wire_trace(
    csms: CentralSystem, tmp_path: Path
) -> None:
    config = station_file(tmp_path, csms, "CP_LOG")
    process = await start_cli(
        "run", "--config", str(config), "--control-port", "0", "--log-format", "json", "--log-level", "DEBUG"
    )
    try:
        url = (await line_starting(process, "control API on ")).removeprefix("control API on ")
        await booted(csms, "CP_LOG")
        async with aiohttp.ClientSession() as http:
            # A request of the control API logs with the station id too (the wire trace of its CALL).
            async with http.post(f"{url}/call", json={"action": "Heartbeat", "payload": {}}) as response:
                assert "result" in await response.json()
            async with http.get(f"{url}/metrics") as response:
                text = await response.text()
        assert 'ocpp_station_info{charge_point_id="CP_LOG"} 1.0' in text
        assert 'ocpp_station_messages_total{action="Heartbeat",direction="sent",type="CALL"} 1.0' in text
    finally:
        stderr = await stop(process)
    records = parse_json_lines(stderr)
    ours = [r for r in records if r["logger"].startswith("ocpp_station")]
    assert ours and all(r.get("station") == "CP_LOG" for r in ours), [r for r in ours if "station" not in r]
    assert any(r["message"].startswith("connected to ws://") for r in ours)
    check_wire_trace(records, "CP_LOG")
    assert any(r.get("direction") == "sent" and '"Heartbeat"' in r["frame"] for r in records)


async def test_text_stays_the_default(csms: CentralSystem, tmp_path: Path) -> None:
    process = await start_cli("run", "--config", str(station_file(tmp_path, csms, "CP_TEXT")))
    try:
        await booted(csms, "CP_TEXT")
    finally:
        stderr = await stop(process)
    lines = stderr.splitlines()
    assert any("connected to ws://" in line for line in lines)
    for line in lines:
        assert TEXT_LINE.match(line), line
    assert not any("ocpp_station.wire" in line for line in lines)  # INFO: no trace


async def test_demo_json_lines() -> None:
    process = await start_cli(
        "--log-format", "json", "--log-level", "debug", "demo", "--charge-seconds", "0.5"
    )
    async with asyncio.timeout(60):
        stdout, stderr = await process.communicate()
    assert process.returncode == 0, stderr.decode()
    assert "Session complete" in stdout.decode()  # the demo's own output stays on stdout
    records = parse_json_lines(stderr.decode())
    check_wire_trace(records, "DEMO_CP")
    assert any(r["logger"] == "ocpp_station.station" and r.get("station") == "DEMO_CP" for r in records)


@pytest.mark.parametrize("processes", ["1", "2"])
async def test_fleet_json_lines_each_station_its_id(csms: CentralSystem, processes: str) -> None:
    """One process, and worker processes (which log as their parent was told to)."""
    process = await start_cli(
        "fleet",
        "--url",
        csms.url,
        "--count",
        "2",
        "--processes",
        processes,
        "--duration",
        "2s",
        "--no-live",
        "--log-format",
        "json",
        "--log-level",
        "debug",
    )
    async with asyncio.timeout(60):
        _, stderr = await process.communicate()
    assert process.returncode == 0, stderr.decode()
    lines = stderr.decode().splitlines()
    # The fleet's own lines (its banner, the progress line) are its output, not log records.
    own = [line for line in lines if re.match(r"^(done: )?fleet[ :]", line)]
    assert len(own) >= 2
    records = parse_json_lines("\n".join(line for line in lines if line not in own))
    for cp_id in ("CP-00001", "CP-00002"):
        check_wire_trace(records, cp_id)
        connected = [r for r in records if r["message"] == f"connected to {csms.url}{cp_id}"]
        assert [r.get("station") for r in connected] == [cp_id]


async def test_csms_json_lines(start_station: StationFactory) -> None:
    process = await start_cli(
        "csms", "--port", "0", "--quiet", "--log-format", "json", "--log-level", "debug"
    )
    try:
        line = await line_starting(process, "Development CSMS listening on ")
        url = line.split()[4].removesuffix("<chargePointId>")
        station = await start_station(station_config(url, "CP_CSMS"))
        assert station.view.registration == "Accepted"
    finally:
        stderr = await stop(process, signal.SIGINT, 130)  # the CSMS runs until ^C
    parse_json_lines(stderr)


# -- in one process ---------------------------------------------------------------------------------


async def test_records_carry_the_id_of_the_station_whose_task_logged_them(
    csms: CentralSystem, start_station: StationFactory
) -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(StationFilter())
    package = logging.getLogger("ocpp_station")
    saved = package.level, WIRE_LOG.level
    package.addHandler(handler)
    package.setLevel(logging.INFO)
    WIRE_LOG.setLevel(logging.DEBUG)
    try:
        a = await start_station(station_config(csms.url, "CP_A"))
        b = await start_station(station_config(csms.url, "CP_B"))
        assert a.frame_logger is not None and b.frame_logger is not None  # asked once, at build
        a.network_disconnect()
        await a.wait_for(lambda s: not s["connected"])
        a.network_connect()
        await a.wait_for(lambda s: s["connected"] and s["queue"] == 0)
    finally:
        package.removeHandler(handler)
        package.setLevel(saved[0])
        WIRE_LOG.setLevel(saved[1])
    assert STATION_ID.get() is None  # set in the stations' own tasks, not in the test's
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    for cp_id, connections in (("CP_A", 2), ("CP_B", 1)):
        connected = [r for r in records if r["message"] == f"connected to {csms.url}{cp_id}"]
        assert [r.get("station") for r in connected] == [cp_id] * connections
        check_wire_trace(records, cp_id)
    # The reconnect's back-off, logged in CP_A's task, names CP_A.
    assert [r.get("station") for r in records if r["message"].startswith("reconnecting in")] == ["CP_A"]


def test_no_trace_when_the_wire_logger_is_off() -> None:
    assert not WIRE_LOG.isEnabledFor(logging.DEBUG)
    station = Station(station_config("ws://127.0.0.1:9/"))
    try:
        assert station.frame_logger is None  # nothing on the frame path
    finally:
        station.close()


def test_json_formatter_fields_and_exception() -> None:
    formatter = JsonFormatter()
    logger = logging.getLogger("ocpp_station.test")
    try:
        raise ValueError("bad\nvalue")
    except ValueError:
        record = logger.makeRecord(
            logger.name, logging.ERROR, __file__, 1, "failed: %s é", ("x",), sys.exc_info()
        )
    token = STATION_ID.set("CP_9")
    try:
        assert StationFilter().filter(record)
    finally:
        STATION_ID.reset(token)
    line = formatter.format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["message"] == "failed: x é" and entry["level"] == "ERROR" and entry["station"] == "CP_9"
    assert entry["logger"] == "ocpp_station.test" and ISO_UTC.match(entry["time"])
    assert "ValueError: bad\nvalue" in entry["exception"]
    plain = logger.makeRecord(logger.name, logging.INFO, __file__, 1, "no station", (), None)
    assert "station" not in json.loads(formatter.format(plain))


def test_configure_logging_refuses_an_unknown_format() -> None:
    with pytest.raises(ValueError, match="text, json"):
        configure_logging("info", "xml")
