"""The catalog contract, its query and page types, and the cursor codec every backend shares.

Catalog order is (capture instant in UTC epoch milliseconds, event id). A cursor names the last
event of a page in that order; the next page starts strictly after it (or before it, newest
first), so two events in the same millisecond are never skipped or repeated.

This module decides the contract; it performs no I/O.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

from camvault.domain.incidents import Incident, IncidentDetail
from camvault.domain.model import EPOCH, CatalogEvent, Kind

MAX_LIMIT = 500
MAX_ABS_MS = 253_402_300_800_000  # 10000-01-01T00:00:00Z: every datetime fits, and every SQLite integer


ONE_MS = timedelta(milliseconds=1)


def ceil_ms(instant: datetime) -> int:
    """The first whole millisecond at or after ``instant``: the bound for a range on stored ms."""
    if instant.tzinfo is None:
        raise ValueError("instant must be timezone-aware")
    return -((EPOCH - instant) // ONE_MS)


def from_ms(ms: int) -> datetime:
    """An aware UTC datetime for UTC epoch milliseconds."""
    return EPOCH + timedelta(milliseconds=ms)


class CatalogError(Exception):
    """A catalog operation failed; the message says what and what to do next."""


class BadCursor(CatalogError, ValueError):
    """A cursor that this catalog did not produce, or that was altered."""


@dataclass(frozen=True)
class Position:
    """A place in catalog order."""

    capture_ms: int
    event_id: str

    @classmethod
    def of(cls, event: CatalogEvent) -> Position:
        return cls(event.capture_ms, event.id)


def encode_cursor(position: Position) -> str:
    raw = f"{position.capture_ms}:{position.event_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> Position:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        text = base64.urlsafe_b64decode(padded.encode("ascii")).decode()
        ms, event_id = text.split(":", 1)
        if not event_id:
            raise ValueError("empty id")
        if abs(int(ms)) > MAX_ABS_MS:
            raise ValueError("instant out of range")
        return Position(int(ms), event_id)
    except (ValueError, binascii.Error, UnicodeError) as exc:
        raise BadCursor(f"invalid cursor {cursor!r}: pass the next_cursor of a previous page") from exc


@dataclass(frozen=True)
class EventQuery:
    """Which events to list: filters, direction and page.

    ``start`` is inclusive and ``end`` exclusive; both are aware datetimes.
    """

    camera: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    kind: Kind | None = None
    newest_first: bool = True
    limit: int = 50
    cursor: str | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_LIMIT:
            raise ValueError(f"limit must be between 1 and {MAX_LIMIT}, not {self.limit}")
        for name, value in (("start", self.start), ("end", self.end)):
            if value is not None and value.tzinfo is None:
                raise ValueError(f"{name} must be timezone-aware")
        if self.cursor is not None:
            decode_cursor(self.cursor)


@dataclass(frozen=True)
class IncidentQuery:
    """Which incidents to list: those whose first event is in [``start``, ``end``), in the order
    of their first events (the cursor is that event's position)."""

    camera: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    newest_first: bool = True
    limit: int = 50
    cursor: str | None = None

    def __post_init__(self) -> None:
        EventQuery(  # the same checks as for events
            start=self.start,
            end=self.end,
            newest_first=self.newest_first,
            limit=self.limit,
            cursor=self.cursor,
        )


@dataclass(frozen=True)
class IncidentPage:
    """One page of incidents, and the cursor of the next page (if any)."""

    incidents: Sequence[Incident]
    next_cursor: str | None


@dataclass(frozen=True)
class EventPage:
    """One page of events in the requested order, and the cursor of the next page (if any)."""

    events: Sequence[CatalogEvent]
    next_cursor: str | None


@dataclass(frozen=True)
class JSONPage:
    """A page of events as the API sends it: ``events`` is the text of a JSON array of event
    objects (``CatalogEvent.to_json``), ``next_cursor`` as in ``EventPage``."""

    events: str
    next_cursor: str | None


@runtime_checkable
class JSONPages(Protocol):
    """A catalog that can hand out pages already in JSON, cheaper than ``query`` then
    ``to_json`` (SQLite builds the text itself)."""

    def query_json(self, query: EventQuery) -> JSONPage: ...


@dataclass(frozen=True)
class CameraSummary:
    """A camera as the catalog sees it: counts and its newest event."""

    camera: str
    event_count: int
    record_count: int
    snap_count: int
    latest: CatalogEvent | None


class Catalog(Protocol):
    """Primitives every catalog backend implements.

    Incidents (``camvault.domain.incidents``): a backend groups each camera's events into alarm
    incidents with the gap it was opened with, so that an event read back (``get``, ``query``,
    ``cameras``) carries its ``incident_id``, and ``incidents``/``incident`` list them. The
    grouping must not depend on the order events were put in: whether an event starts an
    incident depends only on its predecessor (``starts_incident``), so ``put`` and ``delete``
    re-check the changed event and its successor. ``keep`` is stored like any other field.
    """

    def put(self, event: CatalogEvent) -> bool:
        """Insert or replace the event with ``event.id``; True when it was new."""
        ...

    def get(self, event_id: str) -> CatalogEvent | None:
        """The event with this id (with its ``incident_id``), or None."""
        ...

    def query(self, query: EventQuery) -> EventPage:
        """A page of events matching ``query`` in catalog order."""
        ...

    def cameras(self) -> list[CameraSummary]:
        """Every camera that has events, by name."""
        ...

    def delete(self, event_id: str) -> bool:
        """Remove the event; True when it existed."""
        ...

    def incidents(self, query: IncidentQuery) -> IncidentPage:
        """A page of incidents matching ``query``, ordered by their first events."""
        ...

    def incident(self, incident_id: str) -> IncidentDetail | None:
        """The incident with this id and its events in catalog order, or None."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


def page_reader(catalog: Catalog) -> Callable[[EventQuery], JSONPage]:
    """How to read a page of ``catalog`` as JSON: its own ``query_json`` when it has one, else
    ``query`` and ``to_json`` (the same text, one event object at a time)."""
    if isinstance(catalog, JSONPages):
        return catalog.query_json

    def generic(query: EventQuery) -> JSONPage:
        page = catalog.query(query)
        return JSONPage(json.dumps([event.to_json() for event in page.events]), page.next_cursor)

    return generic
