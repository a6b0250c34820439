"""File transfers against real HTTP, HTTPS (trustme CA) and FTP (pyftpdlib) servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import ssl
import zipfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiohttp import web

from ocpp_station.transport.file_transfer import (
    DEFAULT_DOWNLOAD_NAME,
    SUPPORTED_SCHEMES,
    TransferError,
    build_diagnostics_archive,
    download,
    download_name,
    upload,
)
from tests.transport.servers import FTP_PASSWORD_URL, ftp_server, serve_app

FIRMWARE = b"firmware-bytes " * 5000  # 75 kB: several chunks


# ------------------------------------------------------------------------------------------ servers


@dataclass
class HttpServer:
    base: str
    hits: dict[str, int] = field(default_factory=dict)
    uploads: list[tuple[str, str, bytes]] = field(default_factory=list)  # (method, filename, body)


def _make_app(state: HttpServer) -> web.Application:
    def count(request: web.Request) -> int:
        state.hits[request.path] = state.hits.get(request.path, 0) + 1
        return state.hits[request.path]

    async def firmware(request: web.Request) -> web.Response:
        count(request)
        return web.Response(body=FIRMWARE, content_type="application/octet-stream")

    async def flaky(request: web.Request) -> web.Response:
        n = count(request)
        fails = int(request.match_info["fails"])
        if n <= fails:
            return web.Response(status=500, text="try again")
        return web.Response(body=FIRMWARE)

    async def broken(request: web.Request) -> web.Response:
        count(request)
        return web.Response(status=500, text="always broken")

    async def truncated(request: web.Request) -> web.StreamResponse:
        # Announces more than it sends, then drops the connection: a half download.
        count(request)
        resp = web.StreamResponse(headers={"Content-Length": str(len(FIRMWARE) * 2)})
        await resp.prepare(request)
        await resp.write(FIRMWARE)
        assert request.transport is not None
        request.transport.close()
        return resp

    async def chunked(request: web.Request) -> web.StreamResponse:
        # No Content-Length: the size limit must be enforced while streaming.
        count(request)
        resp = web.StreamResponse()
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        for _ in range(10):
            await resp.write(FIRMWARE)
        await resp.write_eof()
        return resp

    async def slow(request: web.Request) -> web.Response:
        count(request)
        await asyncio.sleep(5)
        return web.Response(body=FIRMWARE)

    async def upload_multipart(request: web.Request) -> web.Response:
        count(request)
        post = await request.post()
        part = post["file"]
        assert isinstance(part, web.FileField)
        state.uploads.append((request.method, part.filename, part.file.read()))
        return web.Response(text="ok")

    async def upload_put(request: web.Request) -> web.Response:
        count(request)
        state.uploads.append((request.method, request.match_info["name"], await request.read()))
        return web.Response(status=201)

    app = web.Application()
    app.router.add_get("/fw.bin", firmware)
    app.router.add_get("/flaky/{fails}", flaky)
    app.router.add_get("/broken", broken)
    app.router.add_post("/broken", broken)
    app.router.add_get("/truncated", truncated)
    app.router.add_get("/chunked", chunked)
    app.router.add_get("/slow", slow)
    app.router.add_post("/upload", upload_multipart)
    app.router.add_put("/put/{name}", upload_put)
    return app


async def _serve(ssl_context: ssl.SSLContext | None) -> AsyncIterator[HttpServer]:
    state = HttpServer(base="")
    async with serve_app(_make_app(state), ssl_context) as base:
        state.base = base
        yield state


@pytest.fixture
async def http() -> AsyncIterator[HttpServer]:
    async for state in _serve(None):
        yield state


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def client_ssl(ca: trustme.CA) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ca.configure_trust(ctx)
    return ctx


@pytest.fixture
async def https(ca: trustme.CA) -> AsyncIterator[HttpServer]:
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_ctx)
    async for state in _serve(server_ctx):
        yield state


@dataclass
class FtpServer:
    base: str  # ftp://user:secret@127.0.0.1:port
    port: int
    root: Path


@pytest.fixture
def ftp(tmp_path: Path) -> Iterator[FtpServer]:
    root = tmp_path / "ftp-root"
    (root / "incoming").mkdir(parents=True)
    (root / "fw.bin").write_bytes(FIRMWARE)
    with ftp_server(root) as port:
        yield FtpServer(base=f"ftp://user:{FTP_PASSWORD_URL}@127.0.0.1:{port}", port=port, root=root)


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


# --------------------------------------------------------------------------------------------- HTTP


def test_supported_schemes() -> None:
    assert SUPPORTED_SCHEMES == ("http", "https", "ftp")


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("http://h/fw/acme-wallbox-2.4.1.bin", "acme-wallbox-2.4.1.bin"),
        ("https://s3.example/b/vendor-fw-3.1.0.bin?X-Amz-Signature=abc#frag", "vendor-fw-3.1.0.bin"),
        ("ftp://user:pw@h:21/%2Fsrv/fw/image%201.2.fw", "image_1.2.fw"),
        ("ftp://h/a%2F..%2F..%2Fetc%2Fpasswd", "a_.._.._etc_passwd"),
        ("http://h/..", DEFAULT_DOWNLOAD_NAME),
        ("http://h/.hidden-1.0.bin", "hidden-1.0.bin"),
        ("http://h/fw/", DEFAULT_DOWNLOAD_NAME),
        ("http://h", DEFAULT_DOWNLOAD_NAME),
        ("http://h/" + "x" * 300, "x" * 100),
        ("http://[::1", DEFAULT_DOWNLOAD_NAME),  # not a URL: still a safe name
    ],
)
def test_download_name_is_the_last_url_segment_made_safe(url: str, name: str) -> None:
    assert download_name(url) == name


async def test_http_download(http: HttpServer, tmp_path: Path) -> None:
    dest = tmp_path / "dl" / "fw.bin"  # parent is created
    assert await download(f"{http.base}/fw.bin", dest) == dest
    assert dest.read_bytes() == FIRMWARE
    assert _leftovers(dest.parent) == ["fw.bin"]


async def test_http_download_replaces_existing_file(http: HttpServer, tmp_path: Path) -> None:
    dest = tmp_path / "fw.bin"
    dest.write_bytes(b"old")
    await download(f"{http.base}/fw.bin", dest)
    assert dest.read_bytes() == FIRMWARE


async def test_http_retries_until_success(http: HttpServer, tmp_path: Path) -> None:
    dest = tmp_path / "fw.bin"
    await download(f"{http.base}/flaky/2", dest, retries=2, retry_interval_s=0.01)
    assert http.hits["/flaky/2"] == 3
    assert dest.read_bytes() == FIRMWARE


async def test_http_gives_up_after_last_retry(http: HttpServer, tmp_path: Path) -> None:
    dest = tmp_path / "fw.bin"
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    with pytest.raises(TransferError) as info:
        await download(f"{http.base}/flaky/5", dest, retries=2, retry_interval_s=0.05)
    assert loop.time() - t0 >= 0.1  # two intervals slept
    assert http.hits["/flaky/5"] == 3
    assert "500" in info.value.reason
    assert info.value.url == f"{http.base}/flaky/5"
    assert _leftovers(tmp_path) == []


async def test_http_no_retries_means_one_attempt(http: HttpServer, tmp_path: Path) -> None:
    with pytest.raises(TransferError):
        await download(f"{http.base}/broken", tmp_path / "fw.bin")
    assert http.hits["/broken"] == 1


async def test_http_404(http: HttpServer, tmp_path: Path) -> None:
    with pytest.raises(TransferError, match="404"):
        await download(f"{http.base}/missing", tmp_path / "fw.bin")
    assert _leftovers(tmp_path) == []


async def test_failed_download_keeps_previous_dest_intact(http: HttpServer, tmp_path: Path) -> None:
    dest = tmp_path / "fw.bin"
    dest.write_bytes(b"previous image")
    with pytest.raises(TransferError):
        await download(f"{http.base}/truncated", dest, retries=1)
    assert http.hits["/truncated"] == 2
    assert dest.read_bytes() == b"previous image"
    assert _leftovers(tmp_path) == ["fw.bin"]


async def test_max_bytes_from_content_length(http: HttpServer, tmp_path: Path) -> None:
    with pytest.raises(TransferError, match="too large"):
        await download(f"{http.base}/fw.bin", tmp_path / "fw.bin", max_bytes=1000)
    assert _leftovers(tmp_path) == []


async def test_max_bytes_while_streaming(http: HttpServer, tmp_path: Path) -> None:
    with pytest.raises(TransferError, match="too large"):
        await download(f"{http.base}/chunked", tmp_path / "fw.bin", max_bytes=len(FIRMWARE) * 3)
    assert _leftovers(tmp_path) == []
    await download(f"{http.base}/chunked", tmp_path / "fw.bin", max_bytes=len(FIRMWARE) * 10)
    assert (tmp_path / "fw.bin").stat().st_size == len(FIRMWARE) * 10


async def test_timeout(http: HttpServer, tmp_path: Path) -> None:
    with pytest.raises(TransferError, match="timed out"):
        await download(f"{http.base}/slow", tmp_path / "fw.bin", timeout_s=0.2)
    assert _leftovers(tmp_path) == []


async def test_connection_refused(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(TransferError):
        await download(f"http://127.0.0.1:{port}/fw.bin", tmp_path / "fw.bin", retries=1, retry_interval_s=0)


@pytest.mark.parametrize("url", ["sftp://host/fw.bin", "file:///etc/passwd", "fw.bin", "ftps://h/x"])
async def test_unsupported_scheme_fails_at_once(url: str, tmp_path: Path) -> None:
    with pytest.raises(TransferError, match="unsupported scheme"):
        await download(url, tmp_path / "fw.bin", retries=5, retry_interval_s=10)
    src = tmp_path / "a.txt"
    src.write_text("x")
    with pytest.raises(TransferError, match="unsupported scheme"):
        await upload(url, src, retries=5, retry_interval_s=10)


async def test_http_upload_multipart(http: HttpServer, tmp_path: Path) -> None:
    src = tmp_path / "cp-diagnostics.zip"
    src.write_bytes(b"PK\x03\x04 zip bytes")
    await upload(f"{http.base}/upload", src)
    assert http.uploads == [("POST", "cp-diagnostics.zip", b"PK\x03\x04 zip bytes")]


async def test_http_upload_put(http: HttpServer, tmp_path: Path) -> None:
    src = tmp_path / "d.zip"
    src.write_bytes(b"raw body")
    await upload(f"{http.base}/put/d.zip", src, method="PUT")
    assert http.uploads == [("PUT", "d.zip", b"raw body")]


async def test_http_upload_retries_then_fails(http: HttpServer, tmp_path: Path) -> None:
    src = tmp_path / "d.zip"
    src.write_bytes(b"x")
    with pytest.raises(TransferError, match="500"):
        await upload(f"{http.base}/broken", src, retries=3, retry_interval_s=0.01)
    assert http.hits["/broken"] == 4


async def test_upload_missing_source(http: HttpServer, tmp_path: Path) -> None:
    with pytest.raises(TransferError, match="no such file"):
        await upload(f"{http.base}/upload", tmp_path / "nope.zip", retries=3)
    assert http.hits == {}


# -------------------------------------------------------------------------------------------- HTTPS


async def test_https_download_with_trusted_ca(
    https: HttpServer, client_ssl: ssl.SSLContext, tmp_path: Path
) -> None:
    dest = tmp_path / "fw.bin"
    await download(f"{https.base}/fw.bin", dest, ssl_context=client_ssl)
    assert dest.read_bytes() == FIRMWARE


async def test_https_untrusted_certificate_is_a_transfer_error(https: HttpServer, tmp_path: Path) -> None:
    with pytest.raises(TransferError, match=r"(?i)certificate|ssl"):
        await download(f"{https.base}/fw.bin", tmp_path / "fw.bin")
    assert _leftovers(tmp_path) == []
    assert https.hits == {}


async def test_https_upload(https: HttpServer, client_ssl: ssl.SSLContext, tmp_path: Path) -> None:
    src = tmp_path / "d.zip"
    src.write_bytes(b"secure")
    await upload(f"{https.base}/upload", src, ssl_context=client_ssl)
    assert https.uploads == [("POST", "d.zip", b"secure")]


# ---------------------------------------------------------------------------------------------- FTP


async def test_ftp_download_with_credentials(ftp: FtpServer, tmp_path: Path) -> None:
    dest = tmp_path / "fw.bin"
    await download(f"{ftp.base}/fw.bin", dest, timeout_s=5)
    assert dest.read_bytes() == FIRMWARE
    assert _leftovers(tmp_path) == ["ftp-root", "fw.bin"]


async def test_ftp_download_anonymous(ftp: FtpServer, tmp_path: Path) -> None:
    dest = tmp_path / "fw.bin"
    await download(f"ftp://127.0.0.1:{ftp.port}/fw.bin", dest, timeout_s=5)
    assert dest.read_bytes() == FIRMWARE


async def test_ftp_missing_file(ftp: FtpServer, tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(TransferError, match="550"):
        await download(f"{ftp.base}/nope.bin", out / "fw.bin", timeout_s=5)
    assert _leftovers(out) == []


async def test_ftp_max_bytes(ftp: FtpServer, tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(TransferError, match="too large"):
        await download(f"{ftp.base}/fw.bin", out / "fw.bin", max_bytes=1000, timeout_s=5)
    assert _leftovers(out) == []


async def test_ftp_wrong_password_after_retries(ftp: FtpServer, tmp_path: Path) -> None:
    url = f"ftp://user:wrong@127.0.0.1:{ftp.port}/fw.bin"
    out = tmp_path / "out"
    with pytest.raises(TransferError) as info:
        await download(url, out / "fw.bin", retries=2, retry_interval_s=0.01, timeout_s=5)
    assert "530" in info.value.reason
    assert "wrong" not in str(info.value)  # password masked
    assert info.value.url == f"ftp://user:***@127.0.0.1:{ftp.port}/fw.bin"
    assert _leftovers(out) == []
    src = tmp_path / "d.zip"
    src.write_bytes(b"x")
    with pytest.raises(TransferError, match="530"):
        await upload(f"ftp://user:wrong@127.0.0.1:{ftp.port}/incoming/", src, retries=1, timeout_s=5)


async def test_ftp_upload_to_directory_url(ftp: FtpServer, tmp_path: Path) -> None:
    src = tmp_path / "cp1-diagnostics.zip"
    src.write_bytes(b"diag" * 1000)
    await upload(f"{ftp.base}/incoming/", src, timeout_s=5)
    assert (ftp.root / "incoming" / "cp1-diagnostics.zip").read_bytes() == b"diag" * 1000


async def test_ftp_upload_to_file_url(ftp: FtpServer, tmp_path: Path) -> None:
    src = tmp_path / "local.zip"
    src.write_bytes(b"payload")
    await upload(f"{ftp.base}/incoming/remote.zip", src, timeout_s=5)
    assert (ftp.root / "incoming" / "remote.zip").read_bytes() == b"payload"


async def test_ftp_upload_to_root_url(ftp: FtpServer, tmp_path: Path) -> None:
    src = tmp_path / "at-root.zip"
    src.write_bytes(b"root")
    await upload(ftp.base, src, timeout_s=5)
    assert (ftp.root / "at-root.zip").read_bytes() == b"root"


async def test_ftp_upload_denied_for_anonymous(ftp: FtpServer, tmp_path: Path) -> None:
    src = tmp_path / "d.zip"
    src.write_bytes(b"x")
    with pytest.raises(TransferError, match="550"):
        await upload(f"ftp://127.0.0.1:{ftp.port}/incoming/", src, timeout_s=5)
    assert not (ftp.root / "incoming" / "d.zip").exists()


# ------------------------------------------------------------------------------------------ archive


def test_diagnostics_archive(tmp_path: Path) -> None:
    now = 1_700_000_000.0  # 2023-11-14T22:13:20Z
    lines = [
        (now - 300, "too old"),
        (now - 200, "first kept"),
        (now - 100, "second kept\n"),
        (now, "too new"),
    ]
    path = build_diagnostics_archive(
        tmp_path,
        log_lines=lines,
        start=now - 200,
        stop=now - 100,
        config={"HeartbeatInterval": "300", "AuthorizeRemoteTxRequests": "true"},
        queue_summary={"pending": 2, "oldest": now},
        charge_point_id="CP-001",
        now=now,
    )
    assert path.name == "CP-001-diagnostics-20231114T221320Z.zip"
    assert path.parent == tmp_path
    assert _leftovers(tmp_path) == [path.name]
    with zipfile.ZipFile(path) as zf:
        assert zf.testzip() is None
        assert set(zf.namelist()) == {"info.json", "log.txt", "config.json", "queue.json"}
        log = zf.read("log.txt").decode()
        assert log.splitlines() == [
            "2023-11-14T22:10:00.000Z first kept",
            "2023-11-14T22:11:40.000Z second kept",
        ]
        assert json.loads(zf.read("config.json")) == {
            "AuthorizeRemoteTxRequests": "true",
            "HeartbeatInterval": "300",
        }
        assert json.loads(zf.read("queue.json")) == {"pending": 2, "oldest": now}
        info: dict[str, Any] = json.loads(zf.read("info.json"))
        assert info["chargePointId"] == "CP-001"
        assert info["startTime"] == "2023-11-14T22:10:00.000Z"


def test_diagnostics_archive_open_window_and_odd_id(tmp_path: Path) -> None:
    path = build_diagnostics_archive(
        tmp_path,
        log_lines=[(1.0, "a"), (2.0, "b")],
        start=None,
        stop=None,
        config={},
        queue_summary={"when": object()},  # non-JSON values are stringified
        charge_point_id="../x/" + "y" * 400,
        now=0.0,
    )
    assert len(path.name) <= 255
    assert "/" not in path.name and not path.name.startswith(".")
    assert path.name.endswith("-diagnostics-19700101T000000Z.zip")
    with zipfile.ZipFile(path) as zf:
        assert zf.read("log.txt").decode().count("\n") == 2
        assert json.loads(zf.read("info.json"))["startTime"] is None


async def test_archive_upload_roundtrip(http: HttpServer, tmp_path: Path) -> None:
    path = build_diagnostics_archive(
        tmp_path,
        log_lines=[(10.0, "boot")],
        start=None,
        stop=None,
        config={},
        queue_summary={},
        charge_point_id="CP7",
        now=100.0,
    )
    await upload(f"{http.base}/upload", path)
    [(_method, name, body)] = http.uploads
    assert name == path.name
    assert body == path.read_bytes()


# ------------------------------------------------------------------------------------ odds and ends


async def test_cancelled_download_leaves_nothing(http: HttpServer, tmp_path: Path) -> None:
    task = asyncio.create_task(download(f"{http.base}/slow", tmp_path / "fw.bin", retries=3))
    while "/slow" not in http.hits:
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert _leftovers(tmp_path) == []


async def test_unwritable_destination_is_a_transfer_error(
    http: HttpServer, ftp: FtpServer, tmp_path: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(TransferError):
        await download(f"{http.base}/fw.bin", blocker / "fw.bin")
    with pytest.raises(TransferError):
        await download(f"{ftp.base}/fw.bin", blocker / "fw.bin", timeout_s=5)


async def test_firmware_image_over_ftp_installs(ftp: FtpServer, tmp_path: Path) -> None:
    from ocpp_station.hardware.firmware import make_image, verify_and_install

    (ftp.root / "image.fw").write_bytes(make_image("9.9.9", FIRMWARE))
    dest = await download(f"{ftp.base}/image.fw", tmp_path / "dl" / "image.fw", timeout_s=5)
    assert verify_and_install(dest) == "9.9.9"
