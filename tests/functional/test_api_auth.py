"""Auth in front of the whole app: every route refuses missing or invalid auth, login, session and
logout with their cookies, CSRF, login throttling, session expiry, and users and tokens made with
the CLI. Real SQLite accounts file; the clock is the only thing moved by hand."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI, WebSocket
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from camvault.accounts.auth_base import Authenticator
from camvault.accounts.local import LocalAuthStore
from camvault.api.app import create_app
from camvault.api.security import SECURITY_HEADERS
from camvault.catalog.sqlite import SQLiteCatalog
from camvault.config.loader import load_config
from camvault.factory import open_auth
from camvault.web.routes import PUBLIC_PATHS
from tests.support.api import ADMIN, ADMIN_SECRET, LOCAL, authenticator, event
from tests.support.cli import camvault, init_data
from tests.support.timing import Clock

pytestmark = pytest.mark.functional

PUBLIC = {("POST", "/api/v1/login"), ("GET", "/api/v1/healthz")} | {("GET", path) for path in PUBLIC_PATHS}
BAD_AUTH = [
    {},
    {"Authorization": "Bearer cv_not-a-token"},
    {"Authorization": "Bearer wrong-admin-secret"},
    {"Authorization": f"Basic {ADMIN_SECRET}"},
    {"Authorization": "Bearer "},
    {"Cookie": "camvault_session=forged-session-id"},
]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[SQLiteCatalog]:
    catalog = SQLiteCatalog(tmp_path / "catalog.db")
    catalog.put(event("porch", datetime(2025, 1, 1, tzinfo=UTC)))
    yield catalog
    catalog.close()


@pytest.fixture
def auth(tmp_path: Path, clock: Clock) -> Iterator[Authenticator]:
    auth = authenticator(tmp_path / "accounts.db", clock=clock, attempts=3, window=timedelta(minutes=10))
    yield auth
    auth.close()


@pytest.fixture
def app(catalog: SQLiteCatalog, auth: Authenticator) -> FastAPI:
    return create_app(catalog, auth)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url=LOCAL, follow_redirects=False) as client:
        yield client


def every_route(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path) of every route the app serves, path parameters filled with sample values."""
    found = []
    for route in iter_route_contexts(app.routes):  # routers included lazily are expanded too
        assert route.path is not None
        path = re.sub(r"\{variant\}", "original", route.path)
        path = re.sub(r"\{[^}]+\}", "sample", path)
        found += [(method, path) for method in sorted(getattr(route, "methods", None) or ())]
    return found


def login(client: TestClient, user: str = "admin", password: str = ADMIN_SECRET) -> str:
    response = client.post("/api/v1/login", json={"username": user, "password": password})
    assert response.status_code == 200, response.text
    assert response.json()["user"] == user.lower()
    return str(response.json()["csrf_token"])


def test_every_route_but_the_public_ones_refuses_missing_or_invalid_auth(
    catalog: SQLiteCatalog, tmp_path: Path
) -> None:
    auth = authenticator(tmp_path / "many.db", attempts=10_000)  # no throttling in the way
    app = create_app(catalog, auth)
    with TestClient(app, base_url=LOCAL, follow_redirects=False) as client:
        check_every_route(app, client)
    auth.close()


def check_every_route(app: FastAPI, client: TestClient) -> None:
    routes = every_route(app)
    assert len(routes) >= 12  # the API, the media routes and the web pages are all enumerated
    assert {("GET", "/api/v1/events/sample/media/original"), ("GET", "/")} <= set(routes)
    assert {("GET", "/api/v1/openapi.json"), ("POST", "/api/v1/logout")} <= set(routes)
    for method, path in routes:
        if (method, path) in PUBLIC:
            continue
        for headers in BAD_AUTH:
            response = client.request(method, path, headers=headers)
            where = f"{method} {path} {headers}"
            if path.startswith("/api/"):
                assert response.status_code == 401, where
                if method != "HEAD":
                    assert response.json()["detail"], where
            elif path.startswith("/static/"):
                assert response.status_code == 401, where
            else:
                assert (response.status_code, response.headers["location"]) == (303, "/login"), where


def test_unknown_paths_need_auth_too(client: TestClient) -> None:
    assert client.get("/api/v1/nothing-here").status_code == 401
    assert client.get("/api/v1/nothing-here", headers=ADMIN).status_code == 404
    assert client.get("/some/page").headers["location"] == "/login"


