"""Serve the web app's pages and static files from the API's app.

This module decides which web paths exist and which of them are public (:data:`PUBLIC_PATHS`:
``/login`` and the files the login page loads). The API's auth middleware enforces that list
in front of every route; the routes here check again, so a page never depends on the order of
middlewares: every other page answers a visitor who is not logged in with a 303 redirect to
``/login``, every other static file answers 401. It never decides *who* is logged in: that is
``authenticated``, by default the auth module's :func:`camvault.api.auth.is_authenticated`.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources
from pathlib import Path
from types import MappingProxyType

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

__all__ = ["PUBLIC_PATHS", "PUBLIC_STATIC", "STATIC_DIR", "mount"]

STATIC_DIR = Path(str(resources.files("camvault.web") / "static"))
"""The folder of the app's files (shipped as package data)."""

PUBLIC_STATIC = frozenset({"login.js", "style.css", "icon.svg"})
"""Static files the login page needs, served without a login."""

PUBLIC_PATHS = frozenset({"/login", *(f"/static/{name}" for name in PUBLIC_STATIC)})
"""Every web path served without a login."""

_CONTENT_TYPES = MappingProxyType(
    {
        ".html": "text/html; charset=utf-8",
        ".js": "text/javascript; charset=utf-8",
        ".css": "text/css; charset=utf-8",
        ".svg": "image/svg+xml",
    }
)
# Revalidate on every load (a 304 when unchanged): an upgrade never leaves a browser with stale modules.
_CACHE = {"Cache-Control": "no-cache"}

Authenticated = Callable[[Request], bool]


def mount(app: FastAPI, *, authenticated: Authenticated | None = None) -> None:
    """Add ``GET /``, ``GET /login`` and ``GET /static/{name}`` to ``app``.

    The routes are left out of the OpenAPI document: they are pages, not API.
    """
    if authenticated is None:
        from camvault.api.auth import is_authenticated

        authenticated = is_authenticated
    check: Authenticated = authenticated
    files = {path.name: path for path in STATIC_DIR.iterdir() if path.suffix in _CONTENT_TYPES}

    @app.get("/", include_in_schema=False)
    def home(request: Request) -> Response:
        if not check(request):
            return RedirectResponse("/login", status_code=303)
        return _file(files["index.html"], request)

    @app.get("/login", include_in_schema=False)
    def login(request: Request) -> Response:
        if check(request):
            return RedirectResponse("/", status_code=303)
        return _file(files["login.html"], request)

    @app.get("/static/{name}", include_in_schema=False)
    def static(name: str, request: Request) -> Response:
        path = files.get(name)
        if path is None or path.suffix == ".html":
            return Response("not found\n", status_code=404, media_type="text/plain")
        if name not in PUBLIC_STATIC and not check(request):
            return Response("log in first: /login\n", status_code=401, media_type="text/plain")
        return _file(path, request)


def _file(path: Path, request: Request) -> Response:
    """The file, or 304 when the browser's copy (``If-None-Match``) is current."""
    response = FileResponse(
        path, media_type=_CONTENT_TYPES[path.suffix], headers=_CACHE, stat_result=path.stat()
    )
    etag = response.headers["etag"]
    if etag in (tag.strip() for tag in request.headers.get("if-none-match", "").split(",")):
        return Response(status_code=304, headers={"ETag": etag, **_CACHE})
    return response
