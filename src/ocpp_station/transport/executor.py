"""The effect executor: carries out what the engine decided, in order, and nothing else.

One table maps each effect type to what the shell does for it: send a frame, drive the hardware,
write the store, start a transfer, resolve a CALL of ours, reboot. The records an engine step asks to
persist are committed in one store transaction before any frame of that step goes out (stored before
sent, issue #8): a frame never announces what a crash could still lose. A failing store is reported
(``storage_error``), its writes kept and retried with the next step; a store that is full (disk full,
SQLITE_FULL) is also the security event MemoryExhaustion (whitepaper §8), once until it works again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ocpp_station.core import effects as fx
from ocpp_station.core.events import LogUploaded, UnlockCompleted
from ocpp_station.storage import StoreError
from ocpp_station.storage.base import Op, StoreFull
from ocpp_station.transport.api import CallFailed

if TYPE_CHECKING:
    from ocpp_station.transport.station import Station

log = logging.getLogger("ocpp_station.station")


class EffectExecutor:
    """Runs one station's effects (:meth:`execute`) and owns its pending store writes."""

    __slots__ = ("_station", "pending_ops", "storage_error")

    def __init__(self, station: Station) -> None:
        self._station = station
        #: Writes of the current step, committed by :meth:`flush`.
        self.pending_ops: list[Op] = []
        #: The last store failure while writes wait to be retried; None when the store works.
        self.storage_error: str | None = None

    def execute(self, effects: list[fx.Effect]) -> None:
        handlers = _HANDLERS
        for effect in effects:
            handler = handlers.get(type(effect))
            if handler is None:
                log.error("no handler for effect %r", effect)
                continue
            handler(self, effect)
        if self.pending_ops:
            self.flush()

    def flush(self) -> None:
        """Commit the stored records of this step in one transaction: before any frame they guard
        goes out (stored before sent). A failing store is reported, the writes kept and retried."""
        if not self.pending_ops:
            return
        try:
            self._station.store.apply(self.pending_ops)
        except StoreError as exc:
            first = self.storage_error is None
            if first:
                log.error("%s; keeping %s writes in memory and retrying", exc, len(self.pending_ops))
            self.storage_error = str(exc)
            if first and isinstance(exc, StoreFull):
                self._station.storage_full(str(exc))
            return
        if self.storage_error is not None:
            log.warning("the store works again; %s writes caught up", len(self.pending_ops))
            self.storage_error = None
        self.pending_ops.clear()

    # -- one handler per effect --------------------------------------------------------------------------
    def _send(self, effect: fx.SendFrame) -> None:
        if self.pending_ops:
            self.flush()
        station = self._station
        data = effect.data
        if station.link.ws is None:
            log.warning("not connected: frame dropped %s", data[:80])
            return
        station.log.frame(True, data)
        frame_logger = station.frame_logger
        if frame_logger is not None:
            frame_logger(station.config.charge_point_id, True, data)
        station.link.send(data)

    def _persist(self, effect: fx.Persist) -> None:
        self.pending_ops.append(("put", effect.kind, effect.key, effect.value))
        if effect.kind == "transactions" and effect.value is not None:
            # The meter registers are hardware state a real meter keeps; the simulator's live here,
            # stored with the transaction that moves them (the reading the engine took in this step).
            cid = int(effect.value["connectorId"])
            energy = self._station.view.meter_energy_wh(cid)
            self.pending_ops.append(("put", "meters", str(cid), {"energyWh": energy}))

    def _persist_clear(self, effect: fx.PersistClear) -> None:
        self.pending_ops.append(("clear", effect.kind, "", None))

    def _unlock(self, effect: fx.UnlockConnector) -> None:
        station = self._station
        unlocked = station.hardware.unlock(effect.connector_id)
        station.feed(UnlockCompleted(effect.connector_id, unlocked))

    def _reboot(self, effect: fx.Reboot) -> None:
        log.info("%s reset: restarting the station", "hard" if effect.hard else "soft")
        self._station.restart_soon(effect.hard)

    def _set_clock(self, effect: fx.SetSystemClock) -> None:
        try:
            time.clock_settime(time.CLOCK_REALTIME, effect.epoch_s)
        except (PermissionError, OSError) as exc:
            log.warning("cannot set the system clock: %s", exc)

    def _set_ping(self, effect: fx.SetPingInterval) -> None:
        self._station.link.set_ping_interval(effect.interval_s)

    def _store_config(self, effect: fx.StoreConfigValue) -> None:
        # With the step's other writes, in one transaction: a failing store keeps it and retries
        # like every other write (issue #9: one path for every write).
        self.pending_ops.append(("config", "", effect.name, effect.value))

    def _store_availability(self, effect: fx.StoreAvailability) -> None:
        self.pending_ops.append(("availability", "", str(effect.connector_id), effect.operative))

    def _completed(self, effect: fx.CallCompleted) -> None:
        calls = self._station.calls
        future: asyncio.Future[dict[str, Any]] | None = None if calls is None else calls.pop(effect.ref, None)
        if future is None or future.done():
            return
        if effect.result is not None:
            future.set_result(effect.result)
        else:
            future.set_exception(CallFailed(effect.error or "Error", effect.error_description))

    def _reconnect(self, effect: fx.Reconnect) -> None:
        self.flush()  # the new key or profile is stored before the link uses it
        self._station.link.reconnect(effect.reason)

    def _energize(self, effect: fx.Energize) -> None:
        self._station.hardware.energize(effect.connector_id, effect.on)

    def _limit(self, effect: fx.ApplyChargingLimit) -> None:
        self._station.hardware.set_current_limit(effect.connector_id, effect.limit_a)

    def _lock(self, effect: fx.LockConnector) -> None:
        self._station.hardware.set_lock(effect.connector_id, effect.locked)

    def _download(self, effect: fx.DownloadFirmware) -> None:
        self._station.transfers.download_firmware(effect)

    def _install(self, effect: fx.InstallFirmware) -> None:
        self._station.transfers.install_firmware(effect)

    def _verify(self, effect: fx.VerifyFirmware) -> None:
        self._station.transfers.verify_firmware(effect)

    def _generate_key_pair(self, effect: fx.GenerateKeyPair) -> None:
        """A new key pair and CSR for the ChargePointCertificate (security whitepaper A02, A03), made
        in a thread (transport/keys.py); KeyPairGenerated follows."""
        self._station.generate_key_pair(effect.job, effect.organization, effect.common_name)

    def _forget_key(self, effect: fx.ForgetKey) -> None:
        """A private key no certificate uses any more: gone from memory and the data directory."""
        self._station.keys.forget(effect.key_id)

    def _upload(self, effect: fx.UploadDiagnostics) -> None:
        self._station.transfers.upload_diagnostics(effect)

    def _upload_log(self, effect: fx.UploadLog) -> None:
        """GetLog (security whitepaper N01): the SecurityLog is read from the store, after this step's
        writes (the entries logged up to now)."""
        station = self._station
        entries: list[dict[str, Any]] = []
        if effect.log_type == "SecurityLog":
            self.flush()
            try:
                records = station.store.load("security_log")
            except StoreError as exc:
                log.error("cannot read the security log: %s", exc)
                station.feed(LogUploaded(effect.job, "UploadFailure", str(exc)))
                return
            entries = [dict(records[key]) for key in sorted(records) if key.isdigit()]
        station.transfers.upload_log(effect, entries)


