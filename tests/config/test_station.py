"""The station config file: the original layout, defaults, and errors naming the field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ocpp_station.config.station import ConfigError, load_config, parse_config


def test_original_layout_loads_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(
        json.dumps({"development": {"WS_URL": "ws://cms.local:80/ocpp/", "chargePointID": "CP_1"}})
    )
    config = load_config(path)
    assert config.url == "ws://cms.local:80/ocpp/CP_1"
    assert config.charge_point_id == "CP_1"
    assert len(config.connectors) == 1


def test_slash_inserted_and_other_environment() -> None:
    data = {
        "development": {"WS_URL": "ws://a/ocpp", "chargePointID": "X"},
        "production": {"WS_URL": "wss://b:443/ocpp", "chargePointID": "Y"},
    }
    assert parse_config(data, "c.json").url == "ws://a/ocpp/X"
    assert parse_config(data, "c.json", "production").url == "wss://b:443/ocpp/Y"


def test_full_config() -> None:
    data = {
        "development": {"WS_URL": "ws://a/", "chargePointID": "X", "basicAuthPassword": "secret"},
        "identity": {"chargePointVendor": "ACME", "chargePointModel": "Wallbox", "firmwareVersion": "1.2"},
        "connectors": [{"maxCurrent": 16, "phases": 1, "type": "cable"}, {"maxCurrent": 32}],
        "ocpp": {"HeartbeatInterval": 60, "LocalPreAuthorize": True},
        "control": {"port": 8080},
        "ev": {"maxCurrent": 10, "soc": 50},
        "connection": {"strict": False, "callTimeout": 5, "reconnect": {"initialDelay": 0.5, "maxDelay": 10}},
    }
    config = parse_config(data, "c.json")
    assert config.identity["chargePointVendor"] == "ACME"
    assert [c.max_current_a for c in config.connectors] == [16, 32]
    assert config.connectors[0].has_lock is False
    assert config.ocpp == {"HeartbeatInterval": "60", "LocalPreAuthorize": "true"}
    assert config.control_port == 8080
    assert config.ev.max_current_a == 10
    assert config.strict is False
    assert config.reconnect.max_s == 10
    assert config.basic_auth_password == "secret"


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        ({}, "development", "no such environment"),
        ({"development": {"chargePointID": "X"}}, "development.WS_URL", "required"),
        ({"development": {"WS_URL": "http://a", "chargePointID": "X"}}, "development.WS_URL", "ws://"),
        (
            {"development": {"WS_URL": "ws://a", "chargePointID": ""}},
            "development.chargePointID",
            "non-empty",
        ),
        (
            {"development": {"WS_URL": "ws://a", "chargePointID": "X"}, "connectors": {"phases": 2}},
            "connectors.phases",
            "1 or 3",
        ),
        (
            {"development": {"WS_URL": "ws://a", "chargePointID": "X"}, "connectors": [{"maxCurent": 1}]},
            "connectors[0]",
            "unknown field",
        ),
        (
            {"development": {"WS_URL": "ws://a", "chargePointID": "X"}, "ocpp": {"HeartbeatInterval": -5}},
            "ocpp",
            "HeartbeatInterval",
        ),
        (
            {
                "development": {"WS_URL": "ws://a", "chargePointID": "X"},
                "identity": {"chargePointVendor": "x" * 21},
            },
            "identity.chargePointVendor",
            "20",
        ),
        (
            {"development": {"WS_URL": "ws://a", "chargePointID": "X"}, "control": {"port": 70000}},
            "control.port",
            "port",
        ),
        ({"development": {"WS_URL": "ws://a", "chargePointID": "X"}, "ev": {"phases": 7}}, "ev", "phases"),
        (
            {"development": {"WS_URL": "ws://a", "chargePointID": "X"}, "ev": {"strictFirmware": "yes"}},
            "ev.strictFirmware",
            "true or false",
        ),
        ({"development": {"WS_URL": "ws://a", "chargePointID": "X"}, "ev": []}, "ev", "must be an object"),
    ],
)
def test_errors_name_the_field(data: dict, field: str, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(data, "cfg.json")
    assert info.value.field_path == field
    assert words in str(info.value)
    assert str(info.value).startswith("cfg.json: ")


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{ nope")
    with pytest.raises(ConfigError, match="invalid JSON"):
        load_config(bad)


def test_file_transfer_object() -> None:
    base = {"development": {"WS_URL": "ws://a", "chargePointID": "X"}}
    default = parse_config(base, "c.json").file_transfer
    assert (
        default.protocols == ("FTP", "HTTP", "HTTPS") and default.retries == 2 and default.log_lines == 2000
    )
    given = {
        "protocols": ["HTTPS", "HTTPS"],
        "retries": 0,
        "retryInterval": 5,
        "timeout": 10,
        "maxBytes": 1000,
        "uploadMethod": "PUT",
        "logLines": 0,
    }
    config = parse_config({**base, "fileTransfer": given}, "c.json").file_transfer
    assert config.protocols == ("HTTPS",)
    assert (config.retries, config.retry_interval_s, config.timeout_s, config.max_bytes) == (0, 5, 10, 1000)
    assert config.upload_method == "PUT" and config.log_lines == 0
    assert parse_config({**base, "fileTransfer": {"protocols": []}}, "c.json").file_transfer.protocols == ()


@pytest.mark.parametrize(
    ("value", "field", "words"),
    [
        ({"protocols": ["FTPS"]}, "fileTransfer.protocols", "'FTPS' is not supported"),
        ({"protocols": "FTP"}, "fileTransfer.protocols", "list of strings"),
        ({"uploadMethod": "PATCH"}, "fileTransfer.uploadMethod", "POST"),
        ({"retries": -1}, "fileTransfer.retries", ">= 0"),
        ({"retires": 1}, "fileTransfer", "unknown field"),
        ("yes", "fileTransfer", "must be an object"),
    ],
)
def test_file_transfer_errors_name_the_field(value: object, field: str, words: str) -> None:
    data = {"development": {"WS_URL": "ws://a", "chargePointID": "X"}, "fileTransfer": value}
    with pytest.raises(ConfigError) as info:
        parse_config(data, "cfg.json")
    assert info.value.field_path == field
    assert words in str(info.value)


def test_firmware_is_lenient_unless_ev_strict_firmware() -> None:
    base = {"development": {"WS_URL": "ws://a", "chargePointID": "X"}}
    assert parse_config(base, "c.json").ev.strict_firmware is False
    config = parse_config({**base, "ev": {"strictFirmware": True, "maxCurrent": 16}}, "c.json")
    assert config.ev.strict_firmware is True and config.ev.max_current_a == 16


def test_configuration_doc_spells_out_the_defaults() -> None:
    """docs/configuration.md's complete example is exactly what an almost empty file gives."""
    doc = (Path(__file__).parents[2] / "docs" / "configuration.md").read_text(encoding="utf-8")
    blocks = doc.split("```json\n")
    complete = json.loads(blocks[2].split("```")[0])
    minimal = {"development": complete["development"]}
    assert parse_config(complete, "c.json") == parse_config(minimal, "c.json")


