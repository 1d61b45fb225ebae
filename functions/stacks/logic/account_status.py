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


#: The statuses an operation's own action starts (a change set made or executed, a deletion asked
#: for): the workflow records them itself as it acts, so their forwarded events cost nothing.
STARTED_BY_AN_OPERATION = frozenset(
    {"REVIEW_IN_PROGRESS", "CREATE_IN_PROGRESS", "UPDATE_IN_PROGRESS", "DELETE_IN_PROGRESS"}
)
_ATTEMPTS = 3


def on_status_event(
    deps: StatusDeps, account: str, region: str, cfn_stack_id: str, status: str, reason: str | None
) -> str:
    """A forwarded 'CloudFormation Stack Status Change'. Anyone may put such events on our bus, so
    the stack must be ours and the event's account the stack's own; otherwise it is ignored."""
    if not cfn_stack_id.startswith("arn:") or ":cloudformation:" not in cfn_stack_id:
        return "not a stack id"  # anyone may put events on the bus: a malformed one is dropped
    if status in STARTED_BY_AN_OPERATION:
        return "recorded by the workflow"
    try:
        cfn.classify(status)
    except cfn.UnknownStatus:
        return "unknown status"
    stack = deps.stacks.find_by_cfn_stack_id(cfn_stack_id)
    if stack is None:
        return "unknown stack"
    if stack.aws_account_id != account or stack.region != region or f":{account}:" not in cfn_stack_id:
        return "account mismatch"
    return seen(deps, stack, status, reason, source="event")


def seen(deps: StatusDeps, stack: Stack, status: str, reason: str | None, source: str) -> str:
    """A status seen in the account. The end of a running operation wakes the workflow waiting on it,
    which records the outcome itself (history, events); if none waits yet, it is recorded for the
    wait to find as it begins (AwaitStatus reads it back with its token). Anything else is observed.
    Each write is conditional on the record as read; when it changed meanwhile, read it again."""
    for _ in range(_ATTEMPTS):
        ending = stack.status in BUSY and cfn.settled(status)
        if ending and stack.wait_token:
            if wake(deps, stack, stack.wait_token):
                return "resumed"
        elif observe(deps, stack, status, reason, source, unwaited=ending):
            return "recorded"
        fresh = deps.stacks.get(stack.org_id, stack.stack_id)
        if fresh is None or fresh.operation_seq != stack.operation_seq:
            break
        stack = fresh
    return "stale"


def observe(
    deps: StatusDeps, stack: Stack, status: str, reason: str | None, source: str, *, unwaited: bool = False
) -> bool:
    """Records a status seen in the account (history, StackStatusChanged). Outside an operation, drift
    maps to READY/FAILED/DELETED; conditional on the record as read (and, ``unwaited``, on no task
    token kept since), so a stale look changes nothing: False."""
    if status == stack.cfn_status:
        return True
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
        expect=Precondition(seq=stack.operation_seq, statuses=(stack.status,), no_wait_token=unwaited),
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
        return False  # the stack moved on meanwhile (an outcome, another operation, a wait began)
    deps.events.publish([status_changed(stack, our, status, source)])
    return True


def wake(deps: StatusDeps, stack: Stack, token: str) -> bool:
    """Resumes the execution waiting with ``token``, once: whoever clears the token first resumes it."""
    if (
        deps.stacks.update(stack, StackChanges(wait_token=None), expect=Precondition(wait_token=token))
        is None
    ):
        return False
    deps.workflow.resume(token, {"settled": True})
    return True
