"""What the side work costs, for ``camvault status``: small transcodes and notifications."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from camvault.processor.journal import Journal

SINKS = ("mqtt", "webhook")
OUTCOMES = ("sent", "failed", "dropped", "coalesced")


def transcode_report(journal: Journal) -> dict[str, Any]:
    """Count, time spent, bytes saved, queue depth and failures of the small transcodes."""
    stats = journal.stats()
    counters = stats.counters
    return {
        "done": counters.get("transcoded", 0),
        "seconds": round(counters.get("transcode_ms", 0) / 1000, 1),
        "bytes_in": counters.get("bytes_in", 0),
        "bytes_out": counters.get("bytes_out", 0),
        "bytes_saved": counters.get("bytes_in", 0) - counters.get("bytes_out", 0),
        "pending": stats.pending,
        "failed": stats.failed,
        "failed_keys": [{"key": key, "error": error} for key, error in journal.failed()],
    }


def notification_report(counters: Mapping[str, int]) -> dict[str, dict[str, int]]:
    """Sent, failed, dropped (queue full) and coalesced (rate limit) messages per sink."""
    return {sink: {outcome: counters.get(f"{sink}_{outcome}", 0) for outcome in OUTCOMES} for sink in SINKS}


def print_costs(
    transcode: Mapping[str, Any],
    notifications: Mapping[str, Mapping[str, int]],
    configured: Mapping[str, bool],
) -> None:
    """The status lines; a destination that is not configured and never sent anything shows as off."""
    print(
        f"transcode:  {transcode['done']} small versions in {transcode['seconds']} s, "
        f"{_mib(transcode['bytes_saved'])} saved; "
        f"{transcode['pending']} waiting, {transcode['failed']} failed"
    )
    for failure in transcode["failed_keys"]:
        print(
            f"failed:     {failure['key']}: {failure['error']}  (no small version; the original is "
            "kept; retry: camvault process --retry-failed --once)"
        )
    for sink, counts in notifications.items():
        if configured.get(sink) or any(counts.values()):
            print(f"{sink + ':':<11} " + ", ".join(f"{counts[outcome]} {outcome}" for outcome in OUTCOMES))
        else:
            print(f"{sink + ':':<11} off")


def _mib(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MiB"
