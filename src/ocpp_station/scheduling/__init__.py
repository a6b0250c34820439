"""Smart-charging schedule maths of OCPP 1.6 §3.13: pure functions of an explicit ``now``.

"The limit now, and when it next changes": :func:`schedule_at` for one profile,
:func:`limit_for_connector` for the stacked profiles of a connector, :func:`composite_schedule` for
GetCompositeSchedule.conf (§5.7, the typed ``ChargingSchedule``), :func:`shared_limits` for the
limits applied to connectors charging at the same time under one ChargePointMaxProfile (§3.13.3).
Profiles are built from the typed ``ChargingProfile`` (§7.8) by :func:`parse_charging_profile`,
from their wire form (a stored record) by :func:`profile_from_wire`; both raise
:class:`ProfileError` naming the field. A<->W conversions use the supply of the connector
concerned (nominal voltage and phases, ``ConnectorContext``) and a period's ``numberPhases`` where
given (§7.12, §7.14).
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
    profile_from_wire,
    profile_to_message,
    profile_to_wire,
)
from ocpp_station.scheduling.schedule import (
    InstalledProfile,
    charge_point_limit,
    limit_for_connector,
    schedule_at,
)
from ocpp_station.scheduling.sharing import fair_shares, shared_limits

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
    "charge_point_limit",
    "composite_schedule",
    "convert",
    "fair_shares",
    "limit_for_connector",
    "parse_charging_profile",
    "profile_from_wire",
    "profile_to_message",
    "profile_to_wire",
    "round_limit",
    "schedule_at",
    "shared_limits",
    "tightest",
    "watts_to_amps",
]
