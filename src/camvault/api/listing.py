"""The query parameters of the listings (``/events``, ``/incidents``): parsed here, by hand.

Both listings take ``camera``, ``start``/``end``, a local ``date`` read in ``tz``, ``order``,
``cursor`` and ``limit`` (events also ``kind``). FastAPI's generic validation of these nine
parameters cost more than the page itself (see docs/benchmarks.md), so the routes read them
from the query string with this module, and publish them in the OpenAPI document with
``parameters``. Every bad value is a 400 with a message naming the parameter, never a 500.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import HTTPException

from camvault.catalog.base import MAX_LIMIT, BadCursor, EventQuery, IncidentQuery
from camvault.clock import Clock
from camvault.domain.model import KINDS, Kind, parse_instant
from camvault.domain.timeline import DayBounds, day_bounds, parse_zone

_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
ORDERS = ("newest", "oldest")
DEFAULT_LIMIT = 50


@dataclass(frozen=True)
class Listing:
    """The parameters of one listing request, checked."""

    camera: str | None
    start: datetime | None
    end: datetime | None
    kind: Kind | None
    newest_first: bool
    limit: int
    cursor: str | None

    def events(self) -> EventQuery:
        try:
            return EventQuery(
                self.camera, self.start, self.end, self.kind, self.newest_first, self.limit, self.cursor
            )
        except BadCursor as exc:
            raise HTTPException(400, str(exc)) from None

    def incidents(self) -> IncidentQuery:
        try:
            return IncidentQuery(
                self.camera, self.start, self.end, self.newest_first, self.limit, self.cursor
            )
        except BadCursor as exc:
            raise HTTPException(400, str(exc)) from None


def parse_listing(params: Mapping[str, str], clock: Clock, *, kinds: bool) -> Listing:
    """The listing that ``params`` (a request's query) asks for; HTTPException 400 when a value
    is wrong. ``kinds``: the listing takes ``kind`` (events do, incidents do not)."""
    start, end = time_window(
        params.get("start"), params.get("end"), params.get("date"), params.get("tz", "UTC"), clock
    )
    return Listing(
        camera=params.get("camera"),
        start=start,
        end=end,
        kind=_kind(params.get("kind")) if kinds else None,
        newest_first=_choice(params.get("order", "newest"), "order", ORDERS) == "newest",
        limit=_limit(params.get("limit")),
        cursor=params.get("cursor"),
    )


def listing_parameters(*, kinds: bool) -> list[dict[str, Any]]:
    """The OpenAPI ``parameters`` of a listing (what ``parse_listing`` reads)."""

    def parameter(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
        return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}

    text = {"type": "string"}
    found = [
        parameter("camera", "only this camera's events", text),
        parameter("start", "inclusive instant, ISO 8601 with offset", text),
        parameter("end", "exclusive instant, ISO 8601 with offset", text),
        parameter("date", "a local day YYYY-MM-DD, or `today`, read in `tz`", text),
        parameter("tz", "IANA time zone for `date`", {"type": "string", "default": "UTC"}),
        parameter("order", "newest or oldest first", {"enum": list(ORDERS), "default": "newest"}),
        parameter("cursor", "next_cursor of the previous page", text),
        parameter(
            "limit",
            "page size",
            {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
        ),
    ]
    if kinds:
        found.insert(1, parameter("kind", "only clips or only snapshots", {"enum": list(KINDS)}))
    return found


def time_window(
    start: str | None, end: str | None, day: str | None, tz: str, clock: Clock
) -> tuple[datetime | None, datetime | None]:
    """The instants a listing covers: ``start``/``end``, narrowed to the local ``day`` in ``tz``."""
    lower, upper = _instant(start, "start"), _instant(end, "end")
    if day is not None:
        bounds = _day(day, tz, clock)
        lower = max(lower, bounds.start) if lower else bounds.start
        upper = min(upper, bounds.end) if upper else bounds.end
    return lower, upper


def _kind(text: str | None) -> Kind | None:
    if text is None:
        return None
    for kind in KINDS:
        if text == kind:
            return kind
    raise HTTPException(400, f"kind: {text!r} is not one of {', '.join(KINDS)}")


def _choice(text: str, name: str, choices: tuple[str, ...]) -> str:
    if text not in choices:
        raise HTTPException(400, f"{name}: {text!r} is not one of {', '.join(choices)}")
    return text


def _limit(text: str | None) -> int:
    if text is None:
        return DEFAULT_LIMIT
    value = int(text) if text.isascii() and text.isdigit() and len(text) <= 6 else 0
    if not 1 <= value <= MAX_LIMIT:
        raise HTTPException(400, f"limit: {text!r} is not a whole number from 1 to {MAX_LIMIT}")
    return value


def _day(text: str, tz: str, clock: Clock) -> DayBounds:
    """The bounds of the local day ``text`` (``YYYY-MM-DD`` or ``today``) in the zone ``tz``."""
    zone = _zone(tz)
    if text == "today":
        day = clock().astimezone(zone).date()
    elif _DAY.fullmatch(text):
        day = _calendar_day(text)
    else:
        raise HTTPException(400, f"date={text!r}: use YYYY-MM-DD (e.g. 2024-11-03) or today")
    try:
        return day_bounds(day, zone)
    except ValueError as exc:
        raise HTTPException(400, f"date={day.isoformat()}: {exc}") from None


def _calendar_day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise HTTPException(400, f"date={text!r}: {exc}") from None


def _instant(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_instant(value)
    except ValueError:
        raise HTTPException(
            400,
            f"{name}={value!r} is not an ISO 8601 instant with an offset, e.g. 2024-03-10T07:00:00Z",
        ) from None


def _zone(name: str) -> ZoneInfo:
    try:
        return parse_zone(name)
    except ValueError as exc:
        raise HTTPException(400, f"tz: {exc}") from None
