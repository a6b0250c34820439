"""A TCP proxy on 127.0.0.1 between a station and its CSMS, for network-fault tests.

    async with TcpProxy(csms.port) as proxy:
        url = proxy.url("/ocpp/")        # the station connects here
        proxy.cut_all()                  # close both sides of every connection now
        proxy.cut_mid_frame(5)           # the next station->CSMS chunk: only its first 5 bytes, then close
        proxy.blackhole()                # open connections stop forwarding, sockets stay open
        await proxy.wait_connections(3)  # connections accepted so far

Bounded: every read is at most ``CHUNK`` bytes, and the proxy closes itself (every connection and
the listening socket) ``lifetime_s`` after it started, so a test that forgets it cannot hang.
"""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType
from typing import Self

CHUNK = 65536


class _Link:
    """One accepted connection: the station side and the CSMS side."""

    def __init__(self, station: asyncio.StreamWriter, csms: asyncio.StreamWriter) -> None:
        self.station = station
        self.csms = csms
        #: Swallow everything in both directions, keep the sockets open (a dead NAT entry).
        self.frozen = False
        self.closed = False

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for writer in (self.station, self.csms):
            transport = writer.transport
            if not transport.is_closing():
                # abort(): no FIN handshake, no waiting for buffered data (a cut cable)
                transport.abort()


class TcpProxy:
    def __init__(
        self, upstream_port: int, *, upstream_host: str = "127.0.0.1", lifetime_s: float = 60.0
    ) -> None:
        self.upstream_host = upstream_host
        self.upstream_port = upstream_port
        self.lifetime_s = lifetime_s
        #: Connections accepted since start (each one a station connection attempt that reached us).
        self.connections = 0
        #: Connections cut by :meth:`cut_mid_frame`, and the bytes they let through before the cut.
        self.mid_frame_cuts: list[bytes] = []
        self._links: set[_Link] = set()
        self._server: asyncio.Server | None = None
        self._expiry: asyncio.TimerHandle | None = None
        self._cut_after: int | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._changed = asyncio.Event()
        self._expiring: asyncio.Task[None] | None = None

    # -- lifecycle -----------------------------------------------------------------------------------
    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self._expiry = asyncio.get_running_loop().call_later(self.lifetime_s, self._expire)

    async def stop(self) -> None:
        expiring, self._expiring = self._expiring, None
        if expiring is not None and expiring is not asyncio.current_task():
            expiring.cancel()
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        server, self._server = self._server, None
        if server is not None:
            server.close()
        self.cut_all()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 2)

    def _expire(self) -> None:
        self._expiry = None
        self._expiring = asyncio.get_running_loop().create_task(self.stop())

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the proxy is not running")
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    def url(self, path: str = "/ocpp/") -> str:
        return f"ws://127.0.0.1:{self.port}{path}"

    # -- faults --------------------------------------------------------------------------------------
    def cut_all(self) -> None:
        """Close both sides of every open connection now."""
        for link in list(self._links):
            link.close()
        self._links.clear()
        self._changed.set()

    def cut_mid_frame(self, first_bytes: int) -> None:
        """The next chunk the station sends (on any connection) is forwarded only up to its first
        ``first_bytes`` bytes; then both sides of that connection are closed."""
        if first_bytes < 1:
            raise ValueError("first_bytes must be >= 1")
        self._cut_after = first_bytes

    def blackhole(self) -> None:
        """The connections open now stop forwarding in both directions (their sockets stay open,
        nothing is closed). New connections are not affected."""
        for link in self._links:
            link.frozen = True

    @property
    def open_connections(self) -> int:
        return len(self._links)

    async def wait_connections(self, count: int, timeout: float = 10.0) -> None:
        """Return once at least ``count`` connections were accepted since start."""
        async with asyncio.timeout(timeout):
            while self.connections < count:
                self._changed.clear()
                await self._changed.wait()

    # -- forwarding ----------------------------------------------------------------------------------
    async def _accept(self, station_r: asyncio.StreamReader, station_w: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            try:
                csms_r, csms_w = await asyncio.wait_for(
                    asyncio.open_connection(self.upstream_host, self.upstream_port), 5
                )
            except (OSError, TimeoutError):
                station_w.transport.abort()  # the CSMS is down: the station sees a refused link
                return
            link = _Link(station_w, csms_w)
            self._links.add(link)
            self.connections += 1
            self._changed.set()
            try:
                await asyncio.gather(
                    self._pipe(link, station_r, csms_w, upstream=True),
                    self._pipe(link, csms_r, station_w, upstream=False),
                )
            finally:
                link.close()
                self._links.discard(link)
                self._changed.set()
        finally:
            self._tasks.discard(task)

    async def _pipe(
        self, link: _Link, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, upstream: bool
    ) -> None:
        try:
            while not link.closed:
                data = await reader.read(CHUNK)
                if not data:
                    break
                if link.frozen:
                    continue
                if upstream and self._cut_after is not None:
                    keep, self._cut_after = data[: self._cut_after], None
                    writer.write(keep)
                    with contextlib.suppress(ConnectionError):
                        await writer.drain()
                        for _ in range(100):  # let the kernel take the bytes before the cut
                            if writer.transport.get_write_buffer_size() == 0:
                                break
                            await asyncio.sleep(0.001)
                    self.mid_frame_cuts.append(keep)
                    break
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            link.close()
