"""A real browser for the dashboard tests: Playwright driving Debian's Chromium (``/usr/bin/chromium``,
installed by ``scripts/setup --with-browser``; ``OCPP_STATION_CHROMIUM`` names another binary).

:func:`open_page` yields a fresh page in a fresh headless browser and collects every console error and
uncaught page error; on the way out it saves a screenshot under ``test-artifacts/screenshots/`` (kept by
CI as the test's artifact) and fails the test if the page logged any error.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from playwright.async_api import ConsoleMessage, Error, Page, async_playwright

CHROMIUM = os.environ.get("OCPP_STATION_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "screenshots"
#: Headless in a sandbox-less container with no network beyond 127.0.0.1: no GPU, no background
#: connections to Google's hosts (refused here, and slow to fail), a new empty profile.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class PageErrors(list[str]):
    """Console errors and uncaught exceptions of one page, in order."""


@asynccontextmanager
async def open_page(
    name: str, width: int = 1280, height: int = 900
) -> AsyncIterator[tuple[Page, PageErrors]]:
    """A page of a new headless Chromium; ``name`` names its screenshot (``<name>.png``)."""
    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"no Chromium at {CHROMIUM}: run scripts/setup --with-browser")
    errors = PageErrors()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            page = await browser.new_page(viewport={"width": width, "height": height})

            def console(message: ConsoleMessage) -> None:
                if message.type == "error":
                    errors.append(f"console: {message.text}")

            def page_error(error: Error) -> None:
                errors.append(f"page error: {error}")

            page.on("console", console)
            page.on("pageerror", page_error)
            yield page, errors
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(SCREENSHOTS / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}.png"))
        finally:
            await browser.close()
    assert not errors, f"the page logged errors: {errors}"
