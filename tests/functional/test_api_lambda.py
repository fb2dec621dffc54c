"""The API on Lambda keeps auth on every route with no database of accounts: requests go through
the handler's Mangum adapter as API Gateway's HTTP API sends them. The caller API Gateway's IAM
authorization verified is let in only when the handler trusts it, and only from the event, never
from a header; the admin secret works as a Bearer token; sign-in is refused with what to send
instead. Real SQLite catalog and ``file://`` store built from settings, as the handler builds them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import iter_route_contexts

from camvault.accounts.lambda_auth import IAM_PREFIX, gateway_iam_caller
from camvault.accounts.passwords import hash_secret
from camvault.api.lambda_handler import MAX_PRESIGN_S, ApiContainer, build_container
from camvault.api.media import PRESIGN_SECONDS
from camvault.web.routes import PUBLIC_PATHS
from tests.support.api import ADMIN, ADMIN_SECRET, event
from tests.support.http_api import CALLER_ARN, IAM_CALLER, Answer, http_api_event, invoke

pytestmark = pytest.mark.functional

HOST = "abc123.execute-api.eu-west-1.amazonaws.com"
PUBLIC = {("POST", "/api/v1/login"), ("GET", "/api/v1/healthz")} | {("GET", path) for path in PUBLIC_PATHS}
SIGV4 = (
    "AWS4-HMAC-SHA256 Credential=AKIAEXAMPLECALLER123/20250101/eu-west-1/execute-api/aws4_request, "
    "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64
)
UNAUTHENTICATED: list[dict[str, Any]] = [
    {},
    {"headers": {"authorization": SIGV4}},  # signed, but no IAM authorization verified it
    {"headers": {"authorization": f"Bearer {ADMIN_SECRET}-wrong"}},
    {"headers": {"authorization": "Bearer cv_not-a-token"}},
    {"cookies": ["camvault_session=forged-session-id"]},
    {"headers": {"x-amzn-iam-user-arn": CALLER_ARN, "x-amz-user-arn": CALLER_ARN}},  # claims in headers
]
CLIP = b"\x00\x00\x00\x18ftypmp42 a clip's bytes"


def settings(tmp_path: Path) -> dict[str, str]:
    """The function's environment: local adapters, the admin secret's hash, no throttling in the way."""
    return {
        "AWS_REGION": "eu-west-1",
        "CAMVAULT_STORAGE_URL": f"file://{tmp_path / 'store'}",
        "CAMVAULT_CATALOG_URL": f"sqlite:///{tmp_path / 'catalog.db'}",
        "CAMVAULT_AUTH_ADMIN_PASSWORD_HASH": hash_secret(ADMIN_SECRET),
        "CAMVAULT_AUTH_LOGIN_ATTEMPTS": "100000",
    }


@pytest.fixture
def container(tmp_path: Path) -> Iterator[ApiContainer]:
    built = build_container(settings(tmp_path), tmp_path, trust_gateway_iam=True)
    clip = event("porch", datetime(2025, 1, 1, 12, tzinfo=UTC))
    built.catalog.put(clip)
    built.store.put(clip.key, CLIP, content_type="video/mp4")
    yield built
    built.close()


def call(container: ApiContainer, method: str, path: str, **request: Any) -> Answer:
    return invoke(container, http_api_event(method, path, host=HOST, **request))


def every_route(container: ApiContainer) -> list[tuple[str, str]]:
    """(method, path) of every route the Lambda's app serves, path parameters filled in."""
    found = []
    for route in iter_route_contexts(container.app.routes):
        assert route.path is not None
        path = re.sub(r"\{[^}]+\}", "sample", route.path.replace("{variant}", "original"))
        found += [(method, path) for method in sorted(getattr(route, "methods", None) or ())]
    return found


def test_every_route_refuses_what_api_gateway_did_not_authenticate(container: ApiContainer) -> None:
    routes = every_route(container)
    assert {("GET", "/api/v1/events/sample/media/original"), ("PUT", "/api/v1/events/sample/keep")} <= set(
        routes
    )
    for method, path in routes:
        if (method, path) in PUBLIC:
            continue
        for request in UNAUTHENTICATED:
            answer = call(container, method, path, **request)
            where = f"{method} {path} {request}"
            if path.startswith(("/api/", "/static/")):
                assert answer.status == 401, where
            else:
                assert (answer.status, answer.headers["location"]) == (303, "/login"), where


