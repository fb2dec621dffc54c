"""Fixtures shared by every tier: leak detection, the real SeaweedFS server and moto's server.

Every test is checked for leaks: a test that leaves a thread running (an unclosed catalog
writer, a worker pool never stopped) or a file descriptor open (a database, a socket, a file)
fails, as in pyftpdlib's test suite.
"""

from __future__ import annotations

import gc
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.moto import MOTO_THREAD_NAME, SESSION_FDS, moto_server
from tests.support.procs import children
from tests.support.seaweed import seaweed

__all__ = ["moto_server", "seaweed"]

LEAK_GRACE_S = 3.0


@pytest.fixture(autouse=True)
def no_leaked_threads() -> Iterator[None]:
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + LEAK_GRACE_S
    leaked: list[threading.Thread] = []
    while time.monotonic() < deadline:
        leaked = [
            t
            for t in threading.enumerate()
            if t not in before and t.is_alive() and t.name != MOTO_THREAD_NAME  # the session's moto
        ]
        if not leaked:
            return
        time.sleep(0.05)
    pytest.fail(f"test left threads running: {[t.name for t in leaked]}")


def _open_fds() -> dict[int, str]:
    fds = {}
    for entry in Path("/proc/self/fd").iterdir():
        try:
            fds[int(entry.name)] = str(entry.readlink())
        except OSError:
            continue
    return fds


@pytest.fixture(autouse=True)
def no_leaked_fds(request: pytest.FixtureRequest) -> Iterator[None]:
    before = _open_fds()
    yield
    deadline = time.monotonic() + LEAK_GRACE_S
    leaked: dict[int, str] = {}
    while time.monotonic() < deadline:
        now = _open_fds()
        leaked = {
            fd: target
            for fd, target in now.items()
            if before.get(fd) != target and fd not in SESSION_FDS  # the session's moto server
        }
        if not leaked:
            return
        gc.collect()  # a file object dropped without close() is only closed when collected
        time.sleep(0.05)
    pytest.fail(f"test left file descriptors open: {leaked}")


def _children() -> set[int]:
    """Live (not zombie) child processes of this test process, but for the session's shared
    SeaweedFS server (started by whichever test first needs it, stopped at session end)."""
    return {pid for pid in children(os.getpid()) if not _is_session_server(Path(f"/proc/{pid}"))}


def _is_session_server(proc: Path) -> bool:
    try:
        argv = (proc / "cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return Path(argv[0].decode()).name == "weed" and b"mini" in argv


@pytest.fixture(autouse=True)
def no_leaked_processes() -> Iterator[None]:
    before = _children()
    yield
    deadline = time.monotonic() + LEAK_GRACE_S
    leaked: set[int] = set()
    while time.monotonic() < deadline:
        leaked = _children() - before
        if not leaked:
            return
        time.sleep(0.05)
    pytest.fail(f"test left child processes running (servers?): {sorted(leaked)}")
