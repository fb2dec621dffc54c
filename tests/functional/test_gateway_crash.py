"""A ``226`` is a promise: ``camvault gateway`` is SIGKILLed again and again while cameras upload
and the uploader sends the spool to SeaweedFS; after each restart, every file that got a ``226``
is in the store exactly once, byte-identical, and no object is partial or doubled."""

from __future__ import annotations

import ftplib
import io
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO

import pytest

from camvault.store.base import read_all
from camvault.store.s3 import PART_SIZE, S3Store
from tests.support.cli import camvault, init_data, set_key
from tests.support.ftp import free_port, passive_range
from tests.support.seaweed import SeaweedServer, seaweed

__all__ = ["seaweed"]

pytestmark = pytest.mark.functional

UPLOADS = 200
CLIENTS = 8
KILLS = 6
PASSWORD = "porch-crash-secret"
FIRST_CAPTURE = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)


class GatewayProcess:
    """``camvault gateway`` as a child process that the test kills with SIGKILL."""

    def __init__(self, config: Path, port: int, env: dict[str, str], log: IO[bytes]) -> None:
        self.config = config
        self.port = port
        self.env = env
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "camvault", "gateway", "--config", str(self.config)],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env=self.env,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"camvault gateway exited with {self.process.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as probe:
                    if probe.recv(64).startswith(b"220"):
                        return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("camvault gateway did not answer")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def file_name(number: int) -> str:
    captured = FIRST_CAPTURE + timedelta(seconds=7 * number)
    return f"MDAlarm_{captured:%Y%m%d-%H%M%S}.jpg"


def key_of(prefix: str, number: int) -> str:
    captured = FIRST_CAPTURE + timedelta(seconds=7 * number)
    return f"{prefix}/porch/{captured:%Y-%m-%d}/Hour-{captured:%H}/snap/{file_name(number)}"


class Camera:
    """Uploads its files over FTP; a failed upload (the gateway died) is sent again, as cameras
    do. Records which uploads got a ``226``."""

    def __init__(self, port: int, files: dict[int, bytes], acknowledged: dict[int, bytes]) -> None:
        self.port = port
        self.files = files
        self.acknowledged = acknowledged
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="crash-camera")

    def _run(self) -> None:
        try:
            for number, data in self.files.items():
                self._send(number, data)
        except BaseException as exc:  # reported by the test
            self.error = exc

    def _send(self, number: int, data: bytes) -> None:
        deadline = time.monotonic() + 120  # generous: a loaded CI machine restarts slowly
        while time.monotonic() < deadline:
            try:
                with ftplib.FTP(timeout=10) as ftp:
                    ftp.connect("127.0.0.1", self.port)
                    ftp.login("porch", PASSWORD)
                    reply = ftp.storbinary(f"STOR {file_name(number)}", io.BytesIO(data))
            except (OSError, EOFError, ftplib.Error):
                time.sleep(0.05)  # the gateway is down or died mid-upload: send it again
                continue
            assert reply.startswith("226"), reply
            self.acknowledged[number] = data
            return
        raise AssertionError(f"upload {number} never got a 226")


@pytest.fixture
def crash_site(tmp_path: Path, seaweed: SeaweedServer) -> Iterator[tuple[Path, int, dict[str, str], str]]:
    prefix = f"crash-{time.time_ns()}"
    config = init_data(tmp_path / "data")
    port = free_port()
    passive = passive_range()
    for dotted, value in {
        "storage.url": f"s3://{seaweed.bucket}/{prefix}",
        "storage.endpoint_url": seaweed.endpoint_url,
        "storage.region": seaweed.region,
        "gateway.listen": f"127.0.0.1:{port}",
        "gateway.passive_ports": f"{passive.start}-{passive.stop - 1}",
        "gateway.upload_retry_seconds": 0.1,
        "gateway.upload_max_retry_seconds": 0.5,
        "gateway.spool_min_free_mb": 0,
    }.items():
        set_key(config, dotted, value)
    added = camvault(
        "camera", "add", "porch", "--timezone", "UTC", "--password-stdin", "--config", config, stdin=PASSWORD
    )
    assert added.code == 0, added.err
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": seaweed.access_key,
        "AWS_SECRET_ACCESS_KEY": seaweed.secret_key,
    }
    yield config, port, env, prefix


def test_sigkill_during_uploads_loses_and_duplicates_nothing(
    crash_site: tuple[Path, int, dict[str, str], str], seaweed: SeaweedServer, tmp_path: Path
) -> None:
    config, port, env, prefix = crash_site
    rng = random.Random(3)
    files = {number: rng.randbytes(rng.randrange(8 << 10, 192 << 10)) for number in range(UPLOADS)}
    files[UPLOADS // 2] = rng.randbytes(PART_SIZE + (1 << 20))  # one clip large enough for a multipart put
    acknowledged: dict[int, bytes] = {}
    cameras = [
        Camera(port, {n: files[n] for n in range(start, UPLOADS, CLIENTS)}, acknowledged)
        for start in range(CLIENTS)
    ]
    with (tmp_path / "gateway.log").open("wb") as log:
        gateway = GatewayProcess(config, port, env, log)
        gateway.start()
        try:
            for camera in cameras:
                camera.thread.start()
            kills = 0
            while kills < KILLS and len(acknowledged) < UPLOADS:
                time.sleep(rng.uniform(0.8, 1.6))
                gateway.kill()
                kills += 1
                gateway.start()
            for camera in cameras:
                camera.thread.join(timeout=150)
            assert [c.error for c in cameras if c.error] == [], log_tail(tmp_path)
            assert kills >= 3, "the uploads finished before the gateway was killed often enough"
            objects = wait_for_store(seaweed, prefix, UPLOADS)
        finally:
            gateway.stop()
            for camera in cameras:
                camera.thread.join(timeout=60)
    assert len(acknowledged) == UPLOADS, log_tail(tmp_path)
    expected = {key_of(prefix, number): data for number, data in acknowledged.items()}
    assert sorted(objects) == sorted(expected), f"an object is missing or stored twice\n{log_tail(tmp_path)}"
    store = S3Store(seaweed.bucket, client=seaweed.client())
    try:
        for key, data in expected.items():
            assert objects[key] == len(data), f"{key} is partial"
            assert read_all(store, key) == data, f"{key} differs from what was uploaded"
    finally:
        store.close()
    spool = config.parent / "spool"
    assert list((spool / "queue").iterdir()) == [], "the spool still holds uploads"
    assert list((spool / "homes" / "porch").iterdir()) == [], "the camera's home still holds uploads"


def log_tail(tmp_path: Path) -> str:
    lines = (tmp_path / "gateway.log").read_text(errors="replace").splitlines()
    return (
        "gateway log:\n" + "\n".join(line for line in lines if "WARNING" in line or "ERROR" in line)[-4000:]
    )


def wait_for_store(seaweed: SeaweedServer, prefix: str, count: int, timeout_s: float = 90) -> dict[str, int]:
    """key → size of every object under ``prefix`` once ``count`` are there (or the time is up)."""
    client = seaweed.client()
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            found: dict[str, int] = {}
            for page in client.get_paginator("list_objects_v2").paginate(
                Bucket=seaweed.bucket, Prefix=prefix
            ):
                found.update({item["Key"]: item["Size"] for item in page.get("Contents", [])})
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.2)
    finally:
        client.close()
