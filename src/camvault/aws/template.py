"""Settings → the CloudFormation template of one camvault stack (plain CloudFormation, no SAM).

The stack holds the bucket (private, encrypted, TLS only, expiring after ``[retention] days``
what the processor tagged ``camvault-expires=yes``),
the notification queue and its dead-letter queue, the processor Lambda fed by the queue, the
DynamoDB catalog, the API Lambda behind an HTTP API, their log groups and the IAM principals
of ``camvault.aws.iam``. The Lambda code is a parameter (``CodeBucket``/``CodeKey``): ``camvault
aws deploy`` uploads the package and fills it in.

Decisions:

- The lifecycle rule expires only objects under the prefix tagged ``camvault-expires=yes``
  (``camvault.keep.EXPIRES_TAG``): the processor tags each original and its derived objects
  unless the event is marked keep, and marking keep removes the tag, so a kept clip outlives
  the rule as its catalog entry outlives the TTL. An object never processed (rejected, in the
  dead-letter queue) carries no tag and stays until someone looks at it. One rule means one
  number of days: cameras' own ``--retention-days`` are not applied by the stack (S3 counts
  from the upload, DynamoDB from the capture, both ``[retention] days``).
- The bucket is kept when the stack is deleted (``DeletionPolicy: Retain``): it holds the clips,
  and CloudFormation cannot delete a bucket that still has objects anyway.
- The HTTP API's route requires IAM (SigV4) authorization, because this version's API has no
  login of its own: nothing is public by default.
- The queue's visibility timeout is six times the processor's timeout (AWS's advice for SQS
  event sources), and a message that failed ``MAX_RECEIVES`` times moves to the dead-letter queue.

Pure: builds a dict; never talks to AWS.
"""

from __future__ import annotations

from typing import Any

from camvault.aws import iam
from camvault.aws.stack import StackSettings
from camvault.catalog import dynamodb_items as items
from camvault.keep import EXPIRES_TAG

Json = dict[str, Any]

NOTIFIED_SUFFIXES = (".mp4", ".jpg")
MAX_RECEIVES = 5
RUNTIME = "python3.11"
PROCESSOR_HANDLER = "camvault.processor.lambda_handler.handler"
API_HANDLER = "camvault.api.lambda_handler.handler"
API_TIMEOUT_S = 29  # API Gateway's integration limit
ABORT_MULTIPART_DAYS = 1


def ref(name: str) -> Json:
    return {"Ref": name}


def arn_of(name: str) -> Json:
    return {"Fn::GetAtt": [name, "Arn"]}


def sub(text: str) -> Json:
    return {"Fn::Sub": text}


def site_logical_id(site: str) -> str:
    """``home`` → ``GatewayUserHome`` (site names are lower-case letters and digits)."""
    return f"GatewayUser{site.capitalize()}"


def build_template(stack: StackSettings) -> Json:
    """The whole template."""
    resources: Json = {}
    resources.update(_storage(stack))
    resources.update(_queues(stack))
    resources.update(_catalog(stack))
    resources.update(_processor(stack))
    resources.update(_api(stack))
    resources.update(_gateways(stack))
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"camvault: clips in s3://{stack.bucket}/{stack.prefix}, catalog {stack.table}",
        "Parameters": {
            "CodeBucket": {"Type": "String", "Description": "Bucket holding the Lambda package"},
            "CodeKey": {"Type": "String", "Description": "Key of the Lambda package (zip)"},
        },
        "Resources": resources,
        "Outputs": _outputs(stack),
    }


def _storage(stack: StackSettings) -> Json:
    notifications = [
        {
            "Event": "s3:ObjectCreated:*",
            "Queue": arn_of("NotificationQueue"),
            "Filter": {
                "S3Key": {
                    "Rules": [
                        {"Name": "prefix", "Value": f"{stack.prefix}/"},
                        {"Name": "suffix", "Value": suffix},
                    ]
                }
            },
        }
        for suffix in NOTIFIED_SUFFIXES
    ]
    bucket = {
        "Type": "AWS::S3::Bucket",
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "DependsOn": ["NotificationQueuePolicy"],
        "Properties": {
            "BucketName": stack.bucket,
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
            "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
                ]
            },
            "LifecycleConfiguration": {
                "Rules": [
                    {
                        "Id": "ExpireClips",
                        "Status": "Enabled",
                        "Prefix": f"{stack.prefix}/",
                        "TagFilters": [{"Key": EXPIRES_TAG[0], "Value": EXPIRES_TAG[1]}],
                        "ExpirationInDays": stack.retention_days,
                    },
                    {
                        "Id": "AbortIncompleteUploads",
                        "Status": "Enabled",
                        "Prefix": "",
                        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": ABORT_MULTIPART_DAYS},
                    },
                ]
            },
            "NotificationConfiguration": {"QueueConfigurations": notifications},
        },
    }
    return {
        "Bucket": bucket,
        "BucketPolicy": {
            "Type": "AWS::S3::BucketPolicy",
            "Properties": {
                "Bucket": ref("Bucket"),
                "PolicyDocument": iam.tls_only_bucket_policy(stack.bucket),
            },
        },
    }


