"""Alarm incidents in the DynamoDB catalog, computed on read from each camera's partition.

Nothing about incidents is stored. Whether an event starts an incident depends on its
predecessor alone (``domain.incidents``), and a camera's events are one key range of its
partition, in catalog order: so the incident of an event is found by reading that partition
backwards from the event until a gap, and an incident's members by reading forwards from its
first event until a gap. Writes never touch a neighbour, so concurrent writers cannot leave a
wrong grouping behind, and items that DynamoDB's TTL deletes on its own (an event's neighbours
expiring around a kept event) regroup what remains on the next read.

The cost is on reads: one more ``Query`` per camera of a page of events (keys only, back to the
start of the oldest event's incident); for a page of incidents, two per camera (the
predecessor of the range and the walk through it, or the walk and the members of the topmost
incident past the range); and reading a whole incident to summarize it. Reads start with small
pages that double, so a typical incident of a few events is one request, and a long one costs
its length.
Every read is a key range of one camera partition, strongly consistent; never the GSI, so an
incident spanning midnight UTC (two ``capture_date`` partitions of the GSI) is one run here.

The grouping itself (``starts_incident``, ``summarize``) is ``domain.incidents``; this module
performs I/O only through the injected ``Query`` callable.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from camvault.catalog import dynamodb_items as items
from camvault.catalog.base import Position
from camvault.catalog.dynamodb_items import KeyRange
from camvault.domain.incidents import Incident, IncidentDetail, starts_incident, summarize
from camvault.domain.keys import SORT_KEY_DIGITS, event_sort_key
from camvault.domain.model import CatalogEvent, epoch_ms

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef, QueryInputTypeDef

    Query = Callable[[QueryInputTypeDef], Mapping[str, Any]]
    Items = Iterator[Mapping[str, AttributeValueTypeDef]]

FIRST_PAGE = 16
"""Items asked for by the first request of a read; each further page asks for twice as many."""
MAX_PAGE = 1000


def _position(item: Mapping[str, AttributeValueTypeDef]) -> tuple[int, str]:
    """(capture ms, id) of an event item, from its sort key alone."""
    key = item[items.SORT]["S"]
    return int(key[:SORT_KEY_DIGITS]), key[SORT_KEY_DIGITS + 1 :]


def _key(event: CatalogEvent) -> str:
    return event_sort_key(event.capture_ms, event.id)


def _ms(item: Mapping[str, AttributeValueTypeDef]) -> int:
    return int(item[items.SORT]["S"][:SORT_KEY_DIGITS])


def _starts_in(first: CatalogEvent, key_range: KeyRange) -> bool:
    """Whether an incident whose first event is ``first`` is listed for ``key_range``."""
    key = _key(first)
    return key_range.low <= key <= key_range.high and key != key_range.exclude


def _with_id(members: Sequence[CatalogEvent]) -> list[CatalogEvent]:
    return [replace(event, incident_id=members[0].id) for event in members]


@dataclass(frozen=True)
class IncidentReads:
    """Incident reads on one table; ``query`` sends one ``Query`` request (with error handling)."""

    table: str
    gap_ms: int
    query: Query

    # -- what the catalog asks -----------------------------------------------------------

    def with_incident_ids(self, events: Sequence[CatalogEvent]) -> list[CatalogEvent]:
        """``events`` (any cameras, any order) with the id of the incident each belongs to."""
        starts: dict[str, str] = {}
        for camera, group in itertools.groupby(
            sorted(events, key=lambda e: e.camera), key=lambda e: e.camera
        ):
            positions = [(event.capture_ms, event.id) for event in group]
            starts.update(self._starts(camera, max(positions), min(positions)))
        return [replace(event, incident_id=starts.get(event.id)) for event in events]

    def incident(self, camera: str, sort_key: str) -> IncidentDetail | None:
        """The incident whose first event has ``sort_key``, or None when that event starts none."""
        previous = next(
            self._stream(camera, sort_key, forward=False, inclusive=False, keys=True, first=1), None
        )
        if previous is not None and not starts_incident(
            _ms(previous), int(sort_key[:SORT_KEY_DIGITS]), self.gap_ms
        ):
            return None
        members = self._run_from(camera, sort_key, inclusive=True, previous_ms=None)
        if not members or _key(members[0]) != sort_key:
            return None
        with_id = _with_id(members)
        return IncidentDetail(summarize(with_id), with_id)

    def page(
        self, cameras: Sequence[str], key_range: KeyRange, newest_first: bool, limit: int
    ) -> tuple[list[Incident], bool]:
        """The first ``limit`` incidents of ``cameras`` starting in ``key_range``, in catalog order
        of their first events, and whether more follow."""
        walks = [self._camera_incidents(camera, key_range, newest_first) for camera in cameras]
        merged = heapq.merge(*walks, key=lambda i: (epoch_ms(i.start), i.id), reverse=newest_first)
        found = list(itertools.islice(merged, limit + 1))
        return found[:limit], len(found) > limit

    # -- walks of one camera partition ---------------------------------------------------

    def _starts(self, camera: str, newest: tuple[int, str], oldest: tuple[int, str]) -> dict[str, str]:
        """Event id -> incident id for every event of ``camera`` from ``oldest`` to ``newest``."""
        chain: list[tuple[int, str]] = []  # newest first, down to the start of oldest's incident
        for item in self._stream(camera, event_sort_key(*newest), forward=False, inclusive=True, keys=True):
            here = _position(item)
            if chain and chain[-1] <= oldest and starts_incident(here[0], chain[-1][0], self.gap_ms):
                break
            chain.append(here)
        starts: dict[str, str] = {}
        start, previous_ms = "", None
        for ms, event_id in reversed(chain):
            if starts_incident(previous_ms, ms, self.gap_ms):
                start = event_id
            starts[event_id], previous_ms = start, ms
        return starts

    def _camera_incidents(self, camera: str, key_range: KeyRange, newest_first: bool) -> Iterator[Incident]:
        if newest_first:
            return self._newest_first(camera, key_range)
        return self._oldest_first(camera, key_range)

    def _oldest_first(self, camera: str, key_range: KeyRange) -> Iterator[Incident]:
        before = next(
            self._stream(camera, key_range.low, forward=False, inclusive=False, keys=True, first=1), None
        )
        previous_ms = _ms(before) if before is not None else None
        run: list[CatalogEvent] = []  # an incident starting in range, oldest first
        for item in self._stream(camera, key_range.low, forward=True, inclusive=True):
            event = items.item_event(item)
            starts = starts_incident(previous_ms, event.capture_ms, self.gap_ms)
            previous_ms = event.capture_ms
            if starts:
                yield from self._listed(run, key_range)
                if _key(event) > key_range.high:
                    return
                run = []
            if run or starts:  # members of an incident that started before the range are skipped
                run.append(event)
        yield from self._listed(run, key_range)

    def _newest_first(self, camera: str, key_range: KeyRange) -> Iterator[Incident]:
        run: list[CatalogEvent] = []  # newest first
        top = True
        for item in self._stream(camera, key_range.high, forward=False, inclusive=True):
            event = items.item_event(item)
            if run and starts_incident(event.capture_ms, run[-1].capture_ms, self.gap_ms):
                yield from self._listed(self._whole(run, top, key_range), key_range)
                run, top = [], False
            if _key(event) < key_range.low:
                return  # its incident starts before the range too
            run.append(event)
        yield from self._listed(self._whole(run, top, key_range), key_range)

    def _whole(self, newest_first: list[CatalogEvent], top: bool, key_range: KeyRange) -> list[CatalogEvent]:
        """A run read backwards, oldest first; the topmost run of the range, when it is listed,
        gains its members above the range (an incident is listed whole)."""
        members = newest_first[::-1]
        if top and members and _starts_in(members[0], key_range):
            last = members[-1]
            members += self._run_from(last.camera, _key(last), inclusive=False, previous_ms=last.capture_ms)
        return members

    def _listed(self, members: list[CatalogEvent], key_range: KeyRange) -> Iterator[Incident]:
        if members and _starts_in(members[0], key_range):
            yield summarize(members)

    def _run_from(
        self, camera: str, sort_key: str, *, inclusive: bool, previous_ms: int | None
    ) -> list[CatalogEvent]:
        """The events after (or from) ``sort_key`` each at most the gap after the one before."""
        run: list[CatalogEvent] = []
        for item in self._stream(camera, sort_key, forward=True, inclusive=inclusive):
            event = items.item_event(item)
            if previous_ms is not None and starts_incident(previous_ms, event.capture_ms, self.gap_ms):
                break
            run.append(event)
            previous_ms = event.capture_ms
        return run

    def _stream(
        self,
        camera: str,
        sort_key: str,
        *,
        forward: bool,
        inclusive: bool,
        keys: bool = False,
        first: int = FIRST_PAGE,
    ) -> Items:
        """The items of ``camera``'s partition from ``sort_key`` on, in one direction, page by page
        (lazily: stops when the caller does). ``keys``: only the sort key of each item."""
        operator = (">" if forward else "<") + ("=" if inclusive else "")
        request: QueryInputTypeDef = {
            "TableName": self.table,
            "KeyConditionExpression": f"#p = :p AND #s {operator} :k",
            "ExpressionAttributeNames": {"#p": items.PARTITION, "#s": items.SORT},
            "ExpressionAttributeValues": {":p": {"S": camera}, ":k": {"S": sort_key}},
            "ScanIndexForward": forward,
            "ConsistentRead": True,
            "Limit": first,
        }
        if keys:
            request["ProjectionExpression"] = "#s"
        while True:
            page = self.query(request)
            yield from page["Items"]
            last = page.get("LastEvaluatedKey")
            if last is None:
                return
            request = {**request, "ExclusiveStartKey": last, "Limit": min(request["Limit"] * 2, MAX_PAGE)}


def position(incident: Incident) -> Position:
    """The place of an incident in catalog order: that of its first event."""
    return Position(epoch_ms(incident.start), incident.id)
