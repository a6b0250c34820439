"""TLS for security profiles 2 and 3 (OCPP 1.6 security whitepaper edition 3, §2.4-2.5), over real TLS on
127.0.0.1: a test PKI made by trustme, the development CSMS (or a bare TLS server where it must
misbehave) and real stations."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import socket
import ssl
import subprocess
import sys
import threading
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest
import trustme

from ocpp_station.cli import main
from ocpp_station.sim.csms import CentralSystem
from ocpp_station.transport.station import Station
from ocpp_station.transport.tls import TLS12_CIPHERS, client_context, harden, server_context
from tests.stations import StationFactory, station_config
from tests.transport.transports import each_transport as each_transport  # every test runs on each library

KEY = "0123456789abcdef0123456789abcdef"
FAST = {"reconnect": {"initialDelay": 0.05, "maxDelay": 0.2}, "callTimeout": 5}


def pem_files(cert: trustme.LeafCert, directory: Path, name: str) -> tuple[Path, Path]:
    """``cert``'s chain and key as two PEM files."""
    chain = directory / f"{name}.pem"
    key = directory / f"{name}.key"
    chain.write_bytes(b"".join(blob.bytes() for blob in cert.cert_chain_pems))
    key.write_bytes(cert.private_key_pem.bytes())
    return chain, key


def ca_file(ca: trustme.CA, directory: Path, name: str = "ca") -> Path:
    path = directory / f"{name}.pem"
    path.write_bytes(ca.cert_pem.bytes())
    return path


def server_ctx(cert: trustme.LeafCert) -> ssl.SSLContext:
    context = harden(ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER))
    cert.configure_cert(context)
    return context


def tls_config(url: str, ca: Path | None, **ocpp: object) -> object:
    connection: dict[str, object] = dict(FAST)
    if ca is not None:
        connection["caBundle"] = str(ca)
    return station_config(url, connection=connection, ocpp={"AuthorizationKey": KEY, **ocpp})


def ssl_object(station: Station) -> ssl.SSLObject:
    ws = station.link.ws
    assert ws is not None and ws.transport is not None
    obj = ws.transport.get_extra_info("ssl_object")
    assert isinstance(obj, ssl.SSLObject)
    return obj


async def wait_log(caplog: pytest.LogCaptureFixture, needle: str, count: int, timeout: float = 5) -> None:
    """Until ``needle`` was logged ``count`` times (the station keeps retrying)."""
    async with asyncio.timeout(timeout):
        while sum(needle in r.getMessage() for r in caplog.records) < count:
            await asyncio.sleep(0.02)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


# -- profile 2 end to end ------------------------------------------------------------------------------


async def test_A00_FR_301_311_profile_2_boots_over_wss_with_basic_auth(
    ca: trustme.CA, tmp_path: Path, start_station: StationFactory
) -> None:
    cert_file, key_file = pem_files(ca.issue_cert("127.0.0.1"), tmp_path, "csms")
    context = server_context(cert_file, key_file)
    async with CentralSystem(port=0, passwords={"CP_1": KEY}, ssl_context=context) as csms:
        assert csms.url.startswith("wss://127.0.0.1:") and csms.http_url.startswith("https://")
        station = await start_station(tls_config(csms.url, ca_file(ca, tmp_path)))
        info = csms.stations["CP_1"]
        assert (info.connections, info.refused) == (1, 0)
        tls = ssl_object(station)
        assert tls.version() in ("TLSv1.2", "TLSv1.3")  # A00.FR.312
        assert tls.compression() is None  # A00.FR.320


