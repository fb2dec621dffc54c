"""Verbs over the stored data: ``ingest``, ``reindex``, ``status``."""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from camvault.catalog.base import Catalog, EventQuery
from camvault.cli.costs import notification_report, print_costs, transcode_report
from camvault.cli.progress import Progress
from camvault.config.loader import Config
from camvault.domain.keys import event_id_for_key, is_derived_key
from camvault.domain.model import CatalogEvent
from camvault.factory import Runtime, build_runtime, storage_location
from camvault.factory_gateway import open_spool
from camvault.gateway.metrics import figures
from camvault.ingest import IngestError, Stored
from camvault.processor.core import Outcome
from camvault.processor.journal import JournalStats
from camvault.store.base import ObjectNotFound

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
    reindex = verbs.add_parser(
        "reindex",
        parents=[common],
        help="rebuild the catalog from the object store",
        description="Process every original object in the store again (probe, thumbnail, catalog "
        "entry) and remove catalog entries whose objects are gone. Safe while `serve` runs.",
    )
    reindex.set_defaults(handler=cmd_reindex)
    status = verbs.add_parser(
        "status",
        parents=[common],
        help="show queue depth, failures and counts",
        description="Show the catalog's size and the processor's backlog, failures and last error.",
    )
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(handler=cmd_status)


def cmd_ingest(args: argparse.Namespace, config: Config) -> int:
    runtime = build_runtime(config, notifications=True, presence=False)
    failures = 0
    try:
        runtime.cameras.get(args.camera)
        for path in args.files:
            try:
                print(_ingest_one(runtime, path, args.camera), flush=True)
            except (IngestError, OSError) as exc:
                failures += 1
                reason = exc if isinstance(exc, IngestError) else f"{path}: {exc.strerror or exc}"
                print(f"camvault: error: {reason}", file=sys.stderr, flush=True)
    finally:
        runtime.close()
    return 1 if failures else 0


def _ingest_one(runtime: Runtime, path: Path, camera: str) -> str:
    """Store, then catalog (here, or by another process that holds the key); the report line.
    With ``[processor] local = false`` the processor the store notifies catalogs it elsewhere."""
    stored = runtime.ingestor.ingest(path, camera)
    if not runtime.config.settings.processor.local:
        return f"{_stored_as(path, stored)}; cataloged where the store's notifications go"
    outcome = next(iter(runtime.workers.drain([stored.key])), None)
    if outcome is None:
        return _report(path, stored, _wait_for_event(runtime, stored.key))
    if outcome.status != "cataloged" or outcome.event is None:
        raise IngestError(
            f"{path}: stored as {stored.key}, but not cataloged: {outcome.reason}"
            + (" (it will be retried; see `camvault status`)" if outcome.status == "failed" else "")
        )
    return _report(path, stored, outcome.event)


def _stored_as(path: Path, stored: Stored) -> str:
    return f"{path}: {'stored' if stored.created else 'already stored'} as {stored.key}"


def _report(path: Path, stored: Stored, event: CatalogEvent) -> str:
    line = f"{_stored_as(path, stored)}; event {event.id}"
    if not event.playable:
        line += f" (NOT PLAYABLE: {event.problem})"
    if note := event.extra.get("capture_note"):
        line += f" (capture time: {note})"
    return line


def _wait_for_event(runtime: Runtime, key: str) -> CatalogEvent:
    """Another process (``serve``) holds the key: wait until its entry is in the catalog."""
    deadline = time.monotonic() + WAIT_FOR_OTHER_PROCESS_S
    while time.monotonic() < deadline:
        event = runtime.catalog.get(event_id_for_key(key))
        if event is not None:
            return event
        time.sleep(0.1)
    raise IngestError(
        f"{key} is stored, and another camvault process is cataloging it but has not finished within "
        f"{WAIT_FOR_OTHER_PROCESS_S:.0f} s; check `camvault status`"
    )


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
        removed = _prune(runtime, set(keys))
    finally:
        runtime.close()
    cataloged = sum(1 for o in outcomes if o.status == "cataloged")
    problems = [o for o in outcomes if o.status in ("rejected", "failed")]
    for outcome in problems:
        print(f"not cataloged: {outcome.key}: {outcome.reason}", file=sys.stderr)
    print(
        f"reindex: {cataloged} events cataloged from {len(keys)} objects, {len(problems)} not cataloged, "
        f"{removed} entries removed whose objects are gone"
    )
    return 1 if problems else 0


def _process_all(runtime: Runtime, keys: list[str], threads: int) -> list[Outcome]:
    """Process every key; a failure is journaled for retry and reported, never fatal."""
    progress = Progress("reindex", len(keys))

    def one(key: str) -> Outcome:
        try:
            return runtime.processor.process(key)
        except Exception as exc:  # reported per key; the journal retries it later
            runtime.journal.add([key])
            return Outcome(key, "failed", reason=f"{type(exc).__name__}: {exc} (queued for retry)")
        finally:
            progress.advance()

    with ThreadPoolExecutor(max(1, threads)) as pool:
        outcomes = list(pool.map(one, keys))
    progress.finish()
    return outcomes


