"""Firmware Management end to end: a real station, the development CSMS, real HTTP / HTTPS / FTP
servers on 127.0.0.1 (OCPP 1.6 §5.19 UpdateFirmware, §5.9 GetDiagnostics; OCTT TC_044_x, TC_045_x)."""

from __future__ import annotations

import dataclasses
import io
import json
import random
import ssl
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import trustme
from aiohttp import web

from ocpp_station.core.clock import format_datetime
from ocpp_station.hardware.firmware import make_image
from ocpp_station.sim.csms import CentralSystem, LogEntry
from tests.stations import StationFactory, station_config
from tests.transport.servers import FTP_PASSWORD_URL, ftp_server, serve_app


def called(action: str) -> Callable[[LogEntry], bool]:
    return lambda e: e.direction == "in" and e.kind == "CALL" and e.action == action


def statuses(csms: CentralSystem, action: str, since: int = 0) -> list[str]:
    return [e.payload["status"] for e in csms.log[since:] if called(action)(e)]


async def wait_status(csms: CentralSystem, action: str, status: str, since: int, timeout: float = 15) -> None:
    await csms.wait_for(
        lambda e: called(action)(e) and e.payload["status"] == status, since=since, timeout=timeout
    )


def now_text() -> str:
    return format_datetime(time.time())


class Files:
    """An aiohttp app serving firmware images and taking uploads (multipart POST)."""

    def __init__(self) -> None:
        self.images: dict[str, bytes] = {}
        self.uploads: list[tuple[str, bytes]] = []
        self.upload_failures = 0
        self.upload_attempts = 0
        self.app = web.Application()
        self.app.router.add_get("/fw/{name}", self._image)
        self.app.router.add_post("/diagnostics", self._upload)

    async def _image(self, request: web.Request) -> web.Response:
        body = self.images.get(request.match_info["name"])
        if body is None:
            return web.Response(status=404)
        return web.Response(body=body, content_type="application/octet-stream")

    async def _upload(self, request: web.Request) -> web.Response:
        self.upload_attempts += 1
        if self.upload_failures > 0:
            self.upload_failures -= 1
            return web.Response(status=503, text="busy")
        part = (await request.post())["file"]
        assert isinstance(part, web.FileField)
        self.uploads.append((part.filename, part.file.read()))
        return web.Response(text="ok")


async def test_tc_044_1_update_firmware_over_http(csms: CentralSystem, start_station: StationFactory) -> None:
    files = Files()
    files.images["v2.img"] = make_image("2.0.0", b"new firmware" * 1000)
    async with serve_app(files.app) as base:
        config = station_config(csms.url, identity={"firmwareVersion": "1.0.0"})
        station = await start_station(config)
        boots = [e for e in csms.log if called("BootNotification")(e)]
        assert boots[-1].payload["firmwareVersion"] == "1.0.0"
        since = len(csms.log)
        await csms.call(
            "CP_1", "UpdateFirmware", {"location": f"{base}/fw/v2.img", "retrieveDate": now_text()}
        )
        await wait_status(csms, "FirmwareStatusNotification", "Installed", since, timeout=20)
        assert statuses(csms, "FirmwareStatusNotification", since) == [
            "Downloading",
            "Downloaded",
            "Installing",
            "Installed",
        ]
        boot = next(e for e in csms.log[since:] if called("BootNotification")(e))
        assert boot.payload["firmwareVersion"] == "2.0.0"
        assert station.reboots == 1
        await station.wait_for(
            lambda s: s["registration"] == "Accepted" and s["connectors"][1]["status"] == "Available"
        )
        assert station.state()["firmware"] == {"version": "2.0.0", "update": "Idle", "diagnostics": "Idle"}


async def test_tc_044_2_download_failed_over_ftp(
    csms: CentralSystem, start_station: StationFactory, tmp_path: Path
) -> None:
    with ftp_server(tmp_path) as port:
        station = await start_station(station_config(csms.url))
        since = len(csms.log)
        location = f"ftp://user:{FTP_PASSWORD_URL}@127.0.0.1:{port}/download_fail.fwi"
        await csms.call(
            "CP_1", "UpdateFirmware", {"location": location, "retrieveDate": now_text(), "retries": 0}
        )
        await wait_status(csms, "FirmwareStatusNotification", "DownloadFailed", since)
        assert statuses(csms, "FirmwareStatusNotification", since) == ["Downloading", "DownloadFailed"]
        assert station.reboots == 0
        assert station.state()["connectors"][1]["status"] == "Available"


