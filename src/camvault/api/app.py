"""The REST API: cameras, events with filters and cursor pagination, event detail, health.

Routes read the catalog they are given; they never open stores or read settings themselves.
JSON shapes are the event object of the contract (``CatalogEvent.to_json``). Bad parameters
are answered 400 with a message, never 500.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse

from camvault import __version__
from camvault.catalog.base import MAX_LIMIT, BadCursor, Catalog, EventQuery
from camvault.domain.model import format_instant, parse_instant
from camvault.domain.timeline import day_bounds

API = "/api/v1"


def create_app(catalog: Catalog) -> FastAPI:
    """The API app over ``catalog``."""
    app = FastAPI(
        title="camvault",
        version=__version__,
        openapi_url=f"{API}/openapi.json",
        docs_url=None,
        redoc_url=None,
    )

    @app.exception_handler(ValueError)
    async def bad_value(request: Request, exc: ValueError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=400)

    @app.get(f"{API}/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    @app.get(f"{API}/cameras")
    def cameras() -> dict[str, Any]:
        return {
            "cameras": [
                {
                    "name": summary.camera,
                    "event_count": summary.event_count,
                    "record_count": summary.record_count,
                    "snap_count": summary.snap_count,
                    "latest": summary.latest.to_json() if summary.latest else None,
                    "last_seen": format_instant(summary.latest.capture_time) if summary.latest else None,
                }
                for summary in catalog.cameras()
            ]
        }

    @app.get(f"{API}/events")
    def events(
        camera: str | None = None,
        start: Annotated[str | None, Query(description="inclusive instant, ISO 8601 with offset")] = None,
        end: Annotated[str | None, Query(description="exclusive instant, ISO 8601 with offset")] = None,
        day: Annotated[
            date | None, Query(alias="date", description="a local day YYYY-MM-DD, read in `tz`")
        ] = None,
        tz: Annotated[str, Query(description="IANA time zone for `date`")] = "UTC",
        kind: Literal["record", "snap"] | None = None,
        order: Literal["newest", "oldest"] = "newest",
        cursor: str | None = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    ) -> dict[str, Any]:
        lower, upper = _instant(start, "start"), _instant(end, "end")
        if day is not None:
            bounds = day_bounds(day, _zone(tz))
            lower = max(lower, bounds.start) if lower else bounds.start
            upper = min(upper, bounds.end) if upper else bounds.end
        try:
            page = catalog.query(
                EventQuery(
                    camera=camera,
                    start=lower,
                    end=upper,
                    kind=kind,
                    newest_first=order == "newest",
                    limit=limit,
                    cursor=cursor,
                )
            )
        except BadCursor as exc:
            raise HTTPException(400, str(exc)) from None
        return {
            "events": [event.to_json() for event in page.events],
            "next_cursor": page.next_cursor,
        }

    @app.get(f"{API}/events/{{event_id}}")
    def event(event_id: str) -> dict[str, Any]:
        found = catalog.get(event_id)
        if found is None:
            raise HTTPException(404, f"no event {event_id!r}")
        return found.to_json()

    return app


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
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise HTTPException(400, f"tz={name!r} is not an IANA time zone such as Europe/Berlin") from None
