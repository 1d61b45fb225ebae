"""Plain helpers the local-cloud smoke tests share (fixtures are in conftest.py).

Accounts: the service account (SERVICE) runs the control plane; CUSTOMER and OTHER are customer
accounts in the same emulator, reached only through AssumeRole (bootstrap_account).
"""

from __future__ import annotations

import io
import json
import socket
import time
import uuid
import zipfile
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.iam.models import iam_backends

from infra.local.patches import put_service_event, stack_status_event

REGION = "us-east-1"
SERVICE = "123456789012"
CUSTOMER = "111111111111"
OTHER = "222222222222"
HANDLERS = "tests.fixtures.patch_handlers"
SCALE = 0.01
PREFIX = "stackpilot-"
STACK_EVENT_PATTERN = {
    "source": ["aws.cloudformation"],
    "detail-type": ["CloudFormation Stack Status Change"],
}
QUEUE = {"Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {"VisibilityTimeout": 30}}}}
IN_PROGRESS = ("_IN_PROGRESS",)
SENTINEL_STATUS = "SENTINEL"
EXTERNAL_ID = "stackpilot-ext-0001"
ECS_AMI = "/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id"
AL2023_AMI = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"

# --------------------------------------------------------------------------------------------------
# Clients, waiting, accounts
# --------------------------------------------------------------------------------------------------


def client(service: str, creds: dict[str, str] | None = None, **kwargs: Any) -> Any:
    creds = creds or {}
    return boto3.client(
        service,
        region_name=REGION,
        aws_access_key_id=creds.get("AccessKeyId", "testing"),
        aws_secret_access_key=creds.get("SecretAccessKey", "testing"),
        aws_session_token=creds.get("SessionToken"),
        **kwargs,
    )


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def assume(role_arn: str, creds: dict[str, str] | None = None, **kwargs: Any) -> dict[str, str]:
    response = client("sts", creds).assume_role(RoleArn=role_arn, RoleSessionName="stackpilot", **kwargs)
    return dict(response["Credentials"])


def bootstrap_account(account_id: str, trusted_account: str = SERVICE) -> dict[str, str]:
    """Credentials in `account_id` (an admin role created directly in moto's IAM backend)."""
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": trusted_account}, "Action": "sts:AssumeRole"}],
    }
    iam = iam_backends[account_id]["aws"]
    if "bootstrap-admin" not in [role.name for role in iam.roles.values()]:
        iam.create_role(
            role_name="bootstrap-admin",
            assume_role_policy_document=json.dumps(trust),
            path="/",
            permissions_boundary=None,
            description="",
            tags=[],
            max_session_duration="3600",
            linked_service=None,
        )
    return assume(f"arn:aws:iam::{account_id}:role/bootstrap-admin")


def assert_denied(call: Callable[[], Any], role_arn: str) -> None:
    with pytest.raises(ClientError) as raised:
        call()
    error = raised.value.response["Error"]
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert error["Code"] == "AccessDenied"
    assert "is not authorized to perform: sts:AssumeRole on resource: " + role_arn in error["Message"]


# --------------------------------------------------------------------------------------------------
# Lambda functions and state machines
# --------------------------------------------------------------------------------------------------


def zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("placeholder.py", "# handlers are imported in-process\n")
    return buffer.getvalue()


def lambda_role(endpoint: str | None = None) -> str:
    iam = client("iam", endpoint_url=endpoint)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    try:
        return str(iam.get_role(RoleName="lambda-exec")["Role"]["Arn"])
    except ClientError:
        role = iam.create_role(RoleName="lambda-exec", AssumeRolePolicyDocument=json.dumps(trust))
        return str(role["Role"]["Arn"])


def create_function(name: str, handler: str, *, timeout: int = 30, endpoint: str | None = None) -> str:
    role = lambda_role(endpoint)
    response = client("lambda", endpoint_url=endpoint).create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=role,
        Handler=f"{HANDLERS}.{handler}",
        Code={"ZipFile": zip_bytes()},
        Timeout=timeout,
        MemorySize=256,
    )
    return str(response["FunctionArn"])


def create_state_machine(name: str, definition: dict[str, Any], sfn: Any = None) -> str:
    sfn = sfn or client("stepfunctions")
    response = sfn.create_state_machine(
        name=name,
        definition=json.dumps(definition),
        roleArn=f"arn:aws:iam::{SERVICE}:role/sfn-exec",
    )
    return str(response["stateMachineArn"])


def run_execution(state_machine_arn: str, payload: Any, sfn: Any = None, timeout: float = 10.0) -> dict:
    sfn = sfn or client("stepfunctions")
    execution_arn = sfn.start_execution(stateMachineArn=state_machine_arn, input=json.dumps(payload))[
        "executionArn"
    ]
    return wait_execution(execution_arn, sfn, timeout)


