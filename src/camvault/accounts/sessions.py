"""Browser sessions: the hash of the session id, its user, its CSRF token and its expiry.

Expired rows are removed when met, and swept (``delete_expired_by``) whenever a session starts. Never stores a
session id itself.
"""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime

from camvault.accounts.auth_base import Session
from camvault.domain.model import epoch_ms


class Sessions:
    """The ``sessions`` table of the accounts file (connection shared, calls serialised by ``lock``)."""

    def __init__(self, db: sqlite3.Connection, lock: threading.Lock) -> None:
        self._db = db
        self._lock = lock

    def put(self, id_digest: str, session: Session) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO sessions (id_hash, user, csrf_token, expires_ms) VALUES (?, ?, ?, ?)",
                (id_digest, session.user, session.csrf_token, epoch_ms(session.expires)),
            )

    def get(self, id_digest: str) -> Session | None:
        with self._lock:
            row = self._db.execute(
                "SELECT user, csrf_token, expires_ms FROM sessions WHERE id_hash = ?", (id_digest,)
            ).fetchone()
        if row is None:
            return None
        return Session(row[0], row[1], datetime.fromtimestamp(row[2] / 1000, UTC))

    def delete_expired_by(self, instant: datetime) -> None:
        with self._lock:
            self._db.execute("DELETE FROM sessions WHERE expires_ms <= ?", (epoch_ms(instant),))

    def delete(self, id_digest: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM sessions WHERE id_hash = ?", (id_digest,))
