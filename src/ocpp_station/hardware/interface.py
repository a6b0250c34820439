"""What the station needs from a real charger: relays, current limit, cable lock, meter, reboot.

A vendor implements :class:`Hardware` (synchronous, fast calls: set a GPIO, read a cached meter
register); inputs from the hardware (cable plugged, card read, EV stopped drawing, fault) go the other
way as engine events through the ``sink`` given to :meth:`Hardware.attach`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from ocpp_station.core.events import Event, MeterReading

EventSink = Callable[[Event], None]


class Hardware(Protocol):
    def attach(self, sink: EventSink) -> None:
        """Where to report hardware events (CablePlugged, IdTagPresented, EVReadyChanged, faults; a
        tamper sensor: ``SecurityEventObserved("TamperDetectionActivated", detail)``, security
        whitepaper §8)."""

    def energize(self, connector_id: int, on: bool) -> None:
        """Close or open the connector's contactor."""

    def set_current_limit(self, connector_id: int, limit_a: float) -> None:
        """The current the EVSE offers per phase (control pilot duty cycle)."""

    def set_lock(self, connector_id: int, locked: bool) -> None:
        """Drive the socket's cable lock."""

    def unlock(self, connector_id: int) -> bool:
        """Try to release the cable lock now; True if it is open afterwards (UnlockConnector)."""

    def read_meter(self, connector_id: int) -> MeterReading:
        """The connector's meter now (connector 0: the main meter)."""

    def is_plugged(self, connector_id: int) -> bool:
        """Whether a cable is plugged in now (read after a reboot)."""

    def install_firmware(self, image: Path) -> str:
        """Verify and install the downloaded firmware image (UpdateFirmware, OCPP 1.6 §5.19); return the
        new firmware version (the next BootNotification's firmwareVersion). The image of a signed update
        (SignedUpdateFirmware, security whitepaper L01) reaches this call only after the shell checked its
        signature against the signing certificate, just before the call (L01.FR.04, L01.FR.12). Raise any exception with a
        readable message when the image is invalid or the installation fails (InstallationFailed).
        Called in a worker thread: it may block."""

    def reboot(self, hard: bool) -> bool:
        """Reboot the charger. Return False when the caller should restart the station in-process
        (the simulator); a real charger does not return."""
