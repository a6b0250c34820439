"""The ChargePointCertificate end to end (security whitepaper edition 3: A02, A05.FR.04, §2.5 profile 3;
OCTT TC_074_CS, TC_077_CS, TC_087_CS): real TLS on 127.0.0.1 with a trustme PKI, the development CSMS
as Central System and Certificate Authority (it signs the CSR, as the OCTT does), the station's key made
and kept by the shell (transport/keys.py), the data directory's key file checked (mode 0600), and the
private key looked for, in vain, in every frame and log line."""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
import stat
from pathlib import Path

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from ocpp_station.config.station import ConfigError, parse_config
from ocpp_station.sim.csms import CentralSystem
from ocpp_station.sim.signing import SigningCa
from tests.stations import StationFactory, station_config
from tests.transport.test_tls import FAST, KEY, ca_file, server_ctx

CPO = "Test CPO"


def signing_ca(ca: trustme.CA) -> SigningCa:
    certificate = x509.load_pem_x509_certificate(ca.cert_pem.bytes())
    key = serialization.load_pem_private_key(ca.private_key_pem.bytes(), password=None)
    return SigningCa(certificate, key)  # type: ignore[arg-type]


def csms_context(ca: trustme.CA) -> ssl.SSLContext:
    """The CSMS's server context, client certificates optional for now (profile 2), issued under ``ca``."""
    context = server_ctx(ca.issue_cert("127.0.0.1"))
    context.load_verify_locations(cadata=ca.cert_pem.bytes().decode())
    context.verify_mode = ssl.CERT_OPTIONAL
    return context


async def wait_connections(csms: CentralSystem, count: int) -> None:
    info = csms.stations["CP_1"]
    async with asyncio.timeout(15):
        while not (info.connections >= count and info.connected):
            await asyncio.sleep(0.05)


