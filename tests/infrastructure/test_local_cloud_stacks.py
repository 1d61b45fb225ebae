"""Smoke tests for the CloudFormation stack patches in infra/local/patches.py (sections 5 and 6).

What the stacks workflow relies on in the emulator: "CloudFormation Stack Status Change" events
on the stack account's default bus (delivered by rules, forwarded across accounts like the
onboarding template's rule), AWS's status sequences for create/update/delete/rollback, injected
faults and delays, and an application stack whose resource types all reach CREATE_COMPLETE,
UPDATE_COMPLETE and DELETE_COMPLETE with real objects in the customer account.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from infra.local import patches
from tests.fixtures import patch_handlers as handlers
from tests.infrastructure.test_local_cloud_patches import (
    CUSTOMER,
    REGION,
    SCALE,
    SERVICE,
    bootstrap_account,
    client,
    create_function,
    wait_until,
)
from tests.infrastructure.test_local_cloud_patches import moto_server as moto_server  # the fixture

PREFIX = "stackpilot-"
STACK_EVENT_PATTERN = {
    "source": ["aws.cloudformation"],
    "detail-type": ["CloudFormation Stack Status Change"],
}
QUEUE = {"Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {"VisibilityTimeout": 30}}}}
IN_PROGRESS = ("_IN_PROGRESS",)


@pytest.fixture(scope="module", autouse=True)
def _installed() -> None:
    patches.install(time_scale=SCALE)


@pytest.fixture
def customer(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    monkeypatch.delenv("MOTO_ACCOUNT_ID", raising=False)
    patches.set_time_scale(SCALE)
    handlers.reset()
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        patches.register_service_account(SERVICE)
        yield bootstrap_account(CUSTOMER)
        patches.stop_executions()
    patches.clear_stack_hooks()


# --------------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------------


def tap(
    creds: dict[str, str] | None, pattern: dict[str, Any], *, bus: str = "default", name: str = "tap"
) -> str:
    """A rule on `bus` delivering matching events to a new queue; returns the queue URL."""
    sqs, events = client("sqs", creds), client("events", creds)
    url = sqs.create_queue(QueueName=f"{name}-{bus}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name=name, EventBusName=bus, EventPattern=json.dumps(pattern))
    events.put_targets(Rule=name, EventBusName=bus, Targets=[{"Id": "queue", "Arn": arn}])
    return str(url)


def drain(creds: dict[str, str] | None, url: str, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
    """At least `count` messages (in arrival order), then whatever else arrives within 0.2 s."""
    sqs, received = client("sqs", creds), []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        for message in messages:
            received.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        if len(received) >= count and not messages:
            return received
        if not messages:
            time.sleep(0.05 if len(received) < count else 0.2)
    raise AssertionError(f"expected {count} events, got {len(received)}: {received}")


def statuses(events: list[dict[str, Any]]) -> list[str]:
    return [e["detail"]["status-details"]["status"] for e in events]


def wait_stack(cfn: Any, stack_id: str, timeout: float = 20.0) -> dict[str, Any]:
    def settled() -> dict[str, Any] | None:
        stack = cfn.describe_stacks(StackName=stack_id)["Stacks"][0]
        return None if stack["StackStatus"].endswith(IN_PROGRESS) else stack

    return dict(wait_until(settled, timeout, f"stack {stack_id}"))


def stack_events(cfn: Any, stack_id: str, logical_id: str | None = None) -> list[tuple[str, str, str | None]]:
    events = cfn.describe_stack_events(StackName=stack_id)["StackEvents"]
    return [
        (e["LogicalResourceId"], e["ResourceStatus"], e.get("ResourceStatusReason"))
        for e in reversed(events)
        if logical_id is None or e["LogicalResourceId"] == logical_id
    ]


def create_via_change_set(
    cfn: Any, name: str, template: dict[str, Any], *, wait: bool = True, **kwargs: Any
) -> dict[str, str]:
    """CreateChangeSet + ExecuteChangeSet (which returns at once, as in AWS); then waits unless told."""
    change_set = cfn.create_change_set(
        StackName=name,
        ChangeSetName=f"create-{uuid.uuid4().hex[:8]}",
        ChangeSetType="CREATE",
        TemplateBody=json.dumps(template),
        RoleARN=f"arn:aws:iam::{CUSTOMER}:role/stackpilot/cloudformation",
        Capabilities=["CAPABILITY_IAM"],
        **kwargs,
    )
    cfn.execute_change_set(ChangeSetName=change_set["Id"])
    if wait:
        wait_stack(cfn, change_set["StackId"], timeout=60)
    return dict(change_set)


def update_via_change_set(cfn: Any, stack_id: str, template: dict[str, Any], *, wait: bool = True) -> str:
    change_set = cfn.create_change_set(
        StackName=stack_id,
        ChangeSetName=f"update-{uuid.uuid4().hex[:8]}",
        ChangeSetType="UPDATE",
        TemplateBody=json.dumps(template),
        RoleARN=f"arn:aws:iam::{CUSTOMER}:role/stackpilot/cloudformation",
        Capabilities=["CAPABILITY_IAM"],
    )
    cfn.execute_change_set(ChangeSetName=change_set["Id"])
    if wait:
        wait_stack(cfn, stack_id, timeout=60)
    return str(change_set["Id"])


def queue_template(timeout: int = 30, **extra: Any) -> dict[str, Any]:
    resources: dict[str, Any] = {
        "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"VisibilityTimeout": timeout}},
        **extra,
    }
    return {"Resources": resources, "Outputs": {"QueueUrl": {"Value": {"Ref": "Queue"}}}}


# --------------------------------------------------------------------------------------------------
# Stack status events
# --------------------------------------------------------------------------------------------------


def test_stack_status_events_reach_a_rule_in_the_stack_account_in_order(customer: dict[str, str]) -> None:
    queue = tap(customer, STACK_EVENT_PATTERN)
    resources = tap(
        customer,
        {"source": ["aws.cloudformation"], "detail-type": ["CloudFormation Resource Status Change"]},
        name="resources",
    )
    cfn = client("cloudformation", customer)

    stack_id = cfn.create_stack(StackName="plain", TemplateBody=json.dumps(queue_template()))["StackId"]
    created = drain(customer, queue, 2)
    cfn.update_stack(StackName=stack_id, TemplateBody=json.dumps(queue_template(timeout=60)))
    updated = drain(customer, queue, 3)
    cfn.delete_stack(StackName=stack_id)
    deleted = drain(customer, queue, 2)

    assert statuses(created) == ["CREATE_IN_PROGRESS", "CREATE_COMPLETE"]
    assert statuses(updated) == [
        "UPDATE_IN_PROGRESS",
        "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
        "UPDATE_COMPLETE",
    ]
    assert statuses(deleted) == ["DELETE_IN_PROGRESS", "DELETE_COMPLETE"]
    first = created[0]
    assert list(first) == [
        "version",
        "id",
        "detail-type",
        "source",
        "account",
        "time",
        "region",
        "resources",
        "detail",
    ]
    assert first["source"] == "aws.cloudformation"
    assert first["detail-type"] == "CloudFormation Stack Status Change"
    assert (first["account"], first["region"], first["resources"]) == (CUSTOMER, REGION, [stack_id])
    assert first["time"].endswith("Z")
    assert first["detail"] == {
        "stack-id": stack_id,
        "status-details": {"status": "CREATE_IN_PROGRESS", "status-reason": "User Initiated"},
        "client-request-token": "",
    }
    assert created[1]["detail"]["status-details"] == {"status": "CREATE_COMPLETE", "status-reason": ""}
    queue_events = [
        e["detail"] for e in drain(customer, resources, 6) if e["detail"]["logical-resource-id"] == "Queue"
    ]
    assert [d["status-details"]["status"] for d in queue_events][:2] == [
        "CREATE_IN_PROGRESS",
        "CREATE_COMPLETE",
    ]
    assert queue_events[1]["resource-type"] == "AWS::SQS::Queue"
    assert queue_events[1]["physical-resource-id"].endswith(
        "/plain-Queue-" + queue_events[1]["physical-resource-id"].split("-")[-1]
    )


def forwarding_rule(creds: dict[str, str], service_bus_arn: str) -> None:
    """What the onboarding template installs in the customer account (role_template.py)."""
    iam = client("iam", creds)
    role_arn = iam.create_role(
        RoleName="stackpilot-status-forwarding",
        Path="/stackpilot-control/",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "events.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )["Role"]["Arn"]
    events = client("events", creds)
    events.put_rule(
        Name="stackpilot-status-conn1",
        State="ENABLED",
        EventPattern=json.dumps(
            {
                **STACK_EVENT_PATTERN,
                "detail": {
                    "stack-id": [{"prefix": f"arn:aws:cloudformation:{REGION}:{CUSTOMER}:stack/{PREFIX}"}]
                },
            }
        ),
    )
    events.put_targets(
        Rule="stackpilot-status-conn1",
        Targets=[
            {
                "Id": "stackpilot-bus",
                "Arn": service_bus_arn,
                "RoleArn": role_arn,
                "RetryPolicy": {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 20},
            }
        ],
    )


@pytest.fixture
def service_bus(customer: dict[str, str]) -> tuple[str, str]:
    """The stackpilot bus in the service account, a queue tapping it, and the customer's rule."""
    bus_arn = client("events").create_event_bus(Name="stackpilot-local")["EventBusArn"]
    queue = tap(None, {"source": ["aws.cloudformation"]}, bus="stackpilot-local", name="stacks")
    forwarding_rule(customer, bus_arn)
    return bus_arn, queue


