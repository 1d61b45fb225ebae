"""What each Task of the provision_stack and delete_stack workflows does: start the change (render,
change set, execute; for a deletion, protection off first), wait for CloudFormation (a forwarded
status event resumes the wait; without one, a poll looks and the next wait doubles), and record how
the operation ended. Every step is conditional on the operation it belongs to."""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from datetime import datetime

from functions.shared.logic.auditing import Result, service_draft
from functions.shared.models.audit import AuditDraft
from functions.shared.models.workflow import StepError
from functions.stacks.exceptions import CustomerAccessDenied, CustomerAwsFailure, StepOutdated
from functions.stacks.logic import change_sets
from functions.stacks.logic import status as cfn
from functions.stacks.logic.account_status import StatusDeps, observe, wake
from functions.stacks.logic.ports import (
    Clock,
    ConnectionAccess,
    CustomerAccess,
    CustomerStacks,
    Publisher,
    Render,
    StackRepository,
    StackWithAccess,
    Templates,
    Workflow,
)
from functions.stacks.logic.records import at_operation, event_ids, status_changed, usable
from functions.stacks.models.customer import CfnStack
from functions.stacks.models.events import StackDeleted, StackEventBase, StackFailed, StackReady
from functions.stacks.models.stack import (
    FailedResource,
    Precondition,
    Stack,
    StackChanges,
    StackEvent,
    StackStatus,
)
from functions.stacks.models.workflow import FinishOutput, Phase, PollOutput, StartChangeOutput


@dataclass(frozen=True)
class WaitPolicy:
    """Without a status event: look after ``first`` seconds, then double the wait up to ``cap``, and
    give up (FAILED, with the reason; the reconcile sweep keeps following) after ``give_up``."""

    first: int = 10
    cap: int = 120
    give_up: int = 4 * 3600


@dataclass(frozen=True)
class StepDeps:
    stacks: StackRepository
    reads: StackWithAccess  # a step's stack and its connection, in one read
    customer: CustomerAccess
    templates: Templates
    workflow: Workflow
    events: Publisher
    clock: Clock
    render: Render
    wait: WaitPolicy = WaitPolicy()

    @property
    def status(self) -> StatusDeps:
        return StatusDeps(stacks=self.stacks, workflow=self.workflow, events=self.events, clock=self.clock)


def start_change(
    deps: StepDeps, org_id: str, stack_id: str, seq: int, connection_id: str | None = None
) -> StartChangeOutput:
    """Render, change set, execute (or, for a deletion, its first phase). Returns what the wait needs."""
    stack, access = at_operation(deps.reads, org_id, stack_id, seq, connection_id)
    access = usable(stack, access)
    customer = deps.customer.stacks(access)
    if stack.operation == "delete":
        return _start_delete(deps, stack, access)
    key = f"stacks/{org_id}/{stack_id}/template-{seq}.json"
    kind = "UPDATE" if stack.operation == "update" and stack.cfn_stack_id else "CREATE"
    change_set = change_sets.make(
        deps.templates,
        customer,
        stack,
        template=deps.render(stack, access),
        key=key,
        name=f"stackpilot-{seq}",
        kind=kind,
    )
    made = StackChanges(cfn_stack_id=change_set.stack_id, template_key=key)
    try:
        executed = change_sets.execute(customer, change_set)
    except Exception:
        # The stack exists in the account now (REVIEW_IN_PROGRESS at least): it is recorded, so
        # the failure is recorded against it and a deletion finds it.
        _record(deps, stack, made)
        raise
    if not executed:
        _record(deps, stack, made)
        return StartChangeOutput(wait_seconds=0, waited=0, cfn_stack_id=change_set.stack_id, no_changes=True)
    _started(deps, stack, f"{kind}_IN_PROGRESS", f"change set stackpilot-{seq} executed", made)
    return StartChangeOutput(wait_seconds=deps.wait.first, waited=0, cfn_stack_id=change_set.stack_id)


def _record(deps: StepDeps, stack: Stack, changes: StackChanges) -> None:
    if deps.stacks.update(stack, changes, expect=Precondition(seq=stack.operation_seq)) is None:
        raise StepOutdated(f"stack {stack.stack_id} moved on")


