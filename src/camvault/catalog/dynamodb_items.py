"""The DynamoDB catalog's table layout: item kinds, key building, item <-> event mapping, key ranges.

One table, partition key ``camera_name``, sort key ``event_key``, and one GSI ``timeline`` on
(``capture_date``, ``event_key``). It holds three kinds of items:

- **event**: ``camera_name`` = camera, ``event_key`` = 13-digit UTC epoch ms ``#`` id
  (``domain.keys.event_sort_key``), ``capture_date`` = the capture instant's UTC day, then one
  attribute per ``CatalogEvent`` field under the field's own name. Only event items carry
  ``capture_date``, so the GSI is sparse: it indexes events and nothing else.
- **lookup**: ``camera_name`` = ``#id#`` + event id, ``event_key`` = ``#``, naming where the event
  lives (``target_camera``, ``target_key``, ``target_kind``, ``target_day``). ``get`` and ``delete``
  by id read it (ids are hashes of object keys, so an id alone cannot name the event's place),
  and every write conditions on it, which is what makes a re-delivered event replace its entry
  instead of adding a second one.
- **count**: ``camera_name`` = ``#counts``, ``event_key`` = UTC day ``#`` camera, with atomic
  ``record_count`` and ``snap_count``. ``cameras()`` reads this one small partition (cameras x
  retained days) instead of scanning events; a query across cameras walks it in day order,
  within its day range, to learn which days hold events.

Camera names start with a letter or digit (``domain.keys``), so ``#`` partitions never collide.
With a retention, items get the TTL attribute ``expires_at`` (epoch seconds): capture time plus
the retention days for events and lookups; the end of the day plus the retention days for
counts, so a day's counts outlive its events and disappear with them. An event marked keep and
its lookup get no TTL (writing it un-kept gives it back), and the counts of its day get the
string ``KEPT_DAY`` instead, which TTL ignores: they would otherwise drop the kept event from
the cross-camera timeline. That day's counts stay even after the event is un-kept and expires.

The item mapping is generic: every dataclass field of ``CatalogEvent`` (and of ``MediaInfo``
inside it) is written and read back by its type hint, so a new field flows through without a
change here. An attribute missing from an old item reads as the field's default.

This module performs no I/O; ``camvault.catalog.dynamodb`` talks to DynamoDB.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any

from camvault.catalog.base import EventQuery, Position, ceil_ms, decode_cursor, from_ms
from camvault.domain.keys import SORT_KEY_DIGITS, event_sort_key
from camvault.domain.model import CatalogEvent, Kind, epoch_ms

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

    Item = dict[str, AttributeValueTypeDef]
else:
    Item = dict

PARTITION = "camera_name"
SORT = "event_key"
DAY = "capture_date"
TTL = "expires_at"
KEPT_DAY = "kept"
"""The TTL attribute of the counts of a day holding a kept event: not a number, never expires."""
KEY_ATTRIBUTES = (PARTITION, SORT, DAY)
"""The attributes the table's and the GSI's keys are made of (all strings)."""
LOOKUP_PREFIX = "#id#"
LOOKUP_SORT = "#"
COUNTS_PARTITION = "#counts"
COUNT_ATTRS: dict[Kind, str] = {"record": "record_count", "snap": "snap_count"}
KEY_LIMIT_MS: int = 10**SORT_KEY_DIGITS
"""Capture instants from 1970 to 2286 fit the 13-digit sort key."""
ABOVE_ALL_KEYS = "A"
"""Sorts after every event key (they start with a digit)."""
DAY_SECONDS = 86_400


# -- where things are --------------------------------------------------------------------------


@dataclass(frozen=True)
class Location:
    """Where one event item lives, as its lookup item records it."""

    camera: str
    sort_key: str
    kind: Kind
    day: str

    @classmethod
    def of(cls, event: CatalogEvent) -> Location:
        ms = event.capture_ms
        try:
            sort_key = event_sort_key(ms, event.id)
        except ValueError as exc:
            raise ValueError(f"event {event.id!r} cannot be cataloged in DynamoDB: {exc}") from None
        return cls(event.camera, sort_key, event.kind, utc_day(ms))

    def key(self) -> Item:
        return {PARTITION: {"S": self.camera}, SORT: {"S": self.sort_key}}

    @property
    def bucket(self) -> tuple[str, str]:
        return (self.camera, self.day)


def utc_day(ms: int) -> str:
    return from_ms(ms).strftime("%Y-%m-%d")


def lookup_key(event_id: str) -> Item:
    return {PARTITION: {"S": LOOKUP_PREFIX + event_id}, SORT: {"S": LOOKUP_SORT}}


def counts_key(camera: str, day: str) -> Item:
    return {PARTITION: {"S": COUNTS_PARTITION}, SORT: {"S": f"{day}#{camera}"}}


def expires_at(instant_ms: int, retention_days: int | None) -> int | None:
    """TTL epoch seconds: ``instant_ms`` plus the retention, or None to keep forever."""
    if retention_days is None:
        return None
    return instant_ms // 1000 + retention_days * DAY_SECONDS


def event_expires_at(event: CatalogEvent, retention_days: int | None) -> int | None:
    """TTL of an event's items: none while the event is marked keep."""
    return None if event.keep else expires_at(event.capture_ms, retention_days)


