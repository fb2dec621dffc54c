"""API routes for alarm incidents: ``GET /api/v1/incidents`` and ``/api/v1/incidents/{id}``.

Filters and pagination work as for events: ``camera``, ``start``/``end`` (an incident is listed
when its first event is in the window), ``date`` + ``tz``, ``order``, ``cursor``, ``limit``.
An incident object is ``Incident.to_json``; the detail adds its events. The routes read the
catalog they are given; they never open stores or read settings.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request

from camvault.api import API
from camvault.api.listing import listing_parameters, parse_listing
from camvault.catalog.base import Catalog
from camvault.clock import Clock, utcnow


def incident_routes(catalog: Catalog, clock: Clock = utcnow) -> APIRouter:
    """The incident routes over ``catalog``; ``clock`` says what ``date=today`` means."""
    router = APIRouter(prefix=API, tags=["incidents"])

    @router.get("/incidents", openapi_extra={"parameters": listing_parameters(kinds=False)})
    def incidents(request: Request) -> dict[str, Any]:
        query = parse_listing(request.query_params, clock, kinds=False).incidents()
        page = catalog.incidents(query)
        return {"incidents": [i.to_json() for i in page.incidents], "next_cursor": page.next_cursor}

    @router.get("/incidents/{incident_id}")
    def incident(incident_id: str) -> dict[str, Any]:
        found = catalog.incident(incident_id)
        if found is None:
            raise HTTPException(404, f"no incident {incident_id!r}")
        return found.to_json()

    return router
