"""The accounts database: one SQLite file holding cameras, users, API tokens, sessions and
recent failed logins.

Decides the tables and their migrations (``MIGRATIONS[n]`` takes the file from version ``n`` to
``n + 1``; a later change appends, it never edits an applied step). Secrets are only ever
stored as hashes. The modules that read and write each table share one connection opened here.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from camvault.sqlitedb import connect, migrate

MIGRATIONS = [
    (
        """CREATE TABLE cameras (
            name TEXT PRIMARY KEY COLLATE NOCASE,
            timezone TEXT NOT NULL,
            password_hash TEXT,
            created_ms INTEGER NOT NULL
        )""",
    ),
    (
        """CREATE TABLE users (
            name TEXT PRIMARY KEY COLLATE NOCASE,
            password_hash TEXT NOT NULL,
            created_ms INTEGER NOT NULL
        )""",
        """CREATE TABLE tokens (
            name TEXT PRIMARY KEY COLLATE NOCASE,
            token_hash TEXT NOT NULL UNIQUE,
            created_ms INTEGER NOT NULL
        )""",
        """CREATE TABLE sessions (
            id_hash TEXT PRIMARY KEY,
            user TEXT NOT NULL,
            csrf_token TEXT NOT NULL,
            expires_ms INTEGER NOT NULL
        )""",
        "CREATE INDEX sessions_user ON sessions (user)",
        "CREATE INDEX sessions_expiry ON sessions (expires_ms)",
    ),
    (
        "ALTER TABLE cameras ADD COLUMN retention_days INTEGER",
        "ALTER TABLE cameras ADD COLUMN transcode INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE cameras ADD COLUMN notify INTEGER NOT NULL DEFAULT 1",
    ),
    (
        """CREATE TABLE login_failures (
            kind TEXT NOT NULL,
            key TEXT NOT NULL,
            at_ms INTEGER NOT NULL
        )""",
        "CREATE INDEX login_failures_key ON login_failures (kind, key, at_ms)",
        "CREATE INDEX login_failures_age ON login_failures (at_ms)",
    ),
]


def open_accounts(path: Path) -> sqlite3.Connection:
    """A connection to the accounts file at ``path``, migrated to the current schema."""
    db = connect(path)
    try:
        migrate(db, MIGRATIONS, "accounts")
    except BaseException:
        db.close()
        raise
    return db
