# GENERATED FILE, DO NOT EDIT. Written by scripts/gen_messages.py from the official OCPP 1.6 JSON
# schemas of the `ocpp` package; regenerate with:
#     .venv/bin/python scripts/gen_messages.py
"""Every OCPP 1.6 message (78 schemas: core and security whitepaper ed. 3) as a typed ``msgspec.Struct``.

One struct per schema, ``<Action>Request`` and ``<Action>Response``, looked up by action name only in
:data:`REQUESTS` / :data:`RESPONSES` (the keys of :data:`ocpp_station.wire.actions.ACTIONS`). Nested
objects and enumerations carry the OCPP 1.6 §7 type names (security: the whitepaper's), one class per
name wherever the schemas use it. Attributes are snake_case, each with its wire name spelled out.

* ``forbid_unknown_fields``: every OCPP 1.6 object has ``"additionalProperties": false``.
* An optional property is :data:`msgspec.UNSET` when absent, never ``None``: JSON ``null`` is no valid
  value of any OCPP 1.6 property, so a decoder must reject it (TypeConstraintViolation) rather than
  read it as "absent". UNSET fields are left out on encode.
* Date-times are :class:`~ocpp_station.wire.timestamps.Timestamp` (``DateTime``): POSIX seconds, what
  the engine computes with; on the wire RFC 3339 in UTC with milliseconds (OCPP 1.6 §3.15). Encode
  and decode with the hooks of :mod:`ocpp_station.wire.timestamps` (strict: a zone designator is
  required; lenient: a missing one is read as UTC), as :mod:`ocpp_station.wire.schemas` does.
* ``multipleOf`` (the 0.1 of charging limits) is checked in ``__post_init__`` the way fastjsonschema
  does it (decimal arithmetic on the number's shortest repr): msgspec's own ``multiple_of`` uses
  binary floating point and rejects 16.0 as a multiple of 0.1.

How the file is generated, and why msgspec: docs/messages.md.
"""

from collections.abc import Mapping
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import Annotated, Final

from msgspec import UNSET, Meta, Struct, UnsetType, field

from ocpp_station.wire.timestamps import Timestamp

#: fastjsonschema's regular expression for the JSON Schema format ``uri``.
URI_PATTERN: Final = "^\\w+:(\\/?\\/?)[^\\s]+\\Z"

#: An OCPP date-time (OCPP 1.6 §3.15): POSIX seconds, RFC 3339 text on the wire.
DateTime = Timestamp

#: A string of the JSON Schema format ``uri``.
Uri = Annotated[str, Meta(pattern=URI_PATTERN)]


def _check_tenths(value: float, wire: str) -> None:
    """JSON Schema ``"multipleOf": 0.1`` in decimal arithmetic on the shortest repr, as fastjsonschema
    checks it (binary floating point, as in msgspec's ``multiple_of``, finds 16.0 no multiple of 0.1)."""
    text = repr(value)
    dot = text.find(".")
    if dot >= 0 and "e" not in text and len(text) - dot <= 2:
        return  # "16.0", "6.5": at most one decimal
    number = Decimal(text)
    if not number.is_finite() or number % Decimal("0.1") != 0:
        raise ValueError(f"`{wire}` must be a multiple of 0.1")


class OcppStruct(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, omit_defaults=True):
    """The base of every generated struct: immutable, keyword-only, unknown fields refused."""


class AuthorizationStatus(StrEnum):
    """``AuthorizationStatus``, used at: Authorize.conf ``idTagInfo.status``, SendLocalList.req
    ``localAuthorizationList[].idTagInfo.status``, StartTransaction.conf ``idTagInfo.status``,
    StopTransaction.conf ``idTagInfo.status``.
    """

    Accepted = "Accepted"
    Blocked = "Blocked"
    Expired = "Expired"
    Invalid = "Invalid"
    ConcurrentTx = "ConcurrentTx"


class AvailabilityStatus(StrEnum):
    """``AvailabilityStatus``, used at: ChangeAvailability.conf ``status``."""

    Accepted = "Accepted"
    Rejected = "Rejected"
    Scheduled = "Scheduled"


class AvailabilityType(StrEnum):
    """``AvailabilityType``, used at: ChangeAvailability.req ``type``."""

    Inoperative = "Inoperative"
    Operative = "Operative"


class CancelReservationStatus(StrEnum):
    """``CancelReservationStatus``, used at: CancelReservation.conf ``status``."""

    Accepted = "Accepted"
    Rejected = "Rejected"


class CertificateSignedStatusEnumType(StrEnum):
    """``CertificateSignedStatusEnumType``, used at: CertificateSigned.conf ``status``."""

    Accepted = "Accepted"
    Rejected = "Rejected"


class CertificateUseEnumType(StrEnum):
    """``CertificateUseEnumType``, used at: GetInstalledCertificateIds.req ``certificateType``,
    InstallCertificate.req ``certificateType``.
    """

    CentralSystemRootCertificate = "CentralSystemRootCertificate"
    ManufacturerRootCertificate = "ManufacturerRootCertificate"


class ChargePointErrorCode(StrEnum):
    """``ChargePointErrorCode``, used at: StatusNotification.req ``errorCode``."""

    ConnectorLockFailure = "ConnectorLockFailure"
    EVCommunicationError = "EVCommunicationError"
    GroundFailure = "GroundFailure"
    HighTemperature = "HighTemperature"
    InternalError = "InternalError"
    LocalListConflict = "LocalListConflict"
    NoError = "NoError"
    OtherError = "OtherError"
    OverCurrentFailure = "OverCurrentFailure"
    PowerMeterFailure = "PowerMeterFailure"
    PowerSwitchFailure = "PowerSwitchFailure"
    ReaderFailure = "ReaderFailure"
    ResetFailure = "ResetFailure"
    UnderVoltage = "UnderVoltage"
    OverVoltage = "OverVoltage"
    WeakSignal = "WeakSignal"


class ChargePointStatus(StrEnum):
    """``ChargePointStatus``, used at: StatusNotification.req ``status``."""

    Available = "Available"
    Preparing = "Preparing"
    Charging = "Charging"
    SuspendedEVSE = "SuspendedEVSE"
    SuspendedEV = "SuspendedEV"
    Finishing = "Finishing"
    Reserved = "Reserved"
    Unavailable = "Unavailable"
    Faulted = "Faulted"


class ChargingProfileKindType(StrEnum):
    """``ChargingProfileKindType``, used at: RemoteStartTransaction.req
    ``chargingProfile.chargingProfileKind``, SetChargingProfile.req
    ``csChargingProfiles.chargingProfileKind``.
    """

    Absolute = "Absolute"
    Recurring = "Recurring"
    Relative = "Relative"


class ChargingProfilePurposeType(StrEnum):
    """``ChargingProfilePurposeType``, used at: ClearChargingProfile.req ``chargingProfilePurpose``,
    RemoteStartTransaction.req ``chargingProfile.chargingProfilePurpose``, SetChargingProfile.req
    ``csChargingProfiles.chargingProfilePurpose``.
    """

    ChargePointMaxProfile = "ChargePointMaxProfile"
    TxDefaultProfile = "TxDefaultProfile"
    TxProfile = "TxProfile"


class ChargingProfileStatus(StrEnum):
    """``ChargingProfileStatus``, used at: SetChargingProfile.conf ``status``."""

    Accepted = "Accepted"
    Rejected = "Rejected"
    NotSupported = "NotSupported"


