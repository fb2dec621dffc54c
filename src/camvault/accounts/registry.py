"""The camera registry: names, time zones, hashed FTP passwords and per-camera options, in one
SQLite file.

A camera must be registered before anything is accepted from it; its time zone is how the
local times in its file names are read, and its options say how long its clips are kept, whether
a small version is made and whether its events are announced. This module decides what a valid
camera record is; it never stores a clear-text password.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from camvault.accounts.passwords import hash_secret, verify_secret
from camvault.accounts.schema import open_accounts
from camvault.domain.keys import validate_camera_name
from camvault.domain.model import epoch_ms
from camvault.domain.timeline import parse_zone

_SELECT = (
    "SELECT name, timezone, password_hash IS NOT NULL, created_ms, retention_days, transcode, notify "
    "FROM cameras"
)
MAX_RETENTION_DAYS = 36500


class AccountError(Exception):
    """An account operation was refused; the message says why and what to do."""


class UnknownCamera(AccountError):
    """No camera is registered under that name."""


@dataclass(frozen=True)
class CameraOptions:
    """How camvault treats one camera's clips.

    ``retention_days``: days its events are kept, None for ``[retention] days``; ``transcode``:
    make a small version of its clips; ``notify``: announce its new events (MQTT, webhooks).
    """

    retention_days: int | None = None
    transcode: bool = False
    notify: bool = True


def _changed(options: CameraOptions, changes: dict[str, int | bool | None]) -> CameraOptions:
    """``options`` with ``changes`` applied, each checked; AccountError names the bad one."""
    known = [field.name for field in fields(CameraOptions)]
    for key in changes:
        if key not in known:
            raise AccountError(f"unknown camera option {key!r}; known: {', '.join(known)}")
    days = changes.get("retention_days", options.retention_days)
    if days is not None and (isinstance(days, bool) or not 1 <= days <= MAX_RETENTION_DAYS):
        raise AccountError(
            f"retention days must be a whole number from 1 to {MAX_RETENTION_DAYS}, not {days!r}; "
            "`default` uses the [retention] days setting"
        )
    flags = {key: changes.get(key, getattr(options, key)) for key in ("transcode", "notify")}
    for key, value in flags.items():
        if not isinstance(value, bool):
            raise AccountError(f"camera option {key!r} is on or off, not {value!r}")
    return replace(options, retention_days=days, transcode=flags["transcode"], notify=flags["notify"])


@dataclass(frozen=True)
class Camera:
    name: str
    timezone: str
    has_password: bool
    created: datetime
    options: CameraOptions = CameraOptions()

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
            row = self._db.execute(_SELECT + " WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise UnknownCamera(
                f"unknown camera {name!r}; register it with `camvault camera add {name} --timezone ZONE`"
            )
        return _camera(row)

    def names(self) -> list[str]:
        return [camera.name for camera in self.list()]

    def list(self) -> list[Camera]:
        with self._lock:
            rows = self._db.execute(_SELECT + " ORDER BY name").fetchall()
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

    def options(self, name: str) -> CameraOptions:
        """The camera's options; UnknownCamera when there is none."""
        return self.get(name).options

    def set_options(self, name: str, **changes: int | bool | None) -> CameraOptions:
        """Change some of the camera's options (keyword names are ``CameraOptions`` fields)."""
        options = _changed(self.options(name), changes)
        self._change_one(
            "UPDATE cameras SET retention_days = ?, transcode = ?, notify = ? WHERE name = ?",
            (options.retention_days, int(options.transcode), int(options.notify), name),
            name,
        )
        return options

    def _change_one(self, statement: str, arguments: tuple[object, ...], name: str) -> None:
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


def _camera(row: tuple[str, str, int, int, int | None, int, int]) -> Camera:
    return Camera(
        name=row[0],
        timezone=row[1],
        has_password=bool(row[2]),
        created=datetime.fromtimestamp(row[3] / 1000, UTC),
        options=CameraOptions(retention_days=row[4], transcode=bool(row[5]), notify=bool(row[6])),
    )
