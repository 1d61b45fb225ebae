"""What every stacks use case reads the same way: a stack record at the operation a step belongs to,
the connection that reaches its account, and the ids its events and tags carry.

A stack's record is the one truth stackpilot keeps: its spec (never secret values), where
CloudFormation is (``cfn_status``), what it means for the user (``status``), and its history. Each
operation (create, update, delete) has a sequence number; every step is conditional on it, so a
late or repeated step of an older operation changes nothing.
"""

from __future__ import annotations

from typing import Any

from functions.stacks.exceptions import CustomerAccessDenied, StepOutdated
from functions.stacks.logic.ports import ConnectionAccess, Connections, StackRepository
from functions.stacks.models.events import StackStatusChanged
from functions.stacks.models.stack import Stack, StackStatus


def execution_name(stack: Stack) -> str:
    """One execution per operation: a retried request or step never starts a second one."""
    return f"{stack.stack_id}-{stack.operation_seq}"


def at_operation(stacks: StackRepository, org_id: str, stack_id: str, seq: int) -> Stack:
    """The stack, if it is still at the operation ``seq`` a workflow step belongs to."""
    stack = stacks.get(org_id, stack_id)
    if stack is None or stack.operation_seq != seq:
        raise StepOutdated(f"stack {stack_id} is no longer at operation {seq}")
    return stack


def reachable(connections: Connections, stack: Stack) -> ConnectionAccess:
    """The connection to the stack's account, if it is still connected."""
    access = connections.get(stack.org_id, stack.connection_id)
    if access is None or access.status != "CONNECTED":
        raise CustomerAccessDenied(
            f"the account connection {stack.connection_id} is "
            f"{'gone' if access is None else access.status.lower()}: reconnect the account"
        )
    return access


def tags(stack: Stack) -> dict[str, str]:
    """The tags every change set of the stack carries in the customer's account."""
    return {
        "stackpilot:stack-id": stack.stack_id,
        "stackpilot:org-id": stack.org_id,
        "stackpilot:stage": stack.stage,
    }


def event_ids(stack: Stack) -> dict[str, Any]:
    return {
        "org_id": stack.org_id,
        "stack_id": stack.stack_id,
        "connection_id": stack.connection_id,
        "aws_account_id": stack.aws_account_id,
        "region": stack.region,
        "name": stack.name,
        "stage": stack.stage,
    }


def status_changed(stack: Stack, to: StackStatus, cfn_status: str | None, source: str) -> StackStatusChanged:
    return StackStatusChanged(
        **event_ids(stack),
        status=to.value,
        previous_status=stack.status.value,
        cfn_status=cfn_status,
        source_of_truth=source,
    )
