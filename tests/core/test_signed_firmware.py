"""The secure firmware update in the engine (security whitepaper ed. 3, L01; SignedUpdateFirmware §5.21,
SignedFirmwareStatusNotification §5.19), with a fake clock, a real manufacturer PKI made with
``cryptography`` and the shell's results (download, signature check, installation) fed as events."""

from __future__ import annotations

import datetime as dt
from functools import cache
from typing import Any

import pytest

from ocpp_station.core.clock import format_datetime
from ocpp_station.core.effects import DownloadFirmware, InstallFirmware, Reboot, VerifyFirmware
from ocpp_station.core.events import (
    Booted,
    CablePlugged,
    Connected,
    FirmwareDownloaded,
    FirmwareInstalled,
    FirmwareVerified,
    IdTagPresented,
)
from ocpp_station.core.features.firmware import SIGNED_FIRMWARE_STEPS, signing_certificate_problem
from ocpp_station.core.settings import EngineSettings
from ocpp_station.sim.firmware_signing import ManufacturerPki, make_manufacturer_pki
from tests.core.harness import T0, Harness

URL = "ftp://127.0.0.1:2121/firmware-3.0.bin"
NOW = dt.datetime.fromtimestamp(T0, dt.UTC)
SIGNATURE = "c2lnbmF0dXJl"  # checked by the shell: the engine only carries it


@cache
def pki(key_type: str = "ec") -> ManufacturerPki:
    return make_manufacturer_pki("ACME chargers", key_type=key_type, now=NOW)


def settings(*, roots: tuple[str, ...] | None = None, **extra: Any) -> EngineSettings:
    installed = tuple(("ManufacturerRootCertificate", pem) for pem in (roots or (pki().root,)))
    return EngineSettings(
        identity={"chargePointVendor": "V", "chargePointModel": "M", "firmwareVersion": "1.0"},
        installed_certificates=installed,
        **extra,
    )


def signed_statuses(h: Harness, since: int = 0) -> list[str]:
    return [p["status"] for a, p in h.calls[since:] if a == "SignedFirmwareStatusNotification"]


def security_events(h: Harness, since: int = 0) -> list[str]:
    return [p["type"] for a, p in h.calls[since:] if a == "SecurityEventNotification"]


def signed_update(
    h: Harness,
    *,
    request_id: int = 7,
    delay_s: float = 0,
    install_in_s: float | None = None,
    certificate: str | None = None,
    **extra: Any,
) -> str:
    """Send SignedUpdateFirmware; return its status."""
    firmware: dict[str, Any] = {
        "location": URL,
        "retrieveDateTime": format_datetime(h.now + delay_s),
        "signingCertificate": certificate or pki().signing_certificate,
        "signature": SIGNATURE,
    }
    if install_in_s is not None:
        firmware["installDateTime"] = format_datetime(h.now + install_in_s)
    result = h.csms_result("SignedUpdateFirmware", {"requestId": request_id, "firmware": firmware, **extra})
    status: str = result["status"]
    return status


def last(h: Harness, kind: type) -> Any:
    found = h.effects_of(kind)
    assert found, f"no {kind.__name__} effect"
    return found[-1]


def test_L01_happy_flow_every_status_with_the_request_id_then_installed_after_the_reboot() -> None:
    h = Harness(settings())
    mark = h.mark()
    assert signed_update(h) == "Accepted"
    download = last(h, DownloadFirmware)
    assert download.location == URL
    h.feed(FirmwareDownloaded(download.job, ok=True))
    verify = last(h, VerifyFirmware)  # the signature is checked before anything is installed (L01.FR.04)
    assert (verify.job, verify.signature) == (download.job, SIGNATURE)
    assert verify.signing_certificate == pki().signing_certificate
    assert not h.effects_of(InstallFirmware)
    h.feed(FirmwareVerified(download.job, ok=True))
    install = last(h, InstallFirmware)
    assert (install.signature, install.signing_certificate) == (SIGNATURE, pki().signing_certificate)
    assert h.statuses(1)[-1] == "Unavailable"
    h.feed(FirmwareInstalled(install.job, ok=True, version="3.0"))
    assert h.effects_of(Reboot) == [Reboot(hard=True)]
    statuses = ["Downloading", "Downloaded", "SignatureVerified", "Installing", "InstallRebooting"]
    assert signed_statuses(h, mark) == statuses
    # L01.FR.10: every notification carries the request's requestId
    assert {p.get("requestId") for a, p in h.calls[mark:] if a == "SignedFirmwareStatusNotification"} == {7}
    assert "FirmwareStatusNotification" not in h.actions(mark)  # the plain 1.6 message is not used

    after = h.reboot(restore=True, connect=False)
    after.feed(Booted())  # the shell finished starting: FirmwareUpdated (§8) is logged
    after.feed(Connected())
    assert after.sent("BootNotification")[0]["firmwareVersion"] == "3.0"
    assert after.sent("SignedFirmwareStatusNotification") == [{"status": "Installed", "requestId": 7}]
    assert "FirmwareUpdated" in security_events(after)
    assert after.statuses(1) == ["Available"]
    again = after.reboot(restore=True)
    assert signed_statuses(again) == []  # reported once


