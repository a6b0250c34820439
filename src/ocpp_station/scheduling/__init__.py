"""Smart-charging schedule maths of OCPP 1.6 §3.13: pure functions of an explicit ``now``.

"The limit now, and when it next changes": :func:`schedule_at` for one profile,
:func:`limit_for_connector` for the stacked profiles of a connector, :func:`composite_schedule` for
GetCompositeSchedule.conf (§5.7). Profiles are parsed from their wire form (§7.8) by
:func:`parse_charging_profile`, which raises :class:`ProfileError` naming the field.
"""

from ocpp_station.scheduling.composite import ConnectorContext, composite_schedule, round_limit
from ocpp_station.scheduling.limits import Limit, amps_to_watts, convert, tightest, watts_to_amps
from ocpp_station.scheduling.profiles import (
    ChargingProfile,
    ChargingProfileKind,
    ChargingProfilePurpose,
    ChargingRateUnit,
    ChargingSchedule,
    ChargingSchedulePeriod,
    ProfileError,
    RecurrencyKind,
    parse_charging_profile,
    profile_to_wire,
)
from ocpp_station.scheduling.schedule import InstalledProfile, limit_for_connector, schedule_at

__all__ = [
    "ChargingProfile",
    "ChargingProfileKind",
    "ChargingProfilePurpose",
    "ChargingRateUnit",
    "ChargingSchedule",
    "ChargingSchedulePeriod",
    "ConnectorContext",
    "InstalledProfile",
    "Limit",
    "ProfileError",
    "RecurrencyKind",
    "amps_to_watts",
    "composite_schedule",
    "convert",
    "limit_for_connector",
    "parse_charging_profile",
    "profile_to_wire",
    "round_limit",
    "schedule_at",
    "tightest",
    "watts_to_amps",
]
