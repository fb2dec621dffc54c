"""Build the S3 ObjectCreated notification a store sends after a put.

The document is the one S3 itself sends (event version 2.1), so the embedded processor hears
about objects exactly as a Lambda does; ``domain.events.parse_event`` reads it back. No I/O.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus


def _event_time_text(instant: datetime) -> str:
    """ISO 8601 UTC with ``Z``: milliseconds like S3, microseconds only when they are not zero."""
    utc = instant.astimezone(UTC)
    timespec = "milliseconds" if utc.microsecond % 1000 == 0 else "microseconds"
    return utc.isoformat(timespec=timespec).removesuffix("+00:00") + "Z"


def object_created_notification(
    *,
    bucket: str,
    key: str,
    size: int,
    etag: str | None,
    event_time: datetime,
    sequencer: str | None = None,
    region: str = "local",
) -> dict[str, Any]:
    """An S3 ``ObjectCreated:Put`` notification (event version 2.1) for one object.

    The key is encoded the way S3 does (``quote_plus``, ``/`` kept), so ``parse_event`` gives the
    same key, size, etag, time and sequencer back. The local store uses it to feed the processor.
    """
    if not bucket or not key:
        raise ValueError("bucket and key must not be empty")
    if size < 0:
        raise ValueError(f"size must not be negative, got {size}")
    if event_time.tzinfo is None:
        raise ValueError("event_time must be timezone-aware")
    obj: dict[str, Any] = {"key": quote_plus(key, safe="/"), "size": size}
    if etag:
        obj["eTag"] = etag
    if sequencer:
        obj["sequencer"] = sequencer
    record = {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": region,
        "eventTime": _event_time_text(event_time),
        "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "camvault"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "camvault-local",
            "bucket": {
                "name": bucket,
                "ownerIdentity": {"principalId": "camvault"},
                "arn": f"arn:aws:s3:::{bucket}",
            },
            "object": obj,
        },
    }
    return {"Records": [record]}
