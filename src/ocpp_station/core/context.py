"""Services the feature modules share: time, timers, the outbox, effects and configuration."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from ocpp_station.config.keys import ConfigValues
from ocpp_station.core.effects import Effect, Persist
from ocpp_station.core.events import MeterReading
from ocpp_station.core.model import Connector, Transaction
from ocpp_station.core.rpc import Outbox, OutgoingCall
from ocpp_station.core.settings import EngineSettings
from ocpp_station.core.timers import Timers
from ocpp_station.wire.messages import REQUEST_ACTIONS, IdTagInfo, OcppStruct, RegistrationStatus

if TYPE_CHECKING:
    from ocpp_station.core.features.base import Feature
    from ocpp_station.core.features.intended_usage import ReservationGate

log = logging.getLogger("ocpp_station.engine")


def _no_reply(message_id: str, action: str, payload: OcppStruct) -> None:
    return None


#: No features yet: no fact is heard, no query answered.
_NO_PLAN: Mapping[str, tuple[int, ...]] = MappingProxyType({})


class Context:
    """Shared by every feature of one engine. Holds no OCPP rules itself."""

    __slots__ = (
        "after_reply",
        "answered_sent_at",
        "clock_offset_s",
        "config",
        "connected",
        "connectors",
        "effects",
        "features",
        "firmware_version",
        "meter_source",
        "meters_read",
        "now",
        "outbox",
        "plan",
        "registration",
        "reply",
        "reservations",
        "settings",
        "timers",
        "triggering",
        "wall_skew",
    )

    def __init__(self, settings: EngineSettings, config: ConfigValues, outbox: Outbox, now: float) -> None:
        self.settings = settings
        self.config = config
        self.outbox = outbox
        self.timers = Timers()
        self.now = now
        self.effects: list[Effect] = []
        #: OCPP clock = now + clock_offset_s (set from BootNotification/Heartbeat currentTime).
        self.clock_offset_s = 0.0
        #: Wall clock - now, as of the last event (the engine watches it for jumps).
        self.wall_skew = 0.0
        #: When the CALL a result handler is answering went out (monotonic, engine time): set by
        #: the RPC pump before the handler runs (a clock sync reads it: the CSMS's time was stamped
        #: between then and now).
        self.answered_sent_at = now
        self.connected = False
        #: None until the CSMS answered BootNotification; then Accepted, Pending or Rejected.
        self.registration: RegistrationStatus | None = None
        self.connectors: list[Connector] = [Connector(i) for i in range(settings.connector_count + 1)]
        #: Set by the engine: sends the CALLRESULT (a typed response) of a deferred incoming CALL.
        self.reply: Callable[[str, str, OcppStruct], None] = _no_reply
        self.after_reply: list[Callable[[], None]] = []
        #: Set by the engine when the Reservation profile is there (§5.13): who may start where.
        self.reservations: ReservationGate | None = None
        #: Set while TriggerMessage queues the message it asked for (OCPP 1.6 §4.2, §5.17).
        self.triggering = False
        #: The firmware version installed by an UpdateFirmware; None: the configured one (§5.19).
        self.firmware_version: str | None = None
        #: Reads a connector's meter when a feature needs it (the shell's hardware); None: the last
        #: reading pushed with a MeterRead event is used (tests).
        self.meter_source: Callable[[int], MeterReading] | None = None
        #: Connectors whose meter was read in this engine step (one reading per step: consistent). A
        #: list: one or two ids, and an empty list costs 56 bytes, an empty set 216 (issue 11).
        self.meters_read: list[int] = []
        #: Set by the engine: every feature, in FEATURE_ORDER (what they declare is gathered from
        #: them when it is needed: TriggerMessage, ChangeConfiguration).
        self.features: tuple[Feature, ...] = ()
        #: Set by the engine: the indices in ``features`` of those that hear each fact and of the one
        #: that answers each query (``core/features/base.py`` FACTS, QUERIES). One plan per make-up,
        #: shared by every station that has it: no bound method per station (issue 11).
        self.plan: Mapping[str, tuple[int, ...]] = _NO_PLAN

    # -- the features' facts and queries (``core/features/base.py``) ------------------------------
    def tell(self, fact: str, *args: Any) -> None:
        """State a domain fact to every feature that declared it, in FEATURE_ORDER."""
        plan = self.plan
        if plan:
            features = self.features
            for index in plan[fact]:
                getattr(features[index], fact)(*args)

    def _answering(self, query: str) -> Feature | None:
        found = self.plan.get(query)
        return self.features[found[0]] if found else None

    def current_offer(self, connector_id: int) -> float | None:
        """The amperes to offer a connector being energized (the feature that declares
        ``current_offer``: Smart Charging), None: the connector's rating."""
        feature = self._answering("current_offer")
        return None if feature is None else feature.current_offer(connector_id)

    def listed(self, id_tag: str) -> IdTagInfo | None:
        """The Local Authorization List's entry for an idTag (§3.5.2), when the
        LocalAuthListManagement profile is there."""
        feature = self._answering("listed")
        return None if feature is None else feature.listed(id_tag)

    def csms_roots(self) -> list[str]:
        """The PEM texts of the installed CentralSystemRootCertificates (the certificate store,
        security whitepaper M03-M05), newest first, a fallback root last."""
        feature = self._answering("csms_roots")
        return [] if feature is None else feature.csms_roots()

    def manufacturer_roots(self) -> list[str]:
        """The installed ManufacturerRootCertificates (PEM texts), which a firmware signing
        certificate must be issued by (security whitepaper L01.FR.23)."""
        feature = self._answering("manufacturer_roots")
        return [] if feature is None else feature.manufacturer_roots()

    def charge_point_certificate(self) -> str | None:
        """The ChargePointCertificate in use (valid at the OCPP time, the newest, security whitepaper
        A02.FR.09) as its PEM chain, None: none (A05.FR.04)."""
        feature = self._answering("charge_point_certificate")
        return None if feature is None else feature.charge_point_certificate()

    # -- time ---------------------------------------------------------------------------------
    def ocpp_time(self) -> float:
        return self.now + self.clock_offset_s

    def wall_offset(self) -> float:
        """OCPP time - wall time: the offset kept across restarts (a new run has a new ``now``)."""
        return self.clock_offset_s - self.wall_skew

    # -- inputs -------------------------------------------------------------------------------
    def meter(self, connector_id: int) -> MeterReading:
        """What ``connector_id``'s meter shows now: read once per engine step, only when a feature
        needs it (a sample is due, a transaction starts or stops, a limit is checked): issue #9."""
        connector = self.connectors[connector_id]
        source = self.meter_source
        if source is not None and connector_id not in self.meters_read:
            connector.meter = source(connector_id)
            self.meters_read.append(connector_id)
        return connector.meter

    # -- output -------------------------------------------------------------------------------
    def emit(self, effect: Effect) -> None:
        self.effects.append(effect)

    def call(
        self,
        request: OcppStruct,
        *,
        meta: dict[str, Any] | None = None,
        front: bool = False,
    ) -> None:
        """Queue a CALL of ours, a typed request (:mod:`ocpp_station.wire.messages`); the engine sends
        it when §4.1.1 and §4.2 allow. Whether it is a transaction message, stored (Persist) before it
        can be sent, is the message policy's (``core/policy.py``), not the caller's."""
        meta = dict(meta or {})
        if self.triggering:
            meta["triggered"] = True  # requested by TriggerMessage: may pass the §4.2 gate
        call = OutgoingCall(REQUEST_ACTIONS[type(request)], request, meta)
        # Only the newest status of a connector waits while it cannot be sent (offline, not Accepted).
        self.outbox.add(call, front=front, collapse=not (self.connected and self.accepted))
        if call.seq is not None:
            self.persist_call(call)

    # -- persistence ----------------------------------------------------------------------------
    def persist(self, kind: str, key: str | int, value: dict[str, Any] | None) -> None:
        self.effects.append(Persist(kind, str(key), value))

    def persist_call(self, call: OutgoingCall) -> None:
        assert call.seq is not None
        self.persist("outbox", f"{call.seq:012d}", call.to_record())

    def save_transaction(self, tx: Transaction) -> None:
        self.persist("transactions", tx.local_id, tx.to_record())

    def forget_call(self, call: OutgoingCall) -> None:
        if call.seq is not None:
            self.persist("outbox", f"{call.seq:012d}", None)

    @property
    def accepted(self) -> bool:
        return self.registration == "Accepted"

    def connector_ids(self) -> range:
        return range(1, len(self.connectors))
