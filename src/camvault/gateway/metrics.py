"""The gateway's figures: what ``camvault status`` prints and ``/api/v1/metrics`` serves.

Counters are kept in the outbox file (not in memory), so the figures are the same whichever
process reads them (``gateway``, ``serve``, ``status``) and survive restarts. ``Counters`` is
what the FTP front counts with; ``figures`` reads everything at once; ``prometheus_text``
formats figures in the Prometheus text exposition format (pure).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from camvault.gateway.outbox import Outbox
from camvault.gateway.spool import Spool
from camvault.workqueue import QueueStats

log = logging.getLogger(__name__)

REJECTED = "rejected"
"""Uploads refused with ``452`` (spool cap, free-disk floor)."""
IGNORED = "ignored"
"""Index and sidecar files never published (``.idx`` …)."""
ABORTED = "aborted"
"""Uploads that were aborted or empty, never published."""
UPLOADED = "uploaded"
"""Uploads stored and verified in the object store."""


class Counters:
    """What the FTP front counts; every count is durable and visible to ``camvault status``."""

    def __init__(self, outbox: Outbox) -> None:
        self._outbox = outbox

    def rejected(self) -> None:
        self._count(REJECTED)

    def ignored(self) -> None:
        self._count(IGNORED)

    def aborted(self) -> None:
        self._count(ABORTED)

    def _count(self, name: str) -> None:
        try:
            self._outbox.count(name)
        except Exception:  # a figure must never fail an FTP command
            log.exception("cannot count %s upload", name)


@dataclass(frozen=True)
class GatewayFigures:
    outbox_depth: int
    outbox_bytes: int
    outbox_failed: int
    oldest_pending_age_s: float | None
    last_error: str | None
    uploads_per_second: float
    uploaded: int
    rejected: int
    ignored: int
    aborted: int
    refusal: str | None
    """Why new uploads are refused right now, or None."""


def figures(outbox: Outbox, now: datetime, refusal: str | None = None) -> GatewayFigures:
    stats = outbox.stats()
    oldest = stats.oldest_received
    return GatewayFigures(
        outbox_depth=stats.depth,
        outbox_bytes=stats.bytes,
        outbox_failed=stats.failed,
        oldest_pending_age_s=None if oldest is None else round(max(0.0, (now - oldest).total_seconds()), 1),
        last_error=stats.last_error,
        uploads_per_second=round(stats.uploads_per_s, 3),
        uploaded=stats.counters.get(UPLOADED, 0),
        rejected=stats.counters.get(REJECTED, 0),
        ignored=stats.counters.get(IGNORED, 0),
        aborted=stats.counters.get(ABORTED, 0),
        refusal=refusal,
    )


_HELP = (
    ("outbox_depth", "gauge", "Uploads spooled and not yet in the object store."),
    ("outbox_bytes", "gauge", "Bytes spooled and not yet in the object store."),
    ("outbox_failed", "gauge", "Uploads kept in the spool that will not be retried without help."),
    ("oldest_pending_age_seconds", "gauge", "Age of the oldest upload waiting for the object store."),
    ("uploads_per_second", "gauge", "Uploads stored per second, over the last minute."),
    ("uploads_total", "counter", "Uploads stored and verified in the object store."),
    ("rejected_uploads_total", "counter", "Uploads refused with 452 (spool cap or free-disk floor)."),
    ("ignored_uploads_total", "counter", "Index and sidecar files not published."),
    ("aborted_uploads_total", "counter", "Aborted or empty uploads not published."),
    ("accepting_uploads", "gauge", "1 when new uploads are accepted, 0 when they are refused."),
)


def prometheus_text(fig: GatewayFigures, processor: QueueStats | None = None) -> str:
    """The figures in the Prometheus text format (version 0.0.4), names prefixed ``camvault_gateway_``
    (and ``camvault_processor_`` for the processor journal's figures, when given)."""
    values = {
        "outbox_depth": fig.outbox_depth,
        "outbox_bytes": fig.outbox_bytes,
        "outbox_failed": fig.outbox_failed,
        "oldest_pending_age_seconds": fig.oldest_pending_age_s or 0,
        "uploads_per_second": fig.uploads_per_second,
        "uploads_total": fig.uploaded,
        "rejected_uploads_total": fig.rejected,
        "ignored_uploads_total": fig.ignored,
        "aborted_uploads_total": fig.aborted,
        "accepting_uploads": 0 if fig.refusal else 1,
    }
    lines = []
    for name, kind, text in _HELP:
        full = f"camvault_gateway_{name}"
        lines += [f"# HELP {full} {text}", f"# TYPE {full} {kind}", f"{full} {values[name]}"]
    if fig.last_error:
        full = "camvault_gateway_last_error_info"
        lines += [
            f"# HELP {full} The latest upload error, as a label.",
            f"# TYPE {full} gauge",
            f'{full}{{error="{_label(fig.last_error)}"}} 1',
        ]
    if processor is not None:
        for name, value, text in (
            ("pending", processor.pending, "Stored objects waiting to be cataloged."),
            ("failed", processor.failed, "Objects that used up their processing attempts."),
        ):
            full = f"camvault_processor_{name}"
            lines += [f"# HELP {full} {text}", f"# TYPE {full} gauge", f"{full} {value}"]
    return "\n".join(lines) + "\n"


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def exposition(spool: Spool, processor: QueueStats | None, now: datetime) -> str:
    """What ``/api/v1/metrics`` serves: the spool's figures, its refusal, the processor's."""
    return prometheus_text(figures(spool.outbox, now, spool.refusal()), processor)
