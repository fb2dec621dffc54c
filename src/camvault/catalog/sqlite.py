"""The embedded catalog: one SQLite file in WAL mode, one writer thread, per-thread readers.

Decides how SQLite is used safely from many threads (API workers, processor threads):

- every write (``put``, ``delete``, migrations) runs on ONE dedicated writer thread that owns
  the only read-write connection; callers hand it work through a queue and block for the
  result (the pattern of Datasette's ``Database._execute_writes``), so writers never meet
  "database is locked" inside this process;
- reads use one connection per calling thread (``threading.local``), opened ``query_only``;
  WAL lets them read while the writer writes;
- ``close()`` stops the writer thread and closes every connection it opened, readers included.

``sqlite:///:memory:`` keeps everything on the writer's single connection (an in-memory
database exists only inside one connection), reads included; it is meant for tests.

The catalog keeps millisecond precision (see ``camvault.catalog.sqlite_schema``). Schema,
SQL and row mapping live in ``sqlite_schema``, alarm incidents in ``sqlite_incidents``; this
module never builds SQL from input.
"""

from __future__ import annotations

import queue
import sqlite3
import threading
import weakref
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar, cast

from camvault import sqlitedb
from camvault.catalog import sqlite_incidents as incidents
from camvault.catalog import sqlite_schema as schema
from camvault.catalog.base import (
    CameraSummary,
    CatalogError,
    EventPage,
    EventQuery,
    IncidentPage,
    IncidentQuery,
    JSONPage,
    encode_cursor,
)
from camvault.domain.incidents import DEFAULT_GAP, IncidentDetail
from camvault.domain.model import CatalogEvent

MEMORY = ":memory:"
URL_PREFIX = "sqlite:///"
BUSY_TIMEOUT_S = 10.0

T = TypeVar("T")
Work = Callable[[sqlite3.Connection], T]


class _Connection(sqlite3.Connection):
    """A plain connection that can be weakly referenced (the C type cannot)."""


@dataclass(frozen=True)
class _Task:
    work: Callable[[sqlite3.Connection], object]
    result: Future[object]
    write: bool


_STOP = None