@pytest.mark.parametrize("case", ["unknown root", "no root", "expired", "garbage", "root as signer"])
def test_L01_FR_24_FR_02_invalid_signing_certificate(case: str) -> None:
    other = make_manufacturer_pki("Someone else", now=NOW)
    roots: tuple[str, ...] = (pki().root,)
    certificate = pki().signing_certificate
    if case == "unknown root":
        certificate = other.signing_certificate
    elif case == "no root":
        roots = (other.root,)
    elif case == "expired":
        certificate = make_manufacturer_pki(
            "ACME chargers", now=NOW - dt.timedelta(days=20), days=10
        ).signing_certificate
    elif case == "garbage":
        certificate = "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n"
    else:
        certificate = pki().root  # self-signed: not issued by the installed root... it is the root
    h = Harness(settings(roots=roots))
    mark = h.mark()
    if case == "root as signer":
        # The root itself is issued by itself: a manufacturer may sign with it (no rule forbids it).
        assert signed_update(h, certificate=certificate) == "Accepted"
        return
    assert signed_update(h, certificate=certificate) == "InvalidCertificate"
    assert security_events(h, mark) == ["InvalidFirmwareSigningCertificate"]
    assert not h.effects_of(DownloadFirmware)
    assert signed_statuses(h, mark) == []


def test_L01_FR_23_no_manufacturer_root_installed_is_an_invalid_certificate() -> None:
    h = Harness(EngineSettings())
    assert signed_update(h) == "InvalidCertificate"
    problem = signing_certificate_problem(pki().signing_certificate, [], T0)
    assert problem == "no ManufacturerRootCertificate installed"


def test_L01_rsa_signing_certificates_are_accepted_too() -> None:
    h = Harness(settings(roots=(pki("rsa").root,)))
    assert signed_update(h, certificate=pki("rsa").signing_certificate) == "Accepted"


def test_L01_FR_03_invalid_signature() -> None:
    h = Harness(settings())
    mark = h.mark()
    signed_update(h)
    download = last(h, DownloadFirmware)
    h.feed(FirmwareDownloaded(download.job, ok=True))
    h.feed(FirmwareVerified(download.job, ok=False, reason="signature does not match the image"))
    assert signed_statuses(h, mark) == ["Downloading", "Downloaded", "InvalidSignature"]
    assert security_events(h, mark) == ["InvalidFirmwareSignature"]
    assert not h.effects_of(InstallFirmware)
    assert h.engine.firmware.signed is None
    assert h.statuses(1) == ["Available"]


def test_L01_download_failed_after_the_retries() -> None:
    h = Harness(settings())
    mark = h.mark()
    signed_update(h, retries=1, retryInterval=30)
    first = last(h, DownloadFirmware)
    h.feed(FirmwareDownloaded(first.job, ok=False, reason="550"))
    assert len(h.effects_of(DownloadFirmware)) == 1
    h.advance(30)
    assert len(h.effects_of(DownloadFirmware)) == 2
    h.feed(FirmwareDownloaded(first.job, ok=False, reason="550"))
    assert signed_statuses(h, mark) == ["Downloading", "DownloadFailed"]


def test_L01_unsupported_protocol_fails_the_download_at_once() -> None:
    h2 = Harness(settings(file_transfer_protocols=("HTTP",)))
    mark = h2.mark()
    assert signed_update(h2) == "Accepted"
    assert signed_statuses(h2, mark) == ["DownloadFailed"]
    assert not h2.effects_of(DownloadFirmware)


