"""The simulated EVSE/EV: draw = min(EV max, offered limit), energy integrates, battery full."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from ocpp_station.core.events import (
    CablePlugged,
    CableRemoved,
    CableUnplugged,
    Event,
    EVReadyChanged,
    IdTagPresented,
)
from ocpp_station.core.settings import ConnectorSpec
from ocpp_station.hardware.firmware import InstallError, make_image
from ocpp_station.hardware.simulated import EVParams, SimulatedHardware


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.timers: list[tuple[float, Callable[[], None]]] = []

    def __call__(self) -> float:
        return self.now

    def schedule(self, delay: float, fn: Callable[[], None]) -> Callable[[], None]:
        entry = (self.now + delay, fn)
        self.timers.append(entry)
        return lambda: self.timers.remove(entry) if entry in self.timers else None

    def advance(self, seconds: float) -> None:
        end = self.now + seconds
        while True:
            due = sorted((t for t in self.timers if t[0] <= end), key=lambda t: t[0])
            if not due:
                break
            self.timers.remove(due[0])
            self.now = due[0][0]
            due[0][1]()
        self.now = end


def make(ev: EVParams | None = None) -> tuple[SimulatedHardware, Clock, list[Event]]:
    clock = Clock()
    events: list[Event] = []
    hw = SimulatedHardware((ConnectorSpec(max_current_a=32, phases=3),), clock, clock.schedule, ev)
    hw.attach(events.append)
    return hw, clock, events


def test_ev_draws_min_of_its_max_and_the_limit() -> None:
    hw, clock, events = make(EVParams(max_current_a=16, phases=3))
    hw.plug(1)
    assert events == [CablePlugged(1)]
    assert hw.read_meter(1).power_w == 0
    hw.set_current_limit(1, 32)
    hw.energize(1, True)
    assert hw.read_meter(1).power_w == pytest.approx(16 * 230 * 3)
    hw.set_current_limit(1, 10)
    assert hw.read_meter(1).current_a == (10, 10, 10)
    clock.advance(3600)
    assert hw.read_meter(1).energy_wh == pytest.approx(10 * 230 * 3, rel=1e-6)


def test_single_phase_ev_on_three_phase_connector() -> None:
    hw, _, _ = make(EVParams(max_current_a=32, phases=1))
    hw.plug(1)
    hw.set_current_limit(1, 32)
    hw.energize(1, True)
    assert hw.read_meter(1).current_a == (32, 0, 0)


def test_battery_full_suspends_the_ev_without_polling() -> None:
    hw, clock, events = make(
        EVParams(max_current_a=16, phases=3, battery_wh=11040, soc_percent=50, target_soc_percent=100)
    )
    hw.plug(1)
    hw.set_current_limit(1, 16)
    hw.energize(1, True)
    assert len(clock.timers) == 1  # one timer for the instant the battery fills
    clock.advance(2 * 3600)
    assert EVReadyChanged(1, False) in events
    reading = hw.read_meter(1)
    assert reading.power_w == 0
    assert reading.soc_percent == 100
    assert reading.energy_wh == pytest.approx(5520, rel=1e-3)


def test_suspend_resume_unplug_and_errors() -> None:
    hw, _, events = make()
    with pytest.raises(ValueError, match="no EV"):
        hw.unplug(1)
    with pytest.raises(ValueError, match="no connector 9"):
        hw.plug(9)
    hw.plug(1)
    with pytest.raises(ValueError, match="already"):
        hw.plug(1)
    hw.ev_suspend(1)
    hw.ev_resume(1)
    hw.present_id_tag("CARD")
    hw.unplug(1)
    assert events == [
        CablePlugged(1),
        EVReadyChanged(1, False),
        EVReadyChanged(1, True),
        IdTagPresented("CARD"),
        CableUnplugged(1),
        CableRemoved(1),  # the socket is not locked: the simulated driver takes the cable
    ]


def test_a_locked_socket_keeps_the_cable_until_unlocked() -> None:
    hw, _, events = make()
    hw.plug(1)
    hw.set_lock(1, True)
    hw.unplug(1)
    assert events[-1] == CableUnplugged(1)
    hw.set_lock_failure(1, True)
    hw.set_lock(1, False)
    assert events[-1] == CableUnplugged(1)
    hw.set_lock_failure(1, False)
    assert hw.unlock(1) is True
    assert events[-1] == CableRemoved(1)


def test_lock_and_failing_unlock() -> None:
    hw, _, _ = make()
    hw.set_lock(1, True)
    assert hw.unlock(1) is True
    hw.set_lock_failure(1, True)
    assert hw.unlock(1) is False


def test_ev_params_from_dict() -> None:
    assert EVParams.from_dict({"maxCurrent": 10, "soc": 80}).max_current_a == 10
    with pytest.raises(ValueError, match="unknown EV field"):
        EVParams.from_dict({"speed": 1})
    with pytest.raises(ValueError, match="must be a number"):
        EVParams.from_dict({"maxCurrent": "fast"})


def test_simulator_installs_a_foreign_firmware_file_by_default(tmp_path: Path) -> None:
    hw, _, _ = make()
    image = tmp_path / "vendor-fw-3.1.0.bin"
    image.write_bytes(b"\x7fELF" + bytes(range(256)))
    assert hw.strict_firmware is False
    assert hw.install_firmware(image) == "3.1.0"


def test_simulator_rejects_our_image_with_a_bad_checksum(tmp_path: Path) -> None:
    hw, _, _ = make()
    image = tmp_path / "fw-2.0.0.img"
    data = bytearray(make_image("2.0.0", b"firmware"))
    data[len(b"OCPP-STATION-FIRMWARE v2.0.0\n")] ^= 0x01  # payload changed, digest kept
    image.write_bytes(bytes(data))
    with pytest.raises(InstallError, match="checksum mismatch"):
        hw.install_firmware(image)


def test_strict_firmware_from_the_default_ev_rejects_a_foreign_file(tmp_path: Path) -> None:
    hw, _, _ = make(EVParams(strict_firmware=True))
    foreign = tmp_path / "vendor-fw-3.1.0.bin"
    foreign.write_bytes(b"\x7fELF" + bytes(range(256)))
    with pytest.raises(InstallError, match="bad header"):
        hw.install_firmware(foreign)
    ours = tmp_path / "ours.img"
    ours.write_bytes(make_image("4.0.0", b"firmware"))
    assert hw.install_firmware(ours) == "4.0.0"


def test_strict_firmware_is_not_an_ev_parameter_of_the_control_api() -> None:
    with pytest.raises(ValueError, match="unknown EV field"):
        EVParams.from_dict({"strictFirmware": True})