def test_forwarded_across_accounts_by_the_onboarding_rule(
    customer: dict[str, str], service_bus: tuple[str, str]
) -> None:
    _, queue = service_bus
    function_arn = create_function("on-stack-event", "record")
    events = client("events")
    events.put_rule(
        Name="to-fn", EventBusName="stackpilot-local", EventPattern=json.dumps(STACK_EVENT_PATTERN)
    )
    events.put_targets(
        Rule="to-fn", EventBusName="stackpilot-local", Targets=[{"Id": "fn", "Arn": function_arn}]
    )
    cfn = client("cloudformation", customer)
    patches.delay_next_stack_creation(PREFIX, 0.5)  # the operation runs in the background

    created = create_via_change_set(cfn, "stackpilot-web", queue_template())
    cfn.create_stack(StackName="not-ours", TemplateBody=json.dumps(queue_template()))

    forwarded = drain(None, queue, 3)
    assert statuses(forwarded) == ["REVIEW_IN_PROGRESS", "CREATE_IN_PROGRESS", "CREATE_COMPLETE"]
    assert {e["account"] for e in forwarded} == {CUSTOMER}, "forwarded events keep the source account"
    assert {e["detail"]["stack-id"] for e in forwarded} == {created["StackId"]}
    assert all(e["resources"] == [created["StackId"]] for e in forwarded)
    wait_until(lambda: len(handlers.RECEIVED) >= 3, what="bus -> Lambda")
    assert [r["event"]["detail"]["status-details"]["status"] for r in handlers.RECEIVED] == statuses(
        forwarded
    )
    assert handlers.RECEIVED[-1]["event"]["account"] == CUSTOMER


def test_a_failed_creation_emits_the_rollback_sequence(customer: dict[str, str]) -> None:
    queue = tap(customer, STACK_EVENT_PATTERN)
    cfn = client("cloudformation", customer)
    patches.fail_next_stack_creation(PREFIX, "Queue", "Resource handler returned message: boom")

    created = create_via_change_set(cfn, "stackpilot-doomed", queue_template())

    events = drain(customer, queue, 4)
    reason = "The following resource(s) failed to create: [Queue]. "
    assert [
        (e["detail"]["status-details"]["status"], e["detail"]["status-details"]["status-reason"])
        for e in events
    ] == [
        ("REVIEW_IN_PROGRESS", "User Initiated"),
        ("CREATE_IN_PROGRESS", "User Initiated"),
        ("ROLLBACK_IN_PROGRESS", reason + "Rollback requested by user."),
        ("ROLLBACK_COMPLETE", ""),
    ]
    stack = wait_stack(cfn, created["StackId"])
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    assert "Outputs" not in stack
    assert stack_events(cfn, created["StackId"], "Queue") == [
        ("Queue", "CREATE_IN_PROGRESS", None),
        ("Queue", "CREATE_FAILED", "Resource handler returned message: boom"),
    ]
    change_set = cfn.describe_change_set(ChangeSetName=created["Id"])
    assert change_set["ExecutionStatus"] == "EXECUTE_FAILED"
    with pytest.raises(ClientError, match="ROLLBACK_COMPLETE state and can not be updated"):
        update_via_change_set(cfn, created["StackId"], queue_template(timeout=5))
    with pytest.raises(ClientError, match="already exists"):
        create_via_change_set(cfn, "stackpilot-doomed", queue_template())


def test_status_events_can_be_suppressed_for_the_polling_fallback(customer: dict[str, str]) -> None:
    queue = tap(customer, STACK_EVENT_PATTERN)
    cfn = client("cloudformation", customer)
    patches.suppress_stack_status_events(PREFIX)

    quiet = cfn.create_stack(StackName="stackpilot-quiet", TemplateBody=json.dumps(queue_template()))[
        "StackId"
    ]
    loud = cfn.create_stack(StackName="other", TemplateBody=json.dumps(queue_template()))["StackId"]
    patches.clear_stack_hooks()
    cfn.delete_stack(StackName=quiet)

    events = drain(customer, queue, 4)
    assert [(e["detail"]["stack-id"], e["detail"]["status-details"]["status"]) for e in events] == [
        (loud, "CREATE_IN_PROGRESS"),
        (loud, "CREATE_COMPLETE"),
        (quiet, "DELETE_IN_PROGRESS"),
        (quiet, "DELETE_COMPLETE"),
    ]
    assert cfn.describe_stacks(StackName=quiet)["Stacks"][0]["StackStatus"] == "DELETE_COMPLETE"


# --------------------------------------------------------------------------------------------------
# Delays and faults
# --------------------------------------------------------------------------------------------------