def test_L01_installation_failed() -> None:
    h = Harness(settings())
    mark = h.mark()
    signed_update(h)
    job = last(h, DownloadFirmware).job
    h.feed(FirmwareDownloaded(job, ok=True))
    h.feed(FirmwareVerified(job, ok=True))
    h.feed(FirmwareInstalled(job, ok=False, reason="signature does not match the image"))
    assert signed_statuses(h, mark) == [
        "Downloading",
        "Downloaded",
        "SignatureVerified",
        "Installing",
        "InstallationFailed",
    ]
    assert not h.effects_of(Reboot)
    assert h.statuses(1)[-1] == "Available"


def test_L01_install_verification_failed_when_the_image_changed_after_its_check() -> None:
    """The shell checks the signature again right before the hardware gets the image; one that no
    longer verifies is InstallVerificationFailed (§6.8: "installation will not proceed") and the
    security event InvalidFirmwareSignature (L01.FR.03)."""
    h = Harness(settings())
    mark = h.mark()
    signed_update(h)
    job = last(h, DownloadFirmware).job
    h.feed(FirmwareDownloaded(job, ok=True))
    h.feed(FirmwareVerified(job, ok=True))
    h.feed(FirmwareInstalled(job, ok=False, reason="signature does not verify", verification_failed=True))
    assert signed_statuses(h, mark)[-2:] == ["Installing", "InstallVerificationFailed"]
    assert not h.effects_of(Reboot)
    assert h.statuses(1)[-1] == "Available"
    events = [p for a, p in h.calls[mark:] if a == "SecurityEventNotification"]
    assert [e["type"] for e in events] == ["InvalidFirmwareSignature"]
    assert "before installing" in events[0]["techInfo"]


def test_L01_FR_13_download_scheduled_then_FR_16_install_scheduled() -> None:
    h = Harness(settings())
    mark = h.mark()
    assert signed_update(h, delay_s=60, install_in_s=600) == "Accepted"
    assert signed_statuses(h, mark) == ["DownloadScheduled"]
    h.advance(59)
    assert not h.effects_of(DownloadFirmware)
    h.advance(1)
    job = last(h, DownloadFirmware).job
    h.feed(FirmwareDownloaded(job, ok=True))
    h.feed(FirmwareVerified(job, ok=True))
    assert signed_statuses(h, mark)[-1] == "InstallScheduled"
    assert not h.effects_of(InstallFirmware)
    assert h.statuses(1)[-1] == "Available"  # held only once the installation is due (L01.FR.19)
    h.advance(600 - 61)
    assert not h.effects_of(InstallFirmware)
    h.advance(1)
    assert last(h, InstallFirmware).job == job
    assert signed_statuses(h, mark) == [
        "DownloadScheduled",
        "Downloading",
        "Downloaded",
        "SignatureVerified",
        "InstallScheduled",
        "Installing",
    ]


def test_L01_FR_06_FR_07_installation_waits_for_the_transaction() -> None:
    two = EngineSettings().connectors[0]
    h = Harness(settings(connectors=(two, two)))
    h.feed(CablePlugged(1))
    h.feed(IdTagPresented("TAG", 1))
    assert h.statuses(1)[-1] == "Charging"
    signed_update(h)
    job = last(h, DownloadFirmware).job
    h.feed(FirmwareDownloaded(job, ok=True))
    h.feed(FirmwareVerified(job, ok=True))
    assert not h.effects_of(InstallFirmware)
    assert h.engine.firmware.signed_status == "SignatureVerified"
    assert h.statuses(2)[-1] == "Unavailable"  # the connector not in use (L01.FR.07)
    assert h.statuses(1)[-1] == "Charging"
    h.feed(IdTagPresented("TAG", 1))  # the driver stops
    assert h.sent("StopTransaction")
    assert last(h, InstallFirmware).job == job
    assert signed_statuses(h)[-1] == "Installing"


def test_L01_FR_26_a_new_request_cancels_the_update_AcceptedCanceled() -> None:
    h = Harness(settings())
    signed_update(h, request_id=1, delay_s=3600)
    mark = h.mark()
    assert signed_update(h, request_id=2) == "AcceptedCanceled"
    download = last(h, DownloadFirmware)
    assert [p["requestId"] for a, p in h.calls[mark:] if a == "SignedFirmwareStatusNotification"] == [2]
    h.advance(3600)
    assert h.effects_of(DownloadFirmware) == [download]  # the first one's timer is gone


