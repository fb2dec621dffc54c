"""The web app in a real browser: headless Debian chromium against a real ``camvault serve``.

One server per module (``tests/support/web_site.py``: real clips and snapshots ingested through
the CLI); each test opens a fresh browser profile. The viewer's zone is America/New_York (set on
the browser, not the server), so days, "today" and the DST fall-back day (2025-11-02, 25 hours)
and spring-forward day (2026-03-08, 23 hours) are the viewer's. Screenshots go to
``$CAMVAULT_TEST_ARTIFACTS`` (default ``test-artifacts/``).
"""

from __future__ import annotations

import http.client
import os
import re
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, Playwright, expect, sync_playwright

from tests.support.browser import DESKTOP, PHONE, log_in, open_browser
from tests.support.cli import camvault, set_key
from tests.support.web_site import (
    HOSTILE,
    SCROLL_SNAPS,
    VIEWER_ZONE,
    Server,
    Site,
    expected_days,
    served_site,
)

pytestmark = pytest.mark.functional

ARTIFACTS = Path(os.environ.get("CAMVAULT_TEST_ARTIFACTS", "test-artifacts"))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with served_site(tmp_path_factory.mktemp("web")) as built:
        yield built


@pytest.fixture
def playwright() -> Iterator[Playwright]:
    # per test: stopping the driver closes its event loop, whose worker threads then end
    with sync_playwright() as driver:
        yield driver


@pytest.fixture
def browser(
    playwright: Playwright, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[BrowserContext]:
    viewport = getattr(request, "param", DESKTOP)
    context = open_browser(
        playwright,
        tmp_path / "profile",
        viewport=viewport,
        timezone_id=VIEWER_ZONE.key,
        locale="en-US",
        accept_downloads=True,
    )
    # Script errors and CSP refusals in the page fail the test; failed loads (the 401s of a
    # refused login or of a request after logout) are expected and asserted where they happen.
    problems: list[str] = []
    page = context.pages[0]
    page.on("pageerror", lambda error: problems.append(f"uncaught: {error}"))
    page.on(
        "console",
        lambda message: (
            problems.append(message.text)
            if message.type == "error" and not message.text.startswith("Failed to load resource")
            else None
        ),
    )
    yield context
    context.close()
    assert not problems, problems


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"web-{name}.png"), full_page=False)


def shown_ids(page: Page, within: str = "#timeline") -> list[str]:
    return page.eval_on_selector_all(f"{within} [data-id]", "nodes => nodes.map(n => n.dataset.id)")


def wait_loaded(page: Page, camera: str = "", day: str = "") -> None:
    """Wait until the timeline shows (the first page for) these filters."""
    page.wait_for_function(
        "shown => { const t = document.getElementById('timeline');"
        " return t.dataset.shown === shown && t.getAttribute('aria-busy') === 'false'; }",
        arg=f"{camera}|{day}",
    )


def video_plays(page: Page) -> dict[str, Any]:
    """Wait for the player's video to have enough data (readyState 4) and to advance."""
    page.wait_for_function(
        "() => document.querySelector('#player-media video')?.readyState === 4", timeout=15000
    )
    first = page.evaluate("() => document.querySelector('#player-media video').currentTime")
    page.wait_for_function(
        f"() => document.querySelector('#player-media video').currentTime > {first} + 0.3", timeout=10000
    )
    return page.evaluate(
        """() => { const v = document.querySelector('#player-media video');
        return {version: v.dataset.version, width: v.videoWidth, height: v.videoHeight,
                src: v.currentSrc}; }"""
    )


def fetch(
    site: Site, path: str, *, token: bool = False, headers: dict[str, str] | None = None
) -> http.client.HTTPResponse:
    """GET ``path`` without following redirects (and without cookies)."""
    connection = http.client.HTTPConnection(site.url.removeprefix("http://"), timeout=10)
    headers = {**(headers or {}), **({"Authorization": f"Bearer {site.secret}"} if token else {})}
    connection.request("GET", path, headers=headers)
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


