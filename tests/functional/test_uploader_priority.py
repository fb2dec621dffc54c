"""The uploader yields the CPU to arriving uploads: its threads run at a lower priority than
the FTP server's, the spool still drains at once on an idle machine, and on a busy one the
uploader keeps storing files while cameras keep sending."""

from __future__ import annotations

import ftplib
import io
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from camvault.factory_gateway import open_spool
from tests.support.ftp import PASSWORDS, Pipeline, gateway_pipeline
from tests.support.timing import wait_until

pytestmark = pytest.mark.functional


def priority_of(prefix: str) -> set[int]:
    """The nice values of this process's threads whose names start with ``prefix``."""
    threads = [thread for thread in threading.enumerate() if thread.name.startswith(prefix)]
    assert threads, f"no thread named {prefix}*"
    return {os.getpriority(os.PRIO_PROCESS, thread.native_id or 0) for thread in threads}


def snapshot(number: int) -> tuple[str, bytes]:
    minute, second = divmod(number, 60)
    return f"MDAlarm_20250301-12{minute:02d}{second:02d}.jpg", number.to_bytes(4, "big") * 16384


@pytest.fixture
def pipeline(tmp_path: Path) -> Iterator[Pipeline]:
    with gateway_pipeline(tmp_path) as running:
        yield running


@pytest.fixture
def busy_cpus() -> Iterator[None]:
    """Every core busy with a process at normal priority, as on a loaded machine."""
    spinners = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(os.cpu_count() or 1)
    ]
    try:
        yield
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()


def test_the_uploader_runs_below_the_ftp_server_and_drains_an_idle_spool_at_once(
    pipeline: Pipeline,
) -> None:
    own = os.getpriority(os.PRIO_PROCESS, 0)
    lowered = min(own + 10, 19)
    wait_until(lambda: priority_of("camvault-uploader-") == {lowered}, timeout_s=10)  # once running
    assert priority_of("camvault-gateway") == {own}  # connections start from the server's thread
    names = [snapshot(number) for number in range(5)]
    started = time.monotonic()
    with ftplib.FTP(timeout=10) as ftp:
        ftp.connect(pipeline.host, pipeline.port)
        ftp.login("garage", PASSWORDS["garage"])
        for name, data in names:
            assert ftp.storbinary(f"STOR {name}", io.BytesIO(data)).startswith("226")
    wait_until(lambda: len(pipeline.originals()) == len(names), timeout_s=10)
    assert time.monotonic() - started < 10
    assert sorted(pipeline.content(key) for key in pipeline.originals()) == sorted(d for _, d in names)


def test_under_continuous_uploads_on_a_busy_machine_the_spool_keeps_draining(
    pipeline: Pipeline, busy_cpus: None
) -> None:
    sent: list[bytes] = []
    stop = threading.Event()
    failures: list[BaseException] = []

    def camera() -> None:
        try:
            with ftplib.FTP(timeout=30) as ftp:
                ftp.connect(pipeline.host, pipeline.port)
                ftp.login("garage", PASSWORDS["garage"])
                number = 0
                while not stop.is_set() and number < 3600:
                    name, data = snapshot(number)
                    assert ftp.storbinary(f"STOR {name}", io.BytesIO(data)).startswith("226")
                    sent.append(data)
                    number += 1
        except BaseException as exc:  # reported by the test thread
            failures.append(exc)

    sender = threading.Thread(target=camera, name="test-camera")
    sender.start()
    try:
        # the store fills while the camera is still sending: the uploader is not starved
        wait_until(lambda: len(pipeline.originals()) >= 20 or not sender.is_alive(), timeout_s=90)
        stored_while_sending = len(pipeline.originals())
        assert sender.is_alive(), f"the camera stopped early: {failures}"
    finally:
        stop.set()
        sender.join(60)
    assert not failures
    assert stored_while_sending >= 20
    spool = open_spool(pipeline.runtime.config)
    try:
        wait_until(lambda: spool.outbox.stats().depth == 0, timeout_s=90)
    finally:
        spool.close()
    assert sorted(pipeline.content(key) for key in pipeline.originals()) == sorted(sent)
