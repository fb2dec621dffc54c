"""Fixtures shared by every tier: leak detection, and the real SeaweedFS server.

Every test is checked for leaked threads: a test that leaves a thread running (an unclosed
catalog writer, a worker pool never stopped) fails, as in pyftpdlib's test suite.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from tests.support.seaweed import seaweed

__all__ = ["seaweed"]

LEAK_GRACE_S = 3.0


@pytest.fixture(autouse=True)
def no_leaked_threads() -> Iterator[None]:
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + LEAK_GRACE_S
    leaked: list[threading.Thread] = []
    while time.monotonic() < deadline:
        leaked = [t for t in threading.enumerate() if t not in before and t.is_alive()]
        if not leaked:
            return
        time.sleep(0.05)
    pytest.fail(f"test left threads running: {[t.name for t in leaked]}")
