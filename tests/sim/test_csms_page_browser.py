"""The development CSMS's page in a real browser (tests/browser.py: Playwright driving Chromium) against
a real dev CSMS and a real Station over real websockets: the station list, the live trace, the send form
and its errors, the page's reconnection to a restarted CSMS."""

from __future__ import annotations

import re

from playwright.async_api import Page, expect

from ocpp_station.sim.csms import CentralSystem
from tests.browser import PageErrors, open_page
from tests.stations import StationFactory, station_config

#: A CALL row of the trace from index ``n`` on: (n, kind, action, direction) -> whether one is shown.
NEW_ROW = """([n, kind, action]) => [...document.querySelectorAll('#trace tr.frame')].some(
    (row) => Number(row.dataset.index) >= n && !row.hidden
        && row.cells[3].textContent === kind && row.cells[4].textContent === action)"""


def expect_refused(errors: PageErrors, status: int) -> None:
    """Chromium logs a fetch answered 4xx as a console error: the one the test caused is taken out,
    any other error still fails the test."""
    expected = [e for e in errors if f"status of {status}" in e]
    assert len(expected) <= 1, errors
    for e in expected:
        errors.remove(e)


async def send(page: Page, action: str, payload: str | None = None) -> None:
    await page.select_option("#send-action", action)
    if payload is not None:
        await page.fill("#payload", payload)
    await page.click("#send-button")


async def test_stations_trace_and_send_form(csms: CentralSystem, start_station: StationFactory) -> None:
    # signedFirmwareOnly: the plain UpdateFirmware is answered with a CALLERROR (L01.FR.20).
    await start_station(station_config(csms.url, "CP_PAGE", security={"signedFirmwareOnly": True}))
    async with open_page("csms_page") as (page, errors):
        await page.goto(csms.http_url + "/")
        await expect(page.locator("#live")).to_have_text("live")
        row = page.locator('#stations tr[data-station="CP_PAGE"]')
        await expect(row.locator("td").nth(0)).to_have_text("CP_PAGE")
        await expect(row.locator("td").nth(1)).to_have_text("connected")
        await expect(row.locator("td").nth(3)).to_contain_text("Accepted")
        await expect(row.locator("td").nth(5)).to_contain_text("1: Available")
        boot = page.locator("#trace tr.frame").filter(has_text="BootNotification")
        await expect(boot.first).to_be_visible()

        # The form starts on TriggerMessage (StatusNotification, connector 1) for the connected station.
        await expect(page.locator("#send-station")).to_have_value("CP_PAGE")
        await expect(page.locator("#send-action")).to_have_value("TriggerMessage")
        await expect(page.locator("#payload")).to_have_value(
            '{\n  "requestedMessage": "StatusNotification",\n  "connectorId": 1\n}'
        )
        since = len(csms.log)
        await page.click("#send-button")
        await expect(page.locator("#answer-title")).to_have_text("CALLRESULT TriggerMessage")
        await expect(page.locator("#answer-body")).to_have_text('{\n  "status": "Accepted"\n}')
        await page.wait_for_function(NEW_ROW, arg=[since, "CALL", "StatusNotification"])
        # The CALL is linked to its answer with the latency, both ways.
        call = page.locator("#trace tr.frame.CALL").filter(has_text="TriggerMessage").first
        await expect(call.locator(".pair")).to_have_text(re.compile(r"^CALLRESULT \d+ ms$"))
        await call.locator(".pair").click()
        answer = page.locator("#trace tr.highlight")
        await expect(answer.locator("td").nth(3)).to_have_text("CALLRESULT")
        await expect(answer.locator(".pair")).to_contain_text(" ms")
        # A click shows the pretty JSON.
        await answer.click()
        await expect(page.locator("#trace tr.detail pre")).to_have_text('{\n  "status": "Accepted"\n}')

        # Not JSON: said in the page, nothing sent.
        sent = len(csms.log)
        await send(page, "Reset", '{"type": ')
        await expect(page.locator("#answer-title")).to_have_text("Invalid JSON")
        await expect(page.locator("#answer-body")).to_contain_text("not valid JSON")
        # Refused by the schema: the API's 400 and its message.
        await send(page, "Reset", '{"type": "Sideways"}')
        await expect(page.locator("#answer-title")).to_contain_text("Refused: HTTP 400")
        await expect(page.locator("#answer-body")).to_contain_text("type")
        expect_refused(errors, 400)
        assert len(csms.log) == sent
        # The example button restores the action's example.
        await page.click("#reset-example")
        await expect(page.locator("#payload")).to_have_value('{\n  "type": "Soft"\n}')

        # A CALLERROR from the station is shown as such, and in the errors-only trace.
        await send(page, "UpdateFirmware")
        await expect(page.locator("#answer-title")).to_have_text("CALLERROR NotSupported")
        await expect(page.locator("#answer-body")).to_contain_text("UpdateFirmware")
        await page.check("#filter-errors")
        errors_only = page.locator("#trace tr.frame:not([hidden])")
        await expect(errors_only).to_have_count(1)
        await expect(errors_only.locator("td").nth(3)).to_have_text("CALLERROR")
        await page.uncheck("#filter-errors")
        # Every text from the wire is shown as text: this vendorId is in the trace, not an <img>.
        await send(page, "DataTransfer", '{"vendorId": "<img src=x onerror=alert(1)>"}')
        await expect(page.locator("#answer-body")).to_contain_text("UnknownVendorId")
        data_call = page.locator("#trace tr.frame.CALL").filter(has_text="DataTransfer")
        await expect(data_call.locator("td.payload")).to_contain_text("<img src=x onerror=alert(1)>")
        assert await page.locator("#trace img").count() == 0

        # Filters: one action, one direction.
        await page.select_option("#filter-action", "BootNotification")
        shown = page.locator("#trace tr.frame:not([hidden])")
        await expect(shown).to_have_count(2)  # the CALL and its CALLRESULT
        await page.select_option("#filter-direction", "out")
        await expect(shown).to_have_count(1)
        await expect(shown.locator("td").nth(3)).to_have_text("CALLRESULT")

        # A station connecting and leaving while the page is open; the trace filtered to it.
        other = await start_station(station_config(csms.url, "CP_TWO"))
        two = page.locator('#stations tr[data-station="CP_TWO"]')
        await expect(two.locator("td").nth(1)).to_have_text("connected")
        await page.select_option("#filter-direction", "")
        await page.select_option("#filter-station", "CP_TWO")
        await expect(shown).to_have_count(2)
        await expect(shown.locator("td:nth-child(2)")).to_have_text(["CP_TWO", "CP_TWO"])
        await other.stop()
        await expect(two.locator("td").nth(1)).to_have_text("disconnected")
        await expect(page.locator('#send-station option[value="CP_TWO"]')).to_have_text(
            "CP_TWO (disconnected)"
        )


