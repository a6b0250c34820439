"""Security profiles and the AuthorizationKey (OCPP 1.6 security whitepaper edition 3: §2.1-2.5, §7,
use cases A01 and A05).

What this part does:

* **AuthorizationKey** (§7.2, A00.FR.205, A01): the HTTP Basic password of profiles 1 and 2; write-only
  (the key table: never in a GetConfiguration answer, :meth:`~ocpp_station.transport.view.EngineView.
  readable_config` or a log line). A change the CSMS makes is stored, answered Accepted and the station
  connects again with it (A01.FR.01-03).
* **SecurityProfile** (§7.6, A05): only goes up. A value not above the current one is Rejected
  (A05.FR.01); profile 1 or 2 without an AuthorizationKey is Rejected (A05.FR.02); profiles 2 and 3
  need a CentralSystemRootCertificate installed and valid at the OCPP time (A05.FR.03, the certificate
  store: :mod:`ocpp_station.core.features.certificates`); 3 also a ChargePointCertificate valid at the
  OCPP time (A05.FR.04, :mod:`ocpp_station.core.features.station_certificate`). Accepted, the
  station disconnects and connects with the new profile (A05.FR.05-07).

Either change is told as the fact ``security_reconfigured`` (the security log's
ReconfigurationOfSecurityParameters, whitepaper §8: :mod:`ocpp_station.core.features.security_events`).

**Profile fallback** (A05.FR.08 and A05's error handling: "unable to connect using the configured
(higher) security profile"). After a raise the station connects with the new profile; the previous one
is kept, in a record (kind ``security``, key :data:`FALLBACK_KEY`: ``{"from", "to"}``) so that a
restart in the middle keeps it too, until the new profile is confirmed:

* *confirmed*: a websocket opened with the new profile (the :class:`~ocpp_station.core.events.
  Connected` event: TLS handshake and HTTP Basic credentials passed). The previous profile is
  forgotten; from then on the CSMS refuses the lower one (A05.FR.09, the CSMS's rule).
* *unable to connect*: :attr:`EngineSettings.profile_fallback_attempts` (the config file's
  ``security.profileFallbackAttempts``, default :data:`FALLBACK_ATTEMPTS`)
  connection attempts in a row ended before the websocket opened (the shell's
  :class:`~ocpp_station.core.events.ConnectFailed`: refused, TLS or HTTP failure, timeout). Counted
  from the raise, and again from zero after a restart. Then SecurityProfile is set back to the
  previous value (stored), the station reconnects at once with it, and the security log gets
  ReconfigurationOfSecurityParameters ("security parameters, such as ... the security profile used,
  were changed", §8: A05 names no event, and this is the one whose description is the change made;
  the failures themselves are logged as what they were, e.g. InvalidCentralSystemCertificate).

Which connection a profile makes is the shell's (``Station.connection_url``): profiles 2 and 3 always
use TLS, so a ``ws://`` Central System URL is connected to as ``wss://`` (same host, port and path)
while the profile is 2 or 3; a ``wss://`` URL stays TLS at every profile (profile 0 or 1 over TLS:
the station never lowers the transport the operator configured).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Final

from ocpp_station.core.context import Context, log
from ocpp_station.core.effects import Reconnect, StoreConfigValue
from ocpp_station.core.features.base import ConfigHook, ConfigVeto, Feature
from ocpp_station.core.features.certificates import Certificates
from ocpp_station.core.settings import EngineSettings

if TYPE_CHECKING:
    from ocpp_station.core.model import Restored

#: Profiles that authenticate with HTTP Basic and so need an AuthorizationKey (A05.FR.02).
BASIC_AUTH_PROFILES = frozenset({1, 2})
#: Profiles that need a CentralSystemRootCertificate installed (A05.FR.03).
TLS_PROFILES = frozenset({2, 3})
#: Profiles that need a ChargePointCertificate valid at the OCPP time (A05.FR.04; A02, A03:
#: core/features/station_certificate.py).
CLIENT_CERTIFICATE_PROFILES = frozenset({3})
#: Failed connection attempts in a row with a newly raised profile after which the station falls back
#: to the previous one (A05.FR.08), by default. With the default back-off (1 s, doubling) about 7 s.
FALLBACK_ATTEMPTS: Final = EngineSettings().profile_fallback_attempts
#: The record (kind ``security``) of a raise not yet confirmed.
FALLBACK_KIND: Final = "security"
FALLBACK_KEY: Final = "profileFallback"


class Security(Feature):
    """The security profile and the Basic-auth password (security whitepaper §2, §7, A01, A05)."""

    __slots__ = ("_failures", "_vetted_from", "certificates", "ctx", "fallback_attempts", "pending")

    def __init__(self, ctx: Context, certificates: Certificates) -> None:
        self.ctx = ctx
        self.certificates = certificates
        #: Failed attempts in a row after which a raised profile is given up (A05.FR.08).
        self.fallback_attempts = ctx.settings.profile_fallback_attempts
        #: (previous, new) profile while a raise is not confirmed by a connection; None otherwise.
        self.pending: tuple[int, int] | None = None
        self._failures = 0
        #: The profile in force when the last ChangeConfiguration SecurityProfile was vetted.
        self._vetted_from = 0

    # -- declarations (core.features.base) -----------------------------------------------------------
    def config_vetoes(self) -> Mapping[str, ConfigVeto]:
        return {"SecurityProfile": self._vet}

    def restore(self, restored: Restored) -> None:
        """A raise not confirmed before the restart: the previous profile is still the fallback."""
        record = restored.security.get(FALLBACK_KEY)
        if not isinstance(record, Mapping):
            return
        try:
            previous, new = int(record["from"]), int(record["to"])
        except (KeyError, TypeError, ValueError) as exc:
            log.error("security profile fallback record dropped: %s", exc)
            self.ctx.persist(FALLBACK_KIND, FALLBACK_KEY, None)
            return
        if self.ctx.config.get_int("SecurityProfile") != new:  # the raise was not stored after all
            self.ctx.persist(FALLBACK_KIND, FALLBACK_KEY, None)
            return
        self.pending = (previous, new)

    def config_hooks(self) -> Mapping[str, ConfigHook]:
        return {
            "AuthorizationKey": lambda: self._changed("AuthorizationKey", "AuthorizationKey changed (A01)"),
            "SecurityProfile": self._raised,
        }

    # -- SecurityProfile (§7.6, A05) -----------------------------------------------------------------
    def _vet(self, value: str) -> str | None:
        self._vetted_from = self.ctx.config.get_int("SecurityProfile")
        return self._vet_profile(value)

    def _vet_profile(self, value: str) -> str | None:
        current = self.ctx.config.get_int("SecurityProfile")
        wanted = int(value)
        if wanted <= current:
            return f"SecurityProfile only goes up: {current} -> {wanted} (A05.FR.01)"
        if wanted in BASIC_AUTH_PROFILES and not self.ctx.config.get("AuthorizationKey"):
            return f"profile {wanted} needs an AuthorizationKey (A05.FR.02)"
        if wanted in TLS_PROFILES and not self.certificates.has_valid_csms_root():
            return f"profile {wanted} needs a valid CentralSystemRootCertificate installed (A05.FR.03)"
        if wanted in CLIENT_CERTIFICATE_PROFILES and self.ctx.charge_point_certificate() is None:
            return f"profile {wanted} needs a valid ChargePointCertificate installed (A05.FR.04)"
        return None

    def _changed(self, key: str, reason: str) -> None:
        """After the ChangeConfiguration.conf went out (config hooks run after the reply): told as a
        security parameter changed (never with the value), then the station connects again."""
        self.ctx.tell("security_reconfigured", key)
        self.ctx.emit(Reconnect(reason))

    def _raised(self) -> None:
        """SecurityProfile was raised (A05.FR.05-07): the previous profile is kept as the fallback
        until a connection with the new one opens (A05.FR.08), in the store as well."""
        previous, new = self._vetted_from, self.ctx.config.get_int("SecurityProfile")
        if self.pending is not None:  # raised again before the last raise was confirmed: keep the oldest
            previous = self.pending[0]
        self.pending = (previous, new)
        self._failures = 0
        self.ctx.persist(FALLBACK_KIND, FALLBACK_KEY, {"from": previous, "to": new})
        self._changed("SecurityProfile", "SecurityProfile raised (A05)")

    # -- connection outcomes (the shell's Connected / ConnectFailed) ---------------------------------
    def connected(self) -> None:
        """A websocket opened: with a raised profile pending, the new profile is confirmed."""
        if self.pending is None:
            return
        previous, new = self.pending
        log.info("connected with SecurityProfile %s: profile %s is no longer the fallback", new, previous)
        self._forget()

    def connect_failed(self, reason: str) -> None:
        """A connection attempt failed; with a raised profile pending, the :attr:`fallback_attempts`-th
        in a row sets the previous profile back (A05.FR.08)."""
        if self.pending is None:
            return
        self._failures += 1
        previous, new = self.pending
        if self._failures < self.fallback_attempts:
            log.info("SecurityProfile %s: connection attempt %s failed: %s", new, self._failures, reason)
            return
        attempts = self._failures
        log.warning(
            "SecurityProfile %s: unable to connect (%s attempts, last: %s); back to profile %s (A05.FR.08)",
            new,
            attempts,
            reason,
            previous,
        )
        self._forget()
        self.ctx.config.set("SecurityProfile", str(previous))
        self.ctx.emit(StoreConfigValue("SecurityProfile", str(previous)))
        self.ctx.tell(
            "security_event",
            "ReconfigurationOfSecurityParameters",
            f"SecurityProfile {new} could not connect ({attempts} attempts, last: {reason}): "
            f"fell back to profile {previous} (A05.FR.08)",
        )
        self.ctx.emit(Reconnect(f"SecurityProfile fallback to {previous} (A05.FR.08)"))

    def _forget(self) -> None:
        self.pending = None
        self._failures = 0
        self.ctx.persist(FALLBACK_KIND, FALLBACK_KEY, None)
