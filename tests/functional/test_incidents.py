"""Alarm incidents end to end: uploads arriving out of order, the API, a rebuilt catalog, a
catalog from before incidents, and a changed gap."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from camvault.api.app import create_app
from camvault.catalog import sqlite_schema
from camvault.catalog.base import IncidentQuery
from camvault.catalog.sqlite import SQLiteCatalog
from camvault.config.loader import load_config
from camvault.domain.keys import event_id_for_key
from camvault.factory import open_catalog
from tests.support.api import ADMIN, authenticator
from tests.support.catalog_backends import make_event
from tests.support.cli import camvault, init_data
from tests.support.media import make_clip, make_jpeg

pytestmark = pytest.mark.functional

LOCAL = "http://127.0.0.1:8080"
T0 = datetime(2024, 7, 1, 12, 0, tzinfo=UTC)

# Arrival order: a later snapshot first, the clip last; garage's snapshot lies in between.
UPLOADS = [
    ("front", "image-2024-07-01-12-00-50.jpg"),
    ("front", "image-2024-07-01-12-00-00.jpg"),
    ("garage", "image-2024-07-01-12-00-20.jpg"),
    ("front", "image-2024-07-01-12-05-00.jpg"),  # 4 min later: an incident of its own
    ("front", "MDalarm_20240701_120120.mp4"),  # 30 s after the second snapshot: joins the first
]


@pytest.fixture
def config(tmp_path: Path) -> Path:
    config = init_data(tmp_path / "data")
    media = tmp_path / "media"
    media.mkdir()
    for camera in ("front", "garage"):
        assert camvault("camera", "add", camera, "--config", config).code == 0
    for camera, name in UPLOADS:
        path = media / name
        if name.endswith(".mp4"):
            make_clip(path, seconds=0.5, width=64, height=48)
        else:
            make_jpeg(path, width=64, height=48)
        assert camvault("ingest", path, "--camera", camera, "--config", config).code == 0
    return config


@pytest.fixture
def client(config: Path, tmp_path: Path) -> Iterator[TestClient]:
    catalog = open_catalog(load_config(str(config), {}, tmp_path))
    auth = authenticator(tmp_path / "api-accounts.db")
    with TestClient(create_app(catalog, auth), base_url=LOCAL, headers=ADMIN) as client:
        yield client
    auth.close()
    catalog.close()


def key(camera: str, name: str) -> str:
    return f"{camera}/2024-07-01/Hour-12/{'record' if name.endswith('.mp4') else 'snap'}/{name}"


def test_out_of_order_uploads_form_incidents_with_the_clips_thumbnail_as_face(client: TestClient) -> None:
    body = client.get("/api/v1/incidents", params={"order": "oldest"}).json()
    first, garage, lone = body["incidents"]
    assert body["next_cursor"] is None
    opening = key("front", "image-2024-07-01-12-00-00.jpg")
    clip = key("front", "MDalarm_20240701_120120.mp4")
    assert first["id"] == event_id_for_key(opening)
    assert (first["camera"], first["event_count"], first["record_count"], first["snap_count"]) == (
        "front",
        3,
        1,
        2,
    )
    assert (first["start_time"], first["end_time"]) == (
        "2024-07-01T12:00:00.000Z",
        "2024-07-01T12:01:20.000Z",
    )
    assert first["face_event_id"] == event_id_for_key(clip) and first["face_key"] == clip + ".thumb.jpg"
    assert (garage["camera"], garage["event_count"]) == ("garage", 1)
    assert garage["face_key"] == key("garage", "image-2024-07-01-12-00-20.jpg") + ".thumb.jpg"
    assert (lone["event_count"], lone["face_event_id"]) == (1, lone["id"])

    detail = client.get(f"/api/v1/incidents/{first['id']}").json()
    assert [e["key"] for e in detail["events"]] == [
        opening,
        key("front", "image-2024-07-01-12-00-50.jpg"),
        clip,
    ]
    assert {e["incident_id"] for e in detail["events"]} == {first["id"]}
    events = client.get("/api/v1/events", params={"camera": "front"}).json()["events"]
    assert {e["incident_id"] for e in events} == {first["id"], lone["id"]}


def incidents(client: TestClient, **params: Any) -> list[dict[str, Any]]:
    response = client.get("/api/v1/incidents", params=params)
    assert response.status_code == 200, response.text
    return list(response.json()["incidents"])


def test_incident_filters_and_pages_like_events(client: TestClient) -> None:
    assert [i["camera"] for i in incidents(client, camera="front")] == ["front", "front"]
    assert [i["start_time"] for i in incidents(client)] == [
        "2024-07-01T12:05:00.000Z",
        "2024-07-01T12:00:20.000Z",
        "2024-07-01T12:00:00.000Z",
    ]
    assert len(incidents(client, date="2024-07-01", tz="Pacific/Kiritimati")) == 0  # that day ended at 10:00Z
    assert len(incidents(client, date="2024-07-01", tz="America/New_York")) == 3
    assert len(incidents(client, start="2024-07-01T12:00:10Z", end="2024-07-01T12:05:00Z")) == 1
    seen, cursor = [], None
    while True:
        page = client.get(
            "/api/v1/incidents", params={"limit": 1, **({"cursor": cursor} if cursor else {})}
        ).json()
        seen += [i["id"] for i in page["incidents"]]
        if (cursor := page["next_cursor"]) is None:
            break
    assert seen == [i["id"] for i in incidents(client)]
    assert client.get("/api/v1/incidents", params={"cursor": "%%%"}).status_code == 400
    assert client.get("/api/v1/incidents", params={"start": "yesterday"}).status_code == 400
    assert client.get("/api/v1/incidents/nosuchincident").status_code == 404


def test_incidents_are_the_same_after_the_catalog_is_rebuilt(config: Path, tmp_path: Path) -> None:
    settings = load_config(str(config), {}, tmp_path)
    with closing(open_catalog(settings)) as catalog:
        before = catalog.incidents(IncidentQuery(limit=50)).incidents
    for name in ("catalog.db", "catalog.db-wal", "catalog.db-shm"):
        (tmp_path / "data" / name).unlink(missing_ok=True)
    assert camvault("reindex", "--config", config).code == 0
    with closing(open_catalog(settings)) as catalog:
        assert catalog.incidents(IncidentQuery(limit=50)).incidents == before


def test_a_changed_gap_regroups_when_the_catalog_opens(tmp_path: Path) -> None:
    path = tmp_path / "catalog.db"
    events = [make_event(f"e{n}", T0 + timedelta(seconds=20 * n)) for n in range(4)]  # 20 s apart
    with SQLiteCatalog(path) as catalog:
        for event in events:
            catalog.put(event)
        assert [i.event_count for i in catalog.incidents(IncidentQuery()).incidents] == [4]
    with SQLiteCatalog(path, incident_gap=timedelta(seconds=10)) as catalog:
        assert [i.event_count for i in catalog.incidents(IncidentQuery()).incidents] == [1, 1, 1, 1]
        found = catalog.get("e2")
        assert found is not None and found.incident_id == "e2"


def test_a_catalog_from_before_incidents_gets_them_on_open(tmp_path: Path) -> None:
    path = tmp_path / "catalog.db"
    old = sqlite3.connect(path)
    for statement in sqlite_schema.MIGRATIONS[0]:
        old.execute(statement)
    columns = [c for c in sqlite_schema.COLUMNS if c != "keep"]
    for n in range(3):
        row = sqlite_schema.event_to_row(make_event(f"old{n}", T0 + timedelta(seconds=30 * n), kind="snap"))
        names = ", ".join(columns)
        values = ", ".join(f":{c}" for c in columns)
        old.execute(f"INSERT INTO events ({names}) VALUES ({values})", {c: row[c] for c in columns})  # noqa: S608
    old.execute("PRAGMA user_version = 1")
    old.commit()
    old.close()
    with SQLiteCatalog(path) as catalog:
        (incident,) = catalog.incidents(IncidentQuery()).incidents
        assert (incident.id, incident.snap_count, incident.face_event_id) == ("old0", 3, "old0")
        found = catalog.get("old2")
        assert found is not None and (found.incident_id, found.keep) == ("old0", False)
