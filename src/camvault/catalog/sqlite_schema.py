"""The SQLite catalog's schema, migrations, row <-> event mapping and the SQL of every query.

Decides: the ``events`` table and its indexes (one per query shape, so that no list of events
ever scans the table), the per-camera counters kept by triggers (so ``cameras()`` costs one
row per camera, not one per event), how a ``CatalogEvent`` becomes a row and back, and the
keyset-pagination SELECT built from an ``EventQuery``.

Time is stored as UTC epoch milliseconds (INTEGER): the catalog keeps millisecond precision,
finer digits are dropped (floored) on the way in, and instants come back as aware UTC datetimes.

Schema versions live in ``PRAGMA user_version``; ``MIGRATIONS[n]`` takes a catalog from version
``n`` to ``n + 1``. A later change appends a migration, it never edits an applied one.

This module opens no connection and owns no thread: ``camvault.catalog.sqlite`` does.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from camvault import sqlitedb
from camvault.catalog.base import CatalogError, EventQuery, Position, ceil_ms, decode_cursor, from_ms
from camvault.catalog.sqlite_json import EVENT_DOC, event_json
from camvault.domain.model import KINDS, CatalogEvent, Kind, MediaInfo, epoch_ms

log = logging.getLogger("camvault.catalog")

_V1 = (
    """
    CREATE TABLE events (
        id            TEXT    PRIMARY KEY,
        camera        TEXT    NOT NULL,
        kind          TEXT    NOT NULL CHECK (kind IN ('record', 'snap')),
        capture_ms    INTEGER NOT NULL,
        key           TEXT    NOT NULL UNIQUE,
        size          INTEGER NOT NULL,
        content_type  TEXT    NOT NULL,
        has_media     INTEGER NOT NULL CHECK (has_media IN (0, 1)),
        duration      REAL,
        width         INTEGER,
        height        INTEGER,
        video_codec   TEXT,
        audio_codec   TEXT,
        container     TEXT,
        playable      INTEGER NOT NULL CHECK (playable IN (0, 1)),
        thumbnail_key TEXT,
        small_key     TEXT,
        clock_skew    INTEGER NOT NULL CHECK (clock_skew IN (0, 1)),
        received_ms   INTEGER,
        problem       TEXT,
        extra         TEXT    NOT NULL DEFAULT '{}'
    )
    """,
    "CREATE INDEX events_time ON events (capture_ms, id)",
    "CREATE INDEX events_camera_time ON events (camera, capture_ms, id)",
    "CREATE INDEX events_kind_time ON events (kind, capture_ms, id)",
    "CREATE INDEX events_camera_kind_time ON events (camera, kind, capture_ms, id)",
    """
    CREATE TABLE camera_counts (
        camera       TEXT    PRIMARY KEY,
        record_count INTEGER NOT NULL,
        snap_count   INTEGER NOT NULL
    )
    """,
    """
    CREATE TRIGGER events_counted_in AFTER INSERT ON events BEGIN
        INSERT INTO camera_counts (camera, record_count, snap_count)
        VALUES (NEW.camera, NEW.kind = 'record', NEW.kind = 'snap')
        ON CONFLICT (camera) DO UPDATE SET
            record_count = record_count + excluded.record_count,
            snap_count = snap_count + excluded.snap_count;
    END
    """,
    """
    CREATE TRIGGER events_counted_out AFTER DELETE ON events BEGIN
        UPDATE camera_counts SET
            record_count = record_count - (OLD.kind = 'record'),
            snap_count = snap_count - (OLD.kind = 'snap')
        WHERE camera = OLD.camera;
        DELETE FROM camera_counts
        WHERE camera = OLD.camera AND record_count = 0 AND snap_count = 0;
    END
    """,
    """
    CREATE TRIGGER events_recounted AFTER UPDATE OF camera, kind ON events
    WHEN OLD.camera IS NOT NEW.camera OR OLD.kind IS NOT NEW.kind BEGIN
        UPDATE camera_counts SET
            record_count = record_count - (OLD.kind = 'record'),
            snap_count = snap_count - (OLD.kind = 'snap')
        WHERE camera = OLD.camera;
        INSERT INTO camera_counts (camera, record_count, snap_count)
        VALUES (NEW.camera, NEW.kind = 'record', NEW.kind = 'snap')
        ON CONFLICT (camera) DO UPDATE SET
            record_count = record_count + excluded.record_count,
            snap_count = snap_count + excluded.snap_count;
        DELETE FROM camera_counts
        WHERE camera = OLD.camera AND record_count = 0 AND snap_count = 0;
    END
    """,
)

# Version 2: the keep flag, and one flag per event saying whether it starts an alarm incident
# (see camvault.domain.incidents; ``camvault.catalog.sqlite_incidents`` keeps the flags right).
# The flags are recomputed when the catalog opens with a gap other than the one recorded in
# ``catalog_settings``, which is also how a catalog of version 1 gets them.
_V2 = (
    "ALTER TABLE events ADD COLUMN keep INTEGER NOT NULL DEFAULT 0 CHECK (keep IN (0, 1))",
    "ALTER TABLE events ADD COLUMN starts_incident INTEGER NOT NULL DEFAULT 1 "
    "CHECK (starts_incident IN (0, 1))",
    "CREATE INDEX incident_starts_time ON events (capture_ms, id) WHERE starts_incident = 1",
    "CREATE INDEX incident_starts_camera_time ON events (camera, capture_ms, id) WHERE starts_incident = 1",
    "CREATE TABLE catalog_settings (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
)

# Version 3: each row keeps its event object as JSON text in ``doc`` (camvault.catalog.sqlite_json),
# so a page of events is read, not built. Triggers write it whenever a column it shows is
# written; the migration writes it for the rows already there, saying so first (``UPGRADING``).
_DOC_SHOWS = (  # the columns EVENT_DOC reads
    "id, camera, kind, capture_ms, key, size, content_type, has_media, duration, width, height, "
    "video_codec, playable, thumbnail_key, small_key, clock_skew, received_ms, problem, extra, keep"
)
_V3 = (
    "ALTER TABLE events ADD COLUMN doc TEXT",
    f"""
    CREATE TRIGGER events_doc_written AFTER INSERT ON events BEGIN
        UPDATE events SET doc = {EVENT_DOC} WHERE rowid = NEW.rowid;
    END
    """,  # noqa: S608 (constant SQL)
    f"""
    CREATE TRIGGER events_doc_rewritten AFTER UPDATE OF {_DOC_SHOWS} ON events BEGIN
        UPDATE events SET doc = {EVENT_DOC} WHERE rowid = NEW.rowid;
    END
    """,  # noqa: S608 (constant SQL)
    f"UPDATE events SET doc = {EVENT_DOC}",  # noqa: S608 (constant SQL)
)

MIGRATIONS: tuple[tuple[str, ...], ...] = (_V1, _V2, _V3)
UPGRADING = "upgrading the catalog from schema %d to %d: every event is rewritten once (~16 s per million)"
SCHEMA_VERSION = len(MIGRATIONS)

COLUMNS: tuple[str, ...] = (
    "id",
    "camera",
    "kind",
    "capture_ms",
    "key",
    "size",
    "content_type",
    "has_media",
    "duration",
    "width",
    "height",
    "video_codec",
    "audio_codec",
    "container",
    "playable",
    "thumbnail_key",
    "small_key",
    "clock_skew",
    "received_ms",
    "problem",
    "extra",
    "keep",
)


def incident_of(table: str) -> str:
    """The id of the incident of the row ``table``: the nearest event of its camera at or before
    it that starts an incident (a seek on ``incident_starts_camera_time``)."""
    return (
        "(SELECT s.id FROM events AS s "  # noqa: S608 (table is a constant alias)
        f"WHERE s.camera = {table}.camera AND s.starts_incident = 1 "
        f"AND (s.capture_ms, s.id) <= ({table}.capture_ms, {table}.id) "
        "ORDER BY s.capture_ms DESC, s.id DESC LIMIT 1)"
    )


SELECT_COLUMNS = ", ".join(COLUMNS) + ", " + incident_of("events") + " AS incident_id"
# A page row for the API: the event's JSON text, then what its cursor is made of
# (``last_position``). An event that starts an incident names it; only the others look back.
PAGE_COLUMNS = (
    event_json(f"CASE WHEN starts_incident THEN id ELSE {incident_of('events')} END")
    + " AS event_json, capture_ms, id"
)
_WRITTEN_COLUMNS = ", ".join(COLUMNS)

_VALUES = ", ".join(":" + name for name in COLUMNS)
_UPDATES = ", ".join(f"{name} = excluded.{name}" for name in COLUMNS if name != "id")
_LATEST_COLUMNS = ", ".join(f"e.{name}" for name in COLUMNS) + ", " + incident_of("e") + " AS incident_id"

# S608 below: SQL is assembled only from this module's constant column names; every value,
# including everything a caller supplies, is a bound parameter.
UPSERT_SQL = (
    f"INSERT INTO events ({_WRITTEN_COLUMNS}) VALUES ({_VALUES}) "  # noqa: S608
    f"ON CONFLICT (id) DO UPDATE SET {_UPDATES}"
)
GET_SQL = f"SELECT {SELECT_COLUMNS} FROM events WHERE id = ?"  # noqa: S608
DELETE_SQL = "DELETE FROM events WHERE id = ?"
COUNT_SQL = "SELECT COUNT(*) FROM events"
# One statement, so counts and latest events come from the same snapshot; the correlated
# subquery walks events_camera_time backwards and stops at the first row.
CAMERAS_SQL = (
    f"SELECT c.record_count, c.snap_count, {_LATEST_COLUMNS} "  # noqa: S608
    "FROM camera_counts AS c JOIN events AS e ON e.rowid = ("
    "SELECT rowid FROM events WHERE camera = c.camera "
    "ORDER BY capture_ms DESC, id DESC LIMIT 1"
    ") ORDER BY c.camera"
)


# Keyset conditions: row values compare (capture_ms, id) as one key, and SQLite turns them into
# a range on any index ending in (capture_ms, id).
_BEFORE = "(capture_ms, id) < (?, ?)"
_AFTER = "(capture_ms, id) > (?, ?)"


@dataclass(frozen=True)
class Statement:
    """SQL text with its positional parameters."""

    sql: str
    params: tuple[object, ...]


def to_ms(instant: datetime) -> int:
    """UTC epoch milliseconds, floored; exact integer arithmetic (no float rounding)."""
    if instant.tzinfo is None:
        raise ValueError("instant must be timezone-aware")
    return epoch_ms(instant)


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the catalog to ``SCHEMA_VERSION``; returns the version found before.

    ``conn`` must be in autocommit mode (``isolation_level=None``); see ``camvault.sqlitedb``.
    """
    found = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if 0 < found < SCHEMA_VERSION:  # say why opening an older catalog takes a while
        log.info(UPGRADING, found, SCHEMA_VERSION)
    try:
        return sqlitedb.migrate(conn, MIGRATIONS, "catalog")
    except sqlitedb.NewerSchema as exc:
        raise CatalogError(str(exc)) from None


