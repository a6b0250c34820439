"""picows under the link (``connection.transport: "picows"``, the optional extra ``picows``; issue 11).

picows is a websocket written in Cython around asyncio's protocol callbacks: a frame arrives in
:meth:`PicowsConnection.on_ws_frame` and goes straight to the station, with no reader task and no
message queue, which is what makes it cheaper per message than python-websockets. It leaves a few
things to its user that websockets does itself, done here the same way websockets does them:

* the subprotocol: offered in ``Sec-WebSocket-Protocol`` and read back from the upgrade response;
* the closing handshake: a CLOSE from the server is answered with the same code, then the TCP
  connection is closed; our own CLOSE waits ``close_timeout`` for the server's before aborting;
* fragmented messages are put together (OCPP-J sends whole frames, but the websocket allows fragments);
* pongs resolve the pending ping round (picows answers the server's pings itself).

Text messages reach the station as bytes (the engine's JSON decoder reads bytes and checks their
UTF-8 itself). picows has no permessage-deflate (the link asks for none with websockets either).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Awaitable
from typing import TYPE_CHECKING

from picows import (
    WSCloseCode,
    WSError,
    WSFrame,
    WSHandshakeError,
    WSListener,
    WSMsgType,
    WSTransport,
    ws_connect,
)

from ocpp_station.transport.ws import MessageHandler, WsConnection

if TYPE_CHECKING:
    from typing_extensions import Buffer

_LOG = logging.getLogger("ocpp_station.picows")
_TEXT = WSMsgType.TEXT
_BINARY = WSMsgType.BINARY
_CONTINUATION = WSMsgType.CONTINUATION
_CLOSE = WSMsgType.CLOSE
_PONG = WSMsgType.PONG


def _close_code(code: int) -> WSCloseCode:
    try:
        return WSCloseCode(code)
    except ValueError:
        return WSCloseCode.OK


class _RecordingSSLObject(ssl.SSLObject):
    """An SSLObject that keeps the TLS error a read fails with on its context (``ocpp_lost``): picows
    reports a connection lost during the upgrade without its cause, and TLS 1.3 sends the server's
    refusal of the client certificate (security profile 3) as an alert after the handshake."""

    def read(self, len: int = 1024, buffer: Buffer | None = None) -> bytes:
        try:
            return super().read(len, buffer)
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError, ssl.SSLZeroReturnError):
            raise
        except ssl.SSLError as exc:
            lost = getattr(self.context, "ocpp_lost", None)
            if isinstance(lost, list):
                lost.append(exc)
            raise


class PicowsConnection(WSListener):
    """One picows client connection: its listener and the :class:`WsConnection` the link uses."""

    def __init__(self) -> None:
        self.ws: WSTransport | None = None
        #: Where messages go (set by :meth:`serve`); until then they wait in ``_early``.
        self._on_message: MessageHandler | None = None
        self._early: list[bytes] | None = None
        #: A fragmented message being put together: its type and parts.
        self._parts: list[bytes] | None = None
        self._binary = False
        self._pong: asyncio.Future[None] | None = None
        self._gone: asyncio.Future[None] | None = None
        self._close_timeout = 5.0
        self.subprotocol: str | None = None

    # -- WsConnection --------------------------------------------------------------------------------------
    @property
    def transport(self) -> asyncio.Transport | None:
        ws = self.ws
        if ws is None or ws.is_disconnected:
            return None
        return ws.underlying_transport

    def is_open(self) -> bool:
        ws = self.ws
        return ws is not None and not ws.is_close_frame_sent and not ws.is_disconnected

    def send_text(self, data: bytes) -> None:
        ws = self.ws
        if ws is not None:
            ws.send(_TEXT, data)

    async def ping(self) -> Awaitable[object]:
        ws = self.ws
        if ws is None or not self.is_open():
            raise ConnectionError("the websocket is closed")
        pong = self._pong
        if pong is None or pong.done():
            pong = self._pong = asyncio.get_running_loop().create_future()
        ws.send_ping(b"ocpp-station")
        return pong

    async def close(self, code: int, reason: str) -> None:
        ws = self.ws
        if ws is None or ws.is_disconnected:
            return
        if not ws.is_close_frame_sent:
            ws.send_close(_close_code(code), reason.encode()[:123])
        try:
            async with asyncio.timeout(self._close_timeout):
                await ws.wait_disconnected()
        except TimeoutError:
            ws.disconnect(False)
        except Exception:  # a failure picows saw on this connection: it is gone either way
            ws.disconnect(False)

    async def serve(self, on_message: MessageHandler) -> None:
        ws = self.ws
        if ws is None:
            return
        self._on_message = on_message
        early, self._early = self._early, None
        for message in early or ():
            on_message(message)
        gone = self._gone
        if gone is None:
            gone = self._gone = asyncio.get_running_loop().create_future()
            if ws.is_disconnected:
                return
        await gone

    # -- picows callbacks ----------------------------------------------------------------------------------
    def on_ws_connected(self, transport: WSTransport) -> None:
        self.ws = transport

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        kind = frame.msg_type
        if kind is _TEXT or kind is _BINARY:
            if frame.fin:
                self._deliver(frame.get_payload_as_bytes())
            else:
                self._binary = kind is _BINARY
                self._parts = [frame.get_payload_as_bytes()]
        elif kind is _CONTINUATION:
            parts = self._parts
            if parts is None:
                transport.send_close(WSCloseCode.PROTOCOL_ERROR, b"unexpected continuation frame")
                transport.disconnect()
                return
            parts.append(frame.get_payload_as_bytes())
            if frame.fin:
                self._parts = None
                self._deliver(b"".join(parts))
        elif kind is _PONG:
            pong = self._pong
            if pong is not None and not pong.done():
                pong.set_result(None)
        elif kind is _CLOSE:
            if not transport.is_close_frame_sent:
                transport.send_close(frame.get_close_code(), frame.get_close_message())
            transport.disconnect()

    def _deliver(self, message: bytes) -> None:
        on_message = self._on_message
        if on_message is not None:
            on_message(message)
        else:
            if self._early is None:
                self._early = []
            self._early.append(message)

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        gone = self._gone
        if gone is None:
            try:
                self._gone = asyncio.get_running_loop().create_future()
            except RuntimeError:
                return
            gone = self._gone
        if not gone.done():
            gone.set_result(None)
        pong = self._pong
        if pong is not None and not pong.done():
            pong.set_exception(ConnectionError("the websocket was lost"))
            pong.exception()  # retrieved: nobody may be waiting for it


class PicowsClient:
    """picows (``connection.transport: "picows"``)."""

    name = "picows"
    errors: tuple[type[BaseException], ...] = (TimeoutError, OSError, WSError)

    async def open(
        self,
        url: str,
        *,
        subprotocols: list[str],
        headers: dict[str, str],
        ssl_context: ssl.SSLContext | None,
        open_timeout: float,
        close_timeout: float,
    ) -> WsConnection:
        lost: list[ssl.SSLError] = []
        if ssl_context is not None:
            ssl_context.sslobject_class = _RecordingSSLObject
            ssl_context.ocpp_lost = lost  # type: ignore[attr-defined]
        extra = dict(headers)
        extra["Sec-WebSocket-Protocol"] = ", ".join(subprotocols)
        extra["User-Agent"] = "ocpp-station"
        async with asyncio.timeout(open_timeout):
            ws, listener = await ws_connect(
                PicowsConnection,
                url,
                ssl_context=ssl_context,
                websocket_handshake_timeout=open_timeout,
                enable_auto_ping=False,  # the link's own pings follow WebSocketPingInterval
                extra_headers=extra,
                max_redirects=0,
                # A fleet keeps thousands: most OCPP frames fit in 2 KB (picows' least); a larger one grows the buffer.
                read_buffer_init_size=2048,
                logger_name=_LOG,
                # asyncio's own transports, as with websockets: the link reads the verified TLS chain
                # from its SSLObject (M05.FR.12), the TLS errors are the same, and a station keeps
                # about 5 KB less than on aiofastnet's transport for the same CPU (bench_stations).
                use_aiofastnet=False,
            )
        if not isinstance(listener, PicowsConnection):  # lost before the upgrade response
            if lost:
                raise lost[-1]
            raise ConnectionResetError("the connection was lost before the websocket upgrade")
        listener.ws = ws
        listener._close_timeout = close_timeout
        listener.subprotocol = ws.response.headers.get("Sec-WebSocket-Protocol")
        return listener

    def http_status(self, exc: BaseException) -> int | None:
        if isinstance(exc, WSHandshakeError) and exc.response is not None:
            return int(exc.response.status)
        return None


PICOWS = PicowsClient()