def _queues(stack: StackSettings) -> Json:
    return {
        "DeadLetterQueue": {
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "QueueName": stack.dead_letter_queue_name,
                "MessageRetentionPeriod": 14 * 24 * 3600,
                "SqsManagedSseEnabled": True,
            },
        },
        "NotificationQueue": {
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "QueueName": stack.queue_name,
                "VisibilityTimeout": 6 * stack.processor_timeout_s,
                "MessageRetentionPeriod": 4 * 24 * 3600,
                "SqsManagedSseEnabled": True,
                "RedrivePolicy": {
                    "deadLetterTargetArn": arn_of("DeadLetterQueue"),
                    "maxReceiveCount": MAX_RECEIVES,
                },
            },
        },
        "NotificationQueuePolicy": {
            "Type": "AWS::SQS::QueuePolicy",
            "Properties": {
                "Queues": [ref("NotificationQueue")],
                "PolicyDocument": iam.queue_policy(
                    stack.bucket, queue_arn=arn_of("NotificationQueue"), account_id=ref("AWS::AccountId")
                ),
            },
        },
    }


def _catalog(stack: StackSettings) -> Json:
    """The DynamoDB table of the design, with the catalog's own attribute names: key
    (camera_name, event_key), GSI on (capture_date, event_key), TTL on expires_at."""
    return {
        "CatalogTable": {
            "Type": "AWS::DynamoDB::Table",
            "DeletionPolicy": "Delete",
            "Properties": {
                "TableName": stack.table,
                "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [
                    {"AttributeName": name, "AttributeType": "S"} for name in items.KEY_ATTRIBUTES
                ],
                "KeySchema": [
                    {"AttributeName": items.PARTITION, "KeyType": "HASH"},
                    {"AttributeName": items.SORT, "KeyType": "RANGE"},
                ],
                "GlobalSecondaryIndexes": [
                    {
                        "IndexName": stack.index,
                        "KeySchema": [
                            {"AttributeName": items.DAY, "KeyType": "HASH"},
                            {"AttributeName": items.SORT, "KeyType": "RANGE"},
                        ],
                        "Projection": {"ProjectionType": "ALL"},
                    }
                ],
                "TimeToLiveSpecification": {"AttributeName": items.TTL, "Enabled": True},
                "SSESpecification": {"SSEEnabled": True},
            },
        }
    }


def _log_group(name: str, stack: StackSettings) -> Json:
    return {
        "Type": "AWS::Logs::LogGroup",
        "Properties": {"LogGroupName": f"/aws/lambda/{name}", "RetentionInDays": stack.log_retention_days},
    }


def _function(stack: StackSettings, *, name: str, handler: str, role: str, memory: int, timeout: int) -> Json:
    return {
        "Type": "AWS::Lambda::Function",
        "Properties": {
            "FunctionName": name,
            "Runtime": RUNTIME,
            "Architectures": [stack.architecture],
            "Handler": handler,
            "Code": {"S3Bucket": ref("CodeBucket"), "S3Key": ref("CodeKey")},
            "Role": arn_of(role),
            "MemorySize": memory,
            "Timeout": timeout,
            "Environment": {"Variables": stack.environment()},
        },
    }


def _role(policy_name: str, policy: Json) -> Json:
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "AssumeRolePolicyDocument": iam.lambda_trust_policy(),
            "Policies": [{"PolicyName": policy_name, "PolicyDocument": policy}],
        },
    }


