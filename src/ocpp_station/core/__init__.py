"""The sans-I/O OCPP 1.6 charge-point engine: events in, effects and the next deadline out.

Nothing in this package performs I/O or reads a clock: every entry point takes ``now`` (POSIX seconds,
float) and returns effects for the shell to carry out (``ocpp_station.transport``).
"""

from ocpp_station.core.engine import Engine
from ocpp_station.core.settings import EngineSettings

__all__ = ["Engine", "EngineSettings"]
