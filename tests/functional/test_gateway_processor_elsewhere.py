"""``[processor] local = false``: a gateway whose store notifies a processor elsewhere (the AWS
stack: bucket → queue → Lambda) only uploads.

The real ``camvault gateway`` runs as a child process, against SeaweedFS with the settings
``camvault aws deploy`` writes into ``gateway-SITE.env`` (a put-only credential: SeaweedFS's
put-only identity) or over a ``file://`` store; a camera uploads with ``ftplib``. The object
reaches the store, and with the setting off nothing waits in the processor journal and nothing is
cataloged here; with the default the same upload waits in the journal for ``camvault process``.
``serve`` and ``process`` refuse with the reason and the fix, ``ingest`` stores without waiting
for a catalog entry, and ``status`` says where processing happens instead of a backlog.
"""

from __future__ import annotations

import ftplib
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from camvault.catalog.base import EventQuery
from camvault.catalog.sqlite import SQLiteCatalog
from camvault.processor.journal import Journal
from tests.support.cli import Run, camvault, camvault_process, init_data
from tests.support.ftp import free_port, passive_range
from tests.support.media import make_jpeg
from tests.support.seaweed import (
    PUT_ONLY_ACCESS_KEY,
    PUT_ONLY_PREFIX,
    PUT_ONLY_SECRET_KEY,
    SeaweedServer,
    seaweed,
)

__all__ = ["seaweed"]

pytestmark = pytest.mark.functional

CAMERA = "porch"
PASSWORD = "porch-elsewhere-secret"
SNAPSHOT = "MDAlarm_20250301-120000.jpg"
KEY_UNDER_PREFIX = f"{CAMERA}/2025-03-01/Hour-12/snap/{SNAPSHOT}"


@dataclass(frozen=True)
class Site:
    """A gateway's data folder, the environment it runs with and where its objects go."""

    config: Path
    port: int
    env: dict[str, str]
    key: str
    seaweed: SeaweedServer | None = None

    @property
    def data(self) -> Path:
        return self.config.parent

    def stored(self) -> bytes | None:
        """The uploaded object's bytes, read with the store owner's rights; None while absent."""
        if self.seaweed is None:
            path = self.data / "objects" / self.key
            return path.read_bytes() if path.exists() else None
        client = self.seaweed.client()
        try:
            answer = client.get_object(Bucket=self.seaweed.bucket, Key=self.key)
            return bytes(answer["Body"].read())
        except client.exceptions.NoSuchKey:
            return None
        finally:
            client.close()


def make_site(folder: Path, *, local: bool, server: SeaweedServer | None) -> Site:
    port, passive = free_port(), passive_range()
    config = init_data(
        folder,
        {
            "gateway.listen": f"127.0.0.1:{port}",
            "gateway.passive_ports": f"{passive.start}-{passive.stop - 1}",
            "gateway.upload_retry_seconds": 0.1,
            "gateway.upload_max_retry_seconds": 0.5,
            "gateway.spool_min_free_mb": 0,
        },
    )
    added = camvault(
        "camera", "add", CAMERA, "--timezone", "UTC", "--password-stdin", "--config", config, stdin=PASSWORD
    )
    assert added.code == 0, added.err
    env = {**os.environ, "CAMVAULT_PROCESSOR_LOCAL": "true" if local else "false"}
    if server is None:
        return Site(config, port, env, KEY_UNDER_PREFIX)
    prefix = f"{PUT_ONLY_PREFIX}/elsewhere-{time.time_ns()}"
    env |= {  # what `camvault aws deploy` writes into gateway-SITE.env
        "AWS_ACCESS_KEY_ID": PUT_ONLY_ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": PUT_ONLY_SECRET_KEY,
        "CAMVAULT_STORAGE_URL": f"s3://{server.bucket}/{prefix}",
        "CAMVAULT_STORAGE_ENDPOINT_URL": server.endpoint_url,
        "CAMVAULT_STORAGE_REGION": server.region,
        "CAMVAULT_GATEWAY_STORE_ACCESS": "put-only",
    }
    return Site(config, port, env, f"{prefix}/{KEY_UNDER_PREFIX}", server)


@contextmanager
def gateway_process(site: Site, log: Path) -> Iterator[None]:
    """``camvault gateway`` as a child process, answering FTP; stopped with SIGINT."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "camvault", "gateway", "--config", str(site.config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=site.env,
        )
        try:
            wait_for_banner(process, site.port, log)
            yield
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
    assert process.returncode == 0, log.read_text(errors="replace")


def wait_for_banner(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"camvault gateway exited: {log.read_text(errors='replace')}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as probe:
                if probe.recv(64).startswith(b"220"):
                    return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("camvault gateway did not answer")


def upload(port: int, name: str, data: bytes) -> str:
    with ftplib.FTP(timeout=10) as ftp:
        ftp.connect("127.0.0.1", port)
        ftp.login(CAMERA, PASSWORD)
        return ftp.storbinary(f"STOR {name}", io.BytesIO(data))


def wait_until_sent(site: Site, log: Path, timeout_s: float = 30) -> None:
    """Until the spool holds nothing: the upload was stored, verified and handed on."""
    spool = site.data / "spool"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not any((spool / "queue").iterdir()) and not any((spool / "homes" / CAMERA).iterdir()):
            return
        time.sleep(0.05)
    raise AssertionError(f"the upload is still in the spool: {log.read_text(errors='replace')[-3000:]}")


def journaled(site: Site) -> list[str]:
    """Every key waiting in the site's processor journal."""
    journal = Journal(site.data / "processor.db")
    try:
        keys = []
        while (entry := journal.claim(lease_s=60)) is not None:
            keys.append(entry.key)
        assert journal.stats().failed == 0
        return keys
    finally:
        journal.close()


