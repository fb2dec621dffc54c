"""Marking events keep: from the CLI and the API, recorded in the store so that it survives a
rebuilt catalog, never processed as an object of its own, and honoured by retention."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from camvault.api.app import create_app
from camvault.config.loader import load_config
from camvault.domain.keys import event_id_for_key, keep_marker_key
from camvault.factory import Runtime, build_retention, build_runtime
from tests.functional.test_serve import free_port
from tests.support.aged import ingest_at
from tests.support.api import ADMIN, authenticator
from tests.support.cli import camvault, init_data, set_key
from tests.support.media import make_jpeg

pytestmark = pytest.mark.functional

OLD_NAME = "image-2020-01-01-12-00-00.jpg"
OLD_KEY = f"front/2020-01-01/Hour-12/snap/{OLD_NAME}"


def events_json(config: Path) -> dict[str, dict[str, object]]:
    run = camvault("events", "--json", "--config", config)
    assert run.code == 0, run.err
    return {event["key"]: event for event in map(json.loads, run.lines())}


@pytest.fixture
def config(tmp_path: Path) -> Path:
    config = init_data(tmp_path / "data")
    assert camvault("camera", "add", "front", "--config", config).code == 0
    image = make_jpeg(tmp_path / OLD_NAME, width=64, height=48)
    ingest_at(config, datetime(2020, 1, 1, 12, 0, 9, tzinfo=UTC), "front", image)
    return config


def test_keep_survives_a_lost_catalog_and_reindex(config: Path, tmp_path: Path) -> None:
    event_id = event_id_for_key(OLD_KEY)
    assert events_json(config)[OLD_KEY]["keep"] is False
    marked = camvault("keep", event_id, "--config", config)
    assert marked.code == 0, marked.err
    assert "kept: retention never deletes it" in marked.out
    marker = tmp_path / "data" / "objects" / keep_marker_key(OLD_KEY)
    assert json.loads(marker.read_text())["event"] == event_id
    assert events_json(config)[OLD_KEY]["keep"] is True

    for name in ("catalog.db", "catalog.db-wal", "catalog.db-shm"):
        (tmp_path / "data" / name).unlink(missing_ok=True)
    rebuilt = camvault("reindex", "--config", config)
    assert rebuilt.code == 0, rebuilt.err
    assert "1 events cataloged from 1 objects" in rebuilt.out  # the marker is not an event
    assert events_json(config)[OLD_KEY]["keep"] is True

    dry = camvault("retention", "--dry-run", "--config", config)
    assert "would delete 0 events" in dry.out and "1 expired events kept" in dry.out

    released = camvault("keep", event_id, "--off", "--config", config)
    assert released.code == 0 and "no longer kept" in released.out
    assert not marker.exists() and events_json(config)[OLD_KEY]["keep"] is False
    assert "would delete 1 events" in camvault("retention", "--dry-run", "--config", config).out


def test_keep_of_an_unknown_event_is_a_one_line_error(config: Path) -> None:
    run = camvault("keep", "0123456789abcdef0123", "--config", config)
    assert run.code == 1
    assert run.err.startswith("camvault: error: no event '0123456789abcdef0123'") and run.err.count("\n") == 1


@pytest.fixture
def runtime(config: Path, tmp_path: Path) -> Iterator[Runtime]:
    built = build_runtime(load_config(str(config), {}, tmp_path))
    yield built
    built.close()


def test_api_marks_and_releases_keep_and_retention_honours_it(runtime: Runtime, tmp_path: Path) -> None:
    event_id = event_id_for_key(OLD_KEY)
    auth = authenticator(tmp_path / "api-accounts.db")
    app = create_app(runtime.catalog, auth, store=runtime.store)
    with TestClient(app, base_url="http://127.0.0.1:8080", headers=ADMIN) as client:
        assert client.put(f"/api/v1/events/{event_id}/keep", headers={"Authorization": ""}).status_code == 401
        kept = client.put(f"/api/v1/events/{event_id}/keep")
        assert kept.status_code == 200 and kept.json()["keep"] is True and kept.json()["id"] == event_id
        assert client.get(f"/api/v1/events/{event_id}").json()["keep"] is True
        assert client.put("/api/v1/events/nosuchevent/keep").status_code == 404
        assert runtime.journal.stats().pending == 0  # the marker object is never queued for processing

        report = build_retention(runtime, clock=lambda: datetime.now(UTC)).run()
        assert report.deleted == () and report.plan.kept == 1

        released = client.delete(f"/api/v1/events/{event_id}/keep")
        assert released.status_code == 200 and released.json()["keep"] is False
        assert client.delete(f"/api/v1/events/{event_id}/keep").json()["keep"] is False  # idempotent
        spec = client.get("/api/v1/openapi.json").json()
        assert {"put", "delete"} <= set(spec["paths"]["/api/v1/events/{event_id}/keep"])

    auth.close()
    report = build_retention(runtime, clock=lambda: datetime.now(UTC)).run()
    assert [r.original for r in report.deleted] == [OLD_KEY]


def test_the_api_verb_alone_can_mark_keep(config: Path, tmp_path: Path) -> None:
    port = free_port()
    set_key(config, "api.listen", f"127.0.0.1:{port}")
    token = camvault("token", "create", "keeper", "--config", config).lines()[-1]
    api = subprocess.Popen(
        [sys.executable, "-m", "camvault", "api", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/api/v1/events/{event_id_for_key(OLD_KEY)}/keep"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                request = urllib.request.Request(
                    url, method="PUT", headers={"Authorization": f"Bearer {token}"}
                )
                with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - local server
                    assert json.loads(response.read())["keep"] is True
                break
            except OSError:
                assert time.monotonic() < deadline, "camvault api did not answer"
                time.sleep(0.2)
    finally:
        api.send_signal(signal.SIGINT)
        api.wait(timeout=20)
    assert (tmp_path / "data" / "objects" / keep_marker_key(OLD_KEY)).exists()
