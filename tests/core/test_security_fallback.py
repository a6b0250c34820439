"""The security profile fallback and the CSMS root fallback in the engine (OCPP 1.6 security whitepaper
edition 3: A05.FR.07-09 and A05's error handling, M05.FR.11-13; ``core/features/security.py``,
``core/features/certificates.py``), with the fake clock and a real PKI (``tests/pki.py``)."""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives import hashes

from ocpp_station.core.effects import Reconnect, StoreConfigValue
from ocpp_station.core.events import Connected, ConnectFailed, Disconnected, ServerCertificateVerified
from ocpp_station.core.features.security import FALLBACK_ATTEMPTS, FALLBACK_KEY
from ocpp_station.core.settings import EngineSettings
from ocpp_station.transport.view import EngineView
from tests.core.harness import Harness
from tests.pki import Issued, pki

KEY = "0123456789abcdef0123456789abcdef"
CSRC = "CentralSystemRootCertificate"


def change(h: Harness, key: str, value: str) -> str:
    result: dict[str, Any] = h.csms_result("ChangeConfiguration", {"key": key, "value": value})
    return str(result["status"])


def install(h: Harness, certificate: Issued) -> str:
    result = h.csms_result("InstallCertificate", {"certificateType": CSRC, "certificate": certificate.pem})
    return str(result["status"])


def raised_to_2(settings: EngineSettings | None = None) -> Harness:
    """Profile 1 with a root installed; the CSMS raises SecurityProfile to 2 (Accepted, A05.FR.05)."""
    h = Harness(settings, config={"AuthorizationKey": KEY, "SecurityProfile": "1"})
    assert install(h, pki().root) == "Accepted"
    assert change(h, "SecurityProfile", "2") == "Accepted"
    h.feed(Disconnected("reconnect"))  # the Reconnect effect closed the link (A05.FR.06)
    return h


def security_events(h: Harness) -> list[dict[str, Any]]:
    return [p for action, p in h.calls if action == "SecurityEventNotification"]


def test_A05_FR_08_unable_to_connect_with_the_new_profile_falls_back_to_the_previous_one() -> None:
    h = raised_to_2()
    assert h.records["security"][FALLBACK_KEY] == {"from": 1, "to": 2}
    for attempt in range(FALLBACK_ATTEMPTS - 1):
        h.feed(ConnectFailed(f"TLS failed (attempt {attempt})"))
        assert h.engine.config.get("SecurityProfile") == "2"
    mark = len(h.effects)
    h.feed(ConnectFailed("TLS failed: wrong version number"))
    after = h.effects[mark:]
    # The previous value restored and stored, the station connects again at once with it.
    assert h.engine.config.get("SecurityProfile") == "1"
    assert EngineView(h.engine).security_profile == 1
    assert StoreConfigValue("SecurityProfile", "1") in after
    assert [e.reason for e in after if isinstance(e, Reconnect)] == [
        "SecurityProfile fallback to 1 (A05.FR.08)"
    ]
    assert h.records.get("security", {}).get(FALLBACK_KEY) is None
    # Logged (§8 ReconfigurationOfSecurityParameters) and notified once connected.
    h.feed(Connected())
    (event,) = [e for e in security_events(h) if "fell back" in e.get("techInfo", "")]
    assert event["type"] == "ReconfigurationOfSecurityParameters"
    assert "SecurityProfile 2 could not connect (3 attempts" in event["techInfo"]
    # Failures with the old profile change nothing any more.
    h.feed(Disconnected("x"))
    for _ in range(FALLBACK_ATTEMPTS + 1):
        h.feed(ConnectFailed("down"))
    assert h.engine.config.get("SecurityProfile") == "1"


def test_A05_FR_08_the_attempt_count_is_a_setting() -> None:
    """The config file's ``security.profileFallbackAttempts`` (EngineSettings.profile_fallback_attempts)."""
    h = raised_to_2(EngineSettings(profile_fallback_attempts=1))
    h.feed(ConnectFailed("TLS failed"))
    assert h.engine.config.get("SecurityProfile") == "1"