class ChargingRateUnitType(StrEnum):
    """``ChargingRateUnitType``, used at: GetCompositeSchedule.conf ``chargingSchedule.chargingRateUnit``,
    GetCompositeSchedule.req ``chargingRateUnit``, RemoteStartTransaction.req
    ``chargingProfile.chargingSchedule.chargingRateUnit``, SetChargingProfile.req
    ``csChargingProfiles.chargingSchedule.chargingRateUnit``.
    """

    A = "A"
    W = "W"


class ClearCacheStatus(StrEnum):
    """``ClearCacheStatus``, used at: ClearCache.conf ``status``."""

    Accepted = "Accepted"
    Rejected = "Rejected"


class ClearChargingProfileStatus(StrEnum):
    """``ClearChargingProfileStatus``, used at: ClearChargingProfile.conf ``status``."""

    Accepted = "Accepted"
    Unknown = "Unknown"


class ConfigurationStatus(StrEnum):
    """``ConfigurationStatus``, used at: ChangeConfiguration.conf ``status``."""

    Accepted = "Accepted"
    Rejected = "Rejected"
    RebootRequired = "RebootRequired"
    NotSupported = "NotSupported"


class DataTransferStatus(StrEnum):
    """``DataTransferStatus``, used at: DataTransfer.conf ``status``."""

    Accepted = "Accepted"
    Rejected = "Rejected"
    UnknownMessageId = "UnknownMessageId"
    UnknownVendorId = "UnknownVendorId"


class DeleteCertificateStatusEnumType(StrEnum):
    """``DeleteCertificateStatusEnumType``, used at: DeleteCertificate.conf ``status``."""

    Accepted = "Accepted"
    Failed = "Failed"
    NotFound = "NotFound"


class DiagnosticsStatus(StrEnum):
    """``DiagnosticsStatus``, used at: DiagnosticsStatusNotification.req ``status``."""

    Idle = "Idle"
    Uploaded = "Uploaded"
    UploadFailed = "UploadFailed"
    Uploading = "Uploading"


class FirmwareStatus(StrEnum):
    """``FirmwareStatus``, used at: FirmwareStatusNotification.req ``status``."""

    Downloaded = "Downloaded"
    DownloadFailed = "DownloadFailed"
    Downloading = "Downloading"
    Idle = "Idle"
    InstallationFailed = "InstallationFailed"
    Installing = "Installing"
    Installed = "Installed"


class FirmwareStatusEnumType(StrEnum):
    """``FirmwareStatusEnumType``, used at: SignedFirmwareStatusNotification.req ``status``."""

    Downloaded = "Downloaded"
    DownloadFailed = "DownloadFailed"
    Downloading = "Downloading"
    DownloadScheduled = "DownloadScheduled"
    DownloadPaused = "DownloadPaused"
    Idle = "Idle"
    InstallationFailed = "InstallationFailed"
    Installing = "Installing"
    Installed = "Installed"
    InstallRebooting = "InstallRebooting"
    InstallScheduled = "InstallScheduled"
    InstallVerificationFailed = "InstallVerificationFailed"
    InvalidSignature = "InvalidSignature"
    SignatureVerified = "SignatureVerified"


class GenericStatusEnumType(StrEnum):
    """``GenericStatusEnumType``, used at: SignCertificate.conf ``status``."""

    Accepted = "Accepted"
    Rejected = "Rejected"


class GetCompositeScheduleStatus(StrEnum):
    """``GetCompositeScheduleStatus``, used at: GetCompositeSchedule.conf ``status``."""

    Accepted = "Accepted"
    Rejected = "Rejected"


class GetInstalledCertificateStatusEnumType(StrEnum):
    """``GetInstalledCertificateStatusEnumType``, used at: GetInstalledCertificateIds.conf ``status``."""

    Accepted = "Accepted"
    NotFound = "NotFound"


class HashAlgorithmEnumType(StrEnum):
    """``HashAlgorithmEnumType``, used at: DeleteCertificate.req ``certificateHashData.hashAlgorithm``,
    GetInstalledCertificateIds.conf ``certificateHashData[].hashAlgorithm``.
    """

    SHA256 = "SHA256"
    SHA384 = "SHA384"
    SHA512 = "SHA512"


class InstallCertificateStatusEnumType(StrEnum):
    """``InstallCertificateStatusEnumType``, used at: InstallCertificate.conf ``status``."""

    Accepted = "Accepted"
    Failed = "Failed"
    Rejected = "Rejected"


class Location(StrEnum):
    """``Location``, used at: MeterValues.req ``meterValue[].sampledValue[].location``, StopTransaction.req
    ``transactionData[].sampledValue[].location``.
    """

    Cable = "Cable"
    EV = "EV"
    Inlet = "Inlet"
    Outlet = "Outlet"
    Body = "Body"


class LogEnumType(StrEnum):
    """``LogEnumType``, used at: GetLog.req ``logType``."""

    DiagnosticsLog = "DiagnosticsLog"
    SecurityLog = "SecurityLog"


class LogStatusEnumType(StrEnum):
    """``LogStatusEnumType``, used at: GetLog.conf ``status``."""

    Accepted = "Accepted"
    Rejected = "Rejected"
    AcceptedCanceled = "AcceptedCanceled"


class Measurand(StrEnum):
    """``Measurand``, used at: MeterValues.req ``meterValue[].sampledValue[].measurand``,
    StopTransaction.req ``transactionData[].sampledValue[].measurand``.
    """

    Energy_Active_Export_Register = "Energy.Active.Export.Register"
    Energy_Active_Import_Register = "Energy.Active.Import.Register"
    Energy_Reactive_Export_Register = "Energy.Reactive.Export.Register"
    Energy_Reactive_Import_Register = "Energy.Reactive.Import.Register"
    Energy_Active_Export_Interval = "Energy.Active.Export.Interval"
    Energy_Active_Import_Interval = "Energy.Active.Import.Interval"
    Energy_Reactive_Export_Interval = "Energy.Reactive.Export.Interval"
    Energy_Reactive_Import_Interval = "Energy.Reactive.Import.Interval"
    Power_Active_Export = "Power.Active.Export"
    Power_Active_Import = "Power.Active.Import"
    Power_Offered = "Power.Offered"
    Power_Reactive_Export = "Power.Reactive.Export"
    Power_Reactive_Import = "Power.Reactive.Import"
    Power_Factor = "Power.Factor"
    Current_Import = "Current.Import"
    Current_Export = "Current.Export"
    Current_Offered = "Current.Offered"
    Voltage = "Voltage"
    Frequency = "Frequency"
    Temperature = "Temperature"
    SoC = "SoC"
    RPM = "RPM"


class MessageTrigger(StrEnum):
    """``MessageTrigger``, used at: TriggerMessage.req ``requestedMessage``."""

    BootNotification = "BootNotification"
    DiagnosticsStatusNotification = "DiagnosticsStatusNotification"
    FirmwareStatusNotification = "FirmwareStatusNotification"
    Heartbeat = "Heartbeat"
    MeterValues = "MeterValues"
    StatusNotification = "StatusNotification"


class MessageTriggerEnumType(StrEnum):
    """``MessageTriggerEnumType``, used at: ExtendedTriggerMessage.req ``requestedMessage``."""

    BootNotification = "BootNotification"
    LogStatusNotification = "LogStatusNotification"
    FirmwareStatusNotification = "FirmwareStatusNotification"
    Heartbeat = "Heartbeat"
    MeterValues = "MeterValues"
    SignChargePointCertificate = "SignChargePointCertificate"
    StatusNotification = "StatusNotification"


