"""Stack status events on the stack account's default bus, forwarded across accounts
(infra/local/patches/cloudformation/status_events.py), in-process and in server mode."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.local import patches
from tests.fixtures import patch_handlers as handlers
from tests.infrastructure.local_cloud.support import (
    CUSTOMER,
    PREFIX,
    QUEUE,
    REGION,
    SERVICE,
    STACK_EVENT_PATTERN,
    as_account,
    client,
    create_function,
    create_via_change_set,
    drain,
    is_sentinel,
    queue_template,
    receive,
    receive_to_sentinel,
    statuses,
    tap,
    wait_stack,
    wait_until,
)


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
        e["detail"]
        for e in receive(client("sqs", customer), resources, 6)
        if e["detail"]["logical-resource-id"] == "Queue"
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
    """What the onboarding template installs in the customer account (accounts/logic/role_template/)."""
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
    # drain()'s sentinel took the same path to the function: what it received before the sentinel
    # is everything it was sent.
    wait_until(lambda: any(is_sentinel(r["event"]) for r in handlers.RECEIVED), what="sentinel -> Lambda")
    invocations = handlers.RECEIVED[: [is_sentinel(r["event"]) for r in handlers.RECEIVED].index(True)]
    assert [r["event"]["detail"]["status-details"]["status"] for r in invocations] == statuses(forwarded)
    assert invocations[-1]["event"]["account"] == CUSTOMER


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
    assert statuses(receive_to_sentinel(sqs_customer, local_url, 5)) == expected
    forwarded = receive_to_sentinel(sqs_service, forwarded_url, 5)
    assert statuses(forwarded) == expected
    assert {e["account"] for e in forwarded} == {CUSTOMER}
