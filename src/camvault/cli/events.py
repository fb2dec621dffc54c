"""``camvault events``: list the catalog as a table or as JSON lines."""

from __future__ import annotations

import argparse
import json
import re
from contextlib import closing
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from camvault.catalog.base import MAX_LIMIT, Catalog, EventQuery
from camvault.cli.errors import CliError
from camvault.config.checks import check_timezone
from camvault.config.loader import Config
from camvault.domain.model import CatalogEvent, parse_instant
from camvault.domain.timeline import day_bounds
from camvault.factory import open_cameras, open_catalog


def non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative; use 0 for all")
    return value


def register(verbs: Any, common: argparse.ArgumentParser) -> None:
    events = verbs.add_parser(
        "events",
        parents=[common],
        help="list cataloged events",
        description="List cataloged events, oldest first: a table, or one JSON event object per line.",
    )
    events.add_argument("--camera", metavar="NAME", help="only this camera's events")
    events.add_argument(
        "--since",
        metavar="WHEN",
        help="an age (30m, 2h, 7d), a date (2024-03-10: local midnight in --timezone) "
        "or an instant with an offset (2024-03-10T07:00:00Z)",
    )
    events.add_argument(
        "--timezone", metavar="ZONE", help="zone for shown times and --since dates (default: the config's)"
    )
    events.add_argument("--json", action="store_true", help="one JSON event object per line")
    events.add_argument(
        "--limit", type=non_negative, default=0, metavar="N", help="at most N events (0: all)"
    )
    events.set_defaults(handler=cmd_events)


def parse_since(text: str, now: datetime, zone: ZoneInfo) -> datetime:
    """``30m``/``2h``/``7d`` ago, a date (local midnight in ``zone``), or an ISO instant."""
    text = text.strip()
    try:
        match = re.fullmatch(r"(\d{1,6})([smhd])", text)
        if match:
            unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[match[2]]
            return now - timedelta(**{unit: int(match[1])})
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return day_bounds(date.fromisoformat(text), zone).start
        return parse_instant(text)
    except (ValueError, OverflowError):
        raise CliError(
            f"--since {text!r}: use an age (2h, 7d), a date (2024-03-10) or an instant with an offset "
            "(2024-03-10T07:00:00Z)"
        ) from None


def cmd_events(args: argparse.Namespace, config: Config) -> int:
    zone_name = args.timezone or config.settings.timezone
    if problem := check_timezone(zone_name):
        raise CliError(f"--timezone {zone_name!r}: {problem}")
    zone = ZoneInfo(zone_name)
    since = parse_since(args.since, datetime.now(UTC), zone) if args.since else None
    with closing(open_catalog(config)) as catalog:
        if args.camera:
            _check_camera(catalog, config, args.camera)
        shown = 0
        for event in _all_events(catalog, args.camera, since, args.limit):
            print(json.dumps(event.to_json()) if args.json else _line(event, zone))
            shown += 1
    if not shown and not args.json:
        print("no events (if the catalog was lost, `camvault reindex` rebuilds it from the store)")
    return 0


def _all_events(catalog: Catalog, camera: str | None, since: datetime | None, limit: int) -> Any:
    shown, cursor = 0, None
    while True:
        size = min(MAX_LIMIT, limit - shown) if limit else MAX_LIMIT
        query = EventQuery(camera=camera, start=since, newest_first=False, limit=size, cursor=cursor)
        page = catalog.query(query)
        yield from page.events
        shown += len(page.events)
        cursor = page.next_cursor
        if cursor is None or (limit and shown >= limit):
            return


def _check_camera(catalog: Catalog, config: Config, name: str) -> None:
    """A camera filter that matches nothing by its name is more likely a typo than a quiet camera."""
    with open_cameras(config) as cameras:
        known = {camera.name for camera in cameras.list()}
    known |= {summary.camera for summary in catalog.cameras()}
    if name not in known:
        listed = ", ".join(sorted(known)) or "none yet"
        raise CliError(f"--camera {name!r}: no such camera (known: {listed})")


def _line(event: CatalogEvent, zone: ZoneInfo) -> str:
    local = event.capture_time.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z")
    media = event.media
    facts = ""
    if media and media.width:
        facts = f"{media.width}x{media.height}"
        if media.duration:
            facts += f" {media.duration:.1f}s"
    if not event.playable:
        facts = f"NOT PLAYABLE: {event.problem}"
    skew = " (clock skew)" if event.clock_skew else ""
    return f"{local}  {event.camera:<16} {event.kind:<6} {facts:<20} {event.key}{skew}"
