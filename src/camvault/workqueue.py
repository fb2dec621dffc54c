"""A durable work queue in one SQLite table: the queue logic the processor journal and the
gateway outbox share.

An item (a text key) waits in state ``pending`` until a worker claims it with a lease, then is
either removed (``done``) or rescheduled with exponential backoff and jitter (``fail``); after
its last attempt it stays in state ``failed``, visible with its reason, until someone makes it
due again. Items are claimed in ``(due, order)`` order, where ``order`` defaults to the instant
the item was added: the outbox passes capture instants so uploads go out in capture order.

This module decides the queue's states and their SQL; callers own the connection (one
``sqlitedb.connect``ion, ``synchronous=FULL``), its lock and its migrations.
"""

from __future__ import annotations

import random
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from camvault.clock import Clock
from camvault.domain.model import epoch_ms
from camvault.sqlitedb import transaction

QUEUE_SCHEMA = (
    """CREATE TABLE pending (
        key TEXT PRIMARY KEY,
        state TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        due_ms INTEGER NOT NULL,
        claimed_until_ms INTEGER NOT NULL DEFAULT 0,
        created_ms INTEGER NOT NULL,
        last_error TEXT
    )""",
    "CREATE INDEX pending_due ON pending (state, due_ms, created_ms)",
    "CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)",
)
"""The tables a queue needs (``created_ms`` is the claim order)."""


@dataclass(frozen=True)
class Entry:
    key: str
    attempts: int


@dataclass(frozen=True)
class QueueStats:
    pending: int
    failed: int
    oldest_pending: datetime | None
    last_error: str | None
    counters: dict[str, int]


class WorkQueue:
    """The ``pending`` and ``counters`` tables of one SQLite connection, used under ``lock``."""

    def __init__(
        self,
        db: sqlite3.Connection,
        lock: threading.Lock,
        *,
        clock: Clock,
        rng: random.Random | None = None,
    ) -> None:
        self._db = db
        self._lock = lock
        self._clock = clock
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not security

    def now_ms(self) -> int:
        return epoch_ms(self._clock())

    def add_in(self, db: sqlite3.Connection, keys: Iterable[tuple[str, int | None]]) -> None:
        """Inside the caller's transaction: record (key, order) pairs (order None: now). A key
        already waiting stays as it is; a failed one waits again."""
        now = self.now_ms()
        for key, order in keys:
            db.execute(
                "INSERT INTO pending (key, due_ms, created_ms) VALUES (?, ?, ?) "
                "ON CONFLICT(key) DO UPDATE SET state='pending', attempts=0, due_ms=excluded.due_ms "
                "WHERE state='failed'",
                (key, now, now if order is None else order),
            )

    def add(self, keys: Iterable[str]) -> None:
        with self._lock, transaction(self._db):
            self.add_in(self._db, ((key, None) for key in keys))

    def claim(self, lease_s: float = 600.0, key: str | None = None) -> Entry | None:
        """Take the first due key (in order) for ``lease_s`` seconds; None when nothing is due. With ``key``,
        take that key now even if its retry is not due yet; None when it is not waiting or
        another process holds it."""
        now = self.now_ms()
        with self._lock:
            row = self._db.execute(
                "UPDATE pending SET claimed_until_ms = ? WHERE key = ("
                "SELECT key FROM pending WHERE state='pending' AND claimed_until_ms <= ?"
                " AND ((? IS NULL AND due_ms <= ?) OR key = ?) ORDER BY created_ms, due_ms LIMIT 1"
                ") RETURNING key, attempts",
                (now + int(lease_s * 1000), now, key, now, key),
            ).fetchone()
        return Entry(row[0], row[1]) if row else None

    def done_in(self, db: sqlite3.Connection, key: str, counter: str) -> None:
        """Inside the caller's transaction: forget ``key`` and count the outcome."""
        db.execute("DELETE FROM pending WHERE key = ?", (key,))
        self.bump_in(db, counter)

    def done(self, key: str, counter: str) -> None:
        with self._lock, transaction(self._db):
            self.done_in(self._db, key, counter)

    def fail(
        self,
        key: str,
        error: str,
        *,
        max_attempts: int,
        base_delay_s: float,
        max_delay_s: float | None = None,
    ) -> bool:
        """Record a failed attempt; returns True when the key will be retried, False when it failed.
        The delay doubles per attempt (times a jitter of 0.5-1.5), up to ``max_delay_s``."""
        now = self.now_ms()
        with self._lock, transaction(self._db):
            row = self._db.execute("SELECT attempts FROM pending WHERE key = ?", (key,)).fetchone()
            attempts = (row[0] if row else 0) + 1
            retry = attempts < max_attempts
            doubled = base_delay_s * 2 ** min(attempts - 1, 40)
            delay = min(doubled, max_delay_s or doubled) * (0.5 + self._rng.random())
            self._db.execute(
                "INSERT INTO pending (key, state, attempts, due_ms, created_ms, last_error) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET state=excluded.state, "
                "attempts=excluded.attempts, due_ms=excluded.due_ms, claimed_until_ms=0, "
                "last_error=excluded.last_error",
                (key, "pending" if retry else "failed", attempts, now + int(delay * 1000), now, error),
            )
            self.bump_in(self._db, "attempts_failed")
            if not retry:
                self.bump_in(self._db, "failed")
        return retry

    def release_claims(self) -> int:
        """Make every claimed key claimable now (at start, when this process held the claims)."""
        with self._lock:
            return self._db.execute(
                "UPDATE pending SET claimed_until_ms = 0 WHERE claimed_until_ms > 0"
            ).rowcount

    def retry_failed(self) -> int:
        """Make every failed key due again; returns how many."""
        with self._lock:
            return self._db.execute(
                "UPDATE pending SET state='pending', attempts=0, due_ms=?, claimed_until_ms=0 "
                "WHERE state='failed'",
                (self.now_ms(),),
            ).rowcount

    def failed(self) -> list[tuple[str, str]]:
        """(key, last error) of every key that used up its attempts."""
        with self._lock:
            rows = self._db.execute(
                "SELECT key, COALESCE(last_error, '') FROM pending WHERE state='failed' ORDER BY key"
            ).fetchall()
        return [(row[0], row[1]) for row in rows]

    def stats(self) -> QueueStats:
        """Counts, the oldest waiting key's add instant (its order when that was given), the
        latest error and the counters."""
        with self._lock:
            pending, oldest = self._db.execute(
                "SELECT COUNT(*), MIN(created_ms) FROM pending WHERE state='pending'"
            ).fetchone()
            failed = self._db.execute("SELECT COUNT(*) FROM pending WHERE state='failed'").fetchone()[0]
            error = self._db.execute(
                "SELECT last_error FROM pending WHERE last_error IS NOT NULL ORDER BY due_ms DESC LIMIT 1"
            ).fetchone()
            counters = dict(self._db.execute("SELECT name, value FROM counters").fetchall())
        return QueueStats(
            pending=pending,
            failed=failed,
            oldest_pending=datetime.fromtimestamp(oldest / 1000, UTC) if oldest else None,
            last_error=error[0] if error else None,
            counters=counters,
        )

    def bump_in(self, db: sqlite3.Connection, name: str, by: int = 1) -> None:
        db.execute(
            "INSERT INTO counters (name, value) VALUES (?, ?) "
            "ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
            (name, by),
        )

    def bump(self, name: str, by: int = 1) -> None:
        with self._lock:
            self.bump_in(self._db, name, by)