class Phase(StrEnum):
    """``Phase``, used at: MeterValues.req ``meterValue[].sampledValue[].phase``, StopTransaction.req
    ``transactionData[].sampledValue[].phase``.
    """

    L1 = "L1"
    L2 = "L2"
    L3 = "L3"
    N = "N"
    L1_N = "L1-N"
    L2_N = "L2-N"
    L3_N = "L3-N"
    L1_L2 = "L1-L2"
    L2_L3 = "L2-L3"
    L3_L1 = "L3-L1"


class ReadingContext(StrEnum):
    """``ReadingContext``, used at: MeterValues.req ``meterValue[].sampledValue[].context``,
    StopTransaction.req ``transactionData[].sampledValue[].context``.
    """

    Interruption_Begin = "Interruption.Begin"
    Interruption_End = "Interruption.End"
    Sample_Clock = "Sample.Clock"
    Sample_Periodic = "Sample.Periodic"
    Transaction_Begin = "Transaction.Begin"
    Transaction_End = "Transaction.End"
    Trigger = "Trigger"
    Other = "Other"


class Reason(StrEnum):
    """``Reason``, used at: StopTransaction.req ``reason``."""

    EmergencyStop = "EmergencyStop"
    EVDisconnected = "EVDisconnected"
    HardReset = "HardReset"
    Local = "Local"
    Other = "Other"
    PowerLoss = "PowerLoss"
    Reboot = "Reboot"
    Remote = "Remote"
    SoftReset = "SoftReset"
    UnlockCommand = "UnlockCommand"
    DeAuthorized = "DeAuthorized"


class RecurrencyKindType(StrEnum):
    """``RecurrencyKindType``, used at: RemoteStartTransaction.req ``chargingProfile.recurrencyKind``,
    SetChargingProfile.req ``csChargingProfiles.recurrencyKind``.
    """

    Daily = "Daily"
    Weekly = "Weekly"


class RegistrationStatus(StrEnum):
    """``RegistrationStatus``, used at: BootNotification.conf ``status``."""

    Accepted = "Accepted"
    Pending = "Pending"
    Rejected = "Rejected"


class RemoteStartStopStatus(StrEnum):
    """``RemoteStartStopStatus``, used at: RemoteStartTransaction.conf ``status``,
    RemoteStopTransaction.conf ``status``.
    """

    Accepted = "Accepted"
    Rejected = "Rejected"


class ReservationStatus(StrEnum):
    """``ReservationStatus``, used at: ReserveNow.conf ``status``."""

    Accepted = "Accepted"
    Faulted = "Faulted"
    Occupied = "Occupied"
    Rejected = "Rejected"
    Unavailable = "Unavailable"


class ResetStatus(StrEnum):
    """``ResetStatus``, used at: Reset.conf ``status``."""

    Accepted = "Accepted"
    Rejected = "Rejected"


class ResetType(StrEnum):
    """``ResetType``, used at: Reset.req ``type``."""

    Hard = "Hard"
    Soft = "Soft"


class StopTransactionUnitOfMeasure(StrEnum):
    """``StopTransactionUnitOfMeasure``, used at: StopTransaction.req
    ``transactionData[].sampledValue[].unit``.
    """

    Wh = "Wh"
    kWh = "kWh"
    varh = "varh"
    kvarh = "kvarh"
    W = "W"
    kW = "kW"
    VA = "VA"
    kVA = "kVA"
    var = "var"
    kvar = "kvar"
    A = "A"
    V = "V"
    K = "K"
    Celcius = "Celcius"
    Celsius = "Celsius"
    Fahrenheit = "Fahrenheit"
    Percent = "Percent"


class TriggerMessageStatus(StrEnum):
    """``TriggerMessageStatus``, used at: TriggerMessage.conf ``status``."""

    Accepted = "Accepted"
    Rejected = "Rejected"
    NotImplemented = "NotImplemented"


class TriggerMessageStatusEnumType(StrEnum):
    """``TriggerMessageStatusEnumType``, used at: ExtendedTriggerMessage.conf ``status``."""

    Accepted = "Accepted"
    Rejected = "Rejected"
    NotImplemented = "NotImplemented"


class UnitOfMeasure(StrEnum):
    """``UnitOfMeasure``, used at: MeterValues.req ``meterValue[].sampledValue[].unit``."""

    Wh = "Wh"
    kWh = "kWh"
    varh = "varh"
    kvarh = "kvarh"
    W = "W"
    kW = "kW"
    VA = "VA"
    kVA = "kVA"
    var = "var"
    kvar = "kvar"
    A = "A"
    V = "V"
    K = "K"
    Celcius = "Celcius"
    Celsius = "Celsius"
    Fahrenheit = "Fahrenheit"
    Percent = "Percent"
    Hertz = "Hertz"


class UnlockStatus(StrEnum):
    """``UnlockStatus``, used at: UnlockConnector.conf ``status``."""

    Unlocked = "Unlocked"
    UnlockFailed = "UnlockFailed"
    NotSupported = "NotSupported"


class UpdateFirmwareStatusEnumType(StrEnum):
    """``UpdateFirmwareStatusEnumType``, used at: SignedUpdateFirmware.conf ``status``."""

    Accepted = "Accepted"
    Rejected = "Rejected"
    AcceptedCanceled = "AcceptedCanceled"
    InvalidCertificate = "InvalidCertificate"
    RevokedCertificate = "RevokedCertificate"


class UpdateStatus(StrEnum):
    """``UpdateStatus``, used at: SendLocalList.conf ``status``."""

    Accepted = "Accepted"
    Failed = "Failed"
    NotSupported = "NotSupported"
    VersionMismatch = "VersionMismatch"


class UpdateType(StrEnum):
    """``UpdateType``, used at: SendLocalList.req ``updateType``."""

    Differential = "Differential"
    Full = "Full"


class UploadLogStatusEnumType(StrEnum):
    """``UploadLogStatusEnumType``, used at: LogStatusNotification.req ``status``."""

    BadMessage = "BadMessage"
    Idle = "Idle"
    NotSupportedOperation = "NotSupportedOperation"
    PermissionDenied = "PermissionDenied"
    Uploaded = "Uploaded"
    UploadFailure = "UploadFailure"
    Uploading = "Uploading"


class ValueFormat(StrEnum):
    """``ValueFormat``, used at: MeterValues.req ``meterValue[].sampledValue[].format``,
    StopTransaction.req ``transactionData[].sampledValue[].format``.
    """

    Raw = "Raw"
    SignedData = "SignedData"


class IdTagInfo(OcppStruct, frozen=True, kw_only=True):
    """``IdTagInfo``, used at: Authorize.conf ``idTagInfo``, SendLocalList.req
    ``localAuthorizationList[].idTagInfo``, StartTransaction.conf ``idTagInfo``, StopTransaction.conf
    ``idTagInfo``.
    """

    expiry_date: DateTime | UnsetType = field(default=UNSET, name="expiryDate")
    parent_id_tag: Annotated[str, Meta(max_length=20)] | UnsetType = field(default=UNSET, name="parentIdTag")
    status: AuthorizationStatus = field(name="status")


class AuthorizationData(OcppStruct, frozen=True, kw_only=True):
    """``AuthorizationData``, used at: SendLocalList.req ``localAuthorizationList[]``."""

    id_tag: Annotated[str, Meta(max_length=20)] = field(name="idTag")
    id_tag_info: IdTagInfo | UnsetType = field(default=UNSET, name="idTagInfo")


