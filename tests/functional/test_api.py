"""The JSON API over a real SQLite catalog: filters, local days across DST, pagination, errors."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from camvault.api.app import create_app
from camvault.catalog.sqlite import SQLiteCatalog
from camvault.domain.keys import build_key, event_id_for_key
from camvault.domain.model import CatalogEvent, MediaInfo

pytestmark = pytest.mark.functional

LOCAL = "http://127.0.0.1:8080"


def event(camera: str, at: datetime, kind: str = "record", name: str | None = None) -> CatalogEvent:
    filename = name or f"clip-{at:%Y%m%dT%H%M%S}.mp4"
    key = build_key("", camera, at, kind, filename).key  # type: ignore[arg-type]
    return CatalogEvent(
        id=event_id_for_key(key),
        camera=camera,
        kind=kind,  # type: ignore[arg-type]
        capture_time=at,
        key=key,
        size=1000,
        content_type="video/mp4" if kind == "record" else "image/jpeg",
        media=MediaInfo(duration=2.0, width=640, height=360, video_codec="h264"),
        playable=True,
        thumbnail_key=key + ".thumb.jpg",
    )


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[SQLiteCatalog]:
    catalog = SQLiteCatalog(tmp_path / "catalog.db")
    yield catalog
    catalog.close()


@pytest.fixture
def client(catalog: SQLiteCatalog) -> Iterator[TestClient]:
    with TestClient(create_app(catalog), base_url=LOCAL) as client:
        yield client


def test_health_and_openapi_are_published(client: TestClient) -> None:
    assert client.get("/api/v1/healthz").json()["status"] == "ok"
    spec = client.get("/api/v1/openapi.json").json()
    assert {"/api/v1/events", "/api/v1/cameras", "/api/v1/events/{event_id}"} <= set(spec["paths"])


def test_fall_back_day_in_new_york_returns_its_25_hours(catalog: SQLiteCatalog, client: TestClient) -> None:
    # 2024-11-03 in America/New_York runs from 04:00Z to 05:00Z the next day: 25 hours.
    start = datetime(2024, 11, 3, 4, 0, tzinfo=UTC)
    for hour in range(-1, 26):
        catalog.put(event("porch", start + timedelta(hours=hour, minutes=30)))
    body = client.get(
        "/api/v1/events", params={"date": "2024-11-03", "tz": "America/New_York", "limit": 100}
    ).json()
    times = [e["capture_time"] for e in body["events"]]
    assert len(times) == 25
    assert times[0] == "2024-11-04T04:30:00.000Z"  # newest first: 23:30 EST
    assert times[-1] == "2024-11-03T04:30:00.000Z"  # 00:30 EDT
    assert body["next_cursor"] is None


def test_spring_forward_day_has_23_hours(catalog: SQLiteCatalog, client: TestClient) -> None:
    start = datetime(2024, 3, 10, 5, 0, tzinfo=UTC)  # local midnight EST
    for hour in range(0, 25):
        catalog.put(event("porch", start + timedelta(hours=hour, minutes=1)))
    body = client.get("/api/v1/events", params={"date": "2024-03-10", "tz": "America/New_York"}).json()
    assert len(body["events"]) == 23


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


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"start": "yesterday"}, "start='yesterday' is not an ISO 8601 instant"),
        ({"end": "2025-01-01T00:00:00"}, "is not an ISO 8601 instant with an offset"),
        ({"date": "2025-02-30"}, "date:"),
        ({"date": "9999-12-31"}, "outside the supported years"),
        ({"date": "0001-01-01", "tz": "Asia/Tokyo"}, "outside the supported years"),
        ({"start": "0001-01-01T00:00:00+01:00"}, "is not an ISO 8601 instant"),
        ({"start": "9999-12-31T23:59:59-10:00"}, "is not an ISO 8601 instant"),
        ({"cursor": "OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk6ZGVm"}, "invalid cursor"),
        ({"date": "2025-02-01", "tz": "Mars/Base"}, "tz: unknown time zone 'Mars/Base': use an IANA name"),
        ({"cursor": "!!!"}, "invalid cursor"),
        ({"limit": 0}, "limit:"),
        ({"limit": 100000}, "limit:"),
        ({"limit": "ten"}, "limit:"),
        ({"kind": "movie"}, "kind:"),
        ({"order": "sideways"}, "order:"),
    ],
)
def test_malformed_parameters_are_4xx_with_a_message(
    client: TestClient, params: dict[str, object], message: str
) -> None:
    response = client.get("/api/v1/events", params=params)
    assert response.status_code == 400
    assert message in response.json()["detail"]


def test_registered_cameras_without_events_are_listed(catalog: SQLiteCatalog) -> None:
    catalog.put(event("porch", datetime(2025, 1, 1, tzinfo=UTC)))
    with TestClient(create_app(catalog, registered=lambda: ["porch", "attic"]), base_url=LOCAL) as client:
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


def test_requests_for_other_host_names_are_refused(catalog: SQLiteCatalog) -> None:
    """A web page cannot reach the local API through DNS rebinding: its Host header gives it away."""
    with TestClient(create_app(catalog), base_url="http://attacker.example:8080") as client:
        assert client.get("/api/v1/events").status_code == 400
    for host in ("http://localhost:8080", "http://[::1]:8080", LOCAL):
        with TestClient(create_app(catalog), base_url=host) as client:
            assert client.get("/api/v1/healthz").status_code == 200, host
