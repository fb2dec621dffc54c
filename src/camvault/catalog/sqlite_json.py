"""The API's event object, built by SQLite: stored with each event, finished for a page.

A page of 50 events turned into ``CatalogEvent`` objects and then into JSON costs about 1 ms
of Python; SQLite's ``json_object`` builds the same text in C for a fraction of that, and
reading it ready-made from a column costs less again (see docs/benchmarks.md). So each row
keeps its event object in ``doc``, written by triggers whenever the row is written (schema
version 3, ``camvault.catalog.sqlite_schema``), and a page only adds ``incident_id``, which
depends on the events before it and is found when the page is read.

``EVENT_DOC`` plus ``incident_id`` must give exactly ``row_to_event(row).to_json()``: the
contract tests in tests/functional/test_catalog_json.py compare the two on awkward events.
The text of ``EVENT_DOC`` is part of an applied migration: a change to it needs a new
migration that recreates the triggers and rewrites ``doc`` (see ``MIGRATIONS``).

This module imports nothing of the schema, which builds its triggers from it.
"""

from __future__ import annotations

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

# The event object of the row, every key of ``CatalogEvent.to_json`` but the last,
# ``incident_id``, in the same order.
EVENT_DOC = (
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
    f"'keep', {_flag('keep')}"
    ")"
)


def event_json(incident_id: str) -> str:
    """The whole event object of the row: its ``doc`` with ``incident_id`` (the SQL expression
    ``incident_id``) added as the last key. ``doc`` always ends with the ``}`` of its object;
    ``length`` and ``substr`` both count characters, so any text in it is kept whole."""
    return f"substr(doc, 1, length(doc) - 1) || ',\"incident_id\":' || json_quote({incident_id}) || '}}'"
