"""The fleet's overview page in a real browser (Chromium through Playwright): a real fleet of 200
stations in one process against the real development CSMS; the counts, the CALLs by action, the station
table's filters and pages, and the drill-down to one station's own page; with two worker processes,
the station's page through the parent's proxy, driven from the page."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from playwright.async_api import expect

from ocpp_station.sim.csms import CentralSystem
from tests.browser import SCREENSHOTS, open_page
from tests.fleet.serving import serving_fleet

#: Playwright's auto-waiting bound for a fleet filling up (ms).
WAIT_MS = 30_000


async def start_fleet(csms: CentralSystem, count: int, processes: int) -> AsyncIterator[str]:
    async with serving_fleet(
        csms, count=count, id_pattern="FB-{n}", processes=processes, ramp=1000, stop_s=60
    ) as (
        base,
        _,
        _,
    ):
        yield base + "/"


@pytest.fixture
async def fleet_200() -> AsyncIterator[str]:
    async with CentralSystem(port=0) as csms:
        async for base in start_fleet(csms, 200, 1):
            yield base


@pytest.fixture
async def fleet_two_processes() -> AsyncIterator[str]:
    async with CentralSystem(port=0) as csms:
        async for base in start_fleet(csms, 4, 2):
            yield base


async def post(base: str, path: str, body: Any) -> Any:
    async with aiohttp.ClientSession() as http, http.post(base + path, json=body) as response:
        assert response.status == 200, await response.text()
        return await response.json()


async def test_the_overview_of_200_stations(fleet_200: str) -> None:
    base = fleet_200
    async with open_page("fleet-drill-down") as (page, _):
        await page.goto(base)
        await expect(page.locator("#live")).to_have_text("live")
        await expect(page.locator("#count")).to_have_text("200")
        await expect(page.locator("#booted")).to_have_text("200", timeout=WAIT_MS)
        await expect(page.locator("#connected")).to_have_text("200")
        boot = page.locator('#actions tbody tr[data-action="BootNotification"]')
        await expect(boot.locator("td").nth(2)).to_have_text("200")  # sent
        await expect(boot.locator("td").nth(3)).to_have_text("200")  # answered
        await expect(page.locator('#actions tbody tr[data-action="StatusNotification"]')).to_have_count(1)
        await expect(page.locator("#actions tfoot td").first).to_have_text("all")
        await expect(page.locator('#statuses [data-status="Available"] .value')).to_have_text("200")
        await expect(page.locator("#rate-chart polyline")).to_have_count(1)

        # The table: the first page of the fleet, then a status filter narrows it.
        await expect(page.locator("#stations-total")).to_have_text("200")
        await expect(page.locator("#stations tbody tr")).to_have_count(50)
        await page.locator("#next").click()
        await expect(page.locator("#range")).to_have_text("51-100")
        await expect(page.locator("#stations tbody tr").first).to_have_attribute("data-station", "FB-51")
        plugged = ["FB-7", "FB-70", "FB-170"]
        await post(base, "actions/plug", {"ids": plugged})
        await expect(page.locator('#statuses [data-status="Preparing"] .value')).to_have_text("3")
        await page.locator("#filter-status").select_option("Preparing")
        await expect(page.locator("#stations-total")).to_have_text("3")
        await expect(page.locator("#range")).to_have_text("1-3")
        rows = page.locator("#stations tbody tr")
        await expect(rows).to_have_count(3)
        assert [await row.get_attribute("data-station") for row in await rows.all()] == plugged
        await expect(rows.first.locator(".status")).to_have_text("1: Preparing")
        await page.locator("#filter-match").fill("FB-17")
        await expect(page.locator("#stations-total")).to_have_text("1")
        await page.locator("#filter-status").select_option("")
        await expect(page.locator("#stations-total")).to_have_text("11")  # FB-17, FB-170 .. FB-179

        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SCREENSHOTS / "fleet-overview.png"), full_page=True)

        # The drill-down: that station's own page.
        await page.locator('#stations a[data-station="FB-170"]').click()
        await expect(page).to_have_url(base + "stations/FB-170/")
        await expect(page.locator("#cp-id")).to_have_text("FB-170")
        await expect(page.locator("#link")).to_have_text("connected")
        await expect(page.locator("#connector-1 .status")).to_have_text("Preparing")
        # ... and back to the overview.
        await page.locator("#fleet-link").click()
        await expect(page).to_have_url(base)
        await expect(page.locator("#booted")).to_have_text("200", timeout=WAIT_MS)


async def test_a_station_page_through_the_parent_of_two_processes(fleet_two_processes: str) -> None:
    base = fleet_two_processes
    async with open_page("fleet-two-processes-station") as (page, _):
        await page.goto(base)
        await expect(page.locator("#booted")).to_have_text("4", timeout=WAIT_MS)
        await expect(page.locator("#processes")).to_have_text("2 processes")
        await page.locator("#reload").click()  # the table as it is now: every station booted
        await expect(page.locator("#stations tbody tr")).to_have_count(4)
        await page.locator('#stations a[data-station="FB-2"]').click()  # run by the second worker
        await expect(page).to_have_url(base + "stations/FB-2/")
        await expect(page.locator("#cp-id")).to_have_text("FB-2")
        await expect(page.locator("#link")).to_have_text("connected")
        card = page.locator("#connector-1")
        await expect(card.locator(".status")).to_have_text("Available")
        await card.locator("button.plug").click()  # through the proxy, the answer over its stream
        await expect(card.locator(".status")).to_have_text("Preparing")
