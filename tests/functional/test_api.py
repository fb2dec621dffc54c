"""The JSON API over a real SQLite catalog: filters, local days across DST, pagination, errors."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from camvault.accounts.auth_base import Authenticator
from camvault.api.app import create_app
from camvault.api.events import events_router
from camvault.catalog.base import EventPage, EventQuery, JSONPage
from camvault.catalog.sqlite import SQLiteCatalog
from tests.support.api import ADMIN, LOCAL, authenticator, event

pytestmark = pytest.mark.functional
EVENTS = "/api/v1/events"


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[SQLiteCatalog]:
    catalog = SQLiteCatalog(tmp_path / "catalog.db")
    yield catalog
    catalog.close()


@pytest.fixture
def auth(tmp_path: Path) -> Iterator[Authenticator]:
    auth = authenticator(tmp_path / "accounts.db")
    yield auth
    auth.close()


@pytest.fixture
def client(catalog: SQLiteCatalog, auth: Authenticator) -> Iterator[TestClient]:
    with TestClient(create_app(catalog, auth), base_url=LOCAL, headers=ADMIN) as client:
        yield client


def test_health_and_openapi_are_published(client: TestClient) -> None:
    assert client.get("/api/v1/healthz").json()["status"] == "ok"
    spec = client.get("/api/v1/openapi.json").json()
    assert {"/api/v1/events", "/api/v1/cameras", "/api/v1/events/{event_id}"} <= set(spec["paths"])


def test_filters_by_camera_kind_and_instants(catalog: SQLiteCatalog, client: TestClient) -> None:
    base = datetime(2025, 1, 1, 12, tzinfo=UTC)
    catalog.put(event("porch", base))
    catalog.put(event("porch", base + timedelta(minutes=1), kind="snap", name="a.jpg"))
    catalog.put(event("garage", base + timedelta(minutes=2)))
    by_camera = client.get("/api/v1/events", params={"camera": "garage"}).json()["events"]
    assert [e["camera"] for e in by_camera] == ["garage"]
    snaps = client.get("/api/v1/events", params={"kind": "snap"}).json()["events"]
    assert [e["kind"] for e in snaps] == ["snap"]
    window = client.get(
        "/api/v1/events",
        params={"start": "2025-01-01T12:01:00Z", "end": "2025-01-01T12:02:00Z"},
    ).json()["events"]
    assert [e["capture_time"] for e in window] == ["2025-01-01T12:01:00.000Z"]


def test_cursor_pagination_visits_every_event_once_in_both_orders(
    catalog: SQLiteCatalog, client: TestClient
) -> None:
    base = datetime(2025, 1, 1, tzinfo=UTC)
    for number in range(23):
        # several events share a millisecond: the id breaks the tie
        catalog.put(event("porch", base + timedelta(seconds=number // 3), name=f"c{number:02d}.mp4"))
    for order in ("newest", "oldest"):
        seen: list[str] = []
        cursor = None
        while True:
            params = {"limit": 5, "order": order, **({"cursor": cursor} if cursor else {})}
            body = client.get("/api/v1/events", params=params).json()
            seen += [e["id"] for e in body["events"]]
            cursor = body["next_cursor"]
            if cursor is None:
                break
        assert len(seen) == 23 and len(set(seen)) == 23
        ordered = sorted(seen, key=lambda i: (catalog.get(i).capture_ms, i))  # type: ignore[union-attr]
        assert seen == (ordered[::-1] if order == "newest" else ordered)


def test_event_detail_and_cameras(catalog: SQLiteCatalog, client: TestClient) -> None:
    first = event("porch", datetime(2025, 1, 1, tzinfo=UTC))
    catalog.put(first)
    catalog.put(event("porch", datetime(2025, 1, 2, tzinfo=UTC)))
    # the catalog names the alarm incident each event belongs to: here its own
    assert client.get(f"/api/v1/events/{first.id}").json() == {**first.to_json(), "incident_id": first.id}
    assert client.get("/api/v1/events/0000").status_code == 404
    (camera,) = client.get("/api/v1/cameras").json()["cameras"]
    assert camera["name"] == "porch" and camera["event_count"] == 2
    assert camera["last_seen"] == "2025-01-02T00:00:00.000Z"


def test_registered_cameras_without_events_are_listed(catalog: SQLiteCatalog, auth: Authenticator) -> None:
    catalog.put(event("porch", datetime(2025, 1, 1, tzinfo=UTC)))
    app = create_app(catalog, auth, registered=lambda: ["porch", "attic"])
    with TestClient(app, base_url=LOCAL, headers=ADMIN) as client:
        cameras = client.get("/api/v1/cameras").json()["cameras"]
    assert [(c["name"], c["event_count"], c["latest"]) for c in cameras][1:] == [
        ("porch", 1, cameras[1]["latest"])
    ]
    assert cameras[0] == {
        "name": "attic",
        "event_count": 0,
        "record_count": 0,
        "snap_count": 0,
        "latest": None,
        "last_seen": None,
    }


def test_requests_for_other_host_names_are_refused(catalog: SQLiteCatalog, auth: Authenticator) -> None:
    """A web page cannot reach the local API through DNS rebinding: its Host header gives it away."""
    app = create_app(catalog, auth)
    with TestClient(app, base_url="http://attacker.example:8080", headers=ADMIN) as client:
        assert client.get("/api/v1/events").status_code == 400
    for host in ("http://localhost:8080", "http://[::1]:8080", LOCAL):
        with TestClient(app, base_url=host, headers=ADMIN) as client:
            assert client.get("/api/v1/events").status_code == 200, host


def test_on_a_public_address_any_host_name_is_served(catalog: SQLiteCatalog, auth: Authenticator) -> None:
    """Listening beyond loopback (behind a proxy with its own name), auth is the protection."""
    app = create_app(catalog, auth, allowed_hosts=("*",))
    with TestClient(app, base_url="https://cams.example.org", headers=ADMIN) as client:
        assert client.get("/api/v1/events").status_code == 200
        assert client.get("/api/v1/events", headers={"Authorization": "Bearer nope"}).status_code == 401


class RecordingCatalog:
    """A catalog over ``inner`` that says whether its reads are local, and records whether each
    page query ran on a thread with a running event loop (the server's loop)."""

    def __init__(self, inner: SQLiteCatalog, local_reads: bool) -> None:
        self.inner = inner
        self.local_reads = local_reads
        self.on_loop: list[bool] = []

    def query(self, query: EventQuery) -> EventPage:
        self._record()
        return self.inner.query(query)

    def query_json(self, query: EventQuery) -> JSONPage:
        self._record()
        return self.inner.query_json(query)

    def _record(self) -> None:
        try:
            asyncio.get_running_loop()
            self.on_loop.append(True)
        except RuntimeError:
            self.on_loop.append(False)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.mark.parametrize("local_reads", [True, False])
def test_only_a_local_catalog_is_read_on_the_event_loop(
    catalog: SQLiteCatalog, auth: Authenticator, local_reads: bool
) -> None:
    catalog.put(event("porch", datetime(2025, 1, 1, tzinfo=UTC)))
    recording = RecordingCatalog(catalog, local_reads)
    app = create_app(recording, auth)  # type: ignore[arg-type]
    with TestClient(app, base_url=LOCAL, headers=ADMIN) as client:
        assert [e["camera"] for e in client.get("/api/v1/events").json()["events"]] == ["porch"]
    # a catalog over the network must never block the server's loop; a local one is cheaper there
    assert recording.on_loop == [local_reads]


def test_the_published_events_route_answers_like_the_fast_one(
    catalog: SQLiteCatalog, auth: Authenticator
) -> None:
    """The app hands ``GET /events`` to its endpoint ahead of FastAPI's router (``ExactPath``);
    the FastAPI route that publishes it in OpenAPI gives the same answers, errors included."""
    for minute in range(3):
        catalog.put(event("porch", datetime(2025, 1, 1, 12, minute, tzinfo=UTC)))
    requests = [{"limit": "2"}, {"order": "oldest", "kind": "record"}, {"limit": "0"}, {"kind": "movie"}]
    answers = []
    published = FastAPI()
    published.include_router(events_router(catalog, None))
    with TestClient(published, base_url=LOCAL) as client:
        responses = [client.get(EVENTS, params=params) for params in requests]
        answers.append([(response.status_code, response.json()) for response in responses])
    with TestClient(create_app(catalog, auth), base_url=LOCAL, headers=ADMIN) as client:
        responses = [client.get(EVENTS, params=params) for params in requests]
        answers.append([(response.status_code, response.json()) for response in responses])
        head = client.head(EVENTS, params={"limit": "2"})
        assert head.status_code == 200 and head.headers["content-type"] == "application/json"
        assert client.post(EVENTS).status_code == 405  # other methods still go through the router
    assert answers[0] == answers[1]
    assert [status for status, _ in answers[0]] == [200, 200, 400, 400]
    assert len(answers[0][0][1]["events"]) == 2 and answers[0][0][1]["next_cursor"]
    spec = create_app(catalog, auth).openapi()
    names = {p["name"] for p in spec["paths"][EVENTS]["get"]["parameters"]}
    assert names == {"camera", "kind", "start", "end", "date", "tz", "order", "cursor", "limit"}