def test_A05_FR_07_a_connection_with_the_new_profile_forgets_the_previous_one() -> None:
    h = raised_to_2()
    h.feed(ConnectFailed("the CSMS restarts"))
    h.feed(Connected())
    assert h.records.get("security", {}).get(FALLBACK_KEY) is None
    h.feed(Disconnected("later"))
    for _ in range(FALLBACK_ATTEMPTS * 2):
        h.feed(ConnectFailed("down"))
    assert h.engine.config.get("SecurityProfile") == "2"  # no fallback: A05.FR.09, it was confirmed
    assert change(h, "SecurityProfile", "1") == "Rejected"  # and it still only goes up (A05.FR.01)


def test_A05_FR_08_the_previous_profile_survives_a_restart_before_the_new_one_is_confirmed() -> None:
    h = raised_to_2()
    h.feed(ConnectFailed("first"))
    again = h.reboot(connect=False, restore=True)
    assert again.engine.config.get("SecurityProfile") == "2"
    assert again.engine.security.pending == (1, 2)
    for _ in range(FALLBACK_ATTEMPTS):  # counted again from the restart
        again.feed(ConnectFailed("still no TLS"))
    assert again.engine.config.get("SecurityProfile") == "1"
    assert again.stored_config["SecurityProfile"] == "1"
    third = again.reboot(restore=True)
    assert third.engine.config.get("SecurityProfile") == "1" and third.engine.security.pending is None


def test_a_fallback_record_that_does_not_match_the_stored_profile_is_dropped() -> None:
    h = Harness(
        config={"AuthorizationKey": KEY, "SecurityProfile": "1"},
        records={"security": {FALLBACK_KEY: {"from": 0, "to": 1}, "x": {}}},
        connect=False,
    )
    assert h.engine.security.pending == (0, 1)
    broken = Harness(
        config={"AuthorizationKey": KEY, "SecurityProfile": "1"},
        records={"security": {FALLBACK_KEY: {"from": "zero"}}},
        connect=False,
    )
    assert broken.engine.security.pending is None
    stale = Harness(
        config={"SecurityProfile": "0"}, records={"security": {FALLBACK_KEY: {"from": 0, "to": 1}}}
    )
    assert stale.engine.security.pending is None


# -- M05.FR.12-13: the fallback CentralSystemRootCertificate ---------------------------------------------
def fingerprint(issued: Issued) -> str:
    return issued.certificate.fingerprint(hashes.SHA256()).hex()


def test_M05_FR_12_13_the_fallback_root_goes_once_the_new_root_verified_the_csms() -> None:
    p = pki()
    h = Harness(config={"AdditionalRootCertificateCheck": "true"})
    assert install(h, p.root) == "Accepted" and install(h, p.successor) == "Accepted"
    view = EngineView(h.engine)
    assert view.csms_root_certificates() == [p.successor.pem, p.root.pem]
    server = "ab" * 32
    # M05.FR.13: a CSMS certificate still issued under the old root only: the fallback stays.
    h.feed(ServerCertificateVerified((server, fingerprint(p.root))))
    assert view.csms_root_certificates() == [p.successor.pem, p.root.pem]
    # M05.FR.12: verified through the new root: the fallback is removed, in the store too.
    h.feed(ServerCertificateVerified((server, fingerprint(p.successor).upper(), fingerprint(p.root))))
    assert view.csms_root_certificates() == [p.successor.pem]
    assert len(h.records["certificates"]) == 1
    assert h.reboot(restore=True).engine.certificates.csms_roots() == [p.successor.pem]
    # Nothing to remove: nothing happens.
    h.feed(ServerCertificateVerified((server,)))
    assert view.csms_root_certificates() == [p.successor.pem]