def _started(
    deps: StepDeps, stack: Stack, cfn_status: str, message: str, also: StackChanges | None = None
) -> None:
    """Records the status our own action just put the stack in, before anything waits on it: a
    settled status in the record is then this phase's end (AwaitStatus wakes on it), never the
    previous one's. One write, with its history line."""
    now = deps.clock()
    changes = StackChanges(
        cfn_status=cfn_status, updated_at=now, **(also.given() if also is not None else {})
    )
    written = deps.stacks.update(
        stack,
        changes,
        expect=Precondition(seq=stack.operation_seq, statuses=(stack.status,)),
        event=StackEvent(
            at=now,
            kind="status",
            status=stack.status,
            cfn_status=cfn_status,
            message=message,
            actor="workflow",
        ),
    )
    if written is None:
        raise StepOutdated(f"stack {stack.stack_id} moved on")


def _start_delete(deps: StepDeps, stack: Stack, access: ConnectionAccess) -> StartChangeOutput:
    """A stack with a database is first updated with deletion protection off (phase "unprotect"),
    then deleted (phase "delete"); without one, or when it cannot be updated any more, deleted now."""
    nothing = StartChangeOutput(wait_seconds=0, waited=0, phase="delete")
    if stack.cfn_stack_id is None:
        return nothing
    customer = deps.customer.stacks(access)
    found = customer.describe(stack.cfn_stack_id)
    if found is None or cfn.classify(found.status).outcome is cfn.Outcome.DELETED:
        return nothing
    verdict = cfn.classify(found.status)
    if stack.spec.database is not None and verdict.health is cfn.Health.READY:
        name = f"stackpilot-{stack.operation_seq}-unprotect"
        change_set = change_sets.make(
            deps.templates,
            customer,
            stack,
            template=deps.render(stack, access, deletion_protection=False),
            key=f"stacks/{stack.org_id}/{stack.stack_id}/template-{stack.operation_seq}-unprotected.json",
            name=name,
        )
        if change_sets.execute(customer, change_set, refused="deletion protection could not be turned off: "):
            _started(deps, stack, "UPDATE_IN_PROGRESS", f"change set {name} executed")
            return StartChangeOutput(wait_seconds=deps.wait.first, waited=0, phase="unprotect")
    customer.delete(stack.cfn_stack_id)
    _started(deps, stack, "DELETE_IN_PROGRESS", "deletion asked for")
    return StartChangeOutput(wait_seconds=deps.wait.first, waited=0, phase="delete")


def register_wait(deps: StepDeps, org_id: str, stack_id: str, seq: int, token: str) -> None:
    """Keeps the task token where a forwarded status event (or the sweep) finds it, and reads the
    record back in the same write: if the stack settled before the token was kept, its status is
    there already (recorded by that event, since the workflow recorded the phase's start), and the
    wait ends at once. A look at the account is the Poll's, once the wait timed out."""
    stack = deps.stacks.wait_on(org_id, stack_id, seq, token)
    if stack is None:
        raise StepOutdated(f"stack {stack_id} is no longer at operation {seq}")
    if stack.cfn_stack_id is None or (stack.cfn_status is not None and _settled(stack.cfn_status)):
        wake(deps.status, stack, token)


def _settled(status: str) -> bool:
    try:
        return cfn.settled(status)
    except cfn.UnknownStatus:
        return False  # a status CloudFormation added since: the poll will look


def poll(
    deps: StepDeps,
    org_id: str,
    stack_id: str,
    seq: int,
    waited: int,
    wait_seconds: int,
    phase: Phase | None = None,
    connection_id: str | None = None,
) -> PollOutput:
    """No event came within ``wait_seconds``: look (one read of the stack and its connection, one
    DescribeStacks), and if CloudFormation is still working, wait twice as long (up to the cap) for
    an event before looking again."""
    stack, access = at_operation(deps.reads, org_id, stack_id, seq, connection_id)
    waited += wait_seconds
    found = (
        deps.customer.stacks(usable(stack, access)).describe(stack.cfn_stack_id)
        if stack.cfn_stack_id
        else None
    )
    if found is not None and not cfn.settled(found.status):
        observe(deps.status, stack, found.status, found.reason, source="poll")
        if waited >= deps.wait.give_up:
            return PollOutput(settled=True, gave_up=True, waited=waited, wait_seconds=0, phase=phase)
        return PollOutput(
            settled=False, waited=waited, wait_seconds=min(wait_seconds * 2, deps.wait.cap), phase=phase
        )
    return PollOutput(settled=True, waited=waited, wait_seconds=0, phase=phase)