def test_public_routes_answer_without_auth(client: TestClient) -> None:
    assert client.get("/api/v1/healthz").json()["status"] == "ok"
    assert client.get("/login").status_code == 200
    for path in PUBLIC_PATHS:
        assert client.get(path).status_code == 200, path


def test_every_response_carries_the_security_headers(client: TestClient) -> None:
    responses = [
        client.get("/api/v1/healthz"),
        client.get("/api/v1/events"),  # 401
        client.get("/"),  # 303
        client.get("/api/v1/events", headers=ADMIN),
        client.get("/api/v1/events", params={"limit": "x"}, headers=ADMIN),  # 400
        client.get("/login"),
    ]
    for response in responses:
        for name, value in SECURITY_HEADERS.items():
            assert response.headers[name] == value, (response.request.url, name)
    policy = SECURITY_HEADERS["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy


def test_the_admin_secret_logs_in_and_works_as_a_bearer_token(client: TestClient) -> None:
    assert client.get("/api/v1/events", headers=ADMIN).status_code == 200
    assert client.get("/api/v1/events", headers=ADMIN).status_code == 200  # the cached check
    csrf = login(client, "Admin")  # the name ignores case; the session says "admin"
    assert client.get("/api/v1/session").json() == {"user": "admin", "csrf_token": csrf}


def test_login_sets_strict_httponly_cookies_and_logout_ends_the_session(client: TestClient) -> None:
    response = client.post("/api/v1/login", json={"username": "admin", "password": ADMIN_SECRET})
    cookies = {c.split("=", 1)[0]: c for c in response.headers.get_list("set-cookie")}
    session, csrf = cookies["camvault_session"], cookies["camvault_csrf"]
    for cookie in (session, csrf):
        assert "samesite=strict" in cookie.lower() and "Path=/" in cookie
        assert "secure" not in cookie.lower()  # plain http here
    assert "httponly" in session.lower() and "httponly" not in csrf.lower()
    token = response.json()["csrf_token"]
    assert client.cookies["camvault_csrf"] == token
    assert client.get("/api/v1/events").status_code == 200
    assert client.get("/").status_code == 200  # the web app's page

    stolen = client.cookies["camvault_session"]
    out = client.post("/api/v1/logout", headers={"X-CSRF-Token": token})
    assert out.status_code == 204
    assert "camvault_session" not in client.cookies and "camvault_csrf" not in client.cookies
    assert client.get("/api/v1/session").status_code == 401
    # the session is gone on the server: replaying the old cookie does not work
    replay = client.get("/api/v1/events", headers={"Cookie": f"camvault_session={stolen}"})
    assert replay.status_code == 401


def test_cookies_are_secure_over_https(catalog: SQLiteCatalog, auth: Authenticator) -> None:
    app = create_app(catalog, auth, allowed_hosts=("*",))
    with TestClient(app, base_url="https://cams.example.org") as client:
        response = client.post("/api/v1/login", json={"username": "admin", "password": ADMIN_SECRET})
    for cookie in response.headers.get_list("set-cookie"):
        assert "secure" in cookie.lower()


@pytest.mark.parametrize(
    "body",
    [
        {"username": "admin", "password": "wrong"},
        {"username": "nobody", "password": ADMIN_SECRET},
        {"username": "", "password": "x"},
    ],
)
def test_wrong_credentials_get_401_and_no_cookie(client: TestClient, body: dict[str, str]) -> None:
    response = client.post("/api/v1/login", json=body)
    assert response.status_code in (400, 401)
    assert response.json()["detail"]
    assert "set-cookie" not in response.headers


def test_malformed_login_bodies_are_400(client: TestClient) -> None:
    for content in (b"not json", b"[]", b'{"username": 1}', b""):
        response = client.post("/api/v1/login", content=content, headers={"Content-Type": "application/json"})
        assert response.status_code == 400, content
        assert response.json()["detail"]


def test_state_changing_requests_with_the_cookie_need_the_csrf_header(client: TestClient) -> None:
    token = login(client)
    for headers in ({}, {"X-CSRF-Token": "forged"}, {"X-CSRF-Token": ""}):
        refused = client.post("/api/v1/logout", headers=headers)
        assert refused.status_code == 403, headers
        assert "CSRF" in refused.json()["detail"]
    assert client.get("/api/v1/session").status_code == 200  # still signed in
    assert client.post("/api/v1/logout", headers={"X-CSRF-Token": token}).status_code == 204


def test_bearer_requests_are_exempt_from_csrf(client: TestClient) -> None:
    assert client.post("/api/v1/logout", headers=ADMIN).status_code == 204


def test_failed_logins_are_throttled_per_user_and_per_address(
    app: FastAPI, client: TestClient, clock: Clock
) -> None:
    for _ in range(3):
        assert (
            client.post("/api/v1/login", json={"username": "admin", "password": "guess"}).status_code == 401
        )
    throttled = client.post("/api/v1/login", json={"username": "admin", "password": ADMIN_SECRET})
    assert throttled.status_code == 429  # even the right password, while throttled
    assert 0 < int(throttled.headers["Retry-After"]) <= 600
    # the same user from another address: the user is throttled
    with TestClient(app, base_url=LOCAL, client=("198.51.100.7", 4000)) as other:
        assert (
            other.post("/api/v1/login", json={"username": "admin", "password": ADMIN_SECRET}).status_code
            == 429
        )
        assert other.post("/api/v1/login", json={"username": "bob", "password": "x"}).status_code == 401
    # another user from the same address: the address is throttled
    assert client.post("/api/v1/login", json={"username": "bob", "password": "x"}).status_code == 429
    # guessing Bearer tokens counts against the address too
    assert client.get("/api/v1/events", headers={"Authorization": "Bearer guess"}).status_code == 429
    clock.now += timedelta(minutes=10, seconds=1)
    login(client)


def stored_sessions(accounts: Path) -> int:
    with closing(sqlite3.connect(accounts)) as db:
        return int(db.execute("SELECT COUNT(*) FROM sessions").fetchone()[0])


def test_sessions_expire_and_are_swept(client: TestClient, clock: Clock, tmp_path: Path) -> None:
    login(client)
    clock.now += timedelta(minutes=59)
    assert client.get("/api/v1/session").status_code == 200
    clock.now += timedelta(minutes=2)
    assert client.get("/api/v1/session").status_code == 401
    assert client.get("/").headers["location"] == "/login"
    client.cookies.clear()
    login(client)
    clock.now += timedelta(hours=2)
    login(client)  # a new login sweeps away the session that expired unseen
    assert stored_sessions(tmp_path / "accounts.db") == 1


def test_an_expired_session_is_refused_by_the_lookup_and_forgotten_by_the_full_check(
    auth: Authenticator, clock: Clock, tmp_path: Path
) -> None:
    started = auth.login("admin", ADMIN_SECRET, "127.0.0.1")
    assert started is not None
    assert auth.live_session(started.session_id) == started.session
    clock.now += timedelta(hours=2)
    assert auth.live_session(started.session_id) is None  # a lookup only: nothing written
    assert stored_sessions(tmp_path / "accounts.db") == 1
    assert auth.session(started.session_id) is None
    assert stored_sessions(tmp_path / "accounts.db") == 0


def test_a_throttled_address_may_not_use_the_admin_secret_but_api_tokens_keep_working(
    client: TestClient, auth: Authenticator
) -> None:
    assert isinstance(auth.store, LocalAuthStore)
    token = auth.store.tokens.create("script")
    assert auth.token_user(token) == "token:script"
    assert auth.token_user("cv_not-a-token") is None
    for _ in range(3):
        assert client.get("/api/v1/cameras", headers={"Authorization": "Bearer guess"}).status_code == 401
    assert client.get("/api/v1/cameras", headers=ADMIN).status_code == 429
    assert client.get("/api/v1/cameras", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_session_reports_the_user_of_a_token_without_csrf(client: TestClient) -> None:
    assert client.get("/api/v1/session", headers=ADMIN).json() == {"user": "admin", "csrf_token": None}


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return init_data(tmp_path / "data")


@pytest.fixture
def web(config: Path) -> Iterator[TestClient]:
    loaded = load_config(str(config), {}, config.parent)
    catalog = SQLiteCatalog(config.parent / "catalog.db")
    auth = open_auth(loaded)
    with TestClient(create_app(catalog, auth), base_url=LOCAL, follow_redirects=False) as client:
        yield client
    auth.close()
    catalog.close()


def test_tokens_made_with_the_cli_work_until_revoked(config: Path, web: TestClient) -> None:
    created = camvault("token", "create", "backup-script", "--config", config)
    assert created.code == 0, created.err
    token = created.lines()[-1]
    assert token.startswith("cv_") and "shown only this once" in created.out
    bearer = {"Authorization": f"Bearer {token}"}
    assert web.get("/api/v1/session", headers=bearer).json()["user"] == "token:backup-script"
    assert token not in (config.parent / "accounts.db").read_bytes().decode("latin-1")
    listed = camvault("token", "list", "--config", config)
    assert "backup-script" in listed.out and token not in listed.out
    again = camvault("token", "create", "backup-script", "--config", config)
    assert again.code == 1 and "exists already" in again.err
    assert camvault("token", "revoke", "backup-script", "--config", config).code == 0
    assert web.get("/api/v1/events", headers=bearer).status_code == 401
    missing = camvault("token", "revoke", "backup-script", "--config", config)
    assert missing.code == 1 and "no token called 'backup-script'" in missing.err


def test_users_made_with_the_cli_sign_in_until_changed_or_removed(config: Path, web: TestClient) -> None:
    added = camvault("user", "add", "alice", "--password-stdin", "--config", config, stdin="correct horse\n")
    assert added.code == 0, added.err
    assert "alice" in camvault("user", "list", "--config", config).out
    assert "correct horse" not in (config.parent / "accounts.db").read_bytes().decode("latin-1")
    login(web, "alice", "correct horse")
    assert web.get("/api/v1/session").json()["user"] == "alice"
    changed = camvault(
        "user", "passwd", "alice", "--password-stdin", "--config", config, stdin="battery staple\n"
    )
    assert changed.code == 0, changed.err
    assert web.get("/api/v1/session").status_code == 401  # the password change ended the session
    assert (
        web.post("/api/v1/login", json={"username": "alice", "password": "correct horse"}).status_code == 401
    )
    login(web, "alice", "battery staple")
    assert camvault("user", "remove", "alice", "--config", config).code == 0
    assert web.get("/api/v1/session").status_code == 401
    assert (
        web.post("/api/v1/login", json={"username": "alice", "password": "battery staple"}).status_code == 401
    )


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (("user", "add", "admin", "--password-stdin"), "long enough\n", "the user name 'admin'"),
        (("user", "add", "al ice", "--password-stdin"), "long enough\n", "invalid user name"),
        (("user", "add", "bob", "--password-stdin"), "short\n", "at least 8 characters"),
        (("user", "add", "bob"), "", "no password given"),
        (("user", "remove", "nobody"), "", "unknown user 'nobody'"),
        (("user", "passwd", "nobody", "--password-stdin"), "long enough\n", "unknown user"),
        (("token", "create", "../x"), "", "invalid token name"),
    ],
)
def test_bad_account_commands_fail_with_one_line(
    config: Path, args: tuple[str, ...], stdin: str, message: str
) -> None:
    run = camvault(*args, "--config", config, stdin=stdin)
    assert run.code == 1
    assert message in run.err and run.err.count("\n") == 1


def test_routes_added_later_are_protected_without_doing_anything(
    catalog: SQLiteCatalog, auth: Authenticator
) -> None:
    app = create_app(catalog, auth, allowed_hosts=("*",))  # the websocket client says "testserver"

    @app.get("/api/v1/added-later")
    def added_later() -> dict[str, str]:
        return {"secret": "data"}

    @app.websocket("/api/v1/live")
    async def live(socket: WebSocket) -> None:
        await socket.accept()
        await socket.send_text("hello")
        await socket.close()

    with TestClient(app, base_url=LOCAL) as client:
        assert client.get("/api/v1/added-later").status_code == 401
        assert client.get("/api/v1/added-later", headers=ADMIN).json() == {"secret": "data"}
        with pytest.raises(WebSocketDisconnect) as refused, client.websocket_connect("/api/v1/live"):
            pass
        assert refused.value.code == 1008  # policy violation, before the route ever runs
        with client.websocket_connect("/api/v1/live", headers=ADMIN) as socket:
            assert socket.receive_text() == "hello"
