"""The OCTT 1.6 security test cases that need a real connection (OCTT test case document FINAL 2024-04,
§2.24), end to end over real websockets and real TLS on 127.0.0.1 (a trustme PKI), with the development
CSMS in the tool's role. The table of every security case is in ``tests/core/test_octt_security.py``."""

from __future__ import annotations

import asyncio
import base64
import ssl
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiohttp import web

from ocpp_station.sim.csms import CentralSystem
from ocpp_station.transport.station import Station
from ocpp_station.transport.tls import TLS12_CIPHERS, client_context
from tests.stations import StationFactory, station_config
from tests.transport.servers import FTP_PASSWORD_URL, ftp_server
from tests.transport.test_tls import FAST, KEY, ca_file, server_ctx, ssl_object, tls_config

#: TC_073_CS step 1: "OCA_OCTT_admin_test" hex encoded.
OCTT_KEY = "4F43415F4F4354545F61646D696E5F74657374"
#: TC_086_CS / TC_087_CS step 2: the station supports both of one of these pairs (A00.FR.318).
REQUIRED_PAIRS = (
    ("ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384"),
    ("AES128-GCM-SHA256", "AES256-GCM-SHA384"),
)


class HeaderCsms(CentralSystem):
    """The development CSMS, also keeping the Authorization header of every websocket upgrade request
    (the tool's validation of steps 1 and 5): (charge point id from the URL, header or None)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.upgrades: list[tuple[str, str | None]] = []

    async def _ws_endpoint(self, request: web.Request) -> web.StreamResponse:
        cp_id = request.rel_url.raw_path.rsplit("/", 1)[-1]
        self.upgrades.append((cp_id, request.headers.get("Authorization")))
        return await super()._ws_endpoint(request)


def check_basic_header(upgrade: tuple[str, str | None], key: str) -> None:
    """TC_085_CS step 1 / TC_086_CS step 5: ``Basic <Base64(<ChargePointId>:<AuthorizationKey>)>``, the
    id equal to the end of the URL, the key of 16 to 40 characters."""
    cp_id, header = upgrade
    assert header is not None and header.startswith("Basic "), header
    user, _, password = base64.b64decode(header.removeprefix("Basic "), validate=True).decode().partition(":")
    assert user == cp_id == "CP_1"
    assert password == key
    assert 16 <= len(password) <= 40


async def reset_and_boot(csms: CentralSystem, station: Station) -> int:
    """Reusable state "The Charge Point is triggered to reset" then steps BootNotification and
    StatusNotification per connector and connectorId 0 (all Available). Returns the log mark."""
    mark = len(csms.log)
    assert (await csms.call("CP_1", "Reset", {"type": "Hard"}))["status"] == "Accepted"
    boot = await csms.wait_for(
        lambda e: e.kind == "CALL" and e.action == "BootNotification", since=mark, timeout=15
    )
    assert boot.direction == "in"
    connectors = set(range(station.engine.settings.connector_count + 1))
    async with asyncio.timeout(10):
        while True:
            seen = {
                e.payload["connectorId"]: e.payload["status"]
                for e in csms.log[mark:]
                if e.kind == "CALL" and e.action == "StatusNotification"
            }
            if set(seen) >= connectors:
                break
            await asyncio.sleep(0.05)
    assert all(seen[c] == "Available" for c in connectors), seen
    assert station.reboots == 1
    return mark


# -- TC_073_CS --------------------------------------------------------------------------------------------


async def test_TC_073_CS_update_charge_point_password_for_http_basic_authentication(
    start_station: StationFactory,
) -> None:
    async with HeaderCsms(port=0, passwords={"CP_1": KEY}) as csms:
        await start_station(station_config(csms.url, ocpp={"AuthorizationKey": KEY, "SecurityProfile": 1}))
        check_basic_header(csms.upgrades[0], KEY)
        csms.passwords = {"CP_1": OCTT_KEY}  # the tool takes only the new password from now on
        # Steps 1-2.
        answer = await csms.call(
            "CP_1", "ChangeConfiguration", {"key": "AuthorizationKey", "value": OCTT_KEY}
        )
        assert answer == {"status": "Accepted"}
        # Step 3: disconnects and reconnects with the new password.
        info = csms.stations["CP_1"]
        async with asyncio.timeout(10):
            while not (info.connections == 2 and info.connected):
                await asyncio.sleep(0.05)
        assert info.refused == 0
        assert len(csms.upgrades) == 2
        check_basic_header(csms.upgrades[1], OCTT_KEY)


# -- TC_079_CS --------------------------------------------------------------------------------------------


async def test_TC_079_CS_get_security_log(tmp_path: Path, start_station: StationFactory) -> None:
    """The expected behaviour: the security log is at the log.remoteLocation of step 1 (a real FTP server)."""
    (tmp_path / "logs").mkdir()
    async with CentralSystem(port=0, passwords={"CP_1": KEY}) as csms:
        with ftp_server(tmp_path) as port:
            await start_station(
                station_config(csms.url, ocpp={"AuthorizationKey": KEY, "SecurityProfile": 1})
            )
            mark = len(csms.log)
            location = f"ftp://user:{FTP_PASSWORD_URL}@127.0.0.1:{port}/logs"
            # Steps 1-2.
            answer = await csms.call(
                "CP_1",
                "GetLog",
                {"logType": "SecurityLog", "requestId": 79, "log": {"remoteLocation": location}},
            )
            assert answer["status"] == "Accepted"
            # Steps 3-6.
            await csms.wait_for(
                lambda e: e.action == "LogStatusNotification" and e.payload.get("status") == "Uploaded",
                since=mark,
                timeout=15,
            )
            statuses = [
                e.payload["status"]
                for e in csms.log[mark:]
                if e.direction == "in" and e.kind == "CALL" and e.action == "LogStatusNotification"
            ]
            assert statuses == ["Uploading", "Uploaded"]
            lines = (tmp_path / "logs" / answer["filename"]).read_text().splitlines()
            assert any(" StartupOfTheDevice" in line for line in lines)


# -- TC_083_CS / TC_084_CS --------------------------------------------------------------------------------


async def test_TC_083_CS_upgrade_security_profile_1_to_2_over_tls(
    tmp_path: Path, start_station: StationFactory
) -> None:
    """Connected with profile 1 (Basic auth; the URL is already wss:// since profile 2 needs it,
    A00.FR.311); memory state CertificateInstalled over the connection; SecurityProfile 2 Accepted and the
    station reconnects by itself (so no Reset, steps 3-8), now validating the CSMS with the installed root."""
    ca = trustme.CA()
    async with HeaderCsms(
        port=0, passwords={"CP_1": KEY}, ssl_context=server_ctx(ca.issue_cert("127.0.0.1"))
    ) as csms:
        station = await start_station(tls_config(csms.url, ca_file(ca, tmp_path), SecurityProfile=1))
        # Memory state CertificateInstalled (Table 114).
        ids = await csms.call(
            "CP_1", "GetInstalledCertificateIds", {"certificateType": "CentralSystemRootCertificate"}
        )
        assert ids["status"] == "NotFound"  # none yet (M03.FR.02)
        root = ca.cert_pem.bytes().decode()
        installed = await csms.call(
            "CP_1",
            "InstallCertificate",
            {"certificateType": "CentralSystemRootCertificate", "certificate": root},
        )
        assert installed == {"status": "Accepted"}
        # Steps 1-2.
        answer = await csms.call("CP_1", "ChangeConfiguration", {"key": "SecurityProfile", "value": "2"})
        assert answer == {"status": "Accepted"}
        info = csms.stations["CP_1"]
        async with asyncio.timeout(10):
            while not (info.connections == 2 and info.connected):
                await asyncio.sleep(0.05)
        assert station.engine.config.get("SecurityProfile") == "2"
        assert station.csms_root_certificates() == [root]
        check_basic_header(csms.upgrades[-1], KEY)  # profile 2 still sends the password
        assert ssl_object(station).version() in ("TLSv1.2", "TLSv1.3")
        conf = await csms.call("CP_1", "GetConfiguration", {"key": ["SecurityProfile"]})
        assert conf["configurationKey"][0]["value"] == "2"


async def test_TC_084_CS_downgrade_security_profile_rejected(
    tmp_path: Path, start_station: StationFactory
) -> None:
    """Connected with profile 2 (the CSMS root installed at installation, §2.6.4, no caBundle)."""
    ca = trustme.CA()
    async with CentralSystem(
        port=0, passwords={"CP_1": KEY}, ssl_context=server_ctx(ca.issue_cert("127.0.0.1"))
    ) as csms:
        config = station_config(
            csms.url,
            connection=FAST,
            ocpp={"AuthorizationKey": KEY, "SecurityProfile": 2},
            security={"csmsRootCertificates": [str(ca_file(ca, tmp_path))]},
        )
        station = await start_station(config)
        # Steps 1-2.
        answer = await csms.call("CP_1", "ChangeConfiguration", {"key": "SecurityProfile", "value": "1"})
        assert answer == {"status": "Rejected"}
        await asyncio.sleep(0.3)  # nothing to reconnect for
        assert csms.stations["CP_1"].connections == 1
        assert station.engine.config.get("SecurityProfile") == "2"


# -- TC_085_CS --------------------------------------------------------------------------------------------


async def test_TC_085_CS_basic_authentication_valid_username_password(start_station: StationFactory) -> None:
    async with HeaderCsms(port=0, passwords={"CP_1": KEY}) as csms:
        station = await start_station(
            station_config(csms.url, ocpp={"AuthorizationKey": KEY, "SecurityProfile": 1})
        )
        await reset_and_boot(csms, station)  # steps 1-6 after the reset
        assert len(csms.upgrades) == 2 and csms.stations["CP_1"].refused == 0
        check_basic_header(csms.upgrades[-1], KEY)  # step 1


# -- TC_086_CS --------------------------------------------------------------------------------------------


def test_TC_086_CS_step_2_the_station_offers_a_required_cipher_suite_pair() -> None:
    offered = {c["name"] for c in client_context(None).get_ciphers() if c["protocol"] == "TLSv1.2"}
    assert any(set(pair) <= offered for pair in REQUIRED_PAIRS)
    assert client_context(None).minimum_version is ssl.TLSVersion.TLSv1_2


@pytest.mark.parametrize("suite", [s for pair in REQUIRED_PAIRS for s in pair])
async def test_TC_086_CS_tls_server_side_certificate_valid_certificate(
    suite: str, tmp_path: Path, start_station: StationFactory
) -> None:
    """Profile 2 against a CSMS that takes only ``suite`` (TLS 1.2): the handshake, the Basic header of the
    upgrade (step 5), BootNotification and StatusNotification after a reset (steps 7-10)."""
    key_type = trustme.KeyType.ECDSA if "ECDSA" in suite else trustme.KeyType.RSA
    ca = trustme.CA(key_type=key_type)
    context = server_ctx(ca.issue_cert("127.0.0.1", key_type=key_type))
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(suite)
    async with HeaderCsms(port=0, passwords={"CP_1": KEY}, ssl_context=context) as csms:
        config = station_config(
            csms.url,
            connection=FAST,
            ocpp={"AuthorizationKey": KEY, "SecurityProfile": 2},
            security={"csmsRootCertificates": [str(ca_file(ca, tmp_path))]},
        )
        station = await start_station(config)
        await reset_and_boot(csms, station)
        await station.wait_for(lambda s: s["registration"] == "Accepted", timeout=10)
        tls = ssl_object(station)
        cipher = tls.cipher()
        assert tls.version() == "TLSv1.2" and cipher is not None
        assert cipher[0] == suite and suite in TLS12_CIPHERS
        assert tls.getpeercert() is not None  # the server certificate was verified (A00.FR.307)
        check_basic_header(csms.upgrades[-1], KEY)