def finish(
    deps: StepDeps,
    org_id: str,
    stack_id: str,
    seq: int,
    error: StepError | None = None,
    phase: Phase | None = None,
    connection_id: str | None = None,
) -> FinishOutput:
    """Records how the operation ended: outputs, or the root cause; the event; the audit entry. For a
    deletion whose protection-off update completed, starts the deletion itself and says to go on."""
    stack, access = at_operation(deps.reads, org_id, stack_id, seq, connection_id)
    outcome = _finish(deps, stack, access, error, phase)
    return outcome if outcome.go_on else outcome.model_copy(update={"phase": phase or ""})


def _finish(
    deps: StepDeps,
    stack: Stack,
    stored_access: ConnectionAccess | None,
    error: StepError | None,
    phase: Phase | None,
) -> FinishOutput:
    if error is not None:
        health = StackStatus.READY if phase == "unprotect" else StackStatus.FAILED
        return _fail(deps, stack, None, _error_reason(error), None, health=health)
    access = usable(stack, stored_access)
    customer = deps.customer.stacks(access)
    found = customer.describe(stack.cfn_stack_id) if stack.cfn_stack_id else None
    if stack.operation == "delete" and phase == "unprotect" and found is not None:
        return _after_unprotect(deps, stack, found, customer)
    if found is None:
        if stack.operation == "delete":
            return _deleted(deps, stack, access, "DELETE_COMPLETE")
        return _fail(deps, stack, None, "the stack is gone from the customer's account", None)
    verdict = cfn.classify(found.status)
    if verdict.outcome is cfn.Outcome.RUNNING:
        return _fail(
            deps,
            stack,
            found.status,
            f"CloudFormation was still at {found.status} when stackpilot stopped waiting; "
            "the reconcile sweep keeps following it",
            None,
        )
    if verdict.outcome is cfn.Outcome.SUCCEEDED:
        retired = _retire_secrets(deps, stack, access) if stack.retired_secret_arns else None
        return _settle(
            deps,
            stack,
            StackStatus.READY,
            found.status,
            f"{stack.operation} complete",
            found.outputs,
            also=StackChanges(retired_secret_arns=retired) if retired is not None else None,
        )
    if verdict.outcome is cfn.Outcome.DELETED:
        return _deleted(deps, stack, access, found.status)
    cause = cfn.root_cause(customer.events(found.stack_id))
    reason = cause.reason if cause else (found.reason or found.status)
    failure = (
        FailedResource(logical_id=cause.logical_id, resource_type=cause.resource_type, reason=cause.reason)
        if cause
        else None
    )
    if verdict.health is cfn.Health.READY:  # an update rolled back: the previous version still runs
        return _fail(
            deps,
            stack,
            found.status,
            f"the update was rolled back: {reason}",
            failure,
            health=StackStatus.READY,
        )
    return _fail(deps, stack, found.status, reason, failure)


def _after_unprotect(deps: StepDeps, stack: Stack, found: CfnStack, customer: CustomerStacks) -> FinishOutput:
    verdict = cfn.classify(found.status)
    if verdict.outcome is cfn.Outcome.SUCCEEDED:
        customer.delete(found.stack_id)
        _started(deps, stack, "DELETE_IN_PROGRESS", "deletion asked for, deletion protection off")
        return FinishOutput(
            status=stack.status.value, go_on=True, wait_seconds=deps.wait.first, waited=0, phase="delete"
        )
    if verdict.outcome is cfn.Outcome.RUNNING:
        reason = f"CloudFormation was still at {found.status} when stackpilot stopped waiting"
    else:
        cause = cfn.root_cause(customer.events(found.stack_id))
        reason = cause.reason if cause else (found.reason or found.status)
    return _fail(
        deps,
        stack,
        found.status,
        f"the database's deletion protection could not be turned off, nothing was deleted: {reason}",
        None,
        health=StackStatus.READY if verdict.health is cfn.Health.READY else StackStatus.FAILED,
    )


def _deleted(deps: StepDeps, stack: Stack, access: ConnectionAccess, cfn_status: str) -> FinishOutput:
    """The stack is gone: its app secrets go too (Secrets Manager keeps them 7 days, recoverable)."""
    arns = set(stack.secret_arns.values()) | set(stack.retired_secret_arns.values())
    if arns:
        store = deps.customer.secrets(access)
        for arn in sorted(arns):
            store.delete(arn)
    return _settle(
        deps, stack, StackStatus.DELETED, cfn_status, "deleted", {}, also=StackChanges(retired_secret_arns={})
    )


