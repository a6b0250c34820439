"""The OCTT 1.6 security test cases (OCTT test case document FINAL 2024-04, §2.24 "Security") as engine
tests, each named after its case and following its steps as closely as the station allows. The cases that
need a real connection (HTTP Basic header, TLS handshake) are end to end in
``tests/transport/test_octt_security_e2e.py``.

Every security case of the document, for a Charge Point (the ``_CSMS`` twins test a Central System: not
applicable to this station):

============  =======================================================  ==========================================
TC id         case                                                     here
============  =======================================================  ==========================================
TC_073_CS     Update Charge Point Password for HTTP Basic Auth         tested: engine (this file) and end to end
TC_074_CS     Update Charge Point Certificate by request of CSMS       tested: engine
                                                                       (tests/core/test_station_certificate.py)
                                                                       and end to end with mutual TLS
                                                                       (tests/transport/
                                                                       test_station_certificate_e2e.py)
TC_075_1_CS   Install a certificate - ManufacturerRootCertificate      tested (this file)
TC_075_2_CS   Install a certificate - CentralSystemRootCertificate     tested (this file)
TC_076_CS     Delete a specific certificate                            tested (this file), profiles 1 and 2
TC_077_CS     Invalid ChargePointCertificate Security Event            tested: engine, eight invalid certificates
                                                                       (tests/core/test_station_certificate.py)
TC_078_CS     Invalid CentralSystemCertificate Security Event          tested (this file): Rejected, then
                                                                       SecurityEventNotification
                                                                       InvalidCentralSystemCertificate
TC_079_CS     Get Security Log                                         tested: engine (this file) and end to end
                                                                       over FTP
TC_080_CS     Secure Firmware Update                                   tested: engine (this file,
                                                                       tests/core/test_signed_firmware.py) and
                                                                       end to end over HTTP (test_signed_
                                                                       firmware_e2e.py, EC and RSA keys)
TC_081_CS     Secure Firmware Update - Invalid Signature               tested: engine (this file) and end to end
                                                                       over FTP
TC_082_CS     (Central Smart Charging - TxDefaultProfile, not a        not a security case (smart charging, in
              security case despite its number)                        the §2.20 cases)
TC_083_CS     Upgrade security profile                                 tested: 1 -> 2 (engine and end to end over
                                                                       TLS); 2 -> 3 after A02 (TC_074_CS tests,
                                                                       engine and end to end)
TC_084_CS     Downgrade security profile - Rejected                    tested: 2 -> 1 (engine and end to end);
                                                                       3 -> 2 (test_TC_084_CS_from_profile_3)
TC_085_CS     Basic Authentication - valid username/password           tested end to end (the header is the shell's)
TC_086_CS     TLS - server-side certificate - valid certificate        tested end to end (profile 2, each required
                                                                       TLS 1.2 suite, ECDSA and RSA)
TC_087_CS     TLS - client-side certificate - valid certificate        tested end to end (tests/transport/
                                                                       test_station_certificate_e2e.py): a
                                                                       certificate from A02 and one installed
                                                                       at manufacturing
============  =======================================================  ==========================================

Memory state CertificateInstalled (Table 114) is :func:`certificate_installed`. Its step 2 says the
GetInstalledCertificateIds.conf "should be Accepted"; with nothing installed the station answers NotFound,
as the whitepaper requires (M03.FR.02), so the state takes either.
"""

from __future__ import annotations

import pytest

from ocpp_station.core.effects import Reboot, Reconnect, SendFrame, StoreConfigValue, UploadLog
from ocpp_station.core.events import LogUploaded
from ocpp_station.core.settings import EngineSettings
from tests.core.harness import Harness
from tests.core.test_certificates import listed, reference
from tests.pki import Issued, pki

CSRC = "CentralSystemRootCertificate"
MRC = "ManufacturerRootCertificate"
KEY = "0123456789abcdef0123456789abcdef"
#: TC_073_CS step 1: "OCA_OCTT_admin_test" hex encoded.
OCTT_KEY = "4F43415F4F4354545F61646D696E5F74657374"
#: A station whose Central System URL is wss:// (profiles 2 and 3, A00.FR.311).
TLS = EngineSettings(tls=True)


def change(h: Harness, key: str, value: str) -> str:
    return str(h.csms_result("ChangeConfiguration", {"key": key, "value": value})["status"])


