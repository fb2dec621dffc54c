"""The REST API: cameras, events with filters and cursor pagination, event detail, health.

Routes read the catalog they are given; they never open stores or read settings themselves.
JSON shapes are the event object of the contract (``CatalogEvent.to_json``). Bad parameters
are answered 400 with a message, never 500.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.trustedhost import TrustedHostMiddleware
from fastapi.responses import JSONResponse

from camvault import __version__
from camvault.api.metrics import metrics_router
from camvault.catalog.base import MAX_LIMIT, BadCursor, CameraSummary, Catalog, EventQuery
from camvault.domain.model import format_instant, parse_instant
from camvault.domain.timeline import DayBounds, day_bounds, parse_zone
from camvault.store.base import ObjectStore

API = "/api/v1"


LOCAL_HOSTS = ("127.0.0.1", "localhost", "[::1]", "::1")


def create_app(
    catalog: Catalog,
    registered: Callable[[], Iterable[str]] | None = None,
    *,
    allowed_hosts: Sequence[str] = LOCAL_HOSTS,
    metrics: Callable[[], str] | None = None,
    store: ObjectStore | None = None,
) -> FastAPI:
    """The API app over ``catalog``. ``registered`` names the cameras known to this site, so a
    camera that has not uploaded yet is listed too (with no events). Requests whose ``Host``
    header is not in ``allowed_hosts`` are refused, so a web page cannot reach the API through
    DNS rebinding."""
    app = FastAPI(
        title="camvault",
        version=__version__,
        openapi_url=f"{API}/openapi.json",
        docs_url=None,
        redoc_url=None,
    )

    app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts))
    app.include_router(metrics_router(metrics, prefix=API))  # figures in Prometheus text, when given

    @app.exception_handler(RequestValidationError)
    async def bad_parameter(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _validation_message(exc)}, status_code=400)

    @app.get(f"{API}/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    @app.get(f"{API}/cameras")
    def cameras() -> dict[str, Any]:
        summaries = {summary.camera: summary for summary in catalog.cameras()}
        for name in registered() if registered else ():
            summaries.setdefault(name, CameraSummary(name, 0, 0, 0, None))
        return {"cameras": [_camera_json(summaries[name]) for name in sorted(summaries)]}

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
            bounds = _day(day, tz)
            lower = max(lower, bounds.start) if lower else bounds.start
            upper = min(upper, bounds.end) if upper else bounds.end
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
        page = catalog.query(query)
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

    _include_route_modules(app, catalog, store)
    return app


def _include_route_modules(app: FastAPI, catalog: Catalog, store: ObjectStore | None) -> None:
    from camvault.api import incidents, keep  # route modules; they use this module's helpers

    app.include_router(incidents.incident_routes(catalog), prefix=API)
    if store is not None:  # marking keep writes a marker object into the store
        app.include_router(keep.keep_routes(catalog, store), prefix=API)


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


def _validation_message(exc: RequestValidationError) -> str:
    """One readable line from FastAPI's structured validation errors."""
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error.get("loc", ()) if p not in ("query", "path"))
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def _day(day: date, tz: str) -> DayBounds:
    try:
        return day_bounds(day, _zone(tz))
    except ValueError as exc:
        raise HTTPException(400, f"date={day.isoformat()}: {exc}") from None


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