def cataloged(site: Site) -> list[str]:
    catalog = SQLiteCatalog(site.data / "catalog.db")
    try:
        return [event.key for event in catalog.query(EventQuery(limit=100)).events]
    finally:
        catalog.close()


@pytest.fixture(params=["file", "seaweed"])
def store(request: pytest.FixtureRequest) -> SeaweedServer | None:
    """The store the gateway uploads to: a ``file://`` folder, or SeaweedFS with a put-only key."""
    if request.param == "file":
        return None
    server: SeaweedServer = request.getfixturevalue("seaweed")
    return server


@pytest.mark.parametrize("local", [False, True], ids=["processed-elsewhere", "processed-here"])
def test_a_gateway_journals_uploads_only_for_a_local_processor(
    tmp_path: Path, store: SeaweedServer | None, local: bool
) -> None:
    site = make_site(tmp_path / "data", local=local, server=store)
    snapshot = make_jpeg(tmp_path / SNAPSHOT).read_bytes()
    log = tmp_path / "gateway.log"
    with gateway_process(site, log):
        assert upload(site.port, SNAPSHOT, snapshot).startswith("226")
        wait_until_sent(site, log)
    assert site.stored() == snapshot
    said = (
        "elsewhere, by the processor the store notifies" if not local else "by the processor on this machine"
    )
    assert f"  catalog:  {said}" in log.read_text()
    assert cataloged(site) == []  # nothing processes here while only the gateway runs
    assert journaled(site) == ([site.key] if local else [])


def test_status_says_where_processing_happens(tmp_path: Path) -> None:
    site = make_site(tmp_path / "data", local=False, server=None)
    text = status(site)
    assert text.code == 0, text.err
    elsewhere = "elsewhere ([processor] local = false): the store notifies the processor; nothing waits here"
    assert f"processor:  {elsewhere}\n" in text.out
    assert "waiting, " not in text.out.split("gateway:")[0]  # no backlog figure that could never drain
    report = json.loads(status(site, "--json").out)
    assert (report["processor_local"], report["processor_pending"], report["processor_failed"]) == (
        False,
        0,
        0,
    )


def test_status_names_keys_left_from_when_processing_was_local(tmp_path: Path) -> None:
    site = make_site(tmp_path / "data", local=False, server=None)
    journal = Journal(site.data / "processor.db")
    broken = f"{CAMERA}/2025-03-01/Hour-12/snap/broken.jpg"
    try:
        journal.add([f"{KEY_UNDER_PREFIX}", f"{CAMERA}/2025-03-01/Hour-12/snap/other.jpg", broken])
        assert journal.claim(key=broken) is not None
        journal.fail(broken, "not a JPEG", max_attempts=1, base_delay_s=1.0)
    finally:
        journal.close()
    text = status(site)
    line = next(line for line in text.lines() if line.startswith("processor:"))
    assert "elsewhere ([processor] local = false)" in line
    assert "; left here from when processing was local: 2 waiting, 1 failed, oldest waiting " in line
    # the retry hint does not name a verb that refuses to run here
    failed = f"failed:     {broken}: not a JPEG  (to retry it here, set [processor] local = true first)"
    assert failed in text.lines()


def status(site: Site, *flags: str) -> Run:
    return camvault_process("status", *flags, "--config", site.config, env=site.env, timeout=60)


def switched_off(folder: Path) -> Path:
    """A data folder whose camvault.toml says ``[processor] local = false``, as a person edits it."""
    config = init_data(folder)
    text = config.read_text(encoding="utf-8")
    assert "# local = true\n" in text
    config.write_text(text.replace("# local = true\n", "local = false\n", 1), encoding="utf-8")
    return config


def test_process_refuses_with_the_reason_and_the_fix(tmp_path: Path) -> None:
    config = switched_off(tmp_path / "data")
    for flags in (["--once"], ["--retry-failed", "--once"], []):
        run = camvault("process", *flags, "--config", config)
        assert run.code == 1
        assert run.out == ""
        assert run.err.count("\n") == 1, run.err
        assert run.err.startswith("camvault: error: camvault process has nothing to do here: ")
        assert "[processor] local = false" in run.err
        assert "set [processor] local = true (or CAMVAULT_PROCESSOR_LOCAL=true)" in run.err


def test_serve_refuses_and_names_the_verb_to_run_instead(tmp_path: Path) -> None:
    config = switched_off(tmp_path / "data")
    run = camvault("serve", "--config", config)
    assert run.code == 1
    assert run.out == ""
    assert run.err.count("\n") == 1, run.err
    assert "camvault serve runs the processor on this machine, but [processor] local = false" in run.err
    assert "run `camvault gateway` here instead" in run.err


def test_ingest_stores_and_leaves_cataloging_to_the_processor_elsewhere(tmp_path: Path) -> None:
    config = switched_off(tmp_path / "data")
    added = camvault(
        "camera", "add", CAMERA, "--timezone", "UTC", "--password-stdin", "--config", config, stdin=PASSWORD
    )
    assert added.code == 0, added.err
    snapshot = make_jpeg(tmp_path / SNAPSHOT)
    started = time.monotonic()
    run = camvault("ingest", snapshot, "--camera", CAMERA, "--config", config)
    assert run.code == 0, run.err
    assert time.monotonic() - started < 30  # it does not wait for a catalog entry that never comes here
    site = Site(config, 0, {}, KEY_UNDER_PREFIX)
    assert run.lines() == [f"{snapshot}: stored as {site.key}; cataloged where the store's notifications go"]
    assert site.stored() == snapshot.read_bytes()
    assert journaled(site) == []
    assert cataloged(site) == []
