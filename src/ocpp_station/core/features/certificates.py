"""The certificate store (OCPP 1.6 security whitepaper edition 3: §2.6, §6.1, §7.1, §7.4; use cases
M03, M04, M05).

The store holds the root certificates of two hierarchies (§2.6.2), by certificateUse:
CentralSystemRootCertificate (what TLS checks the CSMS's server certificate against, profiles 2 and
3) and ManufacturerRootCertificate (firmware signatures). Its content:

* **at start**, what was installed at manufacturing or installation (§2.6.4): the config file's
  ``security`` section, handed over as ``EngineSettings.installed_certificates``;
* **then**, what the CSMS installs (InstallCertificate, M05) and deletes (DeleteCertificate, M04),
  stored as records of kind ``certificates`` (PEM text, the issuer's key bits, the role) and restored
  after a restart. Stored records win over the file: a file certificate the CSMS deleted stays
  deleted (a tombstone record), one it demoted to fallback stays a fallback.

What each message does:

* **InstallCertificate** (M05): Rejected for text that is no single X.509 CA certificate, a key too
  small (A00.FR.502-503) or a certificate not valid at the OCPP time (M05.FR.06), and when the store
  already holds CertificateStoreMaxLength certificates (M05.FR.03); Failed for a certificate that is
  fine but whose issuer is neither itself nor installed, since its CertificateHashData (§6.1) cannot
  be computed (M05.FR.04); else Accepted (M05.FR.02; one already installed: Accepted, nothing
  changes). With AdditionalRootCertificateCheck true (M05.FR.08-11), a new CentralSystemRootCertificate
  must be signed by an installed one (Rejected otherwise, M05.FR.10); it replaces them, and the one
  that signed it stays as the fallback (any earlier fallback goes). The TLS shell trusts both,
  ``csms_roots()`` giving the new root first and the fallback last, so a server certificate the new
  root does not verify is still verified with the old one (M05.FR.13); once a connection's verified
  chain holds the new root (the shell's :class:`~ocpp_station.core.events.ServerCertificateVerified`),
  the fallback is removed (M05.FR.12).
* **DeleteCertificate** (M04): the certificates the hash data names are deleted (M04.FR.02; any hash
  algorithm, M04.FR.07); NotFound when none is (M04.FR.04); Failed when it would take away the last
  CentralSystemRootCertificate while SecurityProfile is 2 or 3, the one the connection is being
  validated with (M04.FR.06). The ChargePointCertificate is not in this store (M04.FR.05).
* **GetInstalledCertificateIds** (M03): the SHA256 hash data of every certificate of the type
  (M03.FR.03-04), NotFound when there is none (M03.FR.02).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from ocpp_station.core.certificates import (
    CSMS_ROOT,
    MANUFACTURER_ROOT,
    CertificateError,
    CertificateStore,
    InstalledCertificate,
    UnknownIssuer,
    check_ca,
    initial_store,
    issued_by,
    parse_certificate,
    public_key_bits,
    record_key,
    validity_problem,
)
from ocpp_station.core.context import Context, log
from ocpp_station.core.features.base import Feature, answers
from ocpp_station.wire.frames import Call
from ocpp_station.wire.messages import (
    DeleteCertificateRequest,
    DeleteCertificateResponse,
    DeleteCertificateStatusEnumType,
    GetInstalledCertificateIdsRequest,
    GetInstalledCertificateIdsResponse,
    GetInstalledCertificateStatusEnumType,
    InstallCertificateRequest,
    InstallCertificateResponse,
    InstallCertificateStatusEnumType,
)

if TYPE_CHECKING:
    from ocpp_station.core.model import Restored

KIND = "certificates"
#: Security profiles whose connection is validated with a CentralSystemRootCertificate (§2.4, §2.5).
TLS_PROFILES = frozenset({2, 3})

_Install = InstallCertificateStatusEnumType
_Delete = DeleteCertificateStatusEnumType


class Certificates(Feature):
    """The root certificates the station trusts (security whitepaper M03, M04, M05)."""

    __slots__ = ("_seq", "ctx", "store")

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        try:
            self.store: CertificateStore = initial_store(ctx.settings.installed_certificates)
        except CertificateError as exc:
            raise ValueError(f"installed_certificates{exc}") from None
        #: Order of installation, stored with each record.
        self._seq = 0

    # -- declarations (core.features.base) -----------------------------------------------------------
    def restore(self, restored: Restored) -> None:
        """Apply the stored records over the certificates of the config file, in installation order."""
        records = sorted(restored.certificates.items(), key=lambda item: int(item[1].get("seq", 0)))
        for key, record in records:
            self._seq = max(self._seq, int(record.get("seq", 0)))
            if record.get("deleted"):
                if self.store.remove(key) is None:  # not in the config file any more: nothing to hide
                    self.ctx.persist(KIND, key, None)
                continue
            try:
                entry = InstalledCertificate.from_record(record)
            except CertificateError as exc:
                log.error("stored certificate %s dropped: %s", key, exc)
                self.ctx.persist(KIND, key, None)
                continue
            kept = self.store.get(key)
            self.store.put(replace(entry, from_file=kept is not None and kept.from_file))

    def csms_roots(self) -> list[str]:
        """The PEM texts of the installed CentralSystemRootCertificates, the current ones first and a
        fallback last (M05.FR.13: try the new root, then the old one); valid or not at this moment:
        the TLS handshake checks validity on its own clock."""
        return [entry.pem for entry in self.store.of_use(CSMS_ROOT)]

    def manufacturer_roots(self) -> list[str]:
        """The PEM texts of the installed ManufacturerRootCertificates: the issuers a firmware signing
        certificate is checked against (security whitepaper L01.FR.23)."""
        return [entry.pem for entry in self.store.of_use(MANUFACTURER_ROOT)]

    def server_verified(self, fingerprints: tuple[str, ...]) -> None:
        """The connection just opened verified the CSMS along this chain (SHA-256 fingerprints). With a
        fallback root kept (M05.FR.11) and the new root in the chain, the new root was used: the
        fallback goes (M05.FR.12). A chain through the old root only keeps it (M05.FR.13)."""
        roots = self.store.of_use(CSMS_ROOT)
        fallbacks = [e for e in roots if e.fallback]
        if not fallbacks:
            return
        chain = {f.lower() for f in fingerprints}
        current = [e for e in roots if not e.fallback]
        if any(e.certificate.fingerprint(hashes.SHA256()).hex() in chain for e in current):
            for entry in fallbacks:
                log.info(
                    "connected using the new CentralSystemRootCertificate: the fallback goes (M05.FR.12)"
                )
                self._drop(entry)
        else:
            log.info("the CSMS was verified with the fallback CentralSystemRootCertificate (M05.FR.13)")

    # -- what other features ask ----------------------------------------------------------------------
    def has_valid_csms_root(self) -> bool:
        """A CentralSystemRootCertificate valid at the OCPP time is installed (A05.FR.03)."""
        now = self.ctx.ocpp_time()
        return any(entry.valid_at(now) for entry in self.store.of_use(CSMS_ROOT))

    # -- InstallCertificate (M05) ---------------------------------------------------------------------
    @answers(InstallCertificateRequest)
    def _install(self, request: InstallCertificateRequest, call: Call) -> InstallCertificateResponse:
        status, reason = self._try_install(request)
        log.info("InstallCertificate %s: %s (%s)", request.certificate_type.value, status.value, reason)
        if request.certificate_type is CSMS_ROOT and status is InstallCertificateStatusEnumType.Rejected:
            # OCTT TC_078_CS step 3: a refused CentralSystemRootCertificate is a security event
            # (InvalidCentralSystemCertificate, whitepaper §8), as a refused TLS server certificate is.
            self.ctx.tell("csms_root_refused", reason)
        return InstallCertificateResponse(status=status)

    def _try_install(
        self, request: InstallCertificateRequest
    ) -> tuple[InstallCertificateStatusEnumType, str]:
        use = request.certificate_type
        try:
            certificate = parse_certificate(request.certificate)
            check_ca(certificate)
        except CertificateError as exc:
            return _Install.Rejected, f"{exc} (M05.FR.06)"
        problem = validity_problem(certificate, self.ctx.ocpp_time())
        if problem is not None:
            return _Install.Rejected, f"{problem} (M05.FR.06)"
        if record_key(use, certificate) in self.store:
            return _Install.Accepted, "already installed"
        limit = self.ctx.config.get_int("CertificateStoreMaxLength")
        if len(self.store) >= limit:
            return _Install.Rejected, f"the store holds {len(self.store)} of {limit} certificates (M05.FR.03)"
        if self._replacing(use):
            return self._replace_root(certificate)
        try:
            entry = self.store.identify(use, certificate)
        except UnknownIssuer as exc:
            return _Install.Failed, f"{exc} (M05.FR.04)"
        self._put(entry)
        return _Install.Accepted, "installed (M05.FR.02)"

    def _replacing(self, use: str) -> bool:
        """AdditionalRootCertificateCheck applies: a CSMS root replaces the installed one (M05.FR.09)."""
        return (
            use == CSMS_ROOT
            and self.ctx.config.get_bool("AdditionalRootCertificateCheck")
            and any(not e.fallback for e in self.store.of_use(CSMS_ROOT))
        )

    def _replace_root(self, certificate: x509.Certificate) -> tuple[InstallCertificateStatusEnumType, str]:
        """M05.FR.09-11: only a certificate signed by the current root replaces it; the old root
        becomes the one fallback (M05.FR.08: one root plus a temporary fallback)."""
        current = [e for e in self.store.of_use(CSMS_ROOT) if not e.fallback]
        signer = next((e for e in current if issued_by(certificate, e.certificate)), None)
        if signer is None:
            return _Install.Rejected, "not signed by the installed CentralSystemRootCertificate (M05.FR.10)"
        for old in self.store.of_use(CSMS_ROOT):
            if old.key != signer.key:
                self._drop(old)
        self._put(replace(signer, fallback=True))
        self._put(InstalledCertificate(CSMS_ROOT, certificate, public_key_bits(signer.certificate)))
        return _Install.Accepted, "installed, the previous root kept as the fallback (M05.FR.11)"

    # -- DeleteCertificate (M04) ----------------------------------------------------------------------
    @answers(DeleteCertificateRequest)
    def _delete(self, request: DeleteCertificateRequest, call: Call) -> DeleteCertificateResponse:
        named = self.store.named_by(request.certificate_hash_data)
        if not named:
            return DeleteCertificateResponse(status=_Delete.NotFound)  # M04.FR.04
        roots = self.store.of_use(CSMS_ROOT)
        left = [e for e in roots if e not in named]
        if roots and not left and self.ctx.config.get_int("SecurityProfile") in TLS_PROFILES:
            log.info("DeleteCertificate refused: the last CentralSystemRootCertificate is in use (M04.FR.06)")
            return DeleteCertificateResponse(status=_Delete.Failed)
        for entry in named:
            self._drop(entry)
        return DeleteCertificateResponse(status=_Delete.Accepted)  # M04.FR.02

    # -- GetInstalledCertificateIds (M03) -------------------------------------------------------------
    @answers(GetInstalledCertificateIdsRequest)
    def _list(
        self, request: GetInstalledCertificateIdsRequest, call: Call
    ) -> GetInstalledCertificateIdsResponse:
        entries = self.store.of_use(request.certificate_type)
        if not entries:
            return GetInstalledCertificateIdsResponse(status=GetInstalledCertificateStatusEnumType.NotFound)
        return GetInstalledCertificateIdsResponse(
            status=GetInstalledCertificateStatusEnumType.Accepted,
            certificate_hash_data=[entry.hash_data() for entry in entries],
        )

    # -- the store and its records ------------------------------------------------------------------
    def _put(self, entry: InstalledCertificate) -> None:
        self.store.put(entry)
        self._seq += 1
        self.ctx.persist(KIND, entry.key, entry.to_record(self._seq))

    def _drop(self, entry: InstalledCertificate) -> None:
        self.store.remove(entry.key)
        if entry.from_file:  # the config file installs it again at every start: remember it went
            self._seq += 1
            self.ctx.persist(KIND, entry.key, {"deleted": True, "seq": self._seq})
        else:
            self.ctx.persist(KIND, entry.key, None)
