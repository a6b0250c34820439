"""Smart Charging (OCPP 1.6 §3.13, §5.5 ClearChargingProfile, §5.7 GetCompositeSchedule,
§5.16 SetChargingProfile, §9.4 keys).

The maths is in :mod:`ocpp_station.scheduling` (pure functions of an explicit ``now``); this module
keeps the installed profiles, answers the three CALLs and applies the limit in force to every
connector with an energized transaction: an ``ApplyChargingLimit`` whenever it changes, and ONE timer
(``smart-charging``) at the earliest instant it next changes (never polled).

Stored as records of kind ``charging_profiles``: key the chargingProfileId ->
``{"connectorId": n, "profile": <wire form>}``. TxProfiles belong to their transaction and are
removed when it ends (§3.13.1).
"""

from __future__ import annotations

from typing import Any

from ocpp_station.core.context import Context, log
from ocpp_station.core.effects import ApplyChargingLimit
from ocpp_station.core.features.transactions import Transactions
from ocpp_station.core.model import Transaction
from ocpp_station.scheduling import (
    ChargingProfile,
    ChargingProfilePurpose,
    ChargingRateUnit,
    ConnectorContext,
    InstalledProfile,
    Limit,
    ProfileError,
    amps_to_watts,
    composite_schedule,
    limit_for_connector,
    parse_charging_profile,
    profile_to_wire,
)
from ocpp_station.wire.frames import Call

KIND = "charging_profiles"
TIMER = "smart-charging"
_UNIT_NAMES = {"Current": ChargingRateUnit.A, "Power": ChargingRateUnit.W}


