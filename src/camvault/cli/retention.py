"""``camvault retention [--dry-run]`` and ``camvault keep EVENT_ID [--off]``."""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta
from typing import Any

from camvault.cli.errors import CliError
from camvault.cli.progress import Progress
from camvault.config.loader import Config
from camvault.factory import Runtime, build_retention, build_runtime, storage_location
from camvault.keep import UnknownEvent, set_keep
from camvault.retention import Removal, Report, Schedule


def register(verbs: Any, common: argparse.ArgumentParser) -> None:
    retention = verbs.add_parser(
        "retention",
        parents=[common],
        help="delete events older than their camera's retention days",
        description="Delete expired events: each object with its thumbnail and small version and its "
        "catalog entry, oldest first, only under camvault's prefix; events marked keep stay. "
        "`camvault serve` does this every [retention] interval_minutes.",
    )
    retention.add_argument("--dry-run", action="store_true", help="only print what would be deleted")
    retention.set_defaults(handler=cmd_retention)
    keep = verbs.add_parser(
        "keep",
        parents=[common],
        help="mark an event keep (retention never deletes it)",
        description="Mark an event keep, so retention never deletes it; --off removes the mark. The "
        "mark is stored beside the object, so it survives `camvault reindex`.",
    )
    keep.add_argument("event_id", metavar="EVENT_ID", help="an id from `camvault events --json`")
    keep.add_argument("--off", action="store_true", help="remove the keep mark")
    keep.set_defaults(handler=cmd_keep)


def budget_note(config: Config) -> str | None:
    """Why ``[retention] max_bytes`` is not applied, when it is set but the store is not ``file://``."""
    if config.settings.retention.max_bytes and storage_location(config).scheme != "file":
        return (
            "note: [retention] max_bytes applies to file:// stores only and is ignored here; "
            "set it to 0 (an S3 bucket is not limited by a local disk)"
        )
    return None


def cmd_retention(args: argparse.Namespace, config: Config) -> int:
    if note := budget_note(config):
        print(note, file=sys.stderr)
    runtime = build_runtime(config)
    try:
        retention = build_retention(runtime)
        if args.dry_run:
            report = retention.run(dry_run=True)
            for removal in report.deleted:
                print(f"would delete {describe(removal)}")
        else:
            planned = retention.plan()
            progress = Progress("retention", len(planned.removals))

            def tell(removal: Removal, done: bool) -> None:
                if done:
                    print(f"deleted {describe(removal)}", flush=True)
                progress.advance()

            report = retention.execute(planned, progress=tell)
            progress.finish()
    finally:
        runtime.close()
    print(summary(report, dry_run=args.dry_run))
    for key, reason in report.failed:
        print(f"not deleted: {key}: {reason} (the next run tries again)")
    return 1 if report.failed else 0


def start_schedule(runtime: Runtime) -> Schedule | None:
    """For ``serve``: retention now and every ``[retention] interval_minutes`` (0: None)."""
    minutes = runtime.config.settings.retention.interval_minutes
    if not minutes:
        return None
    retention = build_retention(runtime)
    if note := budget_note(runtime.config):
        print(note, flush=True)

    def job() -> None:
        report = retention.run()
        if report.deleted or report.failed or report.temp_files:
            print(summary(report, dry_run=False), flush=True)
        for key, reason in report.failed:
            print(f"retention: not deleted: {key}: {reason}", flush=True)

    schedule = Schedule(job, timedelta(minutes=minutes))
    schedule.start()
    return schedule


def describe(removal: Removal) -> str:
    what = removal.original or ", ".join(removal.derived)
    extra = f" with {len(removal.derived)} derived" if removal.original and removal.derived else ""
    reason = {"age": "expired", "budget": "over [retention] max_bytes", "orphan": "original gone"}
    return f"{what}{extra} ({reason[removal.reason]}, {megabytes(removal.size)})"


def summary(report: Report, *, dry_run: bool) -> str:
    events = sum(1 for r in report.deleted if r.original)
    orphans = sum(len(r.derived) for r in report.deleted if not r.original)
    size = sum(r.size for r in report.deleted)
    verb = "would delete" if dry_run else "deleted"
    line = f"retention: {verb} {events} events and {orphans} orphaned objects ({megabytes(size)})"
    kept = report.plan.kept + len(report.spared)
    if kept:
        line += f"; {kept} expired events kept (marked keep)"
    if report.temp_files:
        line += f"; removed {report.temp_files} stale temporary files"
    return line + f"; camvault's objects: {megabytes(report.plan.bytes_before)} before"


def megabytes(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


def cmd_keep(args: argparse.Namespace, config: Config) -> int:
    runtime = build_runtime(config)
    try:
        event = set_keep(runtime.store, runtime.catalog, args.event_id, not args.off)
    except UnknownEvent as exc:
        raise CliError(str(exc.args[0])) from None
    finally:
        runtime.close()
    state = "kept: retention never deletes it" if event.keep else "no longer kept"
    print(f"event {event.id} ({event.key}) {state}")
    return 0
