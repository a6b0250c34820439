"""Charging profiles as frozen dataclasses, built from the typed messages and written back to them.

OCPP 1.6 §7.8 ChargingProfile, §7.13 ChargingSchedule, §7.14 ChargingSchedulePeriod, with the
errata sheet v4 (3.56 recurrencyKind only with Recurring, 3.65/3.66 validFrom/validTo allowed on
TxProfile, 3.70 first startPeriod is 0). Pure: no I/O, no clock. Date-times are POSIX seconds.

What the schema says (types, required fields, enumerations, date-time format) the typed
:class:`ocpp_station.wire.messages.ChargingProfile` has already been held to when it arrived;
:func:`parse_charging_profile` checks what the schema cannot (signs, order, the errata's rules) and
builds the model the maths uses. A stored record (its wire form, a JSON dict) goes through
:func:`profile_from_wire`, which puts it through the schema's types first; :func:`profile_to_message`
and :func:`profile_to_wire` are the way back. The enumerations are the generated ones (§7.9, §7.10,
§7.12, §7.37), under their §3.13 names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

import msgspec

from ocpp_station.wire import messages
from ocpp_station.wire.schemas import msgspec_error, to_builtins
from ocpp_station.wire.timestamps import Timestamp, lenient_dec_hook, strict_dec_hook

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
    "profile_from_wire",
    "profile_to_message",
    "profile_to_wire",
]

#: OCPP 1.6 §7.10 ChargingProfilePurposeType.
ChargingProfilePurpose = messages.ChargingProfilePurposeType
#: OCPP 1.6 §7.9 ChargingProfileKindType.
ChargingProfileKind = messages.ChargingProfileKindType
#: OCPP 1.6 §7.37 RecurrencyKindType (erratum 3.79: every 24 h / 7 days from startSchedule).
RecurrencyKind = messages.RecurrencyKindType
#: OCPP 1.6 §7.12 ChargingRateUnitType: A per phase, W total (erratum 3.69).
ChargingRateUnit = messages.ChargingRateUnitType

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


# --- from the typed message ---------------------------------------------------------------------

_PERIODS = "chargingSchedule.chargingSchedulePeriod"


def _optional(value: Any) -> Any:
    """None for an absent field (``msgspec.UNSET``), else the value."""
    return None if value is msgspec.UNSET else value


_E = TypeVar("_E", bound=StrEnum)


def _member(value: Any, enum: type[_E], field: str) -> _E:
    """``value`` as a member of ``enum``. A decoded struct always holds one; a struct built without
    the schema check may not: erratum 3.38 makes that a CALLERROR PropertyConstraintViolation."""
    if type(value) is enum:
        return value
    try:
        return enum(value)
    except ValueError:
        raise ProfileError(
            field,
            f"{value!r} is not one of {[m.value for m in enum]}",
            error_code="PropertyConstraintViolation",
        ) from None


def _at_least(value: float | None, minimum: float, field: str) -> None:
    if value is not None and not value >= minimum:  # NaN too
        raise ProfileError(field, f"must be >= {minimum:g}")


def _parse_period(period: messages.ChargingSchedulePeriod, prefix: str) -> ChargingSchedulePeriod:
    _at_least(period.start_period, 0, prefix + "startPeriod")
    _at_least(period.limit, 0, prefix + "limit")
    phases: int | None = _optional(period.number_phases)
    _at_least(phases, 1, prefix + "numberPhases")
    if phases is not None and phases > 3:
        raise ProfileError(prefix + "numberPhases", "must be 1, 2 or 3")
    return ChargingSchedulePeriod(
        start_period=period.start_period, limit=float(period.limit), number_phases=phases
    )


def _parse_schedule(schedule: messages.ChargingSchedule) -> ChargingSchedule:
    """OCPP 1.6 §7.13, erratum 3.70: the first startPeriod is 0; we also require strictly ascending
    startPeriods (§7.14: a startPeriod is the stop time of the previous period)."""
    if not schedule.charging_schedule_period:
        raise ProfileError(_PERIODS, "must be a non-empty list")
    periods = tuple(
        _parse_period(p, f"{_PERIODS}[{i}].") for i, p in enumerate(schedule.charging_schedule_period)
    )
    if periods[0].start_period != 0:
        raise ProfileError(f"{_PERIODS}[0].startPeriod", "the first period must start at 0")
    for i in range(1, len(periods)):
        if periods[i].start_period <= periods[i - 1].start_period:
            raise ProfileError(f"{_PERIODS}[{i}].startPeriod", "periods must be in strictly ascending order")
    duration: int | None = _optional(schedule.duration)
    _at_least(duration, 0, "chargingSchedule.duration")
    min_rate: float | None = _optional(schedule.min_charging_rate)
    _at_least(min_rate, 0, "chargingSchedule.minChargingRate")
    start: Timestamp | None = _optional(schedule.start_schedule)
    return ChargingSchedule(
        charging_rate_unit=_member(
            schedule.charging_rate_unit, ChargingRateUnit, "chargingSchedule.chargingRateUnit"
        ),
        periods=periods,
        duration=duration,
        start_schedule=None if start is None else float(start),
        min_charging_rate=None if min_rate is None else float(min_rate),
    )


def parse_charging_profile(profile: messages.ChargingProfile) -> ChargingProfile:
    """The model of a typed ChargingProfile (OCPP 1.6 §7.8: SetChargingProfile.req
    ``csChargingProfiles``, RemoteStartTransaction.req ``chargingProfile``).

    The struct holds what the schema asks; raises :class:`ProfileError` naming the field (its wire
    path) for anything else the Charge Point cannot execute: a negative stackLevel, startPeriod,
    limit, duration or minChargingRate, numberPhases outside 1..3, ``recurrencyKind`` missing on
    Recurring or present on another kind (erratum 3.56), Absolute/Recurring without ``startSchedule``
    (nothing to anchor them to), Relative ChargePointMaxProfile (no transaction to be relative to),
    transactionId on a purpose other than TxProfile (§7.8), validTo not after validFrom, periods not
    starting at 0 or not ascending. A ``startSchedule`` on a Relative profile is ignored (§7.9: the
    Charge Point determines the start).
    """
    purpose = _member(profile.charging_profile_purpose, ChargingProfilePurpose, "chargingProfilePurpose")
    kind = _member(profile.charging_profile_kind, ChargingProfileKind, "chargingProfileKind")
    _at_least(profile.stack_level, 0, "stackLevel")
    recurrency = _optional(profile.recurrency_kind)
    if recurrency is not None:
        recurrency = _member(recurrency, RecurrencyKind, "recurrencyKind")
    transaction_id: int | None = _optional(profile.transaction_id)
    valid_from: Timestamp | None = _optional(profile.valid_from)
    valid_to: Timestamp | None = _optional(profile.valid_to)
    schedule = _parse_schedule(profile.charging_schedule)

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
        charging_profile_id=profile.charging_profile_id,
        stack_level=profile.stack_level,
        purpose=purpose,
        kind=kind,
        schedule=schedule,
        transaction_id=transaction_id,
        recurrency_kind=recurrency,
        valid_from=None if valid_from is None else float(valid_from),
        valid_to=None if valid_to is None else float(valid_to),
    )


# --- from and to the wire form (stored records) ----------------------------------------------------

#: msgspec's " - at `$.a.b[0]`" suffix of a ValidationError.
_AT = re.compile(r" - at `\$\.?([^`]*)`\Z")
#: msgspec's messages naming the field itself, rather than its parent, in backquotes.
_NAMED = re.compile(r"^Object (?:missing required|contains unknown) field `([^`]*)`")


def profile_from_wire(raw: Any, *, strict: bool = True) -> ChargingProfile:
    """The model of a ChargingProfile in its wire form (a JSON dict, e.g. a stored record, which is
    :func:`profile_to_wire`'s): read into the typed struct with the schema's types first (date-times
    RFC 3339 with a zone designator, OCPP 1.6 §3.15; ``strict=False`` reads a missing one as UTC),
    then :func:`parse_charging_profile`. A value the schema refuses is a :class:`ProfileError` naming
    the field; an invalid enumeration value hints ``PropertyConstraintViolation`` (erratum 3.38).
    """
    try:
        typed = msgspec.convert(
            raw, messages.ChargingProfile, dec_hook=strict_dec_hook if strict else lenient_dec_hook
        )
    except msgspec.ValidationError as exc:
        text = str(exc)
        at = _AT.search(text)
        message = text[: at.start()] if at else text
        path = at.group(1) if at else ""
        named = _NAMED.match(message)
        if named is not None:
            path = f"{path}.{named.group(1)}" if path else named.group(1)
        rule = msgspec_error("ChargingProfile", exc).details.get("rule")
        error_code = "PropertyConstraintViolation" if rule == "enum" else None
        raise ProfileError(path or "chargingProfile", message, error_code=error_code) from None
    return parse_charging_profile(typed)


def profile_to_message(profile: ChargingProfile) -> messages.ChargingProfile:
    """The typed ChargingProfile of ``profile`` (OCPP 1.6 §7.8)."""
    schedule = profile.schedule
    unset = msgspec.UNSET
    return messages.ChargingProfile(
        charging_profile_id=profile.charging_profile_id,
        transaction_id=unset if profile.transaction_id is None else profile.transaction_id,
        stack_level=profile.stack_level,
        charging_profile_purpose=profile.purpose,
        charging_profile_kind=profile.kind,
        recurrency_kind=unset if profile.recurrency_kind is None else profile.recurrency_kind,
        valid_from=unset if profile.valid_from is None else Timestamp(profile.valid_from),
        valid_to=unset if profile.valid_to is None else Timestamp(profile.valid_to),
        charging_schedule=messages.ChargingSchedule(
            duration=unset if schedule.duration is None else schedule.duration,
            start_schedule=unset if schedule.start_schedule is None else Timestamp(schedule.start_schedule),
            charging_rate_unit=schedule.charging_rate_unit,
            charging_schedule_period=[
                messages.ChargingSchedulePeriod(
                    start_period=period.start_period,
                    limit=period.limit,
                    number_phases=unset if period.number_phases is None else period.number_phases,
                )
                for period in schedule.periods
            ],
            min_charging_rate=unset if schedule.min_charging_rate is None else schedule.min_charging_rate,
        ),
    )


def profile_to_wire(profile: ChargingProfile) -> dict[str, Any]:
    """The wire dict of ``profile`` (what a record of the store holds); :func:`profile_from_wire`
    reads it back to an equal profile when its instants are whole milliseconds."""
    return to_builtins(profile_to_message(profile))
