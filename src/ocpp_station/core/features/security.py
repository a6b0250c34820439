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

Not here yet (issue #10): the ChargePointCertificate (SignCertificate / CertificateSigned), the
fallback to the previous profile when the new one cannot connect (A05.FR.08-09).
"""

from __future__ import annotations

from collections.abc import Mapping

from ocpp_station.core.context import Context
from ocpp_station.core.effects import Reconnect
from ocpp_station.core.features.base import ConfigHook, ConfigVeto, Feature
from ocpp_station.core.features.certificates import Certificates

#: Profiles that authenticate with HTTP Basic and so need an AuthorizationKey (A05.FR.02).
BASIC_AUTH_PROFILES = frozenset({1, 2})
#: Profiles that need a CentralSystemRootCertificate installed (A05.FR.03).
TLS_PROFILES = frozenset({2, 3})
#: Profiles that need a ChargePointCertificate valid at the OCPP time (A05.FR.04; A02, A03:
#: core/features/station_certificate.py).
CLIENT_CERTIFICATE_PROFILES = frozenset({3})


class Security(Feature):
    """The security profile and the Basic-auth password (security whitepaper §2, §7, A01, A05)."""

    def __init__(self, ctx: Context, certificates: Certificates) -> None:
        self.ctx = ctx
        self.certificates = certificates

    # -- declarations (core.features.base) -----------------------------------------------------------
    def config_vetoes(self) -> Mapping[str, ConfigVeto]:
        return {"SecurityProfile": self._vet_profile}

    def config_hooks(self) -> Mapping[str, ConfigHook]:
        return {
            "AuthorizationKey": lambda: self._changed("AuthorizationKey", "AuthorizationKey changed (A01)"),
            "SecurityProfile": lambda: self._changed("SecurityProfile", "SecurityProfile raised (A05)"),
        }

    # -- SecurityProfile (§7.6, A05) -----------------------------------------------------------------
    def _vet_profile(self, value: str) -> str | None:
        current = self.ctx.config.get_int("SecurityProfile")
        wanted = int(value)
        if wanted <= current:
            return f"SecurityProfile only goes up: {current} -> {wanted} (A05.FR.01)"
        if wanted in BASIC_AUTH_PROFILES and not self.ctx.config.get("AuthorizationKey"):
            return f"profile {wanted} needs an AuthorizationKey (A05.FR.02)"
        if wanted in TLS_PROFILES and not self.ctx.settings.tls:
            return f"profile {wanted} needs TLS: the Central System URL is not wss:// (A00.FR.311)"
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