def test_a_delayed_creation_is_in_progress_until_it_completes(customer: dict[str, str]) -> None:
    cfn = client("cloudformation", customer)
    # 3 s at SCALE: room for a stalled worker between ExecuteChangeSet and the reads below
    patches.delay_next_stack_creation(PREFIX, 300)

    created = create_via_change_set(cfn, "stackpilot-slow", queue_template(), wait=False)

    stack = cfn.describe_stacks(StackName=created["StackId"])["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_IN_PROGRESS"
    assert "Outputs" not in stack
    assert cfn.describe_stack_resources(StackName=created["StackId"])["StackResources"] == []
    done = wait_stack(cfn, created["StackId"])
    assert done["StackStatus"] == "CREATE_COMPLETE"
    assert done["Outputs"][0]["OutputKey"] == "QueueUrl"
    assert cfn.describe_change_set(ChangeSetName=created["Id"])["ExecutionStatus"] == "EXECUTE_COMPLETE"


def test_a_delayed_update_is_in_progress_then_completes(customer: dict[str, str]) -> None:
    cfn = client("cloudformation", customer)
    stack_id = create_via_change_set(cfn, "stackpilot-upd", queue_template())["StackId"]
    patches.delay_next_stack_update(PREFIX, 300)  # 3 s at SCALE (see above)

    update_via_change_set(cfn, stack_id, queue_template(timeout=90), wait=False)

    assert cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"] == "UPDATE_IN_PROGRESS"
    with pytest.raises(ClientError, match="UPDATE_IN_PROGRESS state and can not be updated"):
        cfn.update_stack(StackName=stack_id, TemplateBody=json.dumps(queue_template(timeout=5)))
    assert wait_stack(cfn, stack_id)["StackStatus"] == "UPDATE_COMPLETE"
    url = cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["Outputs"][0]["OutputValue"]
    attributes = client("sqs", customer).get_queue_attributes(
        QueueUrl=url, AttributeNames=["VisibilityTimeout"]
    )
    assert attributes["Attributes"]["VisibilityTimeout"] == "90"


def test_a_failed_update_rolls_back(customer: dict[str, str]) -> None:
    queue = tap(customer, STACK_EVENT_PATTERN)
    cfn = client("cloudformation", customer)
    stack_id = create_via_change_set(cfn, "stackpilot-api", queue_template())["StackId"]
    drain(customer, queue, 3)
    patches.fail_next_stack_update(PREFIX, "Queue", "Resource handler returned message: quota exceeded")
    changed = queue_template(
        timeout=120, Topic={"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "added"}}
    )
    changed["Resources"]["Queue"]["DependsOn"] = "Topic"  # created before the update fails

    change_set_id = update_via_change_set(cfn, stack_id, changed)

    events = drain(customer, queue, 4)
    assert statuses(events) == [
        "UPDATE_IN_PROGRESS",
        "UPDATE_ROLLBACK_IN_PROGRESS",
        "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS",
        "UPDATE_ROLLBACK_COMPLETE",
    ]
    assert events[1]["detail"]["status-details"]["status-reason"] == (
        "The following resource(s) failed to update: [Queue]. "
    )
    assert ("Queue", "UPDATE_FAILED", "Resource handler returned message: quota exceeded") in stack_events(
        cfn, stack_id, "Queue"
    )
    # The resource the failed update added is gone again; the stack keeps its previous template.
    assert [s for s, _ in [(e[1], e[2]) for e in stack_events(cfn, stack_id, "Topic")]] == [
        "CREATE_IN_PROGRESS",
        "CREATE_COMPLETE",
        "DELETE_IN_PROGRESS",
        "DELETE_COMPLETE",
    ]
    assert client("sns", customer).list_topics()["Topics"] == []
    stack = cfn.describe_stacks(StackName=stack_id)["Stacks"][0]
    assert stack["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE" and stack["Outputs"]
    assert "Topic" not in json.dumps(cfn.get_template(StackName=stack_id)["TemplateBody"])
    assert cfn.describe_change_set(ChangeSetName=change_set_id)["ExecutionStatus"] == "EXECUTE_FAILED"
    # ...and it can be updated again.
    update_via_change_set(cfn, stack_id, queue_template(timeout=45))
    assert cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"


def test_an_update_reverts_resources_it_changed_before_failing(customer: dict[str, str]) -> None:
    cfn = client("cloudformation", customer)
    template = queue_template(Other={"Type": "AWS::SQS::Queue", "DependsOn": "Queue"})
    stack_id = cfn.create_stack(StackName="stackpilot-revert", TemplateBody=json.dumps(template))["StackId"]
    patches.fail_next_stack_update(PREFIX, "Other", "injected")
    changed = queue_template(
        timeout=200,
        Other={"Type": "AWS::SQS::Queue", "DependsOn": "Queue", "Properties": {"DelaySeconds": 5}},
    )

    cfn.update_stack(StackName=stack_id, TemplateBody=json.dumps(changed))

    assert wait_stack(cfn, stack_id)["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    assert [s for _, s, _ in stack_events(cfn, stack_id, "Queue")][-4:] == [
        "UPDATE_IN_PROGRESS",
        "UPDATE_COMPLETE",
        "UPDATE_IN_PROGRESS",  # rollback: the previous properties again
        "UPDATE_COMPLETE",
    ]
    url = cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["Outputs"][0]["OutputValue"]
    attributes = client("sqs", customer).get_queue_attributes(
        QueueUrl=url, AttributeNames=["VisibilityTimeout"]
    )
    assert attributes["Attributes"]["VisibilityTimeout"] == "30"


def test_rollbacks_can_fail_too(customer: dict[str, str]) -> None:
    cfn = client("cloudformation", customer)
    patches.fail_next_stack_creation(PREFIX, "Other", "create refused")
    patches.fail_next_stack_rollback(PREFIX, "Queue", "delete refused")
    template = queue_template(Other={"Type": "AWS::SQS::Queue", "DependsOn": "Queue"})

    created = create_via_change_set(cfn, "stackpilot-stuck", template)

    stack = wait_stack(cfn, created["StackId"])
    assert stack["StackStatus"] == "ROLLBACK_FAILED"
    assert stack["StackStatusReason"] == "The following resource(s) failed to delete: [Queue]. "
    assert ("Queue", "DELETE_FAILED", "delete refused") in stack_events(cfn, created["StackId"], "Queue")

    updatable = cfn.create_stack(StackName="stackpilot-stuck-2", TemplateBody=json.dumps(queue_template()))[
        "StackId"
    ]
    patches.fail_next_stack_update(PREFIX, "Queue", "update refused")
    patches.fail_next_stack_rollback(PREFIX, "Queue", "rollback refused")
    cfn.update_stack(StackName=updatable, TemplateBody=json.dumps(queue_template(timeout=99)))
    stack = wait_stack(cfn, updatable)
    assert stack["StackStatus"] == "UPDATE_ROLLBACK_FAILED"
    assert stack["StackStatusReason"] == "The following resource(s) failed to update: [Queue]. "


def test_deletes_can_be_delayed_and_failed(customer: dict[str, str]) -> None:
    queue = tap(customer, STACK_EVENT_PATTERN)
    cfn = client("cloudformation", customer)
    stack_id = cfn.create_stack(StackName="stackpilot-gone", TemplateBody=json.dumps(queue_template()))[
        "StackId"
    ]
    patches.fail_next_stack_deletion(PREFIX, "Queue", "still in use")

    cfn.delete_stack(StackName=stack_id)
    failed = wait_stack(cfn, stack_id)
    patches.delay_next_stack_deletion(PREFIX, 50)
    cfn.delete_stack(StackName=stack_id)
    in_progress = cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"]

    assert failed["StackStatus"] == "DELETE_FAILED"
    assert failed["StackStatusReason"] == "The following resource(s) failed to delete: [Queue]. "
    assert in_progress == "DELETE_IN_PROGRESS"
    assert wait_stack(cfn, stack_id)["StackStatus"] == "DELETE_COMPLETE"
    assert statuses(drain(customer, queue, 6)) == [
        "CREATE_IN_PROGRESS",
        "CREATE_COMPLETE",
        "DELETE_IN_PROGRESS",
        "DELETE_FAILED",
        "DELETE_IN_PROGRESS",
        "DELETE_COMPLETE",
    ]


# --------------------------------------------------------------------------------------------------
# Change sets and templates as AWS checks them
# --------------------------------------------------------------------------------------------------


def test_change_sets_are_checked_like_aws(customer: dict[str, str]) -> None:
    cfn = client("cloudformation", customer)
    broken = {
        "Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": {"Ref": "Nope"}}}}
    }
    with pytest.raises(ClientError, match=r"Unresolved resource dependencies \[Nope\]"):
        create_via_change_set(cfn, "stackpilot-broken", broken)
    missing_ssm = {
        "Parameters": {
            "Ami": {"Type": "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>", "Default": "/no/such"}
        },
        **QUEUE,
    }
    with pytest.raises(ClientError, match=r"Unable to fetch parameters \[/no/such\]"):
        create_via_change_set(cfn, "stackpilot-ssm", missing_ssm)

    created = create_via_change_set(cfn, "stackpilot-cs", queue_template())
    with pytest.raises(ClientError, match="cannot be executed in its current execution status"):
        cfn.execute_change_set(ChangeSetName=created["Id"])
    same = cfn.create_change_set(
        StackName=created["StackId"],
        ChangeSetName="same",
        ChangeSetType="UPDATE",
        TemplateBody=json.dumps(queue_template()),
    )
    described = cfn.describe_change_set(ChangeSetName=same["Id"])
    assert (described["Status"], described["ExecutionStatus"]) == ("FAILED", "UNAVAILABLE")
    assert described["StatusReason"].startswith("The submitted information didn't contain changes")
    with pytest.raises(ClientError, match="does not exist"):
        cfn.execute_change_set(ChangeSetName="never-created", StackName=created["StackId"])