def day_expires_at(day: str, retention_days: int | None) -> int | None:
    """TTL of a day's counts: the end of the day plus the retention."""
    start = datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC)
    return expires_at(epoch_ms(start + timedelta(days=1)), retention_days)


def with_ttl(item: Item, seconds: int | None) -> Item:
    if seconds is not None:
        item[TTL] = {"N": str(seconds)}
    return item


# -- items -------------------------------------------------------------------------------------


def event_item(event: CatalogEvent, retention_days: int | None) -> Item:
    """The event item: keys, ``capture_date``, TTL and one attribute per field."""
    where = Location.of(event)
    item: Item = {**where.key(), DAY: {"S": where.day}}
    for spec in dataclasses.fields(event):
        item[spec.name] = encode(getattr(event, spec.name))
    return with_ttl(item, event_expires_at(event, retention_days))


def item_event(item: Mapping[str, AttributeValueTypeDef]) -> CatalogEvent:
    """The event an event item holds."""
    return typing.cast(CatalogEvent, _decode_dataclass(CatalogEvent, item))


def lookup_item(event: CatalogEvent, retention_days: int | None) -> Item:
    where = Location.of(event)
    item: Item = {
        **lookup_key(event.id),
        "target_camera": {"S": where.camera},
        "target_key": {"S": where.sort_key},
        "target_kind": {"S": where.kind},
        "target_day": {"S": where.day},
    }
    return with_ttl(item, event_expires_at(event, retention_days))


def item_location(item: Mapping[str, AttributeValueTypeDef]) -> Location:
    kind = item["target_kind"]["S"]
    return Location(
        camera=item["target_camera"]["S"],
        sort_key=item["target_key"]["S"],
        kind="snap" if kind == "snap" else "record",
        day=item["target_day"]["S"],
    )


@dataclass(frozen=True)
class DayCount:
    """One camera's events of one UTC day."""

    camera: str
    day: str
    record_count: int
    snap_count: int

    def count(self, kind: Kind | None = None) -> int:
        if kind is None:
            return self.record_count + self.snap_count
        return self.record_count if kind == "record" else self.snap_count


def item_day_count(item: Mapping[str, AttributeValueTypeDef]) -> DayCount:
    day, _, camera = item[SORT]["S"].partition("#")
    return DayCount(
        camera=camera,
        day=day,
        record_count=int(item.get("record_count", {"N": "0"})["N"]),
        snap_count=int(item.get("snap_count", {"N": "0"})["N"]),
    )


# -- generic value mapping ---------------------------------------------------------------------


