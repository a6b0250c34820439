"""Command line: ``ocpp-station run | csms | demo | queue | fleet``. Thin: parsing and wiring only."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sqlite3
import ssl
import sys
from pathlib import Path
from typing import Any

from ocpp_station import __version__
from ocpp_station.config.station import DEFAULT_CONFIG, ConfigError, StationConfig, load_config, parse_config
from ocpp_station.logs import configure_logging
from ocpp_station.storage import StoreError

EXIT_CONFIG = 2


def _log_options(parser: argparse.ArgumentParser, top: bool = False) -> None:
    """``--log-format`` (and, after a command, ``--log-level`` too): before or after the command."""
    default = "text" if top else argparse.SUPPRESS
    if not top:
        parser.add_argument(
            "--log-level",
            type=str.lower,
            choices=["debug", "info", "warning", "error"],
            default=argparse.SUPPRESS,
            help="default: info (demo, fleet: warning); debug shows every frame (logger ocpp_station.wire)",
        )
    parser.add_argument(
        "--log-format",
        choices=["text", "json"],
        default=default,
        help="log records on stderr as text (default) or JSON lines with the station id (docs/dashboard.md)",
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ocpp-station", description="An OCPP 1.6J charge point.")
    parser.add_argument("--version", action="version", version=f"ocpp-station {__version__}")
    parser.add_argument(
        "--log-level",
        type=str.lower,
        choices=["debug", "info", "warning", "error"],
        help="default: info (demo: warning)",
    )
    _log_options(parser, top=True)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run one charge point until SIGINT/SIGTERM")
    run.add_argument("--config", type=Path, help="config.json (default: the embedded development config)")
    run.add_argument(
        "--environment", default="development", help="config section with WS_URL (default: development)"
    )
    run.add_argument("--data-dir", type=Path, help="where the station keeps its state (overrides dataDir)")
    run.add_argument("--control-port", type=int, help="serve the control API on 127.0.0.1:PORT")
    run.add_argument("--log-frames", action="store_true", help="print every OCPP frame")
    _log_options(run)

    csms = sub.add_parser("csms", help="run the development CSMS")
    csms.add_argument("--host", default="127.0.0.1")
    csms.add_argument("--port", type=int, default=9000)
    csms.add_argument("--valid-tags", help="comma-separated idTags to accept (default: all)")
    csms.add_argument("--quiet", action="store_true", help="do not print the message log")
    _log_options(csms)
    csms.add_argument(
        "--password",
        action="append",
        metavar="CP=KEY",
        help="require HTTP Basic auth: charge point CP connects with password KEY (repeatable; "
        "a station without one is refused)",
    )
    csms.add_argument(
        "--tls-cert", type=Path, metavar="FILE", help="serve wss:// with this certificate chain (PEM)"
    )
    csms.add_argument("--tls-key", type=Path, metavar="FILE", help="the private key of --tls-cert (PEM)")
    csms.add_argument(
        "--ca",
        type=Path,
        metavar="FILE",
        help="with --tls-cert: require client certificates issued under these CA certificates (profile 3)",
    )
    csms.add_argument(
        "--sign-ca-cert",
        type=Path,
        metavar="FILE",
        help="sign the stations' CSRs (SignCertificate) with this CA certificate (PEM) and send them back "
        "in CertificateSigned (security whitepaper A02/A03)",
    )
    csms.add_argument(
        "--sign-ca-key", type=Path, metavar="FILE", help="the private key of --sign-ca-cert (PEM)"
    )
    csms.add_argument(
        "--cpo-name",
        metavar="NAME",
        help="with --ca: a client certificate's subject O must be NAME (A00.FR.404; default: any)",
    )

    demo = sub.add_parser("demo", help="development CSMS + one station + one charging session")
    demo.add_argument("--charge-seconds", type=float, default=6.0)
    demo.add_argument(
        "--dashboard",
        action="store_true",
        help="instead: the CSMS and a station serving its dashboard; print the URL, run until Ctrl-C",
    )
    demo.add_argument(
        "--port", type=int, default=8180, help="with --dashboard: the dashboard's port (default 8180; 0: any)"
    )
    _log_options(demo)

    queue = sub.add_parser(
        "queue", help="what the station stored and has not delivered (read-only, safe while it runs)"
    )
    queue.add_argument("--data-dir", type=Path, required=True, help="the station's data directory")
    queue.add_argument("--json", action="store_true", help="print JSON instead of tables")

    image = sub.add_parser(
        "firmware-image", help="write a simulated firmware image for UpdateFirmware (docs/firmware.md)"
    )
    image.add_argument("--version", dest="image_version", required=True, help="its firmwareVersion")
    image.add_argument("--payload", type=Path, help="a file to carry as the image body (default: filler)")
    image.add_argument("output", type=Path, help="where to write the image")

    signing = sub.add_parser(
        "sign-firmware",
        help="sign a firmware image for SignedUpdateFirmware, or make a manufacturer PKI (docs/security.md)",
    )
    signing.add_argument("--key", type=Path, help="the firmware signing key (PEM, RSA or EC)")
    signing.add_argument("image", type=Path, nargs="?", help="the image to sign: prints the base64 signature")
    signing.add_argument(
        "--new-pki",
        type=Path,
        metavar="DIR",
        help="write manufacturer-root.pem, signing.pem and signing.key (a new manufacturer PKI) to DIR",
    )
    signing.add_argument("--key-type", choices=("ec", "rsa"), default="ec", help="for --new-pki (default ec)")

    fleet = sub.add_parser(
        "fleet", help="run many stations against a CSMS (load test) until the duration or SIGINT/SIGTERM"
    )
    fleet.add_argument("--config", type=Path, help="FLEET.json (docs/fleet.md)")
    fleet.add_argument("--scenario", help="start from a packaged scenario (the file and flags override it)")
    fleet.add_argument(
        "--url",
        action="append",
        help="the CSMS endpoint, e.g. ws://127.0.0.1:9000/ocpp/ (overrides url); more than once: the "
        "stations spread over the endpoints in turn",
    )
    fleet.add_argument("--count", type=int, help="how many stations (overrides count)")
    fleet.add_argument("--id-pattern", help="charge point ids, n = 1..count (default CP-{n:05d})")
    fleet.add_argument("--ramp", help="new stations per second, e.g. 200/s (default 100/s)")
    fleet.add_argument("--duration", help="then stop cleanly, e.g. 10m, 600s (default: until a signal)")
    fleet.add_argument("--processes", type=int, help="worker processes (default: one per core)")
    fleet.add_argument("--seed", type=int, help="seed of the generators (default 0)")
    fleet.add_argument("--report", type=Path, help="write the report here (JSON) and an HTML page next to it")
    fleet.add_argument("--progress-every", type=float, default=5.0, help="seconds between progress lines")
    _log_options(fleet)
    fleet.add_argument(
        "--live",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="the live terminal view (default: when stderr is a terminal); --no-live: the progress line",
    )
    fleet.add_argument(
        "--control-port", type=int, help="serve the fleet's control API and /metrics on this port (0: any)"
    )
    fleet.add_argument("--control-host", help="address of the control API (default 127.0.0.1)")
    return parser


def _fleet(args: argparse.Namespace) -> int:
    from ocpp_station.fleet.config import Overrides, load_fleet
    from ocpp_station.fleet.runner import run_cli

    if args.config is None and args.scenario is None and (args.url is None or args.count is None):
        raise ConfigError("fleet", "", "give --config FLEET.json, --scenario NAME, or --url and --count")
    overrides = Overrides(
        url=args.url,
        count=args.count,
        id_pattern=args.id_pattern,
        ramp=args.ramp,
        duration=args.duration,
        processes=args.processes,
        seed=args.seed,
        report=args.report,
        control_port=args.control_port,
        control_host=args.control_host,
        live=args.live,
    )
    return run_cli(load_fleet(args.config, overrides, args.scenario), args.progress_every)


def _sign_firmware(args: argparse.Namespace) -> int:
    """``sign-firmware``: a new manufacturer PKI (``--new-pki``) and/or the signature of an image."""
    from ocpp_station.sim.firmware_signing import load_signing_key, make_manufacturer_pki, sign_firmware

    key_file: Path | None = args.key
    if args.new_pki is None and (args.image is None or key_file is None):
        print("ocpp-station sign-firmware: give --key KEY IMAGE, or --new-pki DIR", file=sys.stderr)
        return 2
    try:
        if args.new_pki is not None:
            pki = make_manufacturer_pki(key_type=args.key_type)
            args.new_pki.mkdir(parents=True, exist_ok=True)
            (args.new_pki / "manufacturer-root.pem").write_text(pki.root, encoding="ascii")
            (args.new_pki / "signing.pem").write_text(pki.signing_certificate, encoding="ascii")
            key_path = args.new_pki / "signing.key"
            key_path.touch(mode=0o600)
            key_path.write_text(pki.signing_key, encoding="ascii")
            print(f"wrote {args.new_pki}/manufacturer-root.pem, signing.pem, signing.key", file=sys.stderr)
            key_file = key_file or key_path
        if args.image is not None and key_file is not None:
            print(sign_firmware(args.image, load_signing_key(key_file.read_bytes())))
    except (OSError, ValueError, TypeError) as exc:
        print(f"ocpp-station sign-firmware: {exc}", file=sys.stderr)
        return 1
    return 0


def _firmware_image(args: argparse.Namespace) -> int:
    from ocpp_station.hardware.firmware import make_image

    try:
        payload = args.payload.read_bytes() if args.payload is not None else b"simulated firmware\n" * 64
        image = make_image(args.image_version, payload)
        args.output.write_bytes(image)
    except (OSError, ValueError) as exc:
        print(f"ocpp-station: firmware-image: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    print(f"{args.output}: firmware {args.image_version}, {len(image)} bytes")
    return 0


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
    from ocpp_station.control.metrics import StationMetrics
    from ocpp_station.logs import STATION_ID
    from ocpp_station.sim.demo import FramePrinter
    from ocpp_station.transport.station import Station

    STATION_ID.set(config.charge_point_id)  # before the control API starts: its requests carry it too
    metrics = StationMetrics() if config.control_port is not None else None  # its /metrics
    station = Station(config, frame_logger=FramePrinter() if log_frames else None, metrics=metrics)
    if config.control_port is not None:
        station.enable_trace()  # the dashboard's message trace, from the first frame
    loop = asyncio.get_running_loop()
    stopping: list[asyncio.Task[None]] = []  # the one graceful stop, awaited below

    def request_stop() -> None:
        if not stopping:  # a second signal changes nothing: the stop is under way
            stopping.append(loop.create_task(station.stop()))

    signals = (signal.SIGINT, signal.SIGTERM)
    for sig in signals:
        loop.add_signal_handler(sig, request_stop)
    runner = None
    try:
        if config.control_port is not None:
            runner = await start_control_api(station, config.control_host, config.control_port)
            print(f"control API on http://{config.control_host}:{bound_port(runner)}", flush=True)
            print(f"dashboard: http://{config.control_host}:{bound_port(runner)}/", flush=True)
        print(f"station {config.charge_point_id} -> {config.url}", flush=True)
        await station.run()
        for task in stopping:
            await task
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
        for task in stopping:
            task.cancel()  # run() failed while stopping: do not leave the stop behind
        if runner is not None:
            await runner.cleanup()
        station.close()
    return 0


# -- queue: the stored, undelivered state, read-only ---------------------------------------------------


class _QueueError(Exception):
    pass


def _read_records(data_dir: Path) -> tuple[int, dict[str, dict[str, Any]]]:
    """Schema version and every record by kind, in one read transaction, opened read-only (sqlite URI
    mode=ro): no migration, no write, no checkpoint, so a running station is not disturbed."""
    import orjson

    from ocpp_station.storage.sqlite import DB_NAME, MIGRATIONS

    if not data_dir.is_dir():
        raise _QueueError(f"{data_dir}: no such data directory")
    path = data_dir / DB_NAME
    if not path.is_file():
        raise _QueueError(f"{path}: no station database (has a station run with --data-dir {data_dir}?)")
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None)
    except sqlite3.Error as exc:
        raise _QueueError(f"{path}: cannot open: {exc}") from None
    try:
        db.execute("BEGIN")
        (version,) = db.execute("PRAGMA user_version").fetchone()
        if version > len(MIGRATIONS):
            raise _QueueError(
                f"{path}: database schema version {version} is newer than this ocpp-station "
                f"understands ({len(MIGRATIONS)})"
            )
        records: dict[str, dict[str, Any]] = {}
        if version >= 2:
            for kind, key, value in db.execute("SELECT kind, key, value FROM records ORDER BY kind, key"):
                records.setdefault(kind, {})[key] = orjson.loads(value)
        db.execute("COMMIT")
    except (sqlite3.Error, orjson.JSONDecodeError) as exc:
        raise _QueueError(f"{path}: cannot read: {exc}") from None
    finally:
        db.close()
    return version, records


def _summary(action: str, payload: dict[str, Any]) -> str:
    if action == "StartTransaction":
        return (
            f"connector {payload.get('connectorId')}, idTag {payload.get('idTag')}, "
            f"meterStart {payload.get('meterStart')} Wh, {payload.get('timestamp')}"
        )
    if action == "StopTransaction":
        return f"meterStop {payload.get('meterStop')} Wh, {payload.get('reason', 'Local')}, {payload.get('timestamp')}"
    if action == "MeterValues":
        values = payload.get("meterValue") or [{}]
        samples = [s for v in values for s in v.get("sampledValue", [])]
        energy = next(
            (
                s.get("value")
                for s in samples
                if s.get("measurand", "Energy.Active.Import.Register") == "Energy.Active.Import.Register"
            ),
            None,
        )
        text = f"connector {payload.get('connectorId')}, {len(samples)} value(s)"
        if energy is not None:
            text += f", {energy} Wh"
        return f"{text}, {values[-1].get('timestamp')}"
    return ", ".join(f"{k} {v}" for k, v in payload.items())[:80]


def _queue_report(data_dir: Path) -> dict[str, Any]:
    from ocpp_station.core.clock import format_datetime

    version, records = _read_records(data_dir)
    shutdown = records.get("station", {}).get("shutdown")
    outbox = []
    for key, record in sorted(records.get("outbox", {}).items(), key=lambda item: int(item[0])):
        payload = record.get("payload", {})
        not_before = float(record.get("notBefore", 0.0))
        outbox.append(
            {
                "seq": int(key),
                "action": record.get("action"),
                "attempts": int(record.get("attempts", 0)),
                "localTransactionId": record.get("meta", {}).get("tx"),
                "notBefore": format_datetime(not_before) if not_before else None,
                "summary": _summary(str(record.get("action")), payload),
                "payload": payload,
            }
        )
    transactions = []
    for record in sorted(records.get("transactions", {}).values(), key=lambda r: int(r.get("localId", 0))):
        last_at = record.get("lastAt", record.get("startedAt"))
        transactions.append(
            {
                "localId": record.get("localId"),
                "transactionId": record.get("transactionId"),
                "connectorId": record.get("connectorId"),
                "idTag": record.get("idTag"),
                "meterStart": record.get("meterStart"),
                "meterLast": record.get("meterLast", record.get("meterStart")),
                "lastAt": None if last_at is None else format_datetime(float(last_at)),
                "stopping": bool(record.get("stopping", False)),
            }
        )
    return {
        "dataDir": str(data_dir),
        "database": str(data_dir / "station.db"),
        "schemaVersion": version,
        # None: no run recorded; False: a crash or power loss ended the last run, or it is running now.
        "cleanShutdown": None if shutdown is None else bool(shutdown.get("clean", False)),
        "outbox": outbox,
        "transactions": transactions,
        "authCacheEntries": len(records.get("auth_cache", {})),
    }


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]


def _print_queue(report: dict[str, Any]) -> None:
    clean = report["cleanShutdown"]
    last = {
        None: "no run recorded",
        True: "shut down cleanly",
        False: "did not shut down cleanly (crash or power loss), or the station is running now",
    }[clean]
    print(f"{report['database']} (schema {report['schemaVersion']})")
    print(f"last run: {last}")
    outbox = report["outbox"]
    print(f"\noutbox: {len(outbox)} transaction message(s) not yet delivered")
    if outbox:
        rows = [["seq", "action", "attempts", "tx", "summary"]]
        for m in outbox:
            tx = "-" if m["localTransactionId"] is None else str(m["localTransactionId"])
            summary = m["summary"] + (f" (retry after {m['notBefore']})" if m["notBefore"] else "")
            rows.append([str(m["seq"]), str(m["action"]), str(m["attempts"]), tx, summary])
        print("\n".join(_table(rows)))
    transactions = report["transactions"]
    print(f"\nopen transactions: {len(transactions)}")
    if transactions:
        rows = [["tx", "transactionId", "connector", "idTag", "meterStart", "last meter", "stopping"]]
        for t in transactions:
            csms_id = "(not yet)" if t["transactionId"] is None else str(t["transactionId"])
            last_meter = f"{t['meterLast']} Wh at {t['lastAt']}"
            rows.append(
                [
                    str(t["localId"]),
                    csms_id,
                    str(t["connectorId"]),
                    str(t["idTag"]),
                    str(t["meterStart"]),
                    last_meter,
                    "yes" if t["stopping"] else "no",
                ]
            )
        print("\n".join(_table(rows)))
    print(
        f"\nauthorization cache: {report['authCacheEntries']} entr{'y' if report['authCacheEntries'] == 1 else 'ies'}"
    )


def _queue(args: argparse.Namespace) -> int:
    import json

    try:
        report = _queue_report(args.data_dir)
    except _QueueError as exc:
        print(f"ocpp-station: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        _print_queue(report)
    return 0


def _csms_passwords(items: list[str] | None) -> dict[str, str] | None:
    """``--password CP=KEY`` options as a dict (None: no option, no check)."""
    if items is None:
        return None
    passwords: dict[str, str] = {}
    for item in items:
        cp_id, sep, key = item.partition("=")
        if not sep or not cp_id or not key:
            raise ConfigError(
                "--password", "", f"must be CP=KEY (a charge point id and its password), got {item!r}"
            )
        if cp_id in passwords:
            raise ConfigError("--password", "", f"charge point {cp_id!r} given twice")
        passwords[cp_id] = key
    return passwords


def _csms_ssl_context(args: argparse.Namespace) -> ssl.SSLContext | None:
    """The TLS context of ``--tls-cert`` / ``--tls-key`` / ``--ca`` (None: plain ws://)."""
    from ocpp_station.transport.tls import server_context

    if args.tls_cert is None and args.tls_key is None:
        if args.ca is not None:
            raise ConfigError("--ca", "", "requires --tls-cert and --tls-key (client certificates need TLS)")
        return None
    if args.tls_cert is None or args.tls_key is None:
        raise ConfigError("--tls-cert/--tls-key", "", "give both: the certificate chain and its private key")
    try:
        return server_context(args.tls_cert, args.tls_key, args.ca)
    except OSError as exc:  # ssl.SSLError included
        raise ConfigError("--tls-cert/--tls-key/--ca", "", str(exc)) from None


async def _run_csms(
    args: argparse.Namespace, context: ssl.SSLContext | None, passwords: dict[str, str] | None
) -> int:
    from ocpp_station.sim.csms import serve

    tags = None if args.valid_tags is None else [t for t in args.valid_tags.split(",") if t]
    await serve(
        args.host,
        args.port,
        valid_id_tags=tags,
        log_messages=not args.quiet,
        passwords=passwords,
        ssl_context=context,
        signing_ca=_csms_signing_ca(args),
        cpo_name=args.cpo_name,
    )
    return 0


def _csms_signing_ca(args: argparse.Namespace) -> Any:
    """``--sign-ca-cert`` / ``--sign-ca-key`` (both or neither): the CA that signs CSRs."""
    from ocpp_station.sim.signing import SigningCa

    if args.sign_ca_cert is None and args.sign_ca_key is None:
        return None
    if args.sign_ca_cert is None or args.sign_ca_key is None:
        raise ConfigError(
            "--sign-ca-cert/--sign-ca-key", "", "give both: the CA certificate and its private key"
        )
    try:
        return SigningCa.load(args.sign_ca_cert, args.sign_ca_key)
    except ValueError as exc:
        raise ConfigError("--sign-ca-cert/--sign-ca-key", "", str(exc)) from None


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    level = args.log_level or ("warning" if args.command in ("demo", "fleet") else "info")
    configure_logging(level, args.log_format)
    try:
        if args.command == "run":
            config = _load(args)
            return asyncio.run(_run_station(config, args.log_frames))
        if args.command == "csms":
            context = _csms_ssl_context(args)
            return asyncio.run(_run_csms(args, context, _csms_passwords(args.password)))
        if args.command == "queue":
            return _queue(args)
        if args.command == "firmware-image":
            return _firmware_image(args)
        if args.command == "sign-firmware":
            return _sign_firmware(args)
        if args.command == "fleet":
            return _fleet(args)
        from ocpp_station.sim.demo import run_dashboard_demo, run_demo

        if args.dashboard:
            return asyncio.run(run_dashboard_demo(args.port))
        return asyncio.run(run_demo(args.charge_seconds))
    except ConfigError as exc:
        print(f"ocpp-station: configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except StoreError as exc:
        print(f"ocpp-station: storage error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return 130
