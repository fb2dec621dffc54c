"""The generated CloudFormation template: every IAM statement checked against the issue's list,
and the bucket, queues, table, functions and API configured as documented."""

from __future__ import annotations

import fnmatch
from pathlib import Path
from typing import Any

import pytest

from camvault.aws.stack import StackSettings, stack_settings
from camvault.aws.template import NOTIFIED_SUFFIXES, build_template
from camvault.config.loader import ConfigError, load_config
from camvault.domain.keys import keep_marker_key
from camvault.keep import EXPIRES_TAG

pytestmark = pytest.mark.unit

BUCKET, PREFIX, TABLE = "my-camvault", "patrolcams", "camvault-events"
OBJECTS = f"arn:aws:s3:::{BUCKET}/{PREFIX}/*"
MARKERS = f"arn:aws:s3:::{BUCKET}/{PREFIX}/*.keep.json"


def settings(**env: str) -> StackSettings:
    base = {
        "CAMVAULT_STORAGE_URL": f"s3://{BUCKET}/{PREFIX}",
        "CAMVAULT_CATALOG_URL": f"dynamodb://{TABLE}",
        "CAMVAULT_AWS_SITES": "home,shop",
        "CAMVAULT_RETENTION_DAYS": "45",
    }
    return stack_settings(load_config(None, {**base, **env}, Path("/nonexistent")))


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return build_template(settings())


def resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}


