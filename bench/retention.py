"""Retention planning and incident upkeep: how long they take at a few years of one site's data.

Run: ``.venv/bin/python bench/retention.py [--events N]`` (default 100 000 events). It measures

- ``plan``: the retention plan over a listing of N originals, each with a thumbnail (2N objects),
  against the reference of merely sorting that listing by key (the least any planner does);
- ``put``: cataloging N events arriving in shuffled order into the SQLite catalog, which keeps
  the incident flags in the same transaction, against the same catalog with the flags' upkeep
  left out (the schema of version 1: ``put`` as before incidents);
- ``incidents``: reading a page of 50 incidents, against a page of 50 events.

and prints one Markdown table row per measure for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import gc
import platform
import random
import sqlite3
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from camvault.catalog import sqlite_schema
from camvault.catalog.base import EventQuery, IncidentQuery
from camvault.catalog.sqlite import SQLiteCatalog
from camvault.domain.keys import build_key, event_id_for_key, thumbnail_key
from camvault.domain.model import CatalogEvent, Kind, MediaInfo
from camvault.retention import Policy, StoredObject, plan

T0 = datetime(2023, 1, 1, tzinfo=UTC)
CAMERAS = ("front", "garage", "porch", "yard")


def events(count: int) -> list[CatalogEvent]:
    """Alarm bursts: 1-6 events a few seconds apart, bursts minutes to hours apart."""
    made: list[CatalogEvent] = []
    rng = random.Random(6)
    at = {camera: T0 for camera in CAMERAS}
    while len(made) < count:
        camera = rng.choice(CAMERAS)
        at[camera] += timedelta(minutes=rng.randint(2, 600))
        for n in range(rng.randint(1, 6)):
            when = at[camera] + timedelta(seconds=7 * n)
            kind: Kind = "record" if n == 0 else "snap"
            name = f"{camera}-{len(made)}.{'mp4' if kind == 'record' else 'jpg'}"
            key = build_key("cams", camera, when, kind, name).key
            made.append(
                CatalogEvent(
                    id=event_id_for_key(key),
                    camera=camera,
                    kind=kind,
                    capture_time=when,
                    key=key,
                    size=1_000_000,
                    content_type="video/mp4" if kind == "record" else "image/jpeg",
                    media=MediaInfo(10.0, 1280, 720, "h264"),
                    playable=True,
                    thumbnail_key=thumbnail_key(key),
                )
            )
    return made[:count]


def timed(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def listing_of(made: list[CatalogEvent]) -> list[StoredObject]:
    """What a store lists for ``made``: each original and its thumbnail, in no particular order."""
    listing = [StoredObject(e.key, e.size, e.capture_time) for e in made]
    listing += [StoredObject(thumbnail_key(e.key), 20_000, e.capture_time) for e in made]
    random.Random(1).shuffle(listing)
    return listing


def bench_plan(listing: list[StoredObject], now: datetime) -> tuple[float, float]:
    policy = Policy(now=now, prefix="cams", default_days=30, max_bytes=10**12)
    return timed(lambda: plan(listing, policy)), timed(lambda: sorted(listing, key=lambda o: o.key))


def plain_put(path: Path, made: list[CatalogEvent]) -> None:
    """The reference: the same upsert into the version-1 schema, no incident upkeep."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    for statement in sqlite_schema.MIGRATIONS[0]:
        db.execute(statement)
    columns = [c for c in sqlite_schema.COLUMNS if c != "keep"]
    sql = f"INSERT INTO events ({', '.join(columns)}) VALUES ({', '.join(':' + c for c in columns)})"  # noqa: S608
    for event in made:
        row = sqlite_schema.event_to_row(event)
        db.execute("BEGIN IMMEDIATE")
        db.execute(sql, {c: row[c] for c in columns})
        db.execute("COMMIT")
    db.close()


def bench_catalog(folder: Path, made: list[CatalogEvent]) -> tuple[float, float, float, float]:
    shuffled = list(made)
    random.Random(2).shuffle(shuffled)
    catalog = SQLiteCatalog(folder / "catalog.db")
    try:
        put = timed(lambda: [catalog.put(e) for e in shuffled])
        incidents = timed(lambda: catalog.incidents(IncidentQuery(limit=50)))
        page = timed(lambda: catalog.query(EventQuery(limit=50)))
    finally:
        catalog.close()
    reference = timed(lambda: plain_put(folder / "plain.db", shuffled))
    return put, reference, incidents, page


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    count = parser.parse_args().events
    made = events(count)
    with tempfile.TemporaryDirectory() as tmp:
        put, plain, incidents, page = bench_catalog(Path(tmp), made)
    listing, now = listing_of(made), made[-1].capture_time
    del made  # `camvault retention` holds the listing only
    gc.collect()
    planned, sorted_only = bench_plan(listing, now)
    machine = f"{platform.node()} ({platform.machine()}, Python {platform.python_version()})"
    print(f"{machine}, {datetime.now(UTC):%Y-%m-%d}")
    print("| measure | camvault | reference |")
    print("|---|---|---|")
    print(f"| retention plan, {2 * count} objects | {planned:.2f} s | sort by key: {sorted_only:.2f} s |")
    rate, plain_rate = f"{count / put:.0f}/s", f"{count / plain:.0f}/s"
    print(f"| catalog {count} shuffled events | {rate} | without incident upkeep: {plain_rate} |")
    print(f"| page of 50 | incidents: {incidents * 1000:.1f} ms | events: {page * 1000:.1f} ms |")


if __name__ == "__main__":
    main()