class CertificateHashDataType(OcppStruct, frozen=True, kw_only=True):
    """``CertificateHashDataType``, used at: DeleteCertificate.req ``certificateHashData``,
    GetInstalledCertificateIds.conf ``certificateHashData[]``.
    """

    hash_algorithm: HashAlgorithmEnumType = field(name="hashAlgorithm")
    issuer_name_hash: Annotated[str, Meta(max_length=128)] = field(name="issuerNameHash")
    issuer_key_hash: Annotated[str, Meta(max_length=128)] = field(name="issuerKeyHash")
    serial_number: Annotated[str, Meta(max_length=40)] = field(name="serialNumber")


class ChargingSchedulePeriod(OcppStruct, frozen=True, kw_only=True):
    """``ChargingSchedulePeriod``, used at: GetCompositeSchedule.conf
    ``chargingSchedule.chargingSchedulePeriod[]``, RemoteStartTransaction.req
    ``chargingProfile.chargingSchedule.chargingSchedulePeriod[]``, SetChargingProfile.req
    ``csChargingProfiles.chargingSchedule.chargingSchedulePeriod[]``.
    """

    start_period: int = field(name="startPeriod")
    limit: float = field(name="limit")
    number_phases: int | UnsetType = field(default=UNSET, name="numberPhases")

    def __post_init__(self) -> None:
        _check_tenths(self.limit, "limit")


class ChargingSchedule(OcppStruct, frozen=True, kw_only=True):
    """``ChargingSchedule``, used at: GetCompositeSchedule.conf ``chargingSchedule``,
    RemoteStartTransaction.req ``chargingProfile.chargingSchedule``, SetChargingProfile.req
    ``csChargingProfiles.chargingSchedule``.
    """

    duration: int | UnsetType = field(default=UNSET, name="duration")
    start_schedule: DateTime | UnsetType = field(default=UNSET, name="startSchedule")
    charging_rate_unit: ChargingRateUnitType = field(name="chargingRateUnit")
    charging_schedule_period: list[ChargingSchedulePeriod] = field(name="chargingSchedulePeriod")
    min_charging_rate: float | UnsetType = field(default=UNSET, name="minChargingRate")

    def __post_init__(self) -> None:
        if not isinstance(self.min_charging_rate, UnsetType):
            _check_tenths(self.min_charging_rate, "minChargingRate")


class ChargingProfile(OcppStruct, frozen=True, kw_only=True):
    """``ChargingProfile``, used at: RemoteStartTransaction.req ``chargingProfile``, SetChargingProfile.req
    ``csChargingProfiles``.
    """

    charging_profile_id: int = field(name="chargingProfileId")
    transaction_id: int | UnsetType = field(default=UNSET, name="transactionId")
    stack_level: int = field(name="stackLevel")
    charging_profile_purpose: ChargingProfilePurposeType = field(name="chargingProfilePurpose")
    charging_profile_kind: ChargingProfileKindType = field(name="chargingProfileKind")
    recurrency_kind: RecurrencyKindType | UnsetType = field(default=UNSET, name="recurrencyKind")
    valid_from: DateTime | UnsetType = field(default=UNSET, name="validFrom")
    valid_to: DateTime | UnsetType = field(default=UNSET, name="validTo")
    charging_schedule: ChargingSchedule = field(name="chargingSchedule")


class FirmwareType(OcppStruct, frozen=True, kw_only=True):
    """``FirmwareType``, used at: SignedUpdateFirmware.req ``firmware``."""

    location: Annotated[str, Meta(max_length=512)] = field(name="location")
    retrieve_date_time: DateTime = field(name="retrieveDateTime")
    install_date_time: DateTime | UnsetType = field(default=UNSET, name="installDateTime")
    signing_certificate: Annotated[str, Meta(max_length=5500)] = field(name="signingCertificate")
    signature: Annotated[str, Meta(max_length=800)] = field(name="signature")


class KeyValue(OcppStruct, frozen=True, kw_only=True):
    """``KeyValue``, used at: GetConfiguration.conf ``configurationKey[]``."""

    key: Annotated[str, Meta(max_length=50)] = field(name="key")
    readonly: bool = field(name="readonly")
    value: Annotated[str, Meta(max_length=500)] | UnsetType = field(default=UNSET, name="value")


class LogParametersType(OcppStruct, frozen=True, kw_only=True):
    """``LogParametersType``, used at: GetLog.req ``log``."""

    remote_location: Annotated[str, Meta(max_length=512)] = field(name="remoteLocation")
    oldest_timestamp: DateTime | UnsetType = field(default=UNSET, name="oldestTimestamp")
    latest_timestamp: DateTime | UnsetType = field(default=UNSET, name="latestTimestamp")


class SampledValue(OcppStruct, frozen=True, kw_only=True):
    """``SampledValue``, used at: MeterValues.req ``meterValue[].sampledValue[]``."""

    value: str = field(name="value")
    context: ReadingContext | UnsetType = field(default=UNSET, name="context")
    format: ValueFormat | UnsetType = field(default=UNSET, name="format")
    measurand: Measurand | UnsetType = field(default=UNSET, name="measurand")
    phase: Phase | UnsetType = field(default=UNSET, name="phase")
    location: Location | UnsetType = field(default=UNSET, name="location")
    unit: UnitOfMeasure | UnsetType = field(default=UNSET, name="unit")


class MeterValue(OcppStruct, frozen=True, kw_only=True):
    """``MeterValue``, used at: MeterValues.req ``meterValue[]``."""

    timestamp: DateTime = field(name="timestamp")
    sampled_value: Annotated[list[SampledValue], Meta(min_length=1)] = field(name="sampledValue")


class StopTransactionSampledValue(OcppStruct, frozen=True, kw_only=True):
    """``StopTransactionSampledValue``, used at: StopTransaction.req ``transactionData[].sampledValue[]``."""

    value: str = field(name="value")
    context: ReadingContext | UnsetType = field(default=UNSET, name="context")
    format: ValueFormat | UnsetType = field(default=UNSET, name="format")
    measurand: Measurand | UnsetType = field(default=UNSET, name="measurand")
    phase: Phase | UnsetType = field(default=UNSET, name="phase")
    location: Location | UnsetType = field(default=UNSET, name="location")
    unit: StopTransactionUnitOfMeasure | UnsetType = field(default=UNSET, name="unit")


class StopTransactionMeterValue(OcppStruct, frozen=True, kw_only=True):
    """``StopTransactionMeterValue``, used at: StopTransaction.req ``transactionData[]``."""

    timestamp: DateTime = field(name="timestamp")
    sampled_value: list[StopTransactionSampledValue] = field(name="sampledValue")


class AuthorizeRequest(OcppStruct, frozen=True, kw_only=True):
    """OCPP 1.6 Authorize.req (schema ``Authorize.json``)."""

    id_tag: Annotated[str, Meta(max_length=20)] = field(name="idTag")


class AuthorizeResponse(OcppStruct, frozen=True, kw_only=True):
    """OCPP 1.6 Authorize.conf (schema ``AuthorizeResponse.json``)."""

    id_tag_info: IdTagInfo = field(name="idTagInfo")


