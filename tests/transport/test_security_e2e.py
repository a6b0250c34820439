"""Security profile 1 over real websockets (OCPP 1.6 security whitepaper edition 3: A00.FR.202-205,
A01, A05): the development CSMS checks HTTP Basic credentials, the AuthorizationKey comes from the
config file and from the CSMS, and it never shows in a log, the frame trace, GetConfiguration or /state."""

from __future__ import annotations

import asyncio
import base64

import aiohttp
import orjson

from ocpp_station.sim.csms import CentralSystem
from tests.stations import StationFactory, station_config

KEY = "0123456789abcdef0123456789abcdef"
NEW_KEY = "A1B2C3D4E5F60718293A4B5C6D7E8F90"


async def test_A01_the_station_connects_with_its_key_and_again_with_the_one_the_csms_sets(
    start_station: StationFactory,
) -> None:
    csms = CentralSystem(port=0, passwords={"CP_1": KEY})
    await csms.start()
    try:
        trace: list[bytes | str] = []
        config = station_config(csms.url, ocpp={"AuthorizationKey": KEY, "SecurityProfile": 1})
        station = await start_station(config, frame_logger=lambda cp, out, data: trace.append(data))
        # A01.FR.03: once the station accepts the new key, the CSMS takes no other.
        csms.passwords = {"CP_1": NEW_KEY}
        answer = await csms.call("CP_1", "ChangeConfiguration", {"key": "AuthorizationKey", "value": NEW_KEY})
        assert answer == {"status": "Accepted"}
        info = csms.stations["CP_1"]
        for _ in range(200):
            if info.connections == 2 and info.connected:
                break
            await asyncio.sleep(0.05)
        assert (info.connections, info.refused) == (2, 0)  # the first key, then the new one at once
        # Write-only and never shown (§7.2, A01.FR.12).
        got = await csms.call("CP_1", "GetConfiguration", {"key": ["AuthorizationKey"]})
        assert got["unknownKey"] == ["AuthorizationKey"]
        for secret in (KEY, NEW_KEY):
            assert all(secret not in (t if isinstance(t, str) else t.decode()) for t in trace)
            assert all(secret not in text for _, text in station.log.lines)
            assert secret not in orjson.dumps(station.state()).decode()
        hidden = [t for t in trace if "ChangeConfiguration" in (t if isinstance(t, str) else t.decode())]
        assert hidden and all("***" in (t if isinstance(t, str) else t.decode()) for t in hidden)
    finally:
        await csms.stop()


async def test_the_development_csms_refuses_wrong_credentials() -> None:
    csms = CentralSystem(port=0, passwords={"CP_1": KEY})
    await csms.start()
    try:
        async with aiohttp.ClientSession() as http:
            for password in (None, "wrong-password-0000", KEY):
                headers = {}
                if password is not None:
                    token = base64.b64encode(f"CP_1:{password}".encode()).decode()
                    headers["Authorization"] = f"Basic {token}"
                try:
                    async with http.ws_connect(csms.url + "CP_1", protocols=("ocpp1.6",), headers=headers):
                        status = 101
                except aiohttp.WSServerHandshakeError as exc:
                    status = exc.status
                assert status == (101 if password == KEY else 401), password
                await asyncio.sleep(0)
    finally:
        await csms.stop()