def test_only_the_login_page_and_its_files_are_served_without_a_login(site: Site) -> None:
    home = fetch(site, "/")
    assert (home.status, home.getheader("Location")) == (303, "/login")
    login = fetch(site, "/login")
    assert (login.status, login.getheader("Content-Type")) == (200, "text/html; charset=utf-8")
    policy = login.getheader("Content-Security-Policy") or ""
    script_src = next(part for part in policy.split(";") if part.strip().startswith("script-src"))
    assert script_src.split() == ["script-src", "'self'"]
    public = {
        "/static/login.js": "text/javascript; charset=utf-8",
        "/static/style.css": "text/css; charset=utf-8",
        "/static/icon.svg": "image/svg+xml",
    }
    for path, content_type in public.items():
        answer = fetch(site, path)
        assert (answer.status, answer.getheader("Content-Type")) == (200, content_type), path
    for private in ("/static/app.js", "/static/timeline.js", "/static/player.js"):
        assert fetch(site, private).status == 401, private
        assert fetch(site, private, token=True).status == 200, private
    module = fetch(site, "/static/app.js", token=True)
    assert module.getheader("Cache-Control") == "no-cache"
    unchanged = fetch(site, "/static/app.js", token=True, headers={"If-None-Match": module.getheader("ETag")})
    assert unchanged.status == 304  # a reload revalidates without downloading again
    already = fetch(site, "/login", token=True)
    assert (already.status, already.getheader("Location")) == (303, "/")  # signed in: straight to the app
    for missing in ("/static/index.html", "/static/nothing.js", "/static/..%2Froutes.py"):
        assert fetch(site, missing, token=True).status == 404, missing


def shown_days(page: Page) -> list[tuple[str, list[str]]]:
    return [
        (
            section.get_attribute("data-day") or "",
            shown_ids(page, f"section[data-day='{section.get_attribute('data-day')}']"),
        )
        for section in page.query_selector_all("#timeline section.day")
    ]


def pick_day(page: Page, site: Site, day: date) -> None:
    """Open the calendar, go back to ``day``'s month, click it."""
    page.click("#day-button")
    months_back = (site.today.year - day.year) * 12 + site.today.month - day.month
    for _ in range(months_back):
        page.click("#calendar [data-step='-1']")
    page.click(f"#calendar [data-day='{day.isoformat()}']")


