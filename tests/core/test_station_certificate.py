"""The ChargePointCertificate (security whitepaper edition 3, A02, A03, A05.FR.04; OCTT TC_074_CS,
TC_077_CS) in the engine, with real keys and certificates: the key pair and CSR come from the shell's
:class:`~ocpp_station.transport.keys.KeyStore` (in memory here), the certificates from a CA made in the
test and the development CSMS's signer (:class:`~ocpp_station.sim.signing.SigningCa`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ocpp_station.core.certificates import key_id
from ocpp_station.core.effects import ForgetKey, GenerateKeyPair, Reconnect, SendFrame
from ocpp_station.core.events import KeyPairGenerated
from ocpp_station.core.features.station_certificate import MONTH_S
from ocpp_station.core.settings import EngineSettings
from ocpp_station.sim.signing import SigningCa
from ocpp_station.transport.keys import KeyStore
from tests.core.harness import T0, Harness
from tests.pki import NOW, issue

CPO = "Test CPO"
KEY = "0123456789abcdef0123456789abcdef"
TLS = EngineSettings(tls=True)
DAY = dt.timedelta(days=1)


@dataclass
class Setup:
    h: Harness
    keys: KeyStore
    ca: SigningCa
    public_keys: list[str] = field(default_factory=list)


def station(profile: str = "2", *, cpo_name: str = CPO) -> Setup:
    """A station at ``profile`` with the CPO root installed (InstallCertificate) and CpoName set."""
    root = issue("CPO Root CA")
    config = {"AuthorizationKey": KEY, "SecurityProfile": "1"}
    if cpo_name:
        config["CpoName"] = cpo_name
    h = Harness(TLS, config=config)
    h.responders["SignCertificate"] = lambda p: {"status": "Accepted"}
    answer = h.csms_result(
        "InstallCertificate", {"certificateType": "CentralSystemRootCertificate", "certificate": root.pem}
    )
    assert answer == {"status": "Accepted"}
    if profile == "2":
        assert change(h, "SecurityProfile", "2") == "Accepted"
    return Setup(h, KeyStore(None), SigningCa(root.certificate, root.key))


def change(h: Harness, key: str, value: str) -> str:
    return str(h.csms_result("ChangeConfiguration", {"key": key, "value": value})["status"])


def trigger(h: Harness) -> str:
    answer = h.csms_result("ExtendedTriggerMessage", {"requestedMessage": "SignChargePointCertificate"})
    return str(answer["status"])


def shell_makes_key_pair(s: Setup) -> str:
    """What the shell does for the last GenerateKeyPair: the CSR it feeds back (and returns)."""
    (effect,) = [e for e in s.h.effects if isinstance(e, GenerateKeyPair)][-1:]
    csr, public = s.keys.generate(effect.organization, effect.common_name)
    s.public_keys.append(public)
    s.h.feed(KeyPairGenerated(effect.job, csr, public))
    return csr


def renew(s: Setup) -> str:
    """TC_074_CS steps 1-4: the trigger, the key pair, SignCertificate Accepted; the CSR."""
    assert trigger(s.h) == "Accepted"
    csr = shell_makes_key_pair(s)
    assert s.h.sent("SignCertificate")[-1] == {"csr": csr}
    return csr


def pending_key(s: Setup) -> str:
    """The key id of the last key pair the shell made (its public key fed back in KeyPairGenerated)."""
    return key_id(s.public_keys[-1])


def signed(s: Setup, chain: str) -> str:
    return str(s.h.csms_result("CertificateSigned", {"certificateChain": chain})["status"])


def security_events(h: Harness, since: int = 0) -> list[str]:
    return [p["type"] for a, p in h.calls[since:] if a == "SecurityEventNotification"]


def test_TC_074_CS_update_charge_point_certificate_by_request_of_csms() -> None:
    s = station()
    h = s.h
    mark = len(h.effects)
    # Steps 1-2: Accepted; the key pair is made after the conf (A02.FR.02).
    assert trigger(h) == "Accepted"
    after = h.effects[mark:]
    conf = next(i for i, e in enumerate(after) if isinstance(e, SendFrame) and b'"Accepted"' in e.data)
    (generate,) = [e for e in after if isinstance(e, GenerateKeyPair)]
    assert conf < after.index(generate)
    assert (generate.organization, generate.common_name) == (CPO, "CP_1")
    # Step 3: SignCertificate.req with a PEM CSR (A02.FR.03), O = CpoName (A02.FR.13), CN = serial number.
    csr_pem = shell_makes_key_pair(s)
    (request,) = h.sent("SignCertificate")
    csr = x509.load_pem_x509_csr(request["csr"].encode())
    assert request["csr"] == csr_pem and csr.is_signature_valid
    assert csr.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == CPO
    assert csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "CP_1"
    public = csr.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey) and public.key_size >= 224  # A00.FR.503
    # Steps 5-6: the CA's certificate, Accepted.
    chain = s.ca.sign(request["csr"], now=NOW)
    assert signed(s, chain) == "Accepted"
    entry = h.engine.station_certificate.in_use()
    assert entry is not None and entry.chain_pem.startswith(chain.split("-----END CERTIFICATE-----")[0])
    # Step 7 (and TC_083_CS 2 -> 3): profile 3 is now possible (A05.FR.04) and reconnects with it.
    mark = len(h.effects)
    assert change(h, "SecurityProfile", "3") == "Accepted"
    assert [e for e in h.effects[mark:] if isinstance(e, Reconnect)]
    # A02.FR.05: the private key is in no frame.
    assert not [e for e in h.effects if isinstance(e, SendFrame) and b"PRIVATE KEY" in e.data]


def test_A02_at_profile_3_a_new_certificate_reconnects_with_it() -> None:
    """TC_074_CS step 7: at profile 3, the station connects again with the new certificate."""
    s = station()
    csr = renew(s)
    assert signed(s, s.ca.sign(csr, now=NOW)) == "Accepted"
    assert change(s.h, "SecurityProfile", "3") == "Accepted"
    s.h.disconnect()
    s.h.reconnect()
    csr = renew(s)
    mark = len(s.h.effects)
    assert signed(s, s.ca.sign(csr, now=NOW + dt.timedelta(minutes=1))) == "Accepted"  # newer, valid now
    reasons = [e.reason for e in s.h.effects[mark:] if isinstance(e, Reconnect)]
    assert reasons == ["a new ChargePointCertificate is in use (A02.FR.08)"]


def test_A02_prerequisite_without_cpo_name_the_trigger_is_rejected() -> None:
    s = station(cpo_name="")
    mark = len(s.h.effects)
    assert trigger(s.h) == "Rejected"
    assert not [e for e in s.h.effects[mark:] if isinstance(e, GenerateKeyPair)]


def test_A05_FR_04_profile_3_without_a_charge_point_certificate_is_rejected() -> None:
    s = station()
    assert change(s.h, "SecurityProfile", "3") == "Rejected"
    assert s.h.engine.config.get("SecurityProfile") == "2"


def _other_key_chain(s: Setup) -> str:
    other = KeyStore(None)
    csr, _ = other.generate(CPO, "CP_1")
    return s.ca.sign(csr, now=NOW)


def _certificate(s: Setup, csr_pem: str, **changes: object) -> str:
    """A certificate for the CSR's key with one property changed (the test's own CA)."""
    csr = x509.load_pem_x509_csr(csr_pem.encode())
    subject = changes.get("subject", csr.subject)
    issuer = changes.get("issuer", None)
    signer = s.ca if issuer is None else issuer
    assert isinstance(signer, SigningCa)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)  # type: ignore[arg-type]
        .issuer_name(signer.certificate.subject)
        .public_key(csr.public_key())  # type: ignore[arg-type]
        .serial_number(x509.random_serial_number())
        .not_valid_before(changes.get("not_before", NOW - DAY))  # type: ignore[arg-type]
        .not_valid_after(changes.get("not_after", NOW + 365 * DAY))  # type: ignore[arg-type]
        .add_extension(
            x509.BasicConstraints(ca=bool(changes.get("ca", False)), path_length=None), critical=True
        )
    )
    from cryptography.hazmat.primitives.serialization import Encoding

    return builder.sign(signer.key, hashes.SHA256()).public_bytes(Encoding.PEM).decode()


def _name(o: str, cn: str) -> x509.Name:
    return x509.Name(
        [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o), x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    )


@pytest.mark.parametrize(
    "case",
    ["wrong key", "expired", "untrusted", "other CPO", "other station", "a CA", "too long", "not PEM"],
)
def test_TC_077_CS_invalid_charge_point_certificate_security_event(case: str) -> None:
    """A02.FR.06-07: Rejected, discarded, and the security event InvalidChargePointCertificate."""
    s = station()
    csr = renew(s)
    other = issue("Other Root CA")
    chain = {
        "wrong key": lambda: _other_key_chain(s),
        "expired": lambda: _certificate(s, csr, not_before=NOW - 400 * DAY, not_after=NOW - DAY),
        "untrusted": lambda: _certificate(s, csr, issuer=SigningCa(other.certificate, other.key)),
        "other CPO": lambda: _certificate(s, csr, subject=_name("Another CPO", "CP_1")),
        "other station": lambda: _certificate(s, csr, subject=_name(CPO, "CP_2")),
        "a CA": lambda: _certificate(s, csr, ca=True),
        "too long": lambda: s.ca.sign(csr, now=NOW) + "\n" * 10000,
        "not PEM": lambda: (
            "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n"
        ),
    }[case]()
    if case == "too long":
        chain = chain[:10000]
        s.h.engine.config.pin("CertificateSignedMaxChainSize", "1000")
    mark = s.h.mark()
    assert signed(s, chain) == "Rejected"
    assert security_events(s.h, mark) == ["InvalidChargePointCertificate"]
    assert s.h.engine.station_certificate.in_use() is None
    assert change(s.h, "SecurityProfile", "3") == "Rejected"


def test_A02_FR_06_a_certificate_without_a_pending_key_pair_is_rejected() -> None:
    s = station()
    mark = s.h.mark()
    assert signed(s, _other_key_chain(s)) == "Rejected"
    assert security_events(s.h, mark) == ["InvalidChargePointCertificate"]


def test_A02_error_handling_sign_certificate_rejected_is_not_retried() -> None:
    s = station()
    s.h.responders["SignCertificate"] = lambda p: {"status": "Rejected"}
    csr = renew(s)  # (the Rejected is answered at once: the pending key pair is gone already)
    mark = len(s.h.effects)
    s.h.advance(3600)
    assert not [e for e in s.h.effects[mark:] if isinstance(e, GenerateKeyPair)]
    assert signed(s, s.ca.sign(csr, now=NOW)) == "Rejected"  # the key pair was given up
    # ... and its private key deleted (ForgetKey): no certificate will ever use it.
    assert [e for e in s.h.effects if isinstance(e, ForgetKey)] == [ForgetKey(pending_key(s))]


def test_A02_FR_08_a_certificate_not_yet_valid_is_used_from_its_not_before() -> None:
    s = station()
    csr = renew(s)
    assert signed(s, s.ca.sign(csr, now=NOW + 2 * DAY)) == "Accepted"
    assert s.h.engine.station_certificate.in_use() is None  # not yet
    assert change(s.h, "SecurityProfile", "3") == "Rejected"
    s.h.advance(2 * 86400)
    assert s.h.engine.station_certificate.in_use() is not None
    assert change(s.h, "SecurityProfile", "3") == "Accepted"


def test_A02_FR_09_10_newest_valid_wins_the_old_one_kept_a_month() -> None:
    s = station()
    first = renew(s)
    assert signed(s, s.ca.sign(first, now=NOW - DAY)) == "Accepted"
    old = s.h.engine.station_certificate.in_use()
    second = renew(s)
    assert signed(s, s.ca.sign(second, now=NOW)) == "Accepted"
    feature = s.h.engine.station_certificate
    new = feature.in_use()
    assert old is not None and new is not None and new.key_id != old.key_id
    assert len(feature.entries) == 2  # the old one as fallback
    mark = len(s.h.effects)
    s.h.advance(MONTH_S + 3600)
    s.h.csms_result("ExtendedTriggerMessage", {"requestedMessage": "Heartbeat"})
    feature._prune()
    assert [e.key_id for e in feature.entries] == [new.key_id]
    s.h.csms_result("ExtendedTriggerMessage", {"requestedMessage": "Heartbeat"})  # effects out
    # The dropped certificate's private key goes with it; the one in use stays.
    assert [e for e in s.h.effects[mark:] if isinstance(e, ForgetKey)] == [ForgetKey(old.key_id)]


def test_A02_a_new_key_pair_asked_for_replaces_the_pending_one_whose_key_goes() -> None:
    s = station()
    renew(s)
    pending = s.h.engine.station_certificate.pending
    assert pending is not None and pending[1] is not None
    second = renew(s)  # the CSMS asks again before any CertificateSigned
    assert [e for e in s.h.effects if isinstance(e, ForgetKey)] == [ForgetKey(pending[1])]
    assert signed(s, s.ca.sign(second, now=NOW)) == "Accepted"


def test_A03_FR_02_renewal_one_month_before_expiry_once() -> None:
    s = station()
    csr = renew(s)
    chain = _certificate(s, csr, not_after=NOW + 40 * DAY)
    assert signed(s, chain) == "Accepted"
    mark = len(s.h.effects)
    s.h.advance(9 * 86400)
    assert not [e for e in s.h.effects[mark:] if isinstance(e, GenerateKeyPair)]
    s.h.advance(2 * 86400)  # 29 days before expiry
    (generate,) = [e for e in s.h.effects[mark:] if isinstance(e, GenerateKeyPair)]
    assert generate.organization == CPO
    shell_makes_key_pair(s)
    assert len(s.h.sent("SignCertificate")) == 2
    s.h.advance(20 * 86400)  # no certificate came: not asked again (A03 error handling)
    assert len([e for e in s.h.effects[mark:] if isinstance(e, GenerateKeyPair)]) == 1


def test_A02_the_certificate_survives_a_restart() -> None:
    s = station()
    csr = renew(s)
    assert signed(s, s.ca.sign(csr, now=NOW)) == "Accepted"
    key = s.h.engine.station_certificate.in_use()
    again = s.h.reboot(restore=True)
    entry = again.engine.station_certificate.in_use()
    assert entry is not None and key is not None and entry.key_id == key.key_id
    assert again.records["station_certificates"]


def test_2_6_4_a_certificate_installed_at_manufacturing_is_used_until_the_csms_installs_one() -> None:
    root = issue("CPO Root CA")
    keys = KeyStore(None)
    csr, _ = keys.generate(CPO, "CP_1")
    factory = SigningCa(root.certificate, root.key).sign(csr, now=NOW - 10 * DAY)
    settings = EngineSettings(tls=True, charge_point_certificate=factory)
    h = Harness(settings, config={"AuthorizationKey": KEY, "CpoName": CPO})
    entry = h.engine.station_certificate.in_use()
    assert entry is not None and entry.from_file
    assert h.engine.ctx.charge_point_certificate() is not None
    assert T0 > 0
