"""A development Central System (OCPP 1.6J CSMS) for demos, development and tests.

One aiohttp application serves, on one port (127.0.0.1 by default):

* the OCPP-J websocket endpoint (OCPP-J 1.6 §3): ``ws://HOST:PORT/ocpp/<chargePointId>``, or any
  ``/<anything>/<chargePointId>``; the charge point id is the last (percent-decoded) path segment;
  ``wss://`` when given a TLS context (security profiles 2-3: :func:`~ocpp_station.transport.tls.server_context`
  makes one with the whitepaper's versions and cipher suites, optionally requiring client certificates);
* a JSON HTTP API under ``/api``: ``GET /api/stations``, ``GET /api/stations/{id}``,
  ``GET /api/log?station=ID&since=N`` and ``POST /api/stations/{id}/call``;
* firmware images and diagnostics uploads under ``/files`` (:mod:`ocpp_station.sim.files`);
* a web page at ``/`` (:mod:`ocpp_station.sim.csms_page`): the stations, the live trace and a form to
  send any CSMS-initiated message; it follows ``GET /api/events`` (Server-Sent Events).

Every frame received is decoded and validated with :mod:`ocpp_station.wire`; an invalid CALL is answered
with the CALLERROR code the wire layer names. Every payload sent is validated too. The answers to the
station's CALLs come from :attr:`CentralSystem.handlers` (action -> handler), a table tests may edit;
the station state (:attr:`CentralSystem.stations`) is recorded from each request/answer pair whatever
handler produced the answer.

This module is the facade: the app, start/stop, the handlers table and the state, ``call`` and the
``wait_*`` helpers. Each station's websocket is a :class:`~ocpp_station.sim.csms_link.StationLink`
(frames in and out, pending CALLs); the HTTP API is :mod:`ocpp_station.sim.csms_api`; the frame log
entries, the station state and the errors are in :mod:`ocpp_station.sim.records`.

Deliberate deviation, for clarity in development: a client that does not offer the subprotocol
``ocpp1.6`` gets an HTTP 400 with an explanation instead of the handshake-then-close of OCPP-J §3.2.

Typical test use::

    async with CentralSystem(port=0) as csms:
        ...  # connect a station to csms.url + "CP_1"
        await csms.wait_connected("CP_1")
        await csms.wait_for(lambda e: e.action == "BootNotification" and e.kind == "CALLRESULT")
        answer = await csms.call("CP_1", "Reset", {"type": "Soft"})
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import ssl
import time
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from typing import Any, Final, Self
from urllib.parse import unquote

from aiohttp import WSCloseCode, web

from ocpp_station.core.clock import format_datetime
from ocpp_station.sim.csms_api import CsmsApi, EventHub, api_errors
from ocpp_station.sim.csms_link import CallHandler, StationLink
from ocpp_station.sim.csms_page import page_routes
from ocpp_station.sim.files import FileDepot
from ocpp_station.sim.records import (
    CallErrorReceived,
    Direction,
    JsonDict,
    LogEntry,
    StationDisconnected,
    StationInfo,
    StationNotConnected,
    TransactionInfo,
    clock_text,
)
from ocpp_station.sim.signing import SigningCa, client_certificate_problem
from ocpp_station.wire.frames import Frame
from ocpp_station.wire.schemas import validate_request

__all__ = [
    "CallErrorReceived",
    "CallHandler",
    "CentralSystem",
    "LogEntry",
    "StationDisconnected",
    "StationInfo",
    "StationNotConnected",
    "TransactionInfo",
    "serve",
]

SUBPROTOCOL: Final = "ocpp1.6"
#: How long closing a websocket waits for the station's close frame.
CLOSE_TIMEOUT_S: Final = 5.0
#: How many log entries a wait_for timeout message shows.
_TIMEOUT_CONTEXT_ENTRIES: Final = 10
_BOOT_STATUSES: Final = ("Accepted", "Pending", "Rejected")


class CentralSystem:
    """A development OCPP 1.6J Central System. See the module docstring."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 9000,
        valid_id_tags: Iterable[str] | None = None,
        allowed_stations: Iterable[str] | None = None,
        heartbeat_interval: int = 300,
        boot_status: str = "Accepted",
        log_messages: bool = False,
        call_timeout_s: float = 30,
        passwords: Mapping[str, str] | None = None,
        ssl_context: ssl.SSLContext | None = None,
        signing_ca: SigningCa | None = None,
        cpo_name: str | None = None,
    ) -> None:
        if boot_status not in _BOOT_STATUSES:
            raise ValueError(f"boot_status must be one of {_BOOT_STATUSES}, not {boot_status!r}")
        self.host = host
        self._port = port
        #: None accepts every idTag; edit at will while running.
        self.valid_id_tags: set[str] | None = None if valid_id_tags is None else set(valid_id_tags)
        #: None accepts every charge point id.
        self.allowed_stations: set[str] | None = None if allowed_stations is None else set(allowed_stations)
        #: HTTP Basic passwords by charge point id (security profile 1, whitepaper A00.FR.202-205): a
        #: station connects only with ``id:password``. None: no check. Edit at will while running: a
        #: connection is checked when it is made (A01.FR.03: after an Accepted AuthorizationKey the
        #: old one is no longer accepted).
        self.passwords: dict[str, str] | None = None if passwords is None else dict(passwords)
        #: TLS (``wss://``, ``https://``); None: plain ``ws://``. Security profiles 2-3 (whitepaper
        #: A00.FR.305-306): make it with :func:`ocpp_station.transport.tls.server_context`.
        self.ssl_context = ssl_context
        #: The CA that signs the stations' CSRs (SignCertificate.req, whitepaper A02/A03): with one,
        #: every CSR is signed and sent back in CertificateSigned.req; without, SignCertificate is
        #: still Accepted (A02.FR.11) and nothing follows.
        self.signing_ca = signing_ca
        #: The CPO name a client certificate's O must hold (A00.FR.404); None: any organization.
        self.cpo_name = cpo_name
        #: The last client certificate (DER) each station presented (security profile 3).
        self.client_certificates: dict[str, bytes] = {}
        #: CertificateSigned.conf statuses received, by station.
        self.signed_results: dict[str, list[str]] = {}
        self._signing_tasks: set[asyncio.Task[None]] = set()
        self.heartbeat_interval = heartbeat_interval
        self.boot_status = boot_status
        self.log_messages = log_messages
        self.call_timeout_s = call_timeout_s
        self.log: list[LogEntry] = []
        self.stations: dict[str, StationInfo] = {}
        self.handlers: dict[str, CallHandler] = {
            "BootNotification": self._on_boot_notification,
            "Heartbeat": self._on_heartbeat,
            "StatusNotification": _answer_empty,
            "Authorize": self._on_authorize,
            "StartTransaction": self._on_start_transaction,
            "StopTransaction": self._on_stop_transaction,
            "MeterValues": _answer_empty,
            "DataTransfer": _answer_unknown_vendor,
            "FirmwareStatusNotification": _answer_empty,
            "DiagnosticsStatusNotification": _answer_empty,
            # Security whitepaper (edition 3) notifications: acknowledged too.
            "SecurityEventNotification": _answer_empty,
            "LogStatusNotification": _answer_empty,
            "SignedFirmwareStatusNotification": _answer_empty,
            "SignCertificate": self._on_sign_certificate,
        }
        self._last_transaction_id = 0
        self._links: dict[str, StationLink] = {}
        self._log_waiters: list[tuple[Callable[[LogEntry], bool], asyncio.Future[LogEntry]]] = []
        self._connection_changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        #: Firmware images to download and diagnostics uploads (``/files/...``).
        self.files = FileDepot()
        #: The open pages' event streams (``GET /api/events``).
        self.events = EventHub()

    # --- lifecycle ---

    async def start(self) -> None:
        """Bind and serve. With ``port=0`` the system picks a free port: read :attr:`port` after."""
        if self._runner is not None:
            raise RuntimeError("CentralSystem already started")
        app = web.Application(middlewares=[api_errors])
        app.router.add_routes(CsmsApi(self).routes())
        app.router.add_routes(self.files.routes())
        app.router.add_routes(page_routes())
        app.router.add_get("/{tail:.*}", self._ws_endpoint)
        app.on_shutdown.append(self._close_all)
        app.on_shutdown.append(self._close_events)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self._port, ssl_context=self.ssl_context).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._port = runner.addresses[0][1]

    async def stop(self) -> None:
        """Close every station websocket (1001 Going Away), then the listening socket."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        """The bound port (the one picked, when created with ``port=0``)."""
        if self._port == 0:
            raise RuntimeError("port=0: the port is known once start() returned")
        return self._port

    @property
    def url(self) -> str:
        """The OCPP-J endpoint URL (``wss://`` with TLS); a station appends its id: ``csms.url + "CP_1"``."""
        scheme = "ws" if self.ssl_context is None else "wss"
        return f"{scheme}://{self._url_host}:{self.port}/ocpp/"

    @property
    def http_url(self) -> str:
        """``http://HOST:PORT`` (``https://`` with TLS); the API is under ``/api``."""
        scheme = "http" if self.ssl_context is None else "https"
        return f"{scheme}://{self._url_host}:{self.port}"

    @property
    def _url_host(self) -> str:
        if self.host in ("", "0.0.0.0", "::"):
            return "127.0.0.1"
        return f"[{self.host}]" if ":" in self.host else self.host

    # --- default answers (OCPP 1.6 §4, Central System side) ---

    def id_tag_info(self, id_tag: str) -> JsonDict:
        """``{"status": "Accepted"}`` for a valid idTag (all of them when valid_id_tags is None), else Invalid."""
        valid = self.valid_id_tags is None or id_tag in self.valid_id_tags
        return {"status": "Accepted" if valid else "Invalid"}

    def next_transaction_id(self) -> int:
        """Transaction ids increase from 1 across the whole CSMS."""
        self._last_transaction_id += 1
        return self._last_transaction_id

    def _on_boot_notification(self, cp_id: str, payload: JsonDict) -> JsonDict:
        return {
            "status": self.boot_status,
            "currentTime": format_datetime(time.time()),
            "interval": self.heartbeat_interval,
        }

    def _on_heartbeat(self, cp_id: str, payload: JsonDict) -> JsonDict:
        return {"currentTime": format_datetime(time.time())}

    def _on_authorize(self, cp_id: str, payload: JsonDict) -> JsonDict:
        return {"idTagInfo": self.id_tag_info(payload["idTag"])}

    def _on_start_transaction(self, cp_id: str, payload: JsonDict) -> JsonDict:
        return {"transactionId": self.next_transaction_id(), "idTagInfo": self.id_tag_info(payload["idTag"])}

    def _on_stop_transaction(self, cp_id: str, payload: JsonDict) -> JsonDict:
        if "idTag" in payload:
            return {"idTagInfo": self.id_tag_info(payload["idTag"])}
        return {}

    def _on_sign_certificate(self, cp_id: str, payload: JsonDict) -> JsonDict:
        """SignCertificate.req (A02.FR.11-12): Accepted; with a signing CA the CSR is signed and sent
        back in a CertificateSigned.req once this answer is out. A CSR that cannot be signed: Rejected."""
        ca = self.signing_ca
        if ca is None:
            self.note(cp_id, "SignCertificate: no signing CA (--sign-ca-cert): no certificate will follow")
            return {"status": "Accepted"}
        try:
            chain = ca.sign(str(payload["csr"]))
        except ValueError as exc:
            self.note(cp_id, f"SignCertificate Rejected: {exc}")
            return {"status": "Rejected"}
        task = asyncio.get_running_loop().create_task(self._send_signed(cp_id, chain))
        self._signing_tasks.add(task)
        task.add_done_callback(self._signing_tasks.discard)
        return {"status": "Accepted"}

    async def _send_signed(self, cp_id: str, chain: str) -> None:
        await asyncio.sleep(0)  # after the SignCertificate.conf
        try:
            answer = await self.call(cp_id, "CertificateSigned", {"certificateChain": chain})
        except Exception as exc:  # a development tool: say it, go on
            self.note(cp_id, f"CertificateSigned failed: {exc!r}")
            return
        self.signed_results.setdefault(cp_id, []).append(str(answer.get("status")))

    # --- CSMS-initiated CALLs ---

    async def call(
        self, cp_id: str, action: str, payload: JsonDict, timeout: float | None = None
    ) -> JsonDict:
        """Send a CALL to a station and return its CALLRESULT payload (OCPP-J 1.6 §4.1.1).

        Raises :class:`OcppError` for a payload that the schema rejects (nothing is sent) or an answer that
        does not validate, :class:`CallErrorReceived` for a CALLERROR, :class:`TimeoutError` when no answer
        comes within ``timeout`` (default ``call_timeout_s``), :class:`StationNotConnected` and
        :class:`StationDisconnected`. One CALL at a time per station: later calls wait their turn.
        """
        validate_request(action, payload)
        link = self._link(cp_id)
        return await link.call(action, payload, self.call_timeout_s if timeout is None else timeout)

    async def send_raw(self, cp_id: str, text: str) -> None:
        """Send any text to a station, unchecked and unlogged: for tests of the station's error handling."""
        await self._link(cp_id).send_raw(text)

    def _link(self, cp_id: str) -> StationLink:
        link = self._links.get(cp_id)
        if link is None:
            raise StationNotConnected(f"station {cp_id!r} is not connected")
        return link

    # --- waiting, for tests ---

    async def wait_for(
        self, predicate: Callable[[LogEntry], bool], timeout: float = 10, *, since: int = 0
    ) -> LogEntry:
        """The first log entry from index ``since`` on, already logged or still to come, that matches.

        Raises TimeoutError listing the last log entries.
        """
        for entry in self.log[since:]:
            if predicate(entry):
                return entry
        future: asyncio.Future[LogEntry] = asyncio.get_running_loop().create_future()
        waiter = (predicate, future)
        self._log_waiters.append(waiter)
        try:
            async with asyncio.timeout(timeout):
                return await future
        except TimeoutError:
            raise TimeoutError(f"no log entry matched within {timeout:g} s; {self._log_tail()}") from None
        finally:
            self._log_waiters.remove(waiter)

    async def wait_connected(self, cp_id: str, timeout: float = 10) -> StationInfo:
        """Return once ``cp_id`` has an open websocket."""
        return await self._wait_connection(cp_id, True, timeout)

    async def wait_disconnected(self, cp_id: str, timeout: float = 10) -> StationInfo:
        """Return once ``cp_id`` has no open websocket."""
        return await self._wait_connection(cp_id, False, timeout)

    async def _wait_connection(self, cp_id: str, connected: bool, timeout: float) -> StationInfo:
        def reached() -> bool:
            return (cp_id in self._links) is connected

        try:
            async with asyncio.timeout(timeout), self._connection_changed:
                await self._connection_changed.wait_for(reached)
        except TimeoutError:
            state = "connect" if connected else "disconnect"
            now = sorted(self._links)
            raise TimeoutError(f"{cp_id} did not {state} within {timeout:g} s; connected: {now}") from None
        return self.stations.setdefault(cp_id, StationInfo(cp_id))

    def _log_tail(self) -> str:
        if not self.log:
            return "the log is empty"
        tail = self.log[-_TIMEOUT_CONTEXT_ENTRIES:]
        lines = "\n".join(f"  [{len(self.log) - len(tail) + i}] {e.describe()}" for i, e in enumerate(tail))
        return f"the last log entries are:\n{lines}"

    # --- logging (the links report here) ---

    def log_frame(self, cp_id: str, direction: Direction, frame: Frame, action: str | None) -> None:
        """Append the entry for a frame to :attr:`log` and settle the ``wait_for`` it matches."""
        entry = LogEntry.of_frame(time.time(), cp_id, direction, frame, action)
        self.log.append(entry)
        if self.events.active:
            self.events.on_frame(len(self.log) - 1, entry, self.stations)
        if self.log_messages:
            print(entry.describe(), flush=True)
        for predicate, future in list(self._log_waiters):
            if future.done():
                continue
            try:
                if predicate(entry):
                    future.set_result(entry)
            except Exception as exc:
                future.set_exception(exc)

    def note(self, cp_id: str, text: str) -> None:
        """Print a remark on a station's connection, when ``log_messages``."""
        if self.log_messages:
            print(f"{clock_text(time.time())}  {cp_id} {text}", flush=True)

    # --- the websocket side ---

    async def _ws_endpoint(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(protocols=(SUBPROTOCOL,), timeout=CLOSE_TIMEOUT_S)
        ready = ws.can_prepare(request)
        cp_id = unquote(request.rel_url.raw_path.rsplit("/", 1)[-1])
        if not ready.ok:
            return self._plain_http(request, cp_id)
        if not cp_id:
            raise web.HTTPNotFound(text="no charge point id at the end of the path (OCPP-J 1.6 §3.1.1)\n")
        if self.allowed_stations is not None and cp_id not in self.allowed_stations:
            raise web.HTTPNotFound(text=f"unknown charge point id {cp_id!r}\n")
        if self.passwords is not None and not _basic_auth_ok(request, cp_id, self.passwords.get(cp_id)):
            self.stations.setdefault(cp_id, StationInfo(cp_id)).refused += 1
            self.note(
                cp_id, "refused: wrong or missing HTTP Basic credentials (security whitepaper A00.FR.202)"
            )
            raise web.HTTPUnauthorized(
                headers={"WWW-Authenticate": 'Basic realm="OCPP"'}, text="HTTP Basic credentials required\n"
            )
        problem = self._client_certificate_problem(request, cp_id)
        if problem is not None:
            self.stations.setdefault(cp_id, StationInfo(cp_id)).refused += 1
            self.note(cp_id, f"refused: client certificate: {problem}")
            raise web.HTTPForbidden(text=f"client certificate refused: {problem}\n")
        if ready.protocol != SUBPROTOCOL:
            offered = request.headers.get("Sec-WebSocket-Protocol", "(none)")
            raise web.HTTPBadRequest(
                text=f"this Central System speaks OCPP 1.6J only: offer the websocket subprotocol "
                f"{SUBPROTOCOL!r} (OCPP-J 1.6 §3.1.2); offered: {offered}\n"
            )
        await ws.prepare(request)
        await self._serve_station(cp_id, ws, request.remote)
        return ws

    def _client_certificate_problem(self, request: web.Request, cp_id: str) -> str | None:
        """Security profile 3 (a context that requires client certificates): TLS verified the path
        (A00.FR.403); the subject must name the CPO and this station (A00.FR.404-405), else the
        connection is refused (A00.FR.407)."""
        context = self.ssl_context
        if context is None or context.verify_mode != ssl.CERT_REQUIRED or request.transport is None:
            return None
        ssl_object = request.transport.get_extra_info("ssl_object")
        der = None if ssl_object is None else ssl_object.getpeercert(binary_form=True)
        boot = self.stations[cp_id].boot if cp_id in self.stations else None
        serial = None if not boot else boot.get("chargePointSerialNumber")
        problem = client_certificate_problem(der, cp_id, cpo_name=self.cpo_name, serial_number=serial)
        if problem is None and der is not None:
            self.client_certificates[cp_id] = der
        return problem

    def _plain_http(self, request: web.Request, cp_id: str) -> web.StreamResponse:
        help_text = (
            f"Development OCPP 1.6J Central System.\nCharge points connect to {self.url}<chargePointId> "
            f"with subprotocol {SUBPROTOCOL}.\nHTTP API: GET /api/stations, GET /api/log?station=ID&since=N, "
            'POST /api/stations/ID/call {"action": ..., "payload": {...}}\n'
        )
        if not cp_id:
            return web.Response(text=help_text)
        return web.Response(status=426, text=f"this is a websocket endpoint.\n\n{help_text}")

    async def _serve_station(self, cp_id: str, ws: web.WebSocketResponse, remote: str | None) -> None:
        link = StationLink(cp_id, ws, self)
        old = self._links.get(cp_id)
        self._links[cp_id] = link
        station = self.stations.setdefault(cp_id, StationInfo(cp_id))
        station.connected = True
        station.connections += 1
        station.connected_since = time.time()
        if self.events.active:
            self.events.publish("station", station.to_json())
        replacing = " (replacing the previous connection)" if old else ""
        self.note(cp_id, f"connected from {remote} ({SUBPROTOCOL}){replacing}")
        await self._notify_connection_changed()
        if old is not None:
            link.spawn(old.close(WSCloseCode.OK, "replaced by a new connection"))
        try:
            await link.run()
        finally:
            if self._links.get(cp_id) is link:
                del self._links[cp_id]
                station.connected = False
                station.connected_since = None
                if self.events.active:
                    self.events.publish("station", station.to_json())
                self.note(cp_id, f"disconnected (close code {ws.close_code})")
                await self._notify_connection_changed()

    async def _notify_connection_changed(self) -> None:
        async with self._connection_changed:
            self._connection_changed.notify_all()

    async def _close_events(self, app: web.Application) -> None:
        self.events.close()

    async def _close_all(self, app: web.Application) -> None:
        links = list(self._links.values())
        await asyncio.gather(
            *(link.close(WSCloseCode.GOING_AWAY, "CSMS shutting down") for link in links),
            return_exceptions=True,
        )


def _answer_empty(cp_id: str, payload: JsonDict) -> JsonDict:
    return {}


def _answer_unknown_vendor(cp_id: str, payload: JsonDict) -> JsonDict:
    return {"status": "UnknownVendorId"}


async def serve(host: str = "127.0.0.1", port: int = 9000, **kwargs: Any) -> None:
    """Run a :class:`CentralSystem` until cancelled (the ``ocpp-station csms`` command).

    ``kwargs`` are those of :class:`CentralSystem` (valid_id_tags, log_messages, passwords,
    ssl_context, ...).
    """
    csms = CentralSystem(host=host, port=port, **kwargs)
    await csms.start()
    try:
        print(
            f"Development CSMS listening on {csms.url}<chargePointId> (HTTP API on {csms.http_url}/api)",
            flush=True,
        )
        if csms.passwords is not None:
            print(f"HTTP Basic credentials required for: {', '.join(sorted(csms.passwords))}", flush=True)
        if csms.ssl_context is not None and csms.ssl_context.verify_mode == ssl.CERT_REQUIRED:
            print("TLS client certificates required (security profile 3)", flush=True)
        if csms.signing_ca is not None:
            print("Signing CSRs (SignCertificate) with the CA of --sign-ca-cert", flush=True)
        print(f"Development CSMS page: {csms.http_url}/", flush=True)
        await asyncio.Event().wait()
    finally:
        await csms.stop()


def _basic_auth_ok(request: web.Request, cp_id: str, password: str | None) -> bool:
    """Whether the upgrade request carries ``Basic base64(cp_id:password)`` (compared in constant time;
    the password is never logged, A01.FR.09)."""
    if password is None:
        return False
    header = request.headers.get("Authorization", "")
    expected = "Basic " + base64.b64encode(f"{cp_id}:{password}".encode()).decode()
    return hmac.compare_digest(header.encode(), expected.encode())
