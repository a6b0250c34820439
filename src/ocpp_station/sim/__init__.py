"""Simulation: a development Central System (:mod:`ocpp_station.sim.csms`), fleets and scenarios."""
