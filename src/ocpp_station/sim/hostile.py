"""Hostile frames for a charge point: a seeded generator of malformed OCPP-J traffic (issue #8 §4).

Used by the fuzz test (``tests/transport/test_hostile_frames.py``, a few thousand frames over a real
websocket) and the bench (``bench/bench_hostile.py``, 100,000 frames). Every frame says what a charge
point must do with it, from OCPP-J 1.6 alone:

* ``answer="error"``: a CALL whose UniqueId can be read; the answer is a CALLERROR with that id, and
  ``code`` is the OCPP-J 1.6 §4.2.3 code when one follows from the frame (None: any code);
* ``answer="unaddressed"``: not readable as a frame with an id (bad JSON, no array, no string id); it
  cannot be answered to anyone, so nothing or a CALLERROR with the id ``"-1"`` is acceptable;
* ``answer="ignore"``: a message type that is not 2, 3 or 4 (§4.1.3: the payload is ignored), or a
  CALLRESULT / CALLERROR for an id the charge point never sent: nothing is sent back.

A CALL that is not valid is never carried out, so a charge point that follows OCPP-J keeps its state
whatever this sends. The mutations of payloads are driven by the official schemas: each breaks exactly
one rule, so the expected code is known (the project's mapping of schema rules to codes:
:mod:`ocpp_station.wire.schemas`).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from ocpp_station.sim.examples import CENTRAL_SYSTEM_REQUESTS
from ocpp_station.wire.actions import ACTIONS, Initiator
from ocpp_station.wire.schemas import load_schema

Answer = Literal["error", "unaddressed", "ignore"]

#: A schema-valid request of every action a central system sends (mutated into hostile ones).
EXAMPLES = CENTRAL_SYSTEM_REQUESTS

#: Actions a charge point answers; the others are the charge point's own (a CSMS sending them gets
#: NotSupported from us: known to OCPP, not answered by a charge point).
CENTRAL_SYSTEM_ACTIONS = tuple(a for a, who in ACTIONS.items() if Initiator.CENTRAL_SYSTEM in who)
CHARGE_POINT_ONLY_ACTIONS = tuple(a for a, who in ACTIONS.items() if who is Initiator.CHARGE_POINT)

BIG = 100_000  # "strings of 100 KB" (issue #8)


@dataclass(frozen=True, slots=True)
class HostileFrame:
    """One frame to send, with what OCPP-J says must come back."""

    kind: str
    data: bytes
    answer: Answer
    message_id: str | None = None
    #: The action of the CALL when it is one of the table's (for the receiver's NotSupported case).
    action: str | None = None
    code: str | None = None


#: Values of another JSON type than the declared one (a bool is no integer in JSON Schema).
WRONG_VALUES: dict[str, list[Any]] = {
    "integer": ["5", 1.5, True, None, [], {}],
    "number": ["5", True, None, [], {}],
    "string": [5, 1.5, True, None, [], {}],
    "boolean": [5, "true", None, [], {}],
    "array": [5, "x", {}, None],
    "object": [5, "x", [], None],
}


def _mutations(rng: random.Random, action: str) -> list[tuple[str, Any, str | None]]:
    """(kind, payload, expected code) breaking one schema rule of ``action``'s request."""
    schema = load_schema(action)
    example = EXAMPLES[action]
    properties: dict[str, Any] = schema.get("properties", {})
    out: list[tuple[str, Any, str | None]] = [
        (
            "extra-field",
            {**example, "x" * rng.randint(1, 20): rng.choice([1, "y", None])},
            "FormationViolation",
        ),
        ("payload-not-object", rng.choice([[], "text", 5, True, [example]]), "FormationViolation"),
    ]
    for name in schema.get("required", []):
        reduced = {k: v for k, v in example.items() if k != name}
        out.append(("missing-field", reduced, "ProtocolError"))
    for name, spec in properties.items():
        declared = spec.get("type")
        if declared is None or name not in example:
            continue
        wrong = rng.choice(WRONG_VALUES[declared])
        out.append(("wrong-type", {**example, name: wrong}, "TypeConstraintViolation"))
        if "enum" in spec:
            out.append(
                (
                    "bad-enum",
                    {**example, name: "Bogus" + str(rng.randint(0, 99))},
                    "PropertyConstraintViolation",
                )
            )
        if declared == "string" and "maxLength" in spec:
            out.append(("string-100KB", {**example, name: "z" * BIG}, "TypeConstraintViolation"))
        if declared in ("integer", "string"):
            nested: Any = 1
            for _ in range(rng.randint(20, 200)):  # orjson writes at most 255 levels
                nested = [nested]
            out.append(("deep-nesting", {**example, name: nested}, "TypeConstraintViolation"))
    return out


def _call(message_id: Any, action: Any, payload: Any) -> bytes:
    return orjson.dumps([2, message_id, action, payload])


def hostile_frames(seed: int, count: int) -> Iterator[HostileFrame]:
    """``count`` hostile frames from ``seed`` (the same seed gives the same frames). Message ids of
    CALLs are unique (``fz-<n>``) so answers can be matched."""
    rng = random.Random(seed)
    makers = [
        _bad_json,
        _wrong_envelope,
        _unknown_action,
        _charge_point_action,
        _bad_payload,
        _bad_payload,
        _bad_payload,
        _bad_id,
        _stray_answer,
    ]
    for n in range(count):
        yield rng.choice(makers)(rng, f"fz-{n}")


