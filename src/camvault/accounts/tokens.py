"""API tokens for scripts: named, shown once at creation, stored as a SHA-256 hash, revocable.

A token is 256 random bits, so a fast hash is as safe as a slow one and keeps every request
cheap. Never stores or returns a token after ``create``.
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
from dataclasses import dataclass
from datetime import UTC, datetime

from camvault.accounts.auth_base import TOKEN_PREFIX, digest
from camvault.accounts.registry import AccountError
from camvault.accounts.users import check_name
from camvault.domain.model import epoch_ms


@dataclass(frozen=True)
class TokenInfo:
    name: str
    created: datetime


class Tokens:
    """The ``tokens`` table of the accounts file (connection shared, calls serialised by ``lock``)."""

    def __init__(self, db: sqlite3.Connection, lock: threading.Lock) -> None:
        self._db = db
        self._lock = lock

    def create(self, name: str) -> str:
        """A new token called ``name``; the returned value is the only copy there will be."""
        check_name(name, "token")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self._lock:
            try:
                self._db.execute(
                    "INSERT INTO tokens (name, token_hash, created_ms) VALUES (?, ?, ?)",
                    (name, digest(token), epoch_ms(datetime.now(UTC))),
                )
            except sqlite3.IntegrityError:
                raise AccountError(
                    f"a token called {name!r} exists already; revoke it with `camvault token revoke "
                    f"{name}` or choose another name"
                ) from None
        return token

    def list(self) -> list[TokenInfo]:
        with self._lock:
            rows = self._db.execute("SELECT name, created_ms FROM tokens ORDER BY name").fetchall()
        return [TokenInfo(row[0], datetime.fromtimestamp(row[1] / 1000, UTC)) for row in rows]

    def revoke(self, name: str) -> None:
        with self._lock:
            changed = self._db.execute("DELETE FROM tokens WHERE name = ?", (name,)).rowcount
        if not changed:
            raise AccountError(f"no token called {name!r}; `camvault token list` shows them")

    def name_of(self, token_digest: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT name FROM tokens WHERE token_hash = ?", (token_digest,)).fetchone()
        return str(row[0]) if row else None
