"""The secure firmware update end to end (security whitepaper ed. 3, L01; OCTT TC_080_CS, TC_081_CS): a
real station, the development CSMS over websockets, real HTTP and FTP servers on 127.0.0.1, a
manufacturer PKI made in the test, images signed with :func:`ocpp_station.sim.firmware_signing.sign_firmware`
and checked by the station with ``cryptography``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from ocpp_station.core.clock import format_datetime
from ocpp_station.hardware.firmware import make_image
from ocpp_station.sim.csms import CentralSystem
from ocpp_station.sim.firmware_signing import (
    ManufacturerPki,
    load_signing_key,
    make_manufacturer_pki,
    sign_firmware,
)
from tests.stations import StationFactory, station_config
from tests.transport.servers import FTP_PASSWORD_URL, ftp_server, serve_app
from tests.transport.test_firmware_e2e import Files, called, statuses, wait_status

SIGNED = "SignedFirmwareStatusNotification"


@pytest.fixture(scope="module", params=["ec", "rsa"])
def pki(request: pytest.FixtureRequest) -> ManufacturerPki:
    return make_manufacturer_pki("ACME chargers", key_type=request.param)


def config_with_root(csms: CentralSystem, pki: ManufacturerPki, tmp_path: Path) -> Any:
    root = tmp_path / "manufacturer-root.pem"
    root.write_text(pki.root, encoding="ascii")
    return station_config(
        csms.url,
        identity={"firmwareVersion": "1.0.0"},
        security={"manufacturerRootCertificates": [str(root)]},
    )


def request(location: str, pki: ManufacturerPki, signature: str, request_id: int = 42) -> dict[str, object]:
    return {
        "requestId": request_id,
        "retries": 0,
        "firmware": {
            "location": location,
            "retrieveDateTime": format_datetime(time.time() - 5),  # due: no DownloadScheduled
            "signingCertificate": pki.signing_certificate,
            "signature": signature,
        },
    }


async def test_TC_080_CS_secure_firmware_update(
    csms: CentralSystem, start_station: StationFactory, pki: ManufacturerPki, tmp_path: Path
) -> None:
    image = make_image("3.0.0", b"signed firmware" * 1000)
    signature = sign_firmware(image, load_signing_key(pki.signing_key.encode()))
    files = Files()
    files.images["v3.img"] = image
    async with serve_app(files.app) as base:
        station = await start_station(config_with_root(csms, pki, tmp_path))
        since = len(csms.log)
        answer = await csms.call("CP_1", "SignedUpdateFirmware", request(f"{base}/fw/v3.img", pki, signature))
        assert answer == {"status": "Accepted"}
        await wait_status(csms, SIGNED, "Installed", since, timeout=20)
        assert statuses(csms, SIGNED, since) == [
            "Downloading",
            "Downloaded",
            "SignatureVerified",
            "Installing",
            "InstallRebooting",
            "Installed",
        ]
        assert {e.payload["requestId"] for e in csms.log[since:] if called(SIGNED)(e)} == {42}
        boot = next(e for e in csms.log[since:] if called("BootNotification")(e))
        assert boot.payload["firmwareVersion"] == "3.0.0"
        assert station.reboots == 1
        await csms.wait_for(
            lambda e: called("SecurityEventNotification")(e) and e.payload["type"] == "FirmwareUpdated",
            since=since,
        )
        await station.wait_for(
            lambda s: s["registration"] == "Accepted" and s["connectors"][1]["status"] == "Available"
        )
        # L01.FR.28: after Installed, a triggered status is Idle
        mark = len(csms.log)
        triggered = await csms.call(
            "CP_1", "ExtendedTriggerMessage", {"requestedMessage": "FirmwareStatusNotification"}
        )
        assert triggered == {"status": "Accepted"}
        await csms.wait_for(called(SIGNED), since=mark)
        assert [e.payload for e in csms.log[mark:] if called(SIGNED)(e)] == [{"status": "Idle"}]


async def test_TC_081_CS_secure_firmware_update_invalid_signature_over_ftp(
    csms: CentralSystem, start_station: StationFactory, pki: ManufacturerPki, tmp_path: Path
) -> None:
    image = make_image("3.0.1", b"signed firmware")
    (tmp_path / "fw").mkdir()
    (tmp_path / "fw" / "v3.img").write_bytes(image)
    # signed over another image: a valid signature, not this file's
    signature = sign_firmware(image + b"tampered", load_signing_key(pki.signing_key.encode()))
    with ftp_server(tmp_path / "fw") as port:
        station = await start_station(config_with_root(csms, pki, tmp_path))
        since = len(csms.log)
        location = f"ftp://user:{FTP_PASSWORD_URL}@127.0.0.1:{port}/v3.img"
        answer = await csms.call("CP_1", "SignedUpdateFirmware", request(location, pki, signature))
        assert answer == {"status": "Accepted"}
        await wait_status(csms, SIGNED, "InvalidSignature", since)
        assert statuses(csms, SIGNED, since) == ["Downloading", "Downloaded", "InvalidSignature"]
        await csms.wait_for(
            lambda e: (
                called("SecurityEventNotification")(e) and e.payload["type"] == "InvalidFirmwareSignature"
            ),
            since=since,
        )
        assert station.reboots == 0
        assert station.state()["connectors"][1]["status"] == "Available"


async def test_L01_FR_24_invalid_signing_certificate_over_websockets(
    csms: CentralSystem, start_station: StationFactory, pki: ManufacturerPki, tmp_path: Path
) -> None:
    other = make_manufacturer_pki("Not the manufacturer")
    await start_station(config_with_root(csms, pki, tmp_path))
    since = len(csms.log)
    answer = await csms.call(
        "CP_1", "SignedUpdateFirmware", request("http://127.0.0.1:1/fw.img", other, "AAAA")
    )
    assert answer == {"status": "InvalidCertificate"}
    await csms.wait_for(
        lambda e: (
            called("SecurityEventNotification")(e)
            and e.payload["type"] == "InvalidFirmwareSigningCertificate"
        ),
        since=since,
    )
    assert statuses(csms, SIGNED, since) == []
