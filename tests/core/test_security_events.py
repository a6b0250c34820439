"""The security log and SecurityEventNotification in the engine (OCPP 1.6 security whitepaper edition 3,
§8 "Security Events", A04): one test per event the engine sees, the events the shell reports, the
guaranteed delivery of critical events (offline, across a restart) and the rolling log."""

from __future__ import annotations

from typing import Any

import pytest

from ocpp_station.core.clock import format_datetime
from ocpp_station.core.effects import DownloadFirmware, InstallFirmware, Persist, Reboot
from ocpp_station.core.events import Booted, FirmwareDownloaded, FirmwareInstalled, SecurityEventObserved
from ocpp_station.core.features.security_events import (
    LOG_CAP,
    OBSERVABLE,
    SECURITY_EVENTS,
    TECH_INFO_MAX,
)
from ocpp_station.core.settings import EngineSettings
from tests.core.harness import Harness, Unanswered

KEY = "0123456789abcdef0123456789abcdef"


def events(h: Harness, since: int = 0) -> list[str]:
    """The types of the SecurityEventNotifications sent (since a mark)."""
    return [p["type"] for a, p in h.calls[since:] if a == "SecurityEventNotification"]


def log_entries(h: Harness) -> list[dict[str, Any]]:
    """The security log as stored, oldest first."""
    kept = h.records.get("security_log", {})
    return [kept[key] for key in sorted(kept) if key.isdigit()]


def logged(h: Harness) -> list[str]:
    return [entry["type"] for entry in log_entries(h)]


def test_section_8_table_criticality() -> None:
    """§8: seven critical events; the shell may report none of those the engine sees itself."""
    assert {t for t, critical in SECURITY_EVENTS.items() if critical} == {
        "FirmwareUpdated",
        "SettingSystemTime",
        "StartupOfTheDevice",
        "ResetOrReboot",
        "SecurityLogWasCleared",
        "MemoryExhaustion",
        "TamperDetectionActivated",
    }
    assert len(SECURITY_EVENTS) == 18
    assert "FailedToAuthenticationAtCentralSystem" in OBSERVABLE  # the errata's spelling
    assert "StartupOfTheDevice" not in OBSERVABLE


def test_A04_FR_01_04_startup_of_the_device_when_booted() -> None:
    h = Harness()
    mark = h.mark()
    h.feed(Booted())
    assert events(h, mark) == ["StartupOfTheDevice"]
    sent = h.sent("SecurityEventNotification")[0]
    assert sent["timestamp"] == format_datetime(h.now)
    (entry,) = log_entries(h)
    assert entry["type"] == "StartupOfTheDevice" and entry["timestamp"] == sent["timestamp"]
    assert "pending" not in entry  # answered: no longer waiting to be sent


@pytest.mark.parametrize(
    ("records", "tech_info"),
    [
        ({}, "started"),  # an empty store: its first start
        ({"station": {"shutdown": {"clean": False}}}, "started after a power loss or crash"),
        ({"station": {"shutdown": {"clean": True}}}, "started after a graceful stop"),
    ],
)
def test_A04_FR_01_startup_of_the_device_says_how_the_last_run_ended(
    records: dict[str, Any], tech_info: str
) -> None:
    """A station's first start on an empty store had no last run: it said "after a power loss or
    crash" (every station of a fleet, 2026-11-30)."""
    h = Harness(records=records)
    h.feed(Booted())
    assert log_entries(h)[0]["techInfo"] == tech_info


def test_A04_FR_01_reset_or_reboot_on_a_reset_logged_before_the_reboot() -> None:
    h = Harness()
    h.responders["SecurityEventNotification"] = lambda p: Unanswered()
    assert h.csms_result("Reset", {"type": "Soft"}) == {"status": "Accepted"}
    assert h.effects_of(Reboot) == [Reboot(hard=False)]
    assert events(h) == ["ResetOrReboot"]
    # Stored before the Reboot effect: the shell writes it before it restarts.
    kinds = [(type(e).__name__, getattr(e, "kind", None)) for e in h.effects]
    assert kinds.index(("Persist", "security_log")) < kinds.index(("Reboot", None))
    (entry,) = log_entries(h)
    assert entry == {
        "timestamp": format_datetime(h.now),
        "type": "ResetOrReboot",
        "techInfo": "soft reset",
        "pending": True,
    }
    # Not answered before the reboot: sent again after it, with its own timestamp.
    after = h.reboot(restore=True, connect=False)
    after.feed(Booted())
    after.reconnect()
    assert events(after) == ["ResetOrReboot", "StartupOfTheDevice"]
    assert after.sent("SecurityEventNotification")[0]["timestamp"] == entry["timestamp"]
    assert [e.get("pending") for e in log_entries(after)] == [None, None]


