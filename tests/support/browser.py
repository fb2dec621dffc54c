"""Debian's chromium driven by Playwright: the one launch recipe the web tests and bench/api share.

Playwright never downloads a browser here: it drives ``/usr/bin/chromium`` (installed by
``.ci/run``) with a fresh profile folder, with every background network feature off so a run
only ever talks to the loopback server under test.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from playwright.sync_api import BrowserContext, Page, Playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
FIRST_RENDER_MARK = "camvault:first-timeline"  # set by static/timeline.js


def open_browser(playwright: Playwright, profile: Path, **options: Any) -> BrowserContext:
    """A headless chromium with a fresh profile in ``profile``; ``options`` go to the context
    (``viewport``, ``timezone_id``, ``locale``, ``accept_downloads`` ...)."""
    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"{CHROMIUM} is missing: apt-get install chromium (./.ci/run installs it)")
    return playwright.chromium.launch_persistent_context(
        str(profile),
        executable_path=CHROMIUM,
        args=list(CHROMIUM_ARGS),
        headless=True,
        **options,
    )


def log_in(page: Page, base_url: str, user: str, password: str) -> None:
    """Fill the login form and wait until the timeline has rendered its first page."""
    page.goto(f"{base_url}/login")
    page.fill("#username", user)
    page.fill("#password", password)
    page.click("#login-button")
    page.wait_for_url(f"{base_url}/")
    page.wait_for_selector("body[data-ready='true']")


def first_render_ms(page: Page, base_url: str, *, reload: bool = True) -> float:
    """Milliseconds from navigation start to the first page of thumbnails laid out in the timeline:
    of a new load of the app (already logged in), or with ``reload=False`` of the page shown now."""
    if reload:
        page.goto(f"{base_url}/", wait_until="commit")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = page.evaluate(
            "name => performance.getEntriesByName(name).map(entry => entry.startTime)", FIRST_RENDER_MARK
        )
        if found:
            return float(found[0])
        page.wait_for_timeout(5)
    raise TimeoutError("the timeline did not render within 30 s")