def own_hash_data(certificate: Issued, issuer: Issued | None = None) -> dict[str, str]:
    """The OCTT's "own calculation of the certificateHashData" (an OCSP request, RFC 6960 §4.1.1)."""
    return reference(certificate.certificate, (issuer or certificate).certificate)


def same(a: dict[str, str], b: dict[str, str]) -> bool:
    """CertificateHashData compared as CiStrings (§6.1)."""
    return {k: v.lower() for k, v in a.items()} == {k: v.lower() for k, v in b.items()}


def certificate_installed(h: Harness, certificate: Issued, use: str = CSRC) -> None:
    """OCTT memory state CertificateInstalled (Table 114)."""
    result = listed(h, use)
    assert result["status"] in ("Accepted", "NotFound")  # NotFound when none: M03.FR.02
    if any(same(d, own_hash_data(certificate)) for d in result.get("certificateHashData", [])):
        return
    answer = h.csms_result("InstallCertificate", {"certificateType": use, "certificate": certificate.pem})
    assert answer == {"status": "Accepted"}


def security_events(h: Harness, since: int = 0) -> list[str]:
    return [p["type"] for a, p in h.calls[since:] if a == "SecurityEventNotification"]


# -- 2.24.1 Secure connection setup --------------------------------------------------------------------


def test_TC_073_CS_update_charge_point_password_for_http_basic_authentication() -> None:
    """A01.FR.01-03: Accepted, then the station disconnects and reconnects with the new key (the header
    itself: tests/transport/test_octt_security_e2e.py)."""
    h = Harness(config={"AuthorizationKey": KEY, "SecurityProfile": "1"})
    mark, calls = len(h.effects), h.mark()
    # Steps 1-2.
    assert change(h, "AuthorizationKey", OCTT_KEY) == "Accepted"
    after = h.effects[mark:]
    assert StoreConfigValue("AuthorizationKey", OCTT_KEY) in after
    # Step 3: the conf goes out, then the connection is closed and made again, with the new key.
    (reconnect,) = [e for e in after if isinstance(e, Reconnect)]
    conf = next(i for i, e in enumerate(after) if isinstance(e, SendFrame) and b'"Accepted"' in e.data)
    assert conf < after.index(reconnect)
    assert h.engine.config.get("AuthorizationKey") == OCTT_KEY
    h.disconnect()
    h.reconnect()
    assert h.engine.config.get("SecurityProfile") == "1"
    assert security_events(h, calls) == ["ReconfigurationOfSecurityParameters"]  # §8


def test_TC_075_1_CS_install_a_manufacturer_root_certificate() -> None:
    p = pki()
    h = Harness()
    # Steps 1-2.
    answer = h.csms_result("InstallCertificate", {"certificateType": MRC, "certificate": p.root.pem})
    assert answer == {"status": "Accepted"}
    # Steps 3-4: present, by the OCTT's own calculation of the hash data.
    result = listed(h, MRC)
    assert result["status"] == "Accepted"
    assert [d for d in result["certificateHashData"] if same(d, own_hash_data(p.root))]
    assert listed(h, CSRC)["status"] == "NotFound"  # installed for its use only


def test_TC_075_2_CS_install_a_central_system_root_certificate() -> None:
    p = pki()
    h = Harness()
    answer = h.csms_result("InstallCertificate", {"certificateType": CSRC, "certificate": p.root.pem})
    assert answer == {"status": "Accepted"}
    result = listed(h, CSRC)
    assert result["status"] == "Accepted"
    assert [d for d in result["certificateHashData"] if same(d, own_hash_data(p.root))]


@pytest.mark.parametrize("profile", ["1", "2"])
def test_TC_076_CS_delete_a_specific_certificate(profile: str) -> None:
    """At profile 2 the station also holds the root its connection is validated with (installed at
    manufacturing, §2.6.4): only the configured root of the OCTT goes (the last one would be kept,
    M04.FR.06)."""
    p = pki()
    h = Harness(TLS, config={"AuthorizationKey": KEY})
    if profile == "2":
        certificate_installed(h, p.other_root)
        assert change(h, "SecurityProfile", "2") == "Accepted"
    else:
        assert change(h, "SecurityProfile", "1") == "Accepted"
    certificate_installed(h, p.root)  # memory state CertificateInstalled
    # Steps 1-2.
    before = listed(h, CSRC)
    assert before["status"] == "Accepted"
    (data,) = [d for d in before["certificateHashData"] if same(d, own_hash_data(p.root))]
    # Steps 3-4: the configured root, with the hashAlgorithm of step 2.
    answer = h.csms_result("DeleteCertificate", {"certificateHashData": data})
    assert answer == {"status": "Accepted"}
    # Steps 5-6: gone.
    after = listed(h, CSRC)
    assert not [d for d in after.get("certificateHashData", []) if same(d, own_hash_data(p.root))]
    assert after["status"] == ("NotFound" if profile == "1" else "Accepted")


