"""Turn object-store notifications into typed ``ObjectCreated`` records.

Decides which shapes camvault understands: direct S3 notifications (every record, not just
the first); SQS batches whose ``body`` is an S3 notification, an SNS envelope, an EventBridge
event or an ``s3:TestEvent``; SNS invocations; EventBridge ``Object Created`` events; MinIO and
Ceph RGW records (``s3:`` event-name prefix dropped, Ceph's string ``size`` converted).
Notification keys are decoded with ``unquote_plus``; EventBridge keys are not encoded and are
used as-is. ``s3:TestEvent``, SNS confirmations and non-create events (ObjectRemoved,
ObjectRestore, Replication, Lifecycle…) are recognised and listed in ``Delivery.ignored``.

Failure units: an SQS batch gives one ``Delivery`` per message (with its ``messageId``, for
``batchItemFailures``); anything else gives one ``Delivery`` with ``message_id=None``. A record that
cannot be parsed sets ``Delivery.error`` (naming its path: ``Records[1].s3.object.key: missing``)
while the good records of that delivery are still returned: the caller processes them, then
reports the delivery as failed. A payload that is not a notification at all raises
``EventParseError``. Records keep delivery order and are never de-duplicated here (processing is
idempotent downstream).

It never does I/O, never reads object contents and never interprets a key (camera, kind).
The inverse, building a notification, is ``domain.notifications``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import unquote_plus

from camvault.domain.model import parse_instant

_SHAPE_HINT = "expected an object with 'Records' or 'detail-type'"
_RECORD_SOURCES = {"aws:s3": "s3", "minio:s3": "minio", "ceph:s3": "ceph"}
_EVENTBRIDGE_REASONS = {
    "PutObject": "ObjectCreated:Put",
    "POST Object": "ObjectCreated:Post",
    "CopyObject": "ObjectCreated:Copy",
    "CompleteMultipartUpload": "ObjectCreated:CompleteMultipartUpload",
}
_SNS_CONTROL_TYPES = ("SubscriptionConfirmation", "UnsubscribeConfirmation")


class EventParseError(ValueError):
    """The payload (or one part of it) is not a notification camvault understands."""


@dataclass(frozen=True)
class ObjectCreated:
    """One object that was created, as the store announced it (key decoded)."""

    bucket: str
    key: str
    size: int | None
    etag: str | None
    event_time: datetime | None
    event_name: str
    sequencer: str | None
    source: str


@dataclass(frozen=True)
class Delivery:
    """One unit that succeeds or fails together: one SQS message, or the whole direct event.

    ``error`` set means at least one part could not be parsed; ``records`` still holds the parts
    that could, so the caller processes them and then reports the delivery as failed.
    """

    message_id: str | None
    records: tuple[ObjectCreated, ...]
    ignored: tuple[str, ...]
    error: str | None = None


@dataclass
class _Outcome:
    """What parsing one document produced (local accumulator, never escapes the module)."""

    records: list[ObjectCreated] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def merge(self, other: _Outcome) -> None:
        self.records.extend(other.records)
        self.ignored.extend(other.ignored)
        self.errors.extend(other.errors)

    def delivery(self, message_id: str | None) -> Delivery:
        error = "; ".join(self.errors) if self.errors else None
        return Delivery(message_id, tuple(self.records), tuple(self.ignored), error)


_Shapes = tuple[
    tuple[Callable[[Mapping[str, Any]], bool], Callable[[Mapping[str, Any], str], "_Outcome"]], ...
]

# --- small typed accessors; every failure names its path --------------------------------------


def _at(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, list):
        return "list"
    return type(value).__name__


def _obj(parent: Mapping[str, Any], key: str, path: str) -> Mapping[str, Any]:
    value = parent.get(key)
    if value is None:
        raise EventParseError(f"{_at(path, key)}: missing")
    if not isinstance(value, Mapping):
        raise EventParseError(f"{_at(path, key)}: expected an object, got {_kind(value)}")
    return value


def _optional_text(parent: Mapping[str, Any], key: str, path: str) -> str | None:
    value = parent.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise EventParseError(f"{_at(path, key)}: expected a string, got {_kind(value)}")
    return value


def _text(parent: Mapping[str, Any], key: str, path: str) -> str:
    value = _optional_text(parent, key, path)
    if value is None:
        raise EventParseError(f"{_at(path, key)}: missing")
    return value


def _size(parent: Mapping[str, Any], key: str, path: str) -> int | None:
    """An object size: a JSON integer, or a decimal string (Ceph RGW sends ``"1024"``)."""
    value = parent.get(key)
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    raise EventParseError(f"{_at(path, key)}: expected a non-negative integer, got {value!r}")


def _instant(parent: Mapping[str, Any], key: str, path: str) -> datetime | None:
    text = _optional_text(parent, key, path)
    if text is None:
        return None
    try:
        return parse_instant(text)
    except ValueError:
        raise EventParseError(f"{_at(path, key)}: not an ISO 8601 instant: {text!r}") from None


def _decoded_key(encoded: str, path: str) -> str:
    try:
        return unquote_plus(encoded, errors="strict")
    except UnicodeDecodeError:
        raise EventParseError(f"{path}: not percent-encoded UTF-8: {encoded!r}") from None


def _json(text: object, path: str) -> object:
    if not isinstance(text, str):
        what = "missing" if text is None else f"expected a JSON string, got {_kind(text)}"
        raise EventParseError(f"{path}: {what}")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise EventParseError(
            f"{path}: invalid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from None


def _quiet(get: Callable[[], str]) -> str:
    """Best effort for descriptions of ignored events: never fail on a missing field."""
    try:
        return get()
    except EventParseError:
        return "?"


# --- records inside a ``Records`` list ---------------------------------------------------------


def _parse_s3_record(record: Mapping[str, Any], path: str) -> _Outcome:
    """An S3-style record (AWS, MinIO, Ceph): a create, or something recognised and ignored."""
    name = _text(record, "eventName", path).removeprefix("s3:")
    s3_path = _at(path, "s3")
    if not name.startswith("ObjectCreated:"):
        bucket = _quiet(lambda: _text(_obj(_obj(record, "s3", ""), "bucket", ""), "name", ""))
        key = _quiet(lambda: _text(_obj(_obj(record, "s3", ""), "object", ""), "key", ""))
        return _Outcome(ignored=[f"{name} {bucket}/{unquote_plus(key)}"])
    s3 = _obj(record, "s3", path)
    bucket_path, object_path = _at(s3_path, "bucket"), _at(s3_path, "object")
    obj = _obj(s3, "object", s3_path)
    source = record.get("eventSource")
    created = ObjectCreated(
        bucket=_text(_obj(s3, "bucket", s3_path), "name", bucket_path),
        key=_decoded_key(_text(obj, "key", object_path), _at(object_path, "key")),
        size=_size(obj, "size", object_path),
        etag=_optional_text(obj, "eTag", object_path),
        event_time=_instant(record, "eventTime", path),
        event_name=name,
        sequencer=_optional_text(obj, "sequencer", object_path),
        source=_RECORD_SOURCES.get(source, source) if isinstance(source, str) else "s3",
    )
    return _Outcome(records=[created])


def _parse_sns_record(record: Mapping[str, Any], path: str) -> _Outcome:
    """An SNS invocation record: its ``Sns`` object is an SNS envelope."""
    return _parse_sns_envelope(_obj(record, "Sns", path), _at(path, "Sns"))


# (recognise, parse) pairs, tried in order: the first recognised shape parses the record.
_RECORD_SHAPES: _Shapes = (
    (lambda rec: rec.get("EventSource") == "aws:sns" or "Sns" in rec, _parse_sns_record),
    (lambda rec: "s3" in rec or rec.get("eventSource") in _RECORD_SOURCES, _parse_s3_record),
)


def _parse_record(record: object, path: str) -> _Outcome:
    if not isinstance(record, Mapping):
        raise EventParseError(f"{path}: expected an object, got {_kind(record)}")
    for matches, parse in _RECORD_SHAPES:
        if matches(record):
            return parse(record, path)
    source = record.get("eventSource", record.get("EventSource"))
    raise EventParseError(f"{path}: unrecognised record (eventSource {source!r})")


# --- whole documents (top level, SQS body, SNS message) -----------------------------------------


def _parse_records(doc: Mapping[str, Any], path: str) -> _Outcome:
    """Every record of a ``Records`` list; a bad record is an error, the others still count."""
    records_path = _at(path, "Records")
    outcome = _Outcome()
    for index, record in enumerate(doc["Records"]):
        try:
            outcome.merge(_parse_record(record, f"{records_path}[{index}]"))
        except EventParseError as exc:
            outcome.errors.append(str(exc))
    return outcome


def _parse_test_event(doc: Mapping[str, Any], path: str) -> _Outcome:
    return _Outcome(ignored=[f"s3:TestEvent for bucket {doc.get('Bucket', '?')}"])


def _is_sns_envelope(doc: Mapping[str, Any]) -> bool:
    return doc.get("Type") in ("Notification", *_SNS_CONTROL_TYPES) and "TopicArn" in doc


def _parse_sns_envelope(envelope: Mapping[str, Any], path: str) -> _Outcome:
    """An SNS envelope (SNS invocation, or SNS → SQS without raw delivery)."""
    kind = envelope.get("Type", "Notification")
    if kind in _SNS_CONTROL_TYPES:
        return _Outcome(ignored=[f"SNS {kind} for {envelope.get('TopicArn', '?')}"])
    message_path = _at(path, "Message")
    return _parse_document(_json(envelope.get("Message"), message_path), message_path)


def _parse_eventbridge(doc: Mapping[str, Any], path: str) -> _Outcome:
    """An EventBridge event from S3; keys are not URL-encoded there."""
    detail_type = _text(doc, "detail-type", path)
    detail = _obj(doc, "detail", path)
    detail_path = _at(path, "detail")
    if doc.get("source") != "aws.s3" or detail_type != "Object Created":
        bucket = _quiet(lambda: _text(_obj(detail, "bucket", ""), "name", ""))
        key = _quiet(lambda: _text(_obj(detail, "object", ""), "key", ""))
        return _Outcome(ignored=[f"EventBridge {doc.get('source')} {detail_type} {bucket}/{key}"])
    obj = _obj(detail, "object", detail_path)
    object_path = _at(detail_path, "object")
    reason = _optional_text(detail, "reason", detail_path)
    created = ObjectCreated(
        bucket=_text(_obj(detail, "bucket", detail_path), "name", _at(detail_path, "bucket")),
        key=_text(obj, "key", object_path),
        size=_size(obj, "size", object_path),
        etag=_optional_text(obj, "etag", object_path),
        event_time=_instant(doc, "time", path),
        event_name=_EVENTBRIDGE_REASONS.get(reason or "", f"ObjectCreated:{reason or '*'}"),
        sequencer=_optional_text(obj, "sequencer", object_path),
        source="eventbridge",
    )
    return _Outcome(records=[created])


# (recognise, parse) pairs for a whole document (top level, SQS body, SNS message), in order.
_DOCUMENT_SHAPES: _Shapes = (
    (lambda doc: doc.get("Event") == "s3:TestEvent", _parse_test_event),
    (_is_sns_envelope, _parse_sns_envelope),
    (lambda doc: "detail-type" in doc, _parse_eventbridge),
    (lambda doc: "Records" in doc, _parse_records),
)


def _describe(value: object) -> str:
    if isinstance(value, Mapping):
        keys = sorted(str(key) for key in value)
        shown = ", ".join(repr(key) for key in keys[:8]) + (", …" if len(keys) > 8 else "")
        return f"an object with keys [{shown}]"
    return _kind(value)


def _parse_document(doc: object, path: str) -> _Outcome:
    """Raise if ``doc`` is no known shape; once recognised, problems become ``errors``."""
    records = doc.get("Records", []) if isinstance(doc, Mapping) else []
    if not isinstance(records, list):
        raise EventParseError(f"{_at(path, 'Records')}: expected a list, got {_kind(records)}")
    if isinstance(doc, Mapping):
        for matches, parse in _DOCUMENT_SHAPES:
            if matches(doc):
                try:
                    return parse(doc, path)
                except EventParseError as exc:
                    return _Outcome(errors=[str(exc)])
    raise EventParseError(f"{path or 'event'}: {_SHAPE_HINT}, got {_describe(doc)}")


# --- SQS batches: one delivery per message ------------------------------------------------------


def _sqs_messages(payload: object) -> list[object] | None:
    """The ``Records`` of an SQS batch, or None when ``payload`` is not one."""
    records = payload.get("Records") if isinstance(payload, Mapping) else None
    if isinstance(records, list) and any(
        isinstance(record, Mapping) and record.get("eventSource") == "aws:sqs" for record in records
    ):
        return records
    return None


def _sqs_delivery(record: object, path: str) -> Delivery:
    """One SQS message; ``message_id`` is None only when the message has none (fail the batch)."""
    if not isinstance(record, Mapping):
        return Delivery(None, (), (), f"{path}: expected an SQS message, got {_kind(record)}")
    message_id = record.get("messageId")
    if not isinstance(message_id, str) or not message_id:
        return Delivery(None, (), (), f"{_at(path, 'messageId')}: missing")
    body_path = _at(path, "body")
    try:
        outcome = _parse_document(_json(record.get("body"), body_path), body_path)
    except EventParseError as exc:
        return Delivery(message_id, (), (), str(exc))
    return outcome.delivery(message_id)


# --- public API ---------------------------------------------------------------------------------


def parse_event(payload: object) -> tuple[Delivery, ...]:
    """Every delivery in ``payload`` (a decoded JSON event), in order.

    Raises ``EventParseError`` when the payload as a whole is not a notification; problems inside
    one delivery are reported in that delivery's ``error`` instead.
    """
    messages = _sqs_messages(payload)
    if messages is not None:
        return tuple(_sqs_delivery(msg, f"Records[{i}]") for i, msg in enumerate(messages))
    return (_parse_document(payload, "").delivery(None),)