def test_dynamic_references_are_resolved(customer: dict[str, str]) -> None:
    client("ssm", customer).put_parameter(Name="/app/queue", Value="from-ssm", Type="String")
    client("secretsmanager", customer).create_secret(Name="app-db", SecretString='{"user": "admin"}')
    template = {
        "Resources": {
            "Queue": {
                "Type": "AWS::SQS::Queue",
                "Properties": {"QueueName": "{{resolve:ssm:/app/queue}}"},
            },
            "Topic": {
                "Type": "AWS::SNS::Topic",
                "Properties": {"TopicName": "t-{{resolve:secretsmanager:app-db:SecretString:user}}"},
            },
        }
    }
    cfn = client("cloudformation", customer)

    stack_id = cfn.create_stack(StackName="resolving", TemplateBody=json.dumps(template))["StackId"]

    physical = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in cfn.describe_stack_resources(StackName=stack_id)["StackResources"]
    }
    assert physical["Queue"].endswith("/from-ssm")
    assert physical["Topic"].endswith(":t-admin")
    wrong = {
        "Resources": {
            "Queue": {
                "Type": "AWS::SQS::Queue",
                "Properties": {"QueueName": "{{resolve:secretsmanager:nope}}"},
            }
        }
    }
    failed = cfn.create_stack(StackName="unresolvable", TemplateBody=json.dumps(wrong))["StackId"]
    assert wait_stack(cfn, failed)["StackStatus"] == "ROLLBACK_COMPLETE"
    assert "Secrets Manager can't find the specified secret" in str(stack_events(cfn, failed, "Queue")[-1][2])


# --------------------------------------------------------------------------------------------------
# An application stack with every resource type the stacks feature uses
# --------------------------------------------------------------------------------------------------

ECS_AMI = "/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id"
AL2023_AMI = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
BOUNDARY = "arn:aws:iam::111111111111:policy/stackpilot/stackpilot-boundary"


def _subnets(kind: str, first: int, public: bool) -> dict[str, Any]:
    resources: dict[str, Any] = {}
    for index, letter in enumerate("ABC"):
        resources[f"{kind}Subnet{letter}"] = {
            "Type": "AWS::EC2::Subnet",
            "Properties": {
                "VpcId": {"Ref": "Vpc"},
                "CidrBlock": f"10.0.{first + index * 16}.0/20",
                "AvailabilityZone": {"Fn::Select": [index, {"Fn::GetAZs": ""}]},
                "MapPublicIpOnLaunch": public,
            },
        }
        resources[f"{kind}Subnet{letter}Routes"] = {
            "Type": "AWS::EC2::SubnetRouteTableAssociation",
            "Properties": {
                "SubnetId": {"Ref": f"{kind}Subnet{letter}"},
                "RouteTableId": {"Ref": f"{kind}Routes"},
            },
        }
    return resources


def _role(service: str) -> dict[str, Any]:
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "Path": "/stackpilot/",
            "PermissionsBoundary": BOUNDARY,
            "AssumeRolePolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
                ],
            },
            "Policies": [
                {
                    "PolicyName": "runtime",
                    "PolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [{"Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": "*"}],
                    },
                }
            ],
        },
    }


