"""The station's websocket link: connect, back-off, ping, send. No OCPP here.

:class:`Link` keeps one websocket to the CSMS up for as long as it is allowed to: it connects with the
``ocpp1.6`` subprotocol (OCPP-J 1.6 §3.1.2; HTTP Basic auth §6.2.2 / security profile 1; TLS for
``wss://`` as :mod:`~ocpp_station.transport.tls` sets it up, security profiles 2-3, a refused handshake
or HTTP 401 logged and reported to the listener as the security event it stands for), reconnects after a loss with the back-off of
:mod:`~ocpp_station.transport.backoff` (reset by a connection that stayed up :data:`GOOD_CONNECTION_S`),
pings at WebSocketPingInterval (§9.1.34) and drops a link whose pong does not come back within the
interval. What arrives goes to a
:class:`LinkListener` (the station); what the station sends goes out at once. The websocket library
underneath is the config file's ``connection.transport`` (python-websockets or picows), behind the
interface of :mod:`~ocpp_station.transport.ws`: everything above (subprotocol check, Basic auth, TLS
contexts, pings, the 4 MB rule, failure classification, back-off) is the same on both.

Connection outcomes go to the listener too, for the security profile fallback and the CSMS root
fallback (security whitepaper A05.FR.08, M05.FR.12-13): every attempt that ends before the websocket
opened (``connect_failed``), and for TLS the chain the CSMS's certificate was verified along
(``server_verified``). The URL of each attempt is the listener's (``connection_url``: the security
profile in force decides ``ws://`` or ``wss://``). Installed roots are trust anchors even when they
are not self-signed (``VERIFY_X509_PARTIAL_CHAIN``): a CentralSystemRootCertificate that replaced the
old one is signed by it (M05.FR.09) and must verify alone once the old one is removed (M05.FR.12).

Memory per link (issue 9: a fleet runs thousands in one process): no task while the link is idle
(the caller's own task runs :meth:`Link.run`; a ping round is a short task, between rounds a timer
handle), no queue (a frame is written when it is sent), and asyncio primitives only while someone
waits on them.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import ssl
import time
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, Protocol

from ocpp_station.config.station import StationConfig
from ocpp_station.transport.backoff import backoff_delays
from ocpp_station.transport.tls import FAILED_TO_AUTHENTICATE, client_context, ssl_cause, tls_failure
from ocpp_station.transport.ws import WsClient, WsConnection, client_for

log = logging.getLogger("ocpp_station.station")
#: Bytes written and not yet taken by the peer beyond which the link is dropped (see Link.send).
MAX_UNSENT_BYTES = 4 * 1024 * 1024

SUBPROTOCOL = "ocpp1.6"
#: A connection that stayed up this long resets the back-off.
GOOD_CONNECTION_S = 30.0

Spawn = Callable[[Coroutine[Any, Any, None]], "asyncio.Task[None]"]


class SubprotocolRefused(Exception):
    pass


class LinkListener(Protocol):
    """What the link reports (the station)."""

    def link_opened(self) -> None: ...

    def frame_received(self, message: str | bytes) -> None: ...

    def link_closed(self) -> None: ...

    def basic_auth_password(self) -> str | None:
        """The HTTP Basic password of the next connection (AuthorizationKey), None: no header."""
        ...

    def csms_root_certificates(self) -> list[str]:
        """PEM texts of the installed CentralSystemRootCertificates, trusted for ``wss://`` next to the
        config file's ``caBundle`` (security whitepaper A00.FR.307)."""
        ...

    def client_certificate(self) -> tuple[str, str] | None:
        """The ChargePointCertificate chain and its private key (PEM texts) the next ``wss://``
        connection presents (security profile 3, A00.FR.401-); None: none."""
        ...

    def connection_url(self) -> str:
        """The URL of the next connection attempt (the security profile in force picks the scheme)."""
        ...

    def connect_failed(self, reason: str) -> None:
        """A connection attempt ended before the websocket opened (A05.FR.08 counts them)."""
        ...

    def server_verified(self, fingerprints: tuple[str, ...]) -> None:
        """The TLS connection just opened verified the CSMS along this chain: SHA-256 fingerprints of
        the DER certificates, the server's first, the trust anchor last (M05.FR.12)."""
        ...

    def security_event(self, event_type: str, tech_info: str) -> None:
        """A connection attempt failed for a security reason (security whitepaper §8): a TLS handshake
        refused (InvalidCentralSystemCertificate, InvalidTLSVersion, InvalidTLSCipherSuite,
        FailedToAuthenticationAtCentralSystem) or HTTP 401 to the upgrade
        (FailedToAuthenticationAtCentralSystem)."""
        ...


