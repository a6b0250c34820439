"""Security profiles and the AuthorizationKey in the engine (OCPP 1.6 security whitepaper edition 3:
§7.2, §7.6, use cases A01 and A05; ``core/features/security.py``)."""

from __future__ import annotations

from typing import Any

import pytest

from ocpp_station.core.effects import Reconnect, SendFrame, StoreConfigValue
from tests.core.harness import Harness

KEY = "0123456789abcdef0123456789abcdef"
NEW_KEY = "fedcba9876543210fedcba9876543210"


def change(h: Harness, key: str, value: str) -> str:
    result: dict[str, Any] = h.csms_result("ChangeConfiguration", {"key": key, "value": value})
    return str(result["status"])


def test_A01_FR_01_03_a_new_authorization_key_is_stored_and_the_station_reconnects_with_it() -> None:
    h = Harness()
    mark = len(h.effects)
    assert change(h, "AuthorizationKey", KEY) == "Accepted"
    after = h.effects[mark:]
    assert StoreConfigValue("AuthorizationKey", KEY) in after
    (reconnect,) = [e for e in after if isinstance(e, Reconnect)]
    # The ChangeConfiguration.conf goes out first, then the link is closed and made again.
    reply = next(i for i, e in enumerate(after) if isinstance(e, SendFrame) and b'"Accepted"' in e.data)
    assert reply < after.index(reconnect)
    assert h.engine.config.get("AuthorizationKey") == KEY
    mark = len(h.effects)
    assert change(h, "AuthorizationKey", KEY) == "Accepted"  # the same key again: nothing to redo
    assert h.effects_of(Reconnect)[-1] is reconnect


@pytest.mark.parametrize("value", ["short", "x" * 41, "with a space in it!"])
def test_an_authorization_key_the_whitepaper_does_not_allow_is_rejected(value: str) -> None:
    h = Harness()
    mark = len(h.effects)
    assert change(h, "AuthorizationKey", value) == "Rejected"
    assert not [e for e in h.effects[mark:] if isinstance(e, (Reconnect, StoreConfigValue))]
    assert h.engine.config.get("AuthorizationKey") == ""


def test_the_authorization_key_is_write_only() -> None:
    """§7.2: write-only, so the CSMS cannot read it back (and store it in plain text)."""
    h = Harness(config={"AuthorizationKey": KEY})
    everything = h.csms_result("GetConfiguration", {})
    assert "AuthorizationKey" not in {k["key"] for k in everything["configurationKey"]}
    assert KEY not in str(everything)
    asked = h.csms_result("GetConfiguration", {"key": ["AuthorizationKey", "SecurityProfile"]})
    assert asked["unknownKey"] == ["AuthorizationKey"]
    assert asked["configurationKey"] == [{"key": "SecurityProfile", "readonly": False, "value": "0"}]
    assert KEY not in str(h.engine.snapshot())


def test_A05_FR_01_the_security_profile_never_goes_down_nor_stays() -> None:
    h = Harness(config={"AuthorizationKey": KEY, "SecurityProfile": "1"})
    mark = len(h.effects)
    assert change(h, "SecurityProfile", "1") == "Rejected"
    assert change(h, "SecurityProfile", "0") == "Rejected"
    assert h.engine.config.get("SecurityProfile") == "1"
    assert not [e for e in h.effects[mark:] if isinstance(e, (Reconnect, StoreConfigValue))]


def test_A05_FR_02_profile_1_needs_an_authorization_key() -> None:
    h = Harness()
    assert change(h, "SecurityProfile", "1") == "Rejected"
    assert h.engine.config.get("SecurityProfile") == "0"


@pytest.mark.parametrize("profile", ["2", "3"])
def test_A05_FR_03_04_tls_profiles_need_an_installed_root_certificate(profile: str) -> None:
    """Without an installed CentralSystemRootCertificate profiles 2 and 3 are Rejected, whatever else is
    set (with one, profile 2 is Accepted: tests/core/test_certificates.py)."""
    h = Harness(config={"AuthorizationKey": KEY})
    assert change(h, "SecurityProfile", profile) == "Rejected"
    assert h.engine.config.get("SecurityProfile") == "0"


def test_A05_FR_05_07_a_higher_profile_is_accepted_stored_and_used_after_reconnecting() -> None:
    h = Harness(config={"AuthorizationKey": KEY})
    mark = len(h.effects)
    assert change(h, "SecurityProfile", "1") == "Accepted"
    after = h.effects[mark:]
    assert StoreConfigValue("SecurityProfile", "1") in after
    assert [e.reason for e in after if isinstance(e, Reconnect)] == ["SecurityProfile raised (A05)"]
    # Stored: a reboot keeps it, and it still only goes up.
    again = h.reboot()
    assert again.engine.config.get("SecurityProfile") == "1"
    assert change(again, "SecurityProfile", "0") == "Rejected"


def test_a_key_of_the_whitepaper_is_no_longer_unknown() -> None:
    h = Harness()
    assert change(h, "CpoName", "ACME Charging") == "Accepted"
    assert change(h, "AdditionalRootCertificateCheck", "true") == "Rejected"  # read-only (§7.1)
    listed = {k["key"]: k for k in h.csms_result("GetConfiguration", {})["configurationKey"]}
    assert listed["CpoName"] == {"key": "CpoName", "readonly": False, "value": "ACME Charging"}
    assert listed["CertificateSignedMaxChainSize"]["readonly"] is True
