"""Alarm incidents in the SQLite catalog: the per-event "starts an incident" flag and the reads
built on it.

Stored: ``events.starts_incident``, true when the event has no predecessor of its camera in
catalog order or the predecessor is more than the gap older (``domain.incidents``). A change
to one event can only change its own flag and its successor's, so ``after_put`` and
``after_delete`` fix those two (and the successor of a moved event's old place) inside the
write's transaction. Computed on read: an event's incident id (the nearest flagged event at
or before it, see ``sqlite_schema``), and an incident's end, counts and face (from its members,
by ``domain.incidents.summarize``).

Every function takes the connection of the caller's transaction; none opens one.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from camvault.catalog import sqlite_schema as schema
from camvault.catalog.base import MAX_ABS_MS
from camvault.domain.incidents import Incident, IncidentDetail, starts_incident, summarize
from camvault.domain.model import CatalogEvent

GAP_SETTING = "incident_gap_ms"

_PREVIOUS_SQL = (
    "SELECT capture_ms FROM events WHERE camera = ? AND (capture_ms, id) < (?, ?) "
    "ORDER BY capture_ms DESC, id DESC LIMIT 1"
)
_NEXT_SQL = (
    "SELECT id, capture_ms FROM events WHERE camera = ? AND (capture_ms, id) > (?, ?) "
    "ORDER BY capture_ms, id LIMIT 1"
)
_NEXT_START_SQL = (
    "SELECT capture_ms, id FROM events WHERE camera = ? AND starts_incident = 1 "
    "AND (capture_ms, id) > (?, ?) ORDER BY capture_ms, id LIMIT 1"
)
_SET_FLAG_SQL = "UPDATE events SET starts_incident = ? WHERE id = ? AND starts_incident != ?"
_PLACE_SQL = "SELECT camera, capture_ms FROM events WHERE id = ?"
_IS_START_SQL = "SELECT camera, capture_ms FROM events WHERE id = ? AND starts_incident = 1"
_REFLAG_ALL_SQL = (
    "UPDATE events SET starts_incident = (previous_ms IS NULL OR capture_ms - previous_ms > ?) "
    "FROM (SELECT id AS ranked_id, LAG(capture_ms) OVER "
    "(PARTITION BY camera ORDER BY capture_ms, id) AS previous_ms FROM events) "
    "WHERE events.id = ranked_id"
)
_GET_SETTING_SQL = "SELECT value FROM catalog_settings WHERE name = ?"
_PUT_SETTING_SQL = (
    "INSERT INTO catalog_settings (name, value) VALUES (?, ?) "
    "ON CONFLICT (name) DO UPDATE SET value = excluded.value"
)
# S608: built from schema's constant column list; values are bound parameters.
_MEMBERS_SQL = (
    f"SELECT {schema.SELECT_COLUMNS} FROM events "  # noqa: S608
    "WHERE camera = ? AND (capture_ms, id) >= (?, ?) AND (capture_ms, id) < (?, ?) "
    "ORDER BY capture_ms, id"
)


@dataclass(frozen=True)
class Place:
    """Where an event sits: its camera and position in catalog order."""

    camera: str
    capture_ms: int
    event_id: str


def place_of(conn: sqlite3.Connection, event_id: str) -> Place | None:
    row = conn.execute(_PLACE_SQL, (event_id,)).fetchone()
    return Place(row[0], row[1], event_id) if row is not None else None


def after_put(conn: sqlite3.Connection, before: Place | None, event: CatalogEvent, gap_ms: int) -> None:
    """Fix the flags after ``event`` was upserted; ``before`` is where it was (None: new)."""
    now = Place(event.camera, event.capture_ms, event.id)
    if before is not None and (before.camera, before.capture_ms) != (now.camera, now.capture_ms):
        _reflag_successor(conn, before, gap_ms)
    _reflag(conn, now, gap_ms)
    _reflag_successor(conn, now, gap_ms)


def after_delete(conn: sqlite3.Connection, before: Place, gap_ms: int) -> None:
    """Fix the flags after the event at ``before`` was deleted."""
    _reflag_successor(conn, before, gap_ms)


def use_gap(conn: sqlite3.Connection, gap_ms: int) -> None:
    """Recompute every flag when the catalog was grouped with another gap (or never)."""
    row = conn.execute(_GET_SETTING_SQL, (GAP_SETTING,)).fetchone()
    if row is not None and int(row[0]) == gap_ms:
        return
    conn.execute(_REFLAG_ALL_SQL, (gap_ms,))
    conn.execute(_PUT_SETTING_SQL, (GAP_SETTING, str(gap_ms)))


def incident(conn: sqlite3.Connection, incident_id: str) -> IncidentDetail | None:
    """The incident whose first event is ``incident_id``, with its members."""
    with snapshot(conn):
        row = conn.execute(_IS_START_SQL, (incident_id,)).fetchone()
        if row is None:
            return None
        members = _members(conn, Place(row[0], row[1], incident_id))
    return IncidentDetail(summarize(members), members)


def summaries(conn: sqlite3.Connection, starts: list[CatalogEvent]) -> list[Incident]:
    """The incidents that ``starts`` (events with the flag) begin."""
    with snapshot(conn):
        return [summarize(_members(conn, Place(e.camera, e.capture_ms, e.id))) for e in starts]


@contextmanager
def snapshot(conn: sqlite3.Connection) -> Iterator[None]:
    """Several reads that see one state of the catalog (a read transaction)."""
    if conn.in_transaction:
        yield
        return
    conn.execute("BEGIN")
    try:
        yield
    finally:
        conn.execute("COMMIT")


def _members(conn: sqlite3.Connection, start: Place) -> list[CatalogEvent]:
    following = conn.execute(_NEXT_START_SQL, (start.camera, start.capture_ms, start.event_id)).fetchone()
    end = (following[0], following[1]) if following is not None else (MAX_ABS_MS + 1, "")
    rows = conn.execute(_MEMBERS_SQL, (start.camera, start.capture_ms, start.event_id, *end))
    return [schema.row_to_event(row) for row in rows]


def _reflag(conn: sqlite3.Connection, place: Place, gap_ms: int) -> None:
    previous = conn.execute(_PREVIOUS_SQL, (place.camera, place.capture_ms, place.event_id)).fetchone()
    flag = starts_incident(previous[0] if previous is not None else None, place.capture_ms, gap_ms)
    conn.execute(_SET_FLAG_SQL, (int(flag), place.event_id, int(flag)))


def _reflag_successor(conn: sqlite3.Connection, place: Place, gap_ms: int) -> None:
    following = conn.execute(_NEXT_SQL, (place.camera, place.capture_ms, place.event_id)).fetchone()
    if following is not None:
        _reflag(conn, Place(place.camera, following[1], following[0]), gap_ms)
