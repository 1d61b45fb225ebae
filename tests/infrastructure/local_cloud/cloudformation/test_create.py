"""Stack creation: the completion hook, injected faults and delays, rollback, background operations
(infra/local/patches/cloudformation/create.py, operations.py)."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from infra.local import patches
from infra.local.patches._machinery import _state
from infra.local.patches.cloudformation import create as create_module
from tests.infrastructure.local_cloud.support import (
    PREFIX,
    STACK_EVENT_PATTERN,
    client,
    create_via_change_set,
    drain,
    queue_template,
    resource_events,
    stack_events,
    statuses,
    tap,
    update_via_change_set,
    wait_stack,
)


def test_stack_completion_hook_delays_creation(customer: dict) -> None:
    cfn = client("cloudformation", customer)
    seen: list[str] = []

    def hold(stack: Any) -> None:
        seen.append(stack.name)
        time.sleep(0.3)

    patches.set_stack_completion_hook(hold)
    stack_id = cfn.create_stack(
        StackName="slow", TemplateBody=json.dumps({"Resources": {"Queue": {"Type": "AWS::SQS::Queue"}}})
    )["StackId"]

    assert cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"] == "CREATE_IN_PROGRESS"
    assert wait_stack(cfn, stack_id)["StackStatus"] == "CREATE_COMPLETE"
    assert seen == ["slow"]


def test_stack_creation_can_be_failed_on_purpose(customer: dict) -> None:
    cfn = client("cloudformation", customer)
    template = json.dumps({"Resources": {"Queue": {"Type": "AWS::SQS::Queue"}}})
    patches.fail_next_stack_creation("doomed-", "Queue", "injected failure")

    stack_id = cfn.create_stack(StackName="doomed-1", TemplateBody=template)["StackId"]
    stack = wait_stack(cfn, stack_id)
    healthy = cfn.create_stack(StackName="doomed-2", TemplateBody=template)["StackId"]

    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    assert ("CREATE_FAILED", "injected failure") in resource_events(cfn, stack_id, "Queue")
    assert wait_stack(cfn, healthy)["StackStatus"] == "CREATE_COMPLETE"


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


def test_a_delayed_creation_cut_short_by_stop_is_left_in_progress(customer: dict[str, str]) -> None:
    # GIVEN a stack creation held by a delay (a local cloud stopping while it runs)
    cfn = client("cloudformation", customer)
    patches.delay_next_stack_creation(PREFIX, 3600)
    created = create_via_change_set(cfn, "stackpilot-held", queue_template(), wait=False)
    holder = _state.busy_stacks[created["StackId"]]
    # WHEN stop_executions() wakes it (LocalCloud.stop, after its last snapshot)
    patches.stop_executions()
    holder.join(timeout=30)
    # THEN the operation ended where the last snapshot saw it: still CREATE_IN_PROGRESS, no resource
    # made, no further status event. Before, the delay returned early and the creation completed
    # after the snapshot, its status event reaching the next local cloud of the process.
    assert not holder.is_alive()
    stack = cfn.describe_stacks(StackName=created["StackId"])["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_IN_PROGRESS"
    assert cfn.describe_stack_resources(StackName=created["StackId"])["StackResources"] == []
    assert [status for _, status, _ in stack_events(cfn, created["StackId"])] == [
        "REVIEW_IN_PROGRESS",
        "CREATE_IN_PROGRESS",
    ]


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


def test_every_operation_can_run_in_the_background(
    customer: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    queue = tap(customer, STACK_EVENT_PATTERN)
    cfn = client("cloudformation", customer)
    threads: list[str] = []
    create = create_module._create_stack

    def recording(stack: Any) -> None:
        threads.append(threading.current_thread().name)
        create(stack)

    monkeypatch.setattr(create_module, "_create_stack", recording)
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
