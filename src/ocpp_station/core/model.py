"""The engine's state of connectors and transactions: plain data, no behaviour."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ocpp_station.core.events import MeterReading


@dataclass(slots=True)
class Fault:
    error_code: str
    info: str | None = None
    vendor_error_code: str | None = None


@dataclass(slots=True)
class Transaction:
    """One charging session. ``local_id`` is ours; ``transaction_id`` the CSMS's, once it answered."""

    local_id: int
    connector_id: int
    id_tag: str
    parent_id_tag: str | None
    meter_start_wh: int
    started_at: float  # OCPP clock
    transaction_id: int | None = None
    reservation_id: int | None = None
    tx_profile: dict[str, Any] | None = None
    #: The CSMS answered StartTransaction with a non-Accepted idTagInfo (OCPP 1.6 §5.x).
    deauthorized: bool = False
    stopping: bool = False
    #: meterValue elements for StopTransaction.req transactionData (StopTxnSampled/AlignedData).
    stop_data: list[dict[str, Any]] = field(default_factory=list)


@dataclass(slots=True)
class Connector:
    """Connector ``id`` (0 = the charge point as a whole)."""

    id: int
    operative: bool = True
    #: A ChangeAvailability answered Scheduled: the availability to take when the transaction ends.
    scheduled_operative: bool | None = None
    #: The EV is connected (control pilot).
    plugged: bool = False
    #: Socket connectors: the driver's cable is in the socket (proximity pilot), EV connected or not.
    cable_in_socket: bool = False
    ev_ready: bool = True
    fault: Fault | None = None
    reserved: bool = False
    finishing: bool = False
    #: An idTag authorized for this connector, waiting for the cable (card first).
    waiting_id_tag: str | None = None
    transaction: Transaction | None = None
    energized: bool = False
    meter: MeterReading = field(default_factory=MeterReading)
    # What the CSMS was last told (StatusNotification), and when the status last changed.
    reported_status: str | None = None
    reported_error: str | None = None
    status_since: float = 0.0