class BootNotificationRequest(OcppStruct, frozen=True, kw_only=True):
    """OCPP 1.6 BootNotification.req (schema ``BootNotification.json``)."""

    charge_point_vendor: Annotated[str, Meta(max_length=20)] = field(name="chargePointVendor")
    charge_point_model: Annotated[str, Meta(max_length=20)] = field(name="chargePointModel")
    charge_point_serial_number: Annotated[str, Meta(max_length=25)] | UnsetType = field(
        default=UNSET, name="chargePointSerialNumber"
    )
    charge_box_serial_number: Annotated[str, Meta(max_length=25)] | UnsetType = field(
        default=UNSET, name="chargeBoxSerialNumber"
    )
    firmware_version: Annotated[str, Meta(max_length=50)] | UnsetType = field(
        default=UNSET, name="firmwareVersion"
    )
    iccid: Annotated[str, Meta(max_length=20)] | UnsetType = field(default=UNSET, name="iccid")
    imsi: Annotated[str, Meta(max_length=20)] | UnsetType = field(default=UNSET, name="imsi")
    meter_type: Annotated[str, Meta(max_length=25)] | UnsetType = field(default=UNSET, name="meterType")
    meter_serial_number: Annotated[str, Meta(max_length=25)] | UnsetType = field(
        default=UNSET, name="meterSerialNumber"
    )


class BootNotificationResponse(OcppStruct, frozen=True, kw_only=True):
    """OCPP 1.6 BootNotification.conf (schema ``BootNotificationResponse.json``)."""

    status: RegistrationStatus = field(name="status")
    current_time: DateTime = field(name="currentTime")
    interval: int = field(name="interval")


class DiagnosticsStatusNotificationRequest(OcppStruct, frozen=True, kw_only=True):
    """OCPP 1.6 DiagnosticsStatusNotification.req (schema ``DiagnosticsStatusNotification.json``)."""

    status: DiagnosticsStatus = field(name="status")


class DiagnosticsStatusNotificationResponse(OcppStruct, frozen=True, kw_only=True):
    """OCPP 1.6 DiagnosticsStatusNotification.conf (schema ``DiagnosticsStatusNotificationResponse.json``)."""


class FirmwareStatusNotificationRequest(OcppStruct, frozen=True, kw_only=True):
    """OCPP 1.6 FirmwareStatusNotification.req (schema ``FirmwareStatusNotification.json``)."""

    status: FirmwareStatus = field(name="status")


class FirmwareStatusNotificationResponse(OcppStruct, frozen=True, kw_only=True):
    """OCPP 1.6 FirmwareStatusNotification.conf (schema ``FirmwareStatusNotificationResponse.json``)."""


class HeartbeatRequest(OcppStruct, frozen=True, kw_only=True):
    """OCPP 1.6 Heartbeat.req (schema ``Heartbeat.json``)."""


class HeartbeatResponse(OcppStruct, frozen=True, kw_only=True):
    """OCPP 1.6 Heartbeat.conf (schema ``HeartbeatResponse.json``)."""

    current_time: DateTime = field(name="currentTime")


class MeterValuesRequest(OcppStruct, frozen=True, kw_only=True):
    """OCPP 1.6 MeterValues.req (schema ``MeterValues.json``)."""

    connector_id: int = field(name="connectorId")
    transaction_id: int | UnsetType = field(default=UNSET, name="transactionId")
    meter_value: Annotated[list[MeterValue], Meta(min_length=1)] = field(name="meterValue")


class MeterValuesResponse(OcppStruct, frozen=True, kw_only=True):
    """OCPP 1.6 MeterValues.conf (schema ``MeterValuesResponse.json``)."""


class StartTransactionRequest(OcppStruct, frozen=True, kw_only=True):
    """OCPP 1.6 StartTransaction.req (schema ``StartTransaction.json``)."""

    connector_id: int = field(name="connectorId")
    id_tag: Annotated[str, Meta(max_length=20)] = field(name="idTag")
    meter_start: int = field(name="meterStart")
    reservation_id: int | UnsetType = field(default=UNSET, name="reservationId")
    timestamp: DateTime = field(name="timestamp")


class StartTransactionResponse(OcppStruct, frozen=True, kw_only=True):
    """OCPP 1.6 StartTransaction.conf (schema ``StartTransactionResponse.json``)."""

    id_tag_info: IdTagInfo = field(name="idTagInfo")
    transaction_id: int = field(name="transactionId")


class StatusNotificationRequest(OcppStruct, frozen=True, kw_only=True):
    """OCPP 1.6 StatusNotification.req (schema ``StatusNotification.json``)."""

    connector_id: int = field(name="connectorId")
    error_code: ChargePointErrorCode = field(name="errorCode")
    info: Annotated[str, Meta(max_length=50)] | UnsetType = field(default=UNSET, name="info")
    status: ChargePointStatus = field(name="status")
    timestamp: DateTime | UnsetType = field(default=UNSET, name="timestamp")
    vendor_id: Annotated[str, Meta(max_length=255)] | UnsetType = field(default=UNSET, name="vendorId")
    vendor_error_code: Annotated[str, Meta(max_length=50)] | UnsetType = field(
        default=UNSET, name="vendorErrorCode"
    )


class StatusNotificationResponse(OcppStruct, frozen=True, kw_only=True):
    """OCPP 1.6 StatusNotification.conf (schema ``StatusNotificationResponse.json``)."""


class StopTransactionRequest(OcppStruct, frozen=True, kw_only=True):
    """OCPP 1.6 StopTransaction.req (schema ``StopTransaction.json``)."""

    id_tag: Annotated[str, Meta(max_length=20)] | UnsetType = field(default=UNSET, name="idTag")
    meter_stop: int = field(name="meterStop")
    timestamp: DateTime = field(name="timestamp")
    transaction_id: int = field(name="transactionId")
    reason: Reason | UnsetType = field(default=UNSET, name="reason")
    transaction_data: list[StopTransactionMeterValue] | UnsetType = field(
        default=UNSET, name="transactionData"
    )


class StopTransactionResponse(OcppStruct, frozen=True, kw_only=True):
    """OCPP 1.6 StopTransaction.conf (schema ``StopTransactionResponse.json``)."""

    id_tag_info: IdTagInfo | UnsetType = field(default=UNSET, name="idTagInfo")


class DataTransferRequest(OcppStruct, frozen=True, kw_only=True):
    """OCPP 1.6 DataTransfer.req (schema ``DataTransfer.json``)."""

    vendor_id: Annotated[str, Meta(max_length=255)] = field(name="vendorId")
    message_id: Annotated[str, Meta(max_length=50)] | UnsetType = field(default=UNSET, name="messageId")
    data: str | UnsetType = field(default=UNSET, name="data")


class DataTransferResponse(OcppStruct, frozen=True, kw_only=True):
    """OCPP 1.6 DataTransfer.conf (schema ``DataTransferResponse.json``)."""

    status: DataTransferStatus = field(name="status")
    data: str | UnsetType = field(default=UNSET, name="data")


class CancelReservationRequest(OcppStruct, frozen=True, kw_only=True):
    """OCPP 1.6 CancelReservation.req (schema ``CancelReservation.json``)."""

    reservation_id: int = field(name="reservationId")


class CancelReservationResponse(OcppStruct, frozen=True, kw_only=True):
    """OCPP 1.6 CancelReservation.conf (schema ``CancelReservationResponse.json``)."""

    status: CancelReservationStatus = field(name="status")


class ChangeAvailabilityRequest(OcppStruct, frozen=True, kw_only=True):
    """OCPP 1.6 ChangeAvailability.req (schema ``ChangeAvailability.json``)."""

    connector_id: int = field(name="connectorId")
    type: AvailabilityType = field(name="type")


