"""The secure firmware update (security whitepaper ed. 3, L01) against an independent CSMS: npm
``ocpp-rpc`` in strict mode checks SignedUpdateFirmware.req / .conf and every
SignedFirmwareStatusNotification.req the station sends against its OCPP 1.6 security schemas."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ocpp_station.core.clock import format_datetime
from ocpp_station.hardware.firmware import make_image
from ocpp_station.sim.firmware_signing import load_signing_key, make_manufacturer_pki, sign_firmware
from tests.peers.rpc_csms import PEER_MISSING, RpcCsms, is_call, running_rpc_csms
from tests.stations import StationFactory, station_config
from tests.transport.servers import serve_app
from tests.transport.test_firmware_e2e import Files

pytestmark = pytest.mark.skipif(PEER_MISSING is not None, reason=PEER_MISSING or "")

CP = "RPC_L01_CP"


@pytest.fixture
async def rpc_csms() -> AsyncIterator[RpcCsms]:
    async with running_rpc_csms() as peer:
        yield peer


async def test_signed_firmware_update_against_ocpp_rpc(
    rpc_csms: RpcCsms, start_station: StationFactory, tmp_path: Path
) -> None:
    pki = make_manufacturer_pki("ACME chargers")
    root = tmp_path / "root.pem"
    root.write_text(pki.root, encoding="ascii")
    image = make_image("4.0.0", b"firmware")
    files = Files()
    files.images["v4.img"] = image
    async with serve_app(files.app) as base:
        config = station_config(
            rpc_csms.url, cp_id=CP, security={"manufacturerRootCertificates": [str(root)]}
        )
        await start_station(config)
        await rpc_csms.wait_for(is_call("BootNotification"))
        # L01.FR.28: nothing reported yet: Idle, without requestId
        mark = len(rpc_csms.events)
        trigger = {"requestedMessage": "FirmwareStatusNotification"}
        assert await rpc_csms.result(CP, "ExtendedTriggerMessage", trigger) == {"status": "Accepted"}
        idle = await rpc_csms.wait_for(is_call("SignedFirmwareStatusNotification"), since=mark)
        assert idle["params"] == {"status": "Idle"}

        firmware = {
            "location": f"{base}/fw/v4.img",
            "retrieveDateTime": format_datetime(time.time() - 5),
            "signingCertificate": pki.signing_certificate,
            "signature": sign_firmware(image + b"x", load_signing_key(pki.signing_key.encode())),
        }
        mark = len(rpc_csms.events)
        answer = await rpc_csms.result(CP, "SignedUpdateFirmware", {"requestId": 5, "firmware": firmware})
        assert answer == {"status": "Accepted"}
        await rpc_csms.wait_for(
            lambda e: (
                is_call("SignedFirmwareStatusNotification")(e) and e["params"]["status"] == "InvalidSignature"
            ),
            since=mark,
        )
        sent = [e["params"] for e in rpc_csms.events[mark:] if is_call("SignedFirmwareStatusNotification")(e)]
        assert sent == [
            {"status": "Downloading", "requestId": 5},
            {"status": "Downloaded", "requestId": 5},
            {"status": "InvalidSignature", "requestId": 5},
        ]
        await rpc_csms.wait_for(
            lambda e: (
                is_call("SecurityEventNotification")(e) and e["params"]["type"] == "InvalidFirmwareSignature"
            ),
            since=mark,
        )
        other = make_manufacturer_pki("Someone else")
        bad = {**firmware, "signingCertificate": other.signing_certificate}
        answer = await rpc_csms.result(CP, "SignedUpdateFirmware", {"requestId": 6, "firmware": bad})
        assert answer == {"status": "InvalidCertificate"}
    assert rpc_csms.errors() == []
