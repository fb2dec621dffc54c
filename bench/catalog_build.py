"""A catalog of many events for benchmarks, built once and cached between runs.

Events are what the processor would write (keys, thumbnails, media facts) for eight cameras,
one every ~31 s over the year before the build, in alarm incidents: each camera sends runs of
``RUN`` events 31 s apart (one incident each, with the default 60 s gap). Built with one
transaction of batched inserts into a temporary file that is renamed into place, so an
interrupted build is never reused.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from camvault.catalog.sqlite import SQLiteCatalog
from camvault.catalog.sqlite_incidents import GAP_SETTING
from camvault.catalog.sqlite_schema import UPSERT_SQL, event_to_row
from camvault.cli.progress import Progress
from camvault.domain.keys import build_key, event_id_for_key, small_key, thumbnail_key
from camvault.domain.model import CatalogEvent, MediaInfo

CAMERAS = [f"cam{number:02d}" for number in range(8)]
SPACING_MS = 31_000
RUN = 4  # consecutive events of one camera: an incident
BATCH = 20_000
LAYOUT = 3  # in the cached file's name: a catalog built by an older layout is not reused


def cached_catalog(folder: Path, count: int) -> Path:
    """``folder/catalog-COUNT-vLAYOUT.db``, built unless a complete one is there already."""
    path = folder / f"catalog-{count}-v{LAYOUT}.db"
    if path.exists() and _count(path) == count:
        print(f"catalog: reusing {path} ({count:,} events)")
        return path
    folder.mkdir(parents=True, exist_ok=True)
    building = path.with_suffix(".building")
    for stale in (building, *_sidecars(building), path, *_sidecars(path)):
        stale.unlink(missing_ok=True)
    SQLiteCatalog(building).close()  # the schema, migrations and triggers of the real catalog
    _fill(building, count)
    _group_incidents(building)
    building.replace(path)
    return path


def bench_event(number: int, end: datetime, count: int) -> CatalogEvent:
    at = end - timedelta(milliseconds=(count - number) * SPACING_MS + (number * 7919) % 1000)
    camera = CAMERAS[number // RUN % len(CAMERAS)]
    snap = number % 4 == 0
    name = f"{camera}_{at:%Y%m%d%H%M%S}_{number:07d}." + ("jpg" if snap else "mp4")
    key = build_key("patrolcams", camera, at, "snap" if snap else "record", name).key
    return CatalogEvent(
        id=event_id_for_key(key),
        camera=camera,
        kind="snap" if snap else "record",
        capture_time=at,
        key=key,
        size=48_213 if snap else 2_417_889,
        content_type="image/jpeg" if snap else "video/mp4",
        media=MediaInfo(
            duration=None if snap else 12.5, width=1920, height=1080, video_codec=None if snap else "h264"
        ),
        playable=True,
        thumbnail_key=thumbnail_key(key),
        small_key=None if snap else small_key(key),
        received_time=at + timedelta(seconds=3),
    )


def _fill(path: Path, count: int) -> None:
    end = datetime.now(UTC).replace(microsecond=0)
    progress = Progress("building catalog", count)
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("PRAGMA synchronous = OFF")
        db.execute("PRAGMA cache_size = -262144")  # 256 MiB: the random-id index stays in memory
        db.execute("BEGIN")
        rows = []
        for number in range(count):
            rows.append(event_to_row(bench_event(number, end, count)))
            if len(rows) == BATCH or number == count - 1:
                db.executemany(UPSERT_SQL, rows)
                progress.advance(len(rows))
                rows = []
        db.execute("COMMIT")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.execute("ANALYZE")
    finally:
        db.close()
    progress.finish()


def _group_incidents(path: Path) -> None:
    """The raw inserts left every event flagged as starting an incident: forgetting the gap the
    flags were computed with makes the catalog recompute them all when it opens, as it does
    after a change of gap."""
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("DELETE FROM catalog_settings WHERE name = ?", (GAP_SETTING,))
    finally:
        db.close()
    print("catalog: grouping events into incidents")
    SQLiteCatalog(path).close()


def _count(path: Path) -> int:
    try:
        with SQLiteCatalog(path) as catalog:
            return catalog.count()
    except sqlite3.Error:
        return -1


def _sidecars(path: Path) -> list[Path]:
    return [path.with_name(path.name + suffix) for suffix in ("-wal", "-shm")]