@pytest.mark.parametrize("browser", [DESKTOP, PHONE], ids=["desktop", "phone"], indirect=True)
def test_log_in_browse_filter_play_and_log_out(site: Site, browser: BrowserContext) -> None:
    size = "phone" if browser.pages[0].viewport_size == PHONE else "desktop"
    page = browser.pages[0]
    page.goto(f"{site.url}/")
    assert page.url == f"{site.url}/login"  # not logged in: the app sends the visitor to the login page
    page.fill("#username", "admin")
    page.fill("#password", "not the secret")
    page.click("#login-button")
    expect(page.locator("#login-error")).to_have_text("Wrong user name or password.")
    shot(page, f"{size}-login-refused")

    log_in(page, site.url, "admin", site.secret)
    assert page.locator("#user").text_content() == "admin"
    assert page.locator("#zone-note").inner_text() == "Days and times in America/New_York"
    everything = site.all_incidents()  # one card per alarm incident
    first_page = everything[:50]
    assert shown_ids(page) == [e["id"] for e in first_page]  # newest first, one page
    assert shown_days(page) == expected_days(site, first_page)
    first_title = page.locator("#timeline section.day h2").first.inner_text()
    is_today = expected_days(site, first_page)[0][0] == datetime.now(VIEWER_ZONE).date().isoformat()
    assert first_title.startswith("Today · ") == is_today
    shot(page, f"{size}-timeline")

    # infinite scroll: the rest arrives page by page as the reader scrolls down
    for _ in range(10):
        if page.locator("#timeline-end").inner_text():
            break
        page.locator("#sentinel").scroll_into_view_if_needed()
        page.wait_for_timeout(300)
    assert page.locator("#timeline-end").inner_text() == "No older events."
    assert shown_ids(page) == [e["id"] for e in everything]
    assert shown_days(page) == expected_days(site, everything)

    # filter by camera
    page.locator("#camera-filter").select_option("backyard")
    wait_loaded(page, camera="backyard")
    assert page.evaluate("() => location.hash") == "#/timeline?camera=backyard"
    assert shown_ids(page) == [site.ids["backyard"]]
    shot(page, f"{size}-filter-camera")

    # filter by day, from the calendar: yesterday in the viewer's zone
    page.locator("#camera-filter").select_option("")
    wait_loaded(page)
    assert len(shown_ids(page)) == 50
    yesterday = site.today - timedelta(days=1)
    pick_day(page, site, yesterday)
    wait_loaded(page, day=yesterday.isoformat())
    assert page.evaluate("() => location.hash") == f"#/timeline?date={yesterday.isoformat()}"
    on_yesterday = dict(expected_days(site, everything))[yesterday.isoformat()]
    assert site.ids["yesterday-clip"] in on_yesterday
    assert shown_ids(page) == on_yesterday
    assert page.locator("#timeline section.day h2").inner_text().startswith("Yesterday · ")
    shot(page, f"{size}-filter-day")

    # the player: open the newest clip, play it, step with the keyboard, switch versions.
    # A phone starts with the small version, a wide screen with the original.
    versions = {"original": (320, 240), "small": (160, 120)}
    first, other = ("small", "original") if size == "phone" else ("original", "small")
    page.goto(f"{site.url}/#/timeline?camera=driveway")
    wait_loaded(page, camera="driveway")
    page.click(f"[data-id='{site.ids['newest-clip']}']")
    assert page.locator("#player").is_visible()
    assert "Space" in page.locator(".shortcuts").inner_text()
    played = video_plays(page)
    assert (played["version"], (played["width"], played["height"])) == (first, versions[first])
    shot(page, f"{size}-player-{first}")
    page.keyboard.press("ArrowRight")  # next: the older snapshot, an incident of its own
    page.wait_for_function(
        f"() => document.querySelector('#player-media img')?.src.includes('{site.ids['newest-snap']}')"
    )
    assert page.locator("#player-title").inner_text() == "driveway"
    expect(page.locator("#quality-small")).to_be_disabled()  # a snapshot has no small version
    page.keyboard.press("ArrowLeft")  # previous: back to the clip
    video_plays(page)
    page.click(f"#quality-{other}")
    played = video_plays(page)
    assert (played["version"], (played["width"], played["height"])) == (other, versions[other])
    assert played["src"].endswith(f"/api/v1/events/{site.ids['newest-clip']}/media/{other}")
    shot(page, f"{size}-player-{other}")
    page.keyboard.press(" ")
    page.wait_for_function("() => document.querySelector('#player-media video').paused")
    with page.expect_download() as download:
        page.click("#player-download")
    original = site.data / "objects" / site.api(f"/events/{site.ids['newest-clip']}")["key"]
    assert download.value.suggested_filename == original.name
    assert Path(download.value.path()).read_bytes() == original.read_bytes()
    page.keyboard.press("Escape")
    assert page.locator("#player").is_hidden()

    # log out: the session is gone for the pages and for the API, on the server too
    session_cookies = browser.cookies()
    assert {c["name"] for c in session_cookies} >= {"camvault_session", "camvault_csrf"}
    page.click("#logout")
    page.wait_for_url(f"{site.url}/login")
    assert browser.cookies() == []
    browser.add_cookies(session_cookies)  # a copy of the old cookie no longer opens anything
    page.goto(f"{site.url}/")
    assert page.url == f"{site.url}/login"
    status = page.evaluate("() => fetch('/api/v1/events').then(r => r.status)")
    assert status == 401
    shot(page, f"{size}-logged-out")


def test_days_follow_the_viewer_zone_across_dst(site: Site, browser: BrowserContext) -> None:
    page = browser.pages[0]
    log_in(page, site.url, "admin", site.secret)
    page.goto(f"{site.url}/#/timeline?date=2025-11-02")
    wait_loaded(page, day="2025-11-02")
    fall_back = ["nov2-last", "nov2-est", "nov2-edt", "nov2-first"]  # 25 hours, newest first
    assert shown_days(page) == [("2025-11-02", [site.ids[label] for label in fall_back])]
    assert page.locator("#day-button").inner_text() == "Nov 2, 2025"
    shot(page, "dst-fall-back")
    page.goto(f"{site.url}/#/timeline?date=2026-03-08")
    wait_loaded(page, day="2026-03-08")
    assert shown_days(page) == [("2026-03-08", [site.ids["mar8-last"], site.ids["mar8-first"]])]


