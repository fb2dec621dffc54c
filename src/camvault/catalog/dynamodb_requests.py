"""The request documents of the DynamoDB catalog: transactions of put and delete, key-range queries.

Pure functions from events and places (``dynamodb_items``) to the dictionaries boto3 sends; the
conditions here are what make concurrent and repeated writes safe (see ``catalog.dynamodb``).
This module performs no I/O.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from camvault.catalog import dynamodb_items as items
from camvault.catalog.dynamodb_items import KeyRange, Location
from camvault.domain.model import CatalogEvent, Kind

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import (
        AttributeValueTypeDef,
        DeleteTypeDef,
        PutTypeDef,
        QueryInputTypeDef,
        TransactWriteItemTypeDef,
    )

EVERYTHING = KeyRange(low="0", high=items.ABOVE_ALL_KEYS, exclude=None, first_day="0", last_day="9999-12-31")
"""Every sort key of a partition."""


def range_request(
    table: str,
    partition_name: str,
    partition: str,
    key_range: KeyRange,
    newest_first: bool,
    kind: Kind | None = None,
) -> QueryInputTypeDef:
    """A key-range ``Query`` of one partition (of the table, or of the GSI by ``partition_name``),
    filtered by kind when asked; the caller drops ``key_range.exclude`` and follows the pages."""
    request: QueryInputTypeDef = {
        "TableName": table,
        "KeyConditionExpression": "#p = :p AND #s BETWEEN :low AND :high",
        "ExpressionAttributeNames": {"#p": partition_name, "#s": items.SORT},
        "ExpressionAttributeValues": {
            ":p": {"S": partition},
            ":low": {"S": key_range.low},
            ":high": {"S": key_range.high},
        },
        "ScanIndexForward": not newest_first,
    }
    if kind is not None:
        request["FilterExpression"] = "#k = :k"
        request["ExpressionAttributeNames"] = {**request["ExpressionAttributeNames"], "#k": "kind"}
        request["ExpressionAttributeValues"] = {**request["ExpressionAttributeValues"], ":k": {"S": kind}}
    return request


def _lookup_condition(current: Location | None) -> dict[str, Any]:
    """The condition that the lookup item still says what was read (or is still absent)."""
    if current is None:
        return {
            "ConditionExpression": "attribute_not_exists(#p)",
            "ExpressionAttributeNames": {"#p": items.PARTITION},
        }
    return {
        "ConditionExpression": "#c = :c AND #k = :k",
        "ExpressionAttributeNames": {"#c": "target_camera", "#k": "target_key"},
        "ExpressionAttributeValues": {":c": {"S": current.camera}, ":k": {"S": current.sort_key}},
    }


def _count(changes: dict[tuple[str, str], dict[Kind, int]], where: Location, delta: int) -> None:
    kinds = changes.setdefault(where.bucket, {})
    kinds[where.kind] = kinds.get(where.kind, 0) + delta


def put_writes(
    table: str, retention_days: int | None, event: CatalogEvent, target: Location, current: Location | None
) -> list[TransactWriteItemTypeDef]:
    """The writes of one put: lookup, event item (moved when its place changed), day counts."""
    writes: list[TransactWriteItemTypeDef] = []
    lookup: dict[str, Any] = {
        "TableName": table,
        "Item": items.lookup_item(event, retention_days),
    }
    lookup.update(_lookup_condition(current))
    writes.append({"Put": cast("PutTypeDef", lookup)})
    put_event: dict[str, Any] = {
        "TableName": table,
        "Item": items.event_item(event, retention_days),
    }
    if current is None or current.key() != target.key():
        put_event["ConditionExpression"] = "attribute_not_exists(#p)"
        put_event["ExpressionAttributeNames"] = {"#p": items.PARTITION}
    writes.append({"Put": cast("PutTypeDef", put_event)})
    changes: dict[tuple[str, str], dict[Kind, int]] = {}
    if current is not None:
        if current.key() != target.key():
            writes.append({"Delete": {"TableName": table, "Key": current.key()}})
        _count(changes, current, -1)
    _count(changes, target, +1)
    writes.extend(_count_updates(table, retention_days, changes, kept=target.bucket if event.keep else None))
    return writes


def delete_writes(
    table: str, retention_days: int | None, event_id: str, current: Location
) -> list[TransactWriteItemTypeDef]:
    """The writes of one delete: lookup, event item, day counts."""
    lookup: dict[str, Any] = {"TableName": table, "Key": items.lookup_key(event_id)}
    lookup.update(_lookup_condition(current))
    changes: dict[tuple[str, str], dict[Kind, int]] = {}
    _count(changes, current, -1)
    return [
        {"Delete": cast("DeleteTypeDef", lookup)},
        {"Delete": {"TableName": table, "Key": current.key()}},
        *_count_updates(table, retention_days, changes),
    ]


def _count_updates(
    table: str,
    retention_days: int | None,
    changes: dict[tuple[str, str], dict[Kind, int]],
    *,
    kept: tuple[str, str] | None = None,
) -> list[TransactWriteItemTypeDef]:
    """Count item updates. A day's TTL is set once; the day of a ``kept`` event gets the string
    ``items.KEPT_DAY`` instead, which DynamoDB's TTL ignores (a number only), for good: other
    kept events of that day may still need their counts."""
    writes: list[TransactWriteItemTypeDef] = []
    for (camera, day), deltas in changes.items():
        adds = {kind: delta for kind, delta in deltas.items() if delta}
        if not adds and (camera, day) != kept:
            continue
        names = {f"#{kind}": items.COUNT_ATTRS[kind] for kind in adds}
        values: dict[str, AttributeValueTypeDef] = {f":{kind}": {"N": str(n)} for kind, n in adds.items()}
        expression = ("ADD " + ", ".join(f"#{kind} :{kind}" for kind in adds) + " ") if adds else ""
        ttl = items.day_expires_at(day, retention_days)
        if (camera, day) == kept:
            names["#ttl"] = items.TTL
            values[":ttl"] = {"S": items.KEPT_DAY}
            expression += "SET #ttl = :ttl"
        elif ttl is not None:
            names["#ttl"] = items.TTL
            values[":ttl"] = {"N": str(ttl)}
            expression += "SET #ttl = if_not_exists(#ttl, :ttl)"
        writes.append(
            {
                "Update": {
                    "TableName": table,
                    "Key": items.counts_key(camera, day),
                    "UpdateExpression": expression,
                    "ExpressionAttributeNames": names,
                    "ExpressionAttributeValues": values,
                }
            }
        )
    return writes
