"""A simulated EVSE with simulated EVs: enough physics for realistic sessions.

The EV draws ``min(its maximum, the offered limit)`` per phase once the EVSE energizes and the EV is
ready; the meter integrates energy over time; the EV stops drawing (SuspendedEV) when its battery
reaches the target state of charge, or on command, and resumes on command. Time comes from the
``clock`` given at construction, so tests can drive it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ocpp_station.core.events import (
    CablePlugged,
    CableRemoved,
    CableUnplugged,
    EVReadyChanged,
    FaultCleared,
    FaultRaised,
    IdTagPresented,
    MeterReading,
)
from ocpp_station.core.settings import ConnectorSpec
from ocpp_station.hardware.firmware import verify_and_install
from ocpp_station.hardware.interface import EventSink

log = logging.getLogger("ocpp_station.hardware")

#: Schedules a callback after a delay in seconds; returns a cancel function.
Scheduler = Callable[[float, Callable[[], None]], Callable[[], None]]


@dataclass(frozen=True, slots=True)
class EVParams:
    """A simulated electric vehicle, and the simulated charger's own switches (the config file's
    ``ev`` section configures the whole simulator)."""

    max_current_a: float = 32.0
    phases: int = 3
    battery_wh: float = 60_000.0
    soc_percent: float = 20.0
    target_soc_percent: float = 100.0
    #: Whether the EV reports its state of charge (SoC measurand).
    reports_soc: bool = True
    #: The charger, not the EV: install only valid images of :mod:`ocpp_station.hardware.firmware`
    #: (False: any downloaded file installs). Read from the station's default EV only.
    strict_firmware: bool = False

    @classmethod
    def from_dict(cls, data: dict[str, Any], base: EVParams | None = None) -> EVParams:
        """The EV's own parameters from the JSON names used by the config file and the control API;
        raises ValueError. (``strict_firmware`` is the config file's ``ev.strictFirmware``, read
        by :func:`ocpp_station.config.station.parse_config`, not an EV's.)"""
        names = {
            "maxCurrent": "max_current_a",
            "phases": "phases",
            "batteryCapacityWh": "battery_wh",
            "soc": "soc_percent",
            "targetSoc": "target_soc_percent",
            "reportsSoc": "reports_soc",
        }
        unknown = set(data) - set(names)
        if unknown:
            raise ValueError(f"unknown EV field(s): {', '.join(sorted(unknown))}")
        values: dict[str, Any] = {}
        for key, attr in names.items():
            if key not in data:
                continue
            value = data[key]
            if attr == "reports_soc":
                if not isinstance(value, bool):
                    raise ValueError(f"{key} must be true or false")
            elif isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{key} must be a number")
            values[attr] = value
        params = replace(base or cls(), **values)
        if params.max_current_a <= 0:
            raise ValueError("maxCurrent must be > 0")
        if params.phases not in (1, 2, 3):
            raise ValueError("phases must be 1, 2 or 3")
        if params.battery_wh <= 0:
            raise ValueError("batteryCapacityWh must be > 0")
        if not 0 <= params.soc_percent <= 100 or not 0 <= params.target_soc_percent <= 100:
            raise ValueError("soc and targetSoc must be between 0 and 100")
        return params


@dataclass(slots=True)
class _Connector:
    spec: ConnectorSpec
    energy_wh: float = 0.0
    updated_at: float = 0.0
    ev: EVParams | None = None
    soc: float = 0.0
    ev_wants: bool = True  # the EV's own choice to draw (suspend/resume command, battery full)
    energized: bool = False
    limit_a: float = 0.0
    locked: bool = False
    lock_fails: bool = False
    #: Socket connectors: the driver's cable is still in the socket after the EV side was unplugged.
    cable_left_in: bool = False
    cancel_full: Callable[[], None] | None = field(default=None, repr=False)

    def drawing_phases(self) -> int:
        return 0 if self.ev is None else min(self.ev.phases, self.spec.phases)

    def current_a(self) -> float:
        if self.ev is None or not self.energized or not self.ev_wants:
            return 0.0
        return max(0.0, min(self.ev.max_current_a, self.limit_a))

    def power_w(self) -> float:
        return self.current_a() * self.spec.voltage_v * self.drawing_phases()


class SimulatedHardware:
    """Implements :class:`ocpp_station.hardware.interface.Hardware` with simulated EVs."""

    def __init__(
        self,
        connectors: tuple[ConnectorSpec, ...],
        clock: Callable[[], float],
        scheduler: Scheduler | None = None,
        default_ev: EVParams | None = None,
        registers: dict[int, float] | None = None,
    ) -> None:
        self._clock = clock
        self._schedule = scheduler
        self.default_ev = default_ev or EVParams()
        #: Install only valid images of our format (see :meth:`install_firmware`).
        self.strict_firmware = self.default_ev.strict_firmware
        now = clock()
        self._connectors = {i + 1: _Connector(spec, updated_at=now) for i, spec in enumerate(connectors)}
        for cid, energy in (registers or {}).items():
            if cid in self._connectors:
                self._connectors[cid].energy_wh = energy  # a meter keeps its register
        self._sink: EventSink = lambda event: None

    # -- Hardware interface ------------------------------------------------------------------------
    def attach(self, sink: EventSink) -> None:
        self._sink = sink

    def energize(self, connector_id: int, on: bool) -> None:
        c = self._get(connector_id)
        self._integrate(c)
        c.energized = on
        self._plan_full(connector_id)

    def set_current_limit(self, connector_id: int, limit_a: float) -> None:
        c = self._get(connector_id)
        self._integrate(c)
        c.limit_a = limit_a
        self._plan_full(connector_id)

    def set_lock(self, connector_id: int, locked: bool) -> None:
        if not locked and self._get(connector_id).lock_fails:
            return
        self._get(connector_id).locked = locked
        self._take_cable(connector_id)

    def unlock(self, connector_id: int) -> bool:
        c = self._get(connector_id)
        if c.lock_fails:
            return False
        c.locked = False
        self._take_cable(connector_id)
        return True

    def _take_cable(self, connector_id: int) -> None:
        """The simulated driver takes the cable out of the socket as soon as the lock lets go."""
        c = self._connectors[connector_id]
        if c.cable_left_in and not c.locked:
            c.cable_left_in = False
            self._sink(CableRemoved(connector_id))

    def read_meter(self, connector_id: int) -> MeterReading:
        if connector_id == 0:
            readings = [self.read_meter(cid) for cid in self._connectors]
            return MeterReading(
                energy_wh=sum(r.energy_wh for r in readings), power_w=sum(r.power_w for r in readings)
            )
        c = self._get(connector_id)
        self._integrate(c)
        spec = c.spec
        phases = spec.phases
        drawing = c.drawing_phases()
        current = c.current_a()
        power = current * spec.voltage_v * drawing  # as _Connector.power_w
        if drawing >= phases:
            currents: tuple[float, ...] = (current,) * phases
        else:
            currents = (current,) * drawing + (0.0,) * (phases - drawing)
        ev = c.ev
        return MeterReading(
            energy_wh=c.energy_wh,
            power_w=power,
            current_a=currents,
            voltage_v=(spec.voltage_v,) * phases,
            offered_a=c.limit_a if c.energized else 0.0,
            soc_percent=round(c.soc, 1) if ev is not None and ev.reports_soc else None,
            # A 50 Hz grid; the body warms with the power it passes (25 °C idle, +1 °C per 2 kW).
            temperature_c=round(25.0 + power / 2000.0, 1),
            frequency_hz=50.0,
        )

    def is_plugged(self, connector_id: int) -> bool:
        return self._get(connector_id).ev is not None

    def install_firmware(self, image: Path) -> str:
        """ "Install" the downloaded file and return its version; there is nothing to flash.

        Any non-empty file installs: an image of :mod:`ocpp_station.hardware.firmware` gives the
        version in its header (and fails on a bad checksum), any other file the version in its name
        (:func:`~ocpp_station.hardware.firmware.version_from_name`). With :attr:`strict_firmware`,
        only valid images of that format install. Raises InstallError (InstallationFailed)."""
        return verify_and_install(image, strict=self.strict_firmware)

    def reboot(self, hard: bool) -> bool:
        for cid, c in self._connectors.items():
            self._integrate(c)
            c.energized = False
            c.limit_a = 0.0
            self._plan_full(cid)
        return False

    # -- driving the simulation (control API) -------------------------------------------------------
    def plug(self, connector_id: int, ev: EVParams | None = None) -> None:
        c = self._get(connector_id)
        if c.ev is not None:
            raise ValueError(f"connector {connector_id} already has an EV plugged in")
        self._integrate(c)
        c.ev = ev or self.default_ev
        c.soc = c.ev.soc_percent
        c.ev_wants = c.soc < c.ev.target_soc_percent
        self._sink(CablePlugged(connector_id))
        if not c.ev_wants:
            self._sink(EVReadyChanged(connector_id, False))
        self._plan_full(connector_id)

    def unplug(self, connector_id: int) -> None:
        c = self._get(connector_id)
        if c.ev is None:
            raise ValueError(f"connector {connector_id} has no EV plugged in")
        self._integrate(c)
        c.ev = None
        self._plan_full(connector_id)
        c.cable_left_in = c.spec.kind == "socket"
        self._sink(CableUnplugged(connector_id))
        self._take_cable(connector_id)

    def ev_suspend(self, connector_id: int) -> None:
        self._set_wants(connector_id, False)

    def ev_resume(self, connector_id: int) -> None:
        c = self._get(connector_id)
        if c.ev is not None and c.soc >= c.ev.target_soc_percent:
            raise ValueError(f"the EV on connector {connector_id} is full")
        self._set_wants(connector_id, True)

    def present_id_tag(self, id_tag: str, connector_id: int | None = None) -> None:
        if connector_id is not None:
            self._get(connector_id)
        self._sink(IdTagPresented(id_tag, connector_id))

    def raise_fault(
        self,
        connector_id: int,
        error_code: str,
        info: str | None = None,
        vendor_error_code: str | None = None,
    ) -> None:
        if connector_id != 0:
            self._get(connector_id)
        self._sink(FaultRaised(connector_id, error_code, info, vendor_error_code))

    def clear_fault(self, connector_id: int) -> None:
        if connector_id != 0:
            self._get(connector_id)
        self._sink(FaultCleared(connector_id))

    def set_lock_failure(self, connector_id: int, fails: bool) -> None:
        self._get(connector_id).lock_fails = fails

    # -- physics ---------------------------------------------------------------------------------------
    def _get(self, connector_id: int) -> _Connector:
        try:
            return self._connectors[connector_id]
        except KeyError:
            raise ValueError(f"no connector {connector_id}") from None

    def _integrate(self, c: _Connector) -> None:
        now = self._clock()
        elapsed = max(0.0, now - c.updated_at)
        c.updated_at = now
        if elapsed and c.ev is not None:
            energy = c.power_w() * elapsed / 3600.0
            c.energy_wh += energy
            c.soc = min(100.0, c.soc + 100.0 * energy / c.ev.battery_wh)

    def _set_wants(self, connector_id: int, wants: bool) -> None:
        c = self._get(connector_id)
        if c.ev is None:
            raise ValueError(f"connector {connector_id} has no EV plugged in")
        self._integrate(c)
        if c.ev_wants != wants:
            c.ev_wants = wants
            self._sink(EVReadyChanged(connector_id, wants))
        self._plan_full(connector_id)

    def _plan_full(self, connector_id: int) -> None:
        """Arm one timer for the instant the battery reaches its target (no polling)."""
        c = self._connectors[connector_id]
        if c.cancel_full is not None:
            c.cancel_full()
            c.cancel_full = None
        power = c.power_w()
        if c.ev is None or power <= 0 or self._schedule is None:
            return
        remaining_wh = (c.ev.target_soc_percent - c.soc) / 100.0 * c.ev.battery_wh
        delay = max(0.0, remaining_wh / power * 3600.0)

        def full() -> None:
            c.cancel_full = None
            self._integrate(c)
            if c.ev is not None and c.ev_wants:
                c.soc = max(c.soc, c.ev.target_soc_percent)
                log.info("connector %s: EV battery full", connector_id)
                c.ev_wants = False
                self._sink(EVReadyChanged(connector_id, False))

        c.cancel_full = self._schedule(delay, full)

    def snapshot(self, connector_id: int) -> dict[str, Any]:
        c = self._get(connector_id)
        return {
            "plugged": c.ev is not None,
            "energized": c.energized,
            "limitA": c.limit_a,
            "locked": c.locked,
            "soc": None if c.ev is None else round(c.soc, 1),
        }
