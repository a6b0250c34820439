"""BootNotification and Heartbeat (OCPP 1.6 §4.2, §4.6) and the OCPP clock.

The pre-boot gate itself (nothing but BootNotification before Accepted) lives in
the message policy (``ocpp_station.core.policy``, ``before_accepted``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from ocpp_station.core.context import Context, log
from ocpp_station.core.effects import SetSystemClock
from ocpp_station.core.features.base import ConfigHook, Feature, Trigger, on_failure, on_result
from ocpp_station.core.rpc import OutgoingCall
from ocpp_station.wire.messages import (
    BootNotificationRequest,
    BootNotificationResponse,
    HeartbeatRequest,
    HeartbeatResponse,
    RegistrationStatus,
    TriggerMessageStatus,
)

#: The station's identity (EngineSettings.identity, by wire name) -> BootNotification.req attribute.
_BOOT_FIELDS = {
    "chargePointVendor": "charge_point_vendor",
    "chargePointModel": "charge_point_model",
    "chargePointSerialNumber": "charge_point_serial_number",
    "chargeBoxSerialNumber": "charge_box_serial_number",
    "firmwareVersion": "firmware_version",
    "iccid": "iccid",
    "imsi": "imsi",
    "meterType": "meter_type",
    "meterSerialNumber": "meter_serial_number",
}


class Registration(Feature):
    """Boot, registration status, heartbeat and clock synchronisation."""

    __slots__ = (
        "_boot_queued",
        "_on_accepted",
        "_on_clock_corrected",
        "_retry_until",
        "_stored_offset_s",
        "ctx",
        "synced",
    )

    def __init__(
        self,
        ctx: Context,
        on_accepted: Callable[[], None],
        on_clock_corrected: Callable[[float], None] = lambda jump_s: None,
    ) -> None:
        self.ctx = ctx
        self._on_accepted = on_accepted
        self._on_clock_corrected = on_clock_corrected
        #: True once this run knows the CSMS time (a BootNotification or Heartbeat answer).
        self.synced = False
        self._boot_queued = False
        self._retry_until = 0.0
        self._stored_offset_s = ctx.wall_offset()

    # -- BootNotification (§4.2) ------------------------------------------------------------
    def boot_request(self) -> BootNotificationRequest:
        identity = dict(self.ctx.settings.identity)
        if self.ctx.firmware_version is not None:
            identity["firmwareVersion"] = self.ctx.firmware_version  # installed by UpdateFirmware
        values = {
            attribute: str(identity[name]) for name, attribute in _BOOT_FIELDS.items() if identity.get(name)
        }
        return BootNotificationRequest(**values)

    def on_connected(self) -> None:
        if self.ctx.accepted:
            self.schedule_heartbeat()
            return
        if self.ctx.now >= self._retry_until:
            self.send_boot()

    def send_boot(self) -> None:
        """Queue a BootNotification.req unless one is queued or in flight (TriggerMessage uses it too)."""
        if self._boot_queued:
            return
        self._boot_queued = True
        self.ctx.call(self.boot_request(), front=True)

    @on_result(BootNotificationRequest)
    def _boot_result(self, call: OutgoingCall, response: BootNotificationResponse) -> None:
        self._boot_queued = False
        status = response.status
        interval = response.interval
        self._sync_clock(response.current_time)
        self.ctx.registration = status
        if status is RegistrationStatus.Accepted:
            if interval > 0:
                self.ctx.config.set("HeartbeatInterval", str(interval))
            self.ctx.timers.cancel("boot-retry")
            self.schedule_heartbeat()
            self._on_accepted()
            return
        wait = interval if interval > 0 else self.ctx.settings.boot_retry_s
        self._retry_until = self.ctx.now + wait
        self.ctx.timers.set("boot-retry", self._retry_until, self._retry)
        log.info("BootNotification %s; next attempt in %s s", status, wait)

    @on_failure(BootNotificationRequest)
    def _boot_failed(self, call: OutgoingCall, reason: str) -> None:
        self._boot_queued = False
        wait = self.ctx.settings.boot_retry_s
        self._retry_until = self.ctx.now + wait
        self.ctx.timers.set("boot-retry", self._retry_until, self._retry)
        log.warning("BootNotification failed (%s); retrying in %s s", reason, wait)

    def _retry(self, now: float) -> None:
        if self.ctx.connected and not self.ctx.accepted:
            self.send_boot()

    # -- declarations (core.features.base) -----------------------------------------------------------
    def triggers(self) -> Mapping[str, Trigger]:
        return {"BootNotification": self._trigger_boot, "Heartbeat": self._trigger_heartbeat}

    def config_hooks(self) -> Mapping[str, ConfigHook]:
        return {"HeartbeatInterval": self.schedule_heartbeat}

    def _trigger_boot(self, connector_id: int | None) -> Callable[[], None] | str:
        """TriggerMessage BootNotification: only while not Accepted (§4.2 allows it while Pending);
        once Accepted it is Rejected (errata 3.35 RECOMMENDED, 3.40); it does not reset the registration."""
        return TriggerMessageStatus.Rejected if self.ctx.accepted else self.send_boot

    def _trigger_heartbeat(self, connector_id: int | None) -> Callable[[], None] | str:
        def send() -> None:
            # One already waiting to go out complies with the request (§5.17).
            if not any(queued.action == "Heartbeat" for queued in self.ctx.outbox):
                self.ctx.call(HeartbeatRequest())

        return send

    # -- Heartbeat (§4.6) ---------------------------------------------------------------------
    def schedule_heartbeat(self) -> None:
        """(Re)arm the heartbeat: every HeartbeatInterval seconds while Accepted (§4.6, §9.1.10).

        §4.6 allows skipping a heartbeat when other PDUs went out; we do not, so the central system
        sees a regular beat and the clock is resynchronised even during long sessions.
        """
        interval = self.ctx.config.get_int("HeartbeatInterval")
        if interval <= 0 or not self.ctx.accepted:
            self.ctx.timers.cancel("heartbeat")
            return
        self.ctx.timers.set("heartbeat", self.ctx.now + interval, self._heartbeat_due)

    def _heartbeat_due(self, now: float) -> None:
        if self.ctx.connected and self.ctx.accepted:
            if not any(call.action == "Heartbeat" for call in self.ctx.outbox):
                self.ctx.call(HeartbeatRequest())
        self.schedule_heartbeat()

    @on_result(HeartbeatRequest)
    def _heartbeat_result(self, call: OutgoingCall, response: HeartbeatResponse) -> None:
        self._sync_clock(response.current_time)

    def restored_clock(self, offset_s: float) -> None:
        self._stored_offset_s = offset_s

    def _sync_clock(self, csms_now: float) -> None:
        """Follow the CSMS's ``currentTime`` (§4.2 BootNotification, §4.6 Heartbeat: the charge point
        synchronises its clock with the Central System's).

        The CSMS stamped its time somewhere between our CALL going out and its answer arriving, and
        truncated it to its precision (whole seconds for many, ``...T10:00:00Z``: a time without a
        fraction is taken as one). Our clock agrees with it when the stamp lies in that interval,
        widened by the precision; how far it lies outside is the deviation. Within a second of
        agreement the clock moves by the deviation only (usually not at all): adopting the stamp as
        the time of arrival would move the clock back by the truncated fraction plus the round trip
        at every answer and forward again at the next, which under a loaded CSMS (or at a second's
        boundary with two clocks a millisecond apart) passes a second and counts as a clock change:
        a SecurityEventNotification SettingSystemTime and every clock-bound timer re-armed, hundreds of
        times a day in a fleet. Beyond a second the clock is wrong: it takes the CSMS's time as of its
        answer, as it always did, and the change is announced."""
        ctx = self.ctx
        precision = 1.0 if csms_now == int(csms_now) else 0.001
        ours_now = ctx.now + ctx.clock_offset_s
        ours_sent = min(ctx.answered_sent_at, ctx.now) + ctx.clock_offset_s
        if csms_now > ours_now:
            deviation = csms_now - ours_now  # behind: stamped after our clock's now
        elif csms_now + precision <= ours_sent:
            deviation = csms_now + precision - ours_sent  # ahead: stamped before our CALL left
        else:
            deviation = 0.0
        jump = csms_now - ours_now if abs(deviation) > 1.0 else deviation
        offset = ctx.clock_offset_s + jump
        if not self.synced and abs(jump) > 1.0:
            # The first sync of this run corrects what was stamped with the unsynced clock and is
            # still unsent (a transaction started before BootNotification was answered).
            self._on_clock_corrected(jump)
        self.synced = True
        self.ctx.clock_offset_s = offset
        self.store_offset()
        if self.ctx.settings.set_system_clock:
            self.ctx.emit(SetSystemClock(self.ctx.now + offset))
        if abs(jump) > 1.0:
            self.announce_clock_change()

    def store_offset(self) -> None:
        """Keep the OCPP clock's offset from the wall clock across restarts (when it moved by more
        than a second): what is stamped offline after a restart stays on the CSMS clock."""
        offset = self.ctx.wall_offset()
        if abs(offset - self._stored_offset_s) > 1.0:
            self.ctx.persist("station", "clock", {"offsetS": offset})
            self._stored_offset_s = offset

    def announce_clock_change(self) -> None:
        """The OCPP clock moved (a clock sync by more than a second, a wall-clock jump before the
        first sync): what runs on it (charging schedules, clock-aligned data, retrieveDate) re-arms
        its timers, told the fact ``clock_changed``."""
        self.ctx.tell("clock_changed")
