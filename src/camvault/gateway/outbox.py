"""The outbox: the durable list of spooled uploads that the object store does not have yet.

One SQLite file in the spool directory (``outbox.db``, ``synchronous=FULL``) holds one
``arrivals`` row per committed upload (camera, the camera's path, arrival instant, size, the
home name and its inode) and the queue of their ids (``camvault.workqueue``, the same queue
logic as the processor journal), ordered by capture instant. An upload's life:

1. ``record``: row and queue entry in one transaction, before the spool link exists;
2. ``stored``: the store confirmed it; the row remembers the key and leaves the queue, and the
   upload is counted, in one transaction;
3. ``forget``: the spool copy and the home name are gone; the row goes.

With a put-only store credential (no HEAD), ``reserve`` durably notes before each put which key
an upload is about to write with which sha256 (its intent), so a 412 on that key after a crash
is recognised as the earlier attempt's object; ``taken`` notes that a key holds another file.

A restart finds each upload in one of these states and finishes it (``Spool.reconcile``). The
counters of the gateway (rejected, ignored, aborted uploads) live here too, so ``camvault
status`` in another process reads the same figures.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from camvault.clock import Clock, utcnow
from camvault.domain.model import epoch_ms
from camvault.sqlitedb import connect, migrate, transaction
from camvault.workqueue import QUEUE_SCHEMA, WorkQueue

RATE_WINDOW_S = 60
"""Uploads per second are averaged over this window."""

_MIGRATIONS = [
    (
        *QUEUE_SCHEMA,
        """CREATE TABLE arrivals (
            id TEXT PRIMARY KEY,
            camera TEXT NOT NULL,
            source_path TEXT NOT NULL,
            received_ms INTEGER NOT NULL,
            size INTEGER NOT NULL,
            home TEXT NOT NULL,
            home_inode INTEGER NOT NULL,
            stored_key TEXT
        )""",
        "CREATE TABLE recent_uploads (done_ms INTEGER NOT NULL)",
    ),
    (
        # Put-only stores: the key each upload is about to write, reserved before the put.
        # sha256 NULL: the key turned out to hold another file (a 412 without our intent).
        """CREATE TABLE intents (
            key TEXT PRIMARY KEY,
            upload_id TEXT NOT NULL,
            sha256 TEXT
        )""",
        "CREATE INDEX intents_by_upload ON intents (upload_id)",
    ),
]


@dataclass(frozen=True)
class Upload:
    """One committed upload. ``home`` is the file's path under the spool's ``homes`` folder."""

    id: str
    camera: str
    source_path: str
    received: datetime
    size: int
    home: str
    home_inode: int
    stored_key: str | None = None


@dataclass(frozen=True)
class OutboxStats:
    depth: int
    failed: int
    bytes: int
    oldest_received: datetime | None
    last_error: str | None
    uploads_per_s: float
    counters: dict[str, int]


def _upload(row: tuple[str, str, str, int, int, str, int, str | None]) -> Upload:
    ident, camera, source, received_ms, size, home, inode, key = row
    return Upload(
        ident, camera, source, datetime.fromtimestamp(received_ms / 1000, UTC), size, home, inode, key
    )


_WAITING = "SELECT COALESCE(SUM(size), 0) FROM arrivals WHERE stored_key IS NULL"
_SELECT = "SELECT id, camera, source_path, received_ms, size, home, home_inode, stored_key FROM arrivals"


class Outbox:
    """Uploads waiting for the object store, in one SQLite file."""

    def __init__(self, path: Path, *, clock: Clock = utcnow, rng: random.Random | None = None) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._db = connect(path, synchronous="FULL")
        try:
            migrate(self._db, _MIGRATIONS, "gateway outbox")
        except BaseException:
            self._db.close()
            raise
        self._queue = WorkQueue(self._db, self._lock, clock=clock, rng=rng)
        self._waiting = int(self._db.execute(_WAITING).fetchone()[0])
        """Bytes not in the store yet, kept up to date by ``record_many`` and ``stored``: the spool
        cap is checked before every upload, and summing a deep outbox each time would not scale."""

    def record(self, upload: Upload, order: datetime) -> bool:
        """Durably record ``upload`` (queued in ``order``, its capture instant). False when it
        was recorded before (the same commit again)."""
        return self.record_many([(upload, order)])[0]

    def record_many(self, uploads: Sequence[tuple[Upload, datetime]]) -> list[bool]:
        """``record`` for several uploads in one transaction (one fsync): all or none."""
        with self._lock:
            with transaction(self._db):
                inserted = [self._insert(upload, order) for upload, order in uploads]
            self._waiting += sum(up.size for (up, _), new in zip(uploads, inserted, strict=True) if new)
        return inserted

    def _insert(self, upload: Upload, order: datetime) -> bool:
        inserted = self._db.execute(
            "INSERT INTO arrivals (id, camera, source_path, received_ms, size, home, home_inode) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(id) DO NOTHING",
            (
                upload.id,
                upload.camera,
                upload.source_path,
                epoch_ms(upload.received),
                upload.size,
                upload.home,
                upload.home_inode,
            ),
        ).rowcount
        if inserted:
            self._queue.add_in(self._db, [(upload.id, epoch_ms(order))])
        return bool(inserted)

    def claim(self, lease_s: float = 300.0) -> Upload | None:
        """The next due upload in capture order, leased to the caller; None when none is due."""
        entry = self._queue.claim(lease_s)
        return None if entry is None else self.get(entry.key)

    def get(self, ident: str) -> Upload | None:
        with self._lock:
            row = self._db.execute(_SELECT + " WHERE id = ?", (ident,)).fetchone()
        return _upload(row) if row else None

    def stored(self, ident: str, key: str) -> None:
        """The store holds the upload, verified, at ``key``."""
        now = self._queue.now_ms()
        horizon = now - RATE_WINDOW_S * 1000
        with self._lock:
            with transaction(self._db):
                row = self._db.execute(
                    "SELECT size FROM arrivals WHERE id = ? AND stored_key IS NULL", (ident,)
                ).fetchone()
                self._db.execute("UPDATE arrivals SET stored_key = ? WHERE id = ?", (key, ident))
                self._queue.done_in(self._db, ident, "uploaded")
                self._db.execute("INSERT INTO recent_uploads (done_ms) VALUES (?)", (now,))
                self._db.execute("DELETE FROM recent_uploads WHERE done_ms < ?", (horizon,))
            self._waiting -= row[0] if row else 0

    def forget(self, ident: str) -> None:
        """The spool copy and home name of a stored upload are gone.

        Not fsynced on its own (one fsync less per upload): the next durable write of the outbox
        carries it to disk, and a crash that loses it leaves a stored row, which the next start
        releases again (``Spool.reconcile``)."""
        with self._lock:
            self._db.execute("PRAGMA synchronous = NORMAL")
            try:
                with transaction(self._db):
                    gone = self._db.execute(
                        "DELETE FROM arrivals WHERE id = ? AND stored_key IS NOT NULL", (ident,)
                    ).rowcount
                    if gone:
                        self._db.execute("DELETE FROM intents WHERE upload_id = ?", (ident,))
            finally:
                self._db.execute("PRAGMA synchronous = FULL")

    def reserve(self, ident: str, key: str, sha256: str) -> str | None:
        """Durably note that upload ``ident`` is about to put bytes with ``sha256`` at ``key``,
        unless the key is noted already. Returns None when this call reserved it, else the
        sha256 noted before ("" when the key holds another file)."""
        with self._lock, transaction(self._db):
            row = self._db.execute("SELECT sha256 FROM intents WHERE key = ?", (key,)).fetchone()
            if row is not None:
                return str(row[0] or "")
            self._db.execute(
                "INSERT INTO intents (key, upload_id, sha256) VALUES (?, ?, ?)", (key, ident, sha256)
            )
        return None

    def taken(self, ident: str, key: str) -> None:
        """``key`` holds a file that is not upload ``ident``'s: never take it for ours."""
        with self._lock, transaction(self._db):
            self._db.execute(
                "INSERT INTO intents (key, upload_id, sha256) VALUES (?, ?, NULL) "
                "ON CONFLICT(key) DO UPDATE SET sha256 = NULL, upload_id = excluded.upload_id",
                (key, ident),
            )

    def fail(self, ident: str, error: str, *, retry_s: float, max_retry_s: float, permanent: bool) -> None:
        """An attempt failed: retry with backoff (capped at ``max_retry_s``: a store that is away
        for hours is retried for hours), or keep it as failed when retrying cannot help."""
        self._queue.fail(
            ident,
            error,
            max_attempts=1 if permanent else 1 << 62,
            base_delay_s=retry_s,
            max_delay_s=max_retry_s,
        )

    def retry_failed(self) -> int:
        return self._queue.retry_failed()

    def release_claims(self) -> int:
        return self._queue.release_claims()

    def uploads(self) -> list[Upload]:
        """Every upload not yet forgotten (for reconciliation at start)."""
        with self._lock:
            rows = self._db.execute(_SELECT + " ORDER BY received_ms").fetchall()
        return [_upload(row) for row in rows]

    def failed(self) -> list[tuple[Upload, str]]:
        found = []
        for ident, error in self._queue.failed():
            upload = self.get(ident)
            if upload is not None:
                found.append((upload, error))
        return found

    def count(self, name: str, by: int = 1) -> None:
        """Add to a gateway counter (rejected, ignored, aborted uploads...)."""
        self._queue.bump(name, by)

    def waiting_bytes(self) -> int:
        """Bytes of the uploads the store does not have yet (asked before every upload)."""
        with self._lock:
            return self._waiting

    def stats(self) -> OutboxStats:
        queue = self._queue.stats()
        since = self._queue.now_ms() - RATE_WINDOW_S * 1000
        with self._lock:
            waiting, size, oldest = self._db.execute(
                "SELECT COUNT(*), COALESCE(SUM(size), 0), MIN(received_ms) FROM arrivals "
                "WHERE stored_key IS NULL"
            ).fetchone()
            recent = self._db.execute(
                "SELECT COUNT(*) FROM recent_uploads WHERE done_ms >= ?", (since,)
            ).fetchone()[0]
        return OutboxStats(
            depth=waiting,
            failed=queue.failed,
            bytes=size,
            oldest_received=datetime.fromtimestamp(oldest / 1000, UTC) if oldest is not None else None,
            last_error=queue.last_error,
            uploads_per_s=recent / RATE_WINDOW_S,
            counters=queue.counters,
        )

    def close(self) -> None:
        with self._lock:
            self._db.close()
