"""The whole AWS path on moto's server: deploy the generated stack with change sets, upload a
clip with a gateway site's credential (which moto's IAM enforcement refuses to read, list or
delete with), receive the bucket notification from the stack's queue, run the processor handler
on it, read the event back through the API handler, and destroy the stack.

Where moto falls short of AWS the test says so and does that step itself:

- moto's CloudFormation creates the bucket but ignores its ``NotificationConfiguration``, so the
  test applies the template's own notification rules with the S3 API;
- moto would run the processor function in Docker when the queue gets a message, so the test
  disables the event source mapping and plays Lambda's poller: receive, call the handler with
  the SQS event Lambda would send, delete what the handler did not name as failed;
- IAM is enforced (``/moto-api/reset-auth``) only around the gateway's calls: moto checks S3
  actions against object ARNs as AWS does, but checks DynamoDB calls against ``*`` and knows no
  per-item actions for transactions, and it fails (HTTP 500) to evaluate the inline policies of
  roles made by its CloudFormation; so the Lambda roles' statements are proven by the unit tests
  (tests/unit/test_aws_template.py), not here.
"""

from __future__ import annotations

import io
import os
import stat
import urllib.request
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote_plus, urlsplit
from zoneinfo import ZoneInfo

import pytest

from camvault.api.lambda_handler import MAX_PRESIGN_S, ApiContainer, build_container
from camvault.aws.deploy import AwsClients, Deployer
from camvault.aws.stack import StackSettings, stack_settings
from camvault.aws.template import build_template
from camvault.config.loader import Config, load_config
from camvault.domain.capture import resolve_capture_time
from camvault.domain.keys import build_key, content_type_for, event_id_for_key, thumbnail_key
from camvault.factory import build_processor_runtime
from camvault.processor.core import capture_metadata
from camvault.processor.lambda_handler import LambdaProcessor, LogLine
from camvault.store.base import ObjectExists, StoreError
from camvault.store.s3 import PART_SIZE, S3Store, make_s3_client
from tests.support.http_api import IAM_CALLER, http_api_event, invoke
from tests.support.media import make_clip
from tests.support.moto import MotoServer, unique_name

pytestmark = [
    pytest.mark.functional,
    # moto's CloudFormation warns for each resource type it skips (listed in the docstring)
    pytest.mark.filterwarnings("ignore:Tried to parse AWS.*not supported by moto:UserWarning"),
]

PREFIX = "patrolcams"
CAMERA = "backyard"
CLIP_NAME = "MDalarm_20161018_113706.mp4"
API_HOST = "abc123.execute-api.us-east-1.amazonaws.com"