class SQLiteCatalog:
    """The ``Catalog`` protocol on one SQLite file (or ``:memory:``)."""

    # Reads are lookups in a local file, bounded by an index and a page limit: an async caller
    # (the API's events route) may run them on its event loop instead of a worker thread.
    local_reads = True

    def __init__(self, path: Path | str, *, incident_gap: timedelta = DEFAULT_GAP) -> None:
        self.path = Path(path)
        self._gap_ms = incident_gap // timedelta(milliseconds=1)
        self.in_memory = str(path) == MEMORY
        if not self.in_memory and not self.path.parent.is_dir():
            raise CatalogError(f"cannot open catalog {self.path}: folder {self.path.parent} does not exist")
        self._lock = threading.Lock()
        self._closed = False
        self._tasks: queue.SimpleQueue[_Task | None] = queue.SimpleQueue()
        self._local = threading.local()
        self._readers: weakref.WeakSet[_Connection] = weakref.WeakSet()
        started: Future[None] = Future()
        self._writer = threading.Thread(
            target=self._write_loop, args=(started,), name="camvault-catalog-writer", daemon=True
        )
        self._writer.start()
        try:
            started.result()
        except BaseException:
            self._writer.join()
            self._closed = True
            raise

    @classmethod
    def from_url(cls, url: str, base_dir: Path, *, incident_gap: timedelta = DEFAULT_GAP) -> SQLiteCatalog:
        """Open ``sqlite:///relative.db`` (relative to ``base_dir``), ``sqlite:////abs.db``
        or ``sqlite:///:memory:``. The path is taken literally (no percent-decoding)."""
        return cls(sqlite_path_from_url(url, base_dir), incident_gap=incident_gap)

    # -- the Catalog protocol -------------------------------------------------------------

    def put(self, event: CatalogEvent) -> bool:
        """Insert or replace the event with ``event.id``; True when it was new."""
        row = schema.event_to_row(event)

        def work(conn: sqlite3.Connection) -> bool:
            before = incidents.place_of(conn, event.id)
            try:
                conn.execute(schema.UPSERT_SQL, row)
            except sqlite3.IntegrityError as exc:
                raise CatalogError(
                    f"cannot catalog event {event.id!r}: key {event.key!r} already belongs "
                    f"to another event ({exc})"
                ) from exc
            incidents.after_put(conn, before, event, self._gap_ms)
            return before is None

        return self._write(work)

    def get(self, event_id: str) -> CatalogEvent | None:
        def work(conn: sqlite3.Connection) -> CatalogEvent | None:
            row = conn.execute(schema.GET_SQL, (event_id,)).fetchone()
            return schema.row_to_event(row) if row is not None else None

        return self._read(work)

    def query(self, query: EventQuery) -> EventPage:
        rows, cursor = self._page(query, schema.SELECT_COLUMNS)
        return EventPage([schema.row_to_event(row) for row in rows], cursor)

    def query_json(self, query: EventQuery) -> JSONPage:
        """The page ``query`` would give, each event already in the API's JSON (built by SQLite)."""
        rows, cursor = self._page(query, schema.PAGE_COLUMNS)
        return JSONPage("[" + ",".join([row[0] for row in rows]) + "]", cursor)

    def _page(self, query: EventQuery, columns: str) -> tuple[list[Any], str | None]:
        """The rows (``columns``) of one page, and the cursor of the next page, if any."""
        statement = schema.select_page(query, columns=columns)

        def work(conn: sqlite3.Connection) -> tuple[list[Any], str | None]:
            rows = conn.execute(statement.sql, statement.params).fetchall()
            more = len(rows) > query.limit
            rows = rows[: query.limit]
            return rows, encode_cursor(schema.last_position(rows)) if more else None

        return self._read(work)

    def cameras(self) -> list[CameraSummary]:
        def work(conn: sqlite3.Connection) -> list[CameraSummary]:
            summaries = []
            for row in conn.execute(schema.CAMERAS_SQL):
                latest = schema.row_to_event(row)
                summaries.append(
                    CameraSummary(
                        camera=latest.camera,
                        event_count=row["record_count"] + row["snap_count"],
                        record_count=row["record_count"],
                        snap_count=row["snap_count"],
                        latest=latest,
                    )
                )
            return summaries

        return self._read(work)

    def delete(self, event_id: str) -> bool:
        def work(conn: sqlite3.Connection) -> bool:
            before = incidents.place_of(conn, event_id)
            if before is None:
                return False
            conn.execute(schema.DELETE_SQL, (event_id,))
            incidents.after_delete(conn, before, self._gap_ms)
            return True

        return self._write(work)

    def incidents(self, query: IncidentQuery) -> IncidentPage:
        events = EventQuery(
            camera=query.camera,
            start=query.start,
            end=query.end,
            newest_first=query.newest_first,
            limit=query.limit,
            cursor=query.cursor,
        )
        statement = schema.select_page(events, incident_starts=True)

        def work(conn: sqlite3.Connection) -> IncidentPage:
            with incidents.snapshot(conn):
                rows = conn.execute(statement.sql, statement.params).fetchall()
                more = len(rows) > query.limit
                rows = rows[: query.limit]
                cursor = encode_cursor(schema.last_position(rows)) if more else None
                starts = [schema.row_to_event(row) for row in rows]
                return IncidentPage(incidents.summaries(conn, starts), cursor)

        return self._read(work)

    def incident(self, incident_id: str) -> IncidentDetail | None:
        return self._read(lambda conn: incidents.incident(conn, incident_id))

    def count(self) -> int:
        """How many events the catalog holds."""

        def work(conn: sqlite3.Connection) -> int:
            return int(conn.execute(schema.COUNT_SQL).fetchone()[0])

        return self._read(work)

    def close(self) -> None:
        """Stop the writer thread and close every connection; later calls raise CatalogError."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            readers = list(self._readers)
            self._tasks.put(_STOP)
        for conn in readers:
            conn.close()
        self._writer.join()

    def __enter__(self) -> SQLiteCatalog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- connections and the writer thread ------------------------------------------------

    def _write(self, work: Work[T]) -> T:
        return self._submit(work, write=True)

    def _read(self, work: Work[T]) -> T:
        if self.in_memory:
            return self._submit(work, write=False)
        conn = self._reader()
        try:
            return work(conn)
        except sqlite3.Error as exc:
            raise CatalogError(f"catalog {self.path}: read failed: {exc}") from exc

    def _submit(self, work: Work[T], *, write: bool) -> T:
        result: Future[object] = Future()
        with self._lock:
            if self._closed:
                raise CatalogError(f"catalog {self.path} is closed")
            self._tasks.put(_Task(work, result, write))
        return cast(T, result.result())

    def _reader(self) -> sqlite3.Connection:
        conn: _Connection | None = getattr(self._local, "conn", None)
        if conn is not None and not self._closed:
            return conn
        with self._lock:
            if self._closed:
                raise CatalogError(f"catalog {self.path} is closed")
            conn = self._connect(check_same_thread=False)
            conn.execute("PRAGMA query_only = ON")
            self._readers.add(conn)
        self._local.conn = conn
        return conn

    def _connect(self, *, check_same_thread: bool) -> _Connection:
        try:
            conn = sqlite3.connect(
                str(self.path),
                timeout=BUSY_TIMEOUT_S,
                isolation_level=None,
                check_same_thread=check_same_thread,
                factory=_Connection,
            )
        except sqlite3.Error as exc:
            raise CatalogError(f"cannot open catalog {self.path}: {exc}") from exc
        conn.row_factory = sqlite3.Row
        return conn

    def _open_writer(self) -> sqlite3.Connection:
        conn = self._connect(check_same_thread=True)
        try:
            if not self.in_memory:
                sqlitedb.enable_wal(conn)
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            schema.migrate(conn)
            with sqlitedb.transaction(conn):
                incidents.use_gap(conn, self._gap_ms)
        except sqlite3.Error as exc:
            conn.close()
            raise CatalogError(f"cannot open catalog {self.path}: {exc}") from exc
        except BaseException:
            conn.close()
            raise
        return conn

    def _write_loop(self, started: Future[None]) -> None:
        try:
            conn = self._open_writer()
        except BaseException as exc:
            started.set_exception(exc)
            return
        started.set_result(None)
        try:
            while (task := self._tasks.get()) is not None:
                self._run(conn, task)
        finally:
            conn.close()

    def _run(self, conn: sqlite3.Connection, task: _Task) -> None:
        if not task.result.set_running_or_notify_cancel():
            return
        try:
            if task.write:
                conn.execute("BEGIN IMMEDIATE")
            try:
                value = task.work(conn)
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            if conn.in_transaction:
                conn.execute("COMMIT")
        except sqlite3.Error as exc:
            task.result.set_exception(CatalogError(f"catalog {self.path}: {exc}"))
        except Exception as exc:
            task.result.set_exception(exc)
        else:
            task.result.set_result(value)


def sqlite_path_from_url(url: str, base_dir: Path) -> Path | str:
    """The database path a ``sqlite:///`` URL names: relative to ``base_dir``, absolute with a
    fourth slash, or ``":memory:"``. Anything else is a ValueError that shows the accepted forms."""
    if not url.startswith(URL_PREFIX):
        raise ValueError(
            f"catalog URL {url!r} is not a SQLite URL: use sqlite:///relative.db, "
            "sqlite:////absolute/path.db or sqlite:///:memory:"
        )
    rest = url[len(URL_PREFIX) :]
    if not rest or rest == "/":
        raise ValueError(f"catalog URL {url!r} names no database file: use sqlite:///catalog.db")
    if "?" in rest or "#" in rest:
        raise ValueError(f"catalog URL {url!r}: query strings and fragments are not supported")
    if rest == MEMORY:
        return MEMORY
    path = Path(rest)
    return path if path.is_absolute() else base_dir / path
