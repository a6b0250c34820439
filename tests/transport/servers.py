"""Real file servers on 127.0.0.1 for the transfer tests: aiohttp (HTTP, HTTPS) and pyftpdlib (FTP)."""

from __future__ import annotations

import contextlib
import ssl
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

from aiohttp import web
from pyftpdlib.authorizers import DummyAuthorizer  # type: ignore[import-untyped]
from pyftpdlib.handlers import FTPHandler  # type: ignore[import-untyped]
from pyftpdlib.servers import FTPServer  # type: ignore[import-untyped]

#: The FTP user's password, and the same percent-encoded for URLs.
FTP_PASSWORD = "s3cret:/@"
FTP_PASSWORD_URL = "s3cret%3A%2F%40"


@contextlib.asynccontextmanager
async def serve_app(app: web.Application, ssl_context: ssl.SSLContext | None = None) -> AsyncIterator[str]:
    """Run ``app`` on a free port; yields its base URL (``http(s)://127.0.0.1:<port>``)."""
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"{'https' if ssl_context else 'http'}://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@contextlib.contextmanager
def ftp_server(root: Path) -> Iterator[int]:
    """An FTP server in a thread serving ``root``: user ``user`` (password :data:`FTP_PASSWORD`) may
    read and write, anonymous may read. Yields the port."""
    authorizer = DummyAuthorizer()
    authorizer.add_user("user", FTP_PASSWORD, str(root), perm="elradfmwMT")
    authorizer.add_anonymous(str(root))  # read-only
    handler = type("Handler", (FTPHandler,), {"authorizer": authorizer, "auth_failed_timeout": 0.01})
    server = FTPServer(("127.0.0.1", 0), handler)
    port: int = server.address[1]
    stop = threading.Event()

    def run() -> None:
        while not stop.is_set():
            server.serve_forever(timeout=0.05, blocking=False, handle_exit=False)
        server.close_all()

    thread = threading.Thread(target=run, name="test-ftpd", daemon=True)
    thread.start()
    try:
        yield port
    finally:
        stop.set()
        thread.join(timeout=5)
