"""The engine's state of connectors and transactions: plain data, no behaviour."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec

from ocpp_station.core.events import MeterReading
from ocpp_station.wire.messages import ChargingProfile, StopTransactionMeterValue
from ocpp_station.wire.schemas import to_builtins
from ocpp_station.wire.timestamps import enc_hook, lenient_dec_hook

#: The reading of a meter never read: frozen, so one for every connector of every station (issue 11).
NO_READING = MeterReading()

#: What a stored ``stopData`` holds (the wire form of StopTransaction.req transactionData).
_STOP_DATA = list[StopTransactionMeterValue]


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
    #: The TxProfile of a RemoteStartTransaction.req (§5.11): the request's typed chargingProfile, or
    #: its wire form (JSON) as a stored record gives it back.
    tx_profile: ChargingProfile | dict[str, Any] | None = None
    #: The CSMS answered StartTransaction with a non-Accepted idTagInfo (OCPP 1.6 §5.x).
    deauthorized: bool = False
    stopping: bool = False
    #: Stopped DeAuthorized with its cable kept locked until its idTag (or one of its group) is
    #: presented (§3.5.4, erratum 3.5): the record outlives the StopTransaction.conf while this holds.
    cable_held: bool = False
    #: meterValue elements for StopTransaction.req transactionData (StopTxnSampled/AlignedData, §9.1.25,
    #: §9.1.27).
    stop_data: list[StopTransactionMeterValue] = field(default_factory=list)
    #: The last meter register known to be stored, and when (OCPP clock): a PowerLoss stop uses it.
    meter_last_wh: int = 0
    last_at: float = 0.0

    def to_record(self) -> dict[str, Any]:
        """What survives a restart (issue #3): JSON-able."""
        return {
            "localId": self.local_id,
            "connectorId": self.connector_id,
            "idTag": self.id_tag,
            "parentIdTag": self.parent_id_tag,
            "meterStart": self.meter_start_wh,
            "startedAt": self.started_at,
            "transactionId": self.transaction_id,
            "reservationId": self.reservation_id,
            "txProfile": (
                to_builtins(self.tx_profile)
                if isinstance(self.tx_profile, ChargingProfile)
                else self.tx_profile
            ),
            "deauthorized": self.deauthorized,
            "stopping": self.stopping,
            "cableHeld": self.cable_held,
            "stopData": msgspec.to_builtins(self.stop_data, enc_hook=enc_hook),
            "meterLast": max(self.meter_last_wh, self.meter_start_wh),
            "lastAt": max(self.last_at, self.started_at),
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Transaction:
        return cls(
            local_id=int(record["localId"]),
            connector_id=int(record["connectorId"]),
            id_tag=record["idTag"],
            parent_id_tag=record.get("parentIdTag"),
            meter_start_wh=int(record["meterStart"]),
            started_at=float(record["startedAt"]),
            transaction_id=record.get("transactionId"),
            reservation_id=record.get("reservationId"),
            tx_profile=record.get("txProfile"),
            deauthorized=bool(record.get("deauthorized", False)),
            stopping=bool(record.get("stopping", False)),
            cable_held=bool(record.get("cableHeld", False)),
            stop_data=msgspec.convert(record.get("stopData", []), _STOP_DATA, dec_hook=lenient_dec_hook),
            meter_last_wh=int(record.get("meterLast", record["meterStart"])),
            last_at=float(record.get("lastAt", record["startedAt"])),
        )


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
    #: Held out of service while a firmware update waits to install (OCPP 1.6 errata 3.49).
    maintenance: bool = False
    finishing: bool = False
    #: An idTag authorized for this connector, waiting for the cable (card first).
    waiting_id_tag: str | None = None
    transaction: Transaction | None = None
    energized: bool = False
    meter: MeterReading = NO_READING
    # What the CSMS was last told (StatusNotification), and when the status last changed.
    reported_status: str | None = None
    reported_error: str | None = None
    status_since: float = 0.0


@dataclass(slots=True)
class Restored:
    """What the store kept from the last run, handed to a new engine (issue #3)."""

    #: Transaction messages not yet answered: (sequence number, record), any order.
    outbox: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    #: Transactions whose StopTransaction was not answered yet.
    transactions: list[dict[str, Any]] = field(default_factory=list)
    auth_cache: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: The last run ended with a graceful stop (not a crash or power loss); None: the store holds no
    #: run before this one (its first start).
    clean_shutdown: bool | None = False
    #: OCPP clock minus local clock as last learnt from the CSMS.
    clock_offset_s: float = 0.0
    #: Records of the Local Authorization List and of reservations (issue #4), by key.
    local_list: dict[str, Any] = field(default_factory=dict)
    reservations: dict[str, Any] = field(default_factory=dict)
    #: Installed charging profiles (Smart Charging), by chargingProfileId.
    charging_profiles: dict[str, Any] = field(default_factory=dict)
    #: Firmware update / diagnostics upload in progress and the installed firmware version.
    firmware: dict[str, Any] = field(default_factory=dict)
    #: The certificate store (security whitepaper M03-M05), by record key: PEM text and role, or a
    #: tombstone for a certificate of the config file the CSMS deleted.
    certificates: dict[str, Any] = field(default_factory=dict)
    #: The security log (security whitepaper A04.FR.04), by sequence number, and its feature's state.
    security_log: dict[str, Any] = field(default_factory=dict)
    #: The ChargePointCertificates and the key pair awaiting one (security whitepaper A02, A03).
    station_certificates: dict[str, Any] = field(default_factory=dict)
    #: Security whitepaper work in progress: the previous SecurityProfile while a raised one is not
    #: confirmed (A05.FR.08, ``profileFallback``), the GetLog upload in progress (N01, ``logUpload``).
    security: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_records(cls, records: Mapping[str, Mapping[str, Any]]) -> Restored:
        """From stored records by kind and key, as the Persist effects wrote them."""
        station = records.get("station", {})
        return cls(
            outbox=[(int(seq), dict(record)) for seq, record in records.get("outbox", {}).items()],
            transactions=[dict(record) for record in records.get("transactions", {}).values()],
            auth_cache={tag: dict(info) for tag, info in records.get("auth_cache", {}).items()},
            clean_shutdown=(
                bool(station["shutdown"].get("clean", False))
                if isinstance(station.get("shutdown"), Mapping)
                else None
            ),
            clock_offset_s=float(station.get("clock", {}).get("offsetS", 0.0)),
            local_list=dict(records.get("local_list", {})),
            reservations=dict(records.get("reservations", {})),
            charging_profiles=dict(records.get("charging_profiles", {})),
            firmware=dict(records.get("firmware", {})),
            certificates=dict(records.get("certificates", {})),
            security_log=dict(records.get("security_log", {})),
            station_certificates=dict(records.get("station_certificates", {})),
            security=dict(records.get("security", {})),
        )