def _processor(stack: StackSettings) -> Json:
    policy = iam.processor_policy(
        stack.bucket,
        stack.prefix,
        table_arn=arn_of("CatalogTable"),
        queue_arn=arn_of("NotificationQueue"),
        log_group_arn=arn_of("ProcessorLogGroup"),
    )
    function = _function(
        stack,
        name=stack.processor_name,
        handler=PROCESSOR_HANDLER,
        role="ProcessorRole",
        memory=stack.processor_memory_mb,
        timeout=stack.processor_timeout_s,
    )
    function["DependsOn"] = ["ProcessorLogGroup"]
    return {
        "ProcessorLogGroup": _log_group(stack.processor_name, stack),
        "ProcessorRole": _role("camvault-processor", policy),
        "ProcessorFunction": function,
        "ProcessorEventSource": {
            "Type": "AWS::Lambda::EventSourceMapping",
            "Properties": {
                "EventSourceArn": arn_of("NotificationQueue"),
                "FunctionName": ref("ProcessorFunction"),
                "BatchSize": 10,
                "FunctionResponseTypes": ["ReportBatchItemFailures"],
            },
        },
    }


def _api(stack: StackSettings) -> Json:
    policy = iam.api_policy(
        stack.bucket,
        stack.prefix,
        table_arn=arn_of("CatalogTable"),
        timeline_arn=sub("${CatalogTable.Arn}/index/" + stack.index),
        log_group_arn=arn_of("ApiLogGroup"),
    )
    function = _function(
        stack,
        name=stack.api_name,
        handler=API_HANDLER,
        role="ApiRole",
        memory=stack.api_memory_mb,
        timeout=API_TIMEOUT_S,
    )
    function["DependsOn"] = ["ApiLogGroup"]
    return {
        "ApiLogGroup": _log_group(stack.api_name, stack),
        "ApiRole": _role("camvault-api", policy),
        "ApiFunction": function,
        "HttpApi": {
            "Type": "AWS::ApiGatewayV2::Api",
            "Properties": {"Name": stack.api_name, "ProtocolType": "HTTP"},
        },
        "HttpApiIntegration": {
            "Type": "AWS::ApiGatewayV2::Integration",
            "Properties": {
                "ApiId": ref("HttpApi"),
                "IntegrationType": "AWS_PROXY",
                "IntegrationUri": arn_of("ApiFunction"),
                "PayloadFormatVersion": "2.0",
            },
        },
        "HttpApiRoute": {
            "Type": "AWS::ApiGatewayV2::Route",
            "Properties": {
                "ApiId": ref("HttpApi"),
                "RouteKey": "$default",
                "AuthorizationType": "AWS_IAM",
                "Target": sub("integrations/${HttpApiIntegration}"),
            },
        },
        "HttpApiStage": {
            "Type": "AWS::ApiGatewayV2::Stage",
            "Properties": {"ApiId": ref("HttpApi"), "StageName": "$default", "AutoDeploy": True},
        },
        "ApiInvokePermission": {
            "Type": "AWS::Lambda::Permission",
            "Properties": {
                "Action": "lambda:InvokeFunction",
                "FunctionName": ref("ApiFunction"),
                "Principal": "apigateway.amazonaws.com",
                "SourceArn": sub(
                    "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${HttpApi}/*"
                ),
            },
        },
    }


def _gateways(stack: StackSettings) -> Json:
    users = {
        site_logical_id(site): {
            "Type": "AWS::IAM::User",
            "Properties": {"UserName": stack.gateway_user(site), "Path": stack.user_path},
        }
        for site in stack.sites
    }
    policy = {
        "Type": "AWS::IAM::Policy",
        "Properties": {
            "PolicyName": "camvault-gateway",
            "PolicyDocument": iam.gateway_policy(stack.bucket, stack.prefix),
            "Users": [ref(logical_id) for logical_id in users],
        },
    }
    return {**users, "GatewayPolicy": policy}


def _outputs(stack: StackSettings) -> Json:
    outputs: Json = {
        "BucketName": {"Value": ref("Bucket")},
        "Prefix": {"Value": stack.prefix},
        "TableName": {"Value": ref("CatalogTable")},
        "QueueUrl": {"Value": ref("NotificationQueue")},
        "DeadLetterQueueUrl": {"Value": ref("DeadLetterQueue")},
        "ProcessorFunction": {"Value": ref("ProcessorFunction")},
        "ApiFunction": {"Value": ref("ApiFunction")},
        "ApiUrl": {"Value": sub("https://${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/")},
    }
    for site in stack.sites:
        outputs[site_logical_id(site)] = {"Value": ref(site_logical_id(site))}
    return outputs
