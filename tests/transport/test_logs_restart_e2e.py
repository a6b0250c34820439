"""GetLog across a restart (OCPP 1.6 security whitepaper ed. 3, N01; ``core/features/logs.py``): an upload
in progress when the station stops is made again after the start, with a real SQLite data dir, the
development CSMS and a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import asyncio
from pathlib import Path

from aiohttp import web

from ocpp_station.sim.csms import CentralSystem
from ocpp_station.transport.station import Station
from tests.stations import StationFactory, station_config
from tests.transport.servers import serve_app
from tests.transport.test_logs_e2e import log_statuses, wait_log_status


class SlowThenOk:
    """Takes uploads at /logs; the first one hangs until the test lets it go (the station restarts)."""

    def __init__(self) -> None:
        self.files: list[tuple[str, bytes]] = []
        self.hung = asyncio.Event()
        self.release = asyncio.Event()
        self.app = web.Application()
        self.app.router.add_post("/logs", self._upload)

    async def _upload(self, request: web.Request) -> web.Response:
        if not self.hung.is_set():
            self.hung.set()
            await self.release.wait()
            return web.Response(status=500, text="too late")
        part = (await request.post())["file"]
        assert isinstance(part, web.FileField)
        self.files.append((part.filename, part.file.read()))
        return web.Response(text="ok")


async def test_N01_an_upload_interrupted_by_a_restart_is_made_again(
    tmp_path: Path, csms: CentralSystem, start_station: StationFactory
) -> None:
    uploads = SlowThenOk()
    config = station_config(csms.url, dataDir=str(tmp_path / "data"))
    async with serve_app(uploads.app) as base:
        first = Station(config)
        task = asyncio.create_task(first.run())
        try:
            await first.wait_for(lambda s: s["registration"] == "Accepted", timeout=10)
            since = len(csms.log)
            result = await csms.call(
                "CP_1",
                "GetLog",
                {"logType": "SecurityLog", "requestId": 42, "log": {"remoteLocation": f"{base}/logs"}},
            )
            assert result["status"] == "Accepted"
            await asyncio.wait_for(uploads.hung.wait(), 10)
            assert log_statuses(csms, since) == [("Uploading", 42)]
        finally:
            await first.stop()
            await asyncio.wait_for(task, 5)
            first.close()
        uploads.release.set()
        # The restart: the upload is made again, under the same requestId (N01.FR.07-09).
        since = len(csms.log)
        await start_station(config)
        await wait_log_status(csms, "Uploaded", since)
        assert log_statuses(csms, since) == [("Uploading", 42), ("Uploaded", 42)]
        ((name, body),) = uploads.files
        assert name == result["filename"]
        assert b"StartupOfTheDevice" in body
