"""Alarm incidents: the snapshots and clips one camera sends for one alarm, grouped.

An incident is a maximal run of one camera's events, in catalog order (capture instant, id), in
which each event comes at most ``gap`` after the one before it. So an event starts an incident
exactly when it has no earlier event of its camera, or the previous one is more than ``gap``
older: whether it does depends on its predecessor alone. A catalog can therefore keep one
"starts an incident" flag per event and fix it for at most two events (the changed one and its
successor) when an event arrives, moves or goes, in any order; the grouping it ends with is the
same as grouping all events at once (``group``), which is what makes it correct after a
``reindex`` and with out-of-order arrivals.

An incident's id is the id of its first event (so an earlier event that arrives late and joins
the incident changes the id). Its face is the thumbnail of its first clip that has one, else
the first snapshot's thumbnail (or the snapshot itself).

This module decides the grouping and the summary; it performs no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from camvault.domain.model import CatalogEvent, format_instant

DEFAULT_GAP = timedelta(seconds=60)


@dataclass(frozen=True)
class Incident:
    """One alarm incident of one camera."""

    id: str
    camera: str
    start: datetime
    end: datetime
    record_count: int
    snap_count: int
    face_event_id: str | None
    face_key: str | None

    @property
    def event_count(self) -> int:
        return self.record_count + self.snap_count

    def to_json(self) -> dict[str, Any]:
        """The incident object of the API (see docs/events.md)."""
        return {
            "id": self.id,
            "camera": self.camera,
            "start_time": format_instant(self.start),
            "end_time": format_instant(self.end),
            "event_count": self.event_count,
            "record_count": self.record_count,
            "snap_count": self.snap_count,
            "face_event_id": self.face_event_id,
            "face_key": self.face_key,
        }


@dataclass(frozen=True)
class IncidentDetail:
    """An incident with its events in catalog order."""

    incident: Incident
    events: Sequence[CatalogEvent]

    def to_json(self) -> dict[str, Any]:
        return {**self.incident.to_json(), "events": [event.to_json() for event in self.events]}


def starts_incident(previous_ms: int | None, capture_ms: int, gap_ms: int) -> bool:
    """True when an event at ``capture_ms`` whose predecessor (same camera, catalog order) is at
    ``previous_ms`` (None: it has none) starts a new incident."""
    return previous_ms is None or capture_ms - previous_ms > gap_ms


def group(events: Iterable[CatalogEvent], gap: timedelta) -> list[Incident]:
    """Every incident of ``events`` (any cameras, any order), by camera, then in catalog order."""
    gap_ms = gap // timedelta(milliseconds=1)
    ordered = sorted(events, key=lambda event: (event.camera, event.capture_ms, event.id))
    incidents: list[Incident] = []
    run: list[CatalogEvent] = []
    for event in ordered:
        previous = run[-1] if run else None
        if previous is not None and (
            previous.camera != event.camera or starts_incident(previous.capture_ms, event.capture_ms, gap_ms)
        ):
            incidents.append(summarize(run))
            run = []
        run.append(event)
    if run:
        incidents.append(summarize(run))
    return incidents


def summarize(members: Sequence[CatalogEvent]) -> Incident:
    """The incident made of ``members``: one camera's events of one run, in catalog order."""
    if not members:
        raise ValueError("an incident has at least one event")
    first, last = members[0], members[-1]
    face = _face(members)
    return Incident(
        id=first.id,
        camera=first.camera,
        start=first.capture_time,
        end=last.capture_time,
        record_count=sum(1 for event in members if event.kind == "record"),
        snap_count=sum(1 for event in members if event.kind == "snap"),
        face_event_id=face.id if face else None,
        face_key=_face_key(face) if face else None,
    )


def _face(members: Sequence[CatalogEvent]) -> CatalogEvent | None:
    for event in members:
        if event.kind == "record" and event.thumbnail_key:
            return event
    return next((event for event in members if event.kind == "snap"), None)


def _face_key(event: CatalogEvent) -> str | None:
    if event.thumbnail_key:
        return event.thumbnail_key
    return event.key if event.kind == "snap" else None