async def test_the_page_follows_a_restarted_csms(start_station: StationFactory) -> None:
    first = CentralSystem(port=0)
    await first.start()
    port = first.port
    second = CentralSystem(port=port)
    try:
        station = await start_station(station_config(first.url, "CP_BACK"))
        async with open_page("csms_page_restart") as (page, errors):
            await page.goto(first.http_url + "/")
            row = page.locator('#stations tr[data-station="CP_BACK"]')
            await expect(row.locator("td").nth(1)).to_have_text("connected")
            await first.stop()
            await second.start()
            await second.wait_connected("CP_BACK")
            # The page reconnected by itself: a fresh snapshot (the new CSMS's trace holds no boot:
            # the station reconnected, it did not reboot), then the new CSMS's frames.
            boots = page.locator("#trace tr.frame").filter(has_text="BootNotification")
            await expect(boots).to_have_count(0)
            await expect(page.locator("#live")).to_have_text("live")
            await expect(row.locator("td").nth(1)).to_have_text("connected")
            since = len(second.log)
            await send(page, "TriggerMessage")
            await expect(page.locator("#answer-body")).to_contain_text("Accepted")
            await page.wait_for_function(NEW_ROW, arg=[since, "CALL", "StatusNotification"])
            # Chromium may log the reconnection refused while no CSMS listened: that one only.
            errors[:] = [e for e in errors if "ERR_CONNECTION_REFUSED" not in e]
        await station.stop()
    finally:
        await first.stop()
        await second.stop()
