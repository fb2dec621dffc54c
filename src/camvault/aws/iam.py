"""The IAM policies of a camvault stack, as data: least privilege, nothing else.

Three principals touch camvault's data, each with only what its job needs:

- a **gateway** (one IAM user per site) may put objects under the prefix, multipart included
  (``s3:PutObject`` covers create, upload-part and complete; abort and list-parts are named):
  it can never read, list or delete, so a stolen gateway credential cannot see or erase clips;
- the **processor** Lambda reads originals and writes derived objects under the prefix, tags
  them for the lifecycle rule or removes the tag of a kept one (``s3:PutObjectTagging``,
  ``s3:DeleteObjectTagging``, ``camvault.keep``), reads and writes
  catalog items (it never queries), consumes its queue and writes its own log group;
- the **API** Lambda reads the catalog table and the objects under the prefix (presigned URLs
  are signed with its role, so the role needs ``s3:GetObject``) and writes its own log group.
  Marking an event keep is its only write: it puts or deletes the keep marker (only keys
  ending ``.keep.json``), sets the event's objects' tags and rewrites the event's items.

Every ``Resource`` is one ARN (S3 ARNs as strings, the others as CloudFormation references to
the stack's own resources). Two statements need the wildcard principal ``"*"``, and both are
denies or are narrowed by conditions: the bucket's TLS-only deny (``aws:SecureTransport``), and
the queue policy that lets the S3 service (``s3.amazonaws.com``) send only for this bucket.

Pure functions, no I/O; ``camvault.aws.template`` places these documents in the template.
"""

from __future__ import annotations

from typing import Any

from camvault.domain.keys import KEEP_SUFFIX

Json = dict[str, Any]

VERSION = "2012-10-17"

GATEWAY_ACTIONS = ("s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts")
PROCESSOR_OBJECT_ACTIONS = ("s3:GetObject", "s3:PutObject", "s3:PutObjectTagging", "s3:DeleteObjectTagging")
PROCESSOR_TABLE_ACTIONS = (
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
)
"""The catalog's ``put`` reads the event's lookup item, then writes in one ``TransactWriteItems``,
which IAM authorizes as the Put, Update and Delete of each item in it."""
QUEUE_CONSUMER_ACTIONS = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")
API_OBJECT_ACTIONS = ("s3:GetObject", "s3:PutObjectTagging", "s3:DeleteObjectTagging")
API_MARKER_ACTIONS = ("s3:PutObject", "s3:DeleteObject")
"""Marking keep writes or removes the marker, ``NAME.EXT.keep.json`` (``domain.keys``)."""
API_TABLE_ACTIONS = ("dynamodb:GetItem", "dynamodb:Query")
API_KEEP_TABLE_ACTIONS = ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem")
"""Marking keep rewrites the event's items in one transaction, as the processor's ``put``."""
LOG_ACTIONS = ("logs:CreateLogStream", "logs:PutLogEvents")


def object_arn(bucket: str, prefix: str) -> str:
    """Every object under ``prefix`` in ``bucket``."""
    return f"arn:aws:s3:::{bucket}/{prefix}/*"


def marker_arn(bucket: str, prefix: str) -> str:
    """Every keep marker under ``prefix`` in ``bucket``."""
    return f"arn:aws:s3:::{bucket}/{prefix}/*{KEEP_SUFFIX}"


def bucket_arn(bucket: str) -> str:
    return f"arn:aws:s3:::{bucket}"


def statement(sid: str, actions: tuple[str, ...], resources: list[Any]) -> Json:
    return {"Sid": sid, "Effect": "Allow", "Action": list(actions), "Resource": resources}


def document(*statements: Json) -> Json:
    return {"Version": VERSION, "Statement": list(statements)}


def gateway_policy(bucket: str, prefix: str) -> Json:
    """What a gateway's credential may do: put objects under the prefix. Nothing else."""
    return document(statement("PutObjectsUnderPrefix", GATEWAY_ACTIONS, [object_arn(bucket, prefix)]))


def processor_policy(bucket: str, prefix: str, *, table_arn: Any, queue_arn: Any, log_group_arn: Any) -> Json:
    """Read originals and write derived objects, write the catalog, consume the queue, log."""
    return document(
        statement("ReadAndDeriveObjects", PROCESSOR_OBJECT_ACTIONS, [object_arn(bucket, prefix)]),
        statement("WriteCatalog", PROCESSOR_TABLE_ACTIONS, [table_arn]),
        statement("ConsumeQueue", QUEUE_CONSUMER_ACTIONS, [queue_arn]),
        statement("WriteOwnLogs", LOG_ACTIONS, [log_group_arn]),
    )


def api_policy(bucket: str, prefix: str, *, table_arn: Any, timeline_arn: Any, log_group_arn: Any) -> Json:
    """Read the catalog (table and timeline index) and the objects under the prefix, mark keep, log."""
    return document(
        statement("ReadAndTagObjects", API_OBJECT_ACTIONS, [object_arn(bucket, prefix)]),
        statement("WriteKeepMarkers", API_MARKER_ACTIONS, [marker_arn(bucket, prefix)]),
        statement("ReadCatalog", API_TABLE_ACTIONS, [table_arn, timeline_arn]),
        statement("MarkKeepInCatalog", API_KEEP_TABLE_ACTIONS, [table_arn]),
        statement("WriteOwnLogs", LOG_ACTIONS, [log_group_arn]),
    )


def lambda_trust_policy() -> Json:
    """Only the Lambda service may assume a function's role."""
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }


def tls_only_bucket_policy(bucket: str) -> Json:
    """Refuse every request to the bucket that does not come over TLS, whoever sends it."""
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Sid": "DenyPlainHttp",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [bucket_arn(bucket), f"{bucket_arn(bucket)}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }


def queue_policy(bucket: str, *, queue_arn: Any, account_id: Any) -> Json:
    """Let S3 send this bucket's notifications to the queue, and nothing else send."""
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Sid": "BucketNotifications",
                "Effect": "Allow",
                "Principal": {"Service": "s3.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {
                    "ArnEquals": {"aws:SourceArn": bucket_arn(bucket)},
                    "StringEquals": {"aws:SourceAccount": account_id},
                },
            }
        ],
    }