def identity_statements(template: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """Every identity-policy statement of the stack, by (resource, Sid)."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for name, role in resources(template, "AWS::IAM::Role").items():
        for policy in role["Properties"]["Policies"]:
            for st in policy["PolicyDocument"]["Statement"]:
                found[(name, st["Sid"])] = st
    for name, policy in resources(template, "AWS::IAM::Policy").items():
        for st in policy["Properties"]["PolicyDocument"]["Statement"]:
            found[(name, st["Sid"])] = st
    return found


TABLE_ARN = {"Fn::GetAtt": ["CatalogTable", "Arn"]}
EXPECTED = {
    ("GatewayPolicy", "PutObjectsUnderPrefix"): (
        {"s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"},
        [OBJECTS],
    ),
    ("ProcessorRole", "ReadAndDeriveObjects"): (
        {"s3:GetObject", "s3:PutObject", "s3:PutObjectTagging", "s3:DeleteObjectTagging"},
        [OBJECTS],
    ),
    ("ProcessorRole", "WriteCatalog"): (
        {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"},
        [TABLE_ARN],
    ),
    ("ProcessorRole", "ConsumeQueue"): (
        {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"},
        [{"Fn::GetAtt": ["NotificationQueue", "Arn"]}],
    ),
    ("ProcessorRole", "WriteOwnLogs"): (
        {"logs:CreateLogStream", "logs:PutLogEvents"},
        [{"Fn::GetAtt": ["ProcessorLogGroup", "Arn"]}],
    ),
    ("ApiRole", "ReadAndTagObjects"): (
        {"s3:GetObject", "s3:PutObjectTagging", "s3:DeleteObjectTagging"},
        [OBJECTS],
    ),
    ("ApiRole", "WriteKeepMarkers"): ({"s3:PutObject", "s3:DeleteObject"}, [MARKERS]),
    ("ApiRole", "ReadCatalog"): (
        {"dynamodb:GetItem", "dynamodb:Query"},
        [TABLE_ARN, {"Fn::Sub": "${CatalogTable.Arn}/index/timeline"}],
    ),
    ("ApiRole", "MarkKeepInCatalog"): (
        {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"},
        [TABLE_ARN],
    ),
    ("ApiRole", "WriteOwnLogs"): (
        {"logs:CreateLogStream", "logs:PutLogEvents"},
        [{"Fn::GetAtt": ["ApiLogGroup", "Arn"]}],
    ),
}


def test_every_identity_statement_is_on_the_list_and_nothing_else(template: dict[str, Any]) -> None:
    found = identity_statements(template)
    assert set(found) == set(EXPECTED)
    for where, (actions, resources_) in EXPECTED.items():
        st = found[where]
        assert st["Effect"] == "Allow", where
        assert set(st["Action"]) == actions, where
        assert len(st["Action"]) == len(actions), where
        assert st["Resource"] == resources_, where
        assert "Condition" not in st and "NotAction" not in st and "NotResource" not in st, where


def all_statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    statements = list(identity_statements(template).values())
    for kind in ("AWS::S3::BucketPolicy", "AWS::SQS::QueuePolicy"):
        for r in resources(template, kind).values():
            statements += r["Properties"]["PolicyDocument"]["Statement"]
    return statements


def test_no_wildcard_action_or_resource_in_any_allow(template: dict[str, Any]) -> None:
    for st in all_statements(template):
        if st["Effect"] != "Allow":
            continue
        actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
        found = st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
        assert not [a for a in actions if "*" in a], st
        assert "*" not in found, st


def test_the_only_wildcards_are_the_tls_deny_and_the_s3_service_principal(template: dict[str, Any]) -> None:
    """``"*"`` appears where AWS requires it: the principal (and ``s3:*``) of the bucket's deny of
    plain HTTP, which must cover everyone and every action; and the object ARNs' key part."""
    (deny,) = resources(template, "AWS::S3::BucketPolicy")["BucketPolicy"]["Properties"]["PolicyDocument"][
        "Statement"
    ]
    assert deny["Effect"] == "Deny" and deny["Principal"] == "*" and deny["Action"] == "s3:*"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert deny["Resource"] == [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"]
    (send,) = resources(template, "AWS::SQS::QueuePolicy")["NotificationQueuePolicy"]["Properties"][
        "PolicyDocument"
    ]["Statement"]
    assert send["Principal"] == {"Service": "s3.amazonaws.com"} and send["Action"] == "sqs:SendMessage"
    assert send["Condition"]["ArnEquals"] == {"aws:SourceArn": f"arn:aws:s3:::{BUCKET}"}
    assert send["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}


def allows(statements: list[dict[str, Any]], action: str, resource: str) -> bool:
    """IAM evaluation for Allow statements with plain-string ARNs (no conditions): an action and
    a resource are allowed when some statement's patterns match both."""
    for st in statements:
        if st["Effect"] != "Allow":
            continue
        resources_ = [r for r in st["Resource"] if isinstance(r, str)]
        if any(fnmatch.fnmatchcase(action, a) for a in st["Action"]) and any(
            fnmatch.fnmatchcase(resource, r) for r in resources_
        ):
            return True
    return False


READ_LIST_DELETE = [
    ("s3:GetObject", f"{BUCKET}/{PREFIX}/cam/2024-01-01/Hour-00/record/a.mp4"),
    ("s3:GetObjectVersion", f"{BUCKET}/{PREFIX}/cam/a.mp4"),
    ("s3:GetObjectAttributes", f"{BUCKET}/{PREFIX}/cam/a.mp4"),
    ("s3:GetObjectTagging", f"{BUCKET}/{PREFIX}/cam/a.mp4"),
    ("s3:ListBucket", BUCKET),
    ("s3:ListBucketVersions", BUCKET),
    ("s3:ListBucketMultipartUploads", BUCKET),
    ("s3:DeleteObject", f"{BUCKET}/{PREFIX}/cam/a.mp4"),
    ("s3:DeleteObjectVersion", f"{BUCKET}/{PREFIX}/cam/a.mp4"),
    ("s3:PutLifecycleConfiguration", BUCKET),
    ("s3:PutBucketPolicy", BUCKET),
    ("s3:PutObjectAcl", f"{BUCKET}/{PREFIX}/cam/a.mp4"),
]


@pytest.mark.parametrize(("action", "resource"), READ_LIST_DELETE)
def test_gateway_credential_cannot_read_list_or_delete(
    template: dict[str, Any], action: str, resource: str
) -> None:
    gateway = template["Resources"]["GatewayPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert not allows(gateway, action, f"arn:aws:s3:::{resource}")


def test_gateway_credential_can_put_under_the_prefix_only(template: dict[str, Any]) -> None:
    gateway = template["Resources"]["GatewayPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert allows(gateway, "s3:PutObject", f"arn:aws:s3:::{BUCKET}/{PREFIX}/cam/2024/a.mp4")
    assert not allows(gateway, "s3:PutObject", f"arn:aws:s3:::{BUCKET}/elsewhere/a.mp4")
    assert not allows(gateway, "s3:PutObject", f"arn:aws:s3:::{BUCKET}/{PREFIX}x/a.mp4")
    assert not allows(gateway, "s3:PutObject", f"arn:aws:s3:::other-bucket/{PREFIX}/a.mp4")


def test_each_site_gets_its_own_user_under_the_gateway_policy(template: dict[str, Any]) -> None:
    users = resources(template, "AWS::IAM::User")
    assert {u["Properties"]["UserName"] for u in users.values()} == {
        "camvault-gateway-home",
        "camvault-gateway-shop",
    }
    attached = template["Resources"]["GatewayPolicy"]["Properties"]["Users"]
    assert attached == [{"Ref": name} for name in users]
    for user in users.values():
        assert user["Properties"]["Path"] == "/camvault/camvault/"
        assert set(user["Properties"]) == {"UserName", "Path"}  # no other policy, no console login


def test_bucket_is_private_encrypted_expiring_and_kept_on_delete(template: dict[str, Any]) -> None:
    bucket = template["Resources"]["Bucket"]
    props = bucket["Properties"]
    assert bucket["DeletionPolicy"] == "Retain"
    assert props["BucketName"] == BUCKET
    assert all(props["PublicAccessBlockConfiguration"].values())
    assert len(props["PublicAccessBlockConfiguration"]) == 4
    (rule,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    expire, abort = props["LifecycleConfiguration"]["Rules"]
    assert (expire["Prefix"], expire["ExpirationInDays"], expire["Status"]) == (f"{PREFIX}/", 45, "Enabled")
    assert abort["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}


def test_the_lifecycle_rule_expires_only_what_the_processor_tagged(template: dict[str, Any]) -> None:
    """Kept clips lose the tag, so the rule never selects them (``camvault.keep``)."""
    expire, _ = template["Resources"]["Bucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    assert expire["TagFilters"] == [{"Key": "camvault-expires", "Value": "yes"}]
    assert EXPIRES_TAG == ("camvault-expires", "yes")


def test_the_api_writes_only_keep_markers_and_tags(template: dict[str, Any]) -> None:
    api = template["Resources"]["ApiRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    clip = f"arn:aws:s3:::{BUCKET}/{PREFIX}/cam/2024-01-01/Hour-00/record/a.mp4"
    marker = keep_marker_key(f"{PREFIX}/cam/2024-01-01/Hour-00/record/a.mp4")
    for action in ("s3:PutObject", "s3:DeleteObject"):
        assert allows(api, action, f"arn:aws:s3:::{BUCKET}/{marker}")
        assert not allows(api, action, clip)
        assert not allows(api, action, f"arn:aws:s3:::{BUCKET}/elsewhere/a.mp4.keep.json")
    assert allows(api, "s3:PutObjectTagging", clip) and allows(api, "s3:DeleteObjectTagging", clip)
    assert not allows(api, "s3:PutObjectTagging", f"arn:aws:s3:::{BUCKET}/elsewhere/a.mp4")
    processor = template["Resources"]["ProcessorRole"]["Properties"]["Policies"][0]["PolicyDocument"]
    assert not allows(processor["Statement"], "s3:DeleteObject", clip)


def test_notifications_cover_prefix_and_suffixes_to_the_queue(template: dict[str, Any]) -> None:
    configs = template["Resources"]["Bucket"]["Properties"]["NotificationConfiguration"][
        "QueueConfigurations"
    ]
    assert NOTIFIED_SUFFIXES == (".mp4", ".jpg")
    assert [c["Filter"]["S3Key"]["Rules"] for c in configs] == [
        [{"Name": "prefix", "Value": f"{PREFIX}/"}, {"Name": "suffix", "Value": suffix}]
        for suffix in NOTIFIED_SUFFIXES
    ]
    assert all(c["Queue"] == {"Fn::GetAtt": ["NotificationQueue", "Arn"]} for c in configs)
    assert all(c["Event"] == "s3:ObjectCreated:*" for c in configs)


def test_queue_has_a_dead_letter_queue_and_feeds_the_processor_with_partial_failures(
    template: dict[str, Any],
) -> None:
    queue = template["Resources"]["NotificationQueue"]["Properties"]
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}
    assert queue["VisibilityTimeout"] == 6 * 60
    (mapping,) = resources(template, "AWS::Lambda::EventSourceMapping").values()
    assert mapping["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["Properties"]["FunctionName"] == {"Ref": "ProcessorFunction"}


def test_table_matches_the_design(template: dict[str, Any]) -> None:
    table = template["Resources"]["CatalogTable"]["Properties"]
    assert table["TableName"] == TABLE
    assert table["KeySchema"] == [
        {"AttributeName": "camera_name", "KeyType": "HASH"},
        {"AttributeName": "event_key", "KeyType": "RANGE"},
    ]
    (index,) = table["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "timeline"
    assert [k["AttributeName"] for k in index["KeySchema"]] == ["capture_date", "event_key"]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}


def test_functions_read_their_settings_from_the_environment_and_log_with_retention(
    template: dict[str, Any],
) -> None:
    functions = resources(template, "AWS::Lambda::Function")
    handlers = {f["Properties"]["Handler"] for f in functions.values()}
    assert handlers == {"camvault.processor.lambda_handler.handler", "camvault.api.lambda_handler.handler"}
    for function in functions.values():
        env = function["Properties"]["Environment"]["Variables"]
        assert env["CAMVAULT_STORAGE_URL"] == f"s3://{BUCKET}/{PREFIX}"
        assert env["CAMVAULT_CATALOG_URL"] == f"dynamodb://{TABLE}"
        assert env["CAMVAULT_RETENTION_DAYS"] == "45"
        assert function["Properties"]["Architectures"] == ["arm64"]
    groups = {g["Properties"]["LogGroupName"]: g for g in resources(template, "AWS::Logs::LogGroup").values()}
    assert set(groups) == {"/aws/lambda/camvault-processor", "/aws/lambda/camvault-api"}
    assert {g["Properties"]["RetentionInDays"] for g in groups.values()} == {30}


def test_api_route_requires_signed_requests(template: dict[str, Any]) -> None:
    (route,) = resources(template, "AWS::ApiGatewayV2::Route").values()
    assert route["Properties"]["AuthorizationType"] == "AWS_IAM"


def test_architecture_setting_reaches_the_functions() -> None:
    template = build_template(settings(CAMVAULT_AWS_ARCHITECTURE="x86_64"))
    for function in resources(template, "AWS::Lambda::Function").values():
        assert function["Properties"]["Architectures"] == ["x86_64"]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CAMVAULT_STORAGE_URL": "file://objects"}, "needs s3://BUCKET/PREFIX"),
        ({"CAMVAULT_STORAGE_URL": "s3://my-camvault"}, "needs s3://BUCKET/PREFIX"),
        ({"CAMVAULT_CATALOG_URL": "sqlite:///catalog.db"}, "needs a DynamoDB table"),
    ],
)
def test_settings_that_cannot_be_deployed_say_what_to_set(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        settings(**env)


@pytest.mark.parametrize("sites", ["home,home", "Home", "shop-2", "", "home,"])
def test_bad_site_names_are_refused(sites: str) -> None:
    with pytest.raises(ConfigError, match=r"\[aws\] sites"):
        settings(CAMVAULT_AWS_SITES=sites)
