"""The catalog contract, run against every backend in tests/support/catalog_backends.py.

Only the ``Catalog`` protocol is used here; backend-specific behaviour (threads, files, plans)
belongs to each backend's functional tests.
"""

from __future__ import annotations

import base64
import random
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from camvault.catalog.base import (
    MAX_LIMIT,
    BadCursor,
    Catalog,
    EventPage,
    EventQuery,
    IncidentQuery,
    Position,
    encode_cursor,
)
from camvault.domain.incidents import Incident, group
from camvault.domain.model import CatalogEvent, Kind, MediaInfo
from tests.support.catalog_backends import (
    CATALOG_BACKENDS,
    BackendContext,
    CatalogBackend,
    catalog_order,
    epoch_ms,
    make_event,
)

pytestmark = pytest.mark.contract

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
MS = timedelta(milliseconds=1)


@pytest.fixture(params=CATALOG_BACKENDS, ids=lambda backend: backend.name)
def catalog(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Catalog]:
    backend: CatalogBackend = request.param
    with backend.open(BackendContext(tmp_path=tmp_path, request=request)) as opened:
        yield opened


def put_all(catalog: Catalog, events: list[CatalogEvent]) -> None:
    for event in events:
        assert catalog.put(event) is True


def ids(page: EventPage) -> list[str]:
    return [event.id for event in page.events]


def walk(catalog: Catalog, query: EventQuery) -> list[EventPage]:
    """Every page of ``query``, following next_cursor until there is none."""
    pages = [catalog.query(query)]
    while pages[-1].next_cursor is not None:
        assert len(pages) < 1000, "pagination does not terminate"
        pages.append(catalog.query(replace(query, cursor=pages[-1].next_cursor)))
    return pages


def expected_ids(events: list[CatalogEvent], *, newest_first: bool) -> list[str]:
    return [event.id for event in sorted(events, key=catalog_order, reverse=newest_first)]


