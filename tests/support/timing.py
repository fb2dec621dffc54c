"""Time in tests: a wall clock the test moves by hand, and waiting for a condition."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

START = datetime(2025, 1, 1, 12, tzinfo=UTC)


class Clock:
    """A ``camvault.clock.Clock`` standing at ``now`` until the test moves it."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def wait_until(condition: Callable[[], bool], timeout_s: float = 30.0) -> None:
    """Return once ``condition()`` is true; fail the test after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)