def test_A04_FR_01_setting_system_time_after_a_clock_sync_of_more_than_a_second() -> None:
    h = Harness()
    h.responders["Heartbeat"] = lambda p: {"currentTime": format_datetime(h.now + 0.5)}
    h.advance(301)
    assert events(h) == []  # half a second: no change of the clock
    told: list[str] = []
    h.responders["Heartbeat"] = lambda p: {
        "currentTime": told.append(format_datetime(h.now + 120)) or told[-1]
    }
    h.advance(300)
    assert events(h) == ["SettingSystemTime"]
    assert h.sent("SecurityEventNotification")[0]["timestamp"] == told[0]  # stamped on the new clock


def test_A04_FR_01_setting_system_time_after_a_wall_clock_jump_before_the_sync() -> None:
    h = Harness(connect=False, wall_skew=0.0)
    h.wall_skew = 3600.0  # the RTC is set an hour ahead while offline
    h.feed(Booted())
    assert logged(h) == ["SettingSystemTime", "StartupOfTheDevice"]
    h.reconnect()  # the BootNotification answer sets it back: another change
    assert events(h) == ["SettingSystemTime", "StartupOfTheDevice", "SettingSystemTime"]


def test_A04_FR_01_firmware_updated_once_after_the_installation() -> None:
    identity = {"chargePointVendor": "V", "chargePointModel": "M", "firmwareVersion": "1.0"}
    h = Harness(EngineSettings(identity=identity))
    url = "ftp://127.0.0.1:2121/firmware-2.0.bin"
    assert h.csms_result("UpdateFirmware", {"location": url, "retrieveDate": format_datetime(h.now)}) == {}
    h.feed(FirmwareDownloaded(h.effects_of(DownloadFirmware)[-1].job, ok=True))
    install = h.effects_of(InstallFirmware)[-1]
    h.feed(FirmwareInstalled(install.job, ok=True, version="2.0"))
    assert h.effects_of(Reboot) == [Reboot(hard=True)]
    # The reboot into the new firmware: logged, stored, sent after it.
    assert logged(h) == ["ResetOrReboot"] and log_entries(h)[0]["techInfo"] == "hard reset"

    after = h.reboot(restore=True, connect=False)
    after.feed(Booted())
    after.reconnect()
    assert events(h) + events(after) == ["ResetOrReboot", "StartupOfTheDevice", "FirmwareUpdated"]
    updated = after.sent("SecurityEventNotification")[-1]
    assert "2.0" in updated["techInfo"]
    # The next start is a start, not another update.
    again = after.reboot(restore=True)
    again.feed(Booted())
    assert events(again) == ["StartupOfTheDevice"]


@pytest.mark.parametrize(("key", "value"), [("AuthorizationKey", KEY), ("SecurityProfile", "1")])
def test_reconfiguration_of_security_parameters(key: str, value: str) -> None:
    """Not critical (§8) but logged (A04.FR.04) and notified; the key's value is never told."""
    h = Harness(config={"AuthorizationKey": "fedcba9876543210fedcba9876543210"})
    answer = h.csms_result("ChangeConfiguration", {"key": key, "value": value})
    assert answer == {"status": "Accepted"}
    assert events(h) == ["ReconfigurationOfSecurityParameters"]
    (entry,) = log_entries(h)
    assert entry["techInfo"] == f"{key} changed" and "pending" not in entry
    assert KEY not in repr(h.records) and KEY not in repr(h.calls[-1])