@pytest.fixture
def aws_env(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """The Lambda functions' environment on moto: the stack's settings plus endpoints and the
    SDK's credentials (as Lambda's role would provide them)."""
    bucket = unique_name("camvault").lower()
    env = {
        "CAMVAULT_STORAGE_URL": f"s3://{bucket}/{PREFIX}",
        "CAMVAULT_STORAGE_ENDPOINT_URL": moto_server.endpoint_url,
        "CAMVAULT_STORAGE_REGION": moto_server.region,
        "CAMVAULT_STORAGE_ADDRESSING_STYLE": "path",
        "CAMVAULT_CATALOG_URL": f"dynamodb://{unique_name('events')}",
        "CAMVAULT_CATALOG_ENDPOINT_URL": moto_server.endpoint_url,
        "CAMVAULT_CATALOG_REGION": moto_server.region,
        "CAMVAULT_AWS_STACK_NAME": unique_name("cv"),
        "CAMVAULT_AWS_SITES": "home,shop",
    }
    for name, value in moto_server.environ().items():
        monkeypatch.setenv(name, value)
    yield env


@pytest.fixture
def clients(moto_server: MotoServer) -> Iterator[AwsClients]:
    found = AwsClients(
        moto_server.client("cloudformation"), moto_server.client("s3"), moto_server.client("iam")
    )
    yield found
    found.close()


@pytest.fixture
def package(tmp_path: Path) -> Path:
    """A stand-in Lambda zip (moto never runs it; `camvault aws package` is tested on its own)."""
    path = tmp_path / "camvault-lambda.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("camvault/__init__.py", "")
    return path


class Auth:
    """moto's IAM enforcement, switched on only for a block of calls."""

    def __init__(self, endpoint_url: str) -> None:
        self._url = f"{endpoint_url}/moto-api/reset-auth"

    def _set(self, count: str) -> None:
        request = urllib.request.Request(  # noqa: S310 (loopback moto)
            self._url, data=count.encode(), method="POST", headers={"Content-Type": "text/plain"}
        )
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 (loopback moto)
            assert response.status == 200

    def __enter__(self) -> None:
        self._set("0")

    def __exit__(self, *exc: object) -> None:
        self._set("inf")


def gateway_store(credentials: Path, moto_server: MotoServer, bucket: str) -> S3Store:
    """A store that uses one site's credentials file, as that site's gateway would."""
    values = dict(
        line.split("=", 1)
        for line in credentials.read_text().splitlines()
        if line and not line.startswith("#")
    )
    # The file is the gateway's settings for the store: valid as they are, put-only, and the
    # bucket notifies the stack's processor, so nothing is journaled for one on the gateway.
    gateway = load_config(None, values, credentials.parent, require_file=False).settings
    assert (gateway.storage.url, gateway.gateway.store_access) == (f"s3://{bucket}/{PREFIX}", "put-only")
    assert values["CAMVAULT_PROCESSOR_LOCAL"] == "false"
    assert gateway.processor.local is False
    client = make_s3_client(
        endpoint_url=moto_server.endpoint_url,
        region=values["CAMVAULT_STORAGE_REGION"],
        addressing_style="path",
        access_key_id=values["AWS_ACCESS_KEY_ID"],
        secret_access_key=values["AWS_SECRET_ACCESS_KEY"],
        max_attempts=1,
    )
    return S3Store(bucket, client=client)


def apply_notifications(clients: AwsClients, template: dict[str, Any], bucket: str, queue_arn: str) -> None:
    """The template's NotificationConfiguration, applied with the S3 API (moto's CloudFormation
    skips it)."""
    rules = template["Resources"]["Bucket"]["Properties"]["NotificationConfiguration"]["QueueConfigurations"]
    clients.s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "QueueArn": queue_arn,
                    "Events": [rule["Event"]],
                    "Filter": {"Key": {"FilterRules": rule["Filter"]["S3Key"]["Rules"]}},
                }
                for rule in rules
            ]
        },
    )


