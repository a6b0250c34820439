"""ocpp-station: a complete OCPP 1.6J charge point (embedded stack and fleet simulator)."""

__version__ = "0.1.0"
