"""The gateway's figures: ``camvault status`` (text and JSON) and ``/api/v1/metrics`` in the
Prometheus text format, in-process and from a running ``camvault serve``."""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from camvault.api.app import create_app
from camvault.catalog.sqlite import SQLiteCatalog
from camvault.config.loader import Config, load_config
from camvault.factory_gateway import open_spool
from camvault.gateway.metrics import Counters, exposition
from camvault.gateway.spool import Arrival, Spool
from tests.functional.test_serve import Served
from tests.support.api import ADMIN, authenticator
from tests.support.cli import camvault, init_data, set_key

pytestmark = pytest.mark.functional


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    return init_data(tmp_path / "data")


def configured(path: Path) -> Config:
    return load_config(str(path), {}, path.parent)


@pytest.fixture
def spool(config_path: Path) -> Iterator[Spool]:
    opened = open_spool(configured(config_path))
    yield opened
    opened.close()


def spool_upload(spool: Spool, name: str, size: int) -> None:
    path = spool.home("porch") / name
    path.write_bytes(b"x" * size)
    spool.commit(path, Arrival("porch", name, datetime.now(UTC)))


def test_status_shows_the_outbox_and_the_counters(config_path: Path, spool: Spool) -> None:
    spool_upload(spool, "a.jpg", 2 << 20)
    spool_upload(spool, "b.jpg", 1 << 20)
    Counters(spool.outbox).rejected()
    Counters(spool.outbox).ignored()
    run = camvault("status", "--config", config_path)
    assert run.code == 0, run.err
    line = next(line for line in run.lines() if line.startswith("gateway:"))
    assert "2 uploads waiting for the store (3.0 MB)" in line
    assert "1 rejected, 1 ignored, 0 aborted" in line
    assert "oldest waiting" in line
    assert "accepting:  yes" in run.out


def test_status_json_carries_the_same_figures(config_path: Path, spool: Spool) -> None:
    spool_upload(spool, "a.jpg", 10)
    Counters(spool.outbox).aborted()
    run = camvault("status", "--json", "--config", config_path)
    gateway = json.loads(run.out)["gateway"]
    assert gateway["outbox_depth"] == 1
    assert gateway["outbox_bytes"] == 10
    assert gateway["aborted"] == 1
    assert gateway["refusal"] is None
    assert gateway["oldest_pending_age_s"] >= 0


def test_status_says_why_uploads_are_refused(config_path: Path) -> None:
    set_key(config_path, "gateway.spool_min_free_mb", 1 << 40)
    run = camvault("status", "--config", config_path)
    assert run.code == 0, run.err
    assert re.search(r"accepting:  no: spool disk nearly full: \d+ MB free", run.out)


def test_status_shows_uploads_kept_as_failed(config_path: Path, spool: Spool) -> None:
    spool_upload(spool, "notes.txt", 5)
    upload = spool.outbox.claim()
    assert upload is not None
    spool.outbox.fail(
        upload.id, "notes.txt: not a clip or snapshot", retry_s=1, max_retry_s=1, permanent=True
    )
    run = camvault("status", "--config", config_path)
    assert "kept:       porch notes.txt: notes.txt: not a clip or snapshot" in run.out
    assert "upload error: notes.txt: not a clip or snapshot" in run.out


def test_metrics_route_serves_prometheus_text(config_path: Path, spool: Spool) -> None:
    spool_upload(spool, "a.jpg", 100)
    Counters(spool.outbox).rejected()
    catalog = SQLiteCatalog(config_path.parent / "catalog.db")
    auth = authenticator(config_path.parent / "api-accounts.db")
    try:
        app = create_app(catalog, auth, metrics=lambda: exposition(spool, None, datetime.now(UTC)))
        with TestClient(app, base_url="http://127.0.0.1") as client:
            assert client.get("/api/v1/metrics").status_code == 401  # figures need a login too
            response = client.get("/api/v1/metrics", headers=ADMIN)
    finally:
        auth.close()
        catalog.close()
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = response.text
    assert "# TYPE camvault_gateway_outbox_depth gauge\ncamvault_gateway_outbox_depth 1\n" in text
    assert "camvault_gateway_outbox_bytes 100\n" in text
    assert "camvault_gateway_rejected_uploads_total 1\n" in text
    assert "camvault_gateway_accepting_uploads 1\n" in text
    for line in text.splitlines():  # every sample line is NAME VALUE (or NAME{labels} VALUE)
        assert line.startswith("#") or re.fullmatch(r"[a-z_]+(\{.*\})? [0-9.e+-]+", line), line


def test_serve_answers_metrics(config_path: Path) -> None:
    served = Served(config_path)
    try:
        headers = {"Authorization": f"Bearer {served.token}"}
        request = urllib.request.Request(f"{served.url}/metrics", headers=headers)  # noqa: S310 - loopback
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - loopback
            text = response.read().decode()
    finally:
        served.stop()
    assert "camvault_gateway_outbox_depth 0\n" in text
    assert "camvault_processor_pending 0\n" in text
    assert "camvault_gateway_accepting_uploads 1\n" in text
