"""A stack's status as its account tells it: the forwarded 'CloudFormation Stack Status Change'
events, the workflow's polls and the reconcile sweep all record what they saw here, and wake the
workflow waiting on a stack that settled."""

from __future__ import annotations

from dataclasses import dataclass

from functions.stacks.logic import status as cfn
from functions.stacks.logic.ports import Clock, Publisher, StackRepository, Workflow
from functions.stacks.logic.records import status_changed
from functions.stacks.models.stack import BUSY, Precondition, Stack, StackChanges, StackEvent, StackStatus


@dataclass(frozen=True)
class StatusDeps:
    stacks: StackRepository
    workflow: Workflow  # resumes a waiting execution (any of the stacks' state machines)
    events: Publisher
    clock: Clock


def on_status_event(
    deps: StatusDeps, account: str, region: str, cfn_stack_id: str, status: str, reason: str | None
) -> str:
    """A forwarded 'CloudFormation Stack Status Change'. Anyone may put such events on our bus, so
    the stack must be ours and the event's account the stack's own; otherwise it is ignored."""
    if not cfn_stack_id.startswith("arn:") or ":cloudformation:" not in cfn_stack_id:
        return "not a stack id"  # anyone may put events on the bus: a malformed one is dropped
    stack = deps.stacks.find_by_cfn_stack_id(cfn_stack_id)
    if stack is None:
        return "unknown stack"
    if stack.aws_account_id != account or stack.region != region or f":{account}:" not in cfn_stack_id:
        return "account mismatch"
    try:
        cfn.classify(status)
    except cfn.UnknownStatus:
        return "unknown status"
    observe(deps, stack, status, reason, source="event")
    if cfn.settled(status) and stack.wait_token:
        wake(deps, stack, stack.wait_token)
        return "resumed"
    return "recorded"


def observe(deps: StatusDeps, stack: Stack, status: str, reason: str | None, source: str) -> None:
    """Records a status seen in the account (history, StackStatusChanged). Outside an operation, drift
    maps to READY/FAILED/DELETED; conditional on the record as read, so a stale look changes nothing."""
    if status == stack.cfn_status:
        return
    now = deps.clock()
    our = stack.status
    if stack.status not in BUSY:  # drift seen outside an operation (reconcile, or a console change)
        verdict = cfn.classify(status)
        our = (
            {
                cfn.Health.READY: StackStatus.READY,
                cfn.Health.FAILED: StackStatus.FAILED,
                cfn.Health.DELETED: StackStatus.DELETED,
            }.get(verdict.health, stack.status)
            if verdict.health
            else stack.status
        )
    recorded = deps.stacks.update(
        stack,
        StackChanges(cfn_status=status, status=our, updated_at=now),
        expect=Precondition(seq=stack.operation_seq, statuses=(stack.status,)),
        event=StackEvent(
            at=now,
            kind="status",
            status=our,
            cfn_status=status,
            message=f"{status}{': ' + reason if reason else ''}"[:500],
            actor=f"{source}",
        ),
    )
    if recorded is None:
        return  # the stack moved on meanwhile (an outcome, another operation): this look is stale
    deps.events.publish([status_changed(stack, our, status, source)])


def wake(deps: StatusDeps, stack: Stack, token: str) -> None:
    """Resumes the execution waiting with ``token``, once: whoever clears the token first resumes it."""
    if (
        deps.stacks.update(stack, StackChanges(wait_token=None), expect=Precondition(wait_token=token))
        is not None
    ):
        deps.workflow.resume(token, {"settled": True})
