"""Smart Charging (OCPP 1.6 §3.13, §5.5 ClearChargingProfile, §5.7 GetCompositeSchedule,
§5.16 SetChargingProfile, §9.4 keys).

The maths is in :mod:`ocpp_station.scheduling` (pure functions of an explicit ``now``); this module
keeps the installed profiles, answers the three CALLs and applies the limit in force to every
connector with an energized transaction: an ``ApplyChargingLimit`` whenever it changes, and ONE timer
(``smart-charging``) at the earliest instant it next changes (never polled).

The CALLs arrive as typed messages (:mod:`ocpp_station.wire.messages`); the profiles are kept in
the model of :mod:`ocpp_station.scheduling`. Stored as records of kind ``charging_profiles``: key the
chargingProfileId -> ``{"connectorId": n, "profile": <wire form>}`` (erratum 3.26: persistent across
reboots; the wire form is :func:`~ocpp_station.scheduling.profile_to_wire`'s). TxProfiles
belong to their transaction and are removed when it ends (§3.13.1), and after a restart when their
transaction was not resumed (:meth:`SmartCharging.drop_orphans`).

Policies:

- Supply: A<->W conversions use the connector's ``ConnectorSpec.voltage_v`` and ``phases`` (and a
  period's ``numberPhases``, §7.14); connector 0 (the whole Charge Point) uses the highest voltage
  and the most phases among its connectors.
- ChargePointMaxProfile shared (§3.13.3): the connectors with an energized transaction share it
  max-min fair (:mod:`ocpp_station.scheduling.sharing`), so the sum of the limits applied never
  exceeds it. Limits are applied rounded down to 0.1 A; within one step, lowered limits are emitted
  before raised ones, so the sum is never exceeded even between two effects.
- GetCompositeSchedule for a connector > 0 with an energized transaction reports its share as
  applied, assuming the connectors drawing now keep drawing (which sessions will start or stop is
  not known in advance); for another connector, its limit capped by the whole
  ChargePointMaxProfile. For connector 0: the sum over the connectors, capped by
  ChargePointMaxProfile and by the Charge Point's hardware maximum (the sum of its connectors'
  maximum currents). Every period carries the numberPhases in force (§7.14; for connector 0 the
  ChargePointMaxProfile's, erratum 3.30).
- Phases: the hardware interface sets a current per phase and cannot switch phases; a profile's
  numberPhases is reported and used for A<->W conversions, not enforced (docs/smart_charging.md).
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from ocpp_station.config.keys import ConfigValues
from ocpp_station.core.context import Context, log
from ocpp_station.core.effects import ApplyChargingLimit
from ocpp_station.core.features.base import Feature, answers
from ocpp_station.core.features.transactions import Transactions
from ocpp_station.core.model import Restored, Transaction
from ocpp_station.scheduling import (
    ChargingProfile,
    ChargingProfilePurpose,
    ChargingRateUnit,
    ConnectorContext,
    InstalledProfile,
    Limit,
    ProfileError,
    composite_schedule,
    convert,
    parse_charging_profile,
    profile_from_wire,
    profile_to_wire,
    round_limit,
    shared_limits,
)
from ocpp_station.wire import messages
from ocpp_station.wire.errors import ErrorCode, OcppError
from ocpp_station.wire.frames import Call
from ocpp_station.wire.messages import (
    ChargingProfileStatus,
    ClearChargingProfileRequest,
    ClearChargingProfileResponse,
    ClearChargingProfileStatus,
    GetCompositeScheduleRequest,
    GetCompositeScheduleResponse,
    GetCompositeScheduleStatus,
    SetChargingProfileRequest,
    SetChargingProfileResponse,
)
from ocpp_station.wire.timestamps import Timestamp

KIND = "charging_profiles"
TIMER = "smart-charging"
_UNIT_NAMES = {"Current": ChargingRateUnit.A, "Power": ChargingRateUnit.W}


def within_key_limits(config: ConfigValues, profile: ChargingProfile) -> bool:
    """§9.4: stackLevel at most ChargeProfileMaxStackLevel, at most ChargingScheduleMaxPeriods
    periods, a unit ChargingScheduleAllowedChargingRateUnit lists."""
    allowed = {
        _UNIT_NAMES[name.strip()]
        for name in config.get("ChargingScheduleAllowedChargingRateUnit").split(",")
        if name.strip() in _UNIT_NAMES
    }
    return (
        profile.stack_level <= config.get_int("ChargeProfileMaxStackLevel")
        and len(profile.schedule.periods) <= config.get_int("ChargingScheduleMaxPeriods")
        and profile.schedule.charging_rate_unit in allowed
    )


def usable_tx_profile(config: ConfigValues, charging_profile: messages.ChargingProfile) -> bool:
    """Whether the ``chargingProfile`` of a RemoteStartTransaction.req may be taken (§5.11 with
    erratum 3.41): its purpose SHALL be TxProfile and transactionId SHALL NOT be set; and it must be
    a profile the Charge Point can execute (§7.8, §9.4 limits). The transaction installs it when it
    starts (:meth:`SmartCharging.install_tx_profile` reads ``Transaction.tx_profile``)."""
    try:
        profile = parse_charging_profile(charging_profile)
    except ProfileError:
        return False
    return (
        profile.purpose is ChargingProfilePurpose.TxProfile
        and profile.transaction_id is None
        and within_key_limits(config, profile)
    )


class SmartCharging(Feature):
    __slots__ = ("applied", "ctx", "installed", "transactions")
    PROFILE = "SmartCharging"

    def __init__(self, ctx: Context, transactions: Transactions) -> None:
        self.ctx = ctx
        self.transactions = transactions
        #: Installed profiles by chargingProfileId.
        self.installed: dict[int, InstalledProfile] = {}
        #: The limit (A) last applied per energized connector.
        self.applied: dict[int, float] = {}

    # -- state ------------------------------------------------------------------------------------
    def restore(self, restored: Restored) -> None:
        """The profiles the store kept (records kind ``charging_profiles``). TxProfiles whose
        transaction did not survive are removed by :meth:`drop_orphans` once Booted has settled the
        restored transactions (the engine calls it then: effects emitted while the engine is being
        built would not reach the store)."""
        records = restored.charging_profiles
        self.installed.clear()
        for key, value in records.items():
            try:
                profile = profile_from_wire(value["profile"])
                connector_id = int(value["connectorId"])
            except (ProfileError, KeyError, TypeError, ValueError) as exc:
                log.warning("dropping stored charging profile %s: %s", key, exc)
                continue
            self.installed[profile.charging_profile_id] = InstalledProfile(connector_id, profile)

    def _may_run(self, item: InstalledProfile) -> bool:
        """Whether a TxProfile still has a transaction: one running on its connector, or one restored
        after a restart that is neither stopped nor settled yet (it may be resumed)."""
        profile = item.profile
        candidates = [tx for tx in self.transactions.open.values() if tx.connector_id == item.connector_id]
        running = self.ctx.connectors[item.connector_id].transaction if item.connector_id > 0 else None
        if running is not None:
            candidates.append(running)
        return any(
            not tx.stopping
            and (
                profile.transaction_id is None
                or tx.transaction_id is None
                or tx.transaction_id == profile.transaction_id
            )
            for tx in candidates
        )

    def drop_orphans(self) -> None:
        """Remove every TxProfile whose transaction has ended (§3.13.1: it ceases to be valid when the
        transaction terminates), e.g. one stopped with reason PowerLoss after a restart, so that it
        no longer counts toward MaxChargingProfilesInstalled."""
        for profile_id, item in list(self.installed.items()):
            if item.profile.purpose is ChargingProfilePurpose.TxProfile and not self._may_run(item):
                log.info("removing TxProfile %s: its transaction has ended", profile_id)
                self._remove(profile_id)

    def _spec_limit(self, connector_id: int, unit: ChargingRateUnit) -> Limit:
        """The connector's hardware maximum in ``unit`` on its own supply."""
        spec = self.ctx.settings.spec(connector_id)
        amps = Limit(spec.max_current_a, ChargingRateUnit.A)
        return convert(amps, unit, voltage_v=spec.voltage_v, phases=spec.phases)

    def _context(self, connector_id: int) -> ConnectorContext:
        tx = self.ctx.connectors[connector_id].transaction
        spec = self.ctx.settings.spec(connector_id)
        return ConnectorContext(
            tx_start=None if tx is None else tx.started_at,
            transaction_id=None if tx is None else tx.transaction_id,
            hardware_max=self._spec_limit(connector_id, ChargingRateUnit.A),
            voltage_v=spec.voltage_v,
            phases=spec.phases,
        )

    def _limits(self) -> tuple[dict[int, float], float | None]:
        """The limit in A for each connector with an energized transaction now (the
        ChargePointMaxProfile shared between them), and when (OCPP clock) any next changes."""
        drawing = {
            c.id: self._context(c.id)
            for c in self.ctx.connectors[1:]
            if c.energized and c.transaction is not None
        }
        limits, nxt = shared_limits(self.installed.values(), drawing, self.ctx.ocpp_time())
        amps = {
            c: round_limit(limits[c].value) if c in limits else self._spec_limit(c, ChargingRateUnit.A).value
            for c in drawing
        }
        return amps, nxt

    # -- applying ---------------------------------------------------------------------------------
    def _limit_on_energize(self, connector_id: int) -> float:
        """The limit for a connector being energized; the others' shares shrink first (§3.13.3)."""
        amps, _ = self._limits()
        self._apply({c: a for c, a in amps.items() if c != connector_id}, lower_only=True)
        limit = amps.get(connector_id, self._spec_limit(connector_id, ChargingRateUnit.A).value)
        self.applied[connector_id] = limit
        self.ctx.after_reply.append(self.reapply)
        return limit

    def _apply(self, amps: dict[int, float], *, lower_only: bool = False) -> None:
        """Emit ApplyChargingLimit where the limit changed, lowered ones before raised ones."""
        changes = sorted(
            (amps[c] - self.applied[c] if c in self.applied else 0.0, c)
            for c in amps
            if self.applied.get(c) != amps[c]
        )
        for delta, c in changes:
            if lower_only and delta >= 0:
                continue
            self.applied[c] = amps[c]
            self.ctx.emit(ApplyChargingLimit(c, amps[c]))

    def clock_changed(self) -> None:
        """Schedules run on the OCPP clock: the limits in force and the next change follow it."""
        self.reapply()

    def reapply(self) -> None:
        """Apply the limit in force to each energized connector; arm the timer at the next change."""
        ctx = self.ctx
        self.drop_orphans()
        amps, earliest = self._limits()
        for c in list(self.applied):
            if c not in amps:
                del self.applied[c]
        self._apply(amps)
        if earliest is None:
            ctx.timers.cancel(TIMER)
        else:
            at = max(earliest - ctx.clock_offset_s, ctx.now)
            ctx.timers.set(TIMER, at, lambda now: self.reapply())

    def install_tx_profile(self, tx: Transaction) -> None:
        """A TxProfile given with RemoteStartTransaction (§5.11) is installed for the transaction
        when it starts (the fact ``transaction_started``). ``tx.tx_profile`` is the request's typed
        ``chargingProfile``, or its wire form (a dict, as the transaction's record keeps it)."""
        given: messages.ChargingProfile | Mapping[str, object] | None = tx.tx_profile
        if given is None:
            return
        try:
            if isinstance(given, messages.ChargingProfile):
                profile = parse_charging_profile(given)
            else:
                profile = profile_from_wire(given, strict=False)
        except ProfileError as exc:
            log.warning("ignoring the TxProfile of RemoteStartTransaction: %s", exc)
            return
        status = self._install(tx.connector_id, profile)
        if status is not ChargingProfileStatus.Accepted:
            log.warning("TxProfile %s of RemoteStartTransaction: %s", profile.charging_profile_id, status)

    # -- facts (core.features.base) ----------------------------------------------------------------
    def current_offer(self, connector_id: int) -> float | None:
        """The amperes a connector being energized is offered: the composite limit (§3.13)."""
        return self._limit_on_energize(connector_id)

    def transaction_started(self, tx: Transaction) -> None:
        self.install_tx_profile(tx)

    def power_switched_off(self, connector_id: int) -> None:
        """A transaction's power went off while it goes on (SuspendedEVSE, §3.5.4): its share of a
        limit goes to the others, once the step's answers are out."""
        self.ctx.after_reply.append(self.reapply)

    def transaction_ended(self, connector_id: int) -> None:
        for profile_id, item in list(self.installed.items()):
            if item.connector_id == connector_id and item.profile.purpose is ChargingProfilePurpose.TxProfile:
                self._remove(profile_id)
        self.applied.pop(connector_id, None)
        self.reapply()

    # -- SetChargingProfile (§5.16) ---------------------------------------------------------------
    @answers(SetChargingProfileRequest)
    def _set(self, request: SetChargingProfileRequest, call: Call) -> SetChargingProfileResponse:
        """§5.16. Erratum 3.39: an unknown connectorId is a CALLERROR PropertyConstraintViolation;
        erratum 3.38: so is an invalid enumeration value in the profile (the schema check refuses it
        before the request gets here, strict or lenient; the parser too, should a request built
        unchecked get here). Any other profile the Charge Point cannot execute is Rejected."""
        connector_id = request.connector_id
        if not 0 <= connector_id < len(self.ctx.connectors):
            raise OcppError(ErrorCode.PropertyConstraintViolation, f"unknown connectorId {connector_id}")
        try:
            profile = parse_charging_profile(request.cs_charging_profiles)
        except ProfileError as exc:
            if exc.error_code is not None:
                raise OcppError(ErrorCode(exc.error_code), f"csChargingProfiles.{exc}") from None
            log.info("SetChargingProfile rejected: %s", exc)
            return SetChargingProfileResponse(status=ChargingProfileStatus.Rejected)
        status = self._install(connector_id, profile)
        log.info(
            "SetChargingProfile %s on connector %s: %s", profile.charging_profile_id, connector_id, status
        )
        if status is ChargingProfileStatus.Accepted:
            self.reapply()
        return SetChargingProfileResponse(status=status)

    def _install(self, connector_id: int, profile: ChargingProfile) -> ChargingProfileStatus:
        config = self.ctx.config
        purpose = profile.purpose
        if purpose is ChargingProfilePurpose.ChargePointMaxProfile and connector_id != 0:
            return ChargingProfileStatus.Rejected
        if purpose is ChargingProfilePurpose.TxProfile:
            if connector_id == 0:
                return ChargingProfileStatus.Rejected
            tx = self.ctx.connectors[connector_id].transaction
            if tx is None:
                return ChargingProfileStatus.Rejected
            if (
                profile.transaction_id is not None
                and tx.transaction_id is not None
                and profile.transaction_id != tx.transaction_id
            ):
                return ChargingProfileStatus.Rejected
        if not within_key_limits(config, profile):
            return ChargingProfileStatus.Rejected
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
        self.drop_orphans()
        replaced = [profile_id for profile_id in replaced if profile_id in self.installed]
        if len(self.installed) - len(replaced) + 1 > config.get_int("MaxChargingProfilesInstalled"):
            return ChargingProfileStatus.Rejected
        for profile_id in replaced:
            self._remove(profile_id)
        self.installed[profile.charging_profile_id] = InstalledProfile(connector_id, profile)
        self.ctx.persist(
            KIND,
            profile.charging_profile_id,
            {"connectorId": connector_id, "profile": profile_to_wire(profile)},
        )
        return ChargingProfileStatus.Accepted

    def _remove(self, profile_id: int) -> None:
        if self.installed.pop(profile_id, None) is not None:
            self.ctx.persist(KIND, profile_id, None)

    # -- ClearChargingProfile (§5.5) --------------------------------------------------------------
    @answers(ClearChargingProfileRequest)
    def _clear(self, request: ClearChargingProfileRequest, call: Call) -> ClearChargingProfileResponse:
        """§5.5: an ``id`` names the one profile to clear (the other criteria are then ignored);
        otherwise every profile matching all the criteria given is cleared (none given: all)."""
        profile_id = request.id
        connector_id = request.connector_id
        purpose = request.charging_profile_purpose
        stack_level = request.stack_level
        unset = msgspec.UNSET

        def matches(item: InstalledProfile) -> bool:
            if profile_id is not unset:
                return item.profile.charging_profile_id == profile_id
            return (
                (connector_id is unset or item.connector_id == connector_id)
                and (purpose is unset or item.profile.purpose is purpose)
                and (stack_level is unset or item.profile.stack_level == stack_level)
            )

        cleared = [pid for pid, item in self.installed.items() if matches(item)]
        for pid in cleared:
            self._remove(pid)
        if cleared:
            self.reapply()
        status = ClearChargingProfileStatus.Accepted if cleared else ClearChargingProfileStatus.Unknown
        return ClearChargingProfileResponse(status=status)

    # -- GetCompositeSchedule (§5.7) --------------------------------------------------------------
    @answers(GetCompositeScheduleRequest)
    def _composite(self, request: GetCompositeScheduleRequest, call: Call) -> GetCompositeScheduleResponse:
        """§5.7 with errata 3.28-3.30 and 3.57 (see :mod:`ocpp_station.scheduling.composite`); an
        unknown connector is Rejected (§5.7). Connector 0 is capped by the Charge Point's hardware
        maximum, the sum of its connectors' maximum currents. Without a chargingRateUnit: A."""
        connector_id = request.connector_id
        if not 0 <= connector_id < len(self.ctx.connectors):
            return GetCompositeScheduleResponse(status=GetCompositeScheduleStatus.Rejected)
        unit = request.charging_rate_unit or ChargingRateUnit.A
        ids = list(self.ctx.connector_ids())
        specs = [self.ctx.settings.spec(c) for c in ids]
        voltage_v = max(spec.voltage_v for spec in specs)
        phases = max(spec.phases for spec in specs)
        if connector_id > 0:
            default_limit = self._spec_limit(connector_id, unit).value
        else:
            default_limit = sum(self._spec_limit(c, unit).value for c in ids)
        now = self.ctx.ocpp_time()
        schedule = composite_schedule(
            self.installed.values(),
            connector_id,
            now,
            request.duration,
            unit,
            connectors={c: self._context(c) for c in ids},
            default_limit=default_limit,
            charge_point_max=Limit(default_limit, unit) if connector_id == 0 else None,
            voltage_v=voltage_v,
            phases=phases,
            drawing=[c.id for c in self.ctx.connectors[1:] if c.energized and c.transaction is not None],
        )
        return GetCompositeScheduleResponse(
            status=GetCompositeScheduleStatus.Accepted,
            connector_id=connector_id,
            schedule_start=Timestamp(now),
            charging_schedule=schedule,
        )
