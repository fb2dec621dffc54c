"""API routes for alarm incidents: ``GET /api/v1/incidents`` and ``/api/v1/incidents/{id}``.

Filters and pagination work as for events: ``camera``, ``start``/``end`` (an incident is listed
when its first event is in the window), ``date`` + ``tz``, ``order``, ``cursor``, ``limit``.
An incident object is ``Incident.to_json``; the detail adds its events. The routes read the
catalog they are given; they never open stores or read settings.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query

from camvault.api import API
from camvault.api.events import time_window
from camvault.catalog.base import MAX_LIMIT, BadCursor, Catalog, IncidentQuery
from camvault.clock import Clock, utcnow


def incident_routes(catalog: Catalog, clock: Clock = utcnow) -> APIRouter:
    """The incident routes over ``catalog``; ``clock`` says what ``date=today`` means."""
    router = APIRouter(prefix=API, tags=["incidents"])

    @router.get("/incidents")
    def incidents(
        camera: str | None = None,
        start: Annotated[str | None, Query(description="inclusive instant, ISO 8601 with offset")] = None,
        end: Annotated[str | None, Query(description="exclusive instant, ISO 8601 with offset")] = None,
        day: Annotated[
            str | None,
            Query(alias="date", description="a local day YYYY-MM-DD, or `today`, read in `tz`"),
        ] = None,
        tz: Annotated[str, Query(description="IANA time zone for `date`")] = "UTC",
        order: Literal["newest", "oldest"] = "newest",
        cursor: str | None = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    ) -> dict[str, Any]:
        lower, upper = time_window(start, end, day, tz, clock)
        try:
            query = IncidentQuery(camera, lower, upper, order == "newest", limit, cursor)
        except BadCursor as exc:
            raise HTTPException(400, str(exc)) from None
        page = catalog.incidents(query)
        return {"incidents": [i.to_json() for i in page.incidents], "next_cursor": page.next_cursor}

    @router.get("/incidents/{incident_id}")
    def incident(incident_id: str) -> dict[str, Any]:
        found = catalog.incident(incident_id)
        if found is None:
            raise HTTPException(404, f"no incident {incident_id!r}")
        return found.to_json()

    return router
