"""The processor journal: a durable queue of object keys waiting to be processed, and the
record of which uploaded bytes went to which key.

An object's ObjectCreated notification is written here before anyone processes it, so a crash
or restart loses nothing: pending keys are picked up again. A key is removed only after it was
cataloged (or recognised as nothing to catalog). A failed attempt is rescheduled with
exponential backoff and jitter; after the last attempt the key stays here marked ``failed``,
visible in ``camvault status`` and retried by ``camvault process --retry-failed``.

Claims carry a lease, so two processes (``serve`` and ``ingest``) never work on one key at the
same time, and a key claimed by a process that died becomes due again when the lease ends.
The queue's states live in ``camvault.workqueue`` (shared with the gateway outbox); this
module knows nothing of what processing means.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterable
from pathlib import Path

from camvault.clock import Clock, utcnow
from camvault.sqlitedb import connect, migrate
from camvault.workqueue import QUEUE_SCHEMA, Entry, QueueStats, WorkQueue

__all__ = ["Entry", "Journal", "JournalStats"]

_MIGRATIONS = [
    (
        *QUEUE_SCHEMA,
        """CREATE TABLE uploads (
            camera TEXT NOT NULL,
            name TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            key TEXT NOT NULL,
            PRIMARY KEY (camera, name, sha256)
        )""",
    ),
]

JournalStats = QueueStats


class Journal:
    """Durable queue of keys to process, in one SQLite file shared by processes."""

    def __init__(self, path: Path, *, clock: Clock = utcnow, rng: random.Random | None = None) -> None:
        self._lock = threading.Lock()
        self._db = connect(path, synchronous="FULL")
        try:
            migrate(self._db, _MIGRATIONS, "processor journal")
        except BaseException:
            self._db.close()
            raise
        self._queue = WorkQueue(self._db, self._lock, clock=clock, rng=rng)

    def add(self, keys: Iterable[str]) -> None:
        """Record keys to process. A key already waiting stays as it is; a failed one waits again."""
        self._queue.add(keys)

    def claim(self, lease_s: float = 600.0, key: str | None = None) -> Entry | None:
        """Take the oldest due key for ``lease_s`` seconds; None when nothing is due. With ``key``,
        take that key now even if its retry is not due yet (someone asked for it explicitly);
        None when it is not waiting or another process holds it."""
        return self._queue.claim(lease_s, key)

    def done(self, key: str, counter: str) -> None:
        """The key was handled; forget it and count the outcome."""
        self._queue.done(key, counter)

    def fail(self, key: str, error: str, *, max_attempts: int, base_delay_s: float) -> bool:
        """Record a failed attempt; returns True when the key will be retried, False when it failed."""
        return self._queue.fail(key, error, max_attempts=max_attempts, base_delay_s=base_delay_s)

    def count(self, name: str, amount: int = 1) -> None:
        """Add ``amount`` to the counter ``name`` (shown by ``camvault status``)."""
        self._queue.bump(name, amount)

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
        return self._queue.retry_failed()

    def failed(self) -> list[tuple[str, str]]:
        """(key, last error) of every key that used up its attempts."""
        return self._queue.failed()

    def stats(self) -> JournalStats:
        return self._queue.stats()

    def close(self) -> None:
        with self._lock:
            self._db.close()