def event_to_row(event: CatalogEvent) -> dict[str, object]:
    """The named parameters of ``UPSERT_SQL`` for one event."""
    media = event.media
    return {
        "id": event.id,
        "camera": event.camera,
        "kind": event.kind,
        "capture_ms": to_ms(event.capture_time),
        "key": event.key,
        "size": event.size,
        "content_type": event.content_type,
        "has_media": media is not None,
        "duration": media.duration if media else None,
        "width": media.width if media else None,
        "height": media.height if media else None,
        "video_codec": media.video_codec if media else None,
        "audio_codec": media.audio_codec if media else None,
        "container": media.container if media else None,
        "playable": event.playable,
        "thumbnail_key": event.thumbnail_key,
        "small_key": event.small_key,
        "clock_skew": event.clock_skew,
        "received_ms": to_ms(event.received_time) if event.received_time else None,
        "problem": event.problem,
        "extra": json.dumps(event.extra, sort_keys=True),
        "keep": event.keep,
    }


def row_to_event(row: Mapping[str, Any]) -> CatalogEvent:
    """The event stored in a row selected with ``COLUMNS``."""
    media = None
    if row["has_media"]:
        media = MediaInfo(
            duration=row["duration"],
            width=row["width"],
            height=row["height"],
            video_codec=row["video_codec"],
            audio_codec=row["audio_codec"],
            container=row["container"],
        )
    received_ms = row["received_ms"]
    return CatalogEvent(
        id=row["id"],
        camera=row["camera"],
        kind=_kind(row["kind"]),
        capture_time=from_ms(row["capture_ms"]),
        key=row["key"],
        size=row["size"],
        content_type=row["content_type"],
        media=media,
        playable=bool(row["playable"]),
        thumbnail_key=row["thumbnail_key"],
        small_key=row["small_key"],
        clock_skew=bool(row["clock_skew"]),
        received_time=from_ms(received_ms) if received_ms is not None else None,
        problem=row["problem"],
        extra=_extra(row["extra"]),
        keep=bool(row["keep"]),
        incident_id=row["incident_id"],
    )


