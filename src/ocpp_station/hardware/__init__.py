"""The hardware a charge point drives, as an interface, and a simulated EVSE/EV implementing it."""

from ocpp_station.hardware.interface import Hardware
from ocpp_station.hardware.simulated import EVParams, SimulatedHardware

__all__ = ["EVParams", "Hardware", "SimulatedHardware"]