def _network() -> dict[str, Any]:
    return {
        "Vpc": {
            "Type": "AWS::EC2::VPC",
            "Properties": {"CidrBlock": "10.0.0.0/16", "EnableDnsHostnames": True, "EnableDnsSupport": True},
        },
        "Gateway": {"Type": "AWS::EC2::InternetGateway"},
        "GatewayAttachment": {
            "Type": "AWS::EC2::VPCGatewayAttachment",
            "Properties": {"VpcId": {"Ref": "Vpc"}, "InternetGatewayId": {"Ref": "Gateway"}},
        },
        "PublicRoutes": {"Type": "AWS::EC2::RouteTable", "Properties": {"VpcId": {"Ref": "Vpc"}}},
        "PublicDefault": {
            "Type": "AWS::EC2::Route",
            "DependsOn": "GatewayAttachment",
            "Properties": {
                "RouteTableId": {"Ref": "PublicRoutes"},
                "DestinationCidrBlock": "0.0.0.0/0",
                "GatewayId": {"Ref": "Gateway"},
            },
        },
        "PrivateRoutes": {"Type": "AWS::EC2::RouteTable", "Properties": {"VpcId": {"Ref": "Vpc"}}},
        "PrivateDefault": {
            "Type": "AWS::EC2::Route",
            "Properties": {
                "RouteTableId": {"Ref": "PrivateRoutes"},
                "DestinationCidrBlock": "0.0.0.0/0",
                "InstanceId": {"Ref": "NatInstance"},
            },
        },
        "PeeringRoute": {
            "Type": "AWS::EC2::Route",
            "Properties": {
                "RouteTableId": {"Ref": "PrivateRoutes"},
                "DestinationCidrBlock": "192.168.0.0/16",
                "NetworkInterfaceId": {"Fn::GetAtt": ["NatInstance", "PrimaryNetworkInterfaceId"]},
            },
        },
        **_subnets("Public", 0, True),
        **_subnets("Private", 128, False),
        "LoadBalancerGroup": {
            "Type": "AWS::EC2::SecurityGroup",
            "Properties": {
                "GroupDescription": "load balancer",
                "VpcId": {"Ref": "Vpc"},
                "SecurityGroupIngress": [
                    {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "CidrIp": "10.0.0.0/16"}
                ],
                "SecurityGroupEgress": [
                    {"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080, "CidrIp": "10.0.0.0/16"}
                ],
            },
        },
        "AppGroup": {
            "Type": "AWS::EC2::SecurityGroup",
            "Properties": {"GroupDescription": "app", "VpcId": {"Ref": "Vpc"}},
        },
        "AppFromLoadBalancer": {
            "Type": "AWS::EC2::SecurityGroupIngress",
            "Properties": {
                "GroupId": {"Fn::GetAtt": ["AppGroup", "GroupId"]},
                "IpProtocol": "tcp",
                "FromPort": 8080,
                "ToPort": 8080,
                "SourceSecurityGroupId": {"Fn::GetAtt": ["LoadBalancerGroup", "GroupId"]},
            },
        },
        "DatabaseGroup": {
            "Type": "AWS::EC2::SecurityGroup",
            "Properties": {"GroupDescription": "database", "VpcId": {"Ref": "Vpc"}},
        },
        "DatabaseFromApp": {
            "Type": "AWS::EC2::SecurityGroupIngress",
            "Properties": {
                "GroupId": {"Ref": "DatabaseGroup"},
                "IpProtocol": "tcp",
                "FromPort": 5432,
                "ToPort": 5432,
                "SourceSecurityGroupId": {"Ref": "AppGroup"},
            },
        },
        "NatInstance": {
            "Type": "AWS::EC2::Instance",
            "Properties": {
                "ImageId": {"Ref": "NatAmi"},
                "InstanceType": "t3.nano",
                "SubnetId": {"Ref": "PublicSubnetA"},
                "SourceDestCheck": False,
                "SecurityGroupIds": [{"Ref": "AppGroup"}],
            },
        },
    }


def _compute(desired_count: int, image_tag: str, retention: int) -> dict[str, Any]:
    private = [{"Ref": f"PrivateSubnet{x}"} for x in "ABC"]
    return {
        "InstanceRole": _role("ec2.amazonaws.com"),
        "InstanceProfile": {
            "Type": "AWS::IAM::InstanceProfile",
            "Properties": {"Path": "/stackpilot/", "Roles": [{"Ref": "InstanceRole"}]},
        },
        "InstancePolicy": {
            "Type": "AWS::IAM::Policy",
            "Properties": {
                "PolicyName": "ecs-agent",
                "Roles": [{"Ref": "InstanceRole"}],
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "ecs:Poll", "Resource": "*"}],
                },
            },
        },
        "LaunchTemplate": {
            "Type": "AWS::EC2::LaunchTemplate",
            "Properties": {
                "LaunchTemplateData": {
                    "ImageId": {"Ref": "EcsAmi"},
                    "InstanceType": "t3.small",
                    "IamInstanceProfile": {"Arn": {"Fn::GetAtt": ["InstanceProfile", "Arn"]}},
                    "SecurityGroupIds": [{"Ref": "AppGroup"}],
                    "BlockDeviceMappings": [
                        {"DeviceName": "/dev/xvda", "Ebs": {"VolumeType": "gp3", "Encrypted": True}}
                    ],
                    "UserData": {
                        "Fn::Base64": {
                            "Fn::Sub": "#!/bin/bash\necho ECS_CLUSTER=${Cluster} >> /etc/ecs/ecs.config"
                        }
                    },
                }
            },
        },
        "BastionTemplate": {
            "Type": "AWS::EC2::LaunchTemplate",
            "Properties": {
                "LaunchTemplateData": {
                    "ImageId": {"Ref": "NatAmi"},
                    "InstanceType": "t3.micro",
                    "BlockDeviceMappings": [{"DeviceName": "/dev/xvda", "Ebs": {"VolumeType": "gp3"}}],
                    "TagSpecifications": [
                        {"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "bastion"}]}
                    ],
                }
            },
        },
        "Bastion": {
            "Type": "AWS::EC2::Instance",
            "Properties": {
                "LaunchTemplate": {
                    "LaunchTemplateId": {"Ref": "BastionTemplate"},
                    "Version": {"Fn::GetAtt": ["BastionTemplate", "LatestVersionNumber"]},
                },
                "SubnetId": {"Ref": "PrivateSubnetA"},
                "SecurityGroupIds": [{"Fn::GetAtt": ["AppGroup", "GroupId"]}],
            },
        },
        "Instances": {
            "Type": "AWS::AutoScaling::AutoScalingGroup",
            "Properties": {
                "MinSize": "0",
                "MaxSize": "3",
                "DesiredCapacity": "1",
                "LaunchTemplate": {
                    "LaunchTemplateId": {"Ref": "LaunchTemplate"},
                    "Version": {"Fn::GetAtt": ["LaunchTemplate", "LatestVersionNumber"]},
                },
                "VPCZoneIdentifier": private,
                "NewInstancesProtectedFromScaleIn": True,
            },
        },
        "Cluster": {
            "Type": "AWS::ECS::Cluster",
            "Properties": {
                "ClusterName": {"Ref": "AWS::StackName"},
                "ClusterSettings": [{"Name": "containerInsights", "Value": "enabled"}],
            },
        },
        "CapacityProvider": {
            "Type": "AWS::ECS::CapacityProvider",
            "Properties": {
                "AutoScalingGroupProvider": {
                    "AutoScalingGroupArn": {"Ref": "Instances"},
                    "ManagedScaling": {"Status": "ENABLED", "TargetCapacity": 100},
                    "ManagedTerminationProtection": "ENABLED",
                }
            },
        },
        "ClusterCapacityProviders": {
            "Type": "AWS::ECS::ClusterCapacityProviderAssociations",
            "Properties": {
                "Cluster": {"Ref": "Cluster"},
                "CapacityProviders": [{"Ref": "CapacityProvider"}],
                "DefaultCapacityProviderStrategy": [
                    {"CapacityProvider": {"Ref": "CapacityProvider"}, "Weight": 1}
                ],
            },
        },
        "ExecutionRole": _role("ecs-tasks.amazonaws.com"),
        "TaskRole": _role("ecs-tasks.amazonaws.com"),
        "TaskDefinition": {
            "Type": "AWS::ECS::TaskDefinition",
            "Properties": {
                "Family": {"Fn::Sub": "${AWS::StackName}-app"},
                "NetworkMode": "awsvpc",
                "RequiresCompatibilities": ["EC2"],
                "Cpu": "256",
                "Memory": "512",
                "ExecutionRoleArn": {"Fn::GetAtt": ["ExecutionRole", "Arn"]},
                "TaskRoleArn": {"Fn::GetAtt": ["TaskRole", "Arn"]},
                "ContainerDefinitions": [
                    {
                        "Name": "app",
                        "Image": f"public.ecr.aws/nginx/nginx:{image_tag}",
                        "PortMappings": [{"ContainerPort": 8080}],
                        "Environment": [
                            {"Name": "DB_HOST", "Value": {"Fn::GetAtt": ["Database", "Endpoint.Address"]}}
                        ],
                        "Secrets": [
                            {"Name": "DB_PASSWORD", "ValueFrom": {"Fn::Sub": "${DatabaseSecret}:password::"}}
                        ],
                        "LogConfiguration": {
                            "LogDriver": "awslogs",
                            "Options": {
                                "awslogs-group": {"Ref": "Logs"},
                                "awslogs-region": {"Ref": "AWS::Region"},
                            },
                        },
                    }
                ],
            },
        },
        "Service": {
            "Type": "AWS::ECS::Service",
            "DependsOn": ["Listener", "ClusterCapacityProviders"],
            "Properties": {
                "Cluster": {"Ref": "Cluster"},
                "TaskDefinition": {"Ref": "TaskDefinition"},
                "DesiredCount": desired_count,
                "CapacityProviderStrategy": [{"CapacityProvider": {"Ref": "CapacityProvider"}, "Weight": 1}],
                "NetworkConfiguration": {
                    "AwsvpcConfiguration": {"Subnets": private, "SecurityGroups": [{"Ref": "AppGroup"}]}
                },
                "LoadBalancers": [
                    {"ContainerName": "app", "ContainerPort": 8080, "TargetGroupArn": {"Ref": "TargetGroup"}}
                ],
                "ServiceRegistries": [{"RegistryArn": {"Fn::GetAtt": ["Discovery", "Arn"]}}],
                "DeploymentConfiguration": {
                    "DeploymentCircuitBreaker": {"Enable": True, "Rollback": True},
                    "MaximumPercent": 200,
                    "MinimumHealthyPercent": 100,
                },
            },
        },
        "Logs": {
            "Type": "AWS::Logs::LogGroup",
            "Properties": {
                "LogGroupName": {"Fn::Sub": "/stackpilot/${AWS::StackName}"},
                "RetentionInDays": retention,
                "KmsKeyId": {"Fn::GetAtt": ["Key", "Arn"]},
            },
        },
        "ScalableTarget": {
            "Type": "AWS::ApplicationAutoScaling::ScalableTarget",
            "Properties": {
                "MinCapacity": 1,
                "MaxCapacity": 4,
                "ResourceId": {"Fn::Sub": "service/${Cluster}/${Service.Name}"},
                "ScalableDimension": "ecs:service:DesiredCount",
                "ServiceNamespace": "ecs",
            },
        },
        "ScalingPolicy": {
            "Type": "AWS::ApplicationAutoScaling::ScalingPolicy",
            "Properties": {
                "PolicyName": "cpu",
                "PolicyType": "TargetTrackingScaling",
                "ScalingTargetId": {"Ref": "ScalableTarget"},
                "TargetTrackingScalingPolicyConfiguration": {
                    "PredefinedMetricSpecification": {
                        "PredefinedMetricType": "ECSServiceAverageCPUUtilization"
                    },
                    "TargetValue": 60,
                },
            },
        },
    }


