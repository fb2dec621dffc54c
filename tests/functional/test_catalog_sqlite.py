"""SQLiteCatalog on real files: URLs, WAL, threads, persistence, query plans and clean shutdown.

What every backend must do is in tests/contract/test_catalog_contract.py; this file covers what
only the SQLite backend promises.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from camvault.catalog import sqlite_schema as schema
from camvault.catalog.base import CatalogError, EventQuery, Position, encode_cursor
from camvault.catalog.sqlite import SQLiteCatalog, sqlite_path_from_url
from tests.support.catalog_backends import catalog_order, epoch_ms, make_event

pytestmark = pytest.mark.functional

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
MS = timedelta(milliseconds=1)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "catalog.db"


@pytest.fixture
def catalog(db_path: Path) -> Iterator[SQLiteCatalog]:
    opened = SQLiteCatalog(db_path)
    try:
        yield opened
    finally:
        opened.close()


def run_threads(count: int, target: Callable[[int], object]) -> list[BaseException]:
    """Run ``target(n)`` on ``count`` threads started together; the exceptions they raised."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(count)

    def body(n: int) -> None:
        barrier.wait()
        try:
            target(n)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=body, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    return errors


def open_fds() -> dict[int, str]:
    fds = {}
    for link in Path("/proc/self/fd").iterdir():
        try:
            fds[int(link.name)] = str(link.readlink())
        except FileNotFoundError:
            continue  # the fd iterdir itself used
    return fds


# -- URLs and opening ----------------------------------------------------------------------


def test_url_forms(tmp_path: Path) -> None:
    assert sqlite_path_from_url("sqlite:///data/catalog.db", tmp_path) == (tmp_path / "data" / "catalog.db")
    assert sqlite_path_from_url("sqlite:////var/lib/cv.db", tmp_path) == Path("/var/lib/cv.db")
    assert sqlite_path_from_url("sqlite:///:memory:", tmp_path) == ":memory:"


@pytest.mark.parametrize(
    "url",
    [
        "dynamodb://table",
        "sqlite://catalog.db",
        "sqlite:///",
        "sqlite:////",
        "sqlite:///catalog.db?mode=ro",
        "SQLITE:///catalog.db",
        "catalog.db",
    ],
)
def test_other_urls_are_rejected_with_the_accepted_forms(tmp_path: Path, url: str) -> None:
    with pytest.raises(ValueError, match="sqlite:///"):
        SQLiteCatalog.from_url(url, tmp_path)


def test_from_url_opens_the_file_relative_to_the_base_folder(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    with SQLiteCatalog.from_url("sqlite:///data/catalog.db", tmp_path) as catalog:
        catalog.put(make_event("a", T0))
    assert (tmp_path / "data" / "catalog.db").is_file()


def test_a_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="does not exist"):
        SQLiteCatalog(tmp_path / "nowhere" / "catalog.db")


def test_a_file_that_is_not_a_database_is_a_clear_error(db_path: Path) -> None:
    db_path.write_bytes(b"this is a video, not a catalog" * 100)
    threads = set(threading.enumerate())

    with pytest.raises(CatalogError, match=str(db_path)):
        SQLiteCatalog(db_path)
    assert set(threading.enumerate()) == threads


def test_a_newer_schema_is_refused(db_path: Path) -> None:
    with sqlite3.connect(db_path) as conn:
        conn.execute(f"PRAGMA user_version = {schema.SCHEMA_VERSION + 1}")
    conn.close()

    with pytest.raises(CatalogError, match="upgrade camvault"):
        SQLiteCatalog(db_path)


