"""Cameras, events with filters and cursor pagination, and event detail.

Routes read the catalog they are given; they never open stores or read settings themselves.
JSON shapes are the event object of the contract (``CatalogEvent.to_json``). Bad parameters
are answered 400 with a message, never 500.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from camvault.api import API
from camvault.api.listing import listing_parameters, parse_listing
from camvault.catalog.base import CameraSummary, Catalog, JSONPage, page_reader
from camvault.clock import Clock, utcnow
from camvault.domain.model import format_instant

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
    catalog: Catalog,
    registered: Callable[[], Iterable[str]] | None,
    clock: Clock = utcnow,
    page: EventsPage | None = None,
) -> APIRouter:
    """``/cameras``, ``/events`` and ``/events/{id}``. ``registered`` names the cameras known to
    this site, so a camera that has not uploaded yet is listed too (with no events); ``clock``
    says what ``date=today`` means (in the viewer's ``tz``). ``page`` answers ``GET /events``
    (by default one over ``catalog``); the app also hands it that route ahead of its router."""
    router = APIRouter(prefix=API, tags=["events"])

    @router.get("/cameras")
    def cameras() -> dict[str, Any]:
        summaries = {summary.camera: summary for summary in catalog.cameras()}
        for name in registered() if registered else ():
            summaries.setdefault(name, CameraSummary(name, 0, 0, 0, None))
        return {"cameras": [_camera_json(summaries[name]) for name in sorted(summaries)]}

    page = page or EventsPage(catalog, clock)
    # The hot route of the web app: this route publishes it in OpenAPI (and answers it where the
    # router is used without create_app); in the app ``ExactPath`` hands it to ``page`` first.

    @router.get(
        "/events",
        response_model=None,
        responses=PAGE,
        openapi_extra={"parameters": listing_parameters(kinds=True)},
    )
    async def events(request: Request) -> Response:
        return await page.response(request)

    @router.get("/events/{event_id}", responses=NOT_FOUND)
    def event(event_id: str) -> dict[str, Any]:
        found = catalog.get(event_id)
        if found is None:
            raise HTTPException(404, f"no event {event_id!r}")
        return found.to_json()

    return router


class EventsPage:
    """``GET /events``: a page of the listing the query string asks for (``api/listing.py``)."""

    def __init__(self, catalog: Catalog, clock: Clock) -> None:
        self._read = page_reader(catalog)
        self._clock = clock
        # A page read from a local catalog (SQLite: index-bounded, at most MAX_LIMIT rows) costs
        # less than the hop to a worker thread and back, so it runs on the event loop; a catalog
        # over the network (no ``local_reads``) is read from a worker thread.
        self._on_loop = bool(getattr(catalog, "local_reads", False))

    async def response(self, request: Request) -> Response:
        query = parse_listing(request.query_params, self._clock, kinds=True).events()
        page = self._read(query) if self._on_loop else await run_in_threadpool(self._read, query)
        return Response(page_body(page), media_type="application/json")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            response = await self.response(Request(scope, receive))
        except HTTPException as exc:  # answered as FastAPI's handler would: also called outside it
            response = JSONResponse({"detail": exc.detail}, exc.status_code, headers=exc.headers)
        await response(scope, receive, send)


class ExactPath:
    """ASGI middleware: ``GET`` and ``HEAD`` of exactly ``path`` go straight to ``endpoint``;
    everything else to the app. Matching a request against every route of FastAPI's router costs
    about as much as a page of events from SQLite, so the app's hot route skips it. It sits inside
    ``AuthMiddleware``: the request is authenticated before it gets here."""

    def __init__(self, app: ASGIApp, *, path: str, endpoint: ASGIApp) -> None:
        self.app = app
        self.path = path
        self.endpoint = endpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["path"] == scope.get("root_path", "") + self.path  # as Starlette routes
            and scope["method"] in ("GET", "HEAD")
        ):
            await self.endpoint(scope, receive, send)
            return
        await self.app(scope, receive, send)


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


def page_body(page: JSONPage) -> str:
    """The body of ``GET /events``. The events arrive as JSON text (built by SQLite, see
    catalog/sqlite_json.py): FastAPI's generic encoder would walk them in Python at several
    times the query's cost."""
    return f'{{"events":{page.events},"next_cursor":{json.dumps(page.next_cursor)}}}'
