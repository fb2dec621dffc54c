"""Login throttling: after too many failures in a window, a client address or a user name is
refused until the oldest failure leaves the window.

Counts live in this process's memory (a restart forgets them); the window slides. Pure logic
with an injected clock; no I/O.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from datetime import timedelta

from camvault.clock import Clock, utcnow

_MAX_KEYS = 100_000  # beyond this many tracked names, forget the ones whose failures have expired


class Throttled(Exception):
    """Too many failed logins from this address or for this user."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"too many failed logins; try again in {retry_after_s} s")
        self.retry_after_s = retry_after_s


class LoginThrottle:
    """At most ``attempts`` failures per ``window`` for each client address and each user name."""

    def __init__(self, attempts: int, window: timedelta, clock: Clock = utcnow) -> None:
        self._attempts = attempts
        self._window = window
        self._clock = clock
        self._lock = threading.Lock()
        self._failures: dict[tuple[str, str], deque[float]] = {}

    def check(self, address: str, user: str | None) -> None:
        """Raise Throttled when either the address or the user is over its limit."""
        now = self._now()
        with self._lock:
            waits = [self._wait(key, now) for key in _keys(address, user)]
        wait = max(waits)
        if wait > 0:
            raise Throttled(math.ceil(wait))

    def failed(self, address: str, user: str | None) -> None:
        now = self._now()
        with self._lock:
            if len(self._failures) > _MAX_KEYS:
                self._forget_expired(now)
            for key in _keys(address, user):
                self._failures.setdefault(key, deque()).append(now)

    def _wait(self, key: tuple[str, str], now: float) -> float:
        """Seconds until ``key`` may try again (0 when it may now)."""
        failures = self._failures.get(key)
        if not failures:
            return 0.0
        horizon = now - self._window.total_seconds()
        while failures and failures[0] <= horizon:
            failures.popleft()
        if len(failures) < self._attempts:
            return 0.0
        return failures[-self._attempts] - horizon

    def _forget_expired(self, now: float) -> None:
        horizon = now - self._window.total_seconds()
        for key in [key for key, times in self._failures.items() if not times or times[-1] <= horizon]:
            del self._failures[key]

    def _now(self) -> float:
        return self._clock().timestamp()


def _keys(address: str, user: str | None) -> list[tuple[str, str]]:
    return [("address", address)] + ([("user", user.lower())] if user is not None else [])
