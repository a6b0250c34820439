"""GetLog end to end (OCPP 1.6 security whitepaper ed. 3, N01): a real station, the development CSMS,
real FTP / HTTP / HTTPS servers on 127.0.0.1. The SecurityLog and the DiagnosticsLog arrive, with
the requestId in every LogStatusNotification, and neither holds the AuthorizationKey (A01.FR.12)."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import ssl
import zipfile
from pathlib import Path

import trustme
from aiohttp import web

from ocpp_station.sim.csms import CentralSystem, LogEntry
from tests.stations import StationFactory, station_config
from tests.transport.servers import FTP_PASSWORD_URL, ftp_server, serve_app

KEY = "0123456789abcdef0123456789abcdef"
NEW_KEY = "A1B2C3D4E5F60718293A4B5C6D7E8F90"


def log_statuses(csms: CentralSystem, since: int = 0) -> list[tuple[str, int | None]]:
    return [
        (e.payload["status"], e.payload.get("requestId"))
        for e in csms.log[since:]
        if e.direction == "in" and e.kind == "CALL" and e.action == "LogStatusNotification"
    ]


async def wait_log_status(csms: CentralSystem, status: str, since: int, timeout: float = 15) -> None:
    def seen(e: LogEntry) -> bool:
        return e.direction == "in" and e.action == "LogStatusNotification" and e.payload["status"] == status

    await csms.wait_for(seen, since=since, timeout=timeout)


class Uploads:
    """An aiohttp app taking uploads (multipart POST) at /logs, refusing them at /forbidden."""

    def __init__(self) -> None:
        self.files: list[tuple[str, bytes]] = []
        self.refused = 0
        self.app = web.Application()
        self.app.router.add_post("/logs", self._upload)
        self.app.router.add_post("/forbidden", self._refuse)

    async def _upload(self, request: web.Request) -> web.Response:
        part = (await request.post())["file"]
        assert isinstance(part, web.FileField)
        self.files.append((part.filename, part.file.read()))
        return web.Response(text="ok")

    async def _refuse(self, request: web.Request) -> web.Response:
        self.refused += 1
        return web.Response(status=403, text="no")


async def _change_key(csms: CentralSystem) -> None:
    """The CSMS sets a new AuthorizationKey (a ReconfigurationOfSecurityParameters entry in the log)
    and the station reconnects with it."""
    csms.passwords = {"CP_1": NEW_KEY}
    answer = await csms.call("CP_1", "ChangeConfiguration", {"key": "AuthorizationKey", "value": NEW_KEY})
    assert answer == {"status": "Accepted"}
    info = csms.stations["CP_1"]
    for _ in range(200):
        if info.connections == 2 and info.connected:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the station did not reconnect with the new key")


async def test_N01_FR_03_security_log_over_ftp_without_the_authorization_key(
    start_station: StationFactory, tmp_path: Path
) -> None:
    csms = CentralSystem(port=0, passwords={"CP_1": KEY})
    await csms.start()
    (tmp_path / "logs").mkdir()
    try:
        with ftp_server(tmp_path) as port:
            config = station_config(csms.url, ocpp={"AuthorizationKey": KEY, "SecurityProfile": 1})
            await start_station(config)
            await _change_key(csms)
            since = len(csms.log)
            location = f"ftp://user:{FTP_PASSWORD_URL}@127.0.0.1:{port}/logs"
            result = await csms.call(
                "CP_1",
                "GetLog",
                {"logType": "SecurityLog", "requestId": 11, "log": {"remoteLocation": location}},
            )
            assert result["status"] == "Accepted"
            name = result["filename"]
            assert name.startswith("CP_1-securitylog-") and name.endswith(".txt")
            await wait_log_status(csms, "Uploaded", since)
            assert log_statuses(csms, since) == [("Uploading", 11), ("Uploaded", 11)]  # N01.FR.07-09
            text = (tmp_path / "logs" / name).read_text()
            lines = text.splitlines()
            assert lines[0].split(" ")[1] == "StartupOfTheDevice"
            assert any(
                " ReconfigurationOfSecurityParameters AuthorizationKey changed" in line for line in lines
            )
            assert all(line[:4].isdigit() and line[19] in ".Z" for line in lines)  # <ISO time> <type> ...
            assert KEY not in text and NEW_KEY not in text
    finally:
        await csms.stop()


async def test_N01_FR_04_diagnostics_log_over_https_is_the_diagnostics_archive_without_the_key(
    start_station: StationFactory, tmp_path: Path
) -> None:
    ca = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    server_ssl = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_ssl)
    csms = CentralSystem(port=0, passwords={"CP_1": KEY})
    await csms.start()
    uploads = Uploads()
    try:
        async with serve_app(uploads.app, server_ssl) as base:
            config = station_config(csms.url, ocpp={"AuthorizationKey": KEY, "SecurityProfile": 1})
            await start_station(dataclasses.replace(config, ca_bundle=ca_file))
            await _change_key(csms)
            since = len(csms.log)
            result = await csms.call(
                "CP_1",
                "GetLog",
                {"logType": "DiagnosticsLog", "requestId": 5, "log": {"remoteLocation": f"{base}/logs"}},
            )
            assert result["status"] == "Accepted" and result["filename"].endswith(".zip")
            await wait_log_status(csms, "Uploaded", since)
            assert log_statuses(csms, since) == [("Uploading", 5), ("Uploaded", 5)]
            ((name, body),) = uploads.files
            assert name == result["filename"]
            archive = zipfile.ZipFile(io.BytesIO(body))
            assert set(archive.namelist()) == {"info.json", "log.txt", "config.json", "queue.json"}
            log = archive.read("log.txt").decode()
            assert '"ChangeConfiguration"' in log and '"GetLog"' in log
            for entry in archive.namelist():
                content = archive.read(entry).decode()
                assert KEY not in content and NEW_KEY not in content, entry
    finally:
        await csms.stop()


async def test_N01_FR_10_forbidden_upload_is_permission_denied_and_trigger_reports_idle(
    csms: CentralSystem, start_station: StationFactory
) -> None:
    uploads = Uploads()
    async with serve_app(uploads.app) as base:
        await start_station(station_config(csms.url))
        since = len(csms.log)
        result = await csms.call(
            "CP_1",
            "GetLog",
            {
                "logType": "SecurityLog",
                "requestId": 3,
                "retries": 1,
                "retryInterval": 0,
                "log": {"remoteLocation": f"{base}/forbidden"},
            },
        )
        assert result["status"] == "Accepted"
        await wait_log_status(csms, "PermissionDenied", since)
        assert log_statuses(csms, since) == [("Uploading", 3), ("PermissionDenied", 3)]
        since = len(csms.log)
        answer = await csms.call(
            "CP_1", "ExtendedTriggerMessage", {"requestedMessage": "LogStatusNotification"}
        )
        assert answer == {"status": "Accepted"}
        await wait_log_status(csms, "Idle", since)
        assert log_statuses(csms, since) == [("Idle", None)]  # N01.FR.12
        assert (uploads.files, uploads.refused) == ([], 2)  # 1 + retries attempts
