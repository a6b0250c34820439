"""What a feature module declares to the engine (issue #9 §2): one protocol for every feature.

A feature is a class built with the :class:`~ocpp_station.core.context.Context` (and the features it
builds on). In its constructor it routes the CALLs it answers and the results it consumes
(``ctx.route``: one owner per message). Everything else it owns it *declares* by overriding the
members below; the defaults declare nothing. The engine composes the features in one declared order
(:data:`ocpp_station.core.engine.FEATURE_ORDER`) and hands every domain fact to them in that order, so
the order of hooks is written down, not an accident of construction; no feature reaches into another's
internals or into the engine.

============================  =====================================================================
member                        what it declares
============================  =====================================================================
``PROFILE``, ``supported``    its feature profile (OCPP 1.6 §3.1, SupportedFeatureProfiles §9.1.29)
``triggers()``                the messages a TriggerMessage may ask of it (§5.17), by requestedMessage
``config_hooks()``            what it does when the CSMS changes a configuration key (§5.3)
``restore(restored)``         what it takes back from the store after a restart (issue #3)
``status_conditions()``       conditions it keeps on connectors that derive their status (§4.9)
``registration_accepted()``   fact: the CSMS accepted the BootNotification (§4.2)
``clock_changed()``           fact: a clock sync or a wall-clock jump moved the OCPP clock
``transaction_ended(cid)``    fact: the transaction on a connector ended (§4.10)
``connector_idle(cid)``       fact: a connector has no transaction and no cable any more
============================  =====================================================================
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from ocpp_station.core.context import Context
    from ocpp_station.core.model import Restored

#: Checks a TriggerMessage request (connectorId or None) and returns what sends the requested
#: message (run after TriggerMessage.conf went out, §5.17), or a TriggerMessageStatus (Rejected).
Trigger = Callable[[int | None], Callable[[], None] | str]
#: Run after the CSMS changed a key (the new value is in ``ctx.config``).
ConfigHook = Callable[[], None]

#: The facts a feature may react to: the name of its hook method, in no particular order (the
#: engine's FEATURE_ORDER gives the order of the features that react).
FACTS = ("registration_accepted", "clock_changed", "transaction_ended", "connector_idle")


class Feature:
    """Base of every feature module: the declarations, empty by default."""

    PROFILE: ClassVar[str] = "Core"

    @property
    def supported(self) -> bool:
        """Whether this charge point offers the feature (its profile is then in
        SupportedFeatureProfiles)."""
        return True

    def triggers(self) -> Mapping[str, Trigger]:
        return {}

    def config_hooks(self) -> Mapping[str, ConfigHook]:
        return {}

    def restore(self, restored: Restored) -> None:
        return None

    def status_conditions(self) -> Iterable[int]:
        """Bring the connector conditions this feature keeps up to date before a status refresh;
        the ids of connectors whose status may have changed too."""
        return ()

    def registration_accepted(self) -> None:
        return None

    def clock_changed(self) -> None:
        return None

    def transaction_ended(self, connector_id: int) -> None:
        return None

    def connector_idle(self, connector_id: int) -> None:
        return None


def declares(feature: Feature, member: str) -> bool:
    """Whether ``feature`` overrides ``member`` of :class:`Feature` (reacts to that fact)."""
    return getattr(type(feature), member) is not getattr(Feature, member)


def connectors_for(ctx: Context, connector_id: int | None, *, first: int) -> list[int] | None:
    """The connectors a request is for: all from ``first`` when absent, None when unknown."""
    if connector_id is None:
        return list(range(first, len(ctx.connectors)))
    if first <= connector_id < len(ctx.connectors):
        return [connector_id]
    return None
