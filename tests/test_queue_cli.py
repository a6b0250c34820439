"""``ocpp-station queue``: what a station stored and has not delivered, read-only, as a real process."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

from ocpp_station.core.model import Transaction
from ocpp_station.core.rpc import OutgoingCall
from ocpp_station.storage import SqliteStore
from ocpp_station.storage.base import Op
from ocpp_station.storage.sqlite import MIGRATIONS

T0 = 1_764_000_000.0  # 2025-11-24T16:00:00Z


def queue(data_dir: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ocpp_station", "queue", "--data-dir", str(data_dir), *extra],
        capture_output=True,
        text=True,
        timeout=60,
    )


def queue_json(data_dir: Path) -> dict[str, Any]:
    done = queue(data_dir, "--json")
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def interrupted_session() -> list[Op]:
    """What the engine stores for a transaction cut by a power loss, its messages not yet delivered."""
    tx = Transaction(
        local_id=3,
        connector_id=1,
        id_tag="TAG",
        parent_id_tag=None,
        meter_start_wh=1200,
        started_at=T0,
        transaction_id=101,
        stopping=True,
        meter_last_wh=1840,
        last_at=T0 + 600,
    )
    start = OutgoingCall(
        "StartTransaction",
        {"connectorId": 1, "idTag": "TAG", "meterStart": 1200, "timestamp": "2025-11-24T16:00:00.000Z"},
        {"tx": 3},
        transactional=True,
    )
    sample = {
        "value": "1840",
        "context": "Sample.Periodic",
        "measurand": "Energy.Active.Import.Register",
        "unit": "Wh",
    }
    meter = OutgoingCall(
        "MeterValues",
        {
            "connectorId": 1,
            "meterValue": [{"timestamp": "2025-11-24T16:10:00.000Z", "sampledValue": [sample]}],
        },
        {"tx": 3},
        transactional=True,
        attempts=2,
        not_before=T0 + 900,
    )
    stop = OutgoingCall(
        "StopTransaction",
        {"meterStop": 1840, "timestamp": "2025-11-24T16:10:00.000Z", "reason": "PowerLoss"},
        {"tx": 3},
        transactional=True,
    )
    return [
        ("put", "transactions", "3", tx.to_record()),
        # seq 9 and 10 sort numerically, not as text
        ("put", "outbox", f"{10:012d}", meter.to_record()),
        ("put", "outbox", f"{9:012d}", start.to_record()),
        ("put", "outbox", f"{11:012d}", stop.to_record()),
        ("put", "auth_cache", "TAG", {"status": "Accepted"}),
        ("put", "station", "shutdown", {"clean": False}),
    ]


def build(data_dir: Path, ops: list[Op]) -> None:
    store = SqliteStore.in_dir(data_dir)
    store.apply(ops)
    store.close()


def test_json_lists_outbox_open_transactions_and_shutdown(tmp_path: Path) -> None:
    build(tmp_path, interrupted_session())
    report = queue_json(tmp_path)
    assert report["schemaVersion"] == len(MIGRATIONS)
    assert report["cleanShutdown"] is False
    assert [(m["seq"], m["action"], m["attempts"], m["localTransactionId"]) for m in report["outbox"]] == [
        (9, "StartTransaction", 0, 3),
        (10, "MeterValues", 2, 3),
        (11, "StopTransaction", 0, 3),
    ]
    meter = report["outbox"][1]
    assert meter["notBefore"] == "2025-11-24T16:15:00.000Z"
    assert "1840 Wh" in meter["summary"]
    assert "PowerLoss" in report["outbox"][2]["summary"]
    assert report["outbox"][2]["payload"]["meterStop"] == 1840
    assert report["transactions"] == [
        {
            "localId": 3,
            "transactionId": 101,
            "connectorId": 1,
            "idTag": "TAG",
            "meterStart": 1200,
            "meterLast": 1840,
            "lastAt": "2025-11-24T16:10:00.000Z",
            "stopping": True,
        }
    ]
    assert report["authCacheEntries"] == 1


def test_text_output(tmp_path: Path) -> None:
    build(tmp_path, interrupted_session())
    done = queue(tmp_path)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "did not shut down cleanly" in out
    assert "outbox: 3 transaction message(s)" in out
    lines = out.splitlines()
    rows = [line.split() for line in lines if line.strip().split(" ")[0] in ("9", "10", "11")]
    assert [row[:4] for row in rows] == [
        ["9", "StartTransaction", "0", "3"],
        ["10", "MeterValues", "2", "3"],
        ["11", "StopTransaction", "0", "3"],
    ]
    assert "open transactions: 1" in out
    assert any(line.split()[:5] == ["3", "101", "1", "TAG", "1200"] for line in lines)


def test_clean_and_empty(tmp_path: Path) -> None:
    build(tmp_path, [("put", "station", "shutdown", {"clean": True})])
    report = queue_json(tmp_path)
    assert report["cleanShutdown"] is True
    assert report["outbox"] == [] and report["transactions"] == []
    assert "shut down cleanly" in queue(tmp_path).stdout


def test_a_station_that_never_ran_a_session(tmp_path: Path) -> None:
    SqliteStore.in_dir(tmp_path).close()
    report = queue_json(tmp_path)
    assert report["cleanShutdown"] is None and report["outbox"] == []


def test_safe_while_the_station_writes(tmp_path: Path) -> None:
    """Read-only: it sees the last commit, neither blocks nor changes the running station's database."""
    store = SqliteStore.in_dir(tmp_path)
    store.apply(interrupted_session())
    db = store._db
    db.execute("BEGIN IMMEDIATE")  # the station in the middle of a step
    db.execute("DELETE FROM records WHERE kind = 'outbox'")
    report = queue_json(tmp_path)
    assert len(report["outbox"]) == 3
    db.execute("COMMIT")
    assert queue_json(tmp_path)["outbox"] == []
    assert store.load("transactions")  # the station's connection is untouched
    store.apply([("put", "outbox", f"{12:012d}", {"action": "MeterValues", "payload": {}})])
    store.close()
    before = (tmp_path / "station.db").read_bytes()
    assert [m["seq"] for m in queue_json(tmp_path)["outbox"]] == [12]
    assert (tmp_path / "station.db").read_bytes() == before


def test_missing_data_dir_or_database_exits_2(tmp_path: Path) -> None:
    done = queue(tmp_path / "nowhere")
    assert done.returncode == 2
    assert "no such data directory" in done.stderr and "Traceback" not in done.stderr
    done = queue(tmp_path, "--json")
    assert done.returncode == 2
    assert "no station database" in done.stderr and "Traceback" not in done.stderr
    assert done.stdout == ""
    assert not (tmp_path / "station.db").exists()  # read-only: nothing created


def test_unreadable_or_newer_database_exits_2(tmp_path: Path) -> None:
    (tmp_path / "station.db").write_bytes(b"not a database" * 100)
    done = queue(tmp_path)
    assert done.returncode == 2 and "cannot read" in done.stderr and "Traceback" not in done.stderr
    newer = tmp_path / "newer"
    SqliteStore.in_dir(newer).close()
    db = sqlite3.connect(newer / "station.db")
    db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    db.commit()
    db.close()
    done = queue(newer)
    assert done.returncode == 2 and "newer" in done.stderr