@pytest.mark.parametrize("browser", [DESKTOP, PHONE], ids=["desktop", "phone"], indirect=True)
def test_camera_overview_flags_quiet_cameras(site: Site, browser: BrowserContext) -> None:
    page = browser.pages[0]
    size = "phone" if page.viewport_size == PHONE else "desktop"
    log_in(page, site.url, "admin", site.secret)
    page.click("#nav-cameras")
    page.wait_for_selector("#camera-cards .camera-card")
    assert "no event for 24 hours" in page.locator("#quiet-note").inner_text()
    driveway = page.locator(".camera-card[data-camera='driveway']")
    backyard = page.locator(".camera-card[data-camera='backyard']")
    assert driveway.locator(".quiet-warning").count() == 0
    assert "min ago" in driveway.locator(".last-seen").inner_text()
    assert (
        driveway.locator("img").get_attribute("src")
        == f"/api/v1/events/{site.ids['newest-clip']}/media/thumbnail"
    )
    assert backyard.locator(".quiet-warning").inner_text().startswith("⚠ Quiet: no event for")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.camera-card img')]"
        ".every(i => i.complete && i.naturalWidth > 0)"
    )
    shot(page, f"{size}-cameras")
    backyard.click()
    wait_loaded(page, camera="backyard")
    assert shown_ids(page) == [site.ids["backyard"]]


def test_hostile_names_stay_text(site: Site, browser: BrowserContext) -> None:
    page = browser.pages[0]
    log_in(page, site.url, "admin", site.secret)
    for camera in ("attic", HOSTILE):
        page.goto(f"{site.url}/#/timeline?{urllib.parse.urlencode({'camera': camera})}")
        wait_loaded(page, camera=camera)
        page.click("#timeline [data-id]")
        page.wait_for_selector("#player-media video")
        assert page.locator("#player-file").inner_text() == f"{HOSTILE}.mp4"
        page.keyboard.press("Escape")
    assert page.locator("#player-title").inner_text() == HOSTILE
    assert page.locator("#camera-filter option", has_text=HOSTILE).count() == 1
    page.click("#nav-cameras")
    page.wait_for_selector(".camera-card h2")
    assert HOSTILE in page.locator("#camera-cards").inner_text()
    shot(page, "hostile-names")
    assert page.evaluate("() => window.__xss") is None
    assert page.locator("img[src='x']").count() == 0


def test_an_unreadable_clip_says_so_and_can_still_be_downloaded(site: Site, browser: BrowserContext) -> None:
    page = browser.pages[0]
    log_in(page, site.url, "admin", site.secret)
    broken = site.ids["broken"]
    assert page.locator(f"[data-id='{broken}'] .badge").inner_text() == "clip"
    assert page.locator(f"[data-id='{broken}'] .no-preview").inner_text() == "no preview"
    page.click(f"[data-id='{broken}']")
    expect(page.locator(".unplayable-note")).to_contain_text("could not read this file")
    assert page.locator("#player-media video").count() == 0
    for _ in range(8):  # the keyboard stays in the open player
        page.keyboard.press("Tab")
        assert page.evaluate("() => document.getElementById('player').contains(document.activeElement)")
    with page.expect_download() as download:
        page.click("#player-download")
    original = site.data / "objects" / site.api(f"/events/{broken}")["key"]
    assert Path(download.value.path()).read_bytes() == original.read_bytes()


@pytest.mark.parametrize("browser", [PHONE], ids=["phone"], indirect=True)  # 50 thumbnails overflow it
def test_older_from_the_last_loaded_event_fetches_the_next_page(site: Site, browser: BrowserContext) -> None:
    page = browser.pages[0]
    log_in(page, site.url, "admin", site.secret)
    page.goto(f"{site.url}/#/timeline?camera=shed")
    wait_loaded(page, camera="shed")
    shed = [site.ids[f"shed-{n}"] for n in reversed(range(SCROLL_SNAPS))]  # newest first
    assert shown_ids(page) == shed[:50]
    page.click(f"[data-id='{shed[49]}']")
    page.keyboard.press("ArrowRight")
    page.wait_for_function(
        "id => document.querySelector('#player-media img')?.src.includes(id)", arg=shed[50]
    )
    assert shown_ids(page) == shed
    page.keyboard.press("ArrowLeft")
    page.wait_for_function(
        "id => document.querySelector('#player-media img')?.src.includes(id)", arg=shed[49]
    )


