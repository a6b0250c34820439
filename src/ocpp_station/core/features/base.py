"""What a feature module declares to the engine (issue #9 §2): one protocol for every feature.

A feature is a class built with the :class:`~ocpp_station.core.context.Context` (and the features it
builds on). The messages it owns it declares on its methods, with the typed request of the action
(:mod:`ocpp_station.wire.messages`): one owner per message, checked when the engine composes them.

=================================  ================================================================
decorator                          the method, and what it is called with
=================================  ================================================================
``@answers(ResetRequest)``         answers the CSMS's CALL: ``(request, call)`` -> the typed
                                   response, or None to answer later with ``ctx.reply``
``@on_result(HeartbeatRequest)``   consumes the CALLRESULT of our CALL: ``(outgoing, response)``
``@on_failure(AuthorizeRequest)``  our CALL failed: ``(outgoing, reason)``, a CALLERROR code,
                                   "Timeout" or "Dropped"
``@prepares(MeterValuesRequest)``  fills in what is only known at send time: ``(outgoing)`` ->
                                   False drops the CALL
=================================  ================================================================

The routes are a class's, not an instance's: one table serves every engine of the same make-up
(a fleet keeps thousands). A feature that is not ``supported`` answers its CALLs NotSupported.
Everything else it owns it *declares* by overriding the members below; the defaults declare nothing.
The engine composes the features in one declared order (:data:`ocpp_station.core.engine.FEATURE_ORDER`)
and hands every domain fact to them in that order, so the order of hooks is written down, not an
accident of construction; no feature reaches into another's internals or into the engine. A feature
states a fact with ``ctx.tell(fact, ...)``; the engine tells every feature that declared it.

============================  =====================================================================
member                        what it declares
============================  =====================================================================
``PROFILE``, ``supported``    its feature profile (OCPP 1.6 §3.1, SupportedFeatureProfiles §9.1.29)
``triggers()``                the messages a TriggerMessage may ask of it (§5.17), by requestedMessage
``config_hooks()``            what it does when the CSMS changes a configuration key (§5.3)
``config_vetoes()``           why a value the key's validator takes is Rejected now (state-dependent:
                              SecurityProfile only goes up, security whitepaper A05.FR.01-04)
``restore(restored)``         what it takes back from the store after a restart (issue #3)
``status_conditions()``       conditions it keeps on connectors that derive their status (§4.9)
``registration_accepted()``   fact: the CSMS accepted the BootNotification (§4.2)
``booted()``                  fact: the station finished starting (the Booted event, after restore)
``rebooting(hard)``           fact: a Reset is carried out, just before the Reboot effect (§5.14)
``security_reconfigured(w)``  fact: the CSMS changed a security parameter ``w`` (SecurityProfile,
                              AuthorizationKey; security whitepaper §8)
``clock_changed()``           fact: a clock sync or a wall-clock jump moved the OCPP clock
``transaction_started(tx)``   fact: a transaction started, before its connector is energized (§4.8)
``transaction_ended(cid)``    fact: the transaction on a connector ended (§4.10)
``power_switched_off(cid)``   fact: a transaction's power went off while it goes on (§3.5.4)
``connector_idle(cid)``       fact: a connector has no transaction and no cable any more
``authorized(tag, info, m)``  fact: an idTag was decided (cache, list, offline rules, Authorize.conf
                              §4.1); ``m``: the meta the request was made with
``list_conflict(tag, l, c)``  fact: the CSMS's IdTagInfo contradicts the Local List (§3.5.2)
``current_offer(cid)``        query: the amperes to offer a connector being energized (Smart
                              Charging, §3.13); at most one feature answers, None: its rating
``listed(id_tag)``            query: the Local Authorization List's entry (§3.5.2), None: none
``csms_roots()``              query: the PEM texts of the installed CentralSystemRootCertificates,
                              a fallback last (security whitepaper M05.FR.11, A05.FR.03)
``manufacturer_roots()``      query: the PEM texts of the installed ManufacturerRootCertificates
                              (the firmware signing certificate's issuers, L01.FR.23)
``charge_point_certificate()``  query: the PEM chain of the ChargePointCertificate in use, None:
                              none valid (security whitepaper A02.FR.09, A05.FR.04)
============================  =====================================================================
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from ocpp_station.wire.messages import REQUEST_ACTIONS, OcppStruct

if TYPE_CHECKING:
    from ocpp_station.core.context import Context
    from ocpp_station.core.model import Restored, Transaction
    from ocpp_station.wire.messages import IdTagInfo

#: Checks a TriggerMessage request (connectorId or None) and returns what sends the requested
#: message (run after TriggerMessage.conf went out, §5.17), or a TriggerMessageStatus (Rejected).
Trigger = Callable[[int | None], Callable[[], None] | str]


def extended(requested: str) -> str:
    """The ``triggers()`` key of an ExtendedTriggerMessage message with no TriggerMessage counterpart
    (whitepaper §6.16: LogStatusNotification, SignChargePointCertificate, and FirmwareStatusNotification,
    which there means the *signed* firmware status). Kept apart from TriggerMessage's names, since
    ``FirmwareStatusNotification`` names a different message in each."""
    return f"ExtendedTriggerMessage/{requested}"


#: Run after the CSMS changed a key (the new value is in ``ctx.config``).
ConfigHook = Callable[[], None]
#: Before a ChangeConfiguration takes a (valid) value: why it is Rejected now, or None to take it.
ConfigVeto = Callable[[str], str | None]

#: The facts a feature may react to: the name of its hook method, in no particular order (the
#: engine's FEATURE_ORDER gives the order of the features that react).
FACTS = (
    "registration_accepted",
    "booted",
    "rebooting",
    "security_reconfigured",
    "csms_root_refused",
    "security_event",
    "clock_changed",
    "transaction_started",
    "transaction_ended",
    "power_switched_off",
    "connector_idle",
    "authorized",
    "list_conflict",
)

#: The questions one feature answers for the others (at most one declares each): the name of its
#: method, which the engine puts on the context (``ctx.current_offer``, ``ctx.listed``).
QUERIES = ("current_offer", "listed", "csms_roots", "manufacturer_roots", "charge_point_certificate")


#: The kinds of route a feature declares, by decorator.
ROLES = ("answers", "result", "failure", "prepare")

_F = TypeVar("_F", bound=Callable[..., Any])


def _declare(role: str, request: type[OcppStruct]) -> Callable[[_F], _F]:
    action = REQUEST_ACTIONS[request]  # KeyError: not a request struct

    def mark(function: _F) -> _F:
        routes = getattr(function, "__ocpp_routes__", ())
        setattr(function, "__ocpp_routes__", (*routes, (role, action)))  # noqa: B010
        return function

    return mark


def answers(request: type[OcppStruct]) -> Callable[[_F], _F]:
    """The method answers the CSMS's CALL of ``request``'s action."""
    return _declare("answers", request)


def on_result(request: type[OcppStruct]) -> Callable[[_F], _F]:
    """The method consumes the CALLRESULT of our CALL of ``request``'s action."""
    return _declare("result", request)