def test_L01_FR_27_rejected_while_installing() -> None:
    h = Harness(settings())
    signed_update(h, request_id=1)
    job = last(h, DownloadFirmware).job
    h.feed(FirmwareDownloaded(job, ok=True))
    h.feed(FirmwareVerified(job, ok=True))
    assert signed_update(h, request_id=2) == "Rejected"
    assert h.engine.firmware.signed is not None and h.engine.firmware.signed["requestId"] == 1


def test_L01_FR_26_cancels_a_plain_update_too() -> None:
    h = Harness(settings())
    h.csms_result("UpdateFirmware", {"location": URL, "retrieveDate": format_datetime(h.now + 60)})
    assert signed_update(h) == "AcceptedCanceled"
    assert h.engine.firmware.update is None


def test_a_plain_update_does_not_displace_a_signed_one() -> None:
    h = Harness(settings())
    signed_update(h, delay_s=60)
    h.csms_result("UpdateFirmware", {"location": URL, "retrieveDate": format_datetime(h.now)})
    assert h.engine.firmware.update is None
    assert h.engine.firmware.signed is not None


def test_L01_FR_20_plain_update_firmware_is_not_supported_when_signed_firmware_only() -> None:
    h = Harness(settings(signed_firmware_only=True))
    answer = h.csms_call("UpdateFirmware", {"location": URL, "retrieveDate": format_datetime(h.now)})
    assert answer[0] == 4 and answer[2] == "NotSupported"
    assert not h.effects_of(DownloadFirmware)


@pytest.mark.parametrize("state", ["DownloadScheduled", "Downloading", "Downloaded", "Installing"])
def test_L01_survives_a_restart(state: str) -> None:
    h = Harness(settings())
    mark = h.mark()
    signed_update(h, delay_s=60 if state == "DownloadScheduled" else 0)
    if state != "DownloadScheduled":
        job = last(h, DownloadFirmware).job
        if state in ("Downloaded", "Installing"):
            h.feed(FirmwareDownloaded(job, ok=True))
        if state == "Installing":
            h.feed(FirmwareVerified(job, ok=True))
    assert signed_statuses(h, mark)[-1] == state
    after = h.reboot(restore=True)
    if state == "DownloadScheduled":
        assert not after.effects_of(DownloadFirmware)
        after.advance(60)
    else:
        after.advance(0.001)  # it starts at the first timer
    # starts over with a fresh download (the image is checked again before it is installed)
    download = last(after, DownloadFirmware)
    assert signed_statuses(after) == ["Downloading"]
    after.feed(FirmwareDownloaded(download.job, ok=True))
    assert last(after, VerifyFirmware).signature == SIGNATURE
    assert {p["requestId"] for p in after.sent("SignedFirmwareStatusNotification")} == {7}


def test_L01_FR_28_FR_29_extended_trigger_reports_the_last_signed_status() -> None:
    h = Harness(settings())

    def triggered() -> dict[str, Any]:
        mark = h.mark()
        result = h.csms_result("ExtendedTriggerMessage", {"requestedMessage": "FirmwareStatusNotification"})
        assert result == {"status": "Accepted"}
        sent = [p for a, p in h.calls[mark:] if a == "SignedFirmwareStatusNotification"]
        assert len(sent) == 1 and "FirmwareStatusNotification" not in h.actions(mark)
        return sent[0]

    assert triggered() == {"status": "Idle"}  # none yet: Idle without requestId (L01.FR.21)
    signed_update(h, delay_s=60)
    assert triggered() == {"status": "DownloadScheduled", "requestId": 7}
    h.advance(60)
    job = last(h, DownloadFirmware).job
    h.feed(FirmwareDownloaded(job, ok=True))
    h.feed(FirmwareVerified(job, ok=False, reason="bad"))
    assert triggered() == {"status": "InvalidSignature", "requestId": 7}  # L01.FR.29, kept after the end
    after = h.reboot(restore=True)
    h = after
    assert triggered() == {"status": "InvalidSignature", "requestId": 7}  # survives a restart
    signed_update(h, request_id=8)
    job = last(h, DownloadFirmware).job
    h.feed(FirmwareDownloaded(job, ok=True))
    h.feed(FirmwareVerified(job, ok=True))
    h.feed(FirmwareInstalled(job, ok=True, version="3.0"))
    h = h.reboot(restore=True)
    assert signed_statuses(h) == ["Installed"]
    assert triggered() == {"status": "Idle"}  # L01.FR.28


def test_every_signed_step_is_in_the_table() -> None:
    for state, targets in SIGNED_FIRMWARE_STEPS.items():
        assert state not in targets
