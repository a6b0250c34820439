"""The development CSMS's file depot over real HTTP (src/ocpp_station/sim/files.py)."""

from __future__ import annotations

import aiohttp

from ocpp_station.hardware.firmware import InstallError, parse_image
from ocpp_station.sim.csms import CentralSystem
from ocpp_station.sim.files import KEEP


def http_base(csms: CentralSystem) -> str:
    return f"http://127.0.0.1:{csms.port}"


async def test_firmware_images_by_version(csms: CentralSystem) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{http_base(csms)}/files/firmware/1.2.3-rc1.img") as response:
            assert response.status == 200
            version, _ = parse_image(await response.read())
            assert version == "1.2.3-rc1"
        async with session.get(f"{http_base(csms)}/files/firmware/broken.img") as response:
            body = await response.read()
        try:
            parse_image(body)
        except InstallError as exc:
            assert "checksum" in exc.reason
        else:
            raise AssertionError("broken.img parsed")


async def test_diagnostics_uploads_are_kept_and_listed(csms: CentralSystem) -> None:
    base = http_base(csms)
    async with aiohttp.ClientSession() as session:
        form = aiohttp.FormData()
        form.add_field("file", b"zip-bytes", filename="CP_1-diagnostics.zip")
        async with session.post(f"{base}/files/diagnostics", data=form) as response:
            assert response.status == 200
        async with session.put(f"{base}/files/diagnostics/other.zip", data=b"raw") as response:
            assert response.status == 201
        async with session.post(f"{base}/files/diagnostics", data=b"not multipart") as response:
            assert response.status == 400
        async with session.get(f"{base}/api/files/diagnostics") as response:
            assert await response.json() == [
                {"fileName": "CP_1-diagnostics.zip", "bytes": 9},
                {"fileName": "other.zip", "bytes": 3},
            ]
        async with session.get(f"{base}/files/diagnostics/other.zip") as response:
            assert await response.read() == b"raw"
        async with session.get(f"{base}/files/diagnostics/missing.zip") as response:
            assert response.status == 404
        for n in range(KEEP + 1):
            async with session.put(f"{base}/files/diagnostics/n{n}.zip", data=b"x") as response:
                assert response.status == 201
    assert len(csms.files.diagnostics) == KEEP
    assert "CP_1-diagnostics.zip" not in csms.files.diagnostics
