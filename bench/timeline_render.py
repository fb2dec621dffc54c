"""First timeline render in chromium: how long the owner waits for the first thumbnails.

Used by ``bench/api`` (step "first render"), and runnable on its own against a running camvault:

    .venv/bin/python -m bench.timeline_render http://127.0.0.1:8080 admin SECRET [--runs 10]

Each run loads ``/`` in a logged-in headless chromium (Debian's ``/usr/bin/chromium``) and reads
the performance mark the web app sets when the first page of events is laid out
(``camvault:first-timeline``): milliseconds from navigation start, so it counts the HTML, the
ES modules, ``/api/v1/session``, ``/api/v1/cameras`` and the first ``/api/v1/events`` page.
The first run starts with an empty browser cache (cold); the others reload (warm).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import sync_playwright
from tests.support.browser import DESKTOP, first_render_ms, log_in, open_browser

GOAL_MS = 1000.0


@dataclass(frozen=True)
class RenderTimes:
    cold_ms: float
    warm_ms: list[float]

    @property
    def warm_median_ms(self) -> float:
        return statistics.median(self.warm_ms)

    @property
    def worst_ms(self) -> float:
        return max([self.cold_ms, *self.warm_ms])

    def summary(self) -> str:
        verdict = "meets" if self.worst_ms <= GOAL_MS else "MISSES"
        return (
            f"first timeline render in chromium: cold {self.cold_ms:.0f} ms, warm median "
            f"{self.warm_median_ms:.0f} ms (max {self.worst_ms:.0f} ms over {1 + len(self.warm_ms)} loads; "
            f"{verdict} the {GOAL_MS:.0f} ms goal)"
        )


def measure_first_render(base_url: str, user: str, password: str, *, runs: int = 10) -> RenderTimes:
    """Log in once, then time ``runs`` loads of the timeline (the first with a cold cache)."""
    if runs < 2:
        raise ValueError("runs must be at least 2: one cold load and one warm")
    with sync_playwright() as driver, tempfile.TemporaryDirectory(prefix="camvault-bench-") as profile:
        context = open_browser(driver, Path(profile), viewport=DESKTOP)
        try:
            page = context.pages[0]
            log_in(page, base_url, user, password)
            # log_in already loaded the app once, with an empty cache: that load is the cold one
            cold = first_render_ms(page, base_url, reload=False)
            warm = [first_render_ms(page, base_url) for _ in range(runs - 1)]
        finally:
            context.close()
    return RenderTimes(cold, warm)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.timeline_render", description=__doc__.split("\n")[0]
    )
    parser.add_argument("url", help="where camvault serves, e.g. http://127.0.0.1:8080")
    parser.add_argument("user")
    parser.add_argument("password")
    parser.add_argument("--runs", type=int, default=10, help="page loads to time (default 10)")
    args = parser.parse_args(argv)
    print(measure_first_render(args.url.rstrip("/"), args.user, args.password, runs=args.runs).summary())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
