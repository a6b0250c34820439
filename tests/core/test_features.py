"""Features behind one protocol (issue #9 §2): what each declares, and the declared order of facts."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from pathlib import Path

import pytest

from ocpp_station.core.engine import FEATURE_ORDER, Engine
from ocpp_station.core.features.base import (
    FACTS,
    ConfigHook,
    ConfigVeto,
    Feature,
    Trigger,
    declares,
    extended,
)
from ocpp_station.core.features.remote_trigger import EXTENDED_SHARED
from ocpp_station.core.settings import EngineSettings
from ocpp_station.wire.messages import MessageTrigger, MessageTriggerEnumType
from tests.core.harness import Harness

FEATURES = Path(__file__).resolve().parents[2] / "src" / "ocpp_station" / "core" / "features"


def test_every_feature_is_composed_in_the_declared_order() -> None:
    engine = Engine(EngineSettings(), now=0.0)
    assert [type(f) for f in engine.features] == [type(getattr(engine, name)) for name in FEATURE_ORDER]
    assert all(isinstance(f, Feature) for f in engine.features)
    composed = {id(f) for f in engine.features}
    for name, value in vars(engine).items():
        if isinstance(value, Feature):
            assert id(value) in composed, f"engine.{name} is a feature outside FEATURE_ORDER"


def test_no_feature_reaches_into_the_engine() -> None:
    for module in FEATURES.glob("*.py"):
        tree = ast.parse(module.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                assert node.module != "ocpp_station.core.engine", f"{module.name} imports the engine"


def test_facts_are_heard_in_feature_order() -> None:
    engine = Engine(EngineSettings(), now=0.0)
    order = {id(f): i for i, f in enumerate(engine.features)}
    for fact in FACTS:
        owners = [engine.features[i] for i in engine._hear[fact]]
        assert [order[id(o)] for o in owners] == sorted(order[id(o)] for o in owners)
        assert owners == [f for f in engine.features if declares(f, fact)]
    # The connectors' statuses go out first when the BootNotification is accepted (§4.2).
    assert engine.features[engine._hear["registration_accepted"][0]] is engine.status


def test_every_trigger_message_is_declared_by_exactly_one_feature() -> None:
    engine = Engine(EngineSettings(), now=0.0)
    declared: dict[str, str] = {}
    for feature in engine.features:
        for message in feature.triggers():
            assert message not in declared, (message, declared.get(message), type(feature).__name__)
            declared[message] = type(feature).__name__
    # ExtendedTriggerMessage's own messages (those with no TriggerMessage counterpart) besides
    # TriggerMessage's; each of them is either declared or answered NotImplemented.
    own = {extended(m) for m in MessageTriggerEnumType if m not in EXTENDED_SHARED}
    assert set(declared) - {m.value for m in MessageTrigger} <= own
    assert {m.value for m in MessageTrigger} <= set(declared)
    assert extended(MessageTriggerEnumType.LogStatusNotification) in declared
    assert set(engine.remote_trigger.requestable) == set(declared)


def test_supported_feature_profiles_keep_the_profile_order() -> None:
    h = Harness()
    conf = h.csms_result("GetConfiguration", {"key": ["SupportedFeatureProfiles"]})
    assert conf["configurationKey"][0]["value"] == (
        "Core,FirmwareManagement,LocalAuthListManagement,Reservation,SmartCharging,RemoteTrigger"
    )


def test_every_config_hook_names_a_key_of_the_table() -> None:
    from ocpp_station.config.keys import lookup

    engine = Engine(EngineSettings(), now=0.0)
    for key in engine.configuration.on_change:
        assert lookup(key) is not None, key


def test_a_trigger_hook_or_veto_declared_twice_is_refused() -> None:
    from ocpp_station.core.engine import _check_declarations

    class Beats(Feature):
        def triggers(self) -> Mapping[str, Trigger]:
            return {"Heartbeat": lambda connector_id: "Rejected"}

    class Hooks(Feature):
        def config_hooks(self) -> Mapping[str, ConfigHook]:
            return {"HeartbeatInterval": lambda: None}

    class Vetoes(Feature):
        def config_vetoes(self) -> Mapping[str, ConfigVeto]:
            return {"SecurityProfile": lambda value: None}

    for kind, message in (
        (Beats, "TriggerMessage Heartbeat declared twice"),
        (Hooks, "configuration key HeartbeatInterval hooked twice"),
        (Vetoes, "configuration key SecurityProfile vetoed twice"),
    ):
        with pytest.raises(ValueError, match=message):
            _check_declarations((kind(), kind()))
    _check_declarations((Beats(), Hooks(), Vetoes()))  # one each: fine
