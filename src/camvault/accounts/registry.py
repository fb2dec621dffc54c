"""The camera registry: names, time zones and hashed FTP passwords, in one SQLite file.

A camera must be registered before anything is accepted from it; its time zone is how the
local times in its file names are read. This module decides what a valid camera record is; it
never stores a clear-text password.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from camvault.accounts.passwords import hash_secret, verify_secret
from camvault.accounts.schema import open_accounts
from camvault.domain.keys import validate_camera_name
from camvault.domain.model import epoch_ms
from camvault.domain.timeline import parse_zone


class AccountError(Exception):
    """An account operation was refused; the message says why and what to do."""


class UnknownCamera(AccountError):
    """No camera is registered under that name."""


@dataclass(frozen=True)
class Camera:
    name: str
    timezone: str
    has_password: bool
    created: datetime

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def check_zone(timezone: str) -> str:
    try:
        parse_zone(timezone)
    except ValueError as exc:
        raise AccountError(str(exc)) from None
    return timezone


class CameraRegistry:
    """Cameras in a SQLite file; safe to use from several threads and processes."""

    def __init__(self, path: Path) -> None:
        self._lock = threading.Lock()
        self._db = open_accounts(path)

    def add(self, name: str, timezone: str, password: str | None = None) -> Camera:
        try:
            validate_camera_name(name)
        except ValueError as exc:
            raise AccountError(str(exc)) from None
        check_zone(timezone)
        hashed = hash_secret(password) if password else None
        now = datetime.now(UTC)
        with self._lock:
            try:
                self._db.execute(
                    "INSERT INTO cameras (name, timezone, password_hash, created_ms) VALUES (?, ?, ?, ?)",
                    (name, timezone, hashed, epoch_ms(now)),
                )
            except sqlite3.IntegrityError:
                raise AccountError(
                    f"camera {name!r} already exists (names ignore case); change it with "
                    f"`camvault camera set` or `camvault camera passwd`"
                ) from None
        return self.get(name)

    def get(self, name: str) -> Camera:
        with self._lock:
            row = self._db.execute(
                "SELECT name, timezone, password_hash IS NOT NULL, created_ms FROM cameras WHERE name = ?",
                (name,),
            ).fetchone()
        if row is None:
            raise UnknownCamera(
                f"unknown camera {name!r}; register it with `camvault camera add {name} --timezone ZONE`"
            )
        return _camera(row)

    def names(self) -> list[str]:
        return [camera.name for camera in self.list()]

    def list(self) -> list[Camera]:
        with self._lock:
            rows = self._db.execute(
                "SELECT name, timezone, password_hash IS NOT NULL, created_ms FROM cameras ORDER BY name"
            ).fetchall()
        return [_camera(row) for row in rows]

    def remove(self, name: str) -> None:
        self._change_one("DELETE FROM cameras WHERE name = ?", (name,), name)

    def set_password(self, name: str, password: str) -> None:
        self._change_one(
            "UPDATE cameras SET password_hash = ? WHERE name = ?", (hash_secret(password), name), name
        )

    def set_timezone(self, name: str, timezone: str) -> Camera:
        check_zone(timezone)
        self._change_one("UPDATE cameras SET timezone = ? WHERE name = ?", (timezone, name), name)
        return self.get(name)

    def _change_one(self, statement: str, arguments: tuple[str, ...], name: str) -> None:
        """Run a statement that changes the camera ``name``; UnknownCamera when there is none."""
        with self._lock:
            changed = self._db.execute(statement, arguments).rowcount
        if not changed:
            raise UnknownCamera(f"unknown camera {name!r}; `camvault camera list` shows the registered ones")

    def check_password(self, name: str, password: str) -> bool:
        with self._lock:
            row = self._db.execute("SELECT password_hash FROM cameras WHERE name = ?", (name,)).fetchone()
        return bool(row and row[0] and verify_secret(password, row[0]))

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> CameraRegistry:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _camera(row: tuple[str, str, int, int]) -> Camera:
    return Camera(
        name=row[0],
        timezone=row[1],
        has_password=bool(row[2]),
        created=datetime.fromtimestamp(row[3] / 1000, UTC),
    )