def _extra(text: str) -> dict[str, Any]:
    """The ``extra`` column: most events have none, and a page reads 50 of them."""
    return {} if text == "{}" else dict(json.loads(text))


def _kind(value: str) -> Kind:
    for kind in KINDS:
        if kind == value:
            return kind
    raise CatalogError(f"catalog row has unknown kind {value!r}")


def select_page(
    query: EventQuery, *, incident_starts: bool = False, columns: str = SELECT_COLUMNS
) -> Statement:
    """The SELECT of one page: filters, keyset condition, order, and ``limit + 1`` rows.

    With ``incident_starts`` only events that start an incident are selected (a page of
    incidents, each named by its first event). ``columns`` must include ``capture_ms`` and ``id``
    (``last_position`` reads them).

    The extra row only tells whether another page exists. Every shape is served by an index
    whose columns end with ``(capture_ms, id)``, so the order needs no sort, and the page
    starts with an index seek: of the cursor and the time bound on the same side, only the
    tighter one is kept (the other is implied), because SQLite seeks on one bound per side.
    """
    where: list[str] = ["starts_incident = 1"] if incident_starts else []
    params: list[object] = []
    if query.camera is not None:
        where.append("camera = ?")
        params.append(query.camera)
    if query.kind is not None:
        where.append("kind = ?")
        params.append(query.kind)
    bounds = _bounds(query)
    if bounds.start_ms is not None:
        where.append("capture_ms >= ?")
        params.append(bounds.start_ms)
    if bounds.end_ms is not None:
        where.append("capture_ms < ?")
        params.append(bounds.end_ms)
    if bounds.cursor is not None:
        where.append(_BEFORE if query.newest_first else _AFTER)
        params.extend((bounds.cursor.capture_ms, bounds.cursor.event_id))
    direction = "DESC" if query.newest_first else "ASC"
    sql = f"SELECT {columns} FROM events"  # noqa: S608
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += f" ORDER BY capture_ms {direction}, id {direction} LIMIT ?"
    params.append(query.limit + 1)
    return Statement(sql, tuple(params))


