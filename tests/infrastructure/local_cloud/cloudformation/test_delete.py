"""Stack deletion (infra/local/patches/cloudformation/delete.py)."""

from __future__ import annotations

import json

from infra.local import patches
from tests.infrastructure.local_cloud.support import (
    PREFIX,
    STACK_EVENT_PATTERN,
    client,
    drain,
    queue_template,
    statuses,
    tap,
    wait_stack,
)


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