def test_the_calendar_knows_today_in_the_viewer_zone(site: Site, browser: BrowserContext) -> None:
    page = browser.pages[0]
    log_in(page, site.url, "admin", site.secret)
    page.click("#day-button")
    today = datetime.now(VIEWER_ZONE).date()
    marked = page.locator("#calendar button[aria-current='date']")
    assert marked.get_attribute("data-day") == today.isoformat()
    later = page.locator("#calendar button[data-day]").evaluate_all(
        "(buttons, today) => buttons.filter(b => b.dataset.day > today).map(b => b.disabled)",
        today.isoformat(),
    )
    assert all(later)  # no picking a day that has not happened yet
    page.click("#calendar [data-action='today']")
    wait_loaded(page, day=today.isoformat())
    on_today = dict(expected_days(site, site.all_incidents())).get(today.isoformat(), [])
    assert shown_ids(page) == on_today
    page.click("#day-button")
    page.click("#calendar [data-action='all']")
    wait_loaded(page)
    assert page.locator("#day-button").inner_text() == "All days"
    assert len(shown_ids(page)) >= 50


def test_the_login_page_says_how_long_to_wait_when_throttled(tmp_path: Path, browser: BrowserContext) -> None:
    init = camvault("init", tmp_path / "site")
    assert init.code == 0, init.err
    secret = init.out.split("keep it safe): ", 1)[1].split()[0]
    config = tmp_path / "site" / "camvault.toml"
    set_key(config, "auth.login_attempts", 2)
    server = Server(config)
    try:
        page = browser.pages[0]
        page.goto(f"{server.url}/login")
        for _ in range(2):
            page.fill("#username", "admin")
            page.fill("#password", "wrong password")
            page.click("#login-button")
            expect(page.locator("#login-error")).to_have_text("Wrong user name or password.")
        page.fill("#password", secret)  # while throttled, even the right secret waits
        page.click("#login-button")  # waits for the button: disabled while a login is on its way
        expect(page.locator("#login-error")).to_have_text(re.compile(r"Too many attempts\. Wait \d+ seconds"))
        assert page.url == f"{server.url}/login"
        shot(page, "login-throttled")
    finally:
        server.stop()


def shown_media(page: Page, event_id: str) -> None:
    """Wait until the player shows ``event_id`` (its photo or its clip)."""
    page.wait_for_function(
        "id => [...document.querySelectorAll('#player-media img, #player-media video')]"
        ".some(m => m.getAttribute('src')?.includes(`/events/${id}/`))",
        arg=event_id,
    )


@pytest.mark.parametrize("browser", [DESKTOP, PHONE], ids=["desktop", "phone"], indirect=True)
def test_an_incident_is_one_card_with_its_clip_as_face(site: Site, browser: BrowserContext) -> None:
    page = browser.pages[0]
    size = "phone" if page.viewport_size == PHONE else "desktop"
    snap_1, clip, snap_2 = (site.ids[label] for label in ("porch-snap-1", "porch-clip", "porch-snap-2"))
    log_in(page, site.url, "admin", site.secret)
    page.goto(f"{site.url}/#/timeline?camera=porch")
    wait_loaded(page, camera="porch")
    assert shown_ids(page) == [snap_1]  # one card, named by the incident's first event
    card = page.locator(f"#timeline [data-id='{snap_1}']")
    assert card.locator(".badge").inner_text() == "3 events"
    assert card.get_attribute("aria-label") == "porch at 06:00:00 AM, 1 clip, 2 photos"
    assert card.locator("img").get_attribute("src") == f"/api/v1/events/{clip}/media/thumbnail"
    page.wait_for_function("() => document.querySelector('#timeline img')?.naturalWidth > 0")
    assert page.locator("#timeline section.day").get_attribute("data-day") == "2024-06-01"
    shot(page, f"{size}-incident-card")

    card.click()  # the player opens on the incident's first event, then walks through it
    shown_media(page, snap_1)
    assert page.locator("#player-incident").inner_text() == "Event 1 of 3 in this incident (1 clip, 2 photos)"
    expect(page.locator("#player-prev")).to_be_disabled()
    page.keyboard.press("ArrowRight")
    shown_media(page, clip)
    video_plays(page)
    assert page.locator("#player-incident").inner_text().startswith("Event 2 of 3")
    shot(page, f"{size}-incident-clip")
    page.click("#player-next")
    shown_media(page, snap_2)
    expect(page.locator("#player-next")).to_be_disabled()  # porch has no other incident
    page.keyboard.press("ArrowLeft")
    shown_media(page, clip)