async def test_TC_074_CS_TC_087_CS_certificate_by_request_of_csms_then_profile_3_with_mutual_tls(
    tmp_path: Path, start_station: StationFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """Profile 2 -> ExtendedTriggerMessage SignChargePointCertificate -> CSR -> the CSMS signs ->
    CertificateSigned Accepted -> SecurityProfile 3 Accepted -> the station reconnects presenting the
    certificate (the CSMS now requires one and checks its O and CN, A00.FR.403-405)."""
    caplog.set_level(logging.DEBUG)
    ca = trustme.CA()
    frames: list[bytes | str] = []
    context = csms_context(ca)
    async with CentralSystem(
        port=0, passwords={"CP_1": KEY}, ssl_context=context, signing_ca=signing_ca(ca), cpo_name=CPO
    ) as csms:
        config = station_config(
            csms.url,
            connection=FAST,
            ocpp={"AuthorizationKey": KEY, "SecurityProfile": 2, "CpoName": CPO},
            security={"csmsRootCertificates": [str(ca_file(ca, tmp_path))]},
            dataDir=str(tmp_path / "data"),
        )
        station = await start_station(config, frame_logger=lambda cp, out, data: frames.append(data))
        assert station.client_certificate() is None
        # TC_074_CS steps 1-2.
        answer = await csms.call(
            "CP_1", "ExtendedTriggerMessage", {"requestedMessage": "SignChargePointCertificate"}
        )
        assert answer == {"status": "Accepted"}
        # Steps 3-6: SignCertificate Accepted, CertificateSigned Accepted.
        async with asyncio.timeout(15):
            while not csms.signed_results.get("CP_1"):
                await asyncio.sleep(0.05)
        assert csms.signed_results["CP_1"] == ["Accepted"]
        (csr_entry,) = [e for e in csms.log if e.action == "SignCertificate" and e.kind == "CALL"]
        csr = x509.load_pem_x509_csr(csr_entry.payload["csr"].encode())
        assert csr.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == CPO
        assert csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "CP_1"
        # The key file: in the data directory, mode 0600, the pair of the certificate in use.
        found = station.client_certificate()
        assert found is not None
        chain, key_pem = found
        (key_file,) = (tmp_path / "data" / "keys").glob("*.pem")
        assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
        assert stat.S_IMODE(os.stat(key_file.parent).st_mode) == 0o700
        assert key_file.read_text() == key_pem
        # TC_083_CS 2 -> 3: Accepted now (A05.FR.04); the CSMS requires client certificates from now on.
        context.verify_mode = ssl.CERT_REQUIRED
        mark = csms.stations["CP_1"].connections
        answer = await csms.call("CP_1", "ChangeConfiguration", {"key": "SecurityProfile", "value": "3"})
        assert answer == {"status": "Accepted"}
        # TC_087_CS: the TLS handshake with the client certificate, BootNotification not needed again.
        await wait_connections(csms, mark + 1)
        der = csms.client_certificates["CP_1"]
        presented = x509.load_der_x509_certificate(der)
        leaf = x509.load_pem_x509_certificate(chain.encode())
        assert presented == leaf
        assert station.engine.config.get("SecurityProfile") == "3"
        # A02.FR.05: the private key is in no frame and no log line.
        secret = key_pem.split("-----")[2].strip().splitlines()[0]
        assert not [f for f in frames if secret in (f if isinstance(f, str) else f.decode())]
        assert not [r for r in caplog.records if secret in r.getMessage() or "PRIVATE KEY" in r.getMessage()]
        assert "PRIVATE KEY" not in str(station.state())


async def test_A00_FR_407_the_csms_refuses_a_station_without_a_client_certificate(
    tmp_path: Path, start_station: StationFactory
) -> None:
    ca = trustme.CA()
    context = csms_context(ca)
    context.verify_mode = ssl.CERT_REQUIRED
    async with CentralSystem(port=0, passwords={"CP_1": KEY}, ssl_context=context, cpo_name=CPO) as csms:
        config = station_config(
            csms.url,
            connection=FAST,
            ocpp={"AuthorizationKey": KEY, "SecurityProfile": 2, "CpoName": CPO},
            security={"csmsRootCertificates": [str(ca_file(ca, tmp_path))]},
        )
        station = await start_station(config, wait_accepted=False)
        await asyncio.sleep(1.0)
        assert not station.view.connected
        assert "CP_1" not in csms.client_certificates


async def test_2_6_4_a_certificate_installed_at_manufacturing_connects_at_profile_3(
    tmp_path: Path, start_station: StationFactory
) -> None:
    """security.chargePointCertificate / chargePointPrivateKey: profile 3 from the start (TC_087_CS)."""
    ca = trustme.CA()
    leaf = ca.issue_cert("cp1.example", organization_name=CPO, common_name="CP_1")
    (tmp_path / "cp.pem").write_bytes(b"".join(b.bytes() for b in leaf.cert_chain_pems))
    (tmp_path / "cp.key").write_bytes(leaf.private_key_pem.bytes())
    context = csms_context(ca)
    context.verify_mode = ssl.CERT_REQUIRED
    async with CentralSystem(port=0, ssl_context=context, cpo_name=CPO) as csms:
        config = station_config(
            csms.url,
            connection=FAST,
            ocpp={"SecurityProfile": 3, "CpoName": CPO},
            security={
                "csmsRootCertificates": [str(ca_file(ca, tmp_path))],
                "chargePointCertificate": str(tmp_path / "cp.pem"),
                "chargePointPrivateKey": str(tmp_path / "cp.key"),
            },
        )
        await start_station(config)
        assert "CP_1" in csms.client_certificates


def test_2_6_4_a_private_key_not_of_the_certificate_is_a_config_error(tmp_path: Path) -> None:
    ca = trustme.CA()
    leaf = ca.issue_cert("cp1.example", common_name="CP_1")
    other = ca.issue_cert("cp2.example", common_name="CP_2")
    (tmp_path / "cp.pem").write_bytes(leaf.cert_chain_pems[0].bytes())
    (tmp_path / "cp.key").write_bytes(other.private_key_pem.bytes())
    data = {
        "development": {"WS_URL": "wss://127.0.0.1:1/ocpp/", "chargePointID": "CP_1"},
        "security": {"chargePointCertificate": "cp.pem", "chargePointPrivateKey": "cp.key"},
    }
    with pytest.raises(ConfigError, match=r"security\.chargePointPrivateKey"):
        parse_config(data, str(tmp_path / "station.json"))
    data["security"] = {"chargePointCertificate": "missing.pem", "chargePointPrivateKey": "cp.key"}
    with pytest.raises(ConfigError, match=r"security\.chargePointCertificate"):
        parse_config(data, str(tmp_path / "station.json"))
    data["security"] = {"chargePointCertificate": "cp.pem"}
    with pytest.raises(ConfigError, match=r"security\.chargePointPrivateKey"):
        parse_config(data, str(tmp_path / "station.json"))
