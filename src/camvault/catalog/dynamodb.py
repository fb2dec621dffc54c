"""The catalog at scale: one DynamoDB table with the GSI ``timeline`` (layout: ``dynamodb_items``).

Decides how the ``Catalog`` primitives become DynamoDB calls:

- ``put`` and ``delete`` are one ``TransactWriteItems`` each: the event item, its lookup item and
  the per-day counts change together or not at all (never two writes that can disagree). Every
  transaction is conditioned on what the lookup item said when it was read; when another writer
  got there first, the transaction is cancelled and retried from a fresh read. So a re-delivered
  event replaces its entry (``put`` returns False), and two deliveries racing never make two.
- ``get`` reads the lookup item, then the event item (both strongly consistent).
- ``query`` reads one camera's partition of the table, or, across cameras, the GSI one UTC day
  at a time (newest day first when newest first): a key-range ``Query`` each, never a ``Scan``.
  The days come from the count items, read in the same order and only as far as the page
  needs. Pages use the same cursor as every backend: the keyset position (capture ms, id),
  which the sort key encodes in the same order.
- ``cameras`` sums the count items and reads each camera's newest event (one ``Query``, limit 1).
- incidents are computed on read from the camera partitions (``dynamodb_incidents``): an event
  read back gains its ``incident_id``; nothing about incidents is written, so ``put`` and
  ``delete`` never touch a neighbour and the ``incident_id`` of an event put is not stored.

Queries of the GSI are eventually consistent (DynamoDB offers nothing else on a GSI); an event
put a moment ago may take a moment to be listed across cameras.

boto3 is imported only by ``make_dynamodb_client``; this module never reads settings.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from camvault.catalog import dynamodb_items as items
from camvault.catalog import dynamodb_requests as requests
from camvault.catalog.base import (
    CameraSummary,
    CatalogError,
    EventPage,
    EventQuery,
    IncidentPage,
    IncidentQuery,
    Position,
    encode_cursor,
)
from camvault.catalog.dynamodb_incidents import IncidentReads, position
from camvault.catalog.dynamodb_items import Item, KeyRange, Location
from camvault.domain.incidents import DEFAULT_GAP, IncidentDetail
from camvault.domain.model import CatalogEvent, Kind

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import (
        AttributeValueTypeDef,
        QueryInputTypeDef,
        TransactWriteItemTypeDef,
    )

URL_PREFIX = "dynamodb://"
DEFAULT_INDEX = "timeline"
MAX_ATTEMPTS = 8
"""Transactions retried after losing a race (or a transaction conflict) before giving up."""
_RETRYABLE = {"ConditionalCheckFailed", "TransactionConflict"}


class _Conflict(Exception):
    """A transaction lost a race; read again and retry."""


def make_dynamodb_client(*, endpoint_url: str | None, region: str | None) -> DynamoDBClient:
    """A boto3 DynamoDB client (standard retries). Credentials follow boto3's usual chain."""
    try:
        import boto3
        from botocore.config import Config
    except ImportError as exc:
        raise CatalogError("the dynamodb:// catalog needs boto3: pip install 'camvault[aws]'") from exc
    config = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=20)
    return boto3.session.Session().client(
        "dynamodb", endpoint_url=endpoint_url, region_name=region, config=config
    )


def table_from_url(url: str) -> str:
    """The table a ``dynamodb://TABLE`` URL names."""
    table = url[len(URL_PREFIX) :] if url.startswith(URL_PREFIX) else ""
    if not table or "/" in table:
        raise ValueError(f"catalog URL {url!r} is not a DynamoDB URL: use dynamodb://TABLE")
    return table