def test_next_walks_past_an_incident_to_the_next_one(site: Site, browser: BrowserContext) -> None:
    page = browser.pages[0]
    log_in(page, site.url, "admin", site.secret)
    incidents = [incident["id"] for incident in site.all_incidents()]
    porch = site.ids["porch-snap-1"]
    after = incidents[incidents.index(porch) + 1]  # older, another camera
    page.click(f"#timeline [data-id='{porch}']")
    shown_media(page, porch)
    for event in ("porch-clip", "porch-snap-2"):
        page.keyboard.press("ArrowRight")
        shown_media(page, site.ids[event])
    page.keyboard.press("ArrowRight")
    shown_media(page, after)
    assert page.locator("#player-incident").inner_text() == ""  # a one-event incident
    page.keyboard.press("ArrowLeft")  # back into the incident, at its last event
    shown_media(page, site.ids["porch-snap-2"])
    before = incidents[incidents.index(porch) - 1]
    for event in ("porch-clip", "porch-snap-1"):
        page.keyboard.press("ArrowLeft")
        shown_media(page, site.ids[event])
    page.keyboard.press("ArrowLeft")  # the newer incident before it, at its last event
    shown_media(page, site.api(f"/incidents/{before}")["events"][-1]["id"])


def keep_state(page: Page) -> tuple[str, str]:
    button = page.locator("#player-keep")
    return button.get_attribute("aria-pressed") or "", button.inner_text()


def open_porch_clip(page: Page, site: Site) -> None:
    page.goto(f"{site.url}/#/timeline?camera=porch")
    wait_loaded(page, camera="porch")
    page.click("#timeline [data-id]")
    shown_media(page, site.ids["porch-snap-1"])
    page.keyboard.press("ArrowRight")
    shown_media(page, site.ids["porch-clip"])


def test_keep_toggles_from_the_player_and_survives_a_reload(site: Site, browser: BrowserContext) -> None:
    page = browser.pages[0]
    clip = site.ids["porch-clip"]
    log_in(page, site.url, "admin", site.secret)
    open_porch_clip(page, site)
    assert "k keep" in page.locator(".shortcuts").inner_text()
    assert keep_state(page) == ("false", "☆ Keep")
    page.keyboard.press("k")
    expect(page.locator("#player-keep")).to_have_attribute("aria-pressed", "true")
    assert keep_state(page) == ("true", "★ Kept")
    assert site.api(f"/events/{clip}")["keep"] is True
    shot(page, "player-kept")

    page.reload()
    page.wait_for_selector("body[data-ready='true']")
    open_porch_clip(page, site)
    assert keep_state(page) == ("true", "★ Kept")
    page.keyboard.press("ArrowRight")  # the other events of the incident are not kept
    shown_media(page, site.ids["porch-snap-2"])
    assert keep_state(page) == ("false", "☆ Keep")
    page.keyboard.press("ArrowLeft")
    shown_media(page, clip)
    page.click("#player-keep")
    expect(page.locator("#player-keep")).to_have_attribute("aria-pressed", "false")
    assert site.api(f"/events/{clip}")["keep"] is False


def test_keep_without_the_csrf_token_is_refused_and_says_so(site: Site, browser: BrowserContext) -> None:
    page = browser.pages[0]
    clip = site.ids["porch-clip"]
    log_in(page, site.url, "admin", site.secret)
    refused = page.evaluate(
        """async id => {
        const url = `/api/v1/events/${id}/keep`;
        const none = await fetch(url, {method: 'PUT'});
        const wrong = await fetch(url, {method: 'PUT', headers: {'X-CSRF-Token': 'forged'}});
        const release = await fetch(url, {method: 'DELETE', headers: {'X-CSRF-Token': 'forged'}});
        return [none.status, wrong.status, release.status, (await wrong.json()).detail]; }""",
        clip,
    )
    assert refused == [403, 403, 403, "missing or wrong x-csrf-token header (CSRF check)"]
    assert site.api(f"/events/{clip}")["keep"] is False

    # the page's own request with a forged token: refused, the state is unchanged and said so
    csrf = next(c for c in browser.cookies() if c["name"] == "camvault_csrf")
    browser.add_cookies([{**csrf, "value": "forged"}])
    open_porch_clip(page, site)
    page.keyboard.press("k")
    expect(page.locator("#player-error")).to_have_text(
        "Could not keep this event: missing or wrong x-csrf-token header (CSRF check)."
        " Reload the page and try again."
    )
    assert keep_state(page) == ("false", "☆ Keep")
    assert site.api(f"/events/{clip}")["keep"] is False
    shot(page, "player-keep-refused")
    page.keyboard.press("ArrowRight")  # the message belongs to that event
    expect(page.locator("#player-error")).to_have_text("")