class Link:
    """One station's websocket to the CSMS: ``await link.run()`` until :meth:`stop`."""

    __slots__ = (
        "_again",
        "_client",
        "_config",
        "_listener",
        "_opened",
        "_ping_round",
        "_ping_timer",
        "_spawn",
        "_url",
        "_wake",
        "allowed",
        "ping_interval",
        "stopping",
        "ws",
    )

    def __init__(self, config: StationConfig, listener: LinkListener, spawn: Spawn) -> None:
        self._config = config
        self._listener = listener
        #: Starts a task the station owns (its TaskGroup).
        self._spawn = spawn
        #: The websocket library (the config file's ``connection.transport``).
        self._client: WsClient = client_for(config.transport)
        #: The open websocket, None between connections.
        self.ws: WsConnection | None = None
        #: False after :meth:`disconnect` (the network API): no connection until :meth:`allow`.
        self.allowed = True
        self.stopping = False
        #: WebSocketPingInterval in seconds; 0: no pings.
        self.ping_interval = 0
        #: Resolved to wake :meth:`run` from a back-off or an offline wait; exists only during one.
        self._wake: asyncio.Future[None] | None = None
        self._ping_timer: asyncio.TimerHandle | None = None
        self._ping_round: asyncio.Task[None] | None = None
        #: Set by :meth:`reconnect`: the next connection is made at once, without back-off.
        self._again = False
        #: Whether the websocket of the current attempt opened (a failure before it is connect_failed).
        self._opened = False
        #: The URL of the current connection attempt.
        self._url = config.url

    # -- control ---------------------------------------------------------------------------------------
    def disconnect(self) -> None:
        """Drop the link and stay offline until :meth:`allow`."""
        self.allowed = False
        self._poke()
        ws = self.ws
        if ws is not None and ws.transport is not None:
            ws.transport.abort()

    def allow(self) -> None:
        self.allowed = True
        self._poke()

    def stop(self) -> None:
        """No more connections: :meth:`run` returns once the current one (if any) is closed."""
        self.stopping = True
        self._poke()

    def reconnect(self, reason: str) -> None:
        """Close the open websocket normally (1000) and connect again at once, with what
        ``basic_auth_password`` gives then: the AuthorizationKey or the SecurityProfile changed
        (security whitepaper A01, A05.FR.06-07)."""
        ws = self.ws
        if ws is not None:
            self._again = True  # the back-off is skipped once, after this connection ends
            log.info("reconnecting: %s", reason)
            self._spawn(ws.close(1000, reason[:120]))
        else:
            self._poke()  # waiting out a back-off: try now (the next attempt uses the new settings)

    async def close(self, code: int, reason: str) -> None:
        """Close the open websocket (if any) with a closing handshake."""
        ws = self.ws
        if ws is not None:
            await ws.close(code, reason)

    def _poke(self) -> None:
        wake = self._wake
        if wake is not None and not wake.done():
            wake.set_result(None)

    async def _sleep(self, delay: float | None) -> None:
        """Wait ``delay`` seconds (None: for ever) or until poked, whichever comes first."""
        wake: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._wake = wake
        try:
            async with asyncio.timeout(delay):
                await wake
        except TimeoutError:
            pass
        finally:
            self._wake = None

    # -- sending ---------------------------------------------------------------------------------------
    def send(self, data: bytes) -> bool:
        """Write ``data`` as one text message now; False when there is no open link (the frame is
        dropped, as the engine expects from a link that went down).

        The frame goes to the transport at once (``WsConnection.send_text``), without waiting for the
        write buffer to drain. Not waiting means no writer task and no queue per station; the buffer
        the transport keeps instead is bounded by what the engine sends (one CALL in flight, OCPP-J
        §4.1.1)."""
        ws = self.ws
        if ws is None:
            return False
        if not ws.is_open():
            return True  # closing: lost with the link, as a frame written to a dying socket is
        ws.send_text(data)
        transport = ws.transport
        if transport is not None and transport.get_write_buffer_size() > MAX_UNSENT_BYTES:
            # Our CALLs are one at a time, but our answers are not: a peer that sends CALLs and
            # does not read what we write would grow this buffer for ever. Drop it, as a dead link.
            log.error(
                "the central system reads nothing: %s bytes unsent, dropping the connection",
                transport.get_write_buffer_size(),
            )
            transport.abort()
        return True

    # -- running ---------------------------------------------------------------------------------------
    async def run(self) -> None:
        """Connect and serve until :meth:`stop`; reconnects for ever with back-off."""
        # The back-off's generator is made when a connection failed or dropped, not kept while the
        # link is up (240 bytes per station, issue 11).
        delays: Iterator[float] | None = None
        while not self.stopping:
            if not self.allowed:
                await self._sleep(None)
                continue
            started = time.monotonic()
            self._url = self._listener.connection_url()
            self._opened = False
            failure: str | None = None
            try:
                await self._connection()
            except SubprotocolRefused as exc:
                log.error("%s", exc)
                failure = str(exc)
            except self._client.errors as exc:
                failure = self._log_failure(exc)
            if failure is not None and not self._opened and not self.stopping:
                self._listener.connect_failed(failure)
            if self.stopping:
                break
            if self._again:
                self._again = False
                delays = None
                continue
            if delays is None or time.monotonic() - started > GOOD_CONNECTION_S:
                delays = backoff_delays(self._config.reconnect)
            delay = next(delays)
            log.info("reconnecting in %.1f s", delay)
            await self._sleep(delay)

    def _log_failure(self, exc: BaseException) -> str:
        """Why a connection failed: a TLS refusal (ERROR, with the security event it stands for, security
        whitepaper A00.FR.309-310, 315, 322), another TLS failure or a network one (WARNING). Returns
        the reason in a few words."""
        url = self._url
        failure = tls_failure(exc)
        if failure is not None:
            log.error("TLS with %s refused: %s", url, failure.describe())
            self._listener.security_event(failure.event, failure.detail)
            return f"TLS refused: {failure.event}"
        if self._client.http_status(exc) == 401:
            # The CSMS rejected the HTTP Basic credentials (A00.FR.202-205; whitepaper §8).
            log.error(
                "connection to %s refused: HTTP 401: %s (security event %s)", url, exc, FAILED_TO_AUTHENTICATE
            )
            self._listener.security_event(FAILED_TO_AUTHENTICATE, f"{url}: {exc}")
            return "HTTP 401"
        if (cause := ssl_cause(exc)) is not None:
            log.warning("TLS with %s failed: %s", url, cause)
            return f"TLS failed: {cause}"[:200]
        text = str(exc) or type(exc).__name__
        log.warning("connection to %s failed: %s", url, text)
        return text[:200]

    def _headers(self) -> dict[str, str]:
        headers: dict[str, str] = {}
        password = self._listener.basic_auth_password()
        if password is not None:
            # OCPP-J 1.6 §6.2.2; security whitepaper A00.FR.202-205: user = charge point id,
            # password = AuthorizationKey.
            token = f"{self._config.charge_point_id}:{password}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(token).decode()
        return headers

    def _ssl_context(self) -> ssl.SSLContext | None:
        if not self._url.startswith("wss://"):
            return None
        # Made for each connection: the installed roots and the client certificate may have
        # changed since the last one (InstallCertificate, CertificateSigned).
        listener = self._listener
        roots = listener.csms_root_certificates()
        context = client_context(self._config.ca_bundle, roots, listener.client_certificate())
        if roots:
            # An installed root is a trust anchor even when it is not self-signed (M05.FR.09,
            # 12). Only then: with the system store alone, no intermediate becomes an anchor.
            context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
        return context

    def _report_chain(self, ws: WsConnection) -> None:
        """Tell the listener which chain verified the CSMS (M05.FR.12). Python 3.13 has
        ``SSLObject.get_verified_chain``; 3.11 has it on the private ``_sslobj`` only."""
        transport = ws.transport
        ssl_object = None if transport is None else transport.get_extra_info("ssl_object")
        if ssl_object is None:
            return
        getter = getattr(ssl_object, "get_verified_chain", None)
        if getter is None:
            getter = getattr(getattr(ssl_object, "_sslobj", None), "get_verified_chain", None)
        if getter is None:
            log.debug("the verified TLS chain cannot be read on this Python")
            return
        try:
            chain = [cert.public_bytes(ssl._ssl.ENCODING_DER) for cert in getter()]  # type: ignore[attr-defined]
        except (ssl.SSLError, ValueError, AttributeError) as exc:
            log.warning("the verified TLS chain cannot be read: %s", exc)
            return
        self._listener.server_verified(tuple(hashlib.sha256(der).hexdigest() for der in chain))

    async def _connection(self) -> None:
        url = self._url
        ws = await self._client.open(
            url,
            subprotocols=[SUBPROTOCOL],
            headers=self._headers(),
            ssl_context=self._ssl_context(),
            open_timeout=15,
            close_timeout=5,
        )
        try:
            if ws.subprotocol != SUBPROTOCOL:
                await ws.close(1002, "ocpp1.6 required")
                raise SubprotocolRefused(
                    f"{url}: the server did not accept the ocpp1.6 subprotocol (it answered {ws.subprotocol!r})"
                )
            if not self.allowed:
                return
            log.info("connected to %s", url)
            self._opened = True
            self.ws = ws
            self._arm_ping()
            listener = self._listener
            if url.startswith("wss://"):
                self._report_chain(ws)
            try:
                listener.link_opened()
                await ws.serve(listener.frame_received)
            finally:
                self.ws = None
                self._disarm_ping()
                listener.link_closed()
        finally:
            await ws.close(1000, "")  # nothing when the connection is already closed

    # -- ping (WebSocketPingInterval, OCPP 1.6 §9.1.34) ---------------------------------------------------
    def set_ping_interval(self, interval_s: int) -> None:
        """A ping every ``interval_s`` (0: none), counted again from now."""
        self.ping_interval = interval_s
        if self._ping_timer is not None:
            self._ping_timer.cancel()
            self._ping_timer = None
        if self._ping_round is None:
            self._arm_ping()  # a round in progress arms the next one with the new interval

    def _arm_ping(self) -> None:
        if self.ws is not None and self.ping_interval > 0:
            loop = asyncio.get_running_loop()
            self._ping_timer = loop.call_later(self.ping_interval, self._ping_due)

    def _disarm_ping(self) -> None:
        if self._ping_timer is not None:
            self._ping_timer.cancel()
            self._ping_timer = None
        if self._ping_round is not None:
            self._ping_round.cancel()
            self._ping_round = None

    def _ping_due(self) -> None:
        self._ping_timer = None
        ws = self.ws
        if ws is not None:
            self._ping_round = self._spawn(self._ping(ws, self.ping_interval))

    async def _ping(self, ws: WsConnection, interval: int) -> None:
        """One round: a ping; no pong within the interval means the link is dead, so it is dropped
        (and replaced by :meth:`run`)."""
        try:
            pong = await ws.ping()
            async with asyncio.timeout(interval):
                await pong
        except TimeoutError:
            log.warning("no pong within %s s: dropping the connection", interval)
            if ws.transport is not None:
                ws.transport.abort()
            return
        except ConnectionError:
            # The connection closed while the pong was awaited (a stop, the CSMS closing): nothing
            # to drop, and no warning (a fleet stopping 10,000 stations logged one per station).
            return
        finally:
            if self._ping_round is asyncio.current_task():
                self._ping_round = None
        self._arm_ping()
