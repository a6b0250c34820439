"""The certificate store in the engine (OCPP 1.6 security whitepaper edition 3: §2.6.4, §6.1, use
cases M03, M04, M05, A05.FR.03-04; ``core/certificates.py``, ``core/features/certificates.py``), with a
real PKI made by ``cryptography`` (``tests/pki.py``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509 import ocsp

from ocpp_station.core.certificates import CertificateError, initial_store
from ocpp_station.core.effects import Reconnect
from ocpp_station.core.engine import Engine
from ocpp_station.core.model import Restored
from ocpp_station.core.settings import EngineSettings
from ocpp_station.storage.base import KINDS
from ocpp_station.storage.sqlite import SqliteStore
from ocpp_station.transport.view import EngineView
from ocpp_station.wire.messages import CertificateUseEnumType
from tests.core.harness import Harness
from tests.pki import Issued, pki

CSRC = "CentralSystemRootCertificate"
MRC = "ManufacturerRootCertificate"
KEY = "0123456789abcdef0123456789abcdef"
OCSP_HASHES = {"SHA256": hashes.SHA256(), "SHA384": hashes.SHA384(), "SHA512": hashes.SHA512()}
#: A station whose Central System URL is wss:// (profiles 2 and 3 need TLS, A00.FR.311).
TLS = EngineSettings(tls=True)


def install(h: Harness, certificate: Issued | str, use: str = CSRC) -> str:
    pem = certificate if isinstance(certificate, str) else certificate.pem
    result: dict[str, Any] = h.csms_result("InstallCertificate", {"certificateType": use, "certificate": pem})
    return str(result["status"])


def listed(h: Harness, use: str = CSRC) -> dict[str, Any]:
    result: dict[str, Any] = h.csms_result("GetInstalledCertificateIds", {"certificateType": use})
    return result


def delete(h: Harness, data: dict[str, str]) -> str:
    return str(h.csms_result("DeleteCertificate", {"certificateHashData": data})["status"])


def reference(
    certificate: x509.Certificate, issuer: x509.Certificate, algorithm: str = "SHA256"
) -> dict[str, str]:
    """The CertificateHashData as an OCSP request computes it (RFC 6960 §4.1.1, the PyCA's builder):
    the independent reference §6.1 (edition 3) points to."""
    request = ocsp.OCSPRequestBuilder().add_certificate(certificate, issuer, OCSP_HASHES[algorithm]).build()
    return {
        "hashAlgorithm": algorithm,
        "issuerNameHash": request.issuer_name_hash.hex(),
        "issuerKeyHash": request.issuer_key_hash.hex(),
        "serialNumber": format(request.serial_number, "X"),
    }


def roots_of(h: Harness) -> list[str]:
    return EngineView(h.engine).csms_root_certificates()


def change(h: Harness, key: str, value: str) -> str:
    return str(h.csms_result("ChangeConfiguration", {"key": key, "value": value})["status"])


# -- §6.1 CertificateHashDataType --------------------------------------------------------------------
def test_6_1_hash_data_is_what_ocsp_computes_for_a_root_and_a_sub_ca() -> None:
    p = pki()
    h = Harness()
    assert install(h, p.root) == "Accepted"
    assert install(h, p.intermediate) == "Accepted"
    answer = listed(h)
    assert answer["certificateHashData"] == [
        reference(p.root.certificate, p.root.certificate),  # a self-signed root is its own issuer
        reference(p.intermediate.certificate, p.root.certificate),
    ]
    assert answer["certificateHashData"][0]["serialNumber"] == "FFF"  # 0x0FFF: no leading zero, no 0x


# -- M03 GetInstalledCertificateIds ------------------------------------------------------------------
def test_M03_FR_02_no_certificate_of_the_type_is_NotFound() -> None:
    h = Harness()
    assert listed(h) == {"status": "NotFound"}
    assert install(h, pki().root, MRC) == "Accepted"
    assert listed(h, CSRC) == {"status": "NotFound"}


def test_M03_FR_03_04_the_hash_data_of_each_certificate_of_the_type() -> None:
    p = pki()
    h = Harness()
    assert install(h, p.root) == "Accepted"
    assert install(h, p.other_root, MRC) == "Accepted"
    assert listed(h, CSRC) == {
        "status": "Accepted",
        "certificateHashData": [reference(p.root.certificate, p.root.certificate)],
    }
    assert listed(h, MRC)["certificateHashData"] == [
        reference(p.other_root.certificate, p.other_root.certificate)
    ]


# -- M05 InstallCertificate --------------------------------------------------------------------------
def test_M05_FR_02_an_installed_root_is_stored_and_offered_to_tls() -> None:
    p = pki()
    h = Harness()
    assert install(h, p.root) == "Accepted"
    assert roots_of(h) == [p.root.pem]
    # The declared query, on the context for the other features.
    assert h.engine.ctx.csms_roots() == [p.root.pem]
    (record,) = h.records["certificates"].values()
    assert record["pem"] == p.root.pem and record["use"] == CSRC
    # The same certificate again: Accepted, nothing changes.
    assert install(h, p.root) == "Accepted"
    assert roots_of(h) == [p.root.pem] and len(h.records["certificates"]) == 1


@pytest.mark.parametrize(
    "case",
    ["not PEM", "a leaf", "two certificates", "a 1024-bit RSA key", "expired", "not yet valid", "non-ASCII"],
)
def test_M05_FR_06_an_invalid_or_expired_certificate_is_rejected(case: str) -> None:
    p = pki()
    text = {
        "not PEM": "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n",
        "a leaf": p.leaf.pem,
        "two certificates": p.root.pem + p.other_root.pem,
        "a 1024-bit RSA key": p.weak.pem,
        "expired": p.expired.pem,
        "not yet valid": p.future.pem,
        "non-ASCII": "-----BEGIN CERTIFICATE-----\nÄ\n-----END CERTIFICATE-----\n",
    }[case]
    h = Harness()
    if case == "a leaf":
        assert install(h, p.root) == "Accepted" and install(h, p.intermediate) == "Accepted"
    before = roots_of(h)
    assert install(h, text) == "Rejected"
    assert roots_of(h) == before


def test_M05_FR_06_validity_is_checked_against_ocpp_time() -> None:
    """The OCPP clock, not the host's: a CSMS that moves the station's clock past the end of the
    certificate makes it expired."""
    p = pki()
    h = Harness()
    end = p.root.certificate.not_valid_after_utc.timestamp()
    h.engine.ctx.clock_offset_s += end + 10 - h.engine.ctx.ocpp_time()
    assert install(h, p.root) == "Rejected"


def test_M05_FR_03_a_full_store_rejects_another_certificate() -> None:
    p = pki()
    h = Harness(config={"CertificateStoreMaxLength": "2"})
    assert install(h, p.root) == "Accepted"
    assert install(h, p.other_root, MRC) == "Accepted"
    assert install(h, p.intermediate) == "Rejected"
    assert install(h, p.root) == "Accepted"  # already there: takes no room
    assert len(listed(h)["certificateHashData"]) == 1


def test_M05_FR_04_a_valid_certificate_whose_issuer_is_unknown_fails() -> None:
    """The Sub CA is fine, but without its issuer its issuerKeyHash (§6.1) cannot be computed."""
    p = pki()
    h = Harness()
    assert install(h, p.intermediate) == "Failed"
    assert install(h, p.root) == "Accepted"
    assert install(h, p.intermediate) == "Accepted"


def test_M05_FR_09_11_with_the_additional_check_a_new_root_signed_by_the_old_replaces_it() -> None:
    p = pki()
    h = Harness(config={"AdditionalRootCertificateCheck": "true"})
    assert install(h, p.root) == "Accepted"  # the first one: nothing to be signed by
    assert install(h, p.successor) == "Accepted"
    # M05.FR.11: the new root first, the old one kept as the fallback (M05.FR.13 tries it second).
    assert roots_of(h) == [p.successor.pem, p.root.pem]
    assert listed(h)["certificateHashData"] == [
        reference(p.successor.certificate, p.root.certificate),
        reference(p.root.certificate, p.root.certificate),
    ]
    # M05.FR.08: one root plus one fallback: the next replacement drops the old fallback.
    assert install(h, p.successor2) == "Accepted"
    assert roots_of(h) == [p.successor2.pem, p.successor.pem]
    # Manufacturer roots are not concerned.
    assert install(h, p.root, MRC) == "Accepted" and install(h, p.other_root, MRC) == "Accepted"


def test_M05_FR_10_a_new_root_not_signed_by_the_old_one_is_rejected() -> None:
    p = pki()
    h = Harness(config={"AdditionalRootCertificateCheck": "true"})
    assert install(h, p.root) == "Accepted"
    assert install(h, p.impostor) == "Rejected"  # same subject, signed by another root
    assert install(h, p.other_root) == "Rejected"
    assert roots_of(h) == [p.root.pem]


# -- M04 DeleteCertificate ---------------------------------------------------------------------------
def test_M04_FR_02_07_a_certificate_is_deleted_by_its_hash_data_in_any_algorithm() -> None:
    p = pki()
    h = Harness()
    assert install(h, p.root) == "Accepted" and install(h, p.other_root) == "Accepted"
    data = reference(p.other_root.certificate, p.other_root.certificate, "SHA512")
    data["issuerKeyHash"] = data["issuerKeyHash"].upper()  # CiString: case does not matter
    assert delete(h, data) == "Accepted"
    assert roots_of(h) == [p.root.pem]
    assert len(h.records["certificates"]) == 1
    assert delete(h, data) == "NotFound"


def test_M04_FR_04_an_unknown_certificate_is_NotFound() -> None:
    p = pki()
    h = Harness()
    assert delete(h, reference(p.root.certificate, p.root.certificate)) == "NotFound"
    assert install(h, p.root) == "Accepted"
    assert delete(h, reference(p.other_root.certificate, p.other_root.certificate)) == "NotFound"
    assert roots_of(h) == [p.root.pem]


def test_M04_FR_06_the_last_csms_root_is_kept_while_tls_uses_it() -> None:
    p = pki()
    h = Harness(config={"AuthorizationKey": KEY, "SecurityProfile": "2"})
    assert install(h, p.root) == "Accepted" and install(h, p.other_root) == "Accepted"
    assert delete(h, reference(p.other_root.certificate, p.other_root.certificate)) == "Accepted"
    root = reference(p.root.certificate, p.root.certificate)
    assert delete(h, root) == "Failed"
    assert roots_of(h) == [p.root.pem]
    # Without TLS (profile 1) nothing validates the connection with it: it may go.
    h1 = Harness(config={"AuthorizationKey": KEY, "SecurityProfile": "1"})
    assert install(h1, p.root) == "Accepted"
    assert delete(h1, root) == "Accepted"
    assert roots_of(h1) == []


# -- A05: the security profile needs the store ---------------------------------------------------------
def test_A05_FR_03_profile_2_is_accepted_with_a_valid_root_and_a_key() -> None:
    p = pki()
    h = Harness(TLS, config={"AuthorizationKey": KEY})
    assert change(h, "SecurityProfile", "2") == "Rejected"
    assert install(h, p.root, MRC) == "Accepted"  # a manufacturer root is no CSMS root
    assert change(h, "SecurityProfile", "2") == "Rejected"
    assert install(h, p.root) == "Accepted"
    mark = len(h.effects)
    assert change(h, "SecurityProfile", "2") == "Accepted"
    assert [e.reason for e in h.effects[mark:] if isinstance(e, Reconnect)] == [
        "SecurityProfile raised (A05)"
    ]
    assert h.engine.config.get("SecurityProfile") == "2"


def test_A05_FR_02_profile_2_still_needs_the_authorization_key() -> None:
    h = Harness(TLS)
    assert install(h, pki().root) == "Accepted"
    assert change(h, "SecurityProfile", "2") == "Rejected"


def test_A00_FR_311_profile_2_with_a_ws_url_is_accepted_the_station_then_connects_with_tls() -> None:
    """Issue 10 (profile fallback): the URL's scheme no longer vetoes profile 2; while it is in force
    the shell connects to the ``wss://`` form of a ``ws://`` URL (``Station.connection_url``), and falls
    back to the previous profile if that cannot connect (A05.FR.08, tests/core/test_security_fallback.py)."""
    h = Harness(config={"AuthorizationKey": KEY})  # the Central System URL is ws://
    assert install(h, pki().root) == "Accepted"
    assert change(h, "SecurityProfile", "2") == "Accepted"


def test_A05_FR_03_a_root_that_expired_since_it_was_installed_does_not_count() -> None:
    p = pki()
    h = Harness(TLS, config={"AuthorizationKey": KEY})
    assert install(h, p.root) == "Accepted"
    end = p.root.certificate.not_valid_after_utc.timestamp()
    h.engine.ctx.clock_offset_s += end + 10 - h.engine.ctx.ocpp_time()
    assert change(h, "SecurityProfile", "2") == "Rejected"


def test_A05_FR_04_profile_3_is_rejected_without_a_charge_point_certificate() -> None:
    h = Harness(config={"AuthorizationKey": KEY})
    assert install(h, pki().root) == "Accepted"
    assert change(h, "SecurityProfile", "3") == "Rejected"
    assert h.engine.config.get("SecurityProfile") == "0"


# -- §2.6.4 installed at manufacturing or installation; restarts ---------------------------------------
def file_settings(*entries: tuple[str, Issued]) -> EngineSettings:
    return EngineSettings(installed_certificates=tuple((use, issued.pem) for use, issued in entries))


def test_2_6_4_certificates_of_the_config_file_are_installed_at_start() -> None:
    p = pki()
    h = Harness(file_settings((CSRC, p.root), (MRC, p.other_root)))
    assert roots_of(h) == [p.root.pem]
    assert listed(h, MRC)["certificateHashData"] == [
        reference(p.other_root.certificate, p.other_root.certificate)
    ]
    assert "certificates" not in h.records  # nothing to store: the file says it at every start


def test_2_6_4_a_bad_certificate_in_the_settings_stops_the_engine() -> None:
    with pytest.raises(ValueError, match=r"installed_certificates\[1\]: not a CA certificate"):
        Engine(file_settings((CSRC, pki().root), (CSRC, pki().leaf)), now=0.0)
    with pytest.raises(CertificateError, match="unknown certificateUse"):
        initial_store([("ChargePointCertificate", pki().root.pem)])


def test_restart_keeps_what_the_csms_installed_and_deleted() -> None:
    p = pki()
    h = Harness(
        file_settings((CSRC, p.root), (MRC, p.other_root)), config={"AdditionalRootCertificateCheck": "true"}
    )
    assert install(h, p.successor) == "Accepted"  # the file's root becomes the fallback
    assert delete(h, reference(p.other_root.certificate, p.other_root.certificate)) == "Accepted"
    again = h.reboot(restore=True)
    assert roots_of(again) == [p.successor.pem, p.root.pem]
    assert listed(again, MRC) == {"status": "NotFound"}  # deleted from the file's stays deleted
    assert install(again, p.successor2) == "Accepted"
    third = again.reboot(restore=True)
    assert roots_of(third) == [p.successor2.pem, p.successor.pem]
    assert listed(third)["certificateHashData"][0] == reference(
        p.successor2.certificate, p.successor.certificate
    )


def test_restart_drops_a_damaged_record_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    p = pki()
    h = Harness()
    assert install(h, p.root) == "Accepted" and install(h, p.other_root) == "Accepted"
    key = next(k for k, r in h.records["certificates"].items() if r["pem"] == p.other_root.pem)
    h.records["certificates"][key]["pem"] = "garbage"
    again = h.reboot(restore=True)
    assert roots_of(again) == [p.root.pem]
    assert "stored certificate" in caplog.text
    assert key not in again.records.get("certificates", {})  # deleted from the store, said once


def test_restart_from_a_real_sqlite_store(tmp_path: Path) -> None:
    """The records as the shell stores them (SQLite, every kind of ``KINDS``) give the store back."""
    p = pki()
    h = Harness(file_settings((MRC, p.other_root)))
    assert install(h, p.root) == "Accepted" and install(h, p.intermediate) == "Accepted"
    assert delete(h, reference(p.other_root.certificate, p.other_root.certificate)) == "Accepted"
    store = SqliteStore(tmp_path / "station.db")
    store.apply([("put", "certificates", key, value) for key, value in h.records["certificates"].items()])
    store.close()
    store = SqliteStore(tmp_path / "station.db")
    restored = Restored.from_records({kind: store.load(kind) for kind in KINDS})
    store.close()
    engine = Engine(h.settings, now=h.now, restored=restored)
    assert engine.certificates.csms_roots() == [p.root.pem, p.intermediate.pem]
    assert not engine.certificates.store.of_use(CertificateUseEnumType.ManufacturerRootCertificate)
