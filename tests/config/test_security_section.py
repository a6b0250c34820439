"""The config file's ``security`` section: certificates installed at manufacturing or installation
(OCPP 1.6 security whitepaper §2.6.4), read from PEM files relative to the config file; every problem
is a ConfigError naming the field (the command line exits 2)."""

from __future__ import annotations

import asyncio
import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from ocpp_station.config.station import ConfigError, load_config
from ocpp_station.core.settings import EngineSettings
from ocpp_station.storage.memory import MemoryStore
from ocpp_station.transport.station import Station
from tests.core.harness import Harness
from tests.pki import pki

ENV = {"development": {"WS_URL": "ws://127.0.0.1:9/ocpp/", "chargePointID": "CP_1"}}


def write_config(tmp_path: Path, security: Any) -> Path:
    path = tmp_path / "station" / "config.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps({**ENV, "security": security}))
    return path


def test_paths_are_relative_to_the_config_file_and_reach_the_engine(tmp_path: Path) -> None:
    p = pki()
    (tmp_path / "station" / "pki").mkdir(parents=True)
    (tmp_path / "station" / "pki" / "csms.pem").write_text(p.root.pem + p.intermediate.pem)  # a bundle
    (tmp_path / "maker.pem").write_text(p.other_root.pem)
    config = load_config(
        write_config(
            tmp_path,
            {"csmsRootCertificates": ["pki/csms.pem"], "manufacturerRootCertificates": ["../maker.pem"]},
        )
    )
    security = config.security
    assert security.csms_root_certificates == (tmp_path / "station" / "pki" / "csms.pem",)
    assert security.manufacturer_root_certificates == (tmp_path / "station" / "../maker.pem",)
    assert security.installed_certificates == (
        ("CentralSystemRootCertificate", p.root.pem + p.intermediate.pem),
        ("ManufacturerRootCertificate", p.other_root.pem),
    )
    h = Harness(EngineSettings(installed_certificates=security.installed_certificates))
    ids = h.csms_result("GetInstalledCertificateIds", {"certificateType": "CentralSystemRootCertificate"})
    assert len(ids["certificateHashData"]) == 2


def test_no_section_no_certificates(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(ENV))
    assert load_config(path).security.installed_certificates == ()


def test_an_expired_root_is_no_config_error(tmp_path: Path) -> None:
    """Validity depends on the OCPP time, which the engine knows: the store keeps it, and it does not
    count as a valid root (A05.FR.03)."""
    (tmp_path / "station").mkdir()
    (tmp_path / "station" / "old.pem").write_text(pki().expired.pem)
    config = load_config(write_config(tmp_path, {"csmsRootCertificates": ["old.pem"]}))
    assert len(config.security.installed_certificates) == 1


@pytest.mark.parametrize(
    ("security", "files", "field", "says"),
    [
        ({"csmsRootCertificates": ["missing.pem"]}, {}, "security.csmsRootCertificates[0]", "file not found"),
        ({"csmsRootCertificates": ["dir"]}, {"dir/x": ""}, "security.csmsRootCertificates[0]", "cannot read"),
        (
            {"manufacturerRootCertificates": ["a.pem", "b.pem"]},
            {"a.pem": "root", "b.pem": "not a certificate"},
            "security.manufacturerRootCertificates[1]",
            "no X.509 certificate",
        ),
        (
            {"csmsRootCertificates": ["leaf.pem"]},
            {"leaf.pem": "leaf"},
            "security.csmsRootCertificates[0]",
            "not a CA",
        ),
        (
            {"csmsRootCertificates": ["w.pem"]},
            {"w.pem": "weak"},
            "security.csmsRootCertificates[0]",
            "A00.FR.502",
        ),
        (
            {"csmsRootCertificates": ["sub.pem"]},
            {"sub.pem": "intermediate"},
            "security.csmsRootCertificates[0]",
            "issuerKeyHash",
        ),
        ({"csmsRootCertificates": "root.pem"}, {}, "security.csmsRootCertificates", "must be a list"),
        ({"csmsRootCertificates": [7]}, {}, "security.csmsRootCertificates[0]", "non-empty string"),
        ({"chargePointKey": "cp.key"}, {}, "security", "unknown field(s) chargePointKey"),
        ([], {}, "security", "must be an object"),
    ],
)
def test_a_bad_entry_is_an_error_naming_the_field(
    tmp_path: Path, security: Any, files: dict[str, str], field: str, says: str
) -> None:
    p = pki()
    texts = {"root": p.root.pem, "leaf": p.leaf.pem, "weak": p.weak.pem, "intermediate": p.intermediate.pem}
    base = tmp_path / "station"
    base.mkdir()
    for name, content in files.items():
        (base / name).parent.mkdir(exist_ok=True)
        (base / name).write_text(texts.get(content, content))
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(tmp_path, security))
    assert caught.value.field_path == field
    assert says in caught.value.message


def test_the_command_line_exits_2_for_a_bad_certificate(tmp_path: Path) -> None:
    path = write_config(tmp_path, {"csmsRootCertificates": ["nope.pem"]})

    async def run() -> tuple[int, str]:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "ocpp_station",
            "run",
            "--config",
            str(path),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await asyncio.wait_for(process.communicate(), 60)
        return process.returncode or 0, err.decode()

    code, err = asyncio.run(run())
    assert code == 2, err
    assert "security.csmsRootCertificates[0]" in err and "Traceback" not in err


def test_settings_signed_firmware_only_and_profile_fallback_attempts(tmp_path: Path) -> None:
    """``signedFirmwareOnly`` (security whitepaper L01.FR.20) and ``profileFallbackAttempts``
    (A05.FR.08) reach the engine's settings; absent, the defaults (false, 3)."""
    default = load_config(write_config(tmp_path, {})).security
    assert (default.signed_firmware_only, default.profile_fallback_attempts) == (False, 3)
    security = load_config(
        write_config(tmp_path, {"signedFirmwareOnly": True, "profileFallbackAttempts": 5})
    ).security
    assert (security.signed_firmware_only, security.profile_fallback_attempts) == (True, 5)
    config = load_config(write_config(tmp_path, {"signedFirmwareOnly": True, "profileFallbackAttempts": 5}))
    settings = Station(config, store=MemoryStore()).engine.settings
    assert (settings.signed_firmware_only, settings.profile_fallback_attempts) == (True, 5)


@pytest.mark.parametrize(
    ("security", "message"),
    [
        ({"signedFirmwareOnly": "yes"}, 'security.signedFirmwareOnly: must be true or false, got "yes"'),
        (
            {"profileFallbackAttempts": 0},
            "security.profileFallbackAttempts: must be a whole number >= 1, got 0",
        ),
        ({"profileFallbackAttempts": 1.5}, "security.profileFallbackAttempts: must be a whole number >= 1"),
        ({"profileFallbackAttempts": "3"}, "security.profileFallbackAttempts: must be a number"),
    ],
)
def test_bad_security_settings_name_the_field(tmp_path: Path, security: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(write_config(tmp_path, security))
