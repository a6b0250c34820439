"""The Python API of a running :class:`~ocpp_station.transport.station.Station`: drive the simulated
hardware, read the state, wait for it, send a CALL of ours, cut the network. The control API
(:mod:`ocpp_station.control.api`), the demo, the CLI and the tests go through it.

:class:`StationApi` is a mixin: :class:`Station` inherits it and provides the attributes declared
at the top of the class (its hardware, its websocket link, the read-only view of its engine and the
futures of its CALLs). Nothing here reads the engine itself: the state goes through the
:class:`~ocpp_station.transport.view.EngineView`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ocpp_station.core.events import CallRequested, Event
from ocpp_station.hardware.interface import Hardware
from ocpp_station.hardware.simulated import EVParams, SimulatedHardware

if TYPE_CHECKING:
    from ocpp_station.transport.connection import Link
    from ocpp_station.transport.view import EngineView


class CallFailed(Exception):
    """A CALL sent through :meth:`Station.call` got a CALLERROR, timed out or was dropped."""

    def __init__(self, code: str, description: str = "") -> None:
        super().__init__(f"{code}: {description}" if description else code)
        self.code = code
        self.description = description


class StationApi:
    """The public methods of :class:`Station` (also behind the control API)."""

    # Set by Station.__init__ (declared here for the type checker).
    hardware: Hardware
    link: Link
    #: The futures of our pending CALLs by reference (class-level defaults: each station makes its
    #: own dict at its first :meth:`call`).
    calls: dict[int, asyncio.Future[dict[str, Any]]] | None = None
    _next_ref = 1
    #: One future per pending :meth:`wait_for`, resolved at the next state change (a station makes
    #: its own set while one waits).
    _state_waiters: set[asyncio.Future[None]] | None = None

    if TYPE_CHECKING:

        def feed(self, event: Event) -> None: ...

        @property
        def view(self) -> EngineView: ...

        @property
        def storage_error(self) -> str | None: ...

    @property
    def simulator(self) -> SimulatedHardware:
        if not isinstance(self.hardware, SimulatedHardware):
            raise TypeError("this station drives real hardware, not the simulator")
        return self.hardware

    def state(self) -> dict[str, Any]:
        """``GET /state``: connection, registration, every connector (0 included), the queue length
        and the storage health."""
        snapshot = self.view.snapshot()
        snapshot["storage"] = self.storage_error or "ok"
        for connector in snapshot["connectors"]:
            reading = self.hardware.read_meter(connector["id"])
            connector["meterWh"] = round(reading.energy_wh, 1)
            connector["powerW"] = round(reading.power_w, 1)
        return snapshot

    def _diagnostics(self) -> tuple[dict[str, str], dict[str, Any]]:
        """What a diagnostics archive holds besides the log: the readable configuration keys and a
        summary of the message queue."""
        view = self.view
        queue = view.queue_summary()
        queue["storage"] = self.storage_error or "ok"
        return view.readable_config(), queue

    def plug(self, connector_id: int, ev: EVParams | dict[str, Any] | None = None) -> None:
        sim = self.simulator
        params = EVParams.from_dict(ev, sim.default_ev) if isinstance(ev, dict) else ev
        sim.plug(connector_id, params)

    def unplug(self, connector_id: int) -> None:
        self.simulator.unplug(connector_id)

    def ev_suspend(self, connector_id: int) -> None:
        self.simulator.ev_suspend(connector_id)

    def ev_resume(self, connector_id: int) -> None:
        self.simulator.ev_resume(connector_id)

    def present_id_tag(self, id_tag: str, connector_id: int | None = None) -> None:
        if not id_tag or len(id_tag) > 20:
            raise ValueError("idTag must be 1 to 20 characters (OCPP 1.6 IdToken)")
        self.simulator.present_id_tag(id_tag, connector_id)

    def raise_fault(
        self,
        connector_id: int,
        error_code: str,
        info: str | None = None,
        vendor_error_code: str | None = None,
    ) -> None:
        from ocpp_station.wire.schemas import load_schema

        codes = load_schema("StatusNotification")["properties"]["errorCode"]["enum"]
        if error_code not in codes or error_code == "NoError":
            raise ValueError(f"errorCode must be one of {', '.join(c for c in codes if c != 'NoError')}")
        if info is not None and len(info) > 50:
            raise ValueError("info must be at most 50 characters")
        if vendor_error_code is not None and len(vendor_error_code) > 50:
            raise ValueError("vendorErrorCode must be at most 50 characters")
        self.simulator.raise_fault(connector_id, error_code, info, vendor_error_code)

    def clear_fault(self, connector_id: int) -> None:
        self.simulator.clear_fault(connector_id)

    def network_disconnect(self) -> None:
        """Drop the link and stay offline until :meth:`network_connect`."""
        self.link.disconnect()

    def network_connect(self) -> None:
        self.link.allow()

    async def call(
        self, action: str, payload: dict[str, Any], timeout: float | None = None
    ) -> dict[str, Any]:
        """Send a CALL of ours (e.g. DataTransfer) and return the CALLRESULT payload."""
        ref = self._next_ref
        self._next_ref += 1
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        if self.calls is None:
            self.calls = {}
        calls = self.calls
        calls[ref] = future
        self.feed(CallRequested(action, payload, ref))
        try:
            return await asyncio.wait_for(future, timeout)
        finally:
            calls.pop(ref, None)

    async def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 10.0
    ) -> dict[str, Any]:
        """Wait until ``predicate(state())`` holds; returns that state. Raises TimeoutError."""
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(timeout):
            while True:
                state = self.state()
                if predicate(state):
                    return state
                changed: asyncio.Future[None] = loop.create_future()
                if self._state_waiters is None:
                    self._state_waiters = set()
                waiters = self._state_waiters
                waiters.add(changed)
                try:
                    await changed
                finally:
                    waiters.discard(changed)
                    if not waiters and self._state_waiters is waiters:
                        self._state_waiters = None  # a station nobody waits on keeps no set

    def state_changed(self) -> asyncio.Future[None]:
        """A future resolved at the next state change (what :meth:`wait_for` waits on; the dashboard's
        stream too). Cancel it to stop waiting."""
        changed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self._state_waiters is None:
            self._state_waiters = set()
        waiters = self._state_waiters
        waiters.add(changed)

        def forget(_: asyncio.Future[None]) -> None:
            waiters.discard(changed)
            if not waiters and self._state_waiters is waiters:
                self._state_waiters = None

        changed.add_done_callback(forget)
        return changed

    def _notify_state(self) -> None:
        """The state may have changed: wake every :meth:`wait_for` to check its predicate again (no
        task: the waiters run on their own once the caller yields to the event loop)."""
        waiters = self._state_waiters
        if not waiters:
            return
        for changed in waiters:
            if not changed.done():
                changed.set_result(None)
