"""Recent failed logins in the accounts file: what ``throttle.LoginThrottle`` counts when every
process that opens the file must see the same counts (``camvault api`` with several workers,
``serve`` and ``api`` side by side) and a restart must not forgive a guesser.

One row per failure and key (client address, lower-cased user name) with its instant. Rows
that left the window are deleted whenever a failure is recorded, and the table never holds more
than ``MAX_ROWS`` (under a flood of failures from many addresses the oldest are dropped first).
Stores no password, only who failed and when.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence

from camvault.accounts.throttle import Key
from camvault.sqlitedb import transaction

MAX_ROWS = 200_000
"""A bound on the table: about 10 MB."""


class LoginFailures:
    """The ``login_failures`` table (connection shared, calls serialised by ``lock``); a
    ``throttle.FailureLog``."""

    def __init__(self, db: sqlite3.Connection, lock: threading.Lock, *, max_rows: int = MAX_ROWS) -> None:
        self._db = db
        self._lock = lock
        self._max_rows = max_rows

    def recent(self, key: Key, after: float, limit: int) -> list[float]:
        with self._lock:
            rows = self._db.execute(
                "SELECT at_ms FROM login_failures WHERE kind = ? AND key = ? AND at_ms > ? "
                "ORDER BY at_ms DESC LIMIT ?",
                (*key, _ms(after), limit),
            ).fetchall()
        return [row[0] / 1000 for row in reversed(rows)]

    def add(self, keys: Sequence[Key], at: float, forget_by: float) -> None:
        with self._lock, transaction(self._db) as db:
            db.executemany(
                "INSERT INTO login_failures (kind, key, at_ms) VALUES (?, ?, ?)",
                [(*key, _ms(at)) for key in keys],
            )
            db.execute("DELETE FROM login_failures WHERE at_ms <= ?", (_ms(forget_by),))
            db.execute(
                "DELETE FROM login_failures WHERE rowid <= (SELECT max(rowid) FROM login_failures) - ?",
                (self._max_rows,),
            )


def _ms(instant: float) -> int:
    return round(instant * 1000)