@dataclass(frozen=True)
class _Bounds:
    start_ms: int | None
    end_ms: int | None
    cursor: Position | None


def _bounds(query: EventQuery) -> _Bounds:
    """Time bounds in stored milliseconds, and the cursor unless a bound already implies it.

    Newest first, the cursor is an upper bound: with ``cursor.ms < end`` every row before the
    cursor is before ``end`` (drop ``end``), otherwise every row before ``end`` is before the
    cursor (drop the cursor). Oldest first, the same holds for the cursor and ``start``.
    """
    start_ms = ceil_ms(query.start) if query.start is not None else None
    end_ms = ceil_ms(query.end) if query.end is not None else None
    cursor = decode_cursor(query.cursor) if query.cursor is not None else None
    if cursor is None:
        return _Bounds(start_ms, end_ms, None)
    if query.newest_first:
        if end_ms is not None and cursor.capture_ms >= end_ms:
            return _Bounds(start_ms, end_ms, None)
        return _Bounds(start_ms, None, cursor)
    if start_ms is not None and cursor.capture_ms < start_ms:
        return _Bounds(start_ms, end_ms, None)
    return _Bounds(None, end_ms, cursor)


def last_position(rows: Sequence[Mapping[str, Any]]) -> Position:
    """The catalog position of the last row of a page (from stored values, not recomputed)."""
    last = rows[-1]
    return Position(int(last["capture_ms"]), str(last["id"]))
