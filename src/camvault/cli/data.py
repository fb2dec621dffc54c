"""Verbs over the data: ``ingest``, ``events``, ``reindex``, ``status``."""

from __future__ import annotations

import argparse
import json
import re
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from camvault.catalog.base import Catalog, EventQuery
from camvault.cli.progress import Progress
from camvault.config.loader import Config
from camvault.domain.keys import event_id_for_key, is_derived_key
from camvault.domain.model import CatalogEvent, parse_instant
from camvault.factory import Runtime, build_runtime, storage_location
from camvault.ingest import IngestError
from camvault.processor.core import Outcome

WAIT_FOR_OTHER_PROCESS_S = 120.0


def register(verbs: Any, common: argparse.ArgumentParser) -> None:
    ingest = verbs.add_parser(
        "ingest",
        parents=[common],
        help="store and catalog files as if a camera had uploaded them",
        description="Send files through the same path as an FTP upload; returns once every file is "
        "stored and cataloged, whether or not `camvault serve` is running.",
    )
    ingest.add_argument("files", metavar="FILE", nargs="+", type=Path)
    ingest.add_argument("--camera", required=True, metavar="NAME", help="a registered camera")
    ingest.set_defaults(handler=cmd_ingest)
    events = verbs.add_parser("events", parents=[common], help="list cataloged events")
    events.add_argument("--camera", metavar="NAME")
    events.add_argument(
        "--since", metavar="WHEN", help="an ISO 8601 instant, a date, or an age such as 2h or 7d"
    )
    events.add_argument("--json", action="store_true", help="one JSON event object per line")
    events.add_argument("--limit", type=int, default=0, metavar="N", help="at most N events (0: all)")
    events.set_defaults(handler=cmd_events)
    reindex = verbs.add_parser(
        "reindex",
        parents=[common],
        help="rebuild the catalog from the object store",
    )
    reindex.set_defaults(handler=cmd_reindex)
    status = verbs.add_parser("status", parents=[common], help="show queue depth, failures and counts")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(handler=cmd_status)


def cmd_ingest(args: argparse.Namespace, config: Config) -> int:
    runtime = build_runtime(config)
    failures = 0
    try:
        runtime.cameras.get(args.camera)
        for path in args.files:
            try:
                failures += _ingest_one(runtime, path, args.camera)
            except (IngestError, OSError) as exc:
                failures += 1
                reason = exc if isinstance(exc, IngestError) else f"{path}: {exc.strerror}"
                print(f"camvault: error: {reason}", flush=True)
    finally:
        runtime.close()
    return 1 if failures else 0


def _ingest_one(runtime: Runtime, path: Path, camera: str) -> int:
    stored = runtime.ingestor.ingest(path, camera)
    runtime.journal.add([stored.key])
    outcome = next(iter(runtime.workers.drain([stored.key])), None)
    event = outcome.event if outcome else _wait_for_event(runtime, stored.key)
    state = "stored" if stored.created else "already stored"
    if outcome is not None and outcome.status not in ("cataloged", "skipped"):
        print(
            f"{path}: {state} as {stored.key}, but not cataloged yet: {outcome.reason} "
            "(it will be retried; see `camvault status`)"
        )
        return 1
    print(f"{path}: {state} as {stored.key}; event {event.id if event else '?'}", flush=True)
    return 0


def _wait_for_event(runtime: Runtime, key: str) -> CatalogEvent | None:
    """Another process (``serve``) holds the key: wait until its entry is in the catalog."""
    deadline = time.monotonic() + WAIT_FOR_OTHER_PROCESS_S
    while time.monotonic() < deadline:
        event = runtime.catalog.get(event_id_for_key(key))
        if event is not None:
            return event
        time.sleep(0.1)
    raise IngestError(
        f"{key} is stored but was not cataloged within {WAIT_FOR_OTHER_PROCESS_S:.0f} s; "
        "check `camvault status`"
    )


def parse_since(text: str, now: datetime, zone: ZoneInfo) -> datetime:
    """``2h``/``30m``/``7d`` ago, a date (local midnight in ``zone``), or an ISO instant."""
    match = re.fullmatch(r"(\d+)([smhd])", text.strip())
    if match:
        unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[match[2]]
        return now - timedelta(**{unit: int(match[1])})
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text.strip()):
        return datetime.fromisoformat(text.strip()).replace(tzinfo=zone).astimezone(UTC)
    try:
        return parse_instant(text)
    except ValueError:
        raise IngestError(
            f"--since {text!r}: use an age (2h, 7d), a date (2024-03-10) or an instant with an offset"
        ) from None


