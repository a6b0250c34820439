"""The ChargePointCertificate: the station's own TLS client certificate for security profile 3 (OCPP 1.6
security whitepaper edition 3: §2.5, §2.6, §5.1-5.2, §5.17-5.18; use cases A02 and A03).

**A new key pair and a CSR** (A02.FR.02-03, A03.FR.02-03). The engine does no cryptography that needs
randomness or a file: it emits :class:`~ocpp_station.core.effects.GenerateKeyPair` (subject O = the
CpoName key, A02.FR.13; CN = the charge point's serial number, A00.FR.511: the identity's
``chargePointSerialNumber``, else the charge point id), the shell makes the key pair, keeps the
private key (A02.FR.05: it never reaches the engine, a message, a log or a record) and answers
:class:`~ocpp_station.core.events.KeyPairGenerated` with the CSR (PEM, RFC 2986) and the public key.
The engine knows the key pair by :func:`~ocpp_station.core.certificates.key_id` only, and sends
SignCertificate.req. It starts:

* when the CSMS asks: ExtendedTriggerMessage SignChargePointCertificate (A02), Accepted, the key pair
  made after the conf (A02.FR.02). The use case's prerequisite is "CpoName MUST be set": without it
  the answer is Rejected (no CSR could carry the organization A02.FR.13 requires);
* by itself (A03.FR.02): one month before the certificate in use expires, on a timer of the OCPP
  clock (re-armed when the clock moves), and when BootNotification is Accepted after that point.
  Once per certificate: a renewal the CSMS Rejected or that got no certificate is not retried
  (A02/A03 error handling: "NOT RECOMMENDED to let the Charge Point retry"; the operator re-runs A02).

**SignCertificate.conf** Rejected: logged, the key pair forgotten; nothing is retried (the error
handling of A02/A03). Accepted: the certificate comes later, in CertificateSigned.req.

**CertificateSigned.req** (§5.1, A02.FR.06-07, A03.FR.06-07): Rejected, with the security event
InvalidChargePointCertificate, when the chain is longer than CertificateSignedMaxChainSize, is no PEM
X.509, its leaf's public key is not the pending key pair's, it expired at the OCPP time, breaks the
Certificate Properties (:func:`~ocpp_station.core.certificates.check_leaf_properties`) or does not
lead to an installed CentralSystemRootCertificate (the CPO hierarchy, §2.6.2). Otherwise Accepted and
stored (records of kind ``station_certificates``; the shell's key file, named after the key id, pairs
with it). A certificate not valid yet is used from its notBefore on (A02.FR.08); of those valid, the
newest by notBefore is in use (A02.FR.09); the ones it replaced stay one month as fallback
(A02.FR.10), then go. At security profile 3, a new certificate that is in use now makes the station
connect again with it (TC_074_CS step 7); one valid later, when its notBefore comes.

**Installed at manufacturing** (§2.6.4): the config file's ``security.chargePointCertificate``
(``EngineSettings.charge_point_certificate``; its key stays in the shell); any the CSMS installs is
newer and wins.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ocpp_station.core.certificates import (
    CertificateError,
    check_charge_point_certificate,
    key_id,
    parse_certificates,
    spki_id,
    to_pem,
)
from ocpp_station.core.context import Context, log
from ocpp_station.core.effects import ForgetKey, GenerateKeyPair, Reconnect
from ocpp_station.core.features.base import Feature, Trigger, answers, extended, on_failure, on_result
from ocpp_station.core.rpc import OutgoingCall
from ocpp_station.wire.frames import Call
from ocpp_station.wire.messages import (
    CertificateSignedRequest,
    CertificateSignedResponse,
    CertificateSignedStatusEnumType,
    GenericStatusEnumType,
    MessageTriggerEnumType,
    SignCertificateRequest,
    SignCertificateResponse,
)

if TYPE_CHECKING:
    from ocpp_station.core.model import Restored

KIND = "station_certificates"
#: The security event of a refused CertificateSigned.req (A02.FR.07, §8).
INVALID = "InvalidChargePointCertificate"
#: A03.FR.02: renew one month before expiry; A02.FR.10: keep a replaced certificate one month.
MONTH_S = 30 * 86400.0
RENEW_TIMER = "charge_point_certificate_renewal"
ACTIVATE_TIMER = "charge_point_certificate_activation"


@dataclass(frozen=True, slots=True)
class Entry:
    """One ChargePointCertificate: its PEM chain, its key pair's id, its validity, and when (OCPP
    time) a newer one replaced it (None: not replaced)."""

    chain_pem: str
    key_id: str
    not_before: float
    not_after: float
    seq: int
    replaced_at: float | None = None
    from_file: bool = False

    def valid_at(self, at: float) -> bool:
        return self.not_before <= at <= self.not_after

    def to_record(self) -> dict[str, Any]:
        return {
            "chain": self.chain_pem,
            "keyId": self.key_id,
            "seq": self.seq,
            "replacedAt": self.replaced_at,
        }

    @classmethod
    def of(cls, chain_pem: str, seq: int, *, from_file: bool = False) -> Entry:
        """From a PEM chain (the leaf first); CertificateError when it is none."""
        chain = parse_certificates(chain_pem)
        if not chain:
            raise CertificateError("no certificate in the chain")
        leaf = chain[0]
        return cls(
            "".join(to_pem(c) for c in chain),
            spki_id(leaf.public_key()),
            leaf.not_valid_before_utc.timestamp(),
            leaf.not_valid_after_utc.timestamp(),
            seq,
            from_file=from_file,
        )


_NONE: frozenset[str] = frozenset()


class StationCertificate(Feature):
    """The ChargePointCertificate (security whitepaper A02, A03; profile 3 §2.5)."""

    __slots__ = ("_in_use_key", "_job", "_seq", "ctx", "entries", "pending", "renewal_asked")

    PROFILE = "Core"

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.entries: list[Entry] = []
        #: The key pair that awaits a certificate: (job, key id or None while the shell makes it).
        self.pending: tuple[int, str | None] | None = None
        #: Key ids of the certificates whose renewal was asked once already (A03, no retries).
        #: Frozen and replaced when it grows (rarely): a set costs 216 bytes even empty (issue 11).
        self.renewal_asked: frozenset[str] = _NONE
        self._job = 0
        self._seq = 0
        #: The entry in use when the last Reconnect was asked, so a certificate triggers one only.
        self._in_use_key: str | None = None
        text = ctx.settings.charge_point_certificate
        if text:
            try:
                self.entries.append(Entry.of(text, 0, from_file=True))
            except CertificateError as exc:
                raise ValueError(f"charge_point_certificate: {exc}") from None

    # -- declarations (core.features.base) -----------------------------------------------------------
    def triggers(self) -> Mapping[str, Trigger]:
        """ExtendedTriggerMessage SignChargePointCertificate (§6.16, A02): Rejected without a CpoName
        (the use case's prerequisite)."""
        return {extended(MessageTriggerEnumType.SignChargePointCertificate): self._trigger}

    def _trigger(self, connector_id: int | None) -> Any:
        if not self.ctx.config.get("CpoName"):
            log.warning("SignChargePointCertificate Rejected: CpoName is not set (A02 prerequisite)")
            return "Rejected"
        return lambda: self.renew("A02: asked by the Central System")

    def restore(self, restored: Restored) -> None:
        records = restored.station_certificates
        for key, record in sorted(records.items()):
            if key == "state":
                pending = record.get("pending")
                if isinstance(pending, str):
                    self.pending = (0, pending)
                self.renewal_asked = frozenset(record.get("renewalAsked", []))
                continue
            try:
                entry = Entry.of(str(record["chain"]), int(record.get("seq", 0)))
            except (CertificateError, KeyError, TypeError, ValueError) as exc:
                log.error("stored charge point certificate %s dropped: %s", key, exc)
                self.ctx.persist(KIND, key, None)
                continue
            replaced = record.get("replacedAt")
            self._seq = max(self._seq, entry.seq)
            self.entries.append(
                Entry(
                    entry.chain_pem,
                    entry.key_id,
                    entry.not_before,
                    entry.not_after,
                    entry.seq,
                    None if replaced is None else float(replaced),
                )
            )
        self._prune()
        self._in_use_key = self._current_key()

    def booted(self) -> None:
        self._arm()

    def registration_accepted(self) -> None:
        self._arm()

    def clock_changed(self) -> None:
        self._arm()

    def charge_point_certificate(self) -> str | None:
        """Query: the PEM chain of the certificate in use, None when none is valid now (A05.FR.04)."""
        entry = self.in_use()
        return None if entry is None else entry.chain_pem

    # -- what the shell reads ----------------------------------------------------------------------------
    def in_use(self) -> Entry | None:
        """The newest certificate (by notBefore) valid at the OCPP time (A02.FR.08-09)."""
        now = self.ctx.ocpp_time()
        valid = [e for e in self.entries if e.valid_at(now)]
        return max(valid, key=lambda e: (e.not_before, e.seq)) if valid else None

    def _current_key(self) -> str | None:
        entry = self.in_use()
        return None if entry is None else entry.key_id

    # -- A02 / A03: a key pair, a CSR, SignCertificate ----------------------------------------------------
    def renew(self, why: str) -> None:
        """Ask the shell for a new key pair and CSR (A02.FR.02, A03.FR.02)."""
        cpo_name = self.ctx.config.get("CpoName")
        if not cpo_name:
            log.warning("no charge point certificate renewal (%s): CpoName is not set", why)
            return
        self._job += 1
        replaced = None if self.pending is None else self.pending[1]
        self.pending = (self._job, None)
        self._forget(replaced)
        identity = self.ctx.settings.identity
        common_name = str(identity.get("chargePointSerialNumber") or self.ctx.settings.charge_point_id)
        log.info("new key pair for the charge point certificate (%s)", why)
        self.ctx.emit(GenerateKeyPair(self._job, cpo_name, common_name))

    def key_pair_generated(self, job: int, csr: str, public_key: str, reason: str) -> None:
        """The shell's KeyPairGenerated: send the CSR (A02.FR.03, A03.FR.03)."""
        if self.pending is None or self.pending[0] != job:
            log.info("ignoring the key pair of job %s", job)
            if public_key:
                try:
                    self._forget(key_id(public_key))
                except CertificateError:
                    pass
            return
        if not csr:
            log.error("no key pair / CSR for the charge point certificate: %s", reason)
            self.pending = None
            return
        try:
            key = key_id(public_key)
        except CertificateError as exc:
            log.error("the shell's public key does not load: %s", exc)
            self.pending = None
            return
        self.pending = (job, key)
        self._save_state()
        self.ctx.call(SignCertificateRequest(csr=csr))

    @on_result(SignCertificateRequest)
    def _sign_result(self, call: OutgoingCall, response: SignCertificateResponse) -> None:
        if response.status is GenericStatusEnumType.Accepted:
            log.info("SignCertificate Accepted: the certificate will come in CertificateSigned.req")
            return
        # A02/A03 error handling: the operator investigates and re-runs A02; no retry here.
        log.error("SignCertificate Rejected by the Central System: no new charge point certificate")
        self._drop_pending()

    @on_failure(SignCertificateRequest)
    def _sign_failed(self, call: OutgoingCall, reason: str) -> None:
        log.error("SignCertificate failed (%s): no new charge point certificate", reason)
        self._drop_pending()

    def _drop_pending(self) -> None:
        """No certificate will come for the pending key pair: it goes, its private key too."""
        key = None if self.pending is None else self.pending[1]
        self.pending = None
        self._save_state()
        self._forget(key)

    def _forget(self, key: str | None) -> None:
        """Delete the private key ``key`` (the ForgetKey effect) unless a kept certificate or the
        pending key pair still uses it; keys of the config file are never deleted."""
        if key is None or any(entry.key_id == key for entry in self.entries):
            return
        if self.pending is not None and self.pending[1] == key:
            return
        self.ctx.emit(ForgetKey(key))

    # -- CertificateSigned (§5.1) -----------------------------------------------------------------------
    @answers(CertificateSignedRequest)
    def _certificate_signed(self, request: CertificateSignedRequest, call: Call) -> CertificateSignedResponse:
        text = request.certificate_chain
        limit = self.ctx.config.get_int("CertificateSignedMaxChainSize")
        now = self.ctx.ocpp_time()
        try:
            if limit > 0 and len(text) > limit:
                raise CertificateError(f"{len(text)} characters, CertificateSignedMaxChainSize is {limit}")
            identity = self.ctx.settings.identity
            signed = check_charge_point_certificate(
                text,
                key=None if self.pending is None else self.pending[1],
                organization=self.ctx.config.get("CpoName"),
                common_name=str(identity.get("chargePointSerialNumber") or self.ctx.settings.charge_point_id),
                roots=self.ctx.csms_roots(),
                at=now,
            )
        except CertificateError as exc:
            log.error("CertificateSigned Rejected: %s (A02.FR.07)", exc)
            self.ctx.tell("security_event", INVALID, str(exc))
            return CertificateSignedResponse(status=CertificateSignedStatusEnumType.Rejected)
        self._seq += 1
        entry = Entry(signed.chain_pem, signed.key_id, signed.not_before, signed.not_after, self._seq)
        for index, old in enumerate(self.entries):
            if old.replaced_at is None:
                self.entries[index] = Entry(
                    old.chain_pem, old.key_id, old.not_before, old.not_after, old.seq, now, old.from_file
                )
                if not old.from_file:
                    self.ctx.persist(KIND, f"{old.seq:08d}", self.entries[index].to_record())
        self.entries.append(entry)
        self.ctx.persist(KIND, f"{entry.seq:08d}", entry.to_record())
        self.pending = None
        self._save_state()
        self._prune()
        log.info(
            "charge point certificate installed, valid %s .. %s",
            signed.leaf.not_valid_before_utc,
            signed.leaf.not_valid_after_utc,
        )
        self.ctx.after_reply.append(self._arm)
        return CertificateSignedResponse(status=CertificateSignedStatusEnumType.Accepted)

    # -- timers: activation (A02.FR.08), renewal (A03.FR.02), fallback kept one month (A02.FR.10) --------
    def _arm(self) -> None:
        """Switch to the certificate in use (reconnecting at profile 3), arm the next activation and
        the renewal, start a renewal that is due."""
        ctx = self.ctx
        now = ctx.ocpp_time()
        self._prune()
        key = self._current_key()
        if key != self._in_use_key:
            self._in_use_key = key
            if key is not None and ctx.config.get_int("SecurityProfile") == 3 and ctx.connected:
                ctx.emit(Reconnect("a new ChargePointCertificate is in use (A02.FR.08)"))
        later = [e.not_before for e in self.entries if e.not_before > now]
        offset = ctx.clock_offset_s
        if later:
            ctx.timers.set(ACTIVATE_TIMER, min(later) - offset, lambda _: self._arm())
        else:
            ctx.timers.cancel(ACTIVATE_TIMER)
        entry = self.in_use()
        if entry is None:
            ctx.timers.cancel(RENEW_TIMER)
            return
        due = entry.not_after - MONTH_S
        if now < due:
            ctx.timers.set(RENEW_TIMER, due - offset, lambda _: self._arm())
            return
        ctx.timers.cancel(RENEW_TIMER)
        newer = any(e.not_before > entry.not_before for e in self.entries)
        if entry.key_id in self.renewal_asked or self.pending is not None or newer:
            return
        if not ctx.accepted:
            return  # registration_accepted arms again
        self.renewal_asked |= {entry.key_id}
        self._save_state()
        self.renew("A03: the certificate in use expires within a month")

    def _prune(self) -> None:
        """Drop certificates replaced more than a month ago, or expired and replaced (A02.FR.10)."""
        now = self.ctx.ocpp_time()
        current = self.in_use()
        kept = []
        dropped: list[str] = []
        for entry in self.entries:
            replaced = entry.replaced_at
            if current is None or entry is current or replaced is None:
                kept.append(entry)
                continue
            if now - replaced > MONTH_S or now > entry.not_after:
                if not entry.from_file:
                    self.ctx.persist(KIND, f"{entry.seq:08d}", None)
                    dropped.append(entry.key_id)
                continue
            kept.append(entry)
        self.entries = kept
        for key in dropped:
            self._forget(key)

    def _save_state(self) -> None:
        pending = None if self.pending is None else self.pending[1]
        self.ctx.persist(KIND, "state", {"pending": pending, "renewalAsked": sorted(self.renewal_asked)})