def _retire_secrets(deps: StepDeps, stack: Stack, access: ConnectionAccess) -> dict[str, str]:
    """A change that took secret env names out of the spec has settled: no task definition reads
    them any more, so they go from the customer's Secrets Manager (kept 7 days, recoverable). One
    that cannot be deleted now stays listed for the next settled change, or the stack's deletion:
    its cleanup never fails the change. Returns the ones left."""
    in_use = set(stack.secret_arns.values())
    left: dict[str, str] = {}
    store = deps.customer.secrets(access)
    for name, arn in sorted(stack.retired_secret_arns.items()):
        if arn in in_use:
            continue  # the name came back with a later change: the same secret, in use again
        try:
            store.delete(arn)
        except (CustomerAccessDenied, CustomerAwsFailure):
            left[name] = arn
    return left


#: Errors whose message is written for the user (ours, and Step Functions' own); any other error's
#: message is an internal detail and stays in our logs.
_TOLD_ERRORS = frozenset({"CustomerAccessDenied", "CustomerAwsFailure", "ChangeSetFailed"})
_STOPPED = "stackpilot stopped this operation (the reconcile sweep keeps the status current); try again"


def _error_reason(error: StepError) -> str:
    kind = error.error
    cause = error.cause or ""
    with contextlib.suppress(ValueError, AttributeError):
        cause = str(json.loads(cause).get("errorMessage") or cause)
    if kind in _TOLD_ERRORS and cause:
        return cause[:1000]
    if kind.startswith("States.") or kind.startswith("Lambda."):
        return f"the workflow could not go on ({kind}); {_STOPPED}"
    return f"internal error while changing the stack ({kind or 'unknown'}); {_STOPPED}"


def _settle(
    deps: StepDeps,
    stack: Stack,
    to: StackStatus,
    cfn_status: str,
    message: str,
    outputs: dict[str, str],
    also: StackChanges | None = None,
) -> FinishOutput:
    """The operation's end, written only while the stack is still busy with it: a Finish retried
    after its write (or a failure recorded after it) changes nothing."""
    now = deps.clock()
    updated = deps.stacks.update(
        stack,
        StackChanges(
            status=to,
            cfn_status=cfn_status,
            reason=None,
            failure=None,
            outputs=outputs,
            wait_token=None,
            updated_at=now,
            status_changed_at=now,
            **(also.given() if also is not None else {}),
        ),
        expect=Precondition(seq=stack.operation_seq, statuses=(stack.status,)),
        event=StackEvent(
            at=now,
            kind="deleted" if to is StackStatus.DELETED else "ready",
            status=to,
            cfn_status=cfn_status,
            message=message,
            actor="workflow",
        ),
        audit=_outcome_audit(stack, "succeeded", message, now),
    )
    if updated is None:
        raise StepOutdated(f"stack {stack.stack_id} moved on")
    events: list[StackEventBase] = [status_changed(stack, to, cfn_status, "workflow")]
    if to is StackStatus.DELETED:
        events.append(StackDeleted(**event_ids(stack)))
    else:
        events.append(StackReady(**event_ids(stack), operation=stack.operation, outputs=outputs))
    deps.events.publish(events)
    return FinishOutput(status=to.value)


def _fail(
    deps: StepDeps,
    stack: Stack,
    cfn_status: str | None,
    reason: str,
    failure: FailedResource | None,
    health: StackStatus = StackStatus.FAILED,
) -> FinishOutput:
    now = deps.clock()
    updated = deps.stacks.update(
        stack,
        StackChanges(
            status=health,
            cfn_status=cfn_status or stack.cfn_status,
            reason=reason,
            failure=failure,
            wait_token=None,
            updated_at=now,
            status_changed_at=now,
        ),
        expect=Precondition(seq=stack.operation_seq, statuses=(stack.status,)),
        event=StackEvent(
            at=now, kind="failed", status=health, cfn_status=cfn_status, message=reason, actor="workflow"
        ),
        audit=_outcome_audit(stack, "failed", reason, now),
    )
    if updated is None:
        raise StepOutdated(f"stack {stack.stack_id} moved on")
    deps.events.publish(
        [
            status_changed(stack, health, cfn_status, "workflow"),
            StackFailed(
                **event_ids(stack),
                operation=stack.operation,
                cfn_status=cfn_status,
                reason=reason,
                failed_resource=failure.logical_id if failure else None,
            ),
        ]
    )
    return FinishOutput(status=health.value, reason=reason)


def _outcome_audit(stack: Stack, result: Result, reason: str, now: datetime) -> AuditDraft:
    return service_draft(
        org_id=stack.org_id,
        service="provision-stack",
        action=f"stack.{stack.operation}.outcome",
        target=f"stack:{stack.stack_id}",
        result=result,
        reason=reason[:500],
        time=now,
    )
