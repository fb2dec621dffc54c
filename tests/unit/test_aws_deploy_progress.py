"""What ``camvault aws deploy`` says while CloudFormation works and when it fails, on a small
fake CloudFormation (moto's answers failed creations synchronously, with no stack events to
read, so the failure path is played here as AWS plays it: status changes and events)."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from botocore.exceptions import ClientError

from camvault.aws.deploy import AwsClients, Deployer, DeployError

pytestmark = pytest.mark.unit

T0 = datetime(2026, 11, 28, 5, 0, tzinfo=UTC)


def event(n: int, logical: str, kind: str, status: str, reason: str = "") -> dict[str, Any]:
    found = {
        "EventId": f"e{n}",
        "LogicalResourceId": logical,
        "ResourceType": kind,
        "ResourceStatus": status,
        "Timestamp": T0 + timedelta(seconds=n),
    }
    if reason:
        found["ResourceStatusReason"] = reason
    return found


class FakeCloudFormation:
    """Stack statuses and events as CloudFormation reveals them, one step per describe_stacks."""

    exceptions = SimpleNamespace(ClientError=ClientError)

    def __init__(self, statuses: list[str | None], events: list[list[dict[str, Any]]], change: str) -> None:
        self.statuses, self.events, self.change = statuses, events, change
        self.step = 0
        self.executed = False
        self.deleted_change_sets: list[str] = []

    def describe_stacks(self, StackName: str) -> dict[str, Any]:
        status = self.statuses[min(self.step, len(self.statuses) - 1)]
        if self.executed:
            self.step += 1
        if status is None:
            raise ClientError(
                {"Error": {"Code": "ValidationError", "Message": "does not exist"}}, "DescribeStacks"
            )
        return {"Stacks": [{"StackStatus": status}]}

    def describe_stack_events(self, StackName: str) -> dict[str, Any]:
        shown = self.events[min(max(self.step - 1, 0), len(self.events) - 1)] if self.executed else []
        return {"StackEvents": list(reversed(shown))}  # newest first, as AWS answers

    def create_change_set(self, **kwargs: Any) -> None:
        self.change_set_type = kwargs["ChangeSetType"]

    def describe_change_set(self, StackName: str, ChangeSetName: str) -> dict[str, Any]:
        if self.change == "none":
            return {"Status": "FAILED", "StatusReason": "The submitted information didn't contain changes."}
        change = {"Action": "Add", "ResourceType": "AWS::S3::Bucket", "LogicalResourceId": "Bucket"}
        return {"Status": "CREATE_COMPLETE", "Changes": [{"ResourceChange": change}]}

    def delete_change_set(self, StackName: str, ChangeSetName: str) -> None:
        self.deleted_change_sets.append(ChangeSetName)

    def execute_change_set(self, StackName: str, ChangeSetName: str) -> None:
        self.executed = True


def deployer(cfn: FakeCloudFormation, out: io.StringIO) -> Deployer:
    clients = AwsClients(cfn, SimpleNamespace(), SimpleNamespace())  # type: ignore[arg-type]
    return Deployer(clients, out=out, poll_s=0, sleep=lambda _s: None)


FAILED_CREATE = [
    [event(1, "camvault", "AWS::CloudFormation::Stack", "CREATE_IN_PROGRESS")],
    [
        event(1, "camvault", "AWS::CloudFormation::Stack", "CREATE_IN_PROGRESS"),
        event(2, "CatalogTable", "AWS::DynamoDB::Table", "CREATE_IN_PROGRESS"),
        event(3, "Bucket", "AWS::S3::Bucket", "CREATE_FAILED", "my-camvault already exists"),
        event(4, "CatalogTable", "AWS::DynamoDB::Table", "CREATE_FAILED", "Resource creation cancelled"),
        event(5, "camvault", "AWS::CloudFormation::Stack", "ROLLBACK_IN_PROGRESS", "The following failed"),
        event(6, "camvault", "AWS::CloudFormation::Stack", "ROLLBACK_COMPLETE"),
    ],
]


def test_a_failed_create_names_the_cause_with_aws_reason_after_the_progress_lines() -> None:
    cfn = FakeCloudFormation([None, "CREATE_IN_PROGRESS", "ROLLBACK_COMPLETE"], FAILED_CREATE, "add")
    out = io.StringIO()
    with pytest.raises(DeployError) as caught:
        deployer(cfn, out).apply("camvault", {"Resources": {}}, {})
    message = str(caught.value)
    assert message.startswith("stack camvault ended ROLLBACK_COMPLETE: Bucket (AWS::S3::Bucket): my-camvault")
    assert "cancelled" not in message  # the cause, not its consequences
    shown = out.getvalue().splitlines()
    assert cfn.change_set_type == "CREATE"
    assert any("Add" in line and "Bucket" in line for line in shown)  # the plan, before executing
    progress = [line for line in shown if "s  " in line]
    assert [line.split()[1] for line in progress] == [
        "CREATE_IN_PROGRESS",
        "CREATE_IN_PROGRESS",
        "CREATE_FAILED",
        "CREATE_FAILED",
        "ROLLBACK_IN_PROGRESS",
        "ROLLBACK_COMPLETE",
    ]  # each event once, oldest first
    assert "my-camvault already exists" in progress[2]


def test_a_stack_left_by_a_failed_first_deploy_says_to_destroy_it_first() -> None:
    cfn = FakeCloudFormation(["ROLLBACK_COMPLETE"], [[]], "add")
    with pytest.raises(DeployError, match=r"ROLLBACK_COMPLETE .*camvault aws destroy --yes"):
        deployer(cfn, io.StringIO()).apply("camvault", {"Resources": {}}, {})
    assert not cfn.executed


def test_an_unchanged_stack_is_left_alone() -> None:
    cfn = FakeCloudFormation(["UPDATE_COMPLETE"], [[]], "none")
    out = io.StringIO()
    assert deployer(cfn, out).apply("camvault", {"Resources": {}}, {}) is False
    assert cfn.change_set_type == "UPDATE" and not cfn.executed
    assert len(cfn.deleted_change_sets) == 1
    assert "up to date" in out.getvalue()


def test_a_successful_update_ends_quietly_at_update_complete() -> None:
    events = [[event(1, "camvault", "AWS::CloudFormation::Stack", "UPDATE_COMPLETE")]]
    cfn = FakeCloudFormation(["UPDATE_COMPLETE", "UPDATE_COMPLETE"], events, "add")
    out = io.StringIO()
    assert deployer(cfn, out).apply("camvault", {"Resources": {}}, {}) is True
    assert "updating stack camvault" in out.getvalue()
    assert "UPDATE_COMPLETE" in out.getvalue()


def test_a_bucket_name_too_long_for_its_code_bucket_says_the_limit() -> None:
    from tests.unit.test_aws_template import settings

    stack = settings(CAMVAULT_STORAGE_URL=f"s3://{'b' * 60}/patrolcams")
    with pytest.raises(DeployError, match="at most 56 characters"):
        deployer(FakeCloudFormation([None], [[]], "add"), io.StringIO()).code_bucket(stack)