def sqs_event(messages: list[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    """The event Lambda's SQS poller hands the function."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": "us-east-1",
            }
            for m in messages
        ]
    }


def api_get(container: ApiContainer, path: str, query: str = "") -> tuple[int, Any]:
    """One request through the API handler, signed by an IAM caller API Gateway verified."""
    answer = invoke(container, http_api_event("GET", path, host=API_HOST, query=query, iam=IAM_CALLER))
    return answer.status, answer.json()


class Deployed:
    """A deployed stack: its settings, template, outputs and the clients that made it."""

    def __init__(self, config: Config, clients: AwsClients, out: io.StringIO, credentials: Path) -> None:
        self.config = config
        self.stack: StackSettings = stack_settings(config)
        self.template = build_template(self.stack)
        self.clients = clients
        self.out = out
        self.credentials = credentials
        self.deployer = Deployer(clients, out=out, poll_s=0.01)
        self.outputs: dict[str, str] = {}


@pytest.fixture
def deployed(
    aws_env: dict[str, str], clients: AwsClients, package: Path, tmp_path: Path
) -> Iterator[Deployed]:
    config = load_config(None, aws_env, tmp_path)
    stack = Deployed(config, clients, io.StringIO(), tmp_path / "credentials")
    stack.outputs = stack.deployer.deploy(stack.stack, stack.template, package, stack.credentials)
    yield stack
    stack.deployer.destroy(stack.stack)
    bucket = stack.stack.bucket
    for item in clients.s3.list_objects_v2(Bucket=bucket).get("Contents", []):
        clients.s3.delete_object(Bucket=bucket, Key=item["Key"])
    clients.s3.delete_bucket(Bucket=bucket)


def test_deploy_upload_notify_process_and_read_back(
    deployed: Deployed, moto_server: MotoServer, tmp_path: Path
) -> None:
    stack, clients = deployed.stack, deployed.clients
    shown = deployed.out.getvalue()
    assert "CREATE_COMPLETE" in shown and "AWS::DynamoDB::Table" in shown  # progress lines
    assert f"{stack.bucket}-lambda" in shown and "uploaded 100%" in shown  # the package, to the code bucket

    # Each site got its own credential, in a file only its owner can read; no secret was printed.
    files = {site: deployed.credentials / f"gateway-{site}.env" for site in stack.sites}
    for path in files.values():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        secret = next(v for v in path.read_text().splitlines() if v.startswith("AWS_SECRET_ACCESS_KEY="))
        assert secret.split("=", 1)[1] not in shown

    sqs = moto_server.client("sqs")
    lam = moto_server.client("lambda")
    try:
        queue_url = sqs.get_queue_url(QueueName=stack.queue_name)["QueueUrl"]  # moto leaves outputs empty
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        for mapping in lam.list_event_source_mappings(FunctionName=stack.processor_name)[
            "EventSourceMappings"
        ]:
            assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
            lam.update_event_source_mapping(UUID=mapping["UUID"], Enabled=False)
        apply_notifications(clients, deployed.template, stack.bucket, queue_arn)

        clip = make_clip(tmp_path / CLIP_NAME, seconds=2.0)
        key = upload_as_gateway(files["home"], moto_server, stack.bucket, clip)
        run_processor(deployed, sqs, queue_url, queue_arn, key)
        read_back(deployed.config, key, clip.read_bytes())
        keep_moves_the_expiry_tag(deployed, key)
    finally:
        sqs.close()
        lam.close()


def upload_as_gateway(credentials: Path, moto_server: MotoServer, bucket: str, clip: Path) -> str:
    """Put the clip with a site's credential; prove that credential cannot read, list or delete."""
    received = datetime(2016, 10, 18, 18, 37, 9, tzinfo=UTC)
    capture = resolve_capture_time(CLIP_NAME, ZoneInfo("America/Los_Angeles"), received)
    key = build_key(PREFIX, CAMERA, capture.instant, "record", CLIP_NAME).key
    metadata = {"camera": CAMERA, **capture_metadata(capture)}
    store = gateway_store(credentials, moto_server, bucket)
    try:
        with Auth(moto_server.endpoint_url):
            store.put(key, clip.read_bytes(), content_type=content_type_for(CLIP_NAME), metadata=metadata)
            big = f"{PREFIX}/{CAMERA}/2016-10-18/Hour-18/record/big.mp4.part"
            store.put(big, b"\0" * (PART_SIZE + 1), content_type="application/octet-stream")  # multipart
            # A put-only gateway's second attempt: the completion gets 412, the store aborts the upload.
            with pytest.raises(ObjectExists):
                store.put(
                    big, b"\1" * (PART_SIZE + 1), content_type="application/octet-stream", if_absent=True
                )
            refused = {
                "read": lambda: store.open(key).read(),
                "read facts": lambda: store.head(key),
                "list": lambda: list(store.list(f"{PREFIX}/")),
                "list the bucket": lambda: list(store.list("")),
                "delete": lambda: store.delete(key),
                "write outside the prefix": lambda: store.put(
                    "elsewhere/x.mp4", b"x", content_type="video/mp4"
                ),
            }
            for attempt in refused.values():
                # moto's real IAM evaluation answers AccessDenied (HEAD has no body: a bare 403)
                with pytest.raises(StoreError, match=r"access denied \((AccessDenied|403)\)"):
                    attempt()
        owner = moto_server.client("s3")
        try:  # the abort was allowed (the store ignores a failed abort; the upload would remain)
            assert not owner.list_multipart_uploads(Bucket=bucket).get("Uploads")
        finally:
            owner.close()
    finally:
        store.close()
    return key


def run_processor(deployed: Deployed, sqs: Any, queue_url: str, queue_arn: str, key: str) -> None:
    """Lambda's poller, played by the test: receive, invoke the handler, delete what succeeded."""
    lines: list[LogLine] = []
    config = load_config(None, os.environ | aws_settings(deployed.config), Path.cwd())
    runtime = build_processor_runtime(config)
    try:
        function = LambdaProcessor(runtime.processor, bucket=runtime.bucket, log=lines.append)
        # The first batch holds S3's s3:TestEvent (sent when notifications were set up) and the clip.
        first = receive_until(sqs, queue_url, key)
        assert function.handle(sqs_event(first, queue_arn), "req-1") == {"batchItemFailures": []}
        delete(sqs, queue_url, first)
        (line,) = [line for line in lines if line.get("key") == key]
        assert (line["status"], line["new"], line["playable"]) == ("cataloged", True, True)
        assert line["event_id"] == event_id_for_key(key)
        # The thumbnail the processor wrote is announced too (.jpg under the prefix) and skipped.
        second = receive_until(sqs, queue_url, ".thumb.jpg")
        assert function.handle(sqs_event(second, queue_arn), "req-2") == {"batchItemFailures": []}
        delete(sqs, queue_url, second)
        assert lines[-1]["key"].endswith(".thumb.jpg") and lines[-1]["status"] != "cataloged"
    finally:
        runtime.close()


def aws_settings(config: Config) -> dict[str, str]:
    """The settings the stack gives its functions, from the same config as the stack."""
    stack = stack_settings(config)
    storage, catalog = config.settings.storage, config.settings.catalog
    return {
        **stack.environment(),
        "CAMVAULT_STORAGE_CHECKSUM": "when_required",
        "CAMVAULT_STORAGE_ENDPOINT_URL": storage.endpoint_url,
        "CAMVAULT_STORAGE_REGION": storage.region,
        "CAMVAULT_STORAGE_ADDRESSING_STYLE": "path",
        "CAMVAULT_CATALOG_ENDPOINT_URL": catalog.endpoint_url,
        "CAMVAULT_CATALOG_REGION": catalog.region,
    }


def receive_until(sqs: Any, queue_url: str, needle: str) -> list[dict[str, Any]]:
    """Messages received until one mentions ``needle`` (a few long polls at most)."""
    found: list[dict[str, Any]] = []
    for _ in range(5):
        found += sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=2).get(
            "Messages", []
        )
        if any(needle in unquote_plus(message["Body"]) for message in found):  # keys come URL-encoded
            return found
    raise AssertionError(f"no notification mentioning {needle!r} arrived; got {found}")


def delete(sqs: Any, queue_url: str, messages: list[dict[str, Any]]) -> None:
    for message in messages:
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def read_back(config: Config, key: str, original: bytes) -> None:
    """The event through the API handler, then its bytes through a presigned URL."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAMVAULT_")} | aws_settings(config)
    container = build_container(env, Path.cwd(), trust_gateway_iam=True)  # as the handler does
    try:
        status, page = api_get(container, "/api/v1/events", f"camera={CAMERA}")
        assert status == 200, page
        (event,) = page["events"]
        assert (event["key"], event["camera"], event["kind"]) == (key, CAMERA, "record")
        assert event["capture_time"] == "2016-10-18T18:37:06.000Z"
        assert event["media"]["width"] == 320 and event["playable"] is True
        status, detail = api_get(container, f"/api/v1/events/{event['id']}")
        assert (status, detail["size"]) == (200, len(original))
        url = media_url(container, event["id"])
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (loopback moto)
            assert response.read() == original
        unsigned = invoke(container, http_api_event("GET", "/api/v1/events", host=API_HOST))
        assert unsigned.status == 401  # a request no IAM authorization verified
        elsewhere = http_api_event("GET", "/api/v1/events", host="evil.example", iam=IAM_CALLER)
        assert invoke(container, elsewhere).status == 400
    finally:
        container.close()


def keep_moves_the_expiry_tag(deployed: Deployed, key: str) -> None:
    """The lifecycle rule expires what the processor tagged; keep through the API removes the
    tag from the clip and its thumbnail, and releasing it puts the tag back."""
    s3, bucket = deployed.clients.s3, deployed.stack.bucket

    def tags(target: str) -> dict[str, str]:
        return {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=bucket, Key=target)["TagSet"]}

    expires = {"camvault-expires": "yes"}
    assert tags(key) == tags(thumbnail_key(key)) == expires
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAMVAULT_")}
    container = build_container(env | aws_settings(deployed.config), Path.cwd(), trust_gateway_iam=True)
    path = f"/api/v1/events/{event_id_for_key(key)}/keep"
    try:
        kept = invoke(container, http_api_event("PUT", path, host=API_HOST, iam=IAM_CALLER))
        assert (kept.status, kept.json()["keep"]) == (200, True), kept.body
        assert tags(key) == tags(thumbnail_key(key)) == {}
        released = invoke(container, http_api_event("DELETE", path, host=API_HOST, iam=IAM_CALLER))
        assert (released.status, released.json()["keep"]) == (200, False), released.body
        assert tags(key) == tags(thumbnail_key(key)) == expires
    finally:
        container.close()


def media_url(container: ApiContainer, event_id: str) -> str:
    """The original's media route: a 307 to a SigV4 presigned URL living at most MAX_PRESIGN_S."""
    path = f"/api/v1/events/{event_id}/media/original"
    answer = invoke(container, http_api_event("GET", path, host=API_HOST, iam=IAM_CALLER))
    assert answer.status == 307, answer.body
    url = answer.headers["location"]
    signed = parse_qs(urlsplit(url).query)
    assert signed["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"] and signed["X-Amz-Signature"]
    assert 0 < int(signed["X-Amz-Expires"][0]) <= MAX_PRESIGN_S
    return url


def test_destroy_keeps_the_clips_and_says_how_to_delete_them(
    aws_env: dict[str, str], clients: AwsClients, package: Path, tmp_path: Path
) -> None:
    config = load_config(None, aws_env, tmp_path)
    stack = stack_settings(config)
    out = io.StringIO()
    deployer = Deployer(clients, out=out, poll_s=0.01)
    deployer.deploy(stack, build_template(stack), package, tmp_path)
    clients.s3.put_object(Bucket=stack.bucket, Key=f"{PREFIX}/cam/clip.mp4", Body=b"clip")
    try:
        deployer.destroy(stack)
        assert deployer.stack_status(stack.stack_name) is None
        assert (
            clients.s3.get_object(Bucket=stack.bucket, Key=f"{PREFIX}/cam/clip.mp4")["Body"].read() == b"clip"
        )
        assert f"aws s3 rb s3://{stack.bucket} --force" in out.getvalue()
        with pytest.raises(clients.s3.exceptions.ClientError):
            clients.s3.head_bucket(Bucket=f"{stack.bucket}-lambda")
        for site in stack.sites:
            with pytest.raises(clients.iam.exceptions.NoSuchEntityException):
                clients.iam.list_access_keys(UserName=stack.gateway_user(site))
    finally:
        clients.s3.delete_object(Bucket=stack.bucket, Key=f"{PREFIX}/cam/clip.mp4")
        clients.s3.delete_bucket(Bucket=stack.bucket)


def test_redeploy_keeps_existing_keys_and_retires_a_removed_site(
    aws_env: dict[str, str], clients: AwsClients, package: Path, tmp_path: Path
) -> None:
    stack = stack_settings(load_config(None, aws_env, tmp_path))
    out = io.StringIO()
    deployer = Deployer(clients, out=out, poll_s=0.01)
    deployer.deploy(stack, build_template(stack), package, tmp_path)
    try:
        out.seek(0)
        out.truncate()
        deployer.deploy(stack, build_template(stack), package, tmp_path / "again")
        assert "site home: keeps its access key" in out.getvalue()
        assert "up to date" in out.getvalue()
        assert not (tmp_path / "again").exists()  # no new credential was made
        # Before an update without site "shop", its key goes (moto then deletes users in an order
        # AWS does not use, so the update itself is not played here).
        smaller = stack_settings(load_config(None, aws_env | {"CAMVAULT_AWS_SITES": "home"}, tmp_path))
        deployer.retire_removed_sites(smaller)
        assert f"{stack.gateway_user('shop')}: its site left [aws] sites" in out.getvalue()
        assert not clients.iam.list_access_keys(UserName=stack.gateway_user("shop"))["AccessKeyMetadata"]
        assert clients.iam.list_access_keys(UserName=stack.gateway_user("home"))["AccessKeyMetadata"]
        assert sorted(deployer.gateway_users(smaller)) == [stack.gateway_user(s) for s in ("home", "shop")]
    finally:
        deployer.destroy(stack)
        clients.s3.delete_bucket(Bucket=stack.bucket)