def test_security_keys_in_the_ocpp_section_start_the_station() -> None:
    """Issue 10: a charger configured for a secure CSMS names the whitepaper's keys (§7); they used to
    stop it at start as unknown keys."""
    security = {
        "AuthorizationKey": "0123456789abcdef0123456789abcdef",
        "SecurityProfile": 1,
        "CpoName": "ACME Charging",
    }
    config = parse_config({"development": {"WS_URL": "ws://a", "chargePointID": "X"}, "ocpp": security}, "c")
    assert config.ocpp == {k: str(v) for k, v in security.items()}


def test_a_short_authorization_key_is_a_config_error_that_does_not_show_it() -> None:
    data = {"development": {"WS_URL": "ws://a", "chargePointID": "X"}, "ocpp": {"AuthorizationKey": "s3cret"}}
    with pytest.raises(ConfigError) as info:
        parse_config(data, "cfg.json")
    assert info.value.field_path == "ocpp"
    assert "AuthorizationKey: must be 16 to 40 characters long, got 6" in str(info.value)
    assert "s3cret" not in str(info.value)


def test_a_tls_security_profile_with_a_ws_url_is_a_config_error() -> None:
    """Profiles 2 and 3 are TLS (security whitepaper A00.FR.311): a ws:// URL cannot serve them."""
    data = {
        "development": {"WS_URL": "ws://cms.example.com/ocpp/", "chargePointID": "X"},
        "ocpp": {"AuthorizationKey": "0123456789abcdef0123456789abcdef", "SecurityProfile": 2},
    }
    with pytest.raises(ConfigError) as info:
        parse_config(data, "cfg.json")
    assert info.value.field_path == "ocpp"
    assert "SecurityProfile 2 needs a wss:// URL" in str(info.value)
    data["development"]["WS_URL"] = "wss://cms.example.com/ocpp/"
    assert parse_config(data, "cfg.json").ocpp["SecurityProfile"] == "2"
