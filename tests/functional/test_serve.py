"""``camvault serve`` as a real process: ingest while it runs, then read the API over HTTP.

Also the same pipeline with the object store on a real SeaweedFS server (``s3://``).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from camvault.api.app import LOCAL_HOSTS
from camvault.cli.run import allowed_hosts
from tests.support.cli import camvault, camvault_process, init_data, set_key
from tests.support.media import make_clip, make_jpeg
from tests.support.seaweed import SeaweedServer

pytestmark = pytest.mark.functional


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get_json(url: str, token: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 - local test server
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - local test server
        return json.loads(response.read())


class Served:
    def __init__(self, config: Path, env: dict[str, str] | None = None) -> None:
        created = camvault("token", "create", "tests", "--config", config)
        assert created.code == 0, created.err
        self.token = created.lines()[-1]
        self.port = free_port()
        set_key(config, "api.listen", f"127.0.0.1:{self.port}")
        set_key(config, "gateway.listen", f"127.0.0.1:{free_port()}")  # serve starts the FTP gateway too
        self.url = f"http://127.0.0.1:{self.port}/api/v1"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "camvault", "serve", "--config", str(config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, **(env or {})},
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if get_json(f"{self.url}/healthz")["status"] == "ok":
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise AssertionError(f"serve did not answer: {self.output}")

    output = ""

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        try:
            self.output, _ = self.process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.output, _ = self.process.communicate()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    config = init_data(tmp_path / "data")
    assert camvault("camera", "add", "garage", "--timezone", "Europe/Berlin", "--config", config).code == 0
    server = Served(config)
    yield server
    server.stop()


def test_ingest_while_serving_is_visible_over_http_within_a_second(served: Served, tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "garage_00_20260630142233.mp4", seconds=2.0, width=640, height=360)
    snap = make_jpeg(
        tmp_path / "192.168.1.64_01_20260630142240502_MOTION_DETECTION.jpg", width=800, height=600
    )
    config = tmp_path / "data" / "camvault.toml"
    run = camvault_process("ingest", clip, snap, "--camera", "garage", "--config", config)
    returned = time.monotonic()
    assert run.code == 0, run.err + run.out
    listed = get_json(f"{served.url}/events", served.token)
    assert time.monotonic() - returned < 1.0
    snap_event, clip_event = listed["events"]  # newest first
    assert clip_event["camera"] == snap_event["camera"] == "garage"
    assert clip_event["capture_time"] == "2026-06-30T12:22:33.000Z"  # Reolink name, 14:22:33 CEST
    assert clip_event["media"]["duration"] == pytest.approx(2.0, abs=0.15)
    assert (clip_event["media"]["width"], clip_event["media"]["height"]) == (640, 360)
    assert clip_event["thumbnail_key"].endswith(".mp4.thumb.jpg")
    assert snap_event["capture_time"] == "2026-06-30T12:22:40.502Z"  # Hikvision name with milliseconds
    assert (snap_event["media"]["width"], snap_event["media"]["height"]) == (800, 600)
    assert snap_event["media"]["duration"] is None
    assert snap_event["thumbnail_key"].endswith(".jpg.thumb.jpg")
    for event in (clip_event, snap_event):
        thumb = tmp_path / "data" / "objects" / event["thumbnail_key"]
        assert thumb.read_bytes()[:2] == b"\xff\xd8"
        assert get_json(f"{served.url}/events/{event['id']}", served.token) == event
    cameras = get_json(f"{served.url}/cameras", served.token)["cameras"]
    assert [(c["name"], c["event_count"]) for c in cameras] == [("garage", 2)]


def test_serve_prints_where_to_point_the_browser_and_stops_cleanly(served: Served) -> None:
    served.stop()
    assert served.process.returncode == 0
    assert f"http://127.0.0.1:{served.port}/api/v1" in served.output


def test_served_api_refuses_requests_without_a_valid_token(served: Served) -> None:
    for token in (None, "cv_not-a-token"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            get_json(f"{served.url}/events", token)
        assert refused.value.code == 401
        refused.value.close()


def test_only_a_loopback_listener_checks_the_host_name() -> None:
    """On loopback a foreign Host header means DNS rebinding; elsewhere auth protects every route."""
    assert allowed_hosts("127.0.0.1") == allowed_hosts("::1") == LOCAL_HOSTS
    assert allowed_hosts("0.0.0.0") == allowed_hosts("192.168.1.20") == ("*",)


def test_pipeline_on_a_real_s3_server(seaweed: SeaweedServer, tmp_path: Path) -> None:
    config = init_data(
        tmp_path / "data",
        {
            "storage.url": f"s3://{seaweed.bucket}/patrolcams",
            "storage.endpoint_url": seaweed.endpoint_url,
            "storage.region": seaweed.region,
            "storage.addressing_style": "path",
        },
    )
    env = {"AWS_ACCESS_KEY_ID": seaweed.access_key, "AWS_SECRET_ACCESS_KEY": seaweed.secret_key}
    add = camvault_process(
        "camera", "add", "backyard", "--timezone", "America/Los_Angeles", "--config", config
    )
    assert add.code == 0, add.err
    clip = make_clip(tmp_path / "MDalarm_20161018_113706.mp4", seconds=2.0, width=640, height=360)
    snap = make_jpeg(tmp_path / "MDAlarm_20161018-113707.jpg")
    run = camvault_process("ingest", clip, snap, "--camera", "backyard", "--config", config, env=env)
    assert run.code == 0, run.err + run.out
    listed = camvault_process("events", "--json", "--config", config, env=env)
    events = {e["kind"]: e for e in map(json.loads, listed.out.splitlines())}
    assert (
        events["record"]["key"] == "patrolcams/backyard/2016-10-18/Hour-18/record/MDalarm_20161018_113706.mp4"
    )
    assert events["record"]["capture_time"] == "2016-10-18T18:37:06.000Z"
    assert events["record"]["media"]["width"] == 640
    client = seaweed.client()
    thumb = client.get_object(Bucket=seaweed.bucket, Key=events["record"]["thumbnail_key"])["Body"].read()
    assert thumb[:2] == b"\xff\xd8"
    head = client.head_object(Bucket=seaweed.bucket, Key=events["record"]["key"])
    assert head["Metadata"]["camera"] == "backyard"

    (tmp_path / "data" / "catalog.db").unlink()
    rebuilt = camvault_process("reindex", "--config", config, env=env)
    assert rebuilt.code == 0, rebuilt.err + rebuilt.out
    again = camvault_process("events", "--json", "--config", config, env=env)
    assert again.out == listed.out