async def test_A00_FR_307_profile_2_trusts_the_installed_csms_root_without_ca_bundle(
    ca: trustme.CA, tmp_path: Path, start_station: StationFactory
) -> None:
    """SecurityProfile 2 with the CSMS root from the config file's security section (the certificate
    store: Station.csms_root_certificates through the engine view), no caBundle."""
    context = server_ctx(ca.issue_cert("127.0.0.1"))
    async with CentralSystem(port=0, passwords={"CP_1": KEY}, ssl_context=context) as csms:
        config = station_config(
            csms.url,
            connection=FAST,
            ocpp={"AuthorizationKey": KEY, "SecurityProfile": 2},
            security={"csmsRootCertificates": [str(ca_file(ca, tmp_path))]},
        )
        assert config.ca_bundle is None
        station = await start_station(config)
        assert station.csms_root_certificates()
        assert csms.stations["CP_1"].connections == 1


async def test_A00_FR_302_wrong_key_over_tls_is_refused_by_the_csms(
    ca: trustme.CA, tmp_path: Path, start_station: StationFactory, caplog: pytest.LogCaptureFixture
) -> None:
    async with CentralSystem(
        port=0,
        passwords={"CP_1": "another-key-0123456789"},
        ssl_context=server_ctx(ca.issue_cert("127.0.0.1")),
    ) as csms:
        with caplog.at_level(logging.WARNING, "ocpp_station"):
            station = await start_station(tls_config(csms.url, ca_file(ca, tmp_path)), wait_accepted=False)
            await wait_log(caplog, "HTTP 401", 2)
        assert station.state()["registration"] is None
        assert csms.stations["CP_1"].refused >= 2


@pytest.mark.parametrize("key_type", [trustme.KeyType.ECDSA, trustme.KeyType.RSA])
async def test_A00_FR_317_318_tls_1_2_uses_a_whitepaper_cipher_suite(
    key_type: trustme.KeyType, tmp_path: Path, start_station: StationFactory
) -> None:
    ca = trustme.CA(key_type=key_type)
    context = server_ctx(ca.issue_cert("127.0.0.1", key_type=key_type))
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    async with CentralSystem(port=0, passwords={"CP_1": KEY}, ssl_context=context) as csms:
        station = await start_station(tls_config(csms.url, ca_file(ca, tmp_path)))
        tls = ssl_object(station)
        cipher = tls.cipher()
        assert tls.version() == "TLSv1.2" and cipher is not None
        assert cipher[0] in TLS12_CIPHERS
        assert ("ECDSA" in cipher[0]) is (key_type is trustme.KeyType.ECDSA)


def test_A00_FR_318_319_the_station_offers_only_the_whitepaper_suites_for_tls_1_2() -> None:
    context = client_context(None)
    tls12 = {c["name"] for c in context.get_ciphers() if c["protocol"] == "TLSv1.2"}
    assert tls12 == set(TLS12_CIPHERS)
    assert {c["name"] for c in context.get_ciphers() if c["protocol"] == "TLSv1.3"} <= {
        "TLS_AES_256_GCM_SHA384",
        "TLS_AES_128_GCM_SHA256",
        "TLS_CHACHA20_POLY1305_SHA256",
    }
    assert context.minimum_version is ssl.TLSVersion.TLSv1_2  # A00.FR.312
    assert context.options & ssl.OP_NO_COMPRESSION  # A00.FR.320
    assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname  # A00.FR.307-308


# -- the CSMS's certificate refused (A00.FR.307-310) ---------------------------------------------------


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


