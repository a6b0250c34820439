"""A read-only view of the engine's state: what the shell, ``Station.state()``, the diagnostics archive
and the control API may read of a running engine.

The one place in the shell that looks into the engine; everything else asks the view. It holds
nothing but the engine (``Station.view`` makes one on demand, so a station pays nothing for it) and
changes nothing: every member is a read.
"""

from __future__ import annotations

from typing import Any

from ocpp_station.core.engine import Engine
from ocpp_station.core.features.status import derive_status


class EngineView:
    """What the shell reads of ``engine``."""

    __slots__ = ("_engine",)

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @property
    def connected(self) -> bool:
        """The engine holds the link as up (Connected seen, Disconnected not yet)."""
        return self._engine.ctx.connected

    @property
    def registration(self) -> str | None:
        """BootNotification status: None before the first answer, then Pending, Accepted or Rejected
        (OCPP 1.6 §4.2)."""
        return self._engine.ctx.registration

    @property
    def ping_interval_s(self) -> int:
        """WebSocketPingInterval (OCPP 1.6 §9.1.34)."""
        return self._engine.config.get_int("WebSocketPingInterval")

    @property
    def authorization_key(self) -> str:
        """AuthorizationKey (security whitepaper §7.2; "" when not set): for the Basic auth header
        only, never shown (write-only: not in :meth:`readable_config`)."""
        return self._engine.config.get("AuthorizationKey")

    @property
    def security_profile(self) -> int:
        """SecurityProfile in force (security whitepaper §7.6): after a raise, the new one until the
        station falls back (A05.FR.08)."""
        return self._engine.config.get_int("SecurityProfile")

    def csms_root_certificates(self) -> list[str]:
        """The PEM texts of the installed CentralSystemRootCertificates (security whitepaper §2.4, M05):
        what to check the CSMS's server certificate against, the newest first and a fallback last
        (M05.FR.13)."""
        return self._engine.certificates.csms_roots()

    def charge_point_certificate(self) -> tuple[str, str] | None:
        """The ChargePointCertificate in use (security whitepaper A02.FR.08-09, profile 3): its PEM chain
        and the id of its key pair (the shell holds the private key, A02.FR.05); None: none valid."""
        entry = self._engine.station_certificate.in_use()
        return None if entry is None else (entry.chain_pem, entry.key_id)

    def meter_energy_wh(self, connector_id: int) -> float:
        """The energy register of ``connector_id`` as the engine last read it."""
        return self._engine.ctx.meter(connector_id).energy_wh

    def connector_statuses(self) -> list[str]:
        """Each connector's status (1..n) as last reported to the CSMS, without reading a meter: what a
        fleet samples once a second for thousands of stations (:meth:`snapshot` reads every meter)."""
        return [c.reported_status or derive_status(c) for c in self._engine.ctx.connectors[1:]]

    def gauges(self) -> tuple[bool, bool, list[str], int]:
        """What a fleet samples of each station once a second, in one call: connected, registration
        Accepted, :meth:`connector_statuses`, :attr:`queue_length`."""
        ctx = self._engine.ctx
        return ctx.connected, ctx.registration == "Accepted", self.connector_statuses(), self.queue_length

    @property
    def queue_length(self) -> int:
        """Queued CALLs of ours, the one in flight included (``snapshot()["queue"]``)."""
        outbox = self._engine.outbox
        return len(outbox) + (outbox.in_flight is not None)

    def snapshot(self) -> dict[str, Any]:
        """Connection, registration, every connector (0 included), queue length, firmware (a fresh
        dict: the caller may add to it)."""
        return self._engine.snapshot()

    def readable_config(self) -> dict[str, str]:
        """The configuration keys GetConfiguration may show (write-only keys left out)."""
        return {key.name: value for key, value in self._engine.config.items() if key.access != "W"}

    def configuration(self) -> list[dict[str, Any]]:
        """The readable keys as the dashboard shows them: value, whether the CSMS may change it
        (``readonly``, as GetConfiguration says), whether a change needs a reboot, its unit and doc."""
        config = self._engine.config
        return [
            {
                "key": key.name,
                "value": value,
                "readonly": config.is_readonly(key),
                "rebootRequired": key.reboot_required,
                "unit": key.unit,
                "doc": key.doc,
            }
            for key, value in config.items()
            if key.access != "W"
        ]

    def current_limit_a(self, connector_id: int) -> float | None:
        """The amperes smart charging last applied to ``connector_id`` (the composite limit in force,
        OCPP 1.6 §3.13, or the connector's rating when no profile limits it); None while the
        connector is not energized."""
        return self._engine.smart_charging.applied.get(connector_id)

    def queue_summary(self) -> dict[str, Any]:
        """The message queue: its length, count per action and the CALL in flight."""
        outbox = self._engine.outbox
        by_action: dict[str, int] = {}
        for call in outbox:
            by_action[call.action] = by_action.get(call.action, 0) + 1
        flight = outbox.in_flight
        return {
            "queued": len(outbox),
            "byAction": by_action,
            "inFlight": None if flight is None else flight.call.action,
            "connected": self.connected,
            "registration": self.registration,
        }
