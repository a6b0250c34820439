#!/usr/bin/env python3
"""Take docs/dashboard.png: the station's dashboard during a charging session under a charging profile.

Runs ``ocpp-station demo --dashboard``'s CSMS and station in this process, drives them with the
station's Python API and the CSMS's, and photographs the page with Playwright and Debian's Chromium
(as the browser tests do). About 40 s. Usage: .venv/bin/python scripts/dashboard_screenshot.py [OUT]
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.async_api import async_playwright  # noqa: E402
from tests.browser import CHROMIUM, FLAGS  # noqa: E402

from ocpp_station.sim.demo import start_dashboard_demo  # noqa: E402

PROFILE = {
    "connectorId": 1,
    "csChargingProfiles": {
        "chargingProfileId": 1,
        "stackLevel": 1,
        "chargingProfilePurpose": "TxProfile",
        "chargingProfileKind": "Relative",
        "chargingSchedule": {
            "chargingRateUnit": "A",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16}, {"startPeriod": 20, "limit": 8}],
        },
    },
}


async def main(out: Path) -> None:
    demo = await start_dashboard_demo()
    station = demo.station
    try:
        await station.wait_for(lambda s: s["registration"] == "Accepted")
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            page = await browser.new_page(viewport={"width": 1280, "height": 1000})
            await page.goto(demo.url)
            await page.wait_for_selector("#connector-2")
            station.plug(1)
            await station.wait_for(lambda s: s["connectors"][1]["status"] == "Preparing")
            station.present_id_tag("DEMO-CARD-1", 1)
            state = await station.wait_for(lambda s: s["connectors"][1]["transactionId"] is not None)
            tx = state["connectors"][1]["transactionId"]
            await asyncio.sleep(8)
            PROFILE["csChargingProfiles"]["transactionId"] = tx  # type: ignore[index]
            await demo.csms.call("DEMO_CP", "SetChargingProfile", PROFILE)
            station.plug(2)
            await asyncio.sleep(30)
            await page.locator("#trace tbody tr.CALLRESULT", has_text="StartTransaction").click()
            await page.screenshot(path=str(out), full_page=True)
            await browser.close()
    finally:
        await demo.stop()
    print(f"{out}: {out.stat().st_size // 1024} KB")


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "dashboard.png"))
