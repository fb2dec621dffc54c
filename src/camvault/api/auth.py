"""Who is asking: one middleware in front of every route, and the login, session and logout routes.

The middleware identifies each request (the caller a trusted front authenticated, when the
authenticator trusts one; else the ``Authorization: Bearer`` token, else the session cookie),
enforces CSRF for state-changing requests made with the cookie, and refuses every
path that is not public: ``/api/…`` with 401 JSON, ``/static/…`` with 401, any other page
with a 303 redirect to ``/login``. Because it sits in front of the router, a route added later
is protected without doing anything. The login rules themselves are ``Authenticator``'s.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any

import anyio
from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse
from pydantic import BaseModel, Field
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from camvault.accounts.auth_base import Authenticator, Session, SignInUnavailable, Throttled
from camvault.api import API

SESSION_COOKIE = "camvault_session"
CSRF_COOKIE = "camvault_csrf"
CSRF_HEADER = "x-csrf-token"
PUBLIC_API = frozenset({f"{API}/login", f"{API}/healthz"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def current_user(request: Request) -> str | None:
    """The signed-in user (``token:NAME`` for an API token), or None: set by ``AuthMiddleware``."""
    identity = request.scope.get("state", {}).get("identity")
    return identity.user if isinstance(identity, Identity) else None


def is_authenticated(request: Request) -> bool:
    return current_user(request) is not None


@dataclass(frozen=True)
class Identity:
    """What the middleware learnt about a request: its user, or why it has none."""

    user: str | None
    refusal: str = "sign in first: POST /api/v1/login, or send Authorization: Bearer TOKEN"
    status: int = 401
    session_id: str | None = None
    csrf_token: str | None = None
    retry_after_s: int | None = None


class AuthMiddleware:
    """Identifies every request; refuses the ones that need auth and lack it."""

    def __init__(self, app: ASGIApp, *, auth: Authenticator, public: frozenset[str]) -> None:
        self.app = app
        self.auth = auth
        self.public = public

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):  # lifespan
            await self.app(scope, receive, send)
            return
        request = HTTPConnection(scope)
        identity = self.recognise(request)
        if identity is None:
            identity = await anyio.to_thread.run_sync(self.identify, request)
        scope.setdefault("state", {})["identity"] = identity
        if identity.user is None and scope["path"] not in self.public:
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008, "reason": identity.refusal})
                return
            await _refusal(scope["path"], identity)(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def recognise(self, request: HTTPConnection) -> Identity | None:
        """Who sent ``request`` when lookups alone can tell: no credentials, a known API token,
        a live session. Cheap enough to answer on the event loop (a hop to a worker thread
        costs more than the lookup); None when it takes ``identify``, whose throttle, KDF and
        writes must not block the loop."""
        vouched = self.auth.caller(request.scope)  # e.g. API Gateway's IAM check, on Lambda
        if vouched is not None:
            return Identity(vouched)
        header = request.headers.get("authorization")
        if header is not None:
            scheme, _, token = header.partition(" ")
            known = scheme.lower() == "bearer" and self.auth.token_user(token.strip())
            return Identity(known) if known else None
        session_id = request.cookies.get(SESSION_COOKIE)
        if not session_id:
            return Identity(None)
        session = self.auth.live_session(session_id)
        return _signed_in(request, session_id, session) if session is not None else None

    def identify(self, request: HTTPConnection) -> Identity:
        """Who sent ``request``; a websocket handshake counts as a GET."""
        vouched = self.auth.caller(request.scope)  # e.g. API Gateway's IAM check, on Lambda
        if vouched is not None:
            return Identity(vouched)
        address = request.client.host if request.client else "unknown"
        header = request.headers.get("authorization")
        if header is not None:
            return self._bearer(header, address)
        session_id = request.cookies.get(SESSION_COOKIE)
        if not session_id:
            return Identity(None)
        session = self.auth.session(session_id)
        if session is None:
            return Identity(None, "your session has ended: sign in again")
        return _signed_in(request, session_id, session)

    def _bearer(self, header: str, address: str) -> Identity:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return Identity(None, "use Authorization: Bearer TOKEN (from `camvault token create NAME`)")
        try:
            user = self.auth.bearer(token.strip(), address)
        except Throttled as exc:
            return Identity(None, str(exc), 429, retry_after_s=exc.retry_after_s)
        if user is None:
            return Identity(None, "invalid or revoked token")
        return Identity(user)


def _signed_in(request: HTTPConnection, session_id: str, session: Session) -> Identity:
    """The identity of a request carrying a live session's cookie: its user, unless it changes
    state without the session's CSRF token."""
    method = request.scope.get("method", "GET")
    if method not in SAFE_METHODS and request.url.path not in PUBLIC_API:
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent.encode(), session.csrf_token.encode()):
            return Identity(None, f"missing or wrong {CSRF_HEADER} header (CSRF check)", 403)
    return Identity(session.user, session_id=session_id, csrf_token=session.csrf_token)


def _refusal(path: str, identity: Identity) -> Response:
    if path.startswith("/api/") or identity.status != 401:
        headers = {"WWW-Authenticate": "Bearer"} if identity.status == 401 else {}
        if identity.retry_after_s is not None:
            headers["Retry-After"] = str(identity.retry_after_s)
        return JSONResponse({"detail": identity.refusal}, status_code=identity.status, headers=headers)
    if path.startswith("/static/"):
        return PlainTextResponse("log in first: /login\n", status_code=401)
    return RedirectResponse("/login", status_code=303)


class Credentials(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class SessionInfo(BaseModel):
    user: str
    csrf_token: str | None


def auth_router(auth: Authenticator) -> APIRouter:
    """``POST /login``, ``GET /session``, ``POST /logout`` under ``/api/v1``."""
    router = APIRouter(prefix=API, tags=["auth"])

    @router.post(
        "/login",
        responses={
            401: {"description": "wrong user name or password"},
            403: {"description": "this server offers no sign-in (the API on AWS Lambda)"},
            429: {"description": "throttled"},
        },
    )
    def login(credentials: Credentials, request: Request, response: Response) -> SessionInfo:
        address = request.client.host if request.client else "unknown"
        try:
            started = auth.login(credentials.username, credentials.password, address)
        except Throttled as exc:
            raise HTTPException(429, str(exc), headers={"Retry-After": str(exc.retry_after_s)}) from None
        except SignInUnavailable as exc:
            raise HTTPException(403, str(exc)) from None
        if started is None:
            raise HTTPException(401, "wrong user name or password")
        secure = request.url.scheme == "https"
        max_age = auth.seconds_left(started.session)
        options: dict[str, Any] = {"max_age": max_age, "path": "/", "samesite": "strict", "secure": secure}
        response.set_cookie(SESSION_COOKIE, started.session_id, httponly=True, **options)
        response.set_cookie(CSRF_COOKIE, started.session.csrf_token, httponly=False, **options)
        return SessionInfo(user=started.session.user, csrf_token=started.session.csrf_token)

    @router.get("/session", responses={401: {"description": "not signed in"}})
    def session(request: Request) -> SessionInfo:
        identity: Identity = request.state.identity
        return SessionInfo(user=identity.user or "", csrf_token=identity.csrf_token)

    @router.post("/logout", status_code=204, responses={403: {"description": "CSRF check failed"}})
    def logout(request: Request) -> Response:
        identity: Identity = request.state.identity
        if identity.session_id is not None:
            auth.logout(identity.session_id)
        response = Response(status_code=204)
        for name in (SESSION_COOKIE, CSRF_COOKIE):
            response.delete_cookie(name, path="/", samesite="strict", secure=request.url.scheme == "https")
        return response

    return router
