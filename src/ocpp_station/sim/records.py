"""The development CSMS's record of its stations: the frame log, what each station told it (boot,
statuses, transactions, meter values) and the errors its Python API raises.

The station state is recorded from each (request, response) pair by a table of recorders, action ->
recorder, whatever handler produced the answer (:mod:`ocpp_station.sim.csms_link`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Final, Literal

import orjson

from ocpp_station.wire.frames import Call, CallResult, Frame

JsonDict = dict[str, Any]
Direction = Literal["in", "out"]
Kind = Literal["CALL", "CALLRESULT", "CALLERROR"]


def clock_text(epoch_s: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(epoch_s)) + f".{int(epoch_s * 1000) % 1000:03d}"


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One frame seen by the CSMS. ``action`` is the CALL's action, also on the answer to it (None for an
    answer to no known CALL). A CALLERROR's payload is ``{"errorCode", "errorDescription", "errorDetails"}``."""

    time: float
    charge_point_id: str
    direction: Direction
    kind: Kind
    message_id: str
    action: str | None
    payload: JsonDict

    @classmethod
    def of_frame(
        cls, time: float, charge_point_id: str, direction: Direction, frame: Frame, action: str | None
    ) -> LogEntry:
        """The entry for ``frame``, seen at ``time``."""
        kind: Kind
        if isinstance(frame, Call):
            kind, payload = "CALL", frame.payload
        elif isinstance(frame, CallResult):
            kind, payload = "CALLRESULT", frame.payload
        else:
            details = {"errorCode": frame.error_code, "errorDescription": frame.description}
            kind, payload = "CALLERROR", details | {"errorDetails": frame.details}
        return cls(time, charge_point_id, direction, kind, frame.message_id, action, payload)

    def describe(self) -> str:
        """``17:40:01.123  CP_1 -> CSMS  CALL StartTransaction {"connectorId":1,...}``."""
        route = (
            f"{self.charge_point_id} -> CSMS" if self.direction == "in" else f"CSMS -> {self.charge_point_id}"
        )
        body = orjson.dumps(self.payload).decode()
        return f"{clock_text(self.time)}  {route}  {self.kind} {self.action or '?'} {body}"


@dataclass(slots=True)
class TransactionInfo:
    """A transaction as the CSMS saw it (StartTransaction, MeterValues, StopTransaction)."""

    transaction_id: int
    connector_id: int | None
    id_tag: str | None
    meter_start: int | None
    start_timestamp: str | None
    id_tag_status: str | None = None
    meter_stop: int | None = None
    stop_timestamp: str | None = None
    stop_id_tag: str | None = None
    reason: str | None = None
    #: MeterValue objects received for this transaction (MeterValues and StopTransaction.transactionData).
    meter_values: list[JsonDict] = field(default_factory=list)

    @property
    def active(self) -> bool:
        return self.stop_timestamp is None


@dataclass(slots=True)
class StationInfo:
    """What the CSMS knows of one charge point. Kept across reconnections."""

    charge_point_id: str
    connected: bool = False
    #: The last BootNotification request payload, and the status answered to it.
    boot: JsonDict | None = None
    boot_status: str | None = None
    #: Latest status per connector id (from StatusNotification), and the full latest payload.
    statuses: dict[int, str] = field(default_factory=dict)
    status_notifications: dict[int, JsonDict] = field(default_factory=dict)
    transactions: dict[int, TransactionInfo] = field(default_factory=dict)
    #: MeterValues request payloads not tied to a known transaction.
    meter_values: list[JsonDict] = field(default_factory=list)
    #: Websocket connections accepted, and refused for wrong or missing HTTP Basic credentials.
    connections: int = 0
    refused: int = 0
    #: When the open websocket was accepted (epoch s); None while disconnected.
    connected_since: float | None = None
    #: The currentTime of the last Heartbeat.conf sent to it.
    last_heartbeat: str | None = None

    def to_json(self) -> JsonDict:
        return {
            "id": self.charge_point_id,
            "connected": self.connected,
            "boot": self.boot,
            "bootStatus": self.boot_status,
            "connections": self.connections,
            "refused": self.refused,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "connectedSince": self.connected_since,
            "lastHeartbeat": self.last_heartbeat,
            "errorCodes": {str(k): n.get("errorCode") for k, n in sorted(self.status_notifications.items())},
            "transactions": [asdict(tx) | {"active": tx.active} for tx in self.transactions.values()],
        }


class CallErrorReceived(Exception):
    """The station answered a CSMS-initiated CALL with a CALLERROR (OCPP-J 1.6 §4.2.3)."""

    def __init__(self, code: str, description: str, details: JsonDict) -> None:
        super().__init__(f"{code}: {description}" if description else code)
        self.code = code
        self.description = description
        self.details = details


class StationNotConnected(KeyError):
    """No websocket is open for this charge point id."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "station not connected"


class StationDisconnected(ConnectionError):
    """The station's websocket closed before it answered a CALL."""


# --- station state, recorded from (request, response) pairs: a table, whatever handler answered ---


def _record_boot(station: StationInfo, request: JsonDict, response: JsonDict) -> None:
    station.boot = request
    station.boot_status = response.get("status")


def _record_status(station: StationInfo, request: JsonDict, response: JsonDict) -> None:
    connector_id = request["connectorId"]
    station.statuses[connector_id] = request["status"]
    station.status_notifications[connector_id] = request


def _record_start(station: StationInfo, request: JsonDict, response: JsonDict) -> None:
    tx_id = response["transactionId"]
    station.transactions[tx_id] = TransactionInfo(
        transaction_id=tx_id,
        connector_id=request["connectorId"],
        id_tag=request["idTag"],
        meter_start=request["meterStart"],
        start_timestamp=request["timestamp"],
        id_tag_status=response["idTagInfo"]["status"],
    )


def _record_stop(station: StationInfo, request: JsonDict, response: JsonDict) -> None:
    tx_id = request["transactionId"]
    tx = station.transactions.get(tx_id)
    if tx is None:  # started before this CSMS ran: remember what the stop tells
        tx = TransactionInfo(tx_id, None, None, None, None)
        station.transactions[tx_id] = tx
    tx.meter_stop = request["meterStop"]
    tx.stop_timestamp = request["timestamp"]
    tx.stop_id_tag = request.get("idTag")
    tx.reason = request.get("reason")
    tx.meter_values.extend(request.get("transactionData", []))


def _record_heartbeat(station: StationInfo, request: JsonDict, response: JsonDict) -> None:
    station.last_heartbeat = response.get("currentTime")


def _record_meter_values(station: StationInfo, request: JsonDict, response: JsonDict) -> None:
    tx = station.transactions.get(request.get("transactionId", -1))
    if tx is None:
        station.meter_values.append(request)
    else:
        tx.meter_values.extend(request["meterValue"])


RECORDERS: Final[dict[str, Callable[[StationInfo, JsonDict, JsonDict], None]]] = {
    "BootNotification": _record_boot,
    "Heartbeat": _record_heartbeat,
    "StatusNotification": _record_status,
    "StartTransaction": _record_start,
    "StopTransaction": _record_stop,
    "MeterValues": _record_meter_values,
}