async def test_tc_044_3_installation_failed_over_https(
    csms: CentralSystem, start_station: StationFactory, tmp_path: Path
) -> None:
    ca = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    server_ssl = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_ssl)
    files = Files()
    broken = bytearray(make_image("9.9", b"payload"))
    broken[-10] ^= 0xFF  # the checksum no longer matches
    files.images["broken.img"] = bytes(broken)
    async with serve_app(files.app, server_ssl) as base:
        config = dataclasses.replace(station_config(csms.url), ca_bundle=ca_file)
        station = await start_station(config)
        since = len(csms.log)
        await csms.call(
            "CP_1", "UpdateFirmware", {"location": f"{base}/fw/broken.img", "retrieveDate": now_text()}
        )
        await wait_status(csms, "FirmwareStatusNotification", "InstallationFailed", since)
        assert statuses(csms, "FirmwareStatusNotification", since) == [
            "Downloading",
            "Downloaded",
            "Installing",
            "InstallationFailed",
        ]
        assert station.reboots == 0
        await station.wait_for(lambda s: s["connectors"][1]["status"] == "Available")


async def test_simulator_installs_a_foreign_firmware_file_named_with_its_version(
    csms: CentralSystem, start_station: StationFactory
) -> None:
    """A CSMS tester's own file (not made by ``firmware-image``): installed, the version from its name."""
    files = Files()
    files.images["vendor-fw-3.1.0.bin"] = random.Random(8).randbytes(50_000)
    async with serve_app(files.app) as base:
        station = await start_station(station_config(csms.url, identity={"firmwareVersion": "1.0.0"}))
        since = len(csms.log)
        location = f"{base}/fw/vendor-fw-3.1.0.bin"
        await csms.call("CP_1", "UpdateFirmware", {"location": location, "retrieveDate": now_text()})
        await wait_status(csms, "FirmwareStatusNotification", "Installed", since, timeout=20)
        assert statuses(csms, "FirmwareStatusNotification", since) == [
            "Downloading",
            "Downloaded",
            "Installing",
            "Installed",
        ]
        boot = next(e for e in csms.log[since:] if called("BootNotification")(e))
        assert boot.payload["firmwareVersion"] == "3.1.0"
        assert station.reboots == 1
        assert not list((station.transfers.work_dir / "firmware").iterdir())  # nothing left behind


async def test_our_image_with_a_bad_checksum_fails_to_install(
    csms: CentralSystem, start_station: StationFactory
) -> None:
    files = Files()
    image = bytearray(make_image("5.0.0", b"new firmware" * 100))
    image[40] ^= 0x01  # a payload byte: the SHA-256 trailer no longer matches
    files.images["fw-5.0.0.img"] = bytes(image)
    async with serve_app(files.app) as base:
        station = await start_station(station_config(csms.url, identity={"firmwareVersion": "1.0.0"}))
        since = len(csms.log)
        location = f"{base}/fw/fw-5.0.0.img"
        await csms.call("CP_1", "UpdateFirmware", {"location": location, "retrieveDate": now_text()})
        await wait_status(csms, "FirmwareStatusNotification", "InstallationFailed", since)
        assert statuses(csms, "FirmwareStatusNotification", since)[-2:] == [
            "Installing",
            "InstallationFailed",
        ]
        assert station.reboots == 0
        assert station.state()["firmware"]["version"] == "1.0.0"
        assert any("checksum mismatch" in text for _, text in station.log.lines)


async def test_strict_firmware_rejects_a_foreign_file(
    csms: CentralSystem, start_station: StationFactory
) -> None:
    files = Files()
    files.images["vendor-fw-3.1.0.bin"] = random.Random(8).randbytes(50_000)
    async with serve_app(files.app) as base:
        station = await start_station(station_config(csms.url, ev={"strictFirmware": True}))
        since = len(csms.log)
        location = f"{base}/fw/vendor-fw-3.1.0.bin"
        await csms.call("CP_1", "UpdateFirmware", {"location": location, "retrieveDate": now_text()})
        await wait_status(csms, "FirmwareStatusNotification", "InstallationFailed", since)
        assert statuses(csms, "FirmwareStatusNotification", since)[-2:] == [
            "Installing",
            "InstallationFailed",
        ]
        assert station.reboots == 0
        assert any("bad header" in text for _, text in station.log.lines)