def create_table(client: DynamoDBClient, table: str, *, index: str = DEFAULT_INDEX) -> None:
    """Create the catalog table (on-demand capacity, GSI, TTL on ``expires_at``) and wait for it.

    Production stacks get the same table from the deployment template; this is for tests and
    for running against DynamoDB Local.
    """
    strings: list[Any] = [{"AttributeName": name, "AttributeType": "S"} for name in items.KEY_ATTRIBUTES]
    created = client.create_table(
        TableName=table,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=strings,
        KeySchema=[
            {"AttributeName": items.PARTITION, "KeyType": "HASH"},
            {"AttributeName": items.SORT, "KeyType": "RANGE"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": index,
                "KeySchema": [
                    {"AttributeName": items.DAY, "KeyType": "HASH"},
                    {"AttributeName": items.SORT, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )
    if created["TableDescription"].get("TableStatus") != "ACTIVE":
        client.get_waiter("table_exists").wait(TableName=table, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
    client.update_time_to_live(
        TableName=table, TimeToLiveSpecification={"Enabled": True, "AttributeName": items.TTL}
    )


class DynamoDBCatalog:
    """The ``Catalog`` protocol on one DynamoDB table, through an injected client."""

    def __init__(
        self,
        client: DynamoDBClient,
        table: str,
        *,
        index: str = DEFAULT_INDEX,
        retention_days: int | None = None,
        incident_gap: timedelta = DEFAULT_GAP,
    ) -> None:
        self._client = client
        self.table = table
        self.index = index
        self.retention_days = retention_days
        self._incidents = IncidentReads(
            table,
            incident_gap // timedelta(milliseconds=1),
            lambda request: self._call("query", client.query, **request),
        )

    # -- the Catalog protocol -------------------------------------------------------------

    def put(self, event: CatalogEvent) -> bool:
        """Insert or replace the event with ``event.id``; True when it was new."""
        try:
            target = Location.of(event)
        except ValueError as exc:
            raise CatalogError(str(exc)) from None
        stored = replace(event, incident_id=None)  # computed on read, never stored
        for _ in range(MAX_ATTEMPTS):
            current = self._where(event.id)
            try:
                self._transact(
                    requests.put_writes(self.table, self.retention_days, stored, target, current),
                    f"put event {event.id!r}",
                )
            except _Conflict:
                continue
            return current is None
        raise CatalogError(f"catalog table {self.table}: put of event {event.id!r} kept conflicting; retry")

    def get(self, event_id: str) -> CatalogEvent | None:
        where = self._where(event_id)
        if where is None:
            return None
        found = self._call(
            "get", self._client.get_item, TableName=self.table, Key=where.key(), ConsistentRead=True
        )
        item = found.get("Item")
        return self._incidents.with_incident_ids([items.item_event(item)])[0] if item else None

    def query(self, query: EventQuery) -> EventPage:
        found: list[Mapping[str, AttributeValueTypeDef]] = []
        key_range = items.key_range(query)
        if key_range is not None:
            for item in self._matching(query, key_range):
                found.append(item)
                if len(found) > query.limit:
                    break
        events = self._incidents.with_incident_ids([items.item_event(item) for item in found[: query.limit]])
        cursor = encode_cursor(Position.of(events[-1])) if len(found) > query.limit else None
        return EventPage(events, cursor)

    def cameras(self) -> list[CameraSummary]:
        totals: dict[str, list[int]] = {}
        for count in self._day_counts():
            total = totals.setdefault(count.camera, [0, 0])
            total[0] += count.record_count
            total[1] += count.snap_count
        summaries = []
        for camera, (records, snaps) in sorted(totals.items()):
            if records + snaps > 0:
                latest = next(self._partition(camera, requests.EVERYTHING, newest_first=True, page=1), None)
                summaries.append(
                    CameraSummary(
                        camera=camera,
                        event_count=records + snaps,
                        record_count=records,
                        snap_count=snaps,
                        latest=self._incidents.with_incident_ids([items.item_event(latest)])[0]
                        if latest
                        else None,
                    )
                )
        return summaries

    def delete(self, event_id: str) -> bool:
        for _ in range(MAX_ATTEMPTS):
            current = self._where(event_id)
            if current is None:
                return False
            try:
                self._transact(
                    requests.delete_writes(self.table, self.retention_days, event_id, current),
                    f"delete event {event_id!r}",
                )
            except _Conflict:
                continue
            return True
        raise CatalogError(f"catalog table {self.table}: delete of {event_id!r} kept conflicting; retry")

    def incidents(self, query: IncidentQuery) -> IncidentPage:
        events = EventQuery(**{spec.name: getattr(query, spec.name) for spec in dataclasses.fields(query)})
        key_range = items.key_range(events)
        if key_range is None:
            return IncidentPage([], None)
        cameras = [query.camera] if query.camera is not None else self._cameras_in(key_range)
        found, more = self._incidents.page(cameras, key_range, query.newest_first, query.limit)
        return IncidentPage(found, encode_cursor(position(found[-1])) if more else None)

    def incident(self, incident_id: str) -> IncidentDetail | None:
        where = self._where(incident_id)
        return self._incidents.incident(where.camera, where.sort_key) if where is not None else None

    def close(self) -> None:
        """Close the client's connections."""
        self._client.close()

    def __enter__(self) -> DynamoDBCatalog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- writes ---------------------------------------------------------------------------

    def _transact(self, writes: Sequence[TransactWriteItemTypeDef], what: str) -> None:
        try:
            self._client.transact_write_items(TransactItems=writes)
        except self._client.exceptions.TransactionCanceledException as exc:
            reasons = {reason.get("Code", "") for reason in exc.response.get("CancellationReasons", [])}
            if reasons & _RETRYABLE:
                raise _Conflict from exc
            raise CatalogError(f"catalog table {self.table}: {what} was refused: {exc}") from exc
        except self._client.exceptions.ClientError as exc:
            raise _catalog_error(self.table, what, exc) from exc

    # -- reads ----------------------------------------------------------------------------

    def _where(self, event_id: str) -> Location | None:
        found = self._call(
            "get",
            self._client.get_item,
            TableName=self.table,
            Key=items.lookup_key(event_id),
            ConsistentRead=True,
        )
        item = found.get("Item")
        return items.item_location(item) if item else None

    def _day_counts(
        self, key_range: KeyRange = requests.EVERYTHING, newest_first: bool = False
    ) -> Iterator[items.DayCount]:
        """The count items of the days in range, by day (lazily: one page at a time)."""
        low, high = key_range.day_keys
        request = requests.range_request(
            self.table,
            items.PARTITION,
            items.COUNTS_PARTITION,
            replace(key_range, low=low, high=high),
            newest_first,
        )
        for item in self._pages(request):
            yield items.item_day_count(item)

    def _cameras_in(self, key_range: KeyRange) -> list[str]:
        """The cameras with events on the days of ``key_range``, by name."""
        return sorted({count.camera for count in self._day_counts(key_range) if count.count() > 0})

    def _days(self, key_range: KeyRange, newest_first: bool, kind: Kind | None) -> Iterator[str]:
        """The days in range that hold events of ``kind``, in query order."""
        for day, counts in itertools.groupby(self._day_counts(key_range, newest_first), key=lambda c: c.day):
            if any(count.count(kind) > 0 for count in counts):
                yield day

    def _matching(
        self, query: EventQuery, key_range: KeyRange
    ) -> Iterator[Mapping[str, AttributeValueTypeDef]]:
        """Every event item ``query`` selects, in its order (lazily: stops when the caller does)."""
        if query.camera is not None:
            yield from self._partition(query.camera, key_range, query.newest_first, kind=query.kind)
            return
        for day in self._days(key_range, query.newest_first, query.kind):
            yield from self._day(day, key_range, query.newest_first, kind=query.kind)

    def _partition(
        self,
        camera: str,
        key_range: KeyRange,
        newest_first: bool,
        *,
        kind: Kind | None = None,
        page: int | None = None,
    ) -> Iterator[Mapping[str, AttributeValueTypeDef]]:
        request = requests.range_request(self.table, items.PARTITION, camera, key_range, newest_first, kind)
        if page is not None:
            request["Limit"] = page
        return self._ranged(request, key_range, single_page=page is not None)

    def _day(
        self, day: str, key_range: KeyRange, newest_first: bool, *, kind: Kind | None
    ) -> Iterator[Mapping[str, AttributeValueTypeDef]]:
        request = requests.range_request(self.table, items.DAY, day, key_range, newest_first, kind)
        request["IndexName"] = self.index
        return self._ranged(request, key_range)

    def _ranged(
        self, request: QueryInputTypeDef, key_range: KeyRange, *, single_page: bool = False
    ) -> Iterator[Mapping[str, AttributeValueTypeDef]]:
        for item in self._pages(request, single_page=single_page):
            if item[items.SORT]["S"] != key_range.exclude:
                yield item

    def _pages(
        self, request: QueryInputTypeDef, *, single_page: bool = False
    ) -> Iterator[Mapping[str, AttributeValueTypeDef]]:
        while True:
            page = self._call("query", self._client.query, **request)
            yield from page["Items"]
            last = page.get("LastEvaluatedKey")
            if last is None or single_page:
                return
            request["ExclusiveStartKey"] = last

    def _call(self, what: str, operation: Any, **kwargs: Any) -> Any:
        try:
            return operation(**kwargs)
        except self._client.exceptions.ClientError as exc:
            raise _catalog_error(self.table, what, exc) from exc


def _catalog_error(table: str, what: str, exc: Exception) -> CatalogError:
    code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
    if code == "ResourceNotFoundException":
        return CatalogError(
            f"catalog table {table} does not exist: deploy the stack (camvault aws deploy) "
            "or check [catalog] url"
        )
    return CatalogError(f"catalog table {table}: {what} failed: {exc}")


__all__ = ["DynamoDBCatalog", "Item", "create_table", "make_dynamodb_client", "table_from_url"]