#: Effect type -> what the shell does for it.
_HANDLERS: dict[type, Callable[[EffectExecutor, Any], None]] = {
    fx.SendFrame: EffectExecutor._send,
    fx.Energize: EffectExecutor._energize,
    fx.ApplyChargingLimit: EffectExecutor._limit,
    fx.LockConnector: EffectExecutor._lock,
    fx.UnlockConnector: EffectExecutor._unlock,
    fx.Reboot: EffectExecutor._reboot,
    fx.SetSystemClock: EffectExecutor._set_clock,
    fx.SetPingInterval: EffectExecutor._set_ping,
    fx.StoreConfigValue: EffectExecutor._store_config,
    fx.StoreAvailability: EffectExecutor._store_availability,
    fx.DownloadFirmware: EffectExecutor._download,
    fx.InstallFirmware: EffectExecutor._install,
    fx.VerifyFirmware: EffectExecutor._verify,
    fx.UploadDiagnostics: EffectExecutor._upload,
    fx.GenerateKeyPair: EffectExecutor._generate_key_pair,
    fx.ForgetKey: EffectExecutor._forget_key,
    fx.UploadLog: EffectExecutor._upload_log,
    fx.CallCompleted: EffectExecutor._completed,
    fx.Reconnect: EffectExecutor._reconnect,
    fx.Persist: EffectExecutor._persist,
    fx.PersistClear: EffectExecutor._persist_clear,
}
