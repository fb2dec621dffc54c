"""Pages of events in JSON built by SQLite (``SQLiteCatalog.query_json``) are exactly the event
objects of the contract (``CatalogEvent.to_json``), awkward values included; and a catalog
without that shortcut gets the same text through ``page_reader``."""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from camvault import sqlitedb
from camvault.catalog import sqlite_schema
from camvault.catalog.base import EventQuery, JSONPage, JSONPages, page_reader
from camvault.catalog.sqlite import SQLiteCatalog
from camvault.domain.model import CatalogEvent, MediaInfo
from tests.support.catalog_backends import make_event

pytestmark = pytest.mark.functional

T0 = datetime(2024, 11, 3, 5, 30, 0, 123000, tzinfo=UTC)
AWKWARD_TEXT = 'Vorgarten "Süd" \\ 🚪\n\t\x00\x01 </script>'


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[SQLiteCatalog]:
    with SQLiteCatalog.from_url("sqlite:///catalog.db", tmp_path) as opened:
        yield opened


def both_ways(catalog: SQLiteCatalog, query: EventQuery) -> tuple[Any, Any]:
    """The page as the API sends it (parsed), and as ``query`` + ``to_json`` gives it."""
    fast, slow = catalog.query_json(query), catalog.query(query)
    assert fast.next_cursor == slow.next_cursor
    return json.loads(fast.events), [event.to_json() for event in slow.events]


def awkward_events() -> list[CatalogEvent]:
    base = make_event("e-plain", T0)
    return [
        base,
        make_event("e-snap", T0 + timedelta(seconds=1), kind="snap"),
        replace(
            make_event("e-text", T0 + timedelta(seconds=2), camera=AWKWARD_TEXT),
            problem=AWKWARD_TEXT,
            playable=False,
            media=None,
            extra={"capture_source": AWKWARD_TEXT, "capture_note": "ambiguous: ü", "other": "x"},
        ),
        replace(
            make_event("e-full", T0 + timedelta(seconds=3)),
            small_key="cams/porch/small.mp4",
            clock_skew=True,
            keep=True,
            received_time=T0 + timedelta(seconds=9, milliseconds=999),
            media=MediaInfo(duration=10.033333333333333, width=None, height=None, video_codec=None),
        ),
        make_event("e-1969", datetime(1969, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)),
        make_event("e-0001", datetime(1, 1, 1, tzinfo=UTC)),
        make_event("e-9999", datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)),
        replace(
            make_event("e-durations", T0 + timedelta(milliseconds=1)),
            media=MediaInfo(duration=0.1 + 0.2, width=1, height=1, video_codec="hevc"),
        ),
        replace(
            make_event("e-tiny", T0 + timedelta(milliseconds=2)),
            media=MediaInfo(duration=1e-7, width=1, height=1, video_codec="h264"),
        ),
    ]


def test_awkward_events_read_the_same_both_ways(catalog: SQLiteCatalog) -> None:
    events = awkward_events()
    for event in events:
        catalog.put(event)
    for newest_first in (True, False):
        fast, slow = both_ways(catalog, EventQuery(newest_first=newest_first, limit=50))
        assert fast == slow
        assert len(fast) == len(events)
    by_id = {item["id"]: item for item in json.loads(catalog.query_json(EventQuery(limit=50)).events)}
    assert by_id["e-1969"]["capture_time"] == "1969-12-31T23:59:59.999Z"
    assert by_id["e-0001"]["capture_time"] == "0001-01-01T00:00:00.000Z"
    assert by_id["e-text"]["camera"] == AWKWARD_TEXT
    assert by_id["e-full"]["media"]["duration"] == 10.033  # seconds, to the millisecond
    assert by_id["e-full"]["received_time"] == "2024-11-03T05:30:10.122Z"
    assert by_id["e-full"]["keep"] is True and by_id["e-plain"]["keep"] is False


