"""Smart charging end to end: a profile from the CSMS limits what the simulated EV draws."""

from __future__ import annotations

from ocpp_station.sim.csms import CentralSystem
from tests.stations import StationFactory, station_config


async def test_tx_default_profile_limits_the_ev(csms: CentralSystem, start_station: StationFactory) -> None:
    station = await start_station(station_config(csms.url))
    conf = await csms.call("CP_1", "GetConfiguration", {"key": ["SupportedFeatureProfiles"]})
    assert "SmartCharging" in conf["configurationKey"][0]["value"].split(",")
    profile = {
        "chargingProfileId": 1,
        "stackLevel": 0,
        "chargingProfilePurpose": "TxDefaultProfile",
        "chargingProfileKind": "Relative",
        "chargingSchedule": {
            "chargingRateUnit": "A",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 10}],
        },
    }
    answer = await csms.call("CP_1", "SetChargingProfile", {"connectorId": 1, "csChargingProfiles": profile})
    assert answer == {"status": "Accepted"}
    station.plug(1)
    station.present_id_tag("CARD")
    state = await station.wait_for(lambda s: s["connectors"][1]["powerW"] > 0)
    assert state["connectors"][1]["powerW"] == 10 * 230 * 3  # min(EV 32 A, profile 10 A)
    composite = await csms.call("CP_1", "GetCompositeSchedule", {"connectorId": 1, "duration": 600})
    assert composite["status"] == "Accepted"
    assert composite["chargingSchedule"]["chargingSchedulePeriod"][0]["limit"] == 10


async def test_charge_point_max_profile_is_shared_between_two_evs(
    csms: CentralSystem, start_station: StationFactory
) -> None:
    """§3.13.3 end to end: two EVs under a 20 A ChargePointMaxProfile draw 10 A each (the equal
    split), and the first gets all 20 A back when the second stops; the composite for connector 0 is
    the capped sum."""
    station = await start_station(station_config(csms.url, connectors={"count": 2, "maxCurrent": 32}))
    profile = {
        "chargingProfileId": 1,
        "stackLevel": 0,
        "chargingProfilePurpose": "ChargePointMaxProfile",
        "chargingProfileKind": "Absolute",
        "chargingSchedule": {
            "startSchedule": "2020-01-01T00:00:00Z",
            "chargingRateUnit": "A",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 20}],
        },
    }
    answer = await csms.call("CP_1", "SetChargingProfile", {"connectorId": 0, "csChargingProfiles": profile})
    assert answer == {"status": "Accepted"}
    station.plug(1)
    station.present_id_tag("CARD", 1)
    await station.wait_for(lambda s: s["connectors"][1]["powerW"] == 20 * 230 * 3)
    station.plug(2)
    station.present_id_tag("CARD2", 2)
    state = await station.wait_for(lambda s: s["connectors"][2]["powerW"] > 0)
    assert state["connectors"][1]["powerW"] == state["connectors"][2]["powerW"] == 10 * 230 * 3
    composite = await csms.call("CP_1", "GetCompositeSchedule", {"connectorId": 0, "duration": 60})
    assert composite["chargingSchedule"]["chargingSchedulePeriod"] == [{"startPeriod": 0, "limit": 20}]
    station.unplug(2)
    await station.wait_for(lambda s: s["connectors"][1]["powerW"] == 20 * 230 * 3)