class ChangeAvailabilityResponse(OcppStruct, frozen=True, kw_only=True):
    """OCPP 1.6 ChangeAvailability.conf (schema ``ChangeAvailabilityResponse.json``)."""

    status: AvailabilityStatus = field(name="status")


class ChangeConfigurationRequest(OcppStruct, frozen=True, kw_only=True):
    """OCPP 1.6 ChangeConfiguration.req (schema ``ChangeConfiguration.json``)."""

    key: Annotated[str, Meta(max_length=50)] = field(name="key")
    value: Annotated[str, Meta(max_length=500)] = field(name="value")


class ChangeConfigurationResponse(OcppStruct, frozen=True, kw_only=True):
    """OCPP 1.6 ChangeConfiguration.conf (schema ``ChangeConfigurationResponse.json``)."""

    status: ConfigurationStatus = field(name="status")


class ClearCacheRequest(OcppStruct, frozen=True, kw_only=True):
    """OCPP 1.6 ClearCache.req (schema ``ClearCache.json``)."""


class ClearCacheResponse(OcppStruct, frozen=True, kw_only=True):
    """OCPP 1.6 ClearCache.conf (schema ``ClearCacheResponse.json``)."""

    status: ClearCacheStatus = field(name="status")


class ClearChargingProfileRequest(OcppStruct, frozen=True, kw_only=True):
    """OCPP 1.6 ClearChargingProfile.req (schema ``ClearChargingProfile.json``)."""

    id: int | UnsetType = field(default=UNSET, name="id")
    connector_id: int | UnsetType = field(default=UNSET, name="connectorId")
    charging_profile_purpose: ChargingProfilePurposeType | UnsetType = field(
        default=UNSET, name="chargingProfilePurpose"
    )
    stack_level: int | UnsetType = field(default=UNSET, name="stackLevel")


class ClearChargingProfileResponse(OcppStruct, frozen=True, kw_only=True):
    """OCPP 1.6 ClearChargingProfile.conf (schema ``ClearChargingProfileResponse.json``)."""

    status: ClearChargingProfileStatus = field(name="status")


class GetCompositeScheduleRequest(OcppStruct, frozen=True, kw_only=True):
    """OCPP 1.6 GetCompositeSchedule.req (schema ``GetCompositeSchedule.json``)."""

    connector_id: int = field(name="connectorId")
    duration: int = field(name="duration")
    charging_rate_unit: ChargingRateUnitType | UnsetType = field(default=UNSET, name="chargingRateUnit")


class GetCompositeScheduleResponse(OcppStruct, frozen=True, kw_only=True):
    """OCPP 1.6 GetCompositeSchedule.conf (schema ``GetCompositeScheduleResponse.json``)."""

    status: GetCompositeScheduleStatus = field(name="status")
    connector_id: int | UnsetType = field(default=UNSET, name="connectorId")
    schedule_start: DateTime | UnsetType = field(default=UNSET, name="scheduleStart")
    charging_schedule: ChargingSchedule | UnsetType = field(default=UNSET, name="chargingSchedule")


class GetConfigurationRequest(OcppStruct, frozen=True, kw_only=True):
    """OCPP 1.6 GetConfiguration.req (schema ``GetConfiguration.json``)."""

    key: list[Annotated[str, Meta(max_length=50)]] | UnsetType = field(default=UNSET, name="key")


class GetConfigurationResponse(OcppStruct, frozen=True, kw_only=True):
    """OCPP 1.6 GetConfiguration.conf (schema ``GetConfigurationResponse.json``)."""

    configuration_key: list[KeyValue] | UnsetType = field(default=UNSET, name="configurationKey")
    unknown_key: list[Annotated[str, Meta(max_length=50)]] | UnsetType = field(
        default=UNSET, name="unknownKey"
    )


class GetDiagnosticsRequest(OcppStruct, frozen=True, kw_only=True):
    """OCPP 1.6 GetDiagnostics.req (schema ``GetDiagnostics.json``)."""

    location: Uri = field(name="location")
    retries: int | UnsetType = field(default=UNSET, name="retries")
    retry_interval: int | UnsetType = field(default=UNSET, name="retryInterval")
    start_time: DateTime | UnsetType = field(default=UNSET, name="startTime")
    stop_time: DateTime | UnsetType = field(default=UNSET, name="stopTime")


class GetDiagnosticsResponse(OcppStruct, frozen=True, kw_only=True):
    """OCPP 1.6 GetDiagnostics.conf (schema ``GetDiagnosticsResponse.json``)."""

    file_name: Annotated[str, Meta(max_length=255)] | UnsetType = field(default=UNSET, name="fileName")


class GetLocalListVersionRequest(OcppStruct, frozen=True, kw_only=True):
    """OCPP 1.6 GetLocalListVersion.req (schema ``GetLocalListVersion.json``)."""


class GetLocalListVersionResponse(OcppStruct, frozen=True, kw_only=True):
    """OCPP 1.6 GetLocalListVersion.conf (schema ``GetLocalListVersionResponse.json``)."""

    list_version: int = field(name="listVersion")


class RemoteStartTransactionRequest(OcppStruct, frozen=True, kw_only=True):
    """OCPP 1.6 RemoteStartTransaction.req (schema ``RemoteStartTransaction.json``)."""

    connector_id: int | UnsetType = field(default=UNSET, name="connectorId")
    id_tag: Annotated[str, Meta(max_length=20)] = field(name="idTag")
    charging_profile: ChargingProfile | UnsetType = field(default=UNSET, name="chargingProfile")


class RemoteStartTransactionResponse(OcppStruct, frozen=True, kw_only=True):
    """OCPP 1.6 RemoteStartTransaction.conf (schema ``RemoteStartTransactionResponse.json``)."""

    status: RemoteStartStopStatus = field(name="status")


class RemoteStopTransactionRequest(OcppStruct, frozen=True, kw_only=True):
    """OCPP 1.6 RemoteStopTransaction.req (schema ``RemoteStopTransaction.json``)."""

    transaction_id: int = field(name="transactionId")


class RemoteStopTransactionResponse(OcppStruct, frozen=True, kw_only=True):
    """OCPP 1.6 RemoteStopTransaction.conf (schema ``RemoteStopTransactionResponse.json``)."""

    status: RemoteStartStopStatus = field(name="status")


class ReserveNowRequest(OcppStruct, frozen=True, kw_only=True):
    """OCPP 1.6 ReserveNow.req (schema ``ReserveNow.json``)."""

    connector_id: int = field(name="connectorId")
    expiry_date: DateTime = field(name="expiryDate")
    id_tag: Annotated[str, Meta(max_length=20)] = field(name="idTag")
    parent_id_tag: Annotated[str, Meta(max_length=20)] | UnsetType = field(default=UNSET, name="parentIdTag")
    reservation_id: int = field(name="reservationId")


class ReserveNowResponse(OcppStruct, frozen=True, kw_only=True):
    """OCPP 1.6 ReserveNow.conf (schema ``ReserveNowResponse.json``)."""

    status: ReservationStatus = field(name="status")


class ResetRequest(OcppStruct, frozen=True, kw_only=True):
    """OCPP 1.6 Reset.req (schema ``Reset.json``)."""

    type: ResetType = field(name="type")


class ResetResponse(OcppStruct, frozen=True, kw_only=True):
    """OCPP 1.6 Reset.conf (schema ``ResetResponse.json``)."""

    status: ResetStatus = field(name="status")


