"""``ocpp-station demo``: the development CSMS and one station, one full charging session, printed.

Boot, plug, card, charge with meter values, card again, unplug; every OCPP frame is printed as it
crosses the websocket. Exits 0 when the CSMS has acknowledged the StopTransaction.

``ocpp-station demo --dashboard``: the same CSMS and a station serving its dashboard
(:mod:`ocpp_station.control.dashboard`), printed as a URL and left running until Ctrl-C, so the session
is driven from the page.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from ocpp_station.config.station import parse_config
from ocpp_station.logs import STATION_ID
from ocpp_station.sim.csms import CentralSystem
from ocpp_station.transport.station import Station

ID_TAG = "DEMO-CARD-1"


class FramePrinter:
    """Prints frames readably; remembers CALL actions to name their results."""

    def __init__(self, out: Any = print) -> None:
        self._out = out
        self._actions: dict[str, str] = {}
        self._t0 = time.monotonic()

    def __call__(self, cp_id: str, outgoing: bool, data: bytes | str) -> None:
        try:
            frame = orjson.loads(data)
            kind, message_id = frame[0], frame[1]
        except (orjson.JSONDecodeError, IndexError, TypeError):
            self._out(f"  ?? unreadable frame {data!r}")
            return
        arrow = f"{cp_id} -> CSMS" if outgoing else f"CSMS -> {cp_id}"
        if kind == 2:
            self._actions[message_id] = frame[2]
            text = f"CALL       {frame[2]:<22} {orjson.dumps(frame[3]).decode()}"
        elif kind == 3:
            text = f"CALLRESULT {self._actions.pop(message_id, '?'):<22} {orjson.dumps(frame[2]).decode()}"
        else:
            text = f"CALLERROR  {self._actions.pop(message_id, '?'):<22} {frame[2]} {frame[3]}"
        self._out(f"{time.monotonic() - self._t0:7.2f}s  {arrow:<14} {text}")


#: The station of ``ocpp-station demo --dashboard``: two connectors, meter values every 5 s; the
#: one-session demo takes it with one connector and samples every 2 s.
DEMO_STATION: dict[str, Any] = {
    "development": {"chargePointID": "DEMO_CP"},
    "identity": {"chargePointVendor": "ocpp-station", "chargePointModel": "Demo"},
    "connectors": {"count": 2, "maxCurrent": 32, "phases": 3},
    "ocpp": {
        "MeterValueSampleInterval": 5,
        "MeterValuesSampledData": "Energy.Active.Import.Register,Power.Active.Import,SoC",
    },
    "ev": {"maxCurrent": 16, "phases": 3, "batteryCapacityWh": 40000, "soc": 35},
}


def _step(text: str) -> None:
    print(f"\n=== {text}")


async def run_demo(charge_seconds: float = 6.0) -> int:
    csms = CentralSystem(port=0, valid_id_tags=[ID_TAG])
    await csms.start()
    config = parse_config(
        DEMO_STATION
        | {
            "development": {"WS_URL": csms.url, "chargePointID": "DEMO_CP"},
            "connectors": {"count": 1, "maxCurrent": 32, "phases": 3},
            "ocpp": DEMO_STATION["ocpp"] | {"MeterValueSampleInterval": 2},
        },
        "<demo>",
    )
    station = Station(config, frame_logger=FramePrinter())
    STATION_ID.set(config.charge_point_id)  # the demo's own steps drive this station (logs.py)
    task = asyncio.create_task(station.run())
    try:
        _step(f"Station {config.charge_point_id} connects to the development CSMS at {csms.url}")
        await station.wait_for(lambda s: s["registration"] == "Accepted", timeout=15)
        await asyncio.sleep(0.3)
        _step("The driver plugs in the EV")
        station.plug(1)
        await station.wait_for(lambda s: s["connectors"][1]["status"] == "Preparing")
        _step(f"The driver presents card {ID_TAG}")
        station.present_id_tag(ID_TAG)
        state = await station.wait_for(lambda s: s["connectors"][1]["status"] == "Charging")
        _step(f"Charging for {charge_seconds:g} s (MeterValues every 2 s)")
        await asyncio.sleep(charge_seconds)
        _step("The driver presents the card again to stop")
        station.present_id_tag(ID_TAG)
        await station.wait_for(lambda s: s["connectors"][1]["status"] == "Finishing")
        _step("The driver unplugs")
        station.unplug(1)
        state = await station.wait_for(lambda s: s["connectors"][1]["status"] == "Available")
        stop = await csms.wait_for(
            lambda e: e.direction == "out" and e.action == "StopTransaction", timeout=10
        )
        await asyncio.sleep(0.2)
        energy = state["connectors"][1]["meterWh"]
        _step(f"Session complete: {energy:.0f} Wh delivered; CSMS acknowledged StopTransaction ({stop.kind})")
        return 0
    except TimeoutError as exc:
        print(f"\ndemo failed: timed out waiting ({exc})")
        return 1
    finally:
        await station.stop()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(task, 5)
        station.close()
        await csms.stop()


@dataclass
class DashboardDemo:
    """The CSMS and the station of ``ocpp-station demo --dashboard``, running."""

    csms: CentralSystem
    station: Station
    task: asyncio.Task[None]
    runner: web.AppRunner

    @property
    def url(self) -> str:
        """The dashboard's URL."""
        from ocpp_station.control.api import bound_port

        return f"http://127.0.0.1:{bound_port(self.runner)}/"

    async def stop(self) -> None:
        await self.runner.cleanup()
        await self.station.stop()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(self.task, 5)
        self.station.close()
        await self.csms.stop()


async def start_dashboard_demo(port: int = 0, csms_port: int = 0) -> DashboardDemo:
    """The development CSMS (every idTag valid) and a station serving its control API and dashboard
    on 127.0.0.1:``port`` (0: any free port), the trace kept from the start."""
    from ocpp_station.control.api import start_control_api

    csms = CentralSystem(port=csms_port)
    await csms.start()
    data = {**DEMO_STATION, "development": {"chargePointID": "DEMO_CP", "WS_URL": csms.url}}
    station = Station(parse_config(data, "<demo>"))
    station.enable_trace()
    task = asyncio.create_task(station.run())
    runner = await start_control_api(station, "127.0.0.1", port)
    return DashboardDemo(csms, station, task, runner)


async def run_dashboard_demo(port: int = 8180) -> int:
    """``ocpp-station demo --dashboard``: the CSMS and one station with its dashboard, until Ctrl-C; the
    user drives the session from the page (plug, present a card, ...)."""
    demo = await start_dashboard_demo(port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)
    for sig in signals:
        loop.add_signal_handler(sig, stop.set)
    try:
        print(f"Station dashboard: {demo.url}", flush=True)
        print(f"Development CSMS page: {demo.csms.http_url}/", flush=True)
        print("Plug an EV, present a card (any idTag is valid), watch it charge; Ctrl-C to stop.", flush=True)
        await stop.wait()
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
        await demo.stop()
    return 0
