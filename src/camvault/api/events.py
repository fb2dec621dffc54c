"""Cameras, events with filters and cursor pagination, and event detail.

Routes read the catalog they are given; they never open stores or read settings themselves.
JSON shapes are the event object of the contract (``CatalogEvent.to_json``). Bad parameters
are answered 400 with a message, never 500.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import date, datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Query, Response
from pydantic import TypeAdapter
from starlette.concurrency import run_in_threadpool

from camvault.api import API
from camvault.catalog.base import MAX_LIMIT, BadCursor, CameraSummary, Catalog, EventQuery
from camvault.clock import Clock, utcnow
from camvault.domain.model import format_instant, parse_instant
from camvault.domain.timeline import DayBounds, day_bounds, parse_zone

_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
PAGE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "a page of events, newest or oldest first",
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["events", "next_cursor"],
                    "properties": {
                        "events": {"type": "array", "items": {"type": "object"}},
                        "next_cursor": {"type": ["string", "null"]},
                    },
                }
            }
        },
    }
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "no such event"}}


def events_router(
    catalog: Catalog, registered: Callable[[], Iterable[str]] | None, clock: Clock = utcnow
) -> APIRouter:
    """``/cameras``, ``/events`` and ``/events/{id}``. ``registered`` names the cameras known to
    this site, so a camera that has not uploaded yet is listed too (with no events); ``clock``
    says what ``date=today`` means (in the viewer's ``tz``)."""
    router = APIRouter(prefix=API, tags=["events"])

    @router.get("/cameras")
    def cameras() -> dict[str, Any]:
        summaries = {summary.camera: summary for summary in catalog.cameras()}
        for name in registered() if registered else ():
            summaries.setdefault(name, CameraSummary(name, 0, 0, 0, None))
        return {"cameras": [_camera_json(summaries[name]) for name in sorted(summaries)]}

    json_body: TypeAdapter[dict[str, Any]] = TypeAdapter(dict[str, Any])

    # A page read from a local catalog (SQLite: index-bounded, at most MAX_LIMIT rows) costs
    # less than the hop to a worker thread and back, so it runs on the event loop; a catalog
    # over the network (no ``local_reads``) is read from a worker thread.
    local_reads = bool(getattr(catalog, "local_reads", False))

    @router.get("/events", response_model=None, responses=PAGE)
    async def events(
        camera: str | None = None,
        start: Annotated[str | None, Query(description="inclusive instant, ISO 8601 with offset")] = None,
        end: Annotated[str | None, Query(description="exclusive instant, ISO 8601 with offset")] = None,
        day: Annotated[
            str | None,
            Query(alias="date", description="a local day YYYY-MM-DD, or `today`, read in `tz`"),
        ] = None,
        tz: Annotated[str, Query(description="IANA time zone for `date`")] = "UTC",
        kind: Literal["record", "snap"] | None = None,
        order: Literal["newest", "oldest"] = "newest",
        cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    ) -> Response:
        lower, upper = time_window(start, end, day, tz, clock)
        try:
            query = EventQuery(
                camera=camera,
                start=lower,
                end=upper,
                kind=kind,
                newest_first=order == "newest",
                limit=limit,
                cursor=cursor,
            )
        except BadCursor as exc:
            raise HTTPException(400, str(exc)) from None
        page = catalog.query(query) if local_reads else await run_in_threadpool(catalog.query, query)
        body = {"events": [event.to_json() for event in page.events], "next_cursor": page.next_cursor}
        # Serialized by pydantic-core in one call: FastAPI's generic path walks the 50 events
        # in Python and costs several times the catalog query (see docs/benchmarks.md).
        return Response(json_body.dump_json(body), media_type="application/json")

    @router.get("/events/{event_id}", responses=NOT_FOUND)
    def event(event_id: str) -> dict[str, Any]:
        found = catalog.get(event_id)
        if found is None:
            raise HTTPException(404, f"no event {event_id!r}")
        return found.to_json()

    return router


def _camera_json(summary: CameraSummary) -> dict[str, Any]:
    latest = summary.latest
    return {
        "name": summary.camera,
        "event_count": summary.event_count,
        "record_count": summary.record_count,
        "snap_count": summary.snap_count,
        "latest": latest.to_json() if latest else None,
        "last_seen": format_instant(latest.capture_time) if latest else None,
    }


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
