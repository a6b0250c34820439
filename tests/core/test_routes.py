"""Routes declared on the features' methods (issue 9 §2, ``core/features/base.py``) and the typed
messages at the engine's edges (§1): requests in, responses out, CALLs the embedding program asks for."""

from __future__ import annotations

import dataclasses
from typing import Any

import msgspec
import pytest

from ocpp_station.core.clock import shift_message
from ocpp_station.core.effects import CallCompleted
from ocpp_station.core.events import CallRequested
from ocpp_station.core.features.base import Feature, answers, on_failure, on_result, prepares, routes_of
from ocpp_station.core.rpc import OutgoingCall, field_of
from ocpp_station.wire.frames import Call
from ocpp_station.wire.messages import (
    ClearCacheRequest,
    ClearCacheResponse,
    ClearCacheStatus,
    HeartbeatRequest,
    HeartbeatResponse,
    MeterValue,
    MeterValuesRequest,
    ResetRequest,
    SampledValue,
    StatusNotificationRequest,
)
from ocpp_station.wire.timestamps import Timestamp
from tests.core.harness import Harness


class _Beats(Feature):
    @on_result(HeartbeatRequest)
    def _beat(self, call: OutgoingCall, response: HeartbeatResponse) -> None: ...

    @on_failure(HeartbeatRequest)
    @prepares(HeartbeatRequest)
    def _either(self, call: OutgoingCall, *args: Any) -> bool:
        return True


class _MoreBeats(_Beats):
    @answers(ClearCacheRequest)
    def _clear(self, request: ClearCacheRequest, call: Call) -> ClearCacheResponse:
        return ClearCacheResponse(status=ClearCacheStatus.Accepted)


def test_decorated_methods_are_the_class_routes_inherited_too() -> None:
    assert {(role, action) for role, action, _ in _Beats.ROUTES} == {
        ("result", "Heartbeat"),
        ("failure", "Heartbeat"),
        ("prepare", "Heartbeat"),
    }
    assert ("answers", "ClearCache", _MoreBeats._clear) in _MoreBeats.ROUTES
    assert len(_MoreBeats.ROUTES) == 4
    routes = routes_of([Feature(), _MoreBeats()])
    assert routes.answers["ClearCache"] == (1, _MoreBeats._clear)
    assert routes_of([Feature(), _MoreBeats()]) is routes  # one table per make-up


def test_two_owners_of_a_message_are_refused() -> None:
    with pytest.raises(ValueError, match="Heartbeat is already routed"):
        routes_of([_Beats(), _MoreBeats()])


def test_only_request_structs_can_be_routed() -> None:
    with pytest.raises(KeyError):
        answers(HeartbeatResponse)


def test_the_engine_answers_what_its_features_declare() -> None:
    h = Harness()
    answered = h.engine.rpc.answered()
    assert {"Reset", "UnlockConnector", "GetConfiguration", "TriggerMessage"} <= answered
    assert "BootNotification" not in answered  # ours to send, not to answer
    assert h.engine.rpc.routes.result["BootNotification"][1].__name__ == "_boot_result"


def test_a_response_of_ours_that_breaks_its_schema_is_an_internal_error() -> None:
    h = Harness()
    routes = h.engine.rpc.routes
    index, _ = routes.answers["Reset"]

    def bad(feature: Any, request: ResetRequest, call: Call) -> Any:
        return msgspec.structs.replace(ClearCacheResponse(status=ClearCacheStatus.Accepted), status="Maybe")

    h.engine.rpc.routes = dataclasses.replace(routes, answers={**routes.answers, "Reset": (index, bad)})
    answer = h.csms_call("Reset", {"type": "Soft"})
    assert answer[2] == "InternalError"


def test_a_call_requested_with_a_payload_its_schema_refuses_completes_at_once() -> None:
    h = Harness()
    mark = len(h.calls)
    h.feed(CallRequested("DataTransfer", {"vendorId": 5}, ref=9))
    (done,) = [e for e in h.effects if isinstance(e, CallCompleted) and e.ref == 9]
    assert (done.result, done.error) == (None, "TypeConstraintViolation")
    assert "payload.vendorId" in done.error_description
    assert h.calls[mark:] == []  # nothing went out


def test_shift_message_moves_the_stamps_we_made() -> None:
    value = MeterValue(timestamp=Timestamp(1000.0), sampled_value=[SampledValue(value="1")])
    request = MeterValuesRequest(connector_id=1, meter_value=[value, value])
    moved = shift_message(request, 60)
    assert [v.timestamp for v in moved.meter_value] == [1060.0, 1060.0]
    assert all(isinstance(v.timestamp, Timestamp) for v in moved.meter_value)
    assert shift_message(HeartbeatRequest(), 60) == HeartbeatRequest()


def test_field_of_reads_a_wire_name() -> None:
    status = msgspec.convert(
        {"connectorId": 2, "errorCode": "NoError", "status": "Available"}, StatusNotificationRequest
    )
    assert field_of(status, "connectorId") == 2
    assert field_of(status, "info") is None  # UNSET reads as absent
    assert field_of(status, "nope") is None