def test_the_file_is_in_wal_mode_at_the_current_schema_version(catalog: SQLiteCatalog, db_path: Path) -> None:
    catalog.put(make_event("a", T0))
    conn = sqlite3.connect(db_path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert conn.execute("PRAGMA user_version").fetchone() == (schema.SCHEMA_VERSION,)
    finally:
        conn.close()
    assert db_path.with_name("catalog.db-wal").exists()


def test_reopening_the_file_finds_everything_written(db_path: Path) -> None:
    events = [make_event(f"ev-{n}", T0 + n * MS, camera=f"cam{n % 2}") for n in range(10)]
    with SQLiteCatalog(db_path) as catalog:
        for event in events:
            catalog.put(event)
        catalog.delete("ev-3")

    with SQLiteCatalog(db_path) as reopened:
        assert reopened.count() == 9
        assert reopened.get("ev-4") == events[4]
        assert reopened.get("ev-3") is None
        assert [summary.event_count for summary in reopened.cameras()] == [5, 4]


def test_memory_catalogs_are_separate_and_readable_from_any_thread(tmp_path: Path) -> None:
    with (
        SQLiteCatalog.from_url("sqlite:///:memory:", tmp_path) as one,
        SQLiteCatalog.from_url("sqlite:///:memory:", tmp_path) as two,
    ):
        one.put(make_event("a", T0))
        seen: list[int] = []
        assert run_threads(3, lambda _: seen.append(one.count())) == []
        assert seen == [1, 1, 1]
        assert two.count() == 0
    assert list(tmp_path.iterdir()) == []


# -- one writer, many threads --------------------------------------------------------------


def test_puts_from_eight_threads_are_all_kept(catalog: SQLiteCatalog) -> None:
    firsts: list[bool] = []

    def put_many(n: int) -> None:
        for i in range(100):
            catalog.put(make_event(f"t{n}-{i:03d}", T0 + i * MS, camera=f"cam{n}"))
        firsts.append(catalog.put(make_event("shared", T0)))

    assert run_threads(8, put_many) == []

    assert catalog.count() == 8 * 100 + 1
    assert sorted(firsts) == [False] * 7 + [True]
    assert sum(summary.event_count for summary in catalog.cameras()) == 801


def test_reads_during_writes_see_consistent_growing_pages(catalog: SQLiteCatalog) -> None:
    done = threading.Event()
    total = 300
    seen: list[int] = []

    def write(_: int) -> None:
        try:
            for i in range(total):
                catalog.put(make_event(f"ev-{i:04d}", T0 + (i // 3) * MS))
        finally:
            done.set()

    def read(_: int) -> None:
        last = 0
        while not done.is_set():
            page = catalog.query(EventQuery(newest_first=False, limit=500))
            assert list(page.events) == sorted(page.events, key=catalog_order)
            assert len(page.events) >= last
            last = len(page.events)
            seen.append(last)
            counted = sum(summary.event_count for summary in catalog.cameras())
            assert counted >= last

    errors = run_threads(5, lambda n: write(n) if n == 0 else read(n))

    assert errors == []
    assert any(0 < size < total for size in seen), "no read overlapped the writes"
    assert catalog.count() == total
    assert len(catalog.query(EventQuery(limit=500)).events) == total


def test_a_failed_write_rolls_back_and_the_catalog_keeps_working(
    catalog: SQLiteCatalog,
) -> None:
    first = make_event("a", T0)
    catalog.put(first)

    with pytest.raises(CatalogError, match="already belongs"):
        catalog.put(make_event("b", T0, key=first.key))

    assert catalog.count() == 1
    assert catalog.get("b") is None
    assert catalog.put(make_event("c", T0)) is True
    assert [summary.event_count for summary in catalog.cameras()] == [2]


# -- indexes -------------------------------------------------------------------------------

DAY = timedelta(days=1)
MIDDLE = T0 + 50_000 * 500 * MS
SOMEWHERE = encode_cursor(Position(epoch_ms(MIDDLE), "ev-050000"))
QUERY_SHAPES = {
    "all": EventQuery(),
    "all-oldest-first": EventQuery(newest_first=False),
    "camera": EventQuery(camera="cam3"),
    "camera-time": EventQuery(camera="cam3", start=T0, end=T0 + DAY),
    "camera-time-cursor": EventQuery(camera="cam3", start=T0, end=T0 + DAY, cursor=SOMEWHERE),
    "kind": EventQuery(kind="snap", newest_first=False),
    "camera-kind-cursor": EventQuery(camera="cam3", kind="record", cursor=SOMEWHERE),
    "time": EventQuery(start=T0, end=T0 + timedelta(hours=1)),
}
# Pages deep inside 100k events (see test_a_deep_page_costs_as_little_as_the_first): the
# cursor is half-way, and the time range spans everything.
DEEP_PAGES = {
    "newest-first": EventQuery(cursor=SOMEWHERE),
    "oldest-first": EventQuery(newest_first=False, cursor=SOMEWHERE),
    "camera-range-newest-first": EventQuery(
        camera="cam3",
        start=T0,
        end=T0 + 2 * DAY,
        cursor=SOMEWHERE,
    ),
    "camera-range-oldest-first": EventQuery(
        camera="cam3",
        start=T0,
        end=T0 + 2 * DAY,
        newest_first=False,
        cursor=SOMEWHERE,
    ),
    "kind-range-newest-first": EventQuery(
        kind="record",
        start=T0 - DAY,
        end=T0 + 2 * DAY,
        cursor=SOMEWHERE,
    ),
    "camera-kind-range-oldest-first": EventQuery(
        camera="cam3",
        kind="snap",
        start=T0 - DAY,
        end=T0 + 2 * DAY,
        newest_first=False,
        cursor=SOMEWHERE,
    ),
}
FILL_100K = """
    WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 99999)
    INSERT INTO events (
        id, camera, kind, capture_ms, key, size, content_type, has_media, playable, clock_skew
    )
    SELECT printf('ev-%06d', i), 'cam' || (i % 20),
           CASE WHEN i % 7 = 0 THEN 'snap' ELSE 'record' END,
           ? + i * 500, 'cams/' || i, 1000, 'video/mp4', 0, 1, 0
    FROM n
"""


def plan(conn: sqlite3.Connection, sql: str, params: tuple[object, ...] = ()) -> str:
    rows = conn.execute(f"EXPLAIN QUERY PLAN {sql}", params).fetchall()
    return "\n".join(str(row[3]) for row in rows)


def plan_of(db_path: Path, query: EventQuery) -> str:
    statement = schema.select_page(query)
    conn = sqlite3.connect(db_path)
    try:
        return plan(conn, statement.sql, statement.params)
    finally:
        conn.close()


@pytest.mark.parametrize(
    "query",
    [*QUERY_SHAPES.values(), *DEEP_PAGES.values()],
    ids=[*QUERY_SHAPES.keys(), *(f"deep-{name}" for name in DEEP_PAGES)],
)
def test_every_query_shape_walks_an_index_without_sorting(
    catalog: SQLiteCatalog, db_path: Path, query: EventQuery
) -> None:
    text = plan_of(db_path, query)

    assert "USING INDEX" in text or "USING COVERING INDEX" in text, text
    assert "TEMP B-TREE" not in text, text
    if query.camera is not None or query.start is not None or query.kind is not None:
        assert "SCAN" not in text, text


def test_camera_time_and_cursor_seek_the_camera_time_index(catalog: SQLiteCatalog, db_path: Path) -> None:
    text = plan_of(db_path, QUERY_SHAPES["camera-time-cursor"])
    conn = sqlite3.connect(db_path)
    try:
        cameras = plan(conn, schema.CAMERAS_SQL)
    finally:
        conn.close()

    assert "SEARCH events USING INDEX events_camera_time (camera=? AND " in text, text
    assert "(capture_ms,id)<(?,?)" in text, text
    assert "SCAN events" not in cameras, cameras
    assert "events_camera_time (camera=?)" in cameras, cameras


def test_a_deep_page_costs_as_little_as_the_first(catalog: SQLiteCatalog, db_path: Path) -> None:
    conn = sqlite3.connect(db_path, isolation_level=None)
    try:
        conn.execute(FILL_100K, (epoch_ms(T0),))
        ticks = [0]

        def tick() -> int:
            ticks[0] += 1
            return 0

        def work(sql: str, params: tuple[object, ...] = ()) -> int:
            ticks[0] = 0
            conn.set_progress_handler(tick, 100)
            rows = conn.execute(sql, params).fetchall()
            conn.set_progress_handler(None, 0)
            assert rows
            return ticks[0]

        pages = {
            name: work(schema.select_page(query).sql, schema.select_page(query).params)
            for name, query in (QUERY_SHAPES | DEEP_PAGES).items()
        }
        pages["cameras"] = work(schema.CAMERAS_SQL)
        scan = work("SELECT COUNT(*) FROM events WHERE size + 0 = 1000")
    finally:
        conn.close()

    assert catalog.count() == 100_000
    assert [summary.event_count for summary in catalog.cameras()] == [5000] * 20
    assert max(pages.values()) * 100 < scan, (pages, scan)


# -- shutdown ------------------------------------------------------------------------------


def test_close_leaves_no_thread_and_no_file_descriptor(db_path: Path) -> None:
    threads_before = set(threading.enumerate())
    fds_before = open_fds()
    catalog = SQLiteCatalog(db_path)
    catalog.put(make_event("a", T0))
    assert run_threads(4, lambda _: catalog.query(EventQuery())) == []
    catalog.cameras()
    read_once = threading.Event()
    release = threading.Event()

    def reader_still_running() -> None:
        catalog.get("a")
        read_once.set()
        release.wait(30)

    lingering = threading.Thread(target=reader_still_running)
    lingering.start()
    read_once.wait(30)
    assert any(str(db_path) in target for target in open_fds().values())

    catalog.close()
    fds_after = open_fds()
    release.set()
    lingering.join(30)

    assert set(threading.enumerate()) == threads_before
    assert fds_after == fds_before
    assert not any(str(db_path) in target for target in fds_after.values())


def test_a_closed_catalog_refuses_work_and_closes_twice_quietly(catalog: SQLiteCatalog) -> None:
    catalog.put(make_event("a", T0))
    catalog.close()
    catalog.close()

    with pytest.raises(CatalogError, match="closed"):
        catalog.get("a")
    with pytest.raises(CatalogError, match="closed"):
        catalog.put(make_event("b", T0))
    errors = run_threads(2, lambda _: catalog.query(EventQuery()))
    assert [type(error) for error in errors] == [CatalogError, CatalogError]