def _bad_json(rng: random.Random, mid: str) -> HostileFrame:
    valid = _call(mid, "Reset", {"type": "Hard"})
    choice = rng.randrange(5)
    if choice == 0:
        data = valid[: rng.randrange(1, len(valid) - 1)]  # a truncated frame
    elif choice == 1:
        data = bytes(rng.randrange(32, 127) for _ in range(rng.randrange(1, 80)))
    elif choice == 2:
        data = b"[" * rng.randint(1025, 5000)  # nesting beyond any JSON parser's limit
    elif choice == 3:
        data = valid.replace(b'"Hard"', b"Hard")
    else:
        data = b'[2, "' + mid.encode() + b'", "Reset", {"type": "Hard",}]'
    if data.strip() == b"":
        data = b"{"
    return HostileFrame("bad-json", data, "unaddressed")


def _wrong_envelope(rng: random.Random, mid: str) -> HostileFrame:
    choice = rng.randrange(10)
    if choice == 0:
        return HostileFrame("not-array", orjson.dumps(rng.choice([{}, "x", 5, None, True])), "unaddressed")
    if choice == 1:
        return HostileFrame("empty-array", b"[]", "unaddressed")
    if choice == 2:
        return HostileFrame(
            "short-call", orjson.dumps([2, mid, "Reset"]), "error", mid, code="FormationViolation"
        )
    if choice == 3:
        frame = orjson.dumps([2, mid, "Reset", {"type": "Hard"}, "extra"])
        return HostileFrame("long-call", frame, "error", mid, code="FormationViolation")
    if choice == 4:
        frame = orjson.dumps([str(2), mid, "Reset", {"type": "Hard"}])
        return HostileFrame("type-as-string", frame, "error", mid, code="FormationViolation")
    if choice == 5:
        frame = orjson.dumps([2.0, mid, "Reset", {"type": "Hard"}])
        return HostileFrame("type-as-float", frame, "error", mid, code="FormationViolation")
    if choice == 6:
        kind = rng.choice([0, 1, 5, 9, -1, 2**40])
        return HostileFrame("unknown-type", orjson.dumps([kind, mid, "Reset", {"type": "Hard"}]), "ignore")
    if choice == 7:
        frame = orjson.dumps([2, mid, rng.choice([5, None, ["Reset"], {"a": 1}]), {}])
        return HostileFrame("action-not-string", frame, "error", mid, code="FormationViolation")
    if choice == 8:
        return HostileFrame("empty-action", _call(mid, "", {}), "error", mid, code="FormationViolation")
    frame = orjson.dumps(
        rng.choice([[3, mid], [3, mid, [1]], [4, mid, 5, "x", {}], [4, mid, "GenericError"]])
    )
    return HostileFrame("malformed-answer", frame, "ignore")


def _unknown_action(rng: random.Random, mid: str) -> HostileFrame:
    choice = rng.randrange(7)
    if choice == 0:
        action = "A" * rng.choice([51, 300, 4096])
    elif choice == 1:
        action = "../" * rng.randint(1, 20) + rng.choice(["etc/passwd", "tmp/x", "ocpp/v16/schemas/Reset"])
    elif choice == 2:
        action = "y" * BIG
    elif choice == 3:
        action = rng.choice(["reset", "RESET", "Reset ", " Reset", "Reset\x00", "ResetResponse", "__class__"])
    elif choice == 4:
        action = "".join(chr(rng.randrange(0x20, 0x2FFF)) for _ in range(rng.randrange(1, 40)))
    elif choice == 5:
        action = "/" + rng.choice(CENTRAL_SYSTEM_ACTIONS)
    else:
        action = "".join(
            rng.choice("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(12)
        )
    if action in ACTIONS:
        action += "X"
    return HostileFrame("unknown-action", _call(mid, action, {}), "error", mid, code="NotImplemented")


def _charge_point_action(rng: random.Random, mid: str) -> HostileFrame:
    action = rng.choice(CHARGE_POINT_ONLY_ACTIONS)
    return HostileFrame("charge-point-action", _call(mid, action, {}), "error", mid, action, "NotSupported")


def _bad_payload(rng: random.Random, mid: str) -> HostileFrame:
    action = rng.choice(CENTRAL_SYSTEM_ACTIONS)
    kind, payload, code = rng.choice(_mutations(rng, action))
    if kind == "payload-not-object":
        # The frame itself is malformed: FormationViolation before the action is looked at.
        return HostileFrame(kind, _call(mid, action, payload), "error", mid, None, code)
    return HostileFrame(kind, _call(mid, action, payload), "error", mid, action, code)


def _bad_id(rng: random.Random, mid: str) -> HostileFrame:
    choice = rng.randrange(3)
    if choice == 0:
        frame = orjson.dumps([2, rng.choice([5, None, 1.5, [mid], {"id": mid}]), "Reset", {"type": "Hard"}])
        return HostileFrame("id-not-string", frame, "unaddressed")
    if choice == 1:
        long_id = mid + "-" + "q" * rng.choice([40, 1000, BIG])
        frame = _call(long_id, "Reset", {"type": "Hard"})
        return HostileFrame("id-too-long", frame, "error", long_id, code="FormationViolation")
    frame = orjson.dumps([2, mid, "Heartbeat"])
    return HostileFrame("call-without-payload", frame, "error", mid, code="FormationViolation")


def _stray_answer(rng: random.Random, mid: str) -> HostileFrame:
    if rng.random() < 0.5:
        frame = orjson.dumps([3, "never-" + mid, rng.choice([{}, {"status": "Accepted"}, None])])
        return HostileFrame("stray-result", frame, "ignore")
    frame = orjson.dumps([4, "never-" + mid, rng.choice(["GenericError", "Bogus", "x" * 300]), "boo", {}])
    return HostileFrame("stray-error", frame, "ignore")