def _prune(runtime: Runtime, listed: set[str]) -> int:
    """Delete catalog entries whose objects are gone. An entry not in the listing is checked
    against the store first: another process may have stored it since the listing was taken."""
    removed = 0
    for event in _every_event(runtime.catalog):
        if event.key in listed:
            continue
        try:
            runtime.store.head(event.key)
        except ObjectNotFound:
            removed += runtime.catalog.delete(event.id)
    return removed


def _every_event(catalog: Catalog) -> list[CatalogEvent]:
    events: list[CatalogEvent] = []
    cursor = None
    while True:
        page = catalog.query(EventQuery(newest_first=False, limit=500, cursor=cursor))
        events += page.events
        cursor = page.next_cursor
        if cursor is None:
            return events


def cmd_status(args: argparse.Namespace, config: Config) -> int:
    runtime = build_runtime(config)
    try:
        stats = runtime.journal.stats()
        cameras = runtime.catalog.cameras()
        registered = runtime.cameras.names()
        failed = runtime.journal.failed()
        transcode = transcode_report(runtime.transcode_journal)
        notifications = notification_report(stats.counters)
    finally:
        runtime.close()
    oldest = stats.oldest_pending
    oldest_age_s = round((datetime.now(UTC) - oldest).total_seconds(), 1) if oldest else None
    report = {
        "events": sum(c.event_count for c in cameras),
        "cameras": len(set(registered) | {c.camera for c in cameras}),
        "cameras_registered": len(registered),
        "processor_local": config.settings.processor.local,
        "processor_pending": stats.pending,
        "processor_failed": stats.failed,
        "oldest_pending_age_s": oldest_age_s,
        "last_error": stats.last_error,
        "counters": stats.counters,
        "failed_keys": [{"key": key, "error": error} for key, error in failed],
        "transcode": transcode,
        "notifications": notifications,
    }
    report["gateway"], gateway_lines = _gateway_status(config)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"catalog:    {report['events']} events; {len(registered)} cameras registered")
    print(f"processor:  {_processor_line(config, stats, oldest_age_s)}")
    if stats.last_error:
        print(f"last error: {stats.last_error}")
    retry = (
        "retry: camvault process --retry-failed --once"
        if config.settings.processor.local
        else "to retry it here, set [processor] local = true first"
    )
    for key, error in failed:
        print(f"failed:     {key}: {error}  ({retry})")
    print("\n".join(gateway_lines))
    configured = {"mqtt": bool(config.settings.mqtt.url), "webhook": bool(config.settings.webhooks.url)}
    print_costs(transcode, notifications, configured)
    return 0


def _processor_line(config: Config, stats: JournalStats, oldest_age_s: float | None) -> str:
    """The processor's backlog here, or where processing happens when it is not here."""
    waiting = f", oldest waiting {oldest_age_s} s" if oldest_age_s is not None else ""
    backlog = f"{stats.pending} waiting, {stats.failed} failed{waiting}"
    if config.settings.processor.local:
        return backlog
    elsewhere = "elsewhere ([processor] local = false): the store notifies the processor"
    if stats.pending or stats.failed:
        return f"{elsewhere}; left here from when processing was local: {backlog}"
    return f"{elsewhere}; nothing waits here"


def _gateway_status(config: Config) -> tuple[dict[str, Any], list[str]]:
    """The spool's figures for ``status``: as JSON, and as lines to print."""
    spool = open_spool(config)
    try:
        fig = figures(spool.outbox, datetime.now(UTC), spool.refusal())
        failed = spool.outbox.failed()
    finally:
        spool.close()
    waiting = f", oldest waiting {fig.oldest_pending_age_s} s" if fig.oldest_pending_age_s is not None else ""
    lines = [
        f"gateway:    {fig.outbox_depth} uploads waiting for the store ({fig.outbox_bytes / 2**20:.1f} MB)"
        f"{waiting}, {fig.outbox_failed} failed; {fig.uploads_per_second:g} uploads/s; "
        f"{fig.rejected} rejected, {fig.ignored} ignored, {fig.aborted} aborted",
        f"accepting:  {'no: ' + fig.refusal if fig.refusal else 'yes'}",
    ]
    if fig.last_error:
        lines.append(f"upload error: {fig.last_error}")
    lines += [
        f"kept:       {u.camera} {u.source_path}: {reason} (in {spool.queue}; tried again when the gateway "
        "restarts)"
        for u, reason in failed
    ]
    report = {
        **asdict(fig),
        "failed_uploads": [{"camera": u.camera, "path": u.source_path, "error": r} for u, r in failed],
    }
    return report, lines