def _edge_and_data() -> dict[str, Any]:
    private = [{"Ref": f"PrivateSubnet{x}"} for x in "ABC"]
    return {
        "LoadBalancer": {
            "Type": "AWS::ElasticLoadBalancingV2::LoadBalancer",
            "Properties": {
                "Scheme": "internal",
                "Subnets": private,
                "SecurityGroups": [{"Ref": "LoadBalancerGroup"}],
            },
        },
        "TargetGroup": {
            "Type": "AWS::ElasticLoadBalancingV2::TargetGroup",
            "Properties": {"Port": 8080, "Protocol": "HTTP", "TargetType": "ip", "VpcId": {"Ref": "Vpc"}},
        },
        "Listener": {
            "Type": "AWS::ElasticLoadBalancingV2::Listener",
            "Properties": {
                "LoadBalancerArn": {"Ref": "LoadBalancer"},
                "Port": 80,
                "Protocol": "HTTP",
                "DefaultActions": [{"Type": "forward", "TargetGroupArn": {"Ref": "TargetGroup"}}],
            },
        },
        "Api": {
            "Type": "AWS::ApiGatewayV2::Api",
            "Properties": {"Name": {"Fn::Sub": "${AWS::StackName}-api"}, "ProtocolType": "HTTP"},
        },
        "VpcLink": {
            "Type": "AWS::ApiGatewayV2::VpcLink",
            "Properties": {
                "Name": "link",
                "SubnetIds": private,
                "SecurityGroupIds": [{"Ref": "LoadBalancerGroup"}],
            },
        },
        "Integration": {
            "Type": "AWS::ApiGatewayV2::Integration",
            "Properties": {
                "ApiId": {"Ref": "Api"},
                "IntegrationType": "HTTP_PROXY",
                "IntegrationMethod": "ANY",
                "ConnectionType": "VPC_LINK",
                "ConnectionId": {"Ref": "VpcLink"},
                "IntegrationUri": {"Ref": "Listener"},
                "PayloadFormatVersion": "1.0",
            },
        },
        "ProxyRoute": {
            "Type": "AWS::ApiGatewayV2::Route",
            "Properties": {
                "ApiId": {"Ref": "Api"},
                "RouteKey": "ANY /{proxy+}",
                "Target": {"Fn::Sub": "integrations/${Integration}"},
            },
        },
        "Stage": {
            "Type": "AWS::ApiGatewayV2::Stage",
            "Properties": {"ApiId": {"Ref": "Api"}, "StageName": "$default", "AutoDeploy": True},
        },
        "Namespace": {
            "Type": "AWS::ServiceDiscovery::PrivateDnsNamespace",
            "Properties": {"Name": "app.internal", "Vpc": {"Ref": "Vpc"}},
        },
        "Discovery": {
            "Type": "AWS::ServiceDiscovery::Service",
            "Properties": {
                "Name": "app",
                "NamespaceId": {"Fn::GetAtt": ["Namespace", "Id"]},
                "DnsConfig": {"DnsRecords": [{"Type": "A", "TTL": 10}]},
            },
        },
        "Key": {"Type": "AWS::KMS::Key", "Properties": {"EnableKeyRotation": True}},
        "KeyAlias": {
            "Type": "AWS::KMS::Alias",
            "Properties": {
                "AliasName": {"Fn::Sub": "alias/${AWS::StackName}"},
                "TargetKeyId": {"Ref": "Key"},
            },
        },
        "DatabaseSecret": {
            "Type": "AWS::SecretsManager::Secret",
            "Properties": {
                "Name": {"Fn::Sub": "${AWS::StackName}-db"},
                "KmsKeyId": {"Ref": "Key"},
                "GenerateSecretString": {
                    "SecretStringTemplate": '{"username": "app"}',
                    "GenerateStringKey": "password",
                    "PasswordLength": 32,
                    "ExcludeCharacters": '"@/\\',
                },
            },
        },
        "DatabaseSubnets": {
            "Type": "AWS::RDS::DBSubnetGroup",
            "Properties": {"DBSubnetGroupDescription": "database", "SubnetIds": private},
        },
        "Database": {
            "Type": "AWS::RDS::DBInstance",
            "Properties": {
                "Engine": "postgres",
                "EngineVersion": "16.3",
                "DBInstanceClass": "db.t4g.micro",
                "AllocatedStorage": "20",
                "DBName": "app",
                "MasterUsername": {
                    "Fn::Sub": "{{resolve:secretsmanager:${DatabaseSecret}:SecretString:username}}"
                },
                "MasterUserPassword": {
                    "Fn::Sub": "{{resolve:secretsmanager:${DatabaseSecret}:SecretString:password}}"
                },
                "DBSubnetGroupName": {"Ref": "DatabaseSubnets"},
                "VPCSecurityGroups": [{"Ref": "DatabaseGroup"}],
                "StorageEncrypted": True,
                "KmsKeyId": {"Ref": "Key"},
            },
        },
        "SecretAttachment": {
            "Type": "AWS::SecretsManager::SecretTargetAttachment",
            "Properties": {
                "SecretId": {"Ref": "DatabaseSecret"},
                "TargetId": {"Ref": "Database"},
                "TargetType": "AWS::RDS::DBInstance",
            },
        },
        "Bucket": {
            "Type": "AWS::S3::Bucket",
            "Properties": {
                "VersioningConfiguration": {"Status": "Enabled"},
                "BucketEncryption": {
                    "ServerSideEncryptionConfiguration": [
                        {
                            "ServerSideEncryptionByDefault": {
                                "SSEAlgorithm": "aws:kms",
                                "KMSMasterKeyID": {"Ref": "Key"},
                            }
                        }
                    ]
                },
            },
        },
        "BucketPolicy": {
            "Type": "AWS::S3::BucketPolicy",
            "Properties": {
                "Bucket": {"Ref": "Bucket"},
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Deny",
                            "Principal": "*",
                            "Action": "s3:*",
                            "Resource": [{"Fn::GetAtt": ["Bucket", "Arn"]}, {"Fn::Sub": "${Bucket.Arn}/*"}],
                            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                        }
                    ],
                },
            },
        },
    }


def application_template(
    *, desired_count: int = 1, image_tag: str = "1.27", retention: int = 30
) -> dict[str, Any]:
    """Every resource type the stacks feature deploys, wired the way an application stack is."""
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Parameters": {
            "EcsAmi": {"Type": "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>", "Default": ECS_AMI},
            "NatAmi": {"Type": "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>", "Default": AL2023_AMI},
        },
        "Resources": {**_network(), **_compute(desired_count, image_tag, retention), **_edge_and_data()},
        "Outputs": {
            "ApiEndpoint": {"Value": {"Fn::GetAtt": ["Api", "ApiEndpoint"]}},
            "LoadBalancerDns": {"Value": {"Fn::GetAtt": ["LoadBalancer", "DNSName"]}},
            "DatabaseAddress": {"Value": {"Fn::GetAtt": ["Database", "Endpoint.Address"]}},
            "ClusterName": {"Value": {"Ref": "Cluster"}},
            "ServiceName": {"Value": {"Fn::GetAtt": ["Service", "Name"]}},
            "SecretArn": {"Value": {"Ref": "DatabaseSecret"}},
        },
    }


def physical_ids(cfn: Any, stack_id: str) -> dict[str, str]:
    return {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in cfn.describe_stack_resources(StackName=stack_id)["StackResources"]
    }


