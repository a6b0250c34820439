"""The websocket library under the link, behind one small interface (issue 11).

:class:`~ocpp_station.transport.connection.Link` owns everything OCPP-J asks of the connection (the
``ocpp1.6`` subprotocol, Basic auth, TLS contexts, the ping rounds of WebSocketPingInterval, the 4 MB
rule, back-off, what a failure means); a :class:`WsClient` only opens a websocket and a
:class:`WsConnection` only moves frames. Two implementations:

* ``websockets`` (the default, :data:`WEBSOCKETS`): python-websockets 17, frames written through its
  sans-I/O protocol object;
* ``picows`` (:mod:`~ocpp_station.transport.ws_picows`, the optional extra ``picows``): a Cython
  websocket for load, about a third of websockets' CPU per message; no permessage-deflate.

Both report failures the same way: the exceptions in :attr:`WsClient.errors` end an attempt, a TLS
error is itself or the cause of what is raised (``tls.tls_failure`` reads either), and
:meth:`WsClient.http_status` gives the status of an upgrade the server refused (401: bad Basic
credentials). A connection's frames go to one callback (no queue, no task per connection beyond the
caller's own), and :meth:`WsConnection.send_text` writes at once without waiting for the peer.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable
from typing import Protocol

import websockets
from websockets.asyncio.client import ClientConnection, connect
from websockets.datastructures import HeadersLike
from websockets.frames import Frame, Opcode
from websockets.http11 import USER_AGENT
from websockets.protocol import Event, State
from websockets.typing import Subprotocol

from ocpp_station.config.station import TRANSPORTS

MessageHandler = Callable[[str | bytes], None]


class WsConnection(Protocol):
    """One open websocket."""

    @property
    def transport(self) -> asyncio.Transport | None:
        """The asyncio transport underneath (write buffer, abort, TLS details); None once gone."""
        ...

    @property
    def subprotocol(self) -> str | None:
        """The subprotocol the server accepted (None: it accepted none)."""
        ...

    def is_open(self) -> bool:
        """False once a closing handshake started or the connection is gone."""
        ...

    def send_text(self, data: bytes) -> None:
        """Write ``data`` (UTF-8) as one text message now; never waits for the peer."""
        ...

    async def ping(self) -> Awaitable[object]:
        """Send a ping; the awaitable completes when its pong arrives. ConnectionError when closed."""
        ...

    async def close(self, code: int, reason: str) -> None:
        """A closing handshake with ``code``, then the connection is gone (aborted if the peer does not
        answer in time). Nothing when it is already closed."""
        ...

    async def serve(self, on_message: MessageHandler) -> None:
        """Hand every message received to ``on_message`` until the connection is closed or lost."""
        ...


class WsClient(Protocol):
    """Opens websockets (one object serves every station of a process)."""

    #: The name in the config file.
    name: str
    #: What an attempt that failed may raise (besides the TLS errors, which are OSErrors).
    errors: tuple[type[BaseException], ...]

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
        """Connect and upgrade (TLS for ``wss://`` with ``ssl_context``); raises one of :attr:`errors`."""
        ...

    def http_status(self, exc: BaseException) -> int | None:
        """The HTTP status of the upgrade response ``exc`` reports a refusal of; None: not a refusal."""
        ...


# -- websockets -------------------------------------------------------------------------------------------
class _Connection(ClientConnection):
    """websockets' client connection, with two changes.

    * A TLS alert that ends the opening handshake is told as what it is: TLS 1.3 sends the server's
      verdict on the client certificate (security profile 3) after the TLS handshake, so websockets
      sees a connection lost before the HTTP response and reports a bad response; the TLS error it was
      lost with is raised instead (see ``tls.tls_failure``).
    * Messages are handed to the link's callback as they are parsed (``process_event``), as picows
      does, not queued in websockets' assembler for a reader task to ``recv()``: no future, no task
      wake-up and no queue per message (issue 9: the station's CPU per message). Fragments are put
      together here; a text message is passed on as its UTF-8 bytes, which the frame decoder checks
      (as with picows). Messages parsed before :meth:`WebsocketsConnection.serve` gives the callback
      (in the segment of the handshake response) wait in ``early``.
    """

    on_message: MessageHandler | None = None
    #: Messages parsed before there was a callback.
    early: list[bytes] | None = None
    #: The parts of a fragmented message being put together.
    parts: list[bytes] | None = None

    async def handshake(
        self, additional_headers: HeadersLike | None = None, user_agent_header: str | None = USER_AGENT
    ) -> None:
        try:
            await super().handshake(additional_headers, user_agent_header)
        except websockets.exceptions.InvalidMessage as exc:
            lost = self.connection_exc
            if isinstance(lost, ssl.SSLError):
                raise lost from exc
            raise

    def process_event(self, event: Event) -> None:
        if self.response is None or not isinstance(event, Frame):
            super().process_event(event)  # the handshake response
            return
        opcode = event.opcode
        if opcode is Opcode.TEXT or opcode is Opcode.BINARY:
            if event.fin:
                self._deliver(bytes(event.data))
            else:
                self.parts = [bytes(event.data)]
        elif opcode is Opcode.CONT:
            parts = self.parts
            if parts is None:  # the protocol object refuses a stray continuation before this
                return
            parts.append(bytes(event.data))
            if event.fin:
                self.parts = None
                self._deliver(b"".join(parts))
        elif opcode is Opcode.PONG:
            self.acknowledge_pings(bytes(event.data))
        # PING and CLOSE: answered by the protocol object itself.

    def _deliver(self, message: bytes) -> None:
        on_message = self.on_message
        if on_message is not None:
            on_message(message)
        elif self.early is None:
            self.early = [message]
        else:
            self.early.append(message)


class WebsocketsConnection:
    """A python-websockets client connection."""

    __slots__ = ("ws",)

    def __init__(self, ws: _Connection) -> None:
        self.ws = ws

    @property
    def transport(self) -> asyncio.Transport | None:
        return self.ws.transport

    @property
    def subprotocol(self) -> str | None:
        return self.ws.subprotocol

    def is_open(self) -> bool:
        return self.ws.protocol.state is State.OPEN

    def send_text(self, data: bytes) -> None:
        # What ``await ws.send()`` does before it waits for the write buffer to drain: the frame is
        # built by the sans-I/O protocol object and handed to the transport.
        ws = self.ws
        ws.protocol.send_text(data)
        ws.send_data()

    async def ping(self) -> Awaitable[object]:
        try:
            return await self.ws.ping()
        except websockets.exceptions.ConnectionClosed as exc:
            raise ConnectionError(str(exc)) from exc

    async def close(self, code: int, reason: str) -> None:
        await self.ws.close(code, reason)

    async def serve(self, on_message: MessageHandler) -> None:
        ws = self.ws
        early, ws.early = ws.early, None
        for message in early or ():
            on_message(message)
        ws.on_message = on_message
        try:
            await ws.wait_closed()
        finally:
            ws.on_message = None


class WebsocketsClient:
    """python-websockets 17 (the default)."""

    name = "websockets"
    errors: tuple[type[BaseException], ...] = (
        TimeoutError,
        OSError,
        websockets.exceptions.WebSocketException,
    )

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
        extra: dict[str, object] = {} if ssl_context is None else {"ssl": ssl_context}
        # Awaited rather than entered: the connect() object (its options, its factory) is not kept for
        # the life of the connection.
        ws = await connect(
            url,
            subprotocols=[Subprotocol(p) for p in subprotocols],
            additional_headers=headers,
            ping_interval=None,  # the link's own pings follow WebSocketPingInterval at run time
            compression=None,
            open_timeout=open_timeout,
            close_timeout=close_timeout,
            proxy=None,
            user_agent_header="ocpp-station",
            create_connection=_Connection,
            **extra,  # type: ignore[arg-type]
        )
        # The handshake's request and response (their headers) are not read again: a fleet of
        # thousands keeps about 3 KB less per station without them (issue #9).
        assert isinstance(ws, _Connection)
        ws.request = None
        if ws.response is not None:  # kept: websockets tells the handshake by it
            ws.response.headers.clear()
        return WebsocketsConnection(ws)

    def http_status(self, exc: BaseException) -> int | None:
        if isinstance(exc, websockets.exceptions.InvalidStatus):
            return exc.response.status_code
        return None


WEBSOCKETS = WebsocketsClient()


def client_for(name: str) -> WsClient:
    """The client the config file's ``connection.transport`` names (checked when it was loaded)."""
    if name == "websockets":
        return WEBSOCKETS
    if name == "picows":
        from ocpp_station.transport.ws_picows import PICOWS

        return PICOWS
    raise ValueError(f"unknown websocket transport {name!r}; known: {', '.join(TRANSPORTS)}")