# -- 2.24.2 Security event/logging ---------------------------------------------------------------------


@pytest.mark.parametrize("case", ["expired", "not yet valid", "not a certificate"])
def test_TC_078_CS_invalid_central_system_certificate_security_event(case: str) -> None:
    p = pki()
    text = {
        "expired": p.expired.pem,
        "not yet valid": p.future.pem,
        "not a certificate": "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n",
    }[case]
    h = Harness()
    mark = h.mark()
    # Steps 1-2.
    answer = h.csms_result("InstallCertificate", {"certificateType": CSRC, "certificate": text})
    assert answer == {"status": "Rejected"}
    # Steps 3-4.
    assert security_events(h, mark) == ["InvalidCentralSystemCertificate"]


def test_TC_078_CS_steps_1_2_the_invalid_certificate_is_rejected() -> None:
    """Steps 1-2 of TC_078_CS on their own: the invalid certificates are Rejected."""
    p = pki()
    h = Harness()
    for text in (p.expired.pem, p.future.pem):
        answer = h.csms_result("InstallCertificate", {"certificateType": CSRC, "certificate": text})
        assert answer == {"status": "Rejected"}
    assert listed(h, CSRC)["status"] == "NotFound"


def test_TC_079_CS_get_security_log() -> None:
    """N01: GetLog SecurityLog to the configured location; Uploading, then Uploaded once the shell
    uploaded it (the upload itself: tests/transport/test_octt_security_e2e.py)."""
    h = Harness(config={"AuthorizationKey": KEY, "SecurityProfile": "1"})  # "supports a security profile"
    h.responders["LogStatusNotification"] = lambda p: {}
    location = "ftp://user:password@ftp.example.com/logs/"
    mark, effects = h.mark(), len(h.effects)
    # Steps 1-2.
    answer = h.csms_result(
        "GetLog", {"logType": "SecurityLog", "requestId": 1, "log": {"remoteLocation": location}}
    )
    assert answer["status"] == "Accepted"
    (upload,) = [e for e in h.effects[effects:] if isinstance(e, UploadLog)]
    assert (upload.log_type, upload.location, upload.file_name) == (
        "SecurityLog",
        location,
        answer["filename"],
    )
    # Step 3.
    assert [p["status"] for a, p in h.calls[mark:] if a == "LogStatusNotification"] == ["Uploading"]
    # Step 5, once uploaded.
    h.feed(LogUploaded(upload.job, "Uploaded"))
    assert [p["status"] for a, p in h.calls[mark:] if a == "LogStatusNotification"] == [
        "Uploading",
        "Uploaded",
    ]


# -- Upgrade / downgrade the security profile ----------------------------------------------------------


def test_TC_083_CS_upgrade_security_profile_1_to_2() -> None:
    """Prerequisite: connected with profile 1; memory state CertificateInstalled. The station reconnects
    by itself (A05.FR.05-07), so steps 3-8 (Reset) are not needed: it answers Accepted, not
    RebootRequired."""
    p = pki()
    h = Harness(TLS, config={"AuthorizationKey": KEY, "SecurityProfile": "1"})
    certificate_installed(h, p.root)
    mark = len(h.effects)
    # Steps 1-2: one level higher than the configured profile.
    assert change(h, "SecurityProfile", "2") == "Accepted"
    assert StoreConfigValue("SecurityProfile", "2") in h.effects[mark:]
    assert [e.reason for e in h.effects[mark:] if isinstance(e, Reconnect)] == [
        "SecurityProfile raised (A05)"
    ]
    h.disconnect()
    h.reconnect()
    # Steps 3-8, were the tool to send them anyway: a Hard reset keeps profile 2.
    assert h.csms_result("Reset", {"type": "Hard"}) == {"status": "Accepted"}
    h.advance(5)
    assert h.effects_of(Reboot)
    again = h.reboot()
    assert again.engine.config.get("SecurityProfile") == "2"
    assert again.sent("BootNotification")
    connectors = {status["connectorId"] for status in again.sent("StatusNotification")}
    assert connectors == set(range(again.engine.settings.connector_count + 1))
    assert all(again.statuses(c)[-1] == "Available" for c in connectors)