class SmartCharging:
    PROFILE = "SmartCharging"
    supported = True

    def __init__(self, ctx: Context, transactions: Transactions) -> None:
        self.ctx = ctx
        self.transactions = transactions
        #: Installed profiles by chargingProfileId.
        self.installed: dict[int, InstalledProfile] = {}
        #: The limit (A) last applied per energized connector.
        self.applied: dict[int, float] = {}
        transactions.limit_provider = self._limit_on_energize
        transactions.on_started.append(self._transaction_started)
        transactions.on_ended.append(self._transaction_ended)
        ctx.route("SetChargingProfile", incoming=self._set)
        ctx.route("ClearChargingProfile", incoming=self._clear)
        ctx.route("GetCompositeSchedule", incoming=self._composite)

    # -- state ------------------------------------------------------------------------------------
    def restore(self, records: dict[str, Any]) -> None:
        """The profiles the store kept (records kind ``charging_profiles``)."""
        self.installed.clear()
        for key, value in records.items():
            try:
                profile = parse_charging_profile(value["profile"])
                connector_id = int(value["connectorId"])
            except (ProfileError, KeyError, TypeError, ValueError) as exc:
                log.warning("dropping stored charging profile %s: %s", key, exc)
                continue
            self.installed[profile.charging_profile_id] = InstalledProfile(connector_id, profile)

    def _hardware_max(self, connector_id: int) -> Limit:
        return Limit(self.ctx.settings.spec(connector_id).max_current_a, ChargingRateUnit.A)

    def _context(self, connector_id: int) -> ConnectorContext:
        tx = self.ctx.connectors[connector_id].transaction
        return ConnectorContext(
            tx_start=None if tx is None else tx.started_at,
            transaction_id=None if tx is None else tx.transaction_id,
            hardware_max=self._hardware_max(connector_id),
        )

    def _limit(self, connector_id: int) -> tuple[float, float | None]:
        """The limit in A for the connector now, and when (OCPP clock) it next changes."""
        context = self._context(connector_id)
        limit, nxt = limit_for_connector(
            self.installed.values(),
            connector_id,
            self.ctx.ocpp_time(),
            tx_start=context.tx_start,
            transaction_id=context.transaction_id,
            hardware_max=context.hardware_max,
            unit=ChargingRateUnit.A,
        )
        if limit is None:  # cannot happen with a hardware maximum given; charge at the rating
            return self._hardware_max(connector_id).value, nxt
        return limit.value, nxt

    # -- applying ---------------------------------------------------------------------------------
    def _limit_on_energize(self, connector_id: int) -> float:
        amps, _ = self._limit(connector_id)
        self.applied[connector_id] = amps
        self.ctx.after_reply.append(self.reapply)
        return amps

    def reapply(self) -> None:
        """Apply the limit in force to each energized connector; arm the timer at the next change."""
        ctx = self.ctx
        earliest: float | None = None
        for c in ctx.connectors[1:]:
            if not (c.energized and c.transaction is not None):
                self.applied.pop(c.id, None)
                continue
            amps, nxt = self._limit(c.id)
            if self.applied.get(c.id) != amps:
                self.applied[c.id] = amps
                ctx.emit(ApplyChargingLimit(c.id, amps))
            if nxt is not None and (earliest is None or nxt < earliest):
                earliest = nxt
        if earliest is None:
            ctx.timers.cancel(TIMER)
        else:
            at = max(earliest - ctx.clock_offset_s, ctx.now)
            ctx.timers.set(TIMER, at, lambda now: self.reapply())

    def _transaction_started(self, tx: Transaction) -> None:
        """A TxProfile given with RemoteStartTransaction (§5.11) is installed for the transaction."""
        if tx.tx_profile is None:
            return
        try:
            profile = parse_charging_profile(tx.tx_profile)
        except ProfileError as exc:
            log.warning("ignoring the TxProfile of RemoteStartTransaction: %s", exc)
            return
        status = self._install(tx.connector_id, profile)
        if status != "Accepted":
            log.warning("TxProfile %s of RemoteStartTransaction: %s", profile.charging_profile_id, status)

    def _transaction_ended(self, connector_id: int) -> None:
        for profile_id, item in list(self.installed.items()):
            if item.connector_id == connector_id and item.profile.purpose is ChargingProfilePurpose.TxProfile:
                self._remove(profile_id)
        self.applied.pop(connector_id, None)
        self.reapply()

    # -- SetChargingProfile (§5.16) ---------------------------------------------------------------
    def _set(self, call: Call) -> dict[str, Any]:
        payload = call.payload
        connector_id = int(payload["connectorId"])
        if not 0 <= connector_id < len(self.ctx.connectors):
            return {"status": "Rejected"}
        try:
            profile = parse_charging_profile(payload["csChargingProfiles"])
        except ProfileError as exc:
            log.info("SetChargingProfile rejected: %s", exc)
            return {"status": "Rejected"}
        status = self._install(connector_id, profile)
        log.info(
            "SetChargingProfile %s on connector %s: %s", profile.charging_profile_id, connector_id, status
        )
        if status == "Accepted":
            self.reapply()
        return {"status": status}

    def _install(self, connector_id: int, profile: ChargingProfile) -> str:
        config = self.ctx.config
        purpose = profile.purpose
        if purpose is ChargingProfilePurpose.ChargePointMaxProfile and connector_id != 0:
            return "Rejected"
        if purpose is ChargingProfilePurpose.TxProfile:
            if connector_id == 0:
                return "Rejected"
            tx = self.ctx.connectors[connector_id].transaction
            if tx is None:
                return "Rejected"
            if (
                profile.transaction_id is not None
                and tx.transaction_id is not None
                and profile.transaction_id != tx.transaction_id
            ):
                return "Rejected"
        if profile.stack_level > config.get_int("ChargeProfileMaxStackLevel"):
            return "Rejected"
        if len(profile.schedule.periods) > config.get_int("ChargingScheduleMaxPeriods"):
            return "Rejected"
        allowed = {
            _UNIT_NAMES[name.strip()]
            for name in config.get("ChargingScheduleAllowedChargingRateUnit").split(",")
            if name.strip() in _UNIT_NAMES
        }
        if profile.schedule.charging_rate_unit not in allowed:
            return "Rejected"
        # §5.16: the same id replaces; the same purpose and stackLevel on the connector replaces.
        replaced = [
            profile_id
            for profile_id, item in self.installed.items()
            if profile_id == profile.charging_profile_id
            or (
                item.connector_id == connector_id
                and item.profile.purpose is purpose
                and item.profile.stack_level == profile.stack_level
            )
        ]
        if len(self.installed) - len(replaced) + 1 > config.get_int("MaxChargingProfilesInstalled"):
            return "Rejected"
        for profile_id in replaced:
            self._remove(profile_id)
        self.installed[profile.charging_profile_id] = InstalledProfile(connector_id, profile)
        self.ctx.persist(
            KIND,
            profile.charging_profile_id,
            {"connectorId": connector_id, "profile": profile_to_wire(profile)},
        )
        return "Accepted"

    def _remove(self, profile_id: int) -> None:
        if self.installed.pop(profile_id, None) is not None:
            self.ctx.persist(KIND, profile_id, None)

    # -- ClearChargingProfile (§5.5) --------------------------------------------------------------
    def _clear(self, call: Call) -> dict[str, Any]:
        payload = call.payload
        profile_id = payload.get("id")
        connector_id = payload.get("connectorId")
        purpose = payload.get("chargingProfilePurpose")
        stack_level = payload.get("stackLevel")

        def matches(item: InstalledProfile) -> bool:
            if profile_id is not None:
                return bool(item.profile.charging_profile_id == profile_id)
            return bool(
                (connector_id is None or item.connector_id == connector_id)
                and (purpose is None or item.profile.purpose.value == purpose)
                and (stack_level is None or item.profile.stack_level == stack_level)
            )

        cleared = [pid for pid, item in self.installed.items() if matches(item)]
        for pid in cleared:
            self._remove(pid)
        if cleared:
            self.reapply()
        return {"status": "Accepted" if cleared else "Unknown"}

    # -- GetCompositeSchedule (§5.7) --------------------------------------------------------------
    def _composite(self, call: Call) -> dict[str, Any]:
        payload = call.payload
        connector_id = int(payload["connectorId"])
        if not 0 <= connector_id < len(self.ctx.connectors):
            return {"status": "Rejected"}
        unit = ChargingRateUnit(payload.get("chargingRateUnit") or "A")
        ids = list(self.ctx.connector_ids())
        rating = (
            self.ctx.settings.spec(connector_id).max_current_a
            if connector_id > 0
            else max((self.ctx.settings.spec(c).max_current_a for c in ids), default=0.0)
        )
        default_limit = rating if unit is ChargingRateUnit.A else amps_to_watts(rating)
        schedule = composite_schedule(
            self.installed.values(),
            connector_id,
            self.ctx.ocpp_time(),
            int(payload["duration"]),
            unit,
            connectors={c: self._context(c) for c in ids},
            default_limit=default_limit,
        )
        return {
            "status": "Accepted",
            "connectorId": connector_id,
            "scheduleStart": self.ctx.timestamp(),
            "chargingSchedule": schedule,
        }
