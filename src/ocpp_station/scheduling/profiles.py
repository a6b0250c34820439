"""Charging profiles as frozen dataclasses, parsed from and written to their wire form.

OCPP 1.6 §7.8 ChargingProfile, §7.13 ChargingSchedule, §7.14 ChargingSchedulePeriod, with the
errata sheet v4 (3.56 recurrencyKind only with Recurring, 3.65/3.66 validFrom/validTo allowed on
TxProfile, 3.70 first startPeriod is 0). Pure: no I/O, no clock. Date-times become POSIX seconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar

__all__ = [
    "ChargingProfile",
    "ChargingProfileKind",
    "ChargingProfilePurpose",
    "ChargingRateUnit",
    "ChargingSchedule",
    "ChargingSchedulePeriod",
    "ProfileError",
    "RecurrencyKind",
    "parse_charging_profile",
    "profile_to_wire",
]

_E = TypeVar("_E", bound=StrEnum)


class ChargingProfilePurpose(StrEnum):
    """OCPP 1.6 §7.10 ChargingProfilePurposeType."""

    ChargePointMaxProfile = "ChargePointMaxProfile"
    TxDefaultProfile = "TxDefaultProfile"
    TxProfile = "TxProfile"


class ChargingProfileKind(StrEnum):
    """OCPP 1.6 §7.9 ChargingProfileKindType."""

    Absolute = "Absolute"
    Recurring = "Recurring"
    Relative = "Relative"


class RecurrencyKind(StrEnum):
    """OCPP 1.6 §7.37 RecurrencyKindType (erratum 3.79: every 24 h / 7 days from startSchedule)."""

    Daily = "Daily"
    Weekly = "Weekly"


class ChargingRateUnit(StrEnum):
    """OCPP 1.6 §7.12 ChargingRateUnitType: A per phase, W total (erratum 3.69)."""

    A = "A"
    W = "W"


RECURRENCE_PERIOD_S: Mapping[RecurrencyKind, int] = {
    RecurrencyKind.Daily: 86_400,
    RecurrencyKind.Weekly: 7 * 86_400,
}


class ProfileError(ValueError):
    """A charging profile that the Charge Point cannot accept (OCPP 1.6 §5.16, errata 3.38).

    ``field`` is the wire path of the offending field (``chargingSchedule.chargingSchedulePeriod[1]
    .startPeriod``). A SetChargingProfile handler answers ``Rejected``; an invalid enumeration value
    is, per erratum 3.38, a CALLERROR ``PropertyConstraintViolation`` (hint in ``error_code``).
    """

    def __init__(self, field: str, message: str, *, error_code: str | None = None) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.error_code = error_code


@dataclass(frozen=True)
class ChargingSchedulePeriod:
    """OCPP 1.6 §7.14: from ``start_period`` seconds after the schedule start, ``limit`` in the unit
    of the schedule; ``number_phases`` None means "not given" (3 is assumed where needed)."""

    start_period: int
    limit: float
    number_phases: int | None = None


@dataclass(frozen=True)
class ChargingSchedule:
    """OCPP 1.6 §7.13. ``start_schedule`` is POSIX seconds; ``periods`` are sorted, first at 0."""

    charging_rate_unit: ChargingRateUnit
    periods: tuple[ChargingSchedulePeriod, ...]
    duration: int | None = None
    start_schedule: float | None = None
    min_charging_rate: float | None = None


@dataclass(frozen=True)
class ChargingProfile:
    """OCPP 1.6 §7.8. ``valid_from`` / ``valid_to`` are POSIX seconds (validTo exclusive)."""

    charging_profile_id: int
    stack_level: int
    purpose: ChargingProfilePurpose
    kind: ChargingProfileKind
    schedule: ChargingSchedule
    transaction_id: int | None = None
    recurrency_kind: RecurrencyKind | None = None
    valid_from: float | None = None
    valid_to: float | None = None


# --- wire helpers ---------------------------------------------------------------------------------

_PROFILE_KEYS = frozenset(
    {
        "chargingProfileId",
        "transactionId",
        "stackLevel",
        "chargingProfilePurpose",
        "chargingProfileKind",
        "recurrencyKind",
        "validFrom",
        "validTo",
        "chargingSchedule",
    }
)
_SCHEDULE_KEYS = frozenset(
    {"duration", "startSchedule", "chargingRateUnit", "chargingSchedulePeriod", "minChargingRate"}
)
_PERIOD_KEYS = frozenset({"startPeriod", "limit", "numberPhases"})


def _mapping(value: Any, field: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ProfileError(field, "must be an object")
    return value


def _check_keys(obj: Mapping[str, Any], allowed: frozenset[str], prefix: str) -> None:
    for key in obj:
        if key not in allowed:
            raise ProfileError(f"{prefix}{key}", "unknown field")


def _int(obj: Mapping[str, Any], key: str, prefix: str, *, minimum: int | None = None) -> int | None:
    if key not in obj:
        return None
    value = obj[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProfileError(prefix + key, "must be an integer")
    if minimum is not None and value < minimum:
        raise ProfileError(prefix + key, f"must be >= {minimum}")
    return value


def _required_int(obj: Mapping[str, Any], key: str, prefix: str, *, minimum: int | None = None) -> int:
    value = _int(obj, key, prefix, minimum=minimum)
    if value is None:
        raise ProfileError(prefix + key, "is required")
    return value


def _number(obj: Mapping[str, Any], key: str, prefix: str) -> float | None:
    if key not in obj:
        return None
    value = obj[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise ProfileError(prefix + key, "must be a number")
    if value < 0:
        raise ProfileError(prefix + key, "must be >= 0")
    return float(value)


def _enum(obj: Mapping[str, Any], key: str, prefix: str, enum: type[_E]) -> _E | None:
    if key not in obj:
        return None
    value = obj[key]
    try:
        return enum(value)
    except ValueError:
        raise ProfileError(
            prefix + key,
            f"{value!r} is not one of {[m.value for m in enum]}",
            error_code="PropertyConstraintViolation",
        ) from None


def _datetime(obj: Mapping[str, Any], key: str, prefix: str) -> float | None:
    if key not in obj:
        return None
    value = obj[key]
    if not isinstance(value, str):
        raise ProfileError(prefix + key, "must be a date-time string")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ProfileError(prefix + key, f"{value!r} is not an RFC 3339 date-time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # OCPP 1.6 §3.14: UTC recommended; read naive as UTC
    return moment.timestamp()


def _format_datetime(epoch_s: float) -> str:
    moment = datetime.fromtimestamp(epoch_s, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


# --- parsing --------------------------------------------------------------------------------------


def _parse_period(raw: Any, prefix: str) -> ChargingSchedulePeriod:
    obj = _mapping(raw, prefix.rstrip("."))
    _check_keys(obj, _PERIOD_KEYS, prefix)
    start = _required_int(obj, "startPeriod", prefix, minimum=0)
    limit = _number(obj, "limit", prefix)
    if limit is None:
        raise ProfileError(prefix + "limit", "is required")
    phases = _int(obj, "numberPhases", prefix, minimum=1)
    if phases is not None and phases > 3:
        raise ProfileError(prefix + "numberPhases", "must be 1, 2 or 3")
    return ChargingSchedulePeriod(start_period=start, limit=limit, number_phases=phases)


def _parse_schedule(raw: Any) -> ChargingSchedule:
    """OCPP 1.6 §7.13, erratum 3.70: the first startPeriod is 0; we also require strictly ascending
    startPeriods (§7.14: a startPeriod is the stop time of the previous period)."""
    prefix = "chargingSchedule."
    obj = _mapping(raw, "chargingSchedule")
    _check_keys(obj, _SCHEDULE_KEYS, prefix)
    unit = _enum(obj, "chargingRateUnit", prefix, ChargingRateUnit)
    if unit is None:
        raise ProfileError(prefix + "chargingRateUnit", "is required")
    raw_periods = obj.get("chargingSchedulePeriod")
    field = prefix + "chargingSchedulePeriod"
    if not isinstance(raw_periods, list) or not raw_periods:
        raise ProfileError(field, "must be a non-empty list")
    periods = tuple(_parse_period(p, f"{field}[{i}].") for i, p in enumerate(raw_periods))
    if periods[0].start_period != 0:
        raise ProfileError(f"{field}[0].startPeriod", "the first period must start at 0")
    for i in range(1, len(periods)):
        if periods[i].start_period <= periods[i - 1].start_period:
            raise ProfileError(f"{field}[{i}].startPeriod", "periods must be in strictly ascending order")
    return ChargingSchedule(
        charging_rate_unit=unit,
        periods=periods,
        duration=_int(obj, "duration", prefix, minimum=0),
        start_schedule=_datetime(obj, "startSchedule", prefix),
        min_charging_rate=_number(obj, "minChargingRate", prefix),
    )


def parse_charging_profile(raw: Any) -> ChargingProfile:
    """A ChargingProfile from its wire dict (OCPP 1.6 §7.8, field names as in the official schema).

    Raises :class:`ProfileError` naming the field for anything the Charge Point cannot execute:
    missing or mistyped fields, unknown enumeration values, ``recurrencyKind`` missing on Recurring or
    present on another kind (erratum 3.56), Absolute/Recurring without ``startSchedule`` (nothing to
    anchor them to), Relative ChargePointMaxProfile (no transaction to be relative to), transactionId
    on a purpose other than TxProfile (§7.8), validTo not after validFrom, periods not starting at 0
    or not ascending. A ``startSchedule`` on a Relative profile is ignored (§7.9: the Charge Point
    determines the start).
    """
    obj = _mapping(raw, "chargingProfile")
    _check_keys(obj, _PROFILE_KEYS, "")
    profile_id = _required_int(obj, "chargingProfileId", "")
    stack_level = _required_int(obj, "stackLevel", "", minimum=0)
    purpose = _enum(obj, "chargingProfilePurpose", "", ChargingProfilePurpose)
    if purpose is None:
        raise ProfileError("chargingProfilePurpose", "is required")
    kind = _enum(obj, "chargingProfileKind", "", ChargingProfileKind)
    if kind is None:
        raise ProfileError("chargingProfileKind", "is required")
    recurrency = _enum(obj, "recurrencyKind", "", RecurrencyKind)
    transaction_id = _int(obj, "transactionId", "")
    valid_from = _datetime(obj, "validFrom", "")
    valid_to = _datetime(obj, "validTo", "")
    if "chargingSchedule" not in obj:
        raise ProfileError("chargingSchedule", "is required")
    schedule = _parse_schedule(obj["chargingSchedule"])

    if kind is ChargingProfileKind.Recurring and recurrency is None:
        raise ProfileError("recurrencyKind", "is required when chargingProfileKind is Recurring")
    if kind is not ChargingProfileKind.Recurring and recurrency is not None:
        raise ProfileError("recurrencyKind", "only allowed when chargingProfileKind is Recurring")
    if kind is not ChargingProfileKind.Relative and schedule.start_schedule is None:
        raise ProfileError("chargingSchedule.startSchedule", f"is required for a {kind} profile")
    if kind is ChargingProfileKind.Relative and purpose is ChargingProfilePurpose.ChargePointMaxProfile:
        raise ProfileError("chargingProfileKind", "a ChargePointMaxProfile cannot be Relative")
    if transaction_id is not None and purpose is not ChargingProfilePurpose.TxProfile:
        raise ProfileError("transactionId", "only allowed when chargingProfilePurpose is TxProfile")
    if valid_from is not None and valid_to is not None and valid_to <= valid_from:
        raise ProfileError("validTo", "must be after validFrom")
    if kind is ChargingProfileKind.Relative and schedule.start_schedule is not None:
        schedule = ChargingSchedule(
            charging_rate_unit=schedule.charging_rate_unit,
            periods=schedule.periods,
            duration=schedule.duration,
            start_schedule=None,
            min_charging_rate=schedule.min_charging_rate,
        )
    return ChargingProfile(
        charging_profile_id=profile_id,
        stack_level=stack_level,
        purpose=purpose,
        kind=kind,
        schedule=schedule,
        transaction_id=transaction_id,
        recurrency_kind=recurrency,
        valid_from=valid_from,
        valid_to=valid_to,
    )


def profile_to_wire(profile: ChargingProfile) -> dict[str, Any]:
    """The wire dict of ``profile`` (for persistence or echoing); parses back to an equal profile
    when its instants are whole milliseconds."""
    schedule = profile.schedule
    periods: list[dict[str, Any]] = []
    for period in schedule.periods:
        item: dict[str, Any] = {"startPeriod": period.start_period, "limit": period.limit}
        if period.number_phases is not None:
            item["numberPhases"] = period.number_phases
        periods.append(item)
    wire_schedule: dict[str, Any] = {
        "chargingRateUnit": schedule.charging_rate_unit.value,
        "chargingSchedulePeriod": periods,
    }
    if schedule.duration is not None:
        wire_schedule["duration"] = schedule.duration
    if schedule.start_schedule is not None:
        wire_schedule["startSchedule"] = _format_datetime(schedule.start_schedule)
    if schedule.min_charging_rate is not None:
        wire_schedule["minChargingRate"] = schedule.min_charging_rate
    wire: dict[str, Any] = {
        "chargingProfileId": profile.charging_profile_id,
        "stackLevel": profile.stack_level,
        "chargingProfilePurpose": profile.purpose.value,
        "chargingProfileKind": profile.kind.value,
        "chargingSchedule": wire_schedule,
    }
    if profile.transaction_id is not None:
        wire["transactionId"] = profile.transaction_id
    if profile.recurrency_kind is not None:
        wire["recurrencyKind"] = profile.recurrency_kind.value
    if profile.valid_from is not None:
        wire["validFrom"] = _format_datetime(profile.valid_from)
    if profile.valid_to is not None:
        wire["validTo"] = _format_datetime(profile.valid_to)
    return wire
