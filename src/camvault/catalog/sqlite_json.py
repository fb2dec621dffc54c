"""The API's event object, built by SQLite itself for a page of events.

A page of 50 events turned into ``CatalogEvent`` objects and then into JSON costs about 1 ms
of Python; SQLite's ``json_object`` builds the same text in C for a fraction of that (see
docs/benchmarks.md). ``EVENT_JSON`` must give exactly ``row_to_event(row).to_json()``: the
contract test in tests/functional/test_catalog_json.py compares the two on awkward events.
"""

from __future__ import annotations

from camvault.catalog import sqlite_schema as schema
from camvault.domain.model import DURATION_DIGITS


def _instant(column: str) -> str:
    """``format_instant`` of the epoch milliseconds in ``column``: ``2016-10-18T18:37:06.000Z``.
    (``unixepoch`` turns the seconds into whole milliseconds, rounding, so ``%f`` is exact.)"""
    return f"strftime('%Y-%m-%dT%H:%M:%fZ', {column} / 1000.0, 'unixepoch')"


def _flag(column: str) -> str:
    # json('true') is a constant: SQLite computes it once per statement, not per row
    return f"CASE WHEN {column} THEN json('true') ELSE json('false') END"


_MEDIA = (
    "CASE WHEN has_media THEN json_object("
    f"'duration', round(duration, {DURATION_DIGITS}), 'width', width, 'height', height, "
    "'video_codec', video_codec) END"
)

# The keys and their order are those of ``CatalogEvent.to_json``.
EVENT_JSON = (
    "json_object("
    "'id', id, 'camera', camera, 'kind', kind, "
    f"'capture_time', {_instant('capture_ms')}, "
    "'key', key, 'size', size, 'content_type', content_type, "
    f"'media', {_MEDIA}, "
    f"'playable', {_flag('playable')}, "
    "'thumbnail_key', thumbnail_key, 'small_key', small_key, "
    f"'clock_skew', {_flag('clock_skew')}, "
    f"'received_time', iif(received_ms IS NULL, NULL, {_instant('received_ms')}), "
    "'problem', problem, "
    "'capture_source', extra -> '$.capture_source', "
    "'capture_note', extra -> '$.capture_note', "
    f"'keep', {_flag('keep')}, "
    # an event that starts an incident names it; only the others look back for their start
    f"'incident_id', CASE WHEN starts_incident THEN id ELSE {schema.incident_of('events')} END"
    ")"
)

# A page row: the event's JSON text, then what its cursor is made of (``last_position``).
PAGE_COLUMNS = f"{EVENT_JSON} AS event_json, capture_ms, id"