async def test_tc_045_1_get_diagnostics_over_ftp(
    csms: CentralSystem, start_station: StationFactory, tmp_path: Path
) -> None:
    (tmp_path / "logs").mkdir()
    with ftp_server(tmp_path) as port:
        station = await start_station(station_config(csms.url))
        since = len(csms.log)
        location = f"ftp://user:{FTP_PASSWORD_URL}@127.0.0.1:{port}/logs"
        result = await csms.call("CP_1", "GetDiagnostics", {"location": location})
        name = result["fileName"]
        assert name.startswith("CP_1-diagnostics-") and name.endswith(".zip")
        await wait_status(csms, "DiagnosticsStatusNotification", "Uploaded", since)
        assert statuses(csms, "DiagnosticsStatusNotification", since) == ["Uploading", "Uploaded"]
        archive = zipfile.ZipFile(io.BytesIO((tmp_path / "logs" / name).read_bytes()))
        log = archive.read("log.txt").decode()
        assert '"BootNotification"' in log  # the frames of this station
        config = json.loads(archive.read("config.json"))
        assert config["SupportedFeatureProfiles"].startswith("Core,FirmwareManagement")
        queue = json.loads(archive.read("queue.json"))
        assert queue["registration"] == "Accepted"
        assert station.state()["queue"] >= 0


async def test_tc_045_2_upload_failed_after_retries_over_http(
    csms: CentralSystem, start_station: StationFactory
) -> None:
    files = Files()
    files.upload_failures = 10
    async with serve_app(files.app) as base:
        await start_station(station_config(csms.url))
        since = len(csms.log)
        result = await csms.call(
            "CP_1",
            "GetDiagnostics",
            {"location": f"{base}/diagnostics", "retries": 1, "retryInterval": 0},
        )
        assert "fileName" in result
        await wait_status(csms, "DiagnosticsStatusNotification", "UploadFailed", since)
        assert statuses(csms, "DiagnosticsStatusNotification", since) == ["Uploading", "UploadFailed"]
        assert files.upload_attempts == 2
        # The next request goes through: the station carries on normally.
        since = len(csms.log)
        files.upload_failures = 0
        result = await csms.call("CP_1", "GetDiagnostics", {"location": f"{base}/diagnostics"})
        await wait_status(csms, "DiagnosticsStatusNotification", "Uploaded", since)
        assert [name for name, _ in files.uploads] == [result["fileName"]]


async def test_triggered_firmware_status_is_idle_when_nothing_runs(
    csms: CentralSystem, start_station: StationFactory
) -> None:
    await start_station(station_config(csms.url))
    since = len(csms.log)
    result = await csms.call("CP_1", "TriggerMessage", {"requestedMessage": "FirmwareStatusNotification"})
    assert result == {"status": "Accepted"}
    await wait_status(csms, "FirmwareStatusNotification", "Idle", since)


async def test_the_development_csms_hosts_firmware_and_takes_diagnostics(
    csms: CentralSystem, start_station: StationFactory
) -> None:
    """Nothing but the development CSMS: its /files depot serves images and keeps uploads."""
    base = csms.url.split("/ocpp")[0].replace("ws://", "http://")
    station = await start_station(station_config(csms.url))
    since = len(csms.log)
    location = f"{base}/files/firmware/3.1.4.img"
    await csms.call("CP_1", "UpdateFirmware", {"location": location, "retrieveDate": now_text()})
    await wait_status(csms, "FirmwareStatusNotification", "Installed", since, timeout=20)
    boot = next(e for e in csms.log[since:] if called("BootNotification")(e))
    assert boot.payload["firmwareVersion"] == "3.1.4"
    assert station.reboots == 1

    since = len(csms.log)
    await csms.call(
        "CP_1",
        "UpdateFirmware",
        {"location": f"{base}/files/firmware/broken.img", "retrieveDate": now_text()},
    )
    await wait_status(csms, "FirmwareStatusNotification", "InstallationFailed", since)

    since = len(csms.log)
    result = await csms.call("CP_1", "GetDiagnostics", {"location": f"{base}/files/diagnostics"})
    await wait_status(csms, "DiagnosticsStatusNotification", "Uploaded", since)
    archive = zipfile.ZipFile(io.BytesIO(csms.files.diagnostics[result["fileName"]]))
    assert "log.txt" in archive.namelist()
