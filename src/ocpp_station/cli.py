"""Command line: ``ocpp-station run | csms | demo``. Thin: parsing and wiring only."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

from ocpp_station import __version__
from ocpp_station.config.station import DEFAULT_CONFIG, ConfigError, StationConfig, load_config, parse_config
from ocpp_station.storage import StoreError

EXIT_CONFIG = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ocpp-station", description="An OCPP 1.6J charge point.")
    parser.add_argument("--version", action="version", version=f"ocpp-station {__version__}")
    parser.add_argument(
        "--log-level", choices=["debug", "info", "warning", "error"], help="default: info (demo: warning)"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run one charge point until SIGINT/SIGTERM")
    run.add_argument("--config", type=Path, help="config.json (default: the embedded development config)")
    run.add_argument(
        "--environment", default="development", help="config section with WS_URL (default: development)"
    )
    run.add_argument("--data-dir", type=Path, help="where the station keeps its state (overrides dataDir)")
    run.add_argument("--control-port", type=int, help="serve the control API on 127.0.0.1:PORT")
    run.add_argument("--log-frames", action="store_true", help="print every OCPP frame")

    csms = sub.add_parser("csms", help="run the development CSMS")
    csms.add_argument("--host", default="127.0.0.1")
    csms.add_argument("--port", type=int, default=9000)
    csms.add_argument("--valid-tags", help="comma-separated idTags to accept (default: all)")
    csms.add_argument("--quiet", action="store_true", help="do not print the message log")

    demo = sub.add_parser("demo", help="development CSMS + one station + one charging session")
    demo.add_argument("--charge-seconds", type=float, default=6.0)
    return parser


def _load(args: argparse.Namespace) -> StationConfig:
    if args.config is None:
        config = parse_config(DEFAULT_CONFIG, "<embedded default>", args.environment)
    else:
        config = load_config(args.config, args.environment)
    changes: dict[str, object] = {}
    if args.data_dir is not None:
        changes["data_dir"] = args.data_dir
    if args.control_port is not None:
        if not 0 <= args.control_port <= 65535:
            raise ConfigError("--control-port", "", f"must be a port number 0-65535, got {args.control_port}")
        changes["control_port"] = args.control_port
    if changes:
        from dataclasses import replace

        config = replace(config, **changes)  # type: ignore[arg-type]
    return config


async def _run_station(config: StationConfig, log_frames: bool) -> int:
    from ocpp_station.control.api import bound_port, start_control_api
    from ocpp_station.sim.demo import FramePrinter
    from ocpp_station.transport.station import Station

    station = Station(config, frame_logger=FramePrinter() if log_frames else None)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, lambda: loop.create_task(station.stop()))
    runner = None
    if config.control_port is not None:
        runner = await start_control_api(station, config.control_host, config.control_port)
        print(f"control API on http://{config.control_host}:{bound_port(runner)}", flush=True)
    print(f"station {config.charge_point_id} -> {config.url}", flush=True)
    try:
        await station.run()
    finally:
        if runner is not None:
            await runner.cleanup()
        station.close()
    return 0


async def _run_csms(args: argparse.Namespace) -> int:
    from ocpp_station.sim.csms import serve

    tags = None if args.valid_tags is None else [t for t in args.valid_tags.split(",") if t]
    await serve(args.host, args.port, valid_id_tags=tags, log_messages=not args.quiet)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    level = args.log_level or ("warning" if args.command == "demo" else "info")
    logging.basicConfig(
        level=getattr(logging, level.upper()),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )
    try:
        if args.command == "run":
            config = _load(args)
            return asyncio.run(_run_station(config, args.log_frames))
        if args.command == "csms":
            return asyncio.run(_run_csms(args))
        from ocpp_station.sim.demo import run_demo

        return asyncio.run(run_demo(args.charge_seconds))
    except ConfigError as exc:
        print(f"ocpp-station: configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except StoreError as exc:
        print(f"ocpp-station: storage error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return 130