def test_pages_follow_the_same_cursors(catalog: SQLiteCatalog) -> None:
    for second in range(23):
        catalog.put(make_event(f"e{second:02d}", T0 + timedelta(seconds=second // 2)))
    for newest_first in (True, False):
        cursor, seen = None, []
        while True:
            query = EventQuery(newest_first=newest_first, limit=5, cursor=cursor)
            fast, slow = both_ways(catalog, query)
            assert fast == slow
            seen.extend(item["id"] for item in fast)
            cursor = catalog.query_json(query).next_cursor
            if cursor is None:
                break
        assert sorted(seen) == [f"e{second:02d}" for second in range(23)]


def test_an_event_written_again_reads_as_written(catalog: SQLiteCatalog) -> None:
    """Each row keeps its event object (``doc``): a re-delivered or changed event rewrites it."""
    first = make_event("e-again", T0)
    catalog.put(first)
    catalog.put(make_event("e-later", T0 + timedelta(seconds=5)))
    changed = replace(
        first,
        keep=True,
        problem="thumbnail failed",
        small_key="cams/porch/small.mp4",
        media=MediaInfo(duration=4.5, width=640, height=360, video_codec="h264"),
        extra={"capture_note": "camera clock was off"},
    )
    catalog.put(changed)
    fast, slow = both_ways(catalog, EventQuery(limit=50))
    assert fast == slow
    again = next(item for item in fast if item["id"] == "e-again")
    assert again["keep"] is True and again["problem"] == "thumbnail failed"
    assert again["media"]["width"] == 640 and again["capture_note"] == "camera clock was off"


def test_a_catalog_from_before_stored_event_objects_gets_them_on_open(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A catalog of schema version 2 is migrated when it opens, saying so (it takes a while on a
    large one): every event it held reads the same both ways, and events written afterwards too."""
    caplog.set_level(logging.INFO, logger="camvault.catalog")
    path = tmp_path / "catalog.db"
    old = sqlite3.connect(path, isolation_level=None)
    sqlitedb.migrate(old, sqlite_schema.MIGRATIONS[:2], "catalog")
    for event in awkward_events():
        old.execute(sqlite_schema.UPSERT_SQL, sqlite_schema.event_to_row(event))
    old.close()
    with SQLiteCatalog(path) as catalog:
        catalog.put(make_event("e-new", T0 + timedelta(hours=1)))
        for newest_first in (True, False):
            fast, slow = both_ways(catalog, EventQuery(newest_first=newest_first, limit=50))
            assert fast == slow
            assert len(fast) == len(awkward_events()) + 1
    assert "upgrading the catalog from schema 2 to 3" in caplog.text
    migrated = sqlite3.connect(path)
    assert migrated.execute("PRAGMA user_version").fetchone()[0] == len(sqlite_schema.MIGRATIONS)
    assert migrated.execute("SELECT count(*) FROM events WHERE doc IS NULL").fetchone()[0] == 0
    migrated.close()


class PlainCatalog:
    """A catalog with only the protocol's ``query``, as a backend without the JSON shortcut."""

    def __init__(self, inner: SQLiteCatalog) -> None:
        self.query = inner.query


def test_a_catalog_without_the_shortcut_gives_the_same_text(catalog: SQLiteCatalog) -> None:
    for event in awkward_events():
        catalog.put(event)
    plain = PlainCatalog(catalog)
    assert not isinstance(plain, JSONPages) and isinstance(catalog, JSONPages)
    query = EventQuery(limit=4)
    generic: JSONPage = page_reader(plain)(query)  # type: ignore[arg-type]
    assert json.loads(generic.events) == json.loads(page_reader(catalog)(query).events)
    assert generic.next_cursor == catalog.query(query).next_cursor is not None


texts = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
media = st.none() | st.builds(
    MediaInfo,
    duration=st.none() | st.floats(min_value=0, max_value=1e6, allow_nan=False),
    width=st.none() | st.integers(1, 10_000),
    height=st.none() | st.integers(1, 10_000),
    video_codec=st.none() | texts,
)


@st.composite
def events(draw: st.DrawFn) -> CatalogEvent:
    at = draw(st.datetimes(datetime(1900, 1, 1), datetime(2100, 1, 1))).replace(tzinfo=UTC)
    at = at.replace(microsecond=at.microsecond // 1000 * 1000)
    event = make_event(draw(st.text("abcdef0123456789", min_size=1, max_size=8)), at, camera=draw(texts))
    extra = {name: draw(texts) for name in ("capture_source", "capture_note") if draw(st.booleans())}
    received = at + timedelta(milliseconds=draw(st.integers(0, 10**9)))
    return replace(
        event,
        media=draw(media),
        problem=draw(st.none() | texts),
        size=draw(st.integers(0, 2**62)),
        keep=draw(st.booleans()),
        clock_skew=draw(st.booleans()),
        received_time=draw(st.none() | st.just(received)),
        extra=extra,
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=st.lists(events(), min_size=1, max_size=12))
def test_any_events_read_the_same_both_ways(tmp_path: Path, batch: list[CatalogEvent]) -> None:
    with SQLiteCatalog.from_url("sqlite:///:memory:", tmp_path) as catalog:
        for event in batch:
            catalog.put(event)
        fast, slow = both_ways(catalog, EventQuery(limit=50))
        assert fast == slow