REFUSED: dict[str, tuple[Callable[[trustme.CA], trustme.LeafCert], str]] = {
    "A00_FR_308_wrong_host_name": (lambda ca: ca.issue_cert("csms.example.org"), "address mismatch"),
    "A00_FR_307_expired": (
        lambda ca: ca.issue_cert(
            "127.0.0.1", not_before=_now() - dt.timedelta(days=2), not_after=_now() - dt.timedelta(days=1)
        ),
        "certificate has expired",
    ),
    "A00_FR_307_not_yet_valid": (
        lambda ca: ca.issue_cert(
            "127.0.0.1", not_before=_now() + dt.timedelta(days=1), not_after=_now() + dt.timedelta(days=2)
        ),
        "certificate is not yet valid",
    ),
    "A00_FR_307_untrusted": (lambda ca: trustme.CA().issue_cert("127.0.0.1"), "unable to get local issuer"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
async def test_A00_FR_309_310_a_bad_csms_certificate_is_refused_and_retried(
    case: str, ca: trustme.CA, tmp_path: Path, start_station: StationFactory, caplog: pytest.LogCaptureFixture
) -> None:
    issue, why = REFUSED[case]
    async with CentralSystem(port=0, passwords={"CP_1": KEY}, ssl_context=server_ctx(issue(ca))) as csms:
        with caplog.at_level(logging.INFO, "ocpp_station"):
            station = await start_station(tls_config(csms.url, ca_file(ca, tmp_path)), wait_accepted=False)
            await wait_log(caplog, "InvalidCentralSystemCertificate", 2)  # refused, then refused again
        assert station.state()["registration"] is None
        assert "CP_1" not in csms.stations  # no websocket ever reached the CSMS
        refusals = [r for r in caplog.records if "InvalidCentralSystemCertificate" in r.getMessage()]
        assert all(r.levelno == logging.ERROR for r in refusals)
        assert why in refusals[0].getMessage()
        assert "reconnecting in" in caplog.text


async def test_A00_FR_308_the_common_name_counts_without_subject_alt_name(
    tmp_path: Path, start_station: StationFactory
) -> None:
    """A certificate naming the host only in its commonName (A00.FR.308's words) is accepted."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    def name(cn: str) -> x509.Name:  # CertificateBuilder takes the issuer, then the subject
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    ca_key = ec.generate_private_key(ec.SECP256R1())
    start, end = _now() - dt.timedelta(hours=1), _now() + dt.timedelta(days=1)
    ca_cert = (
        x509.CertificateBuilder(name("Test Root"), name("Test Root"), ca_key.public_key(), 1, start, end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder(name("Test Root"), name("localhost"), key.public_key(), 2, start, end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    cert_file, key_file, root = tmp_path / "cn.pem", tmp_path / "cn.key", tmp_path / "root.pem"
    cert_file.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    root.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    async with CentralSystem(
        host="localhost", port=0, passwords={"CP_1": KEY}, ssl_context=server_context(cert_file, key_file)
    ) as csms:
        url = f"wss://localhost:{csms.port}/ocpp/"
        station = await start_station(tls_config(url, root))
        assert ssl_object(station).getpeercert()["subject"] == ((("commonName", "localhost"),),)


# -- TLS versions and cipher suites (A00.FR.312-322) --------------------------------------------------


class BlockingTlsServer:
    """A TLS server on a thread, with the blocking ``ssl`` module: unlike an asyncio server, it sends
    the TLS alert when a handshake fails (asyncio closes the socket without it), which is how the
    station learns why (A00.FR.315, A00.FR.322)."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self.context = context
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.05)
        self.port: int = self.listener.getsockname()[1]
        self.errors: list[str] = []
        self.handshakes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                sock, _ = self.listener.accept()
            except TimeoutError:
                continue
            sock.settimeout(2)
            # A failed handshake closes the TLS socket; this duplicate keeps the connection open until
            # the client is done: closing with the client's HTTP request unread would make the kernel
            # answer with a reset, which can overtake the alert (a TLS 1.3 alert comes after the
            # client's handshake, with its request already on the way).
            raw = sock.dup()
            try:
                with self.context.wrap_socket(sock, server_side=True):
                    self.handshakes += 1
            except (ssl.SSLError, OSError) as exc:
                self.errors.append(str(exc))
                with contextlib.suppress(OSError):
                    raw.shutdown(socket.SHUT_WR)
                    while raw.recv(4096):
                        pass
            finally:
                sock.close()
                raw.close()

    def __enter__(self) -> BlockingTlsServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self.listener.close()


def tls_1_1_only(cert: trustme.LeafCert) -> ssl.SSLContext:
    """A server context that speaks TLS 1.1 and nothing newer (OpenSSL 3 needs security level 0)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TLSVersion.TLSv1_1 is deprecated: the point
        context.minimum_version = ssl.TLSVersion.TLSv1_1
        context.maximum_version = ssl.TLSVersion.TLSv1_1
    context.set_ciphers("ALL:@SECLEVEL=0")
    cert.configure_cert(context)
    return context


async def test_A00_FR_315_a_csms_offering_only_tls_1_1_is_refused(
    ca: trustme.CA, tmp_path: Path, start_station: StationFactory, caplog: pytest.LogCaptureFixture
) -> None:
    with BlockingTlsServer(tls_1_1_only(ca.issue_cert("127.0.0.1"))) as server:
        url = f"wss://127.0.0.1:{server.port}/ocpp/"
        with caplog.at_level(logging.INFO, "ocpp_station"):
            station = await start_station(tls_config(url, ca_file(ca, tmp_path)), wait_accepted=False)
            await wait_log(caplog, "InvalidTLSVersion", 2)  # refused, then refused again
        assert station.state()["registration"] is None
        assert server.handshakes == 0 and "UNSUPPORTED_PROTOCOL" in server.errors[0]


async def test_A00_FR_314_the_csms_refuses_a_tls_1_1_client(ca: trustme.CA) -> None:
    async with CentralSystem(port=0, ssl_context=server_ctx(ca.issue_cert("127.0.0.1"))) as csms:

        def client(newest: ssl.TLSVersion) -> ssl.SSLContext:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                context.minimum_version = ssl.TLSVersion.TLSv1
                context.maximum_version = newest
            context.set_ciphers("ALL:@SECLEVEL=0")
            ca.configure_trust(context)
            return context

        _, writer = await asyncio.open_connection("127.0.0.1", csms.port, ssl=client(ssl.TLSVersion.TLSv1_2))
        writer.close()  # TLS 1.2 is taken...
        with pytest.raises(OSError):  # ... 1.1 is not (asyncio drops it without an alert: a reset)
            _, writer = await asyncio.open_connection(
                "127.0.0.1", csms.port, ssl=client(ssl.TLSVersion.TLSv1_1)
            )
            writer.close()


async def test_A00_FR_322_a_csms_offering_no_whitepaper_cipher_suite_is_refused(
    ca: trustme.CA, tmp_path: Path, start_station: StationFactory, caplog: pytest.LogCaptureFixture
) -> None:
    context = server_ctx(ca.issue_cert("127.0.0.1"))
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers("ECDHE-ECDSA-AES128-SHA")  # CBC with SHA-1: not in A00.FR.318
    with BlockingTlsServer(context) as server:
        url = f"wss://127.0.0.1:{server.port}/ocpp/"
        with caplog.at_level(logging.INFO, "ocpp_station"):
            station = await start_station(tls_config(url, ca_file(ca, tmp_path)), wait_accepted=False)
            await wait_log(caplog, "TLS with", 2)
        assert station.state()["registration"] is None
        assert server.handshakes == 0 and "NO_SHARED_CIPHER" in server.errors[0]


# -- trusted roots from the station (the certificate store) --------------------------------------------


class StoreStation(Station):
    """A station whose certificate store holds ``roots`` and ``client`` (what the store will give)."""

    roots: list[str] = []
    client: tuple[str, str] | None = None

    def csms_root_certificates(self) -> list[str]:
        return list(self.roots)

    def client_certificate(self) -> tuple[str, str] | None:
        return self.client


async def test_A00_FR_307_installed_root_certificates_are_trusted(ca: trustme.CA, tmp_path: Path) -> None:
    async with CentralSystem(
        port=0, passwords={"CP_1": KEY}, ssl_context=server_ctx(ca.issue_cert("127.0.0.1"))
    ) as csms:
        station = StoreStation(tls_config(csms.url, None))  # no caBundle: only the installed roots
        station.roots = ["not a certificate", ca.cert_pem.bytes().decode()]  # a bad one is skipped
        task = asyncio.create_task(station.run())
        try:
            await station.wait_for(lambda s: s["registration"] == "Accepted", timeout=10)
        finally:
            await station.stop()
            await asyncio.wait_for(task, 5)
            station.close()


# -- profile 3 groundwork: client certificates ---------------------------------------------------------


async def test_A00_FR_401_402_407_client_certificate_required_by_the_csms(
    ca: trustme.CA, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    client_ca = trustme.CA()
    cert_file, key_file = pem_files(ca.issue_cert("127.0.0.1"), tmp_path, "csms")
    context = server_context(cert_file, key_file, ca_file(client_ca, tmp_path, "client-ca"))
    async with CentralSystem(port=0, ssl_context=context) as csms:
        leaf = client_ca.issue_cert(common_name="CP_1")
        chain = b"".join(blob.bytes() for blob in leaf.cert_chain_pems).decode()
        for client, accepted in ((None, False), ((chain, leaf.private_key_pem.bytes().decode()), True)):
            station = StoreStation(tls_config(csms.url, ca_file(ca, tmp_path)))
            station.client = client
            task = asyncio.create_task(station.run())
            try:
                if accepted:
                    await station.wait_for(lambda s: s["registration"] == "Accepted", timeout=10)
                else:
                    with caplog.at_level(logging.INFO, "ocpp_station"):
                        await wait_log(caplog, "reconnecting in", 2)
                    assert station.state()["registration"] is None
            finally:
                await station.stop()
                await asyncio.wait_for(task, 5)
                station.close()


async def test_A00_FR_407_a_csms_refusing_the_missing_client_certificate_is_logged(
    ca: trustme.CA, tmp_path: Path, start_station: StationFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """A TLS 1.3 server that requires a client certificate says so with an alert after the handshake
    (the blocking server sends it; the development CSMS, on asyncio, just closes)."""
    cert_file, key_file = pem_files(ca.issue_cert("127.0.0.1"), tmp_path, "csms")
    context = server_context(cert_file, key_file, ca_file(trustme.CA(), tmp_path, "client-ca"))
    with BlockingTlsServer(context) as server:
        url = f"wss://127.0.0.1:{server.port}/ocpp/"
        with caplog.at_level(logging.INFO, "ocpp_station"):
            station = await start_station(tls_config(url, ca_file(ca, tmp_path)), wait_accepted=False)
            await wait_log(caplog, "FailedToAuthenticationAtCentralSystem", 2)
        assert station.state()["registration"] is None


# -- the command line of the development CSMS ----------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--password", "CP_1"], "must be CP=KEY"),
        (["--password", "CP_1=a", "--password", "CP_1=b"], "given twice"),
        (["--tls-cert", "x.pem"], "give both"),
        (["--ca", "ca.pem"], "requires --tls-cert"),
        (["--tls-cert", "missing.pem", "--tls-key", "missing.key"], "No such file"),
    ],
)
def test_csms_cli_refuses_bad_tls_and_password_options(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["csms", "--port", "0", *args]) == 2
    assert message in capsys.readouterr().err


async def test_A00_FR_305_csms_cli_serves_profile_2(
    ca: trustme.CA, tmp_path: Path, start_station: StationFactory
) -> None:
    cert_file, key_file = pem_files(ca.issue_cert("127.0.0.1"), tmp_path, "csms")
    command = [sys.executable, "-m", "ocpp_station", "csms", "--port", "0", "--quiet"]
    command += ["--tls-cert", str(cert_file), "--tls-key", str(key_file), "--password", f"CP_1={KEY}"]
    process = await asyncio.create_subprocess_exec(
        *command,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        async with asyncio.timeout(20):
            line = (await process.stdout.readline()).decode()
        assert line.startswith("Development CSMS listening on wss://127.0.0.1:"), line
        url = line.split()[4].removesuffix("<chargePointId>")
        assert "HTTP Basic credentials required for: CP_1" in (await process.stdout.readline()).decode()
        await start_station(tls_config(url, ca_file(ca, tmp_path)))
    finally:
        process.terminate()
        await process.wait()
