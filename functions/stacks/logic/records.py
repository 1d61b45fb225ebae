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
from functions.stacks.logic.ports import ConnectionAccess, Connections, StackWithAccess
from functions.stacks.models.events import StackStatusChanged
from functions.stacks.models.stack import BUSY, Stack, StackStatus


def execution_name(stack: Stack) -> str:
    """One execution per operation: a retried request or step never starts a second one."""
    return f"{stack.stack_id}-{stack.operation_seq}"


def at_operation(
    reads: StackWithAccess, org_id: str, stack_id: str, seq: int, connection_id: str | None
) -> tuple[Stack, ConnectionAccess | None]:
    """The stack, if it is still busy with the operation ``seq`` a workflow step belongs to (a step
    of an operation that ended, or was abandoned before its workflow could start, is outdated), and
    its connection as stored, read in the same call."""
    stack, access = reads.read(org_id, stack_id, connection_id)
    if stack is None or stack.operation_seq != seq or stack.status not in BUSY:
        raise StepOutdated(f"stack {stack_id} is no longer at operation {seq}")
    if access is not None and access.connection_id != stack.connection_id:
        access = None  # not the stack's own connection: as good as gone
    return stack, access


def reachable(connections: Connections, stack: Stack) -> ConnectionAccess:
    """The connection to the stack's account, if it is still connected."""
    return usable(stack, connections.get(stack.org_id, stack.connection_id))


def usable(stack: Stack, access: ConnectionAccess | None) -> ConnectionAccess:
    """``access``, if it is still connected: else the user must reconnect the account."""
    if access is None or access.status != "CONNECTED":
        raise CustomerAccessDenied(
            f"the account connection {stack.connection_id} is "
            f"{'gone' if access is None else access.status.lower()}: reconnect the account"
        )
    return access


def operation_input(stack: Stack) -> dict[str, Any]:
    """What a stack workflow is started with: ids only. The connection's id lets each step read the
    stack and its connection in one call."""
    return {
        "org_id": stack.org_id,
        "stack_id": stack.stack_id,
        "seq": stack.operation_seq,
        "connection_id": stack.connection_id,
    }


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
