"""RPC benchmark: CALL round trips/s and client CPU per message, in one run, with ratios.

    .venv/bin/python bench/bench_rpc.py [--calls 3000]

Three clients send the same MeterValues.req (9 sampled values) to the same tiny CSMS (a separate
process, python-websockets, answering every CALL at once) one CALL at a time, as OCPP-J §4.1.1 asks:

* raw websockets echo: the frame text sent and a reply awaited; no OCPP at all (the floor);
* ocpp-station: ``Station.call`` through the engine (schema validation of what we send and receive,
  orjson, the outbox, the asyncio shell);
* mobilityhouse/ocpp: ``ChargePoint.call`` (jsonschema validation, case conversion).

Times are wall-clock per round trip; CPU is this process's CPU time per round trip (the server's is
not counted). The machine is shared: compare the ratios, which are measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import socket
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import websockets
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve

from ocpp_station.sim.examples import meter_value_samples

#: The 9 sampled values of a 3-phase charger, as the station's metering makes them.
SAMPLES: list[dict[str, Any]] = meter_value_samples()
PAYLOAD: dict[str, Any] = {
    "connectorId": 1,
    "transactionId": 42,
    "meterValue": [{"timestamp": "2026-11-25T12:00:00.000Z", "sampledValue": SAMPLES}],
}


# -- the CSMS (another process) ------------------------------------------------------------------------
def _server_main(port: int, ready: Any) -> None:
    now = "2026-11-25T12:00:00.000Z"
    answers = {
        "BootNotification": {"status": "Accepted", "currentTime": now, "interval": 3600},
        "Heartbeat": {"currentTime": now},
    }

    async def handler(ws: Any) -> None:
        async for message in ws:
            frame = json.loads(message)
            if frame[0] == 2:
                await ws.send(json.dumps([3, frame[1], answers.get(frame[2], {})]))

    async def main() -> None:
        async with serve(
            handler, "127.0.0.1", port, subprotocols=["ocpp1.6"], compression=None, ping_interval=None
        ):
            ready.set()
            await asyncio.Future()

    asyncio.run(main())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


# -- measuring ---------------------------------------------------------------------------------------
async def _measure(calls: int, one: Callable[[], Awaitable[Any]]) -> tuple[float, float]:
    for _ in range(min(200, calls // 10)):  # warm up
        await one()
    wall0, cpu0 = time.perf_counter(), time.process_time()
    for _ in range(calls):
        await one()
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    return calls / wall, cpu / calls * 1e6


async def bench_raw(url: str, calls: int) -> tuple[float, float]:
    text = json.dumps([2, "1", "MeterValues", PAYLOAD])
    async with connect(url, subprotocols=["ocpp1.6"], compression=None, ping_interval=None, proxy=None) as ws:

        async def one() -> None:
            await ws.send(text)
            await ws.recv()

        return await _measure(calls, one)


async def bench_station(url: str, calls: int) -> tuple[float, float]:
    import logging

    from ocpp_station.config.station import parse_config
    from ocpp_station.transport.station import Station

    logging.getLogger("ocpp_station").setLevel(logging.WARNING)
    base, _, cp_id = url.rpartition("/")
    config = parse_config(
        {"development": {"WS_URL": base + "/", "chargePointID": cp_id}, "ocpp": {"WebSocketPingInterval": 0}},
        "<bench>",
    )
    station = Station(config)
    task = asyncio.create_task(station.run())
    await station.wait_for(lambda s: s["registration"] == "Accepted")
    await asyncio.sleep(0.2)  # let the StatusNotifications after boot go out
    try:
        return await _measure(calls, lambda: station.call("MeterValues", PAYLOAD))
    finally:
        await station.stop()
        with contextlib.suppress(Exception):
            await task
        station.close()


async def bench_mobilityhouse(url: str, calls: int) -> tuple[float, float] | None:
    try:
        from ocpp.v16 import ChargePoint, call
    except ImportError:
        return None
    import logging

    logging.getLogger("ocpp").setLevel(logging.WARNING)

    def snake(d: dict[str, Any]) -> dict[str, Any]:
        return {"".join("_" + c.lower() if c.isupper() else c for c in k): v for k, v in d.items()}

    meter_value = [
        {"timestamp": PAYLOAD["meterValue"][0]["timestamp"], "sampled_value": [snake(s) for s in SAMPLES]}
    ]
    async with connect(url, subprotocols=["ocpp1.6"], compression=None, ping_interval=None, proxy=None) as ws:
        cp = ChargePoint("BENCH", ws)
        task = asyncio.create_task(cp.start())
        try:
            request = call.MeterValues(connector_id=1, transaction_id=42, meter_value=meter_value)
            return await _measure(calls, lambda: cp.call(request))
        finally:
            task.cancel()


async def run(calls: int) -> dict[str, tuple[float, float] | None]:
    port = _free_port()
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Event()
    server = ctx.Process(target=_server_main, args=(port, ready), daemon=True)
    server.start()
    try:
        if not ready.wait(20):
            raise RuntimeError("bench CSMS did not start")
        url = f"ws://127.0.0.1:{port}/ocpp/BENCH"
        results: dict[str, tuple[float, float] | None] = {}
        results["raw websocket echo"] = await bench_raw(url, calls)
        results["ocpp-station"] = await bench_station(url, calls)
        results["mobilityhouse/ocpp"] = await bench_mobilityhouse(url, calls)
        return results
    finally:
        server.terminate()
        server.join(5)


def report(results: dict[str, tuple[float, float] | None], calls: int) -> str:
    lines = [
        f"MeterValues.req (9 sampled values), {calls} sequential CALL round trips each, websockets {websockets.__version__}",
        "",
        f"{'client':<22} {'round trips/s':>14} {'us/round trip':>14} {'CPU us/msg':>11}",
    ]
    for name, value in results.items():
        if value is None:
            lines.append(f"{name:<22} {'(not installed)':>14}")
            continue
        rate, cpu = value
        lines.append(f"{name:<22} {rate:>14.0f} {1e6 / rate:>14.1f} {cpu:>11.1f}")
    raw, ours, mh = (results.get(k) for k in ("raw websocket echo", "ocpp-station", "mobilityhouse/ocpp"))
    lines.append("")
    if raw and ours:
        lines.append(
            f"ocpp-station / raw websocket: {raw[0] / ours[0]:.2f}x the time per round trip, "
            f"{ours[1] / raw[1]:.2f}x the CPU (target: within 2.5x)"
        )
    if mh and ours:
        lines.append(
            f"mobilityhouse / ocpp-station: {ours[0] / mh[0]:.2f}x the time per round trip, "
            f"{mh[1] / ours[1]:.2f}x the CPU"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=3000)
    args = parser.parse_args()
    results = asyncio.run(run(args.calls))
    print(report(results, args.calls))
    return 0


if __name__ == "__main__":
    sys.exit(main())