def assert_created(creds: dict[str, str], ids: dict[str, str], outputs: dict[str, str]) -> None:
    ec2 = client("ec2", creds)
    vpc = ids["Vpc"]
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]
    assert sorted({s["AvailabilityZone"] for s in subnets}) == ["us-east-1a", "us-east-1b", "us-east-1c"]
    assert sorted(s["MapPublicIpOnLaunch"] for s in subnets) == [False] * 3 + [True] * 3
    groups = {
        g["GroupId"]: g
        for g in ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["SecurityGroups"]
    }
    app_ingress = groups[ids["AppGroup"]]["IpPermissions"]
    assert [(p["FromPort"], p["UserIdGroupPairs"][0]["GroupId"]) for p in app_ingress] == [
        (8080, ids["LoadBalancerGroup"])
    ]
    assert [p.get("FromPort") for p in groups[ids["LoadBalancerGroup"]]["IpPermissionsEgress"]] == [8080]
    routes = ec2.describe_route_tables(RouteTableIds=[ids["PrivateRoutes"]])["RouteTables"][0]
    assert len(routes["Associations"]) == 3
    assert {r.get("InstanceId") or r.get("NetworkInterfaceId") for r in routes["Routes"][1:]} == {
        ids["NatInstance"],
        ec2.describe_instances(InstanceIds=[ids["NatInstance"]])["Reservations"][0]["Instances"][0][
            "NetworkInterfaces"
        ][0]["NetworkInterfaceId"],
    }
    bastion = ec2.describe_instances(InstanceIds=[ids["Bastion"]])["Reservations"][0]["Instances"][0]
    assert bastion["ImageId"] == client("ssm", creds).get_parameter(Name=AL2023_AMI)["Parameter"]["Value"]
    assert [g["GroupId"] for g in bastion["SecurityGroups"]] == [ids["AppGroup"]]
    assert {"Key": "Name", "Value": "bastion"} in bastion["Tags"]
    assert bastion["BlockDeviceMappings"][0]["DeviceName"] == "/dev/xvda"
    role = client("iam", creds).get_role(RoleName=ids["TaskRole"])["Role"]
    assert (role["Path"], role["PermissionsBoundary"]["PermissionsBoundaryArn"]) == ("/stackpilot/", BOUNDARY)
    ecs = client("ecs", creds)
    assert ecs.list_clusters()["clusterArns"] == [f"arn:aws:ecs:{REGION}:{CUSTOMER}:cluster/stackpilot-shop"]
    service = ecs.describe_services(cluster="stackpilot-shop", services=[ids["Service"]])["services"][0]
    assert service["deploymentConfiguration"]["deploymentCircuitBreaker"] == {
        "enable": True,
        "rollback": True,
    }
    assert service["loadBalancers"][0]["targetGroupArn"] == ids["TargetGroup"]
    assert service["networkConfiguration"]["awsvpcConfiguration"]["securityGroups"] == [ids["AppGroup"]]
    task = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])["taskDefinition"]
    assert task["networkMode"] == "awsvpc"
    assert task["containerDefinitions"][0]["secrets"][0]["valueFrom"] == f"{ids['DatabaseSecret']}:password::"
    balancers = client("elbv2", creds).describe_load_balancers()["LoadBalancers"]
    assert [(b["Scheme"], len(b["AvailabilityZones"])) for b in balancers] == [("internal", 3)]
    database = client("rds", creds).describe_db_instances()["DBInstances"][0]
    assert database["DBSubnetGroup"]["DBSubnetGroupName"] == ids["DatabaseSubnets"]
    assert database["VpcSecurityGroups"][0]["VpcSecurityGroupId"] == ids["DatabaseGroup"]
    assert (database["MasterUsername"], database["Endpoint"]["Port"]) == ("app", 5432)
    secret = json.loads(
        client("secretsmanager", creds).get_secret_value(SecretId=ids["DatabaseSecret"])["SecretString"]
    )
    assert secret["username"] == "app" and len(secret["password"]) == 32
    assert (secret["host"], secret["port"], secret["engine"]) == (
        outputs["DatabaseAddress"],
        5432,
        "postgres",
    )
    s3 = client("s3", creds)
    assert s3.get_bucket_versioning(Bucket=ids["Bucket"])["Status"] == "Enabled"
    assert "aws:SecureTransport" in s3.get_bucket_policy(Bucket=ids["Bucket"])["Policy"]
    assert outputs["ApiEndpoint"] == f"https://{ids['Api']}.execute-api.{REGION}.amazonaws.com"
    assert (
        ids["ScalableTarget"]
        == f"service/stackpilot-shop/{outputs['ServiceName']}|ecs:service:DesiredCount|ecs"
    )


def assert_deleted(creds: dict[str, str]) -> None:
    ec2 = client("ec2", creds)
    assert [v["IsDefault"] for v in ec2.describe_vpcs()["Vpcs"]] == [True]
    instances = [i for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]]
    assert {i["State"]["Name"] for i in instances} == {"terminated"}
    assert client("ecs", creds).list_clusters()["clusterArns"] == []
    elbv2 = client("elbv2", creds)
    assert (
        elbv2.describe_load_balancers()["LoadBalancers"]
        == elbv2.describe_target_groups()["TargetGroups"]
        == []
    )
    rds = client("rds", creds)
    assert (
        rds.describe_db_instances()["DBInstances"] == rds.describe_db_subnet_groups()["DBSubnetGroups"] == []
    )
    assert client("secretsmanager", creds).list_secrets()["SecretList"] == []
    assert client("s3", creds).list_buckets()["Buckets"] == []
    assert [r["RoleName"] for r in client("iam", creds).list_roles(PathPrefix="/stackpilot/")["Roles"]] == []


def test_application_stack_with_every_resource_type(customer: dict[str, str]) -> None:
    queue = tap(customer, STACK_EVENT_PATTERN)
    cfn = client("cloudformation", customer)

    created = create_via_change_set(cfn, "stackpilot-shop", application_template())

    stack = wait_stack(cfn, created["StackId"], timeout=60)
    failures = [e for e in stack_events(cfn, created["StackId"]) if "FAILED" in e[1]]
    assert stack["StackStatus"] == "CREATE_COMPLETE", failures
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    ids = physical_ids(cfn, created["StackId"])
    assert len(ids) == len(application_template()["Resources"])
    assert_created(customer, ids, outputs)

    update_via_change_set(
        cfn, created["StackId"], application_template(desired_count=2, image_tag="1.28", retention=60)
    )

    updated = wait_stack(cfn, created["StackId"], timeout=60)
    assert updated["StackStatus"] == "UPDATE_COMPLETE", [
        e for e in stack_events(cfn, created["StackId"]) if "FAILED" in e[1]
    ]
    after = physical_ids(cfn, created["StackId"])
    assert after["TaskDefinition"].endswith(":2") and ids["TaskDefinition"].endswith(":1")
    ecs = client("ecs", customer)
    service = ecs.describe_services(cluster="stackpilot-shop", services=[after["Service"]])["services"][0]
    assert (service["desiredCount"], service["taskDefinition"]) == (2, after["TaskDefinition"])
    image = ecs.describe_task_definition(taskDefinition=after["TaskDefinition"])["taskDefinition"][
        "containerDefinitions"
    ][0]["image"]
    assert image.endswith(":1.28")
    groups = client("logs", customer).describe_log_groups(logGroupNamePrefix="/stackpilot/")["logGroups"]
    assert [g["retentionInDays"] for g in groups] == [60]
    assert ("TaskDefinition", "DELETE_COMPLETE", None) in stack_events(
        cfn, created["StackId"], "TaskDefinition"
    )

    cfn.delete_stack(StackName=created["StackId"])

    assert wait_stack(cfn, created["StackId"], timeout=60)["StackStatus"] == "DELETE_COMPLETE"
    assert_deleted(customer)
    assert statuses(drain(customer, queue, 8)) == [
        "REVIEW_IN_PROGRESS",
        "CREATE_IN_PROGRESS",
        "CREATE_COMPLETE",
        "UPDATE_IN_PROGRESS",
        "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
        "UPDATE_COMPLETE",
        "DELETE_IN_PROGRESS",
        "DELETE_COMPLETE",
    ]


