"""The processor journal: a durable queue of object keys waiting to be processed, and the
record of which uploaded bytes went to which key.

An object's ObjectCreated notification is written here before anyone processes it, so a crash
or restart loses nothing: pending keys are picked up again. A key is removed only after it was
cataloged (or recognised as nothing to catalog). A failed attempt is rescheduled with
exponential backoff and jitter; after the last attempt the key stays here marked ``failed``,
visible in ``camvault status`` and retried by ``camvault process --retry-failed``.

Claims carry a lease, so two processes (``serve`` and ``ingest``) never work on one key at the
same time, and a key claimed by a process that died becomes due again when the lease ends.
This module decides the queue's states; it knows nothing of what processing means.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from camvault.clock import Clock, utcnow
from camvault.domain.model import epoch_ms
from camvault.sqlitedb import connect, migrate, transaction

_MIGRATIONS = [
    (
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
        """CREATE TABLE uploads (
            camera TEXT NOT NULL,
            name TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            key TEXT NOT NULL,
            PRIMARY KEY (camera, name, sha256)
        )""",
    ),
]


@dataclass(frozen=True)
class Entry:
    key: str
    attempts: int


@dataclass(frozen=True)
class JournalStats:
    pending: int
    failed: int
    oldest_pending: datetime | None
    last_error: str | None
    counters: dict[str, int]


class Journal:
    """Durable queue of keys to process, in one SQLite file shared by processes."""

    def __init__(self, path: Path, *, clock: Clock = utcnow, rng: random.Random | None = None) -> None:
        self._clock = clock
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not security
        self._lock = threading.Lock()
        self._db = connect(path, synchronous="FULL")
        try:
            migrate(self._db, _MIGRATIONS, "processor journal")
        except BaseException:
            self._db.close()
            raise

    def _now_ms(self) -> int:
        return epoch_ms(self._clock())

    def add(self, keys: Iterable[str]) -> None:
        """Record keys to process. A key already waiting stays as it is; a failed one waits again."""
        now = self._now_ms()
        with self._lock, transaction(self._db):
            for key in keys:
                self._db.execute(
                    "INSERT INTO pending (key, due_ms, created_ms) VALUES (?, ?, ?) "
                    "ON CONFLICT(key) DO UPDATE SET state='pending', attempts=0, due_ms=excluded.due_ms "
                    "WHERE state='failed'",
                    (key, now, now),
                )

    def claim(self, lease_s: float = 600.0, key: str | None = None) -> Entry | None:
        """Take the oldest due key for ``lease_s`` seconds; None when nothing is due. With ``key``,
        take that key now even if its retry is not due yet (someone asked for it explicitly);
        None when it is not waiting or another process holds it."""
        now = self._now_ms()
        with self._lock:
            row = self._db.execute(
                "UPDATE pending SET claimed_until_ms = ? WHERE key = ("
                "SELECT key FROM pending WHERE state='pending' AND claimed_until_ms <= ?"
                " AND ((? IS NULL AND due_ms <= ?) OR key = ?) ORDER BY due_ms, created_ms LIMIT 1"
                ") RETURNING key, attempts",
                (now + int(lease_s * 1000), now, key, now, key),
            ).fetchone()
        return Entry(row[0], row[1]) if row else None

    def done(self, key: str, counter: str) -> None:
        """The key was handled; forget it and count the outcome."""
        with self._lock, transaction(self._db):
            self._db.execute("DELETE FROM pending WHERE key = ?", (key,))
            self._bump(counter)

    def fail(self, key: str, error: str, *, max_attempts: int, base_delay_s: float) -> bool:
        """Record a failed attempt; returns True when the key will be retried, False when it failed."""
        now = self._now_ms()
        with self._lock, transaction(self._db):
            row = self._db.execute("SELECT attempts FROM pending WHERE key = ?", (key,)).fetchone()
            attempts = (row[0] if row else 0) + 1
            retry = attempts < max_attempts
            delay = base_delay_s * 2 ** (attempts - 1) * (0.5 + self._rng.random())
            self._db.execute(
                "INSERT INTO pending (key, state, attempts, due_ms, created_ms, last_error) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET state=excluded.state, "
                "attempts=excluded.attempts, due_ms=excluded.due_ms, claimed_until_ms=0, "
                "last_error=excluded.last_error",
                (
                    key,
                    "pending" if retry else "failed",
                    attempts,
                    now + int(delay * 1000),
                    now,
                    error,
                ),
            )
            self._bump("attempts_failed")
            if not retry:
                self._bump("failed")
        return retry

    def count(self, name: str, amount: int = 1) -> None:
        """Add ``amount`` to the counter ``name`` (shown by ``camvault status``)."""
        with self._lock, transaction(self._db):
            self._bump(name, amount)

    def remember_upload(self, camera: str, name: str, sha256: str, key: str) -> None:
        """Where this file (camera, name, bytes) was stored, so sending it again finds it."""
        with self._lock:
            self._db.execute(
                "INSERT INTO uploads (camera, name, sha256, key) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(camera, name, sha256) DO UPDATE SET key = excluded.key",
                (camera, name, sha256, key),
            )

    def recall_upload(self, camera: str, name: str, sha256: str) -> str | None:
        """The key this file (camera, name, bytes) was stored under before, if any."""
        with self._lock:
            row = self._db.execute(
                "SELECT key FROM uploads WHERE camera = ? AND name = ? AND sha256 = ?", (camera, name, sha256)
            ).fetchone()
        return row[0] if row else None

    def retry_failed(self) -> int:
        """Make every failed key due again; returns how many."""
        with self._lock:
            return self._db.execute(
                "UPDATE pending SET state='pending', attempts=0, due_ms=?, claimed_until_ms=0 "
                "WHERE state='failed'",
                (self._now_ms(),),
            ).rowcount

    def failed(self) -> list[tuple[str, str]]:
        """(key, last error) of every key that used up its attempts."""
        with self._lock:
            rows = self._db.execute(
                "SELECT key, COALESCE(last_error, '') FROM pending WHERE state='failed' ORDER BY key"
            ).fetchall()
        return [(row[0], row[1]) for row in rows]

    def stats(self) -> JournalStats:
        with self._lock:
            pending, oldest = self._db.execute(
                "SELECT COUNT(*), MIN(created_ms) FROM pending WHERE state='pending'"
            ).fetchone()
            failed = self._db.execute("SELECT COUNT(*) FROM pending WHERE state='failed'").fetchone()[0]
            error = self._db.execute(
                "SELECT last_error FROM pending WHERE last_error IS NOT NULL ORDER BY due_ms DESC LIMIT 1"
            ).fetchone()
            counters = dict(self._db.execute("SELECT name, value FROM counters").fetchall())
        return JournalStats(
            pending=pending,
            failed=failed,
            oldest_pending=datetime.fromtimestamp(oldest / 1000, UTC) if oldest else None,
            last_error=error[0] if error else None,
            counters=counters,
        )

    def _bump(self, name: str, amount: int = 1) -> None:
        self._db.execute(
            "INSERT INTO counters (name, value) VALUES (?, ?) "
            "ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
            (name, amount),
        )

    def close(self) -> None:
        with self._lock:
            self._db.close()