def encode(value: object) -> AttributeValueTypeDef:
    """An attribute value for a field value (instants as UTC epoch milliseconds)."""
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int | float):
        return {"N": repr(value)}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, datetime):
        return {"N": str(epoch_ms(value))}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {"M": {spec.name: encode(getattr(value, spec.name)) for spec in dataclasses.fields(value)}}
    if isinstance(value, Mapping):
        return {"M": {str(key): encode(inner) for key, inner in value.items()}}
    raise TypeError(f"cannot store a {type(value).__name__} in the DynamoDB catalog")


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _decode_dataclass(cls: type, attrs: Mapping[str, Any]) -> object:
    values: dict[str, Any] = {}
    hints = _hints(cls)
    for spec in dataclasses.fields(cls):
        if spec.name in attrs:
            values[spec.name] = decode(attrs[spec.name], hints[spec.name])
    return cls(**values)


def decode(value: Mapping[str, Any], hint: Any) -> Any:
    """The field value of an attribute value, by the field's type hint."""
    if value.get("NULL"):
        return None
    hint = _without_none(hint)
    origin = typing.get_origin(hint)
    if hint is datetime:
        return from_ms(int(value["N"]))
    if hint is bool:
        return bool(value["BOOL"])
    if hint is int or hint is float:
        return hint(value["N"])
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return _decode_dataclass(hint, value["M"])
    if origin is dict:
        _, inner = typing.get_args(hint)
        return {key: decode(item, inner) for key, item in value["M"].items()}
    return value["S"]  # str and Literal choices of str


def _without_none(hint: Any) -> Any:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        if len(args) == 1:
            return args[0]
    return hint


# -- key ranges of a query ---------------------------------------------------------------------


@dataclass(frozen=True)
class KeyRange:
    """The sort-key range of a query: ``low`` and ``high`` inclusive, ``exclude`` (the cursor's
    own position) left out, and the UTC days it can touch."""

    low: str
    high: str
    exclude: str | None
    first_day: str
    last_day: str

    @property
    def day_keys(self) -> tuple[str, str]:
        """Inclusive sort-key bounds of the count items of the days in range."""
        return self.first_day, self.last_day + "~"  # "~" sorts after "#camera"


def _sort_bound(ms: int) -> str:
    return f"{ms:0{SORT_KEY_DIGITS}d}" if ms < KEY_LIMIT_MS else ABOVE_ALL_KEYS


def key_range(query: EventQuery) -> KeyRange | None:
    """The sort keys ``query`` selects, or None when it selects nothing.

    A bare digits string sorts before every ``digits#id`` key of that millisecond, so start
    (inclusive) and end (exclusive) both become the digits of their first whole millisecond.
    The cursor position becomes an inclusive bound whose own key is excluded.
    """
    low_ms = max(ceil_ms(query.start), 0) if query.start is not None else 0
    high_ms = min(ceil_ms(query.end), KEY_LIMIT_MS) if query.end is not None else KEY_LIMIT_MS
    low, high = _sort_bound(low_ms), _sort_bound(high_ms)
    exclude = None
    if query.cursor is not None:
        cursor = decode_cursor(query.cursor)
        if not _cursor_can_match(cursor, query.newest_first):
            return None
        if 0 <= cursor.capture_ms < KEY_LIMIT_MS:
            exclude = f"{_sort_bound(cursor.capture_ms)}#{cursor.event_id}"
            if query.newest_first:
                high, high_ms = min(high, exclude), min(high_ms, cursor.capture_ms + 1)
            else:
                low, low_ms = max(low, exclude), max(low_ms, cursor.capture_ms)
    if low_ms >= high_ms or low > high:
        return None
    return KeyRange(low, high, exclude, utc_day(low_ms), utc_day(high_ms - 1))


def _cursor_can_match(cursor: Position, newest_first: bool) -> bool:
    """False when every stored key is on the wrong side of a cursor outside the key space."""
    if newest_first:
        return cursor.capture_ms >= 0
    return cursor.capture_ms < KEY_LIMIT_MS