def test_callers_api_gateway_authenticated_are_let_in(container: ApiContainer) -> None:
    signed: dict[str, Any] = {"iam": IAM_CALLER, "headers": {"authorization": SIGV4}}
    page = call(container, "GET", "/api/v1/events", query="camera=porch", **signed)
    assert page.status == 200, page.body
    (found,) = page.json()["events"]
    detail = call(container, "GET", f"/api/v1/events/{found['id']}", **signed)
    assert (detail.status, detail.json()["camera"]) == (200, "porch")
    media = call(container, "GET", f"/api/v1/events/{found['id']}/media/original", **signed)
    assert (media.status, media.body) == (200, CLIP)  # a file:// store streams; s3:// redirects
    assert call(container, "GET", "/api/v1/session", **signed).json()["user"] == IAM_PREFIX + CALLER_ARN
    assert call(container, "GET", "/api/v1/cameras", **signed).status == 200
    assert call(container, "GET", "/", **signed).status == 200  # the web pages too
    # A signed request needs no CSRF token: it carries no cookie a browser could send for it.
    kept = call(container, "PUT", f"/api/v1/events/{found['id']}/keep", **signed)
    assert kept.status == 200, kept.body
    assert container.catalog.get(found["id"]).keep  # type: ignore[union-attr]


def test_the_admin_secret_works_as_a_bearer_token(container: ApiContainer) -> None:
    answer = call(container, "GET", "/api/v1/events", headers=ADMIN)
    assert answer.status == 200 and len(answer.json()["events"]) == 1
    assert call(container, "GET", "/api/v1/session", headers=ADMIN).json()["user"] == "admin"


def test_sign_in_is_refused_with_what_to_send_instead(container: ApiContainer) -> None:
    for user, password in (("admin", ADMIN_SECRET), ("alice", "whatever")):
        body = f'{{"username": "{user}", "password": "{password}"}}'.encode()
        answer = call(
            container, "POST", "/api/v1/login", body=body, headers={"content-type": "application/json"}
        )
        assert answer.status == 403
        assert "SigV4" in answer.json()["detail"] and "Bearer" in answer.json()["detail"]
        assert "set-cookie" not in answer.headers
    assert call(container, "GET", "/api/v1/healthz").status == 200


def test_the_iam_caller_is_trusted_only_when_the_handler_switches_it_on(tmp_path: Path) -> None:
    untrusting = build_container(settings(tmp_path), tmp_path)
    try:
        answer = call(untrusting, "GET", "/api/v1/events", iam=IAM_CALLER)
        assert answer.status == 401
        assert call(untrusting, "GET", "/api/v1/events", iam=IAM_CALLER, headers=ADMIN).status == 200
    finally:
        untrusting.close()


@pytest.mark.parametrize(
    "iam",
    [{}, {"userArn": None}, {"userArn": ""}, {"userArn": "alice"}, {"userArn": ["arn:aws:iam::1:user/x"]}],
)
def test_a_malformed_iam_context_is_refused(container: ApiContainer, iam: dict[str, Any]) -> None:
    assert call(container, "GET", "/api/v1/events", iam=iam).status == 401


@pytest.mark.parametrize(
    "scope",
    [
        {},
        {"aws.event": None},
        {"aws.event": {"requestContext": "x"}},
        {"aws.event": {"requestContext": {"authorizer": {"jwt": {"claims": {}}}}}},
        {"aws.event": {"requestContext": {"authorizer": {"iam": "arn:aws:iam::1:user/x"}}}},
    ],
)
def test_events_without_an_iam_caller_name_nobody(scope: dict[str, Any]) -> None:
    assert gateway_iam_caller(scope) is None


def test_media_urls_live_no_longer_than_lambda_allows() -> None:
    assert 0 < PRESIGN_SECONDS <= MAX_PRESIGN_S
