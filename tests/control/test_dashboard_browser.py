"""The station's dashboard in a real browser (Chromium through Playwright), against a real station
connected to the real development CSMS: a charging session driven from the page, the trace, the
chart, the configuration, the filters, and the page reconnecting to a restarted station."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from playwright.async_api import Page, expect

from ocpp_station.control.api import bound_port, start_control_api
from ocpp_station.sim.csms import CentralSystem
from ocpp_station.transport.station import Station
from tests.browser import open_page
from tests.stations import StationFactory, station_config

CP = "CP_1"


async def traced_station(start_station: StationFactory, url: str, cp_id: str = CP, **extra: Any) -> Station:
    """A station keeping its trace from the start, as ``ocpp-station run`` does."""
    station = await start_station(station_config(url, cp_id, **extra), wait_accepted=False)
    station.enable_trace()
    await station.wait_for(lambda s: s["registration"] == "Accepted", timeout=10)
    return station


@pytest.fixture
async def dashboard(csms: CentralSystem, start_station: StationFactory) -> AsyncIterator[tuple[str, Station]]:
    station = await traced_station(start_station, csms.url, ocpp={"MeterValueSampleInterval": 1})
    runner = await start_control_api(station, "127.0.0.1", 0)
    yield f"http://127.0.0.1:{bound_port(runner)}/", station
    await runner.cleanup()


def trace_row(page: Page, kind: str, action: str) -> Any:
    return page.locator(f"#trace tbody tr.{kind}").filter(
        has=page.locator("td.action", has_text=re.compile(f"^{action}$"))
    )


async def test_a_charging_session_from_the_page(dashboard: tuple[str, Station], csms: CentralSystem) -> None:
    url, _ = dashboard
    async with open_page("dashboard-session") as (page, _):
        await page.goto(url)
        await expect(page.locator("#cp-id")).to_have_text(CP)
        await expect(page.locator("#link")).to_have_text("connected")
        await expect(page.locator("#registration")).to_have_text("Accepted")
        await expect(page.locator("#fleet-link")).to_be_hidden()  # a station alone: no fleet to go back to
        card = page.locator("#connector-1")
        await expect(card.locator(".status")).to_have_text("Available")
        # The history from the start: the BootNotification and its answer.
        await expect(trace_row(page, "CALLRESULT", "BootNotification")).to_have_count(1)

        await card.locator("button.plug").click()
        await expect(card.locator(".status")).to_have_text("Preparing")
        await card.locator("input.id-tag").fill("CARD-7")
        await card.locator("button.present").click()
        await expect(card.locator(".status")).to_have_text("Charging")
        await expect(card.locator(".idTag")).to_have_text("CARD-7")
        await expect(card.locator(".transactionId")).to_have_text(re.compile(r"^\d+$"))

        # StartTransaction and its result, linked both ways, with the latency.
        result = trace_row(page, "CALLRESULT", "StartTransaction")
        await expect(result.locator("td.latency")).to_have_text(re.compile(r"^\d+(\.\d+)? ms$"))
        call = trace_row(page, "CALL", "StartTransaction")
        call_seq = await call.get_attribute("data-seq")
        await expect(result.locator("td.link")).to_have_text(f"\u21b3 #{call_seq}")
        await expect(call.locator("td.latency")).to_have_text(re.compile(r"^\d+(\.\d+)? ms$"))
        await call.click()
        detail = page.locator("#frame-detail")
        await expect(detail).to_contain_text('"idTag": "CARD-7"')
        await expect(detail).to_contain_text("linked with #")

        # The chart: power drawn, then the limit a charging profile sets (10 A x 230 V x 3 phases).
        power = card.locator("svg path.power")
        await page.wait_for_function(
            "() => Number(document.querySelector('#connector-1 svg path.power').dataset.last) > 0"
        )
        assert int(await power.get_attribute("data-points") or 0) >= 1
        answer = await csms.call(
            CP,
            "SetChargingProfile",
            {
                "connectorId": 1,
                "csChargingProfiles": {
                    "chargingProfileId": 7,
                    "stackLevel": 1,
                    "chargingProfilePurpose": "TxDefaultProfile",
                    "chargingProfileKind": "Relative",
                    "chargingSchedule": {
                        "chargingRateUnit": "A",
                        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 10}],
                    },
                },
            },
        )
        assert answer["status"] == "Accepted"
        await expect(card.locator("svg path.limit")).to_have_attribute("data-last", "6900")
        await expect(card.locator("svg path.limit")).to_have_attribute("d", re.compile(r"^M[\d.]+ [\d.]+"))
        await expect(card.locator("dd.limit")).to_have_text("10 A (6.90 kW)")
        await expect(trace_row(page, "CALL", "SetChargingProfile")).to_have_count(1)

        # Suspend and resume the EV, the network dropped and restored.
        await card.locator("button.suspend").click()
        await expect(card.locator(".status")).to_have_text("SuspendedEV")
        await card.locator("button.resume").click()
        await expect(card.locator(".status")).to_have_text("Charging")
        await page.locator("#net-drop").click()
        await expect(page.locator("#link")).to_have_text("offline")
        await page.locator("#net-restore").click()
        await expect(page.locator("#link")).to_have_text("connected")

        # The card again stops the session; unplugging ends it.
        await card.locator("button.present").click()
        await expect(card.locator(".status")).to_have_text("Finishing")
        await card.locator("button.unplug").click()
        await expect(card.locator(".status")).to_have_text("Available")
        await expect(trace_row(page, "CALLRESULT", "StopTransaction")).to_have_count(1)

        # A fault and its clearing.
        await card.locator("select.error-code").select_option("GroundFailure")
        await card.locator("button.fault").click()
        await expect(card.locator(".status")).to_have_text("Faulted")
        await expect(card.locator(".errorCode")).to_have_text("GroundFailure")
        await card.locator("button.clear-fault").click()
        await expect(card.locator(".errorCode")).to_have_text("NoError")
        await expect(card.locator(".status")).to_have_text("Available")


async def test_configuration_from_the_page(dashboard: tuple[str, Station]) -> None:
    url, station = dashboard
    async with open_page("dashboard-config") as (page, _):
        await page.goto(url)
        row = page.locator('#config tr[data-key="MeterValueSampleInterval"]')
        await row.locator("input").fill("9")
        await row.locator("button").click()
        await expect(row.locator(".answer")).to_have_text("Accepted")
        assert station.view.readable_config()["MeterValueSampleInterval"] == "9"
        await row.locator("input").fill("often")
        await row.locator("button").click()
        await expect(row.locator(".answer")).to_have_text("Rejected")
        await expect(row.locator("input")).to_have_value("9")
        assert station.view.readable_config()["MeterValueSampleInterval"] == "9"
        # A read-only key shows its value and offers nothing to change it.
        readonly = page.locator('#config tr[data-key="NumberOfConnectors"]')
        await expect(readonly.locator(".answer")).to_have_text("read-only")
        await expect(readonly.locator(".value")).to_have_text("1")
        await expect(readonly.locator("input, button")).to_have_count(0)
        # A change made elsewhere (here: the station's API) shows up live.
        station.change_configuration("HeartbeatInterval", "321")
        await expect(page.locator('#config tr[data-key="HeartbeatInterval"] input')).to_have_value("321")
        await page.locator("#config-filter").fill("heartbeat")
        await expect(page.locator("#config tbody tr:visible")).to_have_count(1)


async def test_trace_filters(dashboard: tuple[str, Station], csms: CentralSystem) -> None:
    url, _ = dashboard
    async with open_page("dashboard-filters") as (page, _):
        await page.goto(url)
        await page.locator("#connector-1 button.plug").click()
        await expect(trace_row(page, "CALL", "StatusNotification").first).to_be_visible()
        await csms.send_raw(CP, '[2,"bad-1","NoSuchAction",{}]')
        error = page.locator("#trace tbody tr.CALLERROR")
        await expect(error).to_have_count(1)
        rows = page.locator("#trace tbody tr:visible")

        await page.locator("#f-errors").check()
        await expect(rows).to_have_count(1)
        await expect(rows.locator("td.type")).to_have_text("CALLERROR")
        await error.click()
        await expect(page.locator("#frame-detail")).to_contain_text('"errorCode": "NotImplemented"')
        await page.locator("#f-errors").uncheck()

        await page.locator("#f-action").select_option("StatusNotification")
        await expect(rows.locator("td.action")).not_to_have_text(["BootNotification"])
        texts = await rows.locator("td.action").all_text_contents()
        assert texts and set(texts) == {"StatusNotification"}
        await page.locator("#f-direction").select_option("in")
        await expect(rows.locator("td.type").first).to_have_text("CALLRESULT")
        assert set(await rows.locator("td.dir").all_text_contents()) == {"\u2190 CSMS"}
        await page.locator("#f-action").select_option("")
        await page.locator("#f-direction").select_option("")
        await page.locator("#f-connector").select_option("1")
        conns = await rows.locator("td.conn").all_text_contents()
        assert conns and set(conns) == {"1"}
        assert len(conns) < await page.locator("#trace tbody tr").count()


async def test_the_page_reconnects_to_a_restarted_station(
    csms: CentralSystem, start_station: StationFactory
) -> None:
    first = await traced_station(start_station, csms.url, "CP_OLD")
    runner = await start_control_api(first, "127.0.0.1", 0)
    port = bound_port(runner)
    async with open_page("dashboard-reconnect") as (page, errors):
        await page.goto(f"http://127.0.0.1:{port}/")
        await expect(page.locator("#cp-id")).to_have_text("CP_OLD")
        await expect(page.locator("#live")).to_have_text("live")
        await runner.cleanup()
        await first.stop()
        await expect(page.locator("#live")).to_have_text("reconnecting")
        second = await traced_station(start_station, csms.url, "CP_NEW")
        runner = await start_control_api(second, "127.0.0.1", port)
        await expect(page.locator("#cp-id")).to_have_text("CP_NEW")
        await expect(page.locator("#live")).to_have_text("live")
        await expect(page.locator("body")).to_have_attribute("data-hello", "2")
        await page.locator("#connector-1 button.plug").click()
        await expect(page.locator("#connector-1 .status")).to_have_text("Preparing")
        # While the station was away the browser's reconnection attempts failed (not the page's errors).
        errors[:] = [e for e in errors if "ERR_CONNECTION_REFUSED" not in e]
    await runner.cleanup()