def many_events() -> list[CatalogEvent]:
    """20 events on two cameras and both kinds; several share one capture millisecond."""
    events = []
    for n in range(20):
        at = T0 + (n // 4) * timedelta(seconds=7) + (n % 2) * MS if n < 12 else T0 + n * MS
        camera = "porch" if n % 3 else "garage"
        kind: Kind = "snap" if n % 5 == 0 else "record"
        events.append(make_event(f"ev-{n:02d}", at, camera=camera, kind=kind))
    return events


# -- put / get -----------------------------------------------------------------------------

ROUND_TRIP_VARIANTS = {
    "everything": dict(
        media=MediaInfo(
            duration=12.345,
            width=1920,
            height=1080,
            video_codec="h264",
            audio_codec="aac",
            container="mov,mp4,m4a,3gp,3g2,mj2",
        ),
        thumbnail_key="cams/porch/2024-05-01/Hour-12/record/x.mp4.thumb.jpg",
        small_key="cams/porch/2024-05-01/Hour-12/record/x-small.mp4",
        clock_skew=True,
        received_time=datetime(2024, 5, 1, 12, 0, 30, 123000, tzinfo=UTC),
        extra={"source": "ftp", "vendor": "foscam"},
    ),
    "no-media": dict(
        media=None,
        playable=False,
        problem="moov atom not found",
        received_time=None,
    ),
    "media-without-facts": dict(
        media=MediaInfo(duration=None, width=None, height=None, video_codec=None),
        playable=False,
        problem="no video stream",
    ),
}


@pytest.mark.parametrize("changes", ROUND_TRIP_VARIANTS.values(), ids=ROUND_TRIP_VARIANTS.keys())
def test_put_then_get_returns_an_equal_event(catalog: Catalog, changes: dict[str, Any]) -> None:
    event = make_event("ev-1", T0 + 321 * MS, **changes)

    assert catalog.put(event) is True
    stored = catalog.get("ev-1")

    assert stored == event
    assert stored is not None
    assert stored.extra == event.extra
    assert stored.media == event.media
    assert stored.capture_time.utcoffset() == timedelta(0)


def test_instants_in_other_zones_come_back_as_the_same_utc_instant(catalog: Catalog) -> None:
    local = datetime(2024, 5, 1, 14, 0, 0, 250000, tzinfo=ZoneInfo("Europe/Paris"))
    catalog.put(make_event("ev-1", local, received_time=local + timedelta(seconds=5)))

    stored = catalog.get("ev-1")

    assert stored is not None
    assert stored.capture_time == datetime(2024, 5, 1, 12, 0, 0, 250000, tzinfo=UTC)
    assert stored.capture_time.utcoffset() == timedelta(0)
    assert stored.received_time == datetime(2024, 5, 1, 12, 0, 5, 250000, tzinfo=UTC)


def test_the_catalog_keeps_millisecond_precision(catalog: Catalog) -> None:
    catalog.put(make_event("ev-1", T0 + timedelta(microseconds=123_999)))

    stored = catalog.get("ev-1")

    assert stored is not None
    assert stored.capture_time == T0 + timedelta(milliseconds=123)


def test_get_of_a_missing_id_is_none(catalog: Catalog) -> None:
    catalog.put(make_event("ev-1", T0))

    assert catalog.get("ev-2") is None


def test_putting_the_same_event_twice_keeps_one_entry(catalog: Catalog) -> None:
    event = make_event("ev-1", T0)

    assert catalog.put(event) is True
    assert catalog.put(event) is False

    assert ids(catalog.query(EventQuery())) == ["ev-1"]
    [summary] = catalog.cameras()
    assert summary.event_count == 1


def test_a_second_put_replaces_every_field(catalog: Catalog) -> None:
    first = make_event("ev-1", T0, media=None, playable=False, problem="still uploading")
    catalog.put(first)
    catalog.put(make_event("ev-0", T0 + 5 * MS))
    second = make_event(
        "ev-1",
        T0 + 10 * MS,
        size=2048,
        thumbnail_key="thumb.jpg",
        small_key="small.mp4",
        clock_skew=True,
        received_time=T0 + timedelta(hours=1),
        extra={"reprocessed": "yes"},
    )

    assert catalog.put(second) is False

    stored = catalog.get("ev-1")
    assert stored == second
    assert stored is not None
    assert stored.problem is None
    assert stored.extra == {"reprocessed": "yes"}
    assert ids(catalog.query(EventQuery(newest_first=False))) == ["ev-0", "ev-1"]


def test_two_events_in_the_same_millisecond_both_survive(catalog: Catalog) -> None:
    a = make_event("ev-a", T0 + 7 * MS)
    b = make_event("ev-b", T0 + 7 * MS)

    assert catalog.put(a) is True
    assert catalog.put(b) is True

    assert catalog.get("ev-a") == a
    assert catalog.get("ev-b") == b
    assert ids(catalog.query(EventQuery(newest_first=False))) == ["ev-a", "ev-b"]
    assert ids(catalog.query(EventQuery(newest_first=True))) == ["ev-b", "ev-a"]


# -- query: order and filters --------------------------------------------------------------


@pytest.mark.parametrize("newest_first", [True, False], ids=["newest-first", "oldest-first"])
def test_query_lists_every_event_in_catalog_order(catalog: Catalog, newest_first: bool) -> None:
    events = many_events()
    put_all(catalog, events)

    page = catalog.query(EventQuery(newest_first=newest_first, limit=MAX_LIMIT))

    assert ids(page) == expected_ids(events, newest_first=newest_first)
    assert page.next_cursor is None
    by_id = {event.id: event for event in events}
    assert all(event == by_id[event.id] for event in page.events)


def test_camera_filter(catalog: Catalog) -> None:
    events = many_events()
    put_all(catalog, events)

    page = catalog.query(EventQuery(camera="garage", limit=MAX_LIMIT))

    garage = [event for event in events if event.camera == "garage"]
    assert garage
    assert ids(page) == expected_ids(garage, newest_first=True)
    assert catalog.query(EventQuery(camera="nobody")).events == []


def test_kind_filter(catalog: Catalog) -> None:
    events = many_events()
    put_all(catalog, events)

    snaps = catalog.query(EventQuery(kind="snap", newest_first=False, limit=MAX_LIMIT))
    records = catalog.query(EventQuery(kind="record", newest_first=False, limit=MAX_LIMIT))

    expected = [event for event in events if event.kind == "snap"]
    assert ids(snaps) == expected_ids(expected, newest_first=False)
    assert len(snaps.events) + len(records.events) == len(events)
    assert all(event.kind == "record" for event in records.events)


def test_camera_and_kind_filters_combine(catalog: Catalog) -> None:
    events = many_events()
    put_all(catalog, events)

    page = catalog.query(EventQuery(camera="porch", kind="snap", limit=MAX_LIMIT))

    expected = [event for event in events if event.camera == "porch" and event.kind == "snap"]
    assert expected
    assert ids(page) == expected_ids(expected, newest_first=True)


def test_start_is_inclusive_and_end_exclusive_to_the_millisecond(catalog: Catalog) -> None:
    start, end = T0, T0 + timedelta(minutes=1)
    offsets = {"before": start - MS, "at-start": start, "after-start": start + MS}
    offsets |= {"before-end": end - MS, "at-end": end, "after-end": end + MS}
    put_all(catalog, [make_event(name, at) for name, at in offsets.items()])

    page = catalog.query(EventQuery(start=start, end=end, newest_first=False))

    assert ids(page) == ["at-start", "after-start", "before-end"]


def test_bounds_finer_than_a_millisecond_compare_with_the_stored_instant(
    catalog: Catalog,
) -> None:
    put_all(catalog, [make_event("a", T0), make_event("b", T0 + MS)])
    half = timedelta(microseconds=500)

    assert ids(catalog.query(EventQuery(start=T0 + half))) == ["b"]
    assert ids(catalog.query(EventQuery(end=T0 + half))) == ["a"]
    assert ids(catalog.query(EventQuery(end=T0 + MS + half, newest_first=False))) == ["a", "b"]


def test_an_empty_or_inverted_range_lists_nothing(catalog: Catalog) -> None:
    put_all(catalog, [make_event("a", T0)])

    assert catalog.query(EventQuery(start=T0, end=T0)).events == []
    assert catalog.query(EventQuery(start=T0 + MS, end=T0)).events == []


@pytest.mark.parametrize(
    "day",
    [datetime(2024, 3, 10), datetime(2024, 11, 3)],
    ids=["spring-forward-23h", "fall-back-25h"],
)
def test_a_local_day_across_a_dst_change_lists_exactly_its_events(catalog: Catalog, day: datetime) -> None:
    zone = ZoneInfo("America/New_York")
    start = day.replace(tzinfo=zone).astimezone(UTC)
    end = (day + timedelta(days=1)).replace(tzinfo=zone).astimezone(UTC)
    inside = {
        "first": start,
        "two-am-utc": start + timedelta(hours=2),
        "after-change": start + timedelta(hours=3, minutes=30),
        "last": end - MS,
    }
    outside = {"day-before": start - MS, "next-day": end}
    put_all(catalog, [make_event(name, at) for name, at in (inside | outside).items()])

    page = catalog.query(EventQuery(start=start, end=end, newest_first=False))

    assert ids(page) == list(inside)
    assert (end - start) != timedelta(days=1)


# -- pagination ----------------------------------------------------------------------------


@pytest.mark.parametrize("newest_first", [True, False], ids=["newest-first", "oldest-first"])
def test_pages_of_three_list_every_event_exactly_once_in_order(catalog: Catalog, newest_first: bool) -> None:
    events = many_events()
    put_all(catalog, events)

    pages = walk(catalog, EventQuery(newest_first=newest_first, limit=3))

    listed = [event.id for page in pages for event in page.events]
    assert listed == expected_ids(events, newest_first=newest_first)
    assert [len(page.events) for page in pages] == [3] * 6 + [2]
    assert all(page.next_cursor is not None for page in pages[:-1])


def test_pages_with_filters_list_every_matching_event_once(catalog: Catalog) -> None:
    events = many_events()
    put_all(catalog, events)

    pages = walk(catalog, EventQuery(camera="porch", kind="record", newest_first=False, limit=2))

    expected = [e for e in events if e.camera == "porch" and e.kind == "record"]
    listed = [event.id for page in pages for event in page.events]
    assert listed == expected_ids(expected, newest_first=False)


def test_a_last_full_page_has_no_next_cursor(catalog: Catalog) -> None:
    put_all(catalog, [make_event(f"ev-{n}", T0 + n * MS) for n in range(6)])

    pages = walk(catalog, EventQuery(limit=3))

    assert [len(page.events) for page in pages] == [3, 3]
    assert pages[-1].next_cursor is None


def test_a_cursor_from_the_other_order_continues_from_the_same_position(
    catalog: Catalog,
) -> None:
    events = many_events()
    put_all(catalog, events)
    newest = expected_ids(events, newest_first=True)

    first = catalog.query(EventQuery(newest_first=True, limit=5))
    assert first.next_cursor is not None
    onwards = catalog.query(EventQuery(newest_first=False, limit=50, cursor=first.next_cursor))

    assert ids(first) == newest[:5]
    assert ids(onwards) == list(reversed(newest[:4]))


def test_a_cursor_names_a_position_not_an_event(catalog: Catalog) -> None:
    put_all(catalog, [make_event("a", T0), make_event("c", T0), make_event("d", T0 + MS)])
    cursor = encode_cursor(Position(epoch_ms(T0), "b"))

    assert ids(catalog.query(EventQuery(newest_first=False, cursor=cursor))) == ["c", "d"]
    assert ids(catalog.query(EventQuery(newest_first=True, cursor=cursor))) == ["a"]


RANGE_AND_CURSOR = {
    # (newest_first, cursor ms offset, cursor id): ids listed within [T0+2ms, T0+6ms)
    "newest-cursor-after-range": (True, 9, "z", ["e5", "e4", "e3", "e2"]),
    "newest-cursor-at-end": (True, 6, "e5", ["e5", "e4", "e3", "e2"]),
    "newest-cursor-at-end-after-id": (True, 6, "e7", ["e5", "e4", "e3", "e2"]),
    "newest-cursor-inside": (True, 4, "e4", ["e3", "e2"]),
    "newest-cursor-at-start": (True, 2, "e2", []),
    "newest-cursor-before-range": (True, 1, "z", []),
    "oldest-cursor-before-range": (False, 0, "a", ["e2", "e3", "e4", "e5"]),
    "oldest-cursor-at-start": (False, 2, "e2", ["e3", "e4", "e5"]),
    "oldest-cursor-before-start-id": (False, 2, "a", ["e2", "e3", "e4", "e5"]),
    "oldest-cursor-inside": (False, 4, "e4", ["e5"]),
    "oldest-cursor-at-end": (False, 6, "a", []),
}


@pytest.mark.parametrize(
    ("newest_first", "ms", "event_id", "expected"),
    RANGE_AND_CURSOR.values(),
    ids=RANGE_AND_CURSOR.keys(),
)
def test_a_cursor_anywhere_combines_with_a_time_range(
    catalog: Catalog, newest_first: bool, ms: int, event_id: str, expected: list[str]
) -> None:
    put_all(catalog, [make_event(f"e{n}", T0 + n * MS) for n in range(8)])
    cursor = encode_cursor(Position(epoch_ms(T0) + ms, event_id))

    pages = walk(
        catalog,
        EventQuery(start=T0 + 2 * MS, end=T0 + 6 * MS, newest_first=newest_first, limit=2, cursor=cursor),
    )

    assert [event.id for page in pages for event in page.events] == expected


def forged(text: bytes) -> str:
    return base64.urlsafe_b64encode(text).decode().rstrip("=")


BAD_CURSORS = {
    "garbage": "not a cursor!",
    "not-utf8": forged(b"\xff\xfe:\xff"),
    "no-separator": forged(b"1714564800000"),
    "no-id": forged(b"1714564800000:"),
    "no-number": forged(b"yesterday:ev-1"),
}


@pytest.mark.parametrize("cursor", BAD_CURSORS.values(), ids=BAD_CURSORS.keys())
def test_a_bad_cursor_is_rejected(catalog: Catalog, cursor: str) -> None:
    with pytest.raises(BadCursor):
        catalog.query(EventQuery(cursor=cursor))


def test_events_put_after_a_page_was_read_appear_when_still_ahead(catalog: Catalog) -> None:
    put_all(catalog, [make_event(f"ev-{n}", T0 + n * MS) for n in range(6)])
    first = catalog.query(EventQuery(newest_first=False, limit=3))
    assert ids(first) == ["ev-0", "ev-1", "ev-2"]

    catalog.put(make_event("late-behind", T0 + MS))
    catalog.put(make_event("late-ahead", T0 + 4 * MS))
    catalog.put(make_event("ev-2z", T0 + 2 * MS))
    rest = walk(catalog, EventQuery(newest_first=False, limit=3, cursor=first.next_cursor))

    listed = [event.id for page in rest for event in page.events]
    assert listed == ["ev-2z", "ev-3", "ev-4", "late-ahead", "ev-5"]


def test_limit_bounds(catalog: Catalog) -> None:
    put_all(catalog, [make_event(f"ev-{n}", T0 + n * MS) for n in range(4)])

    with pytest.raises(ValueError, match="limit"):
        EventQuery(limit=0)
    with pytest.raises(ValueError, match="limit"):
        EventQuery(limit=MAX_LIMIT + 1)
    assert [ids(page) for page in walk(catalog, EventQuery(limit=1))] == [
        ["ev-3"],
        ["ev-2"],
        ["ev-1"],
        ["ev-0"],
    ]
    assert len(catalog.query(EventQuery(limit=MAX_LIMIT)).events) == 4


def test_an_empty_catalog(catalog: Catalog) -> None:
    page = catalog.query(EventQuery())

    assert page.events == []
    assert page.next_cursor is None
    assert catalog.cameras() == []


# -- cameras and delete --------------------------------------------------------------------


def test_cameras_counts_each_kind_and_names_the_latest_event(catalog: Catalog) -> None:
    events = many_events()
    put_all(catalog, events)

    summaries = catalog.cameras()

    assert [summary.camera for summary in summaries] == ["garage", "porch"]
    for summary in summaries:
        mine = [event for event in events if event.camera == summary.camera]
        assert summary.event_count == len(mine)
        assert summary.record_count == sum(event.kind == "record" for event in mine)
        assert summary.snap_count == sum(event.kind == "snap" for event in mine)
        assert summary.latest == max(mine, key=catalog_order)


def test_the_latest_of_two_in_one_millisecond_is_the_larger_id(catalog: Catalog) -> None:
    put_all(catalog, [make_event("b", T0), make_event("a", T0), make_event("old", T0 - MS)])

    [summary] = catalog.cameras()

    assert summary.latest is not None
    assert summary.latest.id == "b"


def test_cameras_follow_updates_and_deletes(catalog: Catalog) -> None:
    put_all(catalog, [make_event("a", T0), make_event("b", T0 + MS, camera="yard")])

    catalog.put(make_event("a", T0 + 2 * MS, kind="snap"))
    [porch, yard] = catalog.cameras()
    assert (porch.camera, porch.record_count, porch.snap_count) == ("porch", 0, 1)
    assert porch.latest is not None
    assert porch.latest.kind == "snap"

    catalog.put(make_event("c", T0 + 3 * MS, camera="yard"))
    assert catalog.delete("c") is True
    [_, yard] = catalog.cameras()
    assert yard.event_count == 1
    assert yard.latest is not None
    assert yard.latest.id == "b"

    assert catalog.delete("a") is True
    assert [summary.camera for summary in catalog.cameras()] == ["yard"]


def test_delete_removes_the_event_and_says_whether_it_existed(catalog: Catalog) -> None:
    put_all(catalog, [make_event("a", T0), make_event("b", T0 + MS)])

    assert catalog.delete("a") is True
    assert catalog.delete("a") is False
    assert catalog.delete("never") is False

    assert catalog.get("a") is None
    assert ids(catalog.query(EventQuery())) == ["b"]
    assert catalog.put(make_event("a", T0)) is True


# -- keep and alarm incidents -------------------------------------------------------------


def test_keep_is_stored_and_read_back(catalog: Catalog) -> None:
    event = make_event("kept", T0)
    catalog.put(replace(event, keep=True))
    found = catalog.get("kept")
    assert found is not None and found.keep is True
    catalog.put(event)
    again = catalog.get("kept")
    assert again is not None and again.keep is False


def incident_events() -> list[CatalogEvent]:
    """Two cameras; porch has a storm of three snaps and a clip 0-100 s apart (one incident:
    every step <= 60 s), a lone clip, and two snaps 60 s and 61 s after it."""
    s = timedelta(seconds=1)
    return [
        make_event("p-snap-1", T0, kind="snap", thumbnail_key="p1.thumb.jpg"),
        make_event("p-snap-2", T0 + 40 * s, kind="snap"),
        make_event("p-clip-1", T0 + 90 * s, thumbnail_key="p-clip-1.mp4.thumb.jpg"),
        make_event("p-snap-3", T0 + 100 * s, kind="snap"),
        make_event("p-clip-2", T0 + 1000 * s, thumbnail_key=None),
        make_event("p-snap-4", T0 + 1060 * s, kind="snap"),
        make_event("p-snap-5", T0 + 1121 * s, kind="snap"),
        make_event("g-clip-1", T0 + 30 * s, camera="garage", thumbnail_key="g.thumb.jpg"),
    ]


def all_incidents(catalog: Catalog, query: IncidentQuery) -> list[Incident]:
    found: list[Incident] = []
    while True:
        page = catalog.incidents(query)
        found += page.incidents
        if page.next_cursor is None:
            return found
        query = replace(query, cursor=page.next_cursor)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_incidents_do_not_depend_on_arrival_order(catalog: Catalog, seed: int) -> None:
    events = incident_events()
    random.Random(seed).shuffle(events)
    put_all(catalog, events)
    listed = all_incidents(catalog, IncidentQuery(newest_first=False, limit=2))
    assert [(i.camera, i.id, i.event_count) for i in listed] == [
        ("porch", "p-snap-1", 4),
        ("garage", "g-clip-1", 1),
        ("porch", "p-clip-2", 2),
        ("porch", "p-snap-5", 1),
    ]
    assert listed == sorted(group(events, timedelta(seconds=60)), key=lambda i: (i.start, i.id))
    storm = listed[0]
    assert (storm.record_count, storm.snap_count) == (1, 3)
    assert (storm.face_event_id, storm.face_key) == ("p-clip-1", "p-clip-1.mp4.thumb.jpg")
    assert storm.end == T0 + timedelta(seconds=100)
    assert listed[2].face_event_id == "p-snap-4"  # the clip has no thumbnail: the first snap
    for event in events:
        found = catalog.get(event.id)
        assert found is not None
        expected = next(
            i.id for i in listed if i.camera == event.camera and i.start <= event.capture_time <= i.end
        )
        assert found.incident_id == expected, event.id
    page = catalog.query(EventQuery(camera="porch", limit=10))
    assert {e.id: e.incident_id for e in page.events}["p-snap-3"] == "p-snap-1"


def test_deleting_or_moving_an_event_regroups_its_neighbours(catalog: Catalog) -> None:
    put_all(catalog, incident_events())
    assert catalog.delete("p-snap-2")  # 0 s and 90 s are now 90 s apart: the storm splits
    starts = [i.id for i in all_incidents(catalog, IncidentQuery(camera="porch", newest_first=False))]
    assert starts == ["p-snap-1", "p-clip-1", "p-clip-2", "p-snap-5"]
    moved = replace(make_event("p-snap-5", T0 + timedelta(seconds=1119), kind="snap"))
    assert catalog.put(moved) is False  # now 59 s after p-snap-4: it joins that incident
    found = catalog.get("p-snap-5")
    assert found is not None and found.incident_id == "p-clip-2"
    assert catalog.delete("p-snap-1")
    detail = catalog.incident("p-clip-1")
    assert detail is not None
    assert [e.id for e in detail.events] == ["p-clip-1", "p-snap-3"] and detail.incident.event_count == 2
    assert catalog.incident("p-snap-3") is None and catalog.incident("p-snap-1") is None


def test_incidents_filter_by_camera_and_time_newest_first(catalog: Catalog) -> None:
    put_all(catalog, incident_events())
    query = IncidentQuery(camera="porch", start=T0 + timedelta(seconds=1), end=T0 + timedelta(hours=1))
    assert [i.id for i in all_incidents(catalog, query)] == ["p-snap-5", "p-clip-2"]
    with pytest.raises(BadCursor):
        catalog.incidents(IncidentQuery(cursor="not a cursor"))
