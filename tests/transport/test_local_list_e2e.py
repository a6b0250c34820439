"""The Local Authorization List over real websockets against the development CSMS, stored across a restart."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ocpp_station.sim.csms import CentralSystem, LogEntry
from ocpp_station.wire.messages import AuthorizationStatus, IdTagInfo
from tests.stations import StationFactory, station_config


def called(action: str) -> Callable[[LogEntry], bool]:
    return lambda e: e.direction == "in" and e.kind == "CALL" and e.action == action


async def test_local_list_is_managed_used_and_kept_across_a_restart(
    csms: CentralSystem, start_station: StationFactory, tmp_path: Path
) -> None:
    config = station_config(csms.url, dataDir=str(tmp_path / "data"), ocpp={"LocalPreAuthorize": True})
    station = await start_station(config)
    conf = await csms.call("CP_1", "GetConfiguration", {"key": ["SupportedFeatureProfiles"]})
    assert "LocalAuthListManagement" in conf["configurationKey"][0]["value"].split(",")
    assert await csms.call("CP_1", "GetLocalListVersion", {}) == {"listVersion": 0}
    full = {
        "listVersion": 3,
        "updateType": "Full",
        "localAuthorizationList": [
            {"idTag": "LOCAL1", "idTagInfo": {"status": "Accepted"}},
            {"idTag": "LOCAL2", "idTagInfo": {"status": "Accepted"}},
        ],
    }
    assert await csms.call("CP_1", "SendLocalList", full) == {"status": "Accepted"}
    diff = {
        "listVersion": 4,
        "updateType": "Differential",
        "localAuthorizationList": [
            {"idTag": "LOCAL2"},
            {"idTag": "BLOCKED", "idTagInfo": {"status": "Blocked"}},
        ],
    }
    assert await csms.call("CP_1", "SendLocalList", diff) == {"status": "Accepted"}
    assert await csms.call("CP_1", "SendLocalList", {**diff, "listVersion": 4}) == {
        "status": "VersionMismatch"
    }
    assert await csms.call("CP_1", "GetLocalListVersion", {}) == {"listVersion": 4}

    # LOCAL1 is authorized by the list: StartTransaction without an Authorize.req.
    station.plug(1)
    station.present_id_tag("LOCAL1")
    start = await csms.wait_for(called("StartTransaction"))
    assert start.payload["idTag"] == "LOCAL1"
    assert not [e for e in csms.log if called("Authorize")(e)]
    station.unplug(1)
    await csms.wait_for(called("StopTransaction"))

    await station.stop()
    station.close()
    again = await start_station(config)
    assert await csms.call("CP_1", "GetLocalListVersion", {}) == {"listVersion": 4}
    assert again.engine.local_list.entries == {
        "LOCAL1": IdTagInfo(status=AuthorizationStatus.Accepted),
        "BLOCKED": IdTagInfo(status=AuthorizationStatus.Blocked),
    }
    # Disabled: -1, and updates are refused.
    assert (
        await csms.call("CP_1", "ChangeConfiguration", {"key": "LocalAuthListEnabled", "value": "false"})
    )["status"] == "Accepted"
    assert await csms.call("CP_1", "GetLocalListVersion", {}) == {"listVersion": -1}
    assert await csms.call("CP_1", "SendLocalList", {**full, "listVersion": 5}) == {"status": "NotSupported"}
