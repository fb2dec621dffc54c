"""Login throttling: after too many failures in a window, a client address or a user name is
refused until the oldest failure leaves the window.

The rules (a sliding window per address and per lower-cased user name, how long to wait) are
``LoginThrottle``'s; where the failures are kept is a ``FailureLog``: ``MemoryFailures`` in this
process's memory (the API on Lambda, where no file is shared), or ``accounts.failures`` in the
accounts database, shared by every process that opens the same file and kept across restarts.
Pure logic with an injected clock; no I/O of its own.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Sequence
from datetime import timedelta
from typing import Protocol

from camvault.clock import Clock, utcnow

Key = tuple[str, str]
"""What failures are counted for: ``("address", ADDRESS)`` or ``("user", lower-cased NAME)``."""

_MAX_KEYS = 100_000  # beyond this many tracked names, forget the ones whose failures have expired


class Throttled(Exception):
    """Too many failed logins from this address or for this user."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"too many failed logins; try again in {retry_after_s} s")
        self.retry_after_s = retry_after_s


class FailureLog(Protocol):
    """Where failed logins are kept: instants in seconds since the epoch, per key."""

    def recent(self, key: Key, after: float, limit: int) -> list[float]:
        """The newest ``limit`` failures of ``key`` later than ``after``, oldest first."""
        ...

    def add(self, keys: Sequence[Key], at: float, forget_by: float) -> None:
        """Record one failure at ``at`` for each of ``keys``; failures at or before
        ``forget_by`` are no longer needed and may be dropped."""
        ...


def seconds_to_wait(recent: Sequence[float], horizon: float, attempts: int) -> float:
    """Seconds until a key with failures at ``recent`` (oldest first) may try again, when the
    window starts at ``horizon``: 0 while fewer than ``attempts`` are in the window, else until
    the ``attempts``-th newest leaves it."""
    inside = [at for at in recent if at > horizon]
    if len(inside) < attempts:
        return 0.0
    return inside[-attempts] - horizon


class LoginThrottle:
    """At most ``attempts`` failures per ``window`` for each client address and each user name,
    counted in ``failures`` (this process's memory when none is given)."""

    def __init__(
        self,
        attempts: int,
        window: timedelta,
        clock: Clock = utcnow,
        failures: FailureLog | None = None,
    ) -> None:
        self._attempts = attempts
        self._window = window.total_seconds()
        self._clock = clock
        self._failures = failures if failures is not None else MemoryFailures()

    def check(self, address: str, user: str | None) -> None:
        """Raise Throttled when either the address or the user is over its limit."""
        horizon = self._clock().timestamp() - self._window
        wait = max(
            seconds_to_wait(self._failures.recent(key, horizon, self._attempts), horizon, self._attempts)
            for key in _keys(address, user)
        )
        if wait > 0:
            raise Throttled(math.ceil(wait))

    def failed(self, address: str, user: str | None) -> None:
        now = self._clock().timestamp()
        self._failures.add(_keys(address, user), now, now - self._window)


class MemoryFailures:
    """Failures in this process's memory: a restart forgets them, another process never sees them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failures: dict[Key, deque[float]] = {}

    def recent(self, key: Key, after: float, limit: int) -> list[float]:
        with self._lock:
            failures = self._failures.get(key)
            if not failures:
                return []
            while failures and failures[0] <= after:
                failures.popleft()
            return list(failures)[-limit:]

    def add(self, keys: Sequence[Key], at: float, forget_by: float) -> None:
        with self._lock:
            if len(self._failures) > _MAX_KEYS:
                self._forget(forget_by)
            for key in keys:
                self._failures.setdefault(key, deque()).append(at)

    def _forget(self, forget_by: float) -> None:
        for key in [key for key, times in self._failures.items() if not times or times[-1] <= forget_by]:
            del self._failures[key]


def _keys(address: str, user: str | None) -> list[Key]:
    return [("address", address)] + ([("user", user.lower())] if user is not None else [])
