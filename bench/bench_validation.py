"""Validation bench: microseconds per call to check an OCPP payload, per validator, in one run.

    .venv/bin/python bench/bench_validation.py [--number 20000] [--repeat 5]

Three payloads: a MeterValues.req with 9 sampled values (the hot message), a BootNotification.req and
a SetChargingProfile.req (nesting, a date-time, the 0.1 ``multipleOf``). For each:

* ``fastjsonschema(dict)``: the compiled official schema on the decoded dict (the old path);
* ``msgspec.convert(dict)``: the generated struct (``ocpp_station.wire.messages``) from the dict;
* ``msgspec.json.decode(bytes)``: the struct straight from the JSON text (what the core can do once it
  takes typed messages: no dict at all);
* ``orjson+fastjsonschema(bytes)``: JSON text to a checked dict, the old path from bytes;
* ``validate_request(dict)``: the public API (``ocpp_station.wire.schemas``): msgspec, the action
  looked up in the fixed table, errors mapped to CALLERROR codes;
* ``validate_with_schema(dict)``: the same API over fastjsonschema (what ``validate_request`` was);
* ``jsonschema(dict)``: the reference implementation, as a baseline (fewer calls: it is slow).

The figure is the best of ``--repeat`` runs of ``--number`` calls (the machine is shared: the minimum is
the least disturbed); ratios are against ``fastjsonschema(dict)`` measured in the same run.
"""

from __future__ import annotations

import argparse
import timeit
from collections.abc import Callable
from typing import Any

import jsonschema
import msgspec
import orjson

from ocpp_station.sim.examples import meter_value_samples
from ocpp_station.wire import schemas
from ocpp_station.wire.messages import REQUESTS
from ocpp_station.wire.timestamps import strict_dec_hook

#: The 9 sampled values of a 3-phase charger, as the station's metering makes them.
SAMPLES: list[dict[str, Any]] = meter_value_samples()

PAYLOADS: dict[str, dict[str, Any]] = {
    "MeterValues": {
        "connectorId": 1,
        "transactionId": 42,
        "meterValue": [{"timestamp": "2026-11-25T12:00:00.000Z", "sampledValue": SAMPLES}],
    },
    "BootNotification": {
        "chargePointVendor": "ACME",
        "chargePointModel": "Wallbox 22",
        "chargePointSerialNumber": "SN123",
        "firmwareVersion": "1.4.2",
        "meterType": "DZG",
    },
    "SetChargingProfile": {
        "connectorId": 1,
        "csChargingProfiles": {
            "chargingProfileId": 7,
            "stackLevel": 1,
            "chargingProfilePurpose": "TxDefaultProfile",
            "chargingProfileKind": "Absolute",
            "validFrom": "2026-11-25T00:00:00Z",
            "chargingSchedule": {
                "startSchedule": "2026-11-25T00:00:00Z",
                "chargingRateUnit": "A",
                "chargingSchedulePeriod": [
                    {"startPeriod": 0, "limit": 32.0},
                    {"startPeriod": 3600, "limit": 16.5, "numberPhases": 3},
                    {"startPeriod": 7200, "limit": 8.0},
                ],
                "minChargingRate": 6.0,
            },
        },
    },
}


def convert(payload: object, struct: type) -> object:
    """``msgspec.convert`` as the wire layer calls it (date-times through our hooks)."""
    return msgspec.convert(payload, struct, dec_hook=strict_dec_hook)


def candidates(action: str) -> dict[str, tuple[Callable[[], object], int]]:
    """name -> (one call, divisor of --number) for ``action``'s payload."""
    payload = PAYLOADS[action]
    data = orjson.dumps(payload)
    struct = REQUESTS[action]
    compiled = schemas._compiled(action, True)
    decoder = msgspec.json.Decoder(struct, dec_hook=strict_dec_hook)
    reference = jsonschema.Draft4Validator(schemas.load_schema(action))
    for check in (compiled(payload), convert(payload, struct), decoder.decode(data)):
        assert check is not None
    reference.validate(payload)
    schemas.validate_request(action, payload)
    schemas.validate_with_schema(action, payload)
    return {
        "fastjsonschema(dict)": (lambda: compiled(payload), 1),
        "msgspec.convert(dict)": (lambda: convert(payload, struct), 1),
        "msgspec.json.decode(bytes)": (lambda: decoder.decode(data), 1),
        "orjson+fastjsonschema(bytes)": (lambda: compiled(orjson.loads(data)), 1),
        "validate_request(dict)": (lambda: schemas.validate_request(action, payload), 1),
        "validate_with_schema(dict)": (lambda: schemas.validate_with_schema(action, payload), 1),
        "jsonschema(dict)": (lambda: reference.validate(payload), 20),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--number", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"{'payload':<20} {'validator':<30} {'us/call':>9} {'ratio':>7}")
    for action in PAYLOADS:
        base = 0.0
        for name, (call, divisor) in candidates(action).items():
            number = max(args.number // divisor, 10)
            best = min(timeit.repeat(call, number=number, repeat=args.repeat)) / number * 1e6
            base = base or best
            print(f"{action:<20} {name:<30} {best:9.2f} {best / base:7.2f}")


if __name__ == "__main__":
    main()