def test_public_ssm_parameters_resolve_in_a_customer_account(customer: dict[str, str]) -> None:
    template = {
        "Parameters": {
            "EcsAmi": {"Type": "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>", "Default": ECS_AMI},
            "NatAmi": {"Type": "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>", "Default": AL2023_AMI},
        },
        **QUEUE,
    }
    cfn = client("cloudformation", customer)
    stack_id = cfn.create_stack(StackName="amis", TemplateBody=json.dumps(template))["StackId"]
    parameters = {
        p["ParameterKey"]: p["ParameterValue"]
        for p in cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["Parameters"]
    }
    assert parameters["EcsAmi"].startswith("ami-") and parameters["NatAmi"].startswith("ami-")
    assert parameters["EcsAmi"] != parameters["NatAmi"]


def test_deletion_protection_refuses_and_a_snapshot_policy_keeps_a_snapshot(customer: dict[str, str]) -> None:
    def template(protected: bool) -> dict[str, Any]:
        database = {
            "Type": "AWS::RDS::DBInstance",
            "DeletionPolicy": "Snapshot",
            "Properties": {
                "Engine": "postgres",
                "DBInstanceClass": "db.t4g.micro",
                "AllocatedStorage": "20",
                "MasterUsername": "app",
                "MasterUserPassword": "correct-horse-battery",
                "DeletionProtection": protected,
            },
        }
        return {"Resources": {"Database": database}}

    cfn = client("cloudformation", customer)
    rds = client("rds", customer)
    stack_id = create_via_change_set(cfn, "stackpilot-db", template(True))["StackId"]
    database_id = physical_ids(cfn, stack_id)["Database"]
    kept = create_via_change_set(cfn, "stackpilot-kept", template(True))["StackId"]
    kept_id = physical_ids(cfn, kept)["Database"]

    cfn.delete_stack(StackName=stack_id)
    refused = wait_stack(cfn, stack_id)
    with pytest.raises(ClientError, match="DELETE_FAILED state and can not be updated"):
        update_via_change_set(cfn, stack_id, template(False))
    rds.modify_db_instance(DBInstanceIdentifier=database_id, DeletionProtection=False, ApplyImmediately=True)
    cfn.delete_stack(StackName=stack_id)
    cfn.delete_stack(StackName=kept)
    wait_stack(cfn, kept)
    cfn.delete_stack(StackName=kept, RetainResources=["Database"])

    assert refused["StackStatus"] == "DELETE_FAILED"
    assert refused["StackStatusReason"] == "The following resource(s) failed to delete: [Database]. "
    _, _, reason = next(e for e in stack_events(cfn, stack_id, "Database") if e[1] == "DELETE_FAILED")
    assert "deletion protection" in str(reason).lower()
    assert wait_stack(cfn, stack_id)["StackStatus"] == "DELETE_COMPLETE"
    assert wait_stack(cfn, kept)["StackStatus"] == "DELETE_COMPLETE"
    assert stack_events(cfn, kept, "Database")[-1][1] == "DELETE_SKIPPED"
    assert [d["DBInstanceIdentifier"] for d in rds.describe_db_instances()["DBInstances"]] == [kept_id]
    snapshots = rds.describe_db_snapshots(SnapshotType="manual")["DBSnapshots"]
    assert [s["DBInstanceIdentifier"] for s in snapshots] == [database_id]


def test_every_operation_can_run_in_the_background(
    customer: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    queue = tap(customer, STACK_EVENT_PATTERN)
    cfn = client("cloudformation", customer)
    threads: list[str] = []
    create = patches._create_stack

    def recording(stack: Any) -> None:
        threads.append(threading.current_thread().name)
        create(stack)

    monkeypatch.setattr(patches, "_create_stack", recording)
    patches.set_stack_operations_in_background(True)
    try:
        stack_id = cfn.create_stack(StackName="later", TemplateBody=json.dumps(queue_template()))["StackId"]
        assert wait_stack(cfn, stack_id)["StackStatus"] == "CREATE_COMPLETE"
        cfn.delete_stack(StackName=stack_id)
        assert wait_stack(cfn, stack_id)["StackStatus"] == "DELETE_COMPLETE"
    finally:
        patches.set_stack_operations_in_background(False)
    assert statuses(drain(customer, queue, 4)) == [
        "CREATE_IN_PROGRESS",
        "CREATE_COMPLETE",
        "DELETE_IN_PROGRESS",
        "DELETE_COMPLETE",
    ]
    cfn.create_stack(StackName="inline", TemplateBody=json.dumps(queue_template()))
    assert threads == ["stackpilot-cfn-create", threading.current_thread().name]


# --------------------------------------------------------------------------------------------------
# Server mode: the same events through ThreadedMotoServer (request threads, stack threads)
# --------------------------------------------------------------------------------------------------


def as_account(service: str, endpoint: str, account_id: str) -> Any:
    made = client(service, endpoint_url=endpoint)
    made.meta.events.register(
        "before-sign.*.*", lambda request, **_: request.headers.__setitem__("x-moto-account-id", account_id)
    )
    return made


def server_tap(endpoint: str, account_id: str, pattern: dict[str, Any], bus: str = "default") -> str:
    sqs, events = as_account("sqs", endpoint, account_id), as_account("events", endpoint, account_id)
    url = sqs.create_queue(QueueName=f"tap-{bus}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name=f"tap-{bus}", EventBusName=bus, EventPattern=json.dumps(pattern))
    events.put_targets(Rule=f"tap-{bus}", EventBusName=bus, Targets=[{"Id": "q", "Arn": arn}])
    return str(url)


def test_server_mode_status_events_are_delivered_and_forwarded(moto_server: str) -> None:
    service_events = as_account("events", moto_server, SERVICE)
    bus_arn = service_events.create_event_bus(Name="stackpilot-local")["EventBusArn"]
    forwarded_url = server_tap(
        moto_server, SERVICE, {"source": ["aws.cloudformation"]}, bus="stackpilot-local"
    )
    local_url = server_tap(moto_server, CUSTOMER, STACK_EVENT_PATTERN)
    customer_events = as_account("events", moto_server, CUSTOMER)
    customer_events.put_rule(
        Name="forward",
        EventPattern=json.dumps(
            {
                **STACK_EVENT_PATTERN,
                "detail": {
                    "stack-id": [{"prefix": f"arn:aws:cloudformation:{REGION}:{CUSTOMER}:stack/{PREFIX}"}]
                },
            }
        ),
    )
    customer_events.put_targets(
        Rule="forward",
        Targets=[{"Id": "bus", "Arn": bus_arn, "RoleArn": f"arn:aws:iam::{CUSTOMER}:role/forwarding"}],
    )
    cfn = as_account("cloudformation", moto_server, CUSTOMER)

    change_set = cfn.create_change_set(
        StackName="stackpilot-served",
        ChangeSetName="c1",
        ChangeSetType="CREATE",
        TemplateBody=json.dumps(QUEUE),
    )
    cfn.execute_change_set(ChangeSetName=change_set["Id"])
    assert wait_stack(cfn, change_set["StackId"])["StackStatus"] == "CREATE_COMPLETE"
    cfn.delete_stack(StackName=change_set["StackId"])

    sqs_service, sqs_customer = (
        as_account("sqs", moto_server, SERVICE),
        as_account("sqs", moto_server, CUSTOMER),
    )
    expected = [
        "REVIEW_IN_PROGRESS",
        "CREATE_IN_PROGRESS",
        "CREATE_COMPLETE",
        "DELETE_IN_PROGRESS",
        "DELETE_COMPLETE",
    ]
    assert statuses(drain_with(sqs_customer, local_url, 5)) == expected
    forwarded = drain_with(sqs_service, forwarded_url, 5)
    assert statuses(forwarded) == expected
    assert {e["account"] for e in forwarded} == {CUSTOMER}


def drain_with(sqs: Any, url: str, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
    received: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while len(received) < count and time.monotonic() < deadline:
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            received.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        time.sleep(0.05)
    assert len(received) >= count, received
    return received