def wait_execution(execution_arn: str, sfn: Any = None, timeout: float = 10.0) -> dict:
    sfn = sfn or client("stepfunctions")

    def finished() -> dict | None:
        described = sfn.describe_execution(executionArn=execution_arn)
        return described if described["status"] != "RUNNING" else None

    return dict(wait_until(finished, timeout, f"execution {execution_arn}"))


def lambda_task(function_arn: str, **extra: Any) -> dict[str, Any]:
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": function_arn, "Payload.$": "$"},
        "OutputPath": "$.Payload",
        **extra,
    }


# --------------------------------------------------------------------------------------------------
# Events: a tap queue per rule, and reading it up to a sentinel
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


def receive(sqs: Any, url: str, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
    """At least `count` messages from the queue (in arrival order), each deleted once read."""
    received: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while len(received) < count and time.monotonic() < deadline:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        for message in messages:
            received.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        if not messages:
            time.sleep(0.05)
    if len(received) < count:
        raise AssertionError(f"expected {count} events, got {len(received)}: {received}")
    return received


def is_sentinel(event: dict[str, Any]) -> bool:
    return bool(event.get("detail", {}).get("status-details", {}).get("status") == SENTINEL_STATUS)


def send_sentinel(account: str = CUSTOMER, stack_name: str = f"{PREFIX}sentinel") -> dict[str, Any]:
    """A "CloudFormation Stack Status Change" event (status SENTINEL) put on `account`'s default bus
    the way the emulator puts a stack's own status events: every rule and forwarding target of that
    path sees it after whatever was sent before it."""
    stack_id = f"arn:aws:cloudformation:{REGION}:{account}:stack/{stack_name}/{uuid.uuid4()}"
    sentinel = stack_status_event(stack_id, SENTINEL_STATUS)
    put_service_event(sentinel)
    return sentinel


def receive_to_sentinel(
    sqs: Any, url: str, count: int, *, account: str = CUSTOMER, timeout: float = 10.0
) -> list[dict[str, Any]]:
    """The `count` events a test expects, then a sentinel sent after them through the same path
    (send_sentinel): every event that arrived before the sentinel, sentinels left out. Whatever
    else was delivered before the sentinel is in the list, so a test asserting the exact list
    proves that nothing else arrived (without sleeping and hoping)."""
    received = receive(sqs, url, count, timeout)
    sentinel = send_sentinel(account)
    deadline = time.monotonic() + timeout
    while sentinel["id"] not in [e["id"] for e in received]:
        if time.monotonic() > deadline:
            raise AssertionError(f"the sentinel never arrived; got {received}")
        received += receive(sqs, url, 1, timeout)
    before = received[: [e["id"] for e in received].index(sentinel["id"])]
    return [e for e in before if not is_sentinel(e)]


def drain(creds: dict[str, str] | None, url: str, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
    """Exactly what arrived in the tap queue before a sentinel (receive_to_sentinel), at least `count`."""
    return receive_to_sentinel(client("sqs", creds), url, count, timeout=timeout)


def statuses(events: list[dict[str, Any]]) -> list[str]:
    return [e["detail"]["status-details"]["status"] for e in events]


# --------------------------------------------------------------------------------------------------
# CloudFormation
# --------------------------------------------------------------------------------------------------


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


def resource_events(cfn: Any, stack_id: str, logical_id: str) -> list[tuple[str, str | None]]:
    events = cfn.describe_stack_events(StackName=stack_id)["StackEvents"]
    return [
        (e["ResourceStatus"], e.get("ResourceStatusReason"))
        for e in reversed(events)
        if e["LogicalResourceId"] == logical_id
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


def connection_template(topic_arn: str, **properties: Any) -> str:
    return json.dumps(
        {
            "Resources": {
                "Connection": {
                    "Type": "Custom::StackpilotConnection",
                    "Properties": {"ServiceToken": topic_arn, "Name": "acme", **properties},
                }
            },
            "Outputs": {"Token": {"Value": {"Fn::GetAtt": ["Connection", "Token"]}}},
        }
    )


def physical_ids(cfn: Any, stack_id: str) -> dict[str, str]:
    return {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in cfn.describe_stack_resources(StackName=stack_id)["StackResources"]
    }


def as_account(service: str, endpoint: str, account_id: str) -> Any:
    made = client(service, endpoint_url=endpoint)
    made.meta.events.register(
        "before-sign.*.*", lambda request, **_: request.headers.__setitem__("x-moto-account-id", account_id)
    )
    return made


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
