"""The executor: applies a template with a change set, shows progress, and destroys a stack.

``deploy`` uploads the Lambda package to a code bucket beside the data bucket (``BUCKET-lambda``,
private, encrypted; created when missing), creates a change set (CREATE or UPDATE), prints what
it changes, executes it and prints each stack event as it happens. A failed deploy ends with the
failing resources and CloudFormation's reasons. Then each gateway site without an access key
gets one, written to a private credentials file (the secret is never printed or kept elsewhere).

``destroy`` deletes the gateways' access keys (CloudFormation cannot delete a user that has
some), the stack, and the code bucket. The data bucket is kept (``DeletionPolicy: Retain``):
it holds the clips; the message says how to delete it by hand.

The AWS clients are passed in; this module never reads settings or credentials itself.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from camvault.aws.stack import StackSettings

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_cloudformation.type_defs import StackEventTypeDef
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_s3 import S3Client

DONE = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "DELETE_COMPLETE", "IMPORT_COMPLETE"}
FAILED = {
    "CREATE_FAILED",
    "ROLLBACK_COMPLETE",
    "ROLLBACK_FAILED",
    "UPDATE_ROLLBACK_COMPLETE",
    "UPDATE_ROLLBACK_FAILED",
    "DELETE_FAILED",
    "UPDATE_FAILED",
}
NO_CHANGES = ("didn't contain changes", "No updates are to be performed")
CAPABILITIES: list[Any] = ["CAPABILITY_NAMED_IAM"]
MAX_BUCKET_NAME = 63


class DeployError(Exception):
    """The deployment failed; the message names the resource, AWS's reason and the next step."""


@dataclass
class AwsClients:
    cloudformation: CloudFormationClient
    s3: S3Client
    iam: IAMClient

    def close(self) -> None:
        for client in (self.cloudformation, self.s3, self.iam):
            client.close()