def cmd_events(args: argparse.Namespace, config: Config) -> int:
    from camvault.factory import open_catalog

    zone = ZoneInfo(config.settings.timezone)
    since = parse_since(args.since, datetime.now(UTC), zone) if args.since else None
    catalog = open_catalog(config)
    try:
        shown, cursor = 0, None
        while True:
            size = min(500, args.limit - shown) if args.limit else 500
            page = catalog.query(
                EventQuery(camera=args.camera, start=since, newest_first=False, limit=size, cursor=cursor)
            )
            for event in page.events:
                print(json.dumps(event.to_json()) if args.json else _line(event, zone))
            shown += len(page.events)
            cursor = page.next_cursor
            if cursor is None or (args.limit and shown >= args.limit):
                break
    finally:
        catalog.close()
    if not shown and not args.json:
        print("no events")
    return 0


def _line(event: CatalogEvent, zone: ZoneInfo) -> str:
    local = event.capture_time.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z")
    media = event.media
    facts = ""
    if media and media.width:
        facts = f"{media.width}x{media.height}"
        if media.duration:
            facts += f" {media.duration:.1f}s"
    if not event.playable:
        facts = f"NOT PLAYABLE: {event.problem}"
    skew = " (clock skew)" if event.clock_skew else ""
    return f"{local}  {event.camera:<16} {event.kind:<6} {facts:<20} {event.key}{skew}"


def cmd_reindex(args: argparse.Namespace, config: Config) -> int:
    runtime = build_runtime(config)
    try:
        prefix = storage_location(config).prefix
        keys = [
            info.key
            for info in runtime.store.list(f"{prefix}/" if prefix else "")
            if not is_derived_key(info.key)
        ]
        outcomes = _process_all(runtime, keys, config.settings.processor.workers)
        removed = _prune(runtime.catalog, set(keys))
    finally:
        runtime.close()
    cataloged = sum(1 for o in outcomes if o.status == "cataloged")
    rejected = [o for o in outcomes if o.status == "rejected"]
    for outcome in rejected:
        print(f"not cataloged: {outcome.key}: {outcome.reason}")
    print(
        f"reindex: {cataloged} events cataloged from {len(keys)} objects, {len(rejected)} rejected, "
        f"{removed} entries removed whose objects are gone"
    )
    return 1 if rejected else 0


def _process_all(runtime: Runtime, keys: list[str], threads: int) -> list[Outcome]:
    progress = Progress("reindex", len(keys))

    def one(key: str) -> Outcome:
        try:
            return runtime.processor.process(key)
        finally:
            progress.advance()

    with ThreadPoolExecutor(max(1, threads)) as pool:
        outcomes = list(pool.map(one, keys))
    progress.finish()
    return outcomes


def _prune(catalog: Catalog, keep: set[str]) -> int:
    """Delete catalog entries whose objects are no longer in the store."""
    gone: list[str] = []
    cursor = None
    while True:
        page = catalog.query(EventQuery(newest_first=False, limit=500, cursor=cursor))
        gone += [event.id for event in page.events if event.key not in keep]
        cursor = page.next_cursor
        if cursor is None:
            break
    for event_id in gone:
        catalog.delete(event_id)
    return len(gone)


def cmd_status(args: argparse.Namespace, config: Config) -> int:
    runtime = build_runtime(config)
    try:
        stats = runtime.journal.stats()
        cameras = runtime.catalog.cameras()
        failed = runtime.journal.failed()
    finally:
        runtime.close()
    oldest = stats.oldest_pending
    report = {
        "events": sum(c.event_count for c in cameras),
        "cameras": len(cameras),
        "processor_pending": stats.pending,
        "processor_failed": stats.failed,
        "oldest_pending_age_s": round((datetime.now(UTC) - oldest).total_seconds(), 1) if oldest else None,
        "last_error": stats.last_error,
        "counters": stats.counters,
        "failed_keys": [{"key": key, "error": error} for key, error in failed],
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"catalog:    {report['events']} events from {report['cameras']} cameras")
    print(
        f"processor:  {stats.pending} waiting, {stats.failed} failed"
        + (f", oldest waiting {report['oldest_pending_age_s']} s" if oldest else "")
    )
    if stats.last_error:
        print(f"last error: {stats.last_error}")
    for key, error in failed:
        print(f"failed:     {key}: {error}  (retry: camvault process --retry-failed --once)")
    return 0