def test_TC_084_CS_downgrade_security_profile_rejected() -> None:
    """Prerequisite: connected with profile 2 (a valid CSMS root installed, a wss:// URL)."""
    p = pki()
    h = Harness(TLS, config={"AuthorizationKey": KEY, "SecurityProfile": "1"})
    certificate_installed(h, p.root)
    assert change(h, "SecurityProfile", "2") == "Accepted"
    mark, calls = len(h.effects), h.mark()
    # Steps 1-2: one level lower.
    assert change(h, "SecurityProfile", "1") == "Rejected"
    assert h.engine.config.get("SecurityProfile") == "2"
    assert not [e for e in h.effects[mark:] if isinstance(e, (Reconnect, StoreConfigValue))]
    assert security_events(h, calls) == []  # nothing was reconfigured


# -- TC_080_CS / TC_081_CS: the secure firmware update (L01) ---------------------------------------------
def _signed_update(h: Harness, signature_ok: bool) -> int:
    """Steps 1-7: SignedUpdateFirmware Accepted, downloaded, the signature checked by the shell."""
    from ocpp_station.core.effects import DownloadFirmware
    from ocpp_station.core.events import FirmwareDownloaded, FirmwareVerified
    from tests.core.test_signed_firmware import last, signed_update

    assert signed_update(h) == "Accepted"
    job: int = last(h, DownloadFirmware).job
    h.feed(FirmwareDownloaded(job, ok=True))
    h.feed(FirmwareVerified(job, ok=signature_ok, reason="" if signature_ok else "signature does not match"))
    return job


def test_TC_080_CS_secure_firmware_update() -> None:
    from ocpp_station.core.events import Booted, Connected, FirmwareInstalled
    from tests.core.test_signed_firmware import settings, signed_statuses

    h = Harness(settings())
    mark = h.mark()
    job = _signed_update(h, signature_ok=True)
    h.feed(FirmwareInstalled(job, ok=True, version="3.0"))
    assert signed_statuses(h, mark) == [
        "Downloading",
        "Downloaded",
        "SignatureVerified",
        "Installing",
        "InstallRebooting",  # L01.FR.15 (not in the tool's list: it ignores what it does not expect)
    ]
    after = h.reboot(restore=True, connect=False)
    after.feed(Booted())
    after.feed(Connected())
    actions = after.actions()
    assert actions[0] == "BootNotification"  # step 11
    assert "SecurityEventNotification" in actions  # step 13: FirmwareUpdated
    assert after.statuses(1) == ["Available"]  # step 15
    assert signed_statuses(after) == ["Installed"]  # step 17


def test_TC_081_CS_secure_firmware_update_invalid_signature() -> None:
    from tests.core.test_signed_firmware import security_events, settings, signed_statuses

    h = Harness(settings())
    mark = h.mark()
    _signed_update(h, signature_ok=False)
    assert signed_statuses(h, mark) == ["Downloading", "Downloaded", "InvalidSignature"]
    assert security_events(h, mark) == ["InvalidFirmwareSignature"]


def test_TC_084_CS_from_profile_3_downgrade_rejected() -> None:
    """Prerequisite: connected with profile 3 (a ChargePointCertificate from A02, tests/core/
    test_station_certificate.py); one level lower is Rejected (A05.FR.01)."""
    from tests.core.test_station_certificate import renew, signed, station
    from tests.pki import NOW

    s = station()
    csr = renew(s)
    assert signed(s, s.ca.sign(csr, now=NOW)) == "Accepted"
    assert change(s.h, "SecurityProfile", "3") == "Accepted"
    mark = len(s.h.effects)
    assert change(s.h, "SecurityProfile", "2") == "Rejected"
    assert s.h.engine.config.get("SecurityProfile") == "3"
    assert not [e for e in s.h.effects[mark:] if isinstance(e, (Reconnect, StoreConfigValue))]
