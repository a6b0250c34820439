"""The firmware and diagnostics steps as tables (core/features/firmware.py: FIRMWARE_STEPS,
DIAGNOSTICS_STEPS; OCPP 1.6 §4.4, §4.5, §5.9, §5.19). Every scenario of test_firmware.py runs with the
step check recorded: every step the feature takes is in its table, every step of the tables is taken by
some scenario, and a step outside its table is reported."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from ocpp_station.core.events import FirmwareDownloaded
from ocpp_station.core.features import firmware
from ocpp_station.core.features.firmware import DIAGNOSTICS_STEPS, FIRMWARE_STEPS, check_step
from ocpp_station.wire.messages import DiagnosticsStatus, FirmwareStatus
from tests.core import test_firmware
from tests.core.harness import Harness

Step = tuple[str, str, str]

#: Outcomes end a job: the feature drops it, so "outcome -> Idle" is taken without a check call.
_ENDS = {
    ("firmware update", str(s), "Idle")
    for s in (FirmwareStatus.DownloadFailed, FirmwareStatus.InstallationFailed, FirmwareStatus.Installed)
} | {
    ("diagnostics upload", str(s), "Idle")
    for s in (DiagnosticsStatus.Uploaded, DiagnosticsStatus.UploadFailed)
}

TABLES: dict[str, Mapping[Any, frozenset[Any]]] = {
    "firmware update": FIRMWARE_STEPS,
    "diagnostics upload": DIAGNOSTICS_STEPS,
}


def _scenarios() -> dict[str, Callable[[], None]]:
    return {
        name: fn
        for name, fn in inspect.getmembers(test_firmware, inspect.isfunction)
        if name.startswith("test_") and not inspect.signature(fn).parameters
    }


def _table_steps() -> set[Step]:
    return {
        (what, str(a), str(b))
        for what, table in TABLES.items()
        for a, targets in table.items()
        for b in targets
    }


@pytest.fixture(scope="module")
def taken() -> dict[Step, list[str]]:
    """Every step checked while the scenarios of test_firmware.py run, with the scenarios taking it."""
    steps: dict[Step, list[str]] = {}
    original = firmware.check_step
    name = ""

    def record(table: Mapping[Any, frozenset[Any]], what: str, current: Any, to: Any) -> bool:
        if current != to:
            steps.setdefault((what, str(current), str(to)), []).append(name)
        return original(table, what, current, to)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(firmware, "check_step", record)
        for name, scenario in _scenarios().items():  # noqa: B007 (read by record)
            scenario()
    return steps


def test_the_scenarios_are_found() -> None:
    assert len(_scenarios()) > 20


def test_every_step_taken_is_in_its_table(taken: dict[Step, list[str]]) -> None:
    outside = {step: names for step, names in taken.items() if step not in _table_steps()}
    assert not outside


def test_every_step_of_the_tables_is_taken(taken: dict[Step, list[str]]) -> None:
    assert _table_steps() - set(taken) - _ENDS == set()


def test_the_tables_use_the_status_vocabulary() -> None:
    assert set(FIRMWARE_STEPS) == set(FirmwareStatus)
    assert set(DIAGNOSTICS_STEPS) == set(DiagnosticsStatus)
    for table in TABLES.values():
        for state, targets in table.items():
            assert targets <= set(table), state
            assert state not in targets  # staying is no step


def test_a_step_outside_the_table_is_reported(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="ocpp_station.engine"):
        legal = check_step(FIRMWARE_STEPS, "firmware update", FirmwareStatus.Idle, FirmwareStatus.Installing)
    assert legal is False
    assert "firmware update: Idle -> Installing is not a step of its table" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="ocpp_station.engine"):
        assert check_step(
            FIRMWARE_STEPS, "firmware update", FirmwareStatus.Downloading, FirmwareStatus.Downloading
        )
    assert not caplog.text


def test_the_feature_reports_a_step_its_table_does_not_have(caplog: pytest.LogCaptureFixture) -> None:
    """An update found Downloaded when its retry is due (a state no run of the feature leaves there)
    would go back to Downloading: the feature reports the step as not in its table."""
    h = Harness()
    download = test_firmware.update_firmware(h, retries=1, retryInterval=10)
    assert download is not None
    h.feed(FirmwareDownloaded(download.job, ok=False, reason="timeout"))  # the retry waits 10 s
    update = h.engine.firmware.update
    assert update is not None
    update["state"] = FirmwareStatus.Downloaded.value
    with caplog.at_level(logging.ERROR, logger="ocpp_station.engine"):
        h.advance(10)
    assert "firmware update: Downloaded -> Downloading is not a step of its table" in caplog.text
