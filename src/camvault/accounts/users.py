"""People who may sign in to the web app: names and scrypt-hashed passwords.

Decides what a valid user name is; ``admin`` is reserved for the admin secret of the config
file. Removing a user or changing a password ends that user's sessions. Never stores or
returns a clear-text password.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from dataclasses import dataclass
from datetime import UTC, datetime

from camvault.accounts.auth_base import ADMIN
from camvault.accounts.passwords import hash_secret
from camvault.accounts.registry import AccountError
from camvault.domain.model import epoch_ms

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")


def check_name(name: str, what: str) -> str:
    """``name`` when it is a valid user or token name, else AccountError with the rule."""
    if not _NAME.fullmatch(name):
        raise AccountError(
            f"invalid {what} name {name!r}: use 1-64 letters, digits, '.', '_', '@' or '-', "
            "starting with a letter or digit"
        )
    return name


@dataclass(frozen=True)
class User:
    name: str
    created: datetime


class Users:
    """The ``users`` table of the accounts file (connection shared, calls serialised by ``lock``)."""

    def __init__(self, db: sqlite3.Connection, lock: threading.Lock) -> None:
        self._db = db
        self._lock = lock

    def add(self, name: str, password: str) -> User:
        check_name(name, "user")
        if name.lower() == ADMIN:
            raise AccountError("the user name 'admin' is the admin secret's; choose another name")
        hashed = hash_secret(password)
        now = datetime.now(UTC)
        with self._lock:
            try:
                self._db.execute(
                    "INSERT INTO users (name, password_hash, created_ms) VALUES (?, ?, ?)",
                    (name, hashed, epoch_ms(now)),
                )
            except sqlite3.IntegrityError:
                raise AccountError(
                    f"user {name!r} already exists (names ignore case); change the password with "
                    f"`camvault user passwd {name}`"
                ) from None
        return User(name, now)

    def list(self) -> list[User]:
        with self._lock:
            rows = self._db.execute("SELECT name, created_ms FROM users ORDER BY name").fetchall()
        return [User(row[0], datetime.fromtimestamp(row[1] / 1000, UTC)) for row in rows]

    def remove(self, name: str) -> None:
        """Delete the user and end their sessions."""
        with self._lock:
            changed = self._db.execute("DELETE FROM users WHERE name = ?", (name,)).rowcount
            self._db.execute("DELETE FROM sessions WHERE user = ? COLLATE NOCASE", (name,))
        _check_changed(changed, name)

    def set_password(self, name: str, password: str) -> None:
        """Replace the password and end the user's sessions (a stolen session dies with it)."""
        hashed = hash_secret(password)
        with self._lock:
            changed = self._db.execute(
                "UPDATE users SET password_hash = ? WHERE name = ?", (hashed, name)
            ).rowcount
            self._db.execute("DELETE FROM sessions WHERE user = ? COLLATE NOCASE", (name,))
        _check_changed(changed, name)

    def password_hash(self, name: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT password_hash FROM users WHERE name = ?", (name,)).fetchone()
        return str(row[0]) if row else None


def _check_changed(changed: int, name: str) -> None:
    if not changed:
        raise AccountError(f"unknown user {name!r}; `camvault user list` shows the users")
