"""parse_event over every notification shape camvault accepts, and the local notification builder.

Fixtures under ``fixtures/events/`` are hand-written documents in the exact shapes AWS S3, SQS, SNS,
EventBridge, MinIO and Ceph RGW send (bodies and messages are JSON strings, as on the wire).
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from camvault.domain.events import (
    Delivery,
    EventParseError,
    ObjectCreated,
    parse_event,
)
from camvault.domain.notifications import object_created_notification

pytestmark = pytest.mark.unit

FIXTURES = Path(__file__).parent / "fixtures" / "events"

FRONT = ObjectCreated(
    bucket="patrolcams-archive",
    key="patrolcams/frontdoor/2024-03-10/Hour-09/record/alarm clip +1.mp4",
    size=5242880,
    etag="9b2cf535f27731c974343645a3985328",
    event_time=datetime(2024, 3, 10, 9, 15, 2, 123000, tzinfo=UTC),
    event_name="ObjectCreated:Put",
    sequencer="0065ED7A2E1C3B4F21",
    source="s3",
)
ENTREE = ObjectCreated(
    bucket="patrolcams-archive",
    key="patrolcams/entrée/2024-03-10/Hour-09/snap/门口 1.jpg",
    size=48213,
    etag="d41d8cd98f00b204e9800998ecf8427e",
    event_time=datetime(2024, 3, 10, 9, 15, 3, 456000, tzinfo=UTC),
    event_name="ObjectCreated:Put",
    sequencer="0065ED7A2F0A1B2C33",
    source="s3",
)
GARAGE = ObjectCreated(
    bucket="patrolcams-archive",
    key="patrolcams/garage/2024-03-10/Hour-21/record/MDalarm_20240310_211502.mkv",
    size=73400320,
    etag="3858f62230ac3c915f300c664312c63f-9",
    event_time=datetime(2024, 3, 10, 21, 15, 9, tzinfo=UTC),
    event_name="ObjectCreated:CompleteMultipartUpload",
    sequencer="0065EE23B5D0E7A901",
    source="s3",
)
EVENTBRIDGE = ObjectCreated(
    bucket="patrolcams-archive",
    key="patrolcams/front door/2024-03-10/Hour-09/record/A 1+2%.mp4",
    size=1048576,
    etag="b1946ac92492d2347c6235b4d2611184",
    event_time=datetime(2024, 3, 10, 9, 15, 4, tzinfo=UTC),
    event_name="ObjectCreated:Put",
    sequencer="0065ED7A30D8F9E0A1",
    source="eventbridge",
)


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def only(deliveries: tuple[Delivery, ...]) -> Delivery:
    assert len(deliveries) == 1, deliveries
    return deliveries[0]


def body_of(event: dict[str, Any], index: int = 0) -> Any:
    return json.loads(event["Records"][index]["body"])


# --- every shape ----------------------------------------------------------------------------------


def test_direct_s3_notification_yields_every_record_with_decoded_keys() -> None:
    delivery = only(parse_event(load("s3_direct.json")))

    assert delivery == Delivery(message_id=None, records=(FRONT, ENTREE, GARAGE), ignored=())


def test_sqs_batch_gives_one_delivery_per_message_and_isolates_a_malformed_body() -> None:
    first, second, third = parse_event(load("sqs_batch.json"))

    assert first == Delivery("2e1424d4-f796-459a-8184-9c92662be6da", (FRONT,), ())
    assert second.message_id == "059f36b4-87a3-44ab-83d2-661975830a7d"
    assert second.records == ()
    assert second.error is not None
    assert second.error.startswith("Records[1].body: invalid JSON (")
    assert third == Delivery("8c5f6e2a-9b1d-4f6e-a0c3-1d2e3f4a5b6c", (ENTREE,), ())


def test_sns_invocation_parses_the_s3_notification_in_its_message() -> None:
    assert only(parse_event(load("sns_direct.json"))) == Delivery(None, (FRONT,), ())


def test_sns_to_sqs_parses_the_envelope_in_the_body() -> None:
    delivery = only(parse_event(load("sns_via_sqs.json")))

    assert delivery == Delivery("a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d", (ENTREE,), ())


def test_eventbridge_object_created_uses_the_key_as_is() -> None:
    assert only(parse_event(load("eventbridge_object_created.json"))) == Delivery(None, (EVENTBRIDGE,), ())


def test_eventbridge_event_inside_sqs() -> None:
    delivery = only(parse_event(load("sqs_eventbridge.json")))

    assert delivery == Delivery("c0ffee00-1234-4abc-9def-0123456789ab", (EVENTBRIDGE,), ())


@pytest.mark.parametrize(
    ("reason", "event_name"),
    [
        ("CopyObject", "ObjectCreated:Copy"),
        ("CompleteMultipartUpload", "ObjectCreated:CompleteMultipartUpload"),
        ("POST Object", "ObjectCreated:Post"),
    ],
)
def test_eventbridge_reason_becomes_the_event_name(reason: str, event_name: str) -> None:
    event = load("eventbridge_object_created.json")
    event["detail"]["reason"] = reason

    (record,) = only(parse_event(event)).records

    assert record.event_name == event_name


def test_minio_record_loses_the_s3_prefix_and_decodes_percent_2f() -> None:
    delivery = only(parse_event(load("minio_put.json")))

    assert delivery == Delivery(
        None,
        (
            ObjectCreated(
                bucket="patrolcams",
                key="patrolcams/cam1/2024-03-10/Hour-09/record/clip.mp4",
                size=2097152,
                etag="5fc7298143efe1276d39a3466d4e255f",
                event_time=datetime(2024, 3, 10, 9, 15, 5, 789000, tzinfo=UTC),
                event_name="ObjectCreated:Put",
                sequencer="17BB3E7F2C6E4A10",
                source="minio",
            ),
        ),
        (),
    )


def test_ceph_record_converts_the_string_size() -> None:
    delivery = only(parse_event(load("ceph_put.json")))

    assert delivery == Delivery(
        None,
        (
            ObjectCreated(
                bucket="patrolcams",
                key="patrolcams/porch/2024-03-10/Hour-09/snap/P24031009150600.jpg",
                size=1024,
                etag="37b51d194a7513e45b56f6524f2d51f2",
                event_time=datetime(2024, 3, 10, 9, 15, 6, 124724, tzinfo=UTC),
                event_name="ObjectCreated:Put",
                sequencer="F7E6D75DC742D108",
                source="ceph",
            ),
        ),
        (),
    )


def test_ceph_event_name_with_s3_prefix_is_normalised() -> None:
    event = load("ceph_put.json")
    event["Records"][0]["eventName"] = "s3:ObjectCreated:Put"

    (record,) = only(parse_event(event)).records

    assert record.event_name == "ObjectCreated:Put"


# --- recognised and ignored -----------------------------------------------------------------------


def test_s3_test_event_direct_is_ignored_not_an_error() -> None:
    delivery = only(parse_event(load("s3_test_event.json")))

    assert delivery == Delivery(None, (), ("s3:TestEvent for bucket patrolcams-archive",))


def test_s3_test_event_inside_sqs_is_ignored_not_an_error() -> None:
    delivery = only(parse_event(load("sqs_test_event.json")))

    assert delivery == Delivery(
        "d9a5ec4b-4bcd-4c9e-8f3a-1b2c3d4e5f60", (), ("s3:TestEvent for bucket patrolcams-archive",)
    )


def test_non_create_events_are_ignored_and_creates_beside_them_kept() -> None:
    delivery = only(parse_event(load("s3_ignored_mixed.json")))

    assert delivery.records == (FRONT,)
    assert delivery.ignored == (
        "ObjectRemoved:Delete patrolcams-archive/patrolcams/frontdoor/2024-01-01/Hour-00/record/old clip.mp4",
        "LifecycleExpiration:Delete patrolcams-archive/patrolcams/garage/2024-01-02/Hour-03/snap/a.jpg",
        "ObjectRestore:Completed patrolcams-archive/patrolcams/garage/2023-06-01/Hour-03/record/b.mp4",
    )
    assert delivery.error is None


def test_minio_removal_is_ignored() -> None:
    event = load("minio_put.json")
    event["EventName"] = event["Records"][0]["eventName"] = "s3:ObjectRemoved:Delete"

    delivery = only(parse_event(event))

    assert delivery == Delivery(
        None,
        (),
        ("ObjectRemoved:Delete patrolcams/patrolcams/cam1/2024-03-10/Hour-09/record/clip.mp4",),
    )


def test_eventbridge_object_deleted_is_ignored() -> None:
    event = load("eventbridge_object_created.json")
    event["detail-type"] = "Object Deleted"
    event["detail"]["reason"] = "DeleteObject"

    delivery = only(parse_event(event))

    assert delivery == Delivery(
        None,
        (),
        (
            "EventBridge aws.s3 Object Deleted patrolcams-archive/"
            "patrolcams/front door/2024-03-10/Hour-09/record/A 1+2%.mp4",
        ),
    )


def test_sns_subscription_confirmation_in_sqs_is_ignored() -> None:
    event = load("sns_via_sqs.json")
    envelope = body_of(event)
    envelope["Type"] = "SubscriptionConfirmation"
    envelope["Message"] = "You have chosen to subscribe to the topic"
    event["Records"][0]["body"] = json.dumps(envelope)

    delivery = only(parse_event(event))

    assert delivery.ignored == (
        "SNS SubscriptionConfirmation for arn:aws:sns:eu-west-1:123456789012:camvault-object-created",
    )
    assert delivery.records == ()
    assert delivery.error is None


def test_empty_records_list_is_an_empty_delivery() -> None:
    assert parse_event({"Records": []}) == (Delivery(None, (), ()),)


# --- at-least-once delivery -----------------------------------------------------------------------


def test_redelivered_and_out_of_order_messages_parse_to_identical_records() -> None:
    event = load("sqs_redelivered.json")

    late, early, again = parse_event(event)
    reversed_event = {"Records": list(reversed(event["Records"]))}
    reversed_records = [d.records for d in parse_event(reversed_event)]

    assert late.records == (GARAGE,)
    assert early.records == again.records == (FRONT,)
    assert early.message_id != again.message_id
    assert reversed_records == [(FRONT,), (FRONT,), (GARAGE,)]


def test_same_object_via_every_aws_route_parses_to_the_same_record() -> None:
    direct = parse_event(load("s3_direct.json"))[0].records[0]
    via_sqs = parse_event(load("sqs_batch.json"))[0].records[0]
    via_sns = parse_event(load("sns_direct.json"))[0].records[0]
    via_sns_sqs = parse_event(load("sns_via_sqs.json"))[0].records[0]

    assert direct == via_sqs == via_sns == FRONT
    assert via_sns_sqs == ENTREE == parse_event(load("s3_direct.json"))[0].records[1]


# --- top-level errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ([{"Records": []}], "event: expected an object with 'Records' or 'detail-type', got list"),
        ("{}", "event: expected an object with 'Records' or 'detail-type', got str"),
        (None, "event: expected an object with 'Records' or 'detail-type', got null"),
        (
            {"foo": 1, "bar": 2},
            "event: expected an object with 'Records' or 'detail-type', "
            "got an object with keys ['bar', 'foo']",
        ),
        ({"Records": {"eventSource": "aws:s3"}}, "Records: expected a list, got object"),
        ({"Records": "[]"}, "Records: expected a list, got str"),
    ],
)
def test_unrecognisable_payload_raises(payload: object, message: str) -> None:
    with pytest.raises(EventParseError) as caught:
        parse_event(payload)

    assert str(caught.value) == message


def test_event_parse_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="got int"):
        parse_event(42)


# --- errors inside a delivery keep the good records -----------------------------------------------


def test_record_missing_key_sets_error_and_keeps_the_good_records() -> None:
    event = load("s3_direct.json")
    del event["Records"][1]["s3"]["object"]["key"]

    delivery = only(parse_event(event))

    assert delivery.records == (FRONT, GARAGE)
    assert delivery.error == "Records[1].s3.object.key: missing"


@pytest.mark.parametrize(
    ("size", "shown"),
    [("big", "'big'"), (True, "True"), (-1, "-1"), (1.5, "1.5"), ("-5", "'-5'"), ([], "[]")],
)
def test_size_that_is_not_a_count_is_an_error(size: object, shown: str) -> None:
    event = load("s3_direct.json")
    event["Records"][0]["s3"]["object"]["size"] = size

    delivery = only(parse_event(event))

    assert delivery.records == (ENTREE, GARAGE)
    assert delivery.error == (f"Records[0].s3.object.size: expected a non-negative integer, got {shown}")


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda r: r.pop("eventName"), "Records[0].eventName: missing"),
        (lambda r: r.update(eventName=7), "Records[0].eventName: expected a string, got int"),
        (lambda r: r.pop("s3"), "Records[0].s3: missing"),
        (lambda r: r["s3"].update(bucket="b"), "Records[0].s3.bucket: expected an object, got str"),
        (lambda r: r["s3"]["bucket"].pop("name"), "Records[0].s3.bucket.name: missing"),
        (lambda r: r["s3"]["object"].update(key=""), "Records[0].s3.object.key: missing"),
        (
            lambda r: r["s3"]["object"].update(eTag=1),
            "Records[0].s3.object.eTag: expected a string",
        ),
        (
            lambda r: r.update(eventTime="yesterday"),
            "Records[0].eventTime: not an ISO 8601 instant: 'yesterday'",
        ),
        (
            lambda r: r.update(eventTime="2024-03-10T09:15:02"),
            "Records[0].eventTime: not an ISO 8601 instant: '2024-03-10T09:15:02'",
        ),
        (
            lambda r: r["s3"]["object"].update(key="clip%FF.mp4"),
            "Records[0].s3.object.key: not percent-encoded UTF-8: 'clip%FF.mp4'",
        ),
    ],
)
def test_bad_field_is_named_by_its_path(mutate: Any, message: str) -> None:
    event = load("s3_direct.json")
    mutate(event["Records"][0])

    delivery = only(parse_event(event))

    assert delivery.records == (ENTREE, GARAGE)
    assert delivery.error is not None
    assert delivery.error.startswith(message)


def test_every_bad_record_is_reported() -> None:
    event = load("s3_direct.json")
    event["Records"][0] = "not a record"
    event["Records"][2] = {"eventSource": "aws:dynamodb", "dynamodb": {}}

    delivery = only(parse_event(event))

    assert delivery.records == (ENTREE,)
    assert delivery.error == (
        "Records[0]: expected an object, got str; "
        "Records[2]: unrecognised record (eventSource 'aws:dynamodb')"
    )


def test_eventbridge_missing_key_is_a_delivery_error() -> None:
    event = load("eventbridge_object_created.json")
    del event["detail"]["object"]["key"]

    assert only(parse_event(event)) == Delivery(None, (), (), "detail.object.key: missing")


def test_sns_message_that_is_not_json_is_a_delivery_error() -> None:
    event = load("sns_direct.json")
    event["Records"][0]["Sns"]["Message"] = "{not json"

    delivery = only(parse_event(event))

    assert delivery.records == ()
    assert delivery.error is not None
    assert delivery.error.startswith("Records[0].Sns.Message: invalid JSON (")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('{"Records": [', "Records[0].body: invalid JSON ("),
        ("", "Records[0].body: invalid JSON ("),
        (None, "Records[0].body: missing"),
        (17, "Records[0].body: expected a JSON string, got int"),
        ("[]", "Records[0].body: expected an object with 'Records' or 'detail-type', got list"),
        ('{"Records": 3}', "Records[0].body.Records: expected a list, got int"),
    ],
)
def test_bad_sqs_body_fails_only_its_message(body: object, message: str) -> None:
    event = load("sqs_batch.json")
    event["Records"][0]["body"] = body
    del event["Records"][1]

    bad, good = parse_event(event)

    assert bad.message_id == "2e1424d4-f796-459a-8184-9c92662be6da"
    assert bad.records == ()
    assert bad.error is not None
    assert bad.error.startswith(message)
    assert good == Delivery("8c5f6e2a-9b1d-4f6e-a0c3-1d2e3f4a5b6c", (ENTREE,), ())


def test_error_inside_an_sqs_body_names_the_full_path() -> None:
    event = load("sqs_batch.json")
    body = body_of(event, 2)
    body["Records"].insert(0, copy.deepcopy(body["Records"][0]))
    del body["Records"][0]["s3"]["object"]["key"]
    event["Records"][2]["body"] = json.dumps(body)

    delivery = parse_event(event)[2]

    assert delivery.records == (ENTREE,)
    assert delivery.error == "Records[2].body.Records[0].s3.object.key: missing"


def test_sqs_message_without_id_has_no_message_id_and_an_error() -> None:
    event = load("sqs_batch.json")
    del event["Records"][0]["messageId"]

    deliveries = parse_event(event)

    assert deliveries[0] == Delivery(None, (), (), "Records[0].messageId: missing")
    assert deliveries[2].records == (ENTREE,)


# --- the local notification round-trips -----------------------------------------------------------

TRICKY_KEYS = [
    "patrolcams/cam1/2024-03-10/Hour-09/record/clip.mp4",
    "patrolcams/front door/2024-03-10/Hour-09/record/a b.mp4",
    "patrolcams/cam+1/2024-03-10/Hour-09/snap/a+b.jpg",
    "patrolcams/cam1/100%/50%25 done.mp4",
    "patrolcams/entrée/日本/カメラ 1.jpg",
    "patrolcams/odd/~!@#$&*()=:,;?'[]{}.mp4",
    "patrolcams/emoji/📷 clip.mp4",
    " leading and trailing ",
]


@pytest.mark.parametrize("key", TRICKY_KEYS)
def test_object_created_notification_round_trips(key: str) -> None:
    time = datetime(2024, 3, 10, 9, 15, 2, 123000, tzinfo=UTC)
    document = object_created_notification(
        bucket="patrolcams",
        key=key,
        size=4096,
        etag="0f343b0931126a20f133d67c2b018a3b",
        event_time=time,
        sequencer="0000018E2B4C5D6E7F",
    )

    delivery = only(parse_event(json.loads(json.dumps(document))))

    assert delivery == Delivery(
        None,
        (
            ObjectCreated(
                bucket="patrolcams",
                key=key,
                size=4096,
                etag="0f343b0931126a20f133d67c2b018a3b",
                event_time=time,
                event_name="ObjectCreated:Put",
                sequencer="0000018E2B4C5D6E7F",
                source="s3",
            ),
        ),
        (),
    )


def test_object_created_notification_encodes_like_s3() -> None:
    document = object_created_notification(
        bucket="patrolcams",
        key="patrolcams/front door/a+b%.mp4",
        size=1,
        etag=None,
        event_time=datetime(2024, 3, 10, 10, 15, 2, 5000, tzinfo=timezone(timedelta(hours=1))),
        region="eu-west-1",
    )

    (record,) = document["Records"]
    assert record["eventVersion"] == "2.1"
    assert record["eventSource"] == "aws:s3"
    assert record["awsRegion"] == "eu-west-1"
    assert record["eventName"] == "ObjectCreated:Put"
    assert record["eventTime"] == "2024-03-10T09:15:02.005Z"
    assert record["s3"]["bucket"] == {
        "name": "patrolcams",
        "ownerIdentity": {"principalId": "camvault"},
        "arn": "arn:aws:s3:::patrolcams",
    }
    assert record["s3"]["object"] == {"key": "patrolcams/front+door/a%2Bb%25.mp4", "size": 1}


def test_object_created_notification_keeps_microseconds() -> None:
    time = datetime(2024, 3, 10, 9, 15, 2, 123456, tzinfo=UTC)
    document = object_created_notification(bucket="b", key="k", size=0, etag=None, event_time=time)

    assert document["Records"][0]["eventTime"] == "2024-03-10T09:15:02.123456Z"
    (record,) = only(parse_event(document)).records
    assert record.event_time == time
    assert record.etag is None
    assert record.sequencer is None
    assert record.size == 0


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"key": ""}, "must not be empty"),
        ({"bucket": ""}, "must not be empty"),
        ({"size": -1}, "size must not be negative"),
        ({"event_time": datetime(2024, 3, 10, 9, 15, 2)}, "timezone-aware"),
    ],
)
def test_object_created_notification_rejects_bad_input(overrides: dict[str, Any], message: str) -> None:
    arguments: dict[str, Any] = {
        "bucket": "b",
        "key": "k",
        "size": 1,
        "etag": None,
        "event_time": datetime(2024, 3, 10, tzinfo=UTC),
    }
    arguments.update(overrides)

    with pytest.raises(ValueError, match=message):
        object_created_notification(**arguments)