def test_shell_events_queued_offline_one_per_type_and_cut_to_max_length() -> None:
    h = Harness()
    h.disconnect()
    long_info = "x" * 400
    for _ in range(3):  # refused at every reconnection attempt
        h.feed(SecurityEventObserved("InvalidCentralSystemCertificate", long_info))
    h.feed(SecurityEventObserved("FailedToAuthenticationAtCentralSystem", "HTTP 401"))
    assert logged(h) == ["InvalidCentralSystemCertificate"] * 3 + ["FailedToAuthenticationAtCentralSystem"]
    assert all(len(e["techInfo"]) <= TECH_INFO_MAX for e in log_entries(h))
    h.reconnect()
    assert events(h) == ["InvalidCentralSystemCertificate", "FailedToAuthenticationAtCentralSystem"]
    assert len(h.sent("SecurityEventNotification")[0]["techInfo"]) == TECH_INFO_MAX
    # Answered: the next refusal is notified again.
    h.feed(SecurityEventObserved("InvalidCentralSystemCertificate", "again"))
    assert events(h)[-1] == "InvalidCentralSystemCertificate"


@pytest.mark.parametrize("event_type", ["NoSuchEvent", "StartupOfTheDevice", "SettingSystemTime", ""])
def test_shell_cannot_name_other_event_types(event_type: str) -> None:
    h = Harness()
    with pytest.raises(ValueError, match="security event"):
        h.feed(SecurityEventObserved(event_type, "x"))
    assert logged(h) == [] and events(h) == []


def test_A04_FR_02_critical_events_queued_offline_survive_a_restart() -> None:
    h = Harness(connect=False)
    h.feed(Booted())
    h.feed(SecurityEventObserved("TamperDetectionActivated", "lid opened"))
    h.feed(SecurityEventObserved("InvalidTLSVersion", "TLS 1.1 only"))
    assert events(h) == []
    assert [e.get("pending") for e in log_entries(h)] == [True, True, None]
    # Power lost before the link came up: the critical ones come back, the non-critical one does not.
    after = h.reboot(restore=True, connect=False)
    after.now += 60
    after.feed(Booted())
    after.reconnect()
    assert events(after) == ["StartupOfTheDevice", "TamperDetectionActivated", "StartupOfTheDevice"]
    first = after.sent("SecurityEventNotification")
    assert first[0]["timestamp"] == format_datetime(after.now - 60)
    assert first[2]["timestamp"] == format_datetime(after.now)
    assert not any(e.get("pending") for e in log_entries(after))
    # Nothing is sent twice after the next restart.
    again = after.reboot(restore=True)
    assert events(again) == []


def test_A04_FR_02_kept_after_a_lost_link_and_a_timeout() -> None:
    h = Harness()
    h.responders["SecurityEventNotification"] = lambda p: Unanswered()
    h.feed(Booted())
    assert events(h) == ["StartupOfTheDevice"]
    h.disconnect()  # in flight when the link drops: taken back, not failed
    h.responders["SecurityEventNotification"] = lambda p: {}
    h.reconnect()
    assert events(h) == ["StartupOfTheDevice", "StartupOfTheDevice"]
    assert not any(e.get("pending") for e in log_entries(h))


def test_A04_FR_03_a_callerror_is_an_answer_not_retried() -> None:
    h = Harness()
    h.responders["SecurityEventNotification"] = lambda p: ("NotImplemented", "no security extension")
    h.feed(Booted())
    h.advance(600)
    assert events(h) == ["StartupOfTheDevice"]
    assert not any(e.get("pending") for e in log_entries(h))


def test_A04_FR_04_the_log_is_rolling_oldest_first() -> None:
    h = Harness()
    for n in range(LOG_CAP + 5):
        h.feed(SecurityEventObserved("InvalidMessages", f"#{n}"))
    entries = log_entries(h)
    assert len(entries) == LOG_CAP
    assert entries[0]["techInfo"] == "#5" and entries[-1]["techInfo"] == f"#{LOG_CAP + 4}"
    # A restart takes the range back: the next entry still drops the oldest.
    after = h.reboot(restore=True)
    after.feed(SecurityEventObserved("InvalidMessages", "after"))
    entries = log_entries(after)
    assert len(entries) == LOG_CAP
    assert entries[0]["techInfo"] == "#6" and entries[-1]["techInfo"] == "after"
    deleted = [e for e in after.effects if isinstance(e, Persist) and e.value is None]
    assert [e.key for e in deleted] == [f"{6:012d}"]
