"""The processor Lambda handler on real parts: objects in SeaweedFS (S3), the catalog in DynamoDB
on moto's server, real clips and snapshots, and every notification shape camvault understands.

The event fixtures (tests/unit/fixtures/events/*.json) name the buckets ``patrolcams-archive``
(AWS shapes) and ``patrolcams`` (MinIO, Ceph); those buckets are created on the session's
SeaweedFS server and each test removes what it wrote under ``patrolcams/``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from camvault.catalog.base import EventQuery
from camvault.catalog.dynamodb import DynamoDBCatalog, create_table
from camvault.domain.events import parse_event
from camvault.domain.keys import event_id_for_key, parse_key
from camvault.domain.notifications import object_created_notification
from camvault.media.probe import MediaLimits
from camvault.processor.core import Processor, ProcessorSettings
from camvault.processor.lambda_handler import LambdaProcessor, LogLine, ProcessingFailed
from camvault.store.s3 import S3Store
from tests.support.media import make_clip, make_corrupt, make_jpeg
from tests.support.moto import MotoServer, unique_name
from tests.support.seaweed import SeaweedServer

pytestmark = pytest.mark.functional

FIXTURES = Path(__file__).parent.parent / "unit" / "fixtures" / "events"
PREFIX = "patrolcams"
ARCHIVE = "patrolcams-archive"
FAILED_IN_FIXTURE = {"sqs_batch": ["059f36b4-87a3-44ab-83d2-661975830a7d"]}


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    folder = tmp_path_factory.mktemp("media")
    return {
        ".mp4": make_clip(folder / "clip.mp4").read_bytes(),
        ".mkv": make_clip(folder / "clip.mkv").read_bytes(),
        ".jpg": make_jpeg(folder / "snap.jpg", width=64, height=48).read_bytes(),
        "corrupt": make_corrupt(folder / "bad.mp4", mode="garbage").read_bytes(),
    }


@dataclass
class Lambda:
    """A handler for one bucket, its catalog, its store and the log lines it wrote."""

    catalog: DynamoDBCatalog
    stores: dict[str, S3Store]
    media: dict[str, bytes]
    settings: ProcessorSettings
    lines: list[LogLine] = field(default_factory=list)

    def upload(self, bucket: str, key: str, data: bytes | None = None, **metadata: str) -> None:
        content = data if data is not None else self.media[Path(key).suffix]
        self.stores[bucket].put(key, content, content_type="application/octet-stream", metadata=metadata)

    def handle(self, event: object, bucket: str = ARCHIVE) -> dict[str, Any]:
        processor = Processor(self.stores[bucket], self.catalog, self.settings, zone_of=lambda _name: None)
        return LambdaProcessor(processor, bucket=bucket, log=self.lines.append).handle(event, "req-1")


@pytest.fixture
def aws(seaweed: SeaweedServer, moto_server: MotoServer, media: dict[str, bytes]) -> Iterator[Lambda]:
    table = unique_name("events")
    admin = moto_server.client("dynamodb")
    create_table(admin, table)
    catalog = DynamoDBCatalog(moto_server.client("dynamodb"), table, retention_days=30)
    stores: dict[str, S3Store] = {}
    for bucket in (ARCHIVE, PREFIX, seaweed.bucket):
        client = seaweed.client()
        if bucket not in {b["Name"] for b in client.list_buckets()["Buckets"]}:
            client.create_bucket(Bucket=bucket)
        stores[bucket] = S3Store(bucket, client=client)
    settings = ProcessorSettings(
        prefix=PREFIX,
        default_zone=ZoneInfo("UTC"),
        skew_tolerance=timedelta(minutes=15),
        limits=MediaLimits(),
    )
    try:
        yield Lambda(catalog, stores, media, settings)
    finally:
        for store in stores.values():
            for info in list(store.list(PREFIX + "/")):
                store.delete(info.key)
            store.close()
        catalog.close()
        admin.delete_table(TableName=table)
        admin.close()


def load(name: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return result


def records_of(event: dict[str, Any]) -> list[tuple[str, str]]:
    """(bucket, key) of every record of every delivery, in order."""
    return [(record.bucket, record.key) for delivery in parse_event(event) for record in delivery.records]


def sqs_message(message_id: str, body: object) -> dict[str, Any]:
    return {
        "messageId": message_id,
        "receiptHandle": f"handle-{message_id}",
        "body": body if isinstance(body, str) else json.dumps(body),
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:camvault-uploads",
        "awsRegion": "us-east-1",
    }


def created(bucket: str, key: str, size: int = 1) -> dict[str, Any]:
    return object_created_notification(
        bucket=bucket, key=key, size=size, etag=None, event_time=datetime(2024, 3, 10, 9, tzinfo=UTC)
    )


def key_at(camera: str, instant: datetime, name: str) -> str:
    kind = "snap" if name.endswith(".jpg") else "record"
    return f"{PREFIX}/{camera}/{instant:%Y-%m-%d}/Hour-{instant:%H}/{kind}/{name}"


# -- every shape ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(path.stem for path in FIXTURES.glob("*.json")))
def test_every_event_shape_catalogs_every_record(aws: Lambda, name: str) -> None:
    event = load(name)
    records = records_of(event)
    for bucket, key in records:
        aws.upload(bucket, key)
    bucket = records[0][0] if records else ARCHIVE

    answer = aws.handle(event, bucket)

    failed = FAILED_IN_FIXTURE.get(name, [])
    assert answer == {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}
    for _, key in records:
        stored = aws.catalog.get(event_id_for_key(key))
        assert stored is not None, key
        assert (stored.key, stored.camera, stored.playable) == (key, parse_key(key).camera, True)
        assert stored.thumbnail_key is not None
    keyed = [line for line in aws.lines if "key" in line]
    assert [line["key"] for line in keyed] == [key for _, key in records]
    assert all(line["status"] == "cataloged" for line in keyed)
    ignored = [line for line in aws.lines if line["status"] == "ignored"]
    assert len(ignored) == sum(len(delivery.ignored) for delivery in parse_event(event))
    assert len([line for line in aws.lines if line["status"] == "rejected"]) == len(failed)


def test_a_test_event_catalogs_nothing_and_says_so(aws: Lambda) -> None:
    answer = aws.handle(load("sqs_test_event"))

    assert answer == {"batchItemFailures": []}
    assert aws.catalog.query(EventQuery()).events == []
    [line] = aws.lines
    assert line["status"] == "ignored"
    assert "s3:TestEvent" in line["reason"]


# -- duplicated and out-of-order deliveries ------------------------------------------------


def test_a_message_delivered_twice_in_one_batch_makes_one_entry(aws: Lambda) -> None:
    event = load("sqs_redelivered")
    for bucket, key in records_of(event):
        aws.upload(bucket, key)

    assert aws.handle(event) == {"batchItemFailures": []}

    statuses = [(line["message_id"][:2], line["new"]) for line in aws.lines]
    assert statuses == [("11", True), ("22", True), ("33", False)]
    by_camera = {summary.camera: summary.event_count for summary in aws.catalog.cameras()}
    assert by_camera == {"frontdoor": 1, "garage": 1}


def test_a_whole_invocation_redelivered_later_changes_nothing(aws: Lambda) -> None:
    event = load("s3_direct")
    for bucket, key in records_of(event):
        aws.upload(bucket, key)
    aws.handle(event)
    before = aws.catalog.query(EventQuery(limit=50)).events
    aws.lines.clear()

    assert aws.handle(event) == {"batchItemFailures": []}

    assert [line["new"] for line in aws.lines] == [False, False, False]
    assert aws.catalog.query(EventQuery(limit=50)).events == before
    assert sum(summary.event_count for summary in aws.catalog.cameras()) == 3


def test_deliveries_out_of_capture_order_list_in_capture_order(aws: Lambda) -> None:
    first = datetime(2024, 3, 10, 23, 59, 58, tzinfo=UTC)
    times = [first + timedelta(seconds=n) for n in range(4)]  # crosses midnight: two GSI days
    keys = [key_at("porch", at, f"clip-{n}.mp4") for n, at in enumerate(times)]
    for key, at in zip(keys, times, strict=True):
        aws.upload(ARCHIVE, key, **{"capture-time": at.isoformat()})
    shuffled = [3, 0, 2, 1, 3, 0]
    batch = {"Records": [sqs_message(f"m{i}", created(ARCHIVE, keys[n])) for i, n in enumerate(shuffled)]}

    assert aws.handle(batch) == {"batchItemFailures": []}

    newest = aws.catalog.query(EventQuery(limit=50)).events
    assert [event.key for event in newest] == list(reversed(keys))
    assert [event.capture_time for event in newest] == list(reversed(times))
    oldest = aws.catalog.query(EventQuery(camera="porch", newest_first=False, limit=50)).events
    assert [event.key for event in oldest] == keys


# -- partial batch failure -----------------------------------------------------------------


def test_only_the_failed_messages_of_a_batch_are_named(aws: Lambda) -> None:
    good = key_at("porch", datetime(2024, 3, 10, 9, tzinfo=UTC), "good.mp4")
    corrupt = key_at("porch", datetime(2024, 3, 10, 9, 1, tzinfo=UTC), "corrupt.mp4")
    missing = key_at("porch", datetime(2024, 3, 10, 9, 2, tzinfo=UTC), "never-uploaded.mp4")
    future = key_at("porch", datetime(2024, 3, 10, 9, 3, tzinfo=UTC), "far-future.mp4")
    aws.upload(ARCHIVE, good)
    aws.upload(ARCHIVE, corrupt, aws.media["corrupt"])
    aws.upload(ARCHIVE, future, **{"capture-time": "2300-01-01T00:00:00Z"})
    batch = {
        "Records": [
            sqs_message("good", created(ARCHIVE, good)),
            sqs_message("malformed", '{"Records": [{"eventSource": "aws:s3"'),
            sqs_message("corrupt", created(ARCHIVE, corrupt)),
            sqs_message("missing", created(ARCHIVE, missing)),
            sqs_message("foreign", created("someone-elses-bucket", good)),
            sqs_message("future", created(ARCHIVE, future)),
        ]
    }

    answer = aws.handle(batch)

    assert answer == {
        "batchItemFailures": [{"itemIdentifier": m} for m in ("malformed", "foreign", "future")]
    }
    assert aws.catalog.get(event_id_for_key(good)) is not None
    unplayable = aws.catalog.get(event_id_for_key(corrupt))
    assert unplayable is not None
    assert unplayable.playable is False
    assert aws.catalog.get(event_id_for_key(missing)) is None
    status = {line["message_id"]: line["status"] for line in aws.lines}
    assert status == {
        "good": "cataloged",
        "malformed": "rejected",
        "corrupt": "cataloged",
        "missing": "skipped",
        "foreign": "failed",
        "future": "failed",
    }
    future_line = next(line for line in aws.lines if line["message_id"] == "future")
    assert "cannot be cataloged" in future_line["reason"]


def test_a_failed_direct_invocation_raises_after_processing_the_rest(aws: Lambda) -> None:
    good = key_at("porch", datetime(2024, 3, 10, 9, tzinfo=UTC), "good.mp4")
    future = key_at("porch", datetime(2024, 3, 10, 9, 3, tzinfo=UTC), "far-future.mp4")
    aws.upload(ARCHIVE, good)
    aws.upload(ARCHIVE, future, **{"capture-time": "2300-01-01T00:00:00Z"})
    event = {"Records": created(ARCHIVE, future)["Records"] + created(ARCHIVE, good)["Records"]}

    with pytest.raises(ProcessingFailed, match="retry the invocation"):
        aws.handle(event)

    assert aws.catalog.get(event_id_for_key(good)) is not None


def test_a_payload_that_is_no_notification_is_refused_with_one_log_line(aws: Lambda) -> None:
    with pytest.raises(ProcessingFailed, match="not a storage notification"):
        aws.handle({"hello": "world"})

    [line] = aws.lines
    assert (line["level"], line["status"]) == ("error", "rejected")


# -- log lines -----------------------------------------------------------------------------


def test_each_record_logs_one_line_with_what_happened_and_no_secrets(
    aws: Lambda, seaweed: SeaweedServer, moto_server: MotoServer
) -> None:
    key = key_at("porch", datetime(2024, 3, 10, 9, tzinfo=UTC), "clip.mp4")
    aws.upload(ARCHIVE, key, **{"capture-time": "2024-03-10T09:00:00Z", "source-path": "secret-site/clip"})

    aws.handle({"Records": [sqs_message("m1", created(ARCHIVE, key))]})

    [line] = aws.lines
    assert json.loads(json.dumps(line)) == line
    assert line["request_id"] == "req-1"
    assert (line["message_id"], line["key"], line["status"], line["new"]) == ("m1", key, "cataloged", True)
    assert line["event_id"] == event_id_for_key(key)
    assert line["duration_ms"] > 0
    text = json.dumps(aws.lines)
    for secret in (seaweed.secret_key, moto_server.secret_key, "secret-site"):
        assert secret not in text


def test_a_message_without_an_id_fails_the_whole_batch_after_the_rest_is_processed(aws: Lambda) -> None:
    good = key_at("porch", datetime(2024, 3, 10, 9, tzinfo=UTC), "good.mp4")
    aws.upload(ARCHIVE, good)
    nameless = sqs_message("x", created(ARCHIVE, good))
    del nameless["messageId"]
    batch = {"Records": [sqs_message("good", created(ARCHIVE, good)), nameless]}

    with pytest.raises(ProcessingFailed, match=r"Records\[1\]\.messageId: missing"):
        aws.handle(batch)

    assert aws.catalog.get(event_id_for_key(good)) is not None