class SendLocalListRequest(OcppStruct, frozen=True, kw_only=True):
    """OCPP 1.6 SendLocalList.req (schema ``SendLocalList.json``)."""

    list_version: int = field(name="listVersion")
    local_authorization_list: list[AuthorizationData] | UnsetType = field(
        default=UNSET, name="localAuthorizationList"
    )
    update_type: UpdateType = field(name="updateType")


class SendLocalListResponse(OcppStruct, frozen=True, kw_only=True):
    """OCPP 1.6 SendLocalList.conf (schema ``SendLocalListResponse.json``)."""

    status: UpdateStatus = field(name="status")


class SetChargingProfileRequest(OcppStruct, frozen=True, kw_only=True):
    """OCPP 1.6 SetChargingProfile.req (schema ``SetChargingProfile.json``)."""

    connector_id: int = field(name="connectorId")
    cs_charging_profiles: ChargingProfile = field(name="csChargingProfiles")


class SetChargingProfileResponse(OcppStruct, frozen=True, kw_only=True):
    """OCPP 1.6 SetChargingProfile.conf (schema ``SetChargingProfileResponse.json``)."""

    status: ChargingProfileStatus = field(name="status")


class TriggerMessageRequest(OcppStruct, frozen=True, kw_only=True):
    """OCPP 1.6 TriggerMessage.req (schema ``TriggerMessage.json``)."""

    requested_message: MessageTrigger = field(name="requestedMessage")
    connector_id: int | UnsetType = field(default=UNSET, name="connectorId")


class TriggerMessageResponse(OcppStruct, frozen=True, kw_only=True):
    """OCPP 1.6 TriggerMessage.conf (schema ``TriggerMessageResponse.json``)."""

    status: TriggerMessageStatus = field(name="status")


class UnlockConnectorRequest(OcppStruct, frozen=True, kw_only=True):
    """OCPP 1.6 UnlockConnector.req (schema ``UnlockConnector.json``)."""

    connector_id: int = field(name="connectorId")


class UnlockConnectorResponse(OcppStruct, frozen=True, kw_only=True):
    """OCPP 1.6 UnlockConnector.conf (schema ``UnlockConnectorResponse.json``)."""

    status: UnlockStatus = field(name="status")


class UpdateFirmwareRequest(OcppStruct, frozen=True, kw_only=True):
    """OCPP 1.6 UpdateFirmware.req (schema ``UpdateFirmware.json``)."""

    location: Uri = field(name="location")
    retries: int | UnsetType = field(default=UNSET, name="retries")
    retrieve_date: DateTime = field(name="retrieveDate")
    retry_interval: int | UnsetType = field(default=UNSET, name="retryInterval")


class UpdateFirmwareResponse(OcppStruct, frozen=True, kw_only=True):
    """OCPP 1.6 UpdateFirmware.conf (schema ``UpdateFirmwareResponse.json``)."""


class LogStatusNotificationRequest(OcppStruct, frozen=True, kw_only=True):
    """OCPP 1.6 LogStatusNotification.req (schema ``LogStatusNotification.json``)."""

    status: UploadLogStatusEnumType = field(name="status")
    request_id: int | UnsetType = field(default=UNSET, name="requestId")


class LogStatusNotificationResponse(OcppStruct, frozen=True, kw_only=True):
    """OCPP 1.6 LogStatusNotification.conf (schema ``LogStatusNotificationResponse.json``)."""


class SecurityEventNotificationRequest(OcppStruct, frozen=True, kw_only=True):
    """OCPP 1.6 SecurityEventNotification.req (schema ``SecurityEventNotification.json``)."""

    type: Annotated[str, Meta(max_length=50)] = field(name="type")
    timestamp: DateTime = field(name="timestamp")
    tech_info: Annotated[str, Meta(max_length=255)] | UnsetType = field(default=UNSET, name="techInfo")


class SecurityEventNotificationResponse(OcppStruct, frozen=True, kw_only=True):
    """OCPP 1.6 SecurityEventNotification.conf (schema ``SecurityEventNotificationResponse.json``)."""


class SignCertificateRequest(OcppStruct, frozen=True, kw_only=True):
    """OCPP 1.6 SignCertificate.req (schema ``SignCertificate.json``)."""

    csr: Annotated[str, Meta(max_length=5500)] = field(name="csr")


class SignCertificateResponse(OcppStruct, frozen=True, kw_only=True):
    """OCPP 1.6 SignCertificate.conf (schema ``SignCertificateResponse.json``)."""

    status: GenericStatusEnumType = field(name="status")


class SignedFirmwareStatusNotificationRequest(OcppStruct, frozen=True, kw_only=True):
    """OCPP 1.6 SignedFirmwareStatusNotification.req (schema ``SignedFirmwareStatusNotification.json``)."""

    status: FirmwareStatusEnumType = field(name="status")
    request_id: int | UnsetType = field(default=UNSET, name="requestId")


class SignedFirmwareStatusNotificationResponse(OcppStruct, frozen=True, kw_only=True):
    """OCPP 1.6 SignedFirmwareStatusNotification.conf (schema ``SignedFirmwareStatusNotificationResponse.json``)."""


class CertificateSignedRequest(OcppStruct, frozen=True, kw_only=True):
    """OCPP 1.6 CertificateSigned.req (schema ``CertificateSigned.json``)."""

    certificate_chain: Annotated[str, Meta(max_length=10000)] = field(name="certificateChain")


class CertificateSignedResponse(OcppStruct, frozen=True, kw_only=True):
    """OCPP 1.6 CertificateSigned.conf (schema ``CertificateSignedResponse.json``)."""

    status: CertificateSignedStatusEnumType = field(name="status")


class DeleteCertificateRequest(OcppStruct, frozen=True, kw_only=True):
    """OCPP 1.6 DeleteCertificate.req (schema ``DeleteCertificate.json``)."""

    certificate_hash_data: CertificateHashDataType = field(name="certificateHashData")


class DeleteCertificateResponse(OcppStruct, frozen=True, kw_only=True):
    """OCPP 1.6 DeleteCertificate.conf (schema ``DeleteCertificateResponse.json``)."""

    status: DeleteCertificateStatusEnumType = field(name="status")


class ExtendedTriggerMessageRequest(OcppStruct, frozen=True, kw_only=True):
    """OCPP 1.6 ExtendedTriggerMessage.req (schema ``ExtendedTriggerMessage.json``)."""

    requested_message: MessageTriggerEnumType = field(name="requestedMessage")
    connector_id: int | UnsetType = field(default=UNSET, name="connectorId")


class ExtendedTriggerMessageResponse(OcppStruct, frozen=True, kw_only=True):
    """OCPP 1.6 ExtendedTriggerMessage.conf (schema ``ExtendedTriggerMessageResponse.json``)."""

    status: TriggerMessageStatusEnumType = field(name="status")


class GetInstalledCertificateIdsRequest(OcppStruct, frozen=True, kw_only=True):
    """OCPP 1.6 GetInstalledCertificateIds.req (schema ``GetInstalledCertificateIds.json``)."""

    certificate_type: CertificateUseEnumType = field(name="certificateType")


class GetInstalledCertificateIdsResponse(OcppStruct, frozen=True, kw_only=True):
    """OCPP 1.6 GetInstalledCertificateIds.conf (schema ``GetInstalledCertificateIdsResponse.json``)."""

    certificate_hash_data: Annotated[list[CertificateHashDataType], Meta(min_length=1)] | UnsetType = field(
        default=UNSET, name="certificateHashData"
    )
    status: GetInstalledCertificateStatusEnumType = field(name="status")