@dataclass
class Deployer:
    clients: AwsClients
    out: TextIO
    poll_s: float = 3.0
    timeout_s: float = 3600.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    _seen: set[str] = field(default_factory=set)

    # -- deploy -------------------------------------------------------------------------------

    def deploy(
        self, stack: StackSettings, template: dict[str, Any], package: Path, credentials: Path
    ) -> dict[str, str]:
        """Upload ``package``, apply ``template``, give new gateway sites their keys; the outputs."""
        bucket, key = self.upload_package(stack, package)
        self.retire_removed_sites(stack)
        self.apply(stack.stack_name, template, {"CodeBucket": bucket, "CodeKey": key})
        outputs = self.outputs(stack.stack_name)
        for site in stack.sites:
            self.gateway_key(stack, site, credentials)
        return outputs

    def code_bucket(self, stack: StackSettings) -> str:
        """The private bucket beside the data bucket that holds the Lambda packages."""
        name = f"{stack.bucket}-lambda"
        if len(name) > MAX_BUCKET_NAME:
            raise DeployError(
                f"bucket name {stack.bucket!r} leaves no room for its code bucket {name!r}: "
                f"use a bucket name of at most {MAX_BUCKET_NAME - len('-lambda')} characters"
            )
        return name

    def upload_package(self, stack: StackSettings, package: Path) -> tuple[str, str]:
        """Put the zip in the code bucket under its content hash; (bucket, key)."""
        if not package.is_file():
            raise DeployError(f"no Lambda package at {package}: build it with `camvault aws package`")
        with package.open("rb") as handle:
            digest = hashlib.file_digest(handle, "sha256").hexdigest()
        bucket = self.code_bucket(stack)
        key = f"{stack.stack_name}/{digest}.zip"
        self._ensure_code_bucket(bucket)
        size = package.stat().st_size
        self._say(f"uploading {package.name} ({size / 1e6:.1f} MB) to s3://{bucket}/{key}")
        self.clients.s3.upload_file(str(package), bucket, key, Callback=self._upload_progress(size))
        return bucket, key

    def _upload_progress(self, size: int) -> Callable[[int], None]:
        """A callback for boto3's transfer that prints every quarter (it may call from threads)."""
        lock = threading.Lock()
        sent, shown = [0], [0]

        def progress(count: int) -> None:
            with lock:
                sent[0] += count
                quarter = 4 * sent[0] // size if size else 4
                if quarter > shown[0]:
                    shown[0] = quarter
                    self._say(f"  uploaded {min(100, 25 * quarter)}%")

        return progress

    def _ensure_code_bucket(self, bucket: str) -> None:
        s3 = self.clients.s3
        try:
            s3.head_bucket(Bucket=bucket)
            return
        except s3.exceptions.ClientError as exc:
            if _code(exc) not in {"404", "NoSuchBucket", "NotFound"}:
                raise DeployError(f"cannot use code bucket {bucket}: {exc}") from exc
        region = s3.meta.region_name
        if region and region != "us-east-1":
            location: Any = {"LocationConstraint": region}
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration=location)
        else:
            s3.create_bucket(Bucket=bucket)
        s3.put_public_access_block(
            Bucket=bucket,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        )
        s3.put_bucket_encryption(
            Bucket=bucket,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
        )
        self._say(f"created code bucket {bucket}")

    def apply(self, name: str, template: dict[str, Any], parameters: dict[str, str]) -> bool:
        """Create and execute a change set; False when the stack already matches the template."""
        status = self.stack_status(name)
        if status == "ROLLBACK_COMPLETE":
            raise DeployError(
                f"stack {name} is ROLLBACK_COMPLETE after a failed first deploy; "
                "run `camvault aws destroy --yes`, fix the cause shown then, and deploy again"
            )
        kind: Any = "UPDATE" if status not in (None, "REVIEW_IN_PROGRESS") else "CREATE"
        cfn = self.clients.cloudformation
        change_set = f"camvault-{int(time.time())}"
        try:
            cfn.create_change_set(
                StackName=name,
                ChangeSetName=change_set,
                ChangeSetType=kind,
                TemplateBody=json.dumps(template),
                Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
                Capabilities=CAPABILITIES,
            )
        except cfn.exceptions.ClientError as exc:
            if not any(text in str(exc) for text in NO_CHANGES):
                raise DeployError(f"CloudFormation refused the template of {name}: {exc}") from exc
            described = None  # some endpoints refuse an empty change set instead of failing it
        else:
            described = self._wait_change_set(name, change_set)
        if described is None:
            self._say(f"stack {name} is up to date: nothing to change")
            return False
        self._show_changes(described)
        self._seen = {e["EventId"] for e in self._events(name)}
        cfn.execute_change_set(StackName=name, ChangeSetName=change_set)
        self._say(f"{'creating' if kind == 'CREATE' else 'updating'} stack {name}…")
        self.wait(name)
        return True

    def _wait_change_set(self, name: str, change_set: str) -> dict[str, Any] | None:
        cfn = self.clients.cloudformation
        deadline = self.clock() + self.timeout_s
        while True:
            described: dict[str, Any] = dict(
                cfn.describe_change_set(StackName=name, ChangeSetName=change_set)
            )
            status, reason = described.get("Status"), str(described.get("StatusReason", ""))
            if status == "CREATE_COMPLETE":
                return described
            if status == "FAILED":
                cfn.delete_change_set(StackName=name, ChangeSetName=change_set)
                if any(text in reason for text in NO_CHANGES):
                    return None
                raise DeployError(f"CloudFormation refused the change set for {name}: {reason}")
            if self.clock() > deadline:
                raise DeployError(
                    f"change set {change_set} of {name} still {status}; see the CloudFormation console"
                )
            self.sleep(self.poll_s)

    def _show_changes(self, described: dict[str, Any]) -> None:
        for change in described.get("Changes", []):
            resource = change.get("ResourceChange", {})
            replace = " (replaced)" if resource.get("Replacement") == "True" else ""
            self._say(
                f"  {resource.get('Action', '?'):<7} {resource.get('ResourceType', '?'):<34} "
                f"{resource.get('LogicalResourceId', '?')}{replace}"
            )

    # -- progress -------------------------------------------------------------------------------

    def stack_status(self, name: str) -> str | None:
        """The stack's status, or None when there is no such stack."""
        cfn = self.clients.cloudformation
        try:
            stacks = cfn.describe_stacks(StackName=name)["Stacks"]
        except cfn.exceptions.ClientError as exc:
            if "does not exist" in str(exc):
                return None
            raise
        return str(stacks[0]["StackStatus"]) if stacks else None

    def wait(self, name: str, *, deleting: bool = False) -> None:
        """Print new stack events until the stack is done; DeployError with reasons if it failed."""
        started = self.clock()
        goal = {"DELETE_COMPLETE"} if deleting else DONE - {"DELETE_COMPLETE"}
        while True:
            status = self.stack_status(name)
            for event in self._new_events(name):
                self._say(_event_line(event, self.clock() - started))
            if status in goal or (deleting and status is None):
                return
            if status in FAILED:
                raise DeployError(self._failure(name, status))
            if self.clock() - started > self.timeout_s:
                raise DeployError(f"stack {name} still {status} after {self.timeout_s:.0f} s; see its events")
            self.sleep(self.poll_s)

    def _events(self, name: str) -> list[StackEventTypeDef]:
        try:
            return list(self.clients.cloudformation.describe_stack_events(StackName=name)["StackEvents"])
        except self.clients.cloudformation.exceptions.ClientError:
            return []

    def _new_events(self, name: str) -> list[StackEventTypeDef]:
        fresh = [e for e in self._events(name) if e["EventId"] not in self._seen]
        self._seen.update(e["EventId"] for e in fresh)
        return sorted(fresh, key=lambda e: e["Timestamp"])

    def _failure(self, name: str, status: str | None) -> str:
        """The first failures (the cause; later ones are usually cancellations) with AWS's reasons."""
        failed = [
            e
            for e in sorted(self._events(name), key=lambda e: e["Timestamp"])
            if str(e.get("ResourceStatus", "")).endswith("_FAILED") and e["LogicalResourceId"] != name
        ]
        causes = [e for e in failed if "cancelled" not in str(e.get("ResourceStatusReason", ""))] or failed
        shown = "; ".join(
            f"{e['LogicalResourceId']} ({e['ResourceType']}): "
            f"{e.get('ResourceStatusReason', 'no reason given')}"
            for e in causes[:3]
        )
        return f"stack {name} ended {status}: {shown or 'no failed resource reported'}"

    def outputs(self, name: str) -> dict[str, str]:
        stacks = self.clients.cloudformation.describe_stacks(StackName=name)["Stacks"]
        return {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}

    # -- gateway credentials ----------------------------------------------------------------------

    def gateway_key(self, stack: StackSettings, site: str, folder: Path) -> Path | None:
        """Give ``site``'s user an access key unless it has one; the credentials file written."""
        user = stack.gateway_user(site)
        existing = self.clients.iam.list_access_keys(UserName=user)["AccessKeyMetadata"]
        if existing:
            self._say(f"site {site}: keeps its access key {existing[0]['AccessKeyId']}")
            return None
        key = self.clients.iam.create_access_key(UserName=user)["AccessKey"]
        path = folder / f"gateway-{site}.env"
        region = self.clients.s3.meta.region_name
        _write_private(path, stack.gateway_env(site, key["AccessKeyId"], key["SecretAccessKey"], region))
        self._say(f"site {site}: new access key {key['AccessKeyId']}, credentials in {path} (keep it secret)")
        return path

    # -- destroy ------------------------------------------------------------------------------------

    def destroy(self, stack: StackSettings) -> None:
        """Delete the gateways' keys, the stack and the code bucket; keep the data bucket."""
        name = stack.stack_name
        if self.stack_status(name) is None:
            self._say(f"no stack {name}: nothing to delete")
        else:
            for user in self.gateway_users(stack):
                self._delete_keys(user)
            self._seen = {e["EventId"] for e in self._events(name)}
            self.clients.cloudformation.delete_stack(StackName=name)
            self._say(f"deleting stack {name}…")
            self.wait(name, deleting=True)
            self._say(f"stack {name} deleted")
        self._delete_bucket(self.code_bucket(stack))
        self._say(
            f"kept s3://{stack.bucket}: it holds the clips (DeletionPolicy Retain). To delete them too: "
            f"aws s3 rb s3://{stack.bucket} --force"
        )

    def gateway_users(self, stack: StackSettings) -> list[str]:
        """The stack's gateway users that exist now (sites removed from settings included)."""
        pages = self.clients.iam.get_paginator("list_users").paginate(PathPrefix=stack.user_path)
        return [user["UserName"] for page in pages for user in page["Users"]]

    def retire_removed_sites(self, stack: StackSettings) -> None:
        """Delete the keys of sites no longer in ``[aws] sites``: the update then deletes their
        users (CloudFormation cannot delete a user that still has keys)."""
        current = {stack.gateway_user(site) for site in stack.sites}
        for user in self.gateway_users(stack):
            if user not in current:
                self._say(f"{user}: its site left [aws] sites; its access key stops working now")
                self._delete_keys(user)

    def _delete_keys(self, user: str) -> None:
        iam = self.clients.iam
        try:
            keys = iam.list_access_keys(UserName=user)["AccessKeyMetadata"]
        except iam.exceptions.NoSuchEntityException:
            return
        for key in keys:
            iam.delete_access_key(UserName=user, AccessKeyId=key["AccessKeyId"])
            self._say(f"deleted access key {key['AccessKeyId']} of {user}")

    def _delete_bucket(self, bucket: str) -> None:
        s3 = self.clients.s3
        try:
            keys = _all_keys(s3.get_paginator("list_objects_v2").paginate(Bucket=bucket))
            for key in keys:
                s3.delete_object(Bucket=bucket, Key=key)
            s3.delete_bucket(Bucket=bucket)
        except s3.exceptions.ClientError as exc:
            if _code(exc) in {"404", "NoSuchBucket", "NotFound"}:
                return
            raise DeployError(f"cannot delete code bucket {bucket}: {exc}") from exc
        self._say(f"deleted code bucket {bucket}")

    def _say(self, line: str) -> None:
        self.out.write(line + "\n")
        self.out.flush()


def _all_keys(pages: Iterable[Any]) -> list[str]:
    return [item["Key"] for page in pages for item in page.get("Contents", [])]


def _event_line(event: StackEventTypeDef, elapsed: float) -> str:
    reason = event.get("ResourceStatusReason")
    shown = f"  {reason}" if reason and str(event.get("ResourceStatus", "")).endswith("FAILED") else ""
    return (
        f"  {elapsed:5.0f}s  {event.get('ResourceStatus', '?'):<20} {event.get('ResourceType', '?'):<34} "
        f"{event['LogicalResourceId']}{shown}"
    )


def _code(exc: BaseException) -> str | None:
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return None
    return str(response.get("Error", {}).get("Code") or "") or None


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` readable by its owner only (temp file, fsync, rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    partial.replace(path)
