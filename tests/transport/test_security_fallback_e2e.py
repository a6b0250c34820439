"""The security profile fallback and the CSMS root fallback end to end (OCPP 1.6 security whitepaper
edition 3: A05.FR.07-08, M05.FR.11-13), with real websockets and real TLS on 127.0.0.1 and a real PKI
made with ``cryptography`` (``tests/pki.py``)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from cryptography.x509.oid import ExtendedKeyUsageOID

from ocpp_station.sim.csms import CentralSystem
from ocpp_station.transport.station import Station
from ocpp_station.transport.tls import harden
from tests.pki import Issued, issue, name
from tests.stations import StationFactory, notified, station_config, until

KEY = "0123456789abcdef0123456789abcdef"
CSRC = "CentralSystemRootCertificate"
FAST = {"reconnect": {"initialDelay": 0.05, "maxDelay": 0.2}, "callTimeout": 5}


async def test_A05_FR_08_profile_2_the_csms_cannot_serve_falls_back_to_profile_1(
    tmp_path: Path, start_station: StationFactory
) -> None:
    """1 -> 2 while the CSMS has no TLS: the station tries wss:// on the CSMS's address, fails three
    times, sets SecurityProfile back to 1 (stored in SQLite), connects with ws:// again, keeps working
    (Heartbeat answered) and reports ReconfigurationOfSecurityParameters."""
    root = issue("Fallback Test Root")
    async with CentralSystem(port=0, passwords={"CP_1": KEY}) as csms:
        config = station_config(
            csms.url,
            connection=FAST,
            ocpp={"AuthorizationKey": KEY, "SecurityProfile": 1},
            dataDir=str(tmp_path / "data"),
        )
        station = await start_station(config)
        assert station.connection_url().startswith("ws://")
        answer = await csms.call(
            "CP_1", "InstallCertificate", {"certificateType": CSRC, "certificate": root.pem}
        )
        assert answer == {"status": "Accepted"}
        answer = await csms.call("CP_1", "ChangeConfiguration", {"key": "SecurityProfile", "value": "2"})
        assert answer == {"status": "Accepted"}  # A05.FR.05
        info = csms.stations["CP_1"]
        await until(lambda: station.view.security_profile == 1 and info.connected and info.connections == 2)
        assert station.store.load_config()["SecurityProfile"] == "1"
        assert station.connection_url().startswith("ws://")
        assert await csms.call("CP_1", "TriggerMessage", {"requestedMessage": "Heartbeat"}) == {
            "status": "Accepted"
        }
        await until(lambda: any(e.action == "Heartbeat" and e.kind == "CALLRESULT" for e in csms.log))
        await until(lambda: bool(notified(csms, "ReconfigurationOfSecurityParameters", "fell back")))
        (event,) = notified(csms, "ReconfigurationOfSecurityParameters", "fell back")
        assert event["techInfo"].startswith("SecurityProfile 2 could not connect (3 attempts")
        got = await csms.call("CP_1", "GetConfiguration", {"key": ["SecurityProfile"]})
        assert got["configurationKey"][0]["value"] == "1"


# -- M05.FR.11-13: the fallback CentralSystemRootCertificate -------------------------------------------
def server_certificate(by: Issued) -> Issued:
    """A CSMS certificate for 127.0.0.1 issued by ``by`` (A00.FR.510: the CN is the host)."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name("127.0.0.1"))
        .issuer_name(by.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .sign(by.key, hashes.SHA256())
    )
    return Issued(certificate, key)


def server_context(tmp_path: Path, leaf: Issued, *chain: Issued) -> ssl.SSLContext:
    cert = tmp_path / "csms.pem"
    key = tmp_path / "csms.key"
    cert.write_text(leaf.pem + "".join(c.pem for c in chain))
    key.write_bytes(leaf.key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    context = harden(ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER))
    context.load_cert_chain(cert, key)
    return context


def roots(station: Station) -> list[str]:
    return station.view.csms_root_certificates()


async def reconnected(station: Station, csms: CentralSystem) -> None:
    info = csms.stations["CP_1"]
    count = info.connections
    station.link.reconnect("test")
    await until(lambda: info.connections == count + 1 and info.connected)
    await station.wait_for(lambda s: s["registration"] == "Accepted", timeout=10)


async def test_M05_FR_12_13_the_old_root_goes_once_the_csms_is_verified_with_the_new_one(
    tmp_path: Path, start_station: StationFactory
) -> None:
    old = issue("CSMS Root 2025")
    new = issue("CSMS Root 2026", by=old)  # M05.FR.09: signed by the root it replaces
    (tmp_path / "old.pem").write_text(old.pem)
    under_old = server_context(tmp_path, server_certificate(old))
    under_new = server_context(tmp_path, server_certificate(new), new)
    async with CentralSystem(port=0, passwords={"CP_1": KEY}, ssl_context=under_old) as csms:
        port = csms.port
        config = station_config(
            csms.url,
            connection=FAST,
            ocpp={"AuthorizationKey": KEY, "SecurityProfile": 2, "AdditionalRootCertificateCheck": "true"},
            security={"csmsRootCertificates": [str(tmp_path / "old.pem")]},
            dataDir=str(tmp_path / "data"),
        )
        station = await start_station(config)
        answer = await csms.call(
            "CP_1", "InstallCertificate", {"certificateType": CSRC, "certificate": new.pem}
        )
        assert answer == {"status": "Accepted"}  # M05.FR.11: the old root kept as the fallback
        assert roots(station) == [new.pem, old.pem]
        # M05.FR.13: the CSMS still shows a certificate the new root does not verify: the old one does.
        await reconnected(station, csms)
        assert roots(station) == [new.pem, old.pem]
    # The CSMS moves to the new hierarchy: verified with the new root, the fallback goes (M05.FR.12).
    async with CentralSystem(port=port, passwords={"CP_1": KEY}, ssl_context=under_new) as csms:
        await until(lambda: "CP_1" in csms.stations and csms.stations["CP_1"].connected)
        # The CSMS may see the connection before the station's shell fed ServerCertificateVerified.
        await until(lambda: roots(station) == [new.pem])
        # The new root alone (not self-signed: a partial chain) verifies the CSMS from now on.
        await reconnected(station, csms)
        assert roots(station) == [new.pem]