class GetLogRequest(OcppStruct, frozen=True, kw_only=True):
    """OCPP 1.6 GetLog.req (schema ``GetLog.json``)."""

    log: LogParametersType = field(name="log")
    log_type: LogEnumType = field(name="logType")
    request_id: int = field(name="requestId")
    retries: int | UnsetType = field(default=UNSET, name="retries")
    retry_interval: int | UnsetType = field(default=UNSET, name="retryInterval")


class GetLogResponse(OcppStruct, frozen=True, kw_only=True):
    """OCPP 1.6 GetLog.conf (schema ``GetLogResponse.json``)."""

    status: LogStatusEnumType = field(name="status")
    filename: Annotated[str, Meta(max_length=255)] | UnsetType = field(default=UNSET, name="filename")


class InstallCertificateRequest(OcppStruct, frozen=True, kw_only=True):
    """OCPP 1.6 InstallCertificate.req (schema ``InstallCertificate.json``)."""

    certificate_type: CertificateUseEnumType = field(name="certificateType")
    certificate: Annotated[str, Meta(max_length=5500)] = field(name="certificate")


class InstallCertificateResponse(OcppStruct, frozen=True, kw_only=True):
    """OCPP 1.6 InstallCertificate.conf (schema ``InstallCertificateResponse.json``)."""

    status: InstallCertificateStatusEnumType = field(name="status")


class SignedUpdateFirmwareRequest(OcppStruct, frozen=True, kw_only=True):
    """OCPP 1.6 SignedUpdateFirmware.req (schema ``SignedUpdateFirmware.json``)."""

    retries: int | UnsetType = field(default=UNSET, name="retries")
    retry_interval: int | UnsetType = field(default=UNSET, name="retryInterval")
    request_id: int = field(name="requestId")
    firmware: FirmwareType = field(name="firmware")


class SignedUpdateFirmwareResponse(OcppStruct, frozen=True, kw_only=True):
    """OCPP 1.6 SignedUpdateFirmware.conf (schema ``SignedUpdateFirmwareResponse.json``)."""

    status: UpdateFirmwareStatusEnumType = field(name="status")


#: The request struct of every action of :data:`ocpp_station.wire.actions.ACTIONS`.
REQUESTS: Final[Mapping[str, type[OcppStruct]]] = MappingProxyType(
    {
        "Authorize": AuthorizeRequest,
        "BootNotification": BootNotificationRequest,
        "DiagnosticsStatusNotification": DiagnosticsStatusNotificationRequest,
        "FirmwareStatusNotification": FirmwareStatusNotificationRequest,
        "Heartbeat": HeartbeatRequest,
        "MeterValues": MeterValuesRequest,
        "StartTransaction": StartTransactionRequest,
        "StatusNotification": StatusNotificationRequest,
        "StopTransaction": StopTransactionRequest,
        "DataTransfer": DataTransferRequest,
        "CancelReservation": CancelReservationRequest,
        "ChangeAvailability": ChangeAvailabilityRequest,
        "ChangeConfiguration": ChangeConfigurationRequest,
        "ClearCache": ClearCacheRequest,
        "ClearChargingProfile": ClearChargingProfileRequest,
        "GetCompositeSchedule": GetCompositeScheduleRequest,
        "GetConfiguration": GetConfigurationRequest,
        "GetDiagnostics": GetDiagnosticsRequest,
        "GetLocalListVersion": GetLocalListVersionRequest,
        "RemoteStartTransaction": RemoteStartTransactionRequest,
        "RemoteStopTransaction": RemoteStopTransactionRequest,
        "ReserveNow": ReserveNowRequest,
        "Reset": ResetRequest,
        "SendLocalList": SendLocalListRequest,
        "SetChargingProfile": SetChargingProfileRequest,
        "TriggerMessage": TriggerMessageRequest,
        "UnlockConnector": UnlockConnectorRequest,
        "UpdateFirmware": UpdateFirmwareRequest,
        "LogStatusNotification": LogStatusNotificationRequest,
        "SecurityEventNotification": SecurityEventNotificationRequest,
        "SignCertificate": SignCertificateRequest,
        "SignedFirmwareStatusNotification": SignedFirmwareStatusNotificationRequest,
        "CertificateSigned": CertificateSignedRequest,
        "DeleteCertificate": DeleteCertificateRequest,
        "ExtendedTriggerMessage": ExtendedTriggerMessageRequest,
        "GetInstalledCertificateIds": GetInstalledCertificateIdsRequest,
        "GetLog": GetLogRequest,
        "InstallCertificate": InstallCertificateRequest,
        "SignedUpdateFirmware": SignedUpdateFirmwareRequest,
    }
)

#: The response struct of every action of :data:`ocpp_station.wire.actions.ACTIONS`.
RESPONSES: Final[Mapping[str, type[OcppStruct]]] = MappingProxyType(
    {
        "Authorize": AuthorizeResponse,
        "BootNotification": BootNotificationResponse,
        "DiagnosticsStatusNotification": DiagnosticsStatusNotificationResponse,
        "FirmwareStatusNotification": FirmwareStatusNotificationResponse,
        "Heartbeat": HeartbeatResponse,
        "MeterValues": MeterValuesResponse,
        "StartTransaction": StartTransactionResponse,
        "StatusNotification": StatusNotificationResponse,
        "StopTransaction": StopTransactionResponse,
        "DataTransfer": DataTransferResponse,
        "CancelReservation": CancelReservationResponse,
        "ChangeAvailability": ChangeAvailabilityResponse,
        "ChangeConfiguration": ChangeConfigurationResponse,
        "ClearCache": ClearCacheResponse,
        "ClearChargingProfile": ClearChargingProfileResponse,
        "GetCompositeSchedule": GetCompositeScheduleResponse,
        "GetConfiguration": GetConfigurationResponse,
        "GetDiagnostics": GetDiagnosticsResponse,
        "GetLocalListVersion": GetLocalListVersionResponse,
        "RemoteStartTransaction": RemoteStartTransactionResponse,
        "RemoteStopTransaction": RemoteStopTransactionResponse,
        "ReserveNow": ReserveNowResponse,
        "Reset": ResetResponse,
        "SendLocalList": SendLocalListResponse,
        "SetChargingProfile": SetChargingProfileResponse,
        "TriggerMessage": TriggerMessageResponse,
        "UnlockConnector": UnlockConnectorResponse,
        "UpdateFirmware": UpdateFirmwareResponse,
        "LogStatusNotification": LogStatusNotificationResponse,
        "SecurityEventNotification": SecurityEventNotificationResponse,
        "SignCertificate": SignCertificateResponse,
        "SignedFirmwareStatusNotification": SignedFirmwareStatusNotificationResponse,
        "CertificateSigned": CertificateSignedResponse,
        "DeleteCertificate": DeleteCertificateResponse,
        "ExtendedTriggerMessage": ExtendedTriggerMessageResponse,
        "GetInstalledCertificateIds": GetInstalledCertificateIdsResponse,
        "GetLog": GetLogResponse,
        "InstallCertificate": InstallCertificateResponse,
        "SignedUpdateFirmware": SignedUpdateFirmwareResponse,
    }
)

#: The action of every request struct (the inverse of :data:`REQUESTS`).
REQUEST_ACTIONS: Final[Mapping[type[OcppStruct], str]] = MappingProxyType(
    {struct: action for action, struct in REQUESTS.items()}
)
