"""What camvault's three SQLite files (catalog, journal, accounts) share: transactions that
always end, and schema migrations that two processes may start at the same moment.

Migrations read ``PRAGMA user_version`` inside ``BEGIN IMMEDIATE``, so when ``serve`` and
``ingest`` open a fresh file together one creates the schema and the other sees it done.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

Migration = Sequence[str]
"""The statements that take a schema from one version to the next."""


class NewerSchema(sqlite3.DatabaseError):
    """The file was written by a newer camvault."""


def enable_wal(db: sqlite3.Connection, *, wait_s: float = 30.0) -> None:
    """Switch to WAL. Switching needs the file to itself and SQLite does not wait for it (the
    busy timeout does not apply), so a fresh file opened by two processes at once is retried."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            mode = str(db.execute("PRAGMA journal_mode = WAL").fetchone()[0]).lower()
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)
            continue
        if mode != "wal":
            raise sqlite3.OperationalError(f"cannot switch to WAL (journal mode stays {mode})")
        return


def connect(path: Path, *, synchronous: str = "NORMAL") -> sqlite3.Connection:
    """An autocommit connection in WAL mode, usable from several threads (callers serialise)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
    try:
        db.execute("PRAGMA busy_timeout = 30000")
        enable_wal(db)
        db.execute(f"PRAGMA synchronous = {synchronous}")
    except BaseException:
        db.close()
        raise
    return db


@contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` … ``COMMIT``, rolled back on any error so the lock is never kept."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def migrate(db: sqlite3.Connection, migrations: Sequence[Migration], what: str) -> int:
    """Bring ``db`` to ``len(migrations)``; returns the version it had. Each step runs in one
    transaction with its ``user_version`` bump; the version is read inside the first one."""
    found = None
    while True:
        with transaction(db):
            version = int(db.execute("PRAGMA user_version").fetchone()[0])
            found = version if found is None else found
            if version > len(migrations):
                raise NewerSchema(
                    f"the {what} database was written by a newer camvault (schema {version}); "
                    "upgrade camvault"
                )
            if version == len(migrations):
                return found
            for statement in migrations[version]:
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {version + 1}")