def on_failure(request: type[OcppStruct]) -> Callable[[_F], _F]:
    """The method hears that our CALL of ``request``'s action failed."""
    return _declare("failure", request)


def prepares(request: type[OcppStruct]) -> Callable[[_F], _F]:
    """The method completes our CALL of ``request``'s action when it is sent."""
    return _declare("prepare", request)


class Feature:
    """Base of every feature module: the declarations, empty by default."""

    #: No instance dict: a feature declares its own slots (a fleet keeps thousands of each).
    __slots__ = ()

    PROFILE: ClassVar[str] = "Core"
    #: (role, action, function) of every method declared by a decorator, collected per class.
    ROUTES: ClassVar[tuple[tuple[str, str, Callable[..., Any]], ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        routes = list(cls.ROUTES)
        for value in vars(cls).values():
            for role, action in getattr(value, "__ocpp_routes__", ()):
                routes.append((role, action, value))
        cls.ROUTES = tuple(routes)

    @property
    def supported(self) -> bool:
        """Whether this charge point offers the feature (its profile is then in
        SupportedFeatureProfiles)."""
        return True

    def triggers(self) -> Mapping[str, Trigger]:
        return {}

    def config_hooks(self) -> Mapping[str, ConfigHook]:
        return {}

    def config_vetoes(self) -> Mapping[str, ConfigVeto]:
        return {}

    def restore(self, restored: Restored) -> None:
        return None

    def status_conditions(self) -> Iterable[int]:
        """Bring the connector conditions this feature keeps up to date before a status refresh;
        the ids of connectors whose status may have changed too."""
        return ()

    def registration_accepted(self) -> None:
        return None

    def booted(self) -> None:
        return None

    def rebooting(self, hard: bool) -> None:
        return None

    def csms_root_refused(self, reason: str) -> None:
        return None

    def security_event(self, event_type: str, tech_info: str) -> None:
        return None

    def security_reconfigured(self, what: str) -> None:
        return None

    def clock_changed(self) -> None:
        return None

    def transaction_started(self, tx: Transaction) -> None:
        return None

    def transaction_ended(self, connector_id: int) -> None:
        return None

    def power_switched_off(self, connector_id: int) -> None:
        return None

    def connector_idle(self, connector_id: int) -> None:
        return None

    def authorized(self, id_tag: str, info: IdTagInfo, meta: dict[str, Any]) -> None:
        return None

    def list_conflict(self, id_tag: str, listed: IdTagInfo, central: IdTagInfo) -> None:
        return None

    def current_offer(self, connector_id: int) -> float | None:
        return None

    def listed(self, id_tag: str) -> IdTagInfo | None:
        return None

    def csms_roots(self) -> list[str]:
        return []

    def manufacturer_roots(self) -> list[str]:
        return []

    def charge_point_certificate(self) -> str | None:
        return None


@dataclass(frozen=True, slots=True)
class Routes:
    """Who handles each message, for one make-up of features: role -> action -> (index of the
    feature in the engine's list, the function to call with it). Shared by every engine of that
    make-up; nothing here is per station."""

    answers: Mapping[str, tuple[int, Callable[..., Any]]]
    result: Mapping[str, tuple[int, Callable[..., Any]]]
    failure: Mapping[str, tuple[int, Callable[..., Any]]]
    prepare: Mapping[str, tuple[int, Callable[..., Any]]]


_ROUTES: dict[tuple[type, ...], Routes] = {}


def routes_of(features: Sequence[Feature]) -> Routes:
    """The routing table of ``features`` (in their order); ValueError when two claim a message."""
    kinds = tuple(type(feature) for feature in features)
    routes = _ROUTES.get(kinds)
    if routes is None:
        tables: dict[str, dict[str, tuple[int, Callable[..., Any]]]] = {role: {} for role in ROLES}
        for index, kind in enumerate(kinds):
            for role, action, function in kind.ROUTES:
                if action in tables[role]:
                    raise ValueError(f"{action} is already routed ({role})")
                tables[role][action] = (index, function)
        routes = _ROUTES[kinds] = Routes(**tables)
    return routes


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
