"""The HTTP app: assembles the API routers, the web pages and the middleware around them.

Outermost first: security headers on every response, the Host-header check (DNS rebinding),
then ``AuthMiddleware``, which refuses every non-public path without a valid login or token,
then ``ExactPath``, which hands the web app's hot route (``GET /events``) to its endpoint directly.
Routes get their collaborators (catalog, store, authenticator) passed in; nothing here reads
settings or opens a database. Bad parameters are answered 400 with a message, never 500.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.trustedhost import TrustedHostMiddleware
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse

from camvault import __version__
from camvault.accounts.auth_base import Authenticator
from camvault.api import API
from camvault.api.auth import PUBLIC_API, AuthMiddleware, auth_router, is_authenticated
from camvault.api.events import EventsPage, ExactPath, events_router
from camvault.api.incidents import incident_routes
from camvault.api.keep import keep_routes
from camvault.api.media import media_router
from camvault.api.metrics import metrics_router
from camvault.api.security import SecurityHeadersMiddleware
from camvault.catalog.base import Catalog
from camvault.clock import Clock, utcnow
from camvault.store.base import ObjectStore

# camvault sends nothing anywhere: FastAPI's own OpenTelemetry hooks (FastAPI 0.16x and later)
# stay off; when on they also cost a look at the global providers on every request.
_NO_TELEMETRY: dict[str, Any] = (
    {"telemetry": {"tracing": False, "metrics": False, "logs": False}}
    if "telemetry" in inspect.signature(FastAPI).parameters
    else {}
)
LOCAL_HOSTS = ("127.0.0.1", "localhost", "[::1]", "::1")
ANY_HOST = ("*",)


def create_app(
    catalog: Catalog,
    auth: Authenticator,
    *,
    store: ObjectStore | None = None,
    registered: Callable[[], Iterable[str]] | None = None,
    allowed_hosts: Sequence[str] = LOCAL_HOSTS,
    metrics: Callable[[], str] | None = None,
    clock: Clock = utcnow,
) -> FastAPI:
    """The API and web app over ``catalog`` (events), ``store`` (media) and ``auth`` (who may
    ask); ``clock`` says what day it is. Requests whose ``Host`` header is not in
    ``allowed_hosts`` are refused, so a web page cannot reach a loopback-only API through DNS
    rebinding."""
    app = FastAPI(
        title="camvault",
        version=__version__,
        openapi_url=f"{API}/openapi.json",
        docs_url=None,
        redoc_url=None,
        **_NO_TELEMETRY,
    )

    @app.exception_handler(RequestValidationError)
    async def bad_parameter(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _validation_message(exc)}, status_code=400)

    @app.get(f"{API}/healthz", tags=["health"], openapi_extra={"security": []})
    def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    app.include_router(auth_router(auth))
    events_page = EventsPage(catalog, clock)
    app.include_router(events_router(catalog, registered, clock, events_page))
    app.include_router(media_router(catalog, store))
    app.include_router(incident_routes(catalog, clock))
    if store is not None:  # marking keep writes a marker object into the store
        app.include_router(keep_routes(catalog, store))
    app.include_router(metrics_router(metrics, prefix=API))  # figures in Prometheus text, when given
    # Routers included here are covered by AuthMiddleware unchanged.
    public = PUBLIC_API | _mount_web(app)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    app.add_middleware(ExactPath, path=f"{API}/events", endpoint=events_page)  # after auth
    app.add_middleware(AuthMiddleware, auth=auth, public=public)
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts))
    app.add_middleware(SecurityHeadersMiddleware)
    return app


def _mount_web(app: FastAPI) -> frozenset[str]:
    """Add the web app's pages; the paths it serves without a login."""
    from camvault.web.routes import PUBLIC_PATHS, mount

    mount(app, authenticated=is_authenticated)
    return PUBLIC_PATHS


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document, saying how to authenticate: a Bearer token or the session cookie."""
    if app.openapi_schema is None:
        spec = get_openapi(title=app.title, version=app.version, routes=app.routes)
        spec.setdefault("components", {})["securitySchemes"] = {
            "bearer": {"type": "http", "scheme": "bearer"},
            "session": {"type": "apiKey", "in": "cookie", "name": "camvault_session"},
        }
        spec["security"] = [{"bearer": []}, {"session": []}]
        spec["paths"][f"{API}/login"]["post"]["security"] = []
        app.openapi_schema = spec
    return app.openapi_schema


def _validation_message(exc: RequestValidationError) -> str:
    """One readable line from FastAPI's structured validation errors."""
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error.get("loc", ()) if p not in ("query", "path", "body"))
        parts.append(f"{where or 'body'}: {error.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"
