"""The per-action message policy (core/policy.py: MESSAGE_POLICY; OCPP 1.6 §4.2, §4.7, §4.9). Each test
walks every action the charge point sends and checks that the outbox and the engine do what its row
says: transaction-related, collapsed offline, dropped offline, kept across a lost link, capped, allowed
before Accepted."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from ocpp_station.core.events import TimerDue
from ocpp_station.core.policy import MESSAGE_POLICY, Transactional, policy_of
from ocpp_station.core.rpc import Outbox, OutgoingCall
from ocpp_station.wire import schemas
from ocpp_station.wire.actions import ACTIONS, Initiator
from ocpp_station.wire.messages import REQUESTS, AuthorizeRequest, OcppStruct
from tests.core.harness import Harness, Unanswered
from tests.wire.test_messages import REQUEST_EXAMPLES

SENT_BY_US = sorted(action for action, who in ACTIONS.items() if Initiator.CHARGE_POINT in who)
NO_TX: dict[str, Any] = {}
IN_TX: dict[str, Any] = {"tx": 7}


def _example(action: str, **changes: Any) -> OcppStruct:
    """A schema-valid request of ``action`` (the examples of tests/wire/test_messages.py)."""
    message = schemas.parse_request(action, REQUEST_EXAMPLES[action])
    return msgspec.structs.replace(message, **changes) if changes else message


def _ids() -> Any:
    count = iter(range(1, 1_000_000))
    return lambda: str(next(count))


def test_rows_name_actions_the_charge_point_sends() -> None:
    assert set(MESSAGE_POLICY) <= set(SENT_BY_US)


def test_the_table() -> None:
    def having(flag: str) -> set[str]:
        return {a for a in SENT_BY_US if getattr(policy_of(a), flag)}

    assert {a for a in SENT_BY_US if policy_of(a).is_transactional(IN_TX)} == {
        "StartTransaction",
        "StopTransaction",
        "MeterValues",
    }
    assert {a for a in SENT_BY_US if policy_of(a).is_transactional(NO_TX)} == {
        "StartTransaction",
        "StopTransaction",
    }
    assert policy_of("MeterValues").transactional is Transactional.WITH_TRANSACTION
    assert having("collapse_by") == {"StatusNotification"}
    assert having("dropped_offline") == {"Heartbeat"}
    # SecurityEventNotification: guaranteed delivery (security whitepaper A04.FR.02).
    assert having("kept") == {"StatusNotification", "SecurityEventNotification"}
    assert having("uncapped") == {"BootNotification", "SecurityEventNotification"}
    assert having("before_accepted") == {"BootNotification"}


@pytest.mark.parametrize("action", SENT_BY_US)
@pytest.mark.parametrize("meta", [NO_TX, IN_TX], ids=["alone", "of-a-transaction"])
def test_transaction_related_by_the_table(action: str, meta: dict[str, Any]) -> None:
    call = OutgoingCall(action, _example(action), dict(meta))
    assert call.transactional is policy_of(action).is_transactional(meta)
    assert call.kept is (call.transactional or policy_of(action).kept)
    # A stored record is a transaction message whatever it holds.
    assert OutgoingCall.from_record(1, call.to_record()).transactional


@pytest.mark.parametrize("action", SENT_BY_US)
def test_collapsed_offline_by_the_table(action: str) -> None:
    key = policy_of(action).collapse_by
    has_connector = "connector_id" in {f.name for f in msgspec.structs.fields(REQUESTS[action])}
    added: dict[bool, list[OutgoingCall]] = {}
    offline, online = Outbox(_ids()), Outbox(_ids())
    for outbox, collapse in ((offline, True), (online, False)):
        calls = added[collapse] = [
            OutgoingCall(action, _example(action, **({"connector_id": cid} if has_connector else {})))
            for cid in (1, 1, 2)
        ]
        for call in calls:
            outbox.add(call, collapse=collapse)
    assert list(online) == added[False]
    assert list(offline) == (added[True][1:] if key == "connectorId" else added[True])


@pytest.mark.parametrize("action", SENT_BY_US)
@pytest.mark.parametrize("meta", [NO_TX, IN_TX], ids=["alone", "of-a-transaction"])
def test_queue_cap_by_the_table(action: str, meta: dict[str, Any]) -> None:
    outbox = Outbox(_ids(), cap=0)
    call = OutgoingCall(action, _example(action), dict(meta))
    outbox.add(call)
    capped = not (policy_of(action).uncapped or policy_of(action).is_transactional(meta))
    assert call.capped is capped
    assert (outbox.dropped == [call]) is capped
    assert (list(outbox) == [call]) is not capped


@pytest.mark.parametrize("action", SENT_BY_US)
def test_before_accepted_by_the_table(action: str) -> None:
    outbox = Outbox(_ids())
    outbox.add(OutgoingCall(action, _example(action)))
    ready = outbox.next_ready(0.0, accepted=False)
    assert (ready is not None) is policy_of(action).before_accepted
    triggered = Outbox(_ids())
    triggered.add(OutgoingCall(action, _example(action), {"triggered": True}))
    assert triggered.next_ready(0.0, accepted=False) is not None  # TriggerMessage (§4.2)


#: Schema-valid payloads of messages that need no transaction of the engine's.
PAYLOADS: dict[str, dict[str, Any]] = {
    "Authorize": {"idTag": "TAG"},
    "DataTransfer": {"vendorId": "policy-test"},
    "DiagnosticsStatusNotification": {"status": "Idle"},
    "FirmwareStatusNotification": {"status": "Idle"},
    "Heartbeat": {},
    "MeterValues": {
        "connectorId": 1,
        "meterValue": [
            {"timestamp": "2026-01-01T00:00:00Z", "sampledValue": [{"value": "1", "context": "Sample.Clock"}]}
        ],
    },
    "StatusNotification": {"connectorId": 1, "errorCode": "NoError", "status": "Available"},
}


def _queue(h: Harness, action: str) -> OutgoingCall:
    h.engine.ctx.call(schemas.parse_request(action, PAYLOADS[action]))  # typed, as the features queue it
    h.feed(TimerDue())  # the engine sends what is ready after each event
    calls: list[OutgoingCall] = [*_in_flight(h), *h.engine.outbox]
    return next(c for c in reversed(calls) if c.action == action)


def _in_flight(h: Harness) -> list[OutgoingCall]:
    flight = h.engine.outbox.in_flight
    return [] if flight is None else [flight.call]


@pytest.mark.parametrize("action", sorted(PAYLOADS))
@pytest.mark.parametrize("in_flight", [True, False], ids=["in-flight", "queued"])
def test_a_lost_link_keeps_or_drops_by_the_table(action: str, in_flight: bool) -> None:
    h = Harness()
    h.advance(1)
    h.responders[action] = lambda p: Unanswered()
    if not in_flight:  # something else is in flight, the call waits behind it
        h.responders["Authorize"] = lambda p: Unanswered()
        h.engine.ctx.call(AuthorizeRequest(id_tag="BLOCKER"))
        h.feed(TimerDue())
        assert [c.action for c in _in_flight(h)] == ["Authorize"]
    call = _queue(h, action)
    assert any(c is call for c in _in_flight(h)) is in_flight
    h.disconnect()
    queued = any(c is call for c in h.engine.outbox)
    policy = policy_of(action)
    if in_flight:  # taken back, or failed back to its feature
        assert queued is policy.kept
    else:  # waiting in the queue: kept unless dropped offline
        assert queued is not policy.dropped_offline
