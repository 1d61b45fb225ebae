"""Stack use cases: what the API asks for and what each step of the provision_stack workflow does.

A stack's record is the one truth stackpilot keeps: its spec (never secret values), where
CloudFormation is (``cfn_status``), what it means for the user (``status``), and its history. Each
operation (create, update, delete) has a sequence number; every step is conditional on it, so a
late or repeated step of an older operation changes nothing.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from functions.shared.audit import AuditDraft
from functions.shared.auditing import RequestInfo, Result, draft, service_draft
from functions.shared.principal import Principal, Role, require_role
from functions.stacks.exceptions import (
    ConnectionUnusable,
    CustomerAccessDenied,
    CustomerAwsFailure,
    InvalidStackRequest,
    ServiceUnavailable,
    StackConflict,
    StackNotFound,
)
from functions.stacks.logic import status as cfn
from functions.stacks.logic.network import classify_subnets, validate_existing_network
from functions.stacks.logic.ports import (
    Clock,
    ConnectionAccess,
    Connections,
    CustomerAccess,
    Publisher,
    StackRepository,
    Templates,
    Workflow,
)
from functions.stacks.logic.secret_env import stored_spec
from functions.stacks.models.events import (
    StackCreateRequested,
    StackDeleted,
    StackEventBase,
    StackFailed,
    StackReady,
    StackStatusChanged,
)
from functions.stacks.models.spec import ExistingVpc, StackSpec
from functions.stacks.models.stack import BUSY, FailedResource, Stack, StackEvent, StackStatus

STACK_NAME_PREFIX = "stackpilot-"


@dataclass(frozen=True)
class StacksDeps:
    stacks: StackRepository
    connections: Connections
    customer: CustomerAccess
    templates: Templates
    workflow: Workflow
    events: Publisher
    clock: Clock
    render: Callable[[Stack, ConnectionAccess], str]
    wait_first_seconds: int = 10
    wait_max_seconds: int = 120
    give_up_seconds: int = 4 * 3600


def stack_id_for(org_id: str, connection_id: str, region: str, name: str, stage: str) -> str:
    """Deterministic: the same stack asked for twice is one stack (a retried POST is a 409, not two)."""
    digest = hashlib.sha256(f"{org_id}|{connection_id}|{region}|{name}|{stage}".encode()).digest()
    return "stk_" + base64.b32encode(digest[:16]).decode().rstrip("=").lower()


def cfn_stack_name(name: str, stage: str) -> str:
    return f"{STACK_NAME_PREFIX}{name}-{stage}"


def execution_name(stack: Stack) -> str:
    return f"{stack.stack_id}-{stack.operation_seq}"


# --------------------------------------------------------------------------------------------------
# API
# --------------------------------------------------------------------------------------------------


def usable_connection(
    deps: StacksDeps, principal: Principal, connection_id: str, region: str
) -> ConnectionAccess:
    access = deps.connections.get(principal.org_id, connection_id)
    if access is None:
        raise ConnectionUnusable("connection_id", "no such connection in your org")
    if access.status != "CONNECTED":
        raise ConnectionUnusable("connection_id", f"the connection is {access.status.lower()}, not connected")
    if access.region != region:
        raise ConnectionUnusable("region", f"the connection is for {access.region}; stacks go in its region")
    return access


def request_create(deps: StacksDeps, principal: Principal, asked: StackSpec, info: RequestInfo) -> Stack:
    require_role(principal, Role.CONTRIBUTOR, "creating a stack")
    spec = stored_spec(asked)  # refuses what cannot be kept (secret values) before anything else
    access = usable_connection(deps, principal, asked.connection_id, asked.region)
    subnets = existing_subnets(deps, access, asked)
    now = deps.clock()
    stack_id = stack_id_for(
        principal.org_id, access.connection_id, access.region, spec["name"], spec["stage"]
    )
    stack = Stack(
        org_id=principal.org_id,
        stack_id=stack_id,
        connection_id=access.connection_id,
        aws_account_id=access.aws_account_id,
        region=access.region,
        name=asked.name,
        stage=asked.stage,
        cfn_stack_name=asked.stack_name,
        spec=spec,
        subnets=subnets,
        status=StackStatus.CREATING,
        operation="create",
        operation_seq=1,
        created_by=principal.actor,
        created_at=now,
        updated_at=now,
        status_changed_at=now,
    )
    stack = stack.model_copy(update={"execution_arn": None})
    audit = draft(
        principal,
        info,
        action="stack.create",
        target=f"stack:{stack_id}",
        time=now,
        reason=f"{stack.cfn_stack_name} in {access.aws_account_id}/{access.region}",
    )
    event = StackEvent(
        at=now,
        kind="requested",
        status=StackStatus.CREATING,
        message="creation requested",
        actor=principal.actor,
    )
    existing = deps.stacks.get(principal.org_id, stack_id)
    if existing is not None and existing.status is not StackStatus.DELETED:
        raise StackConflict(
            f"a stack named {stack.name!r} at stage {stack.stage!r} exists already as {stack_id}"
        )
    if existing is not None:  # re-created after a deletion: a new operation number, same id
        stack = stack.model_copy(update={"operation_seq": existing.operation_seq + 1})
    deps.stacks.create(stack, event, audit)
    return _start(deps, stack, requested_by=principal.actor)


def existing_subnets(
    deps: StacksDeps, access: ConnectionAccess, spec: StackSpec
) -> dict[str, dict[str, str]]:
    """An existing VPC is checked as the customer's account describes it, before anything is made:
    a subnet that cannot host what was asked is a 422 naming its list and the reason."""
    network = spec.network
    if not isinstance(network, ExistingVpc):
        return {}
    subnets, route_tables = deps.customer.networks(access).describe_vpc(network.vpc_id)
    if not subnets:
        raise InvalidStackRequest(
            "network.vpc_id", f"{network.vpc_id} has no subnets in {access.region}, or does not exist"
        )
    try:
        facts = classify_subnets(subnets, route_tables)
    except ValueError as exc:
        raise InvalidStackRequest("network.vpc_id", str(exc)) from None
    problems = validate_existing_network(spec, facts)
    if problems:
        raise InvalidStackRequest(problems[0].field, "; ".join(f"{p.field}: {p.reason}" for p in problems))
    given = {*network.public_subnet_ids, *network.private_subnet_ids, *network.isolated_subnet_ids}
    return {sid: {k: str(v) for k, v in asdict(f).items()} for sid, f in facts.items() if sid in given}


def _start(deps: StacksDeps, stack: Stack, requested_by: str) -> Stack:
    try:
        arn = deps.workflow.start(
            execution_name(stack),
            {"org_id": stack.org_id, "stack_id": stack.stack_id, "seq": stack.operation_seq},
        )
    except Exception as exc:
        failed = deps.stacks.update(
            stack,
            expect_seq=stack.operation_seq,
            status=StackStatus.FAILED,
            reason="the workflow could not be started; nothing was done in your account, try again",
            event=StackEvent(
                at=deps.clock(),
                kind="failed",
                status=StackStatus.FAILED,
                message="the workflow could not be started",
                actor="workflow",
            ),
        )
        del failed
        raise ServiceUnavailable("the stack workflow could not be started; nothing was changed") from exc
    updated = deps.stacks.update(stack, expect_seq=stack.operation_seq, execution_arn=arn) or stack
    if stack.operation == "create":
        deps.events.publish([StackCreateRequested(**_event_ids(updated), requested_by=requested_by)])
    return updated


def get_stack(deps: StacksDeps, principal: Principal, stack_id: str) -> Stack:
    stack = deps.stacks.get(principal.org_id, stack_id)
    if stack is None:
        raise StackNotFound(f"no stack {stack_id}")
    return stack


def history(
    deps: StacksDeps, principal: Principal, stack_id: str, limit: int, before: str | None
) -> list[StackEvent]:
    get_stack(deps, principal, stack_id)
    return deps.stacks.history(principal.org_id, stack_id, limit, before)


def template(deps: StacksDeps, principal: Principal, stack_id: str) -> str:
    stack = get_stack(deps, principal, stack_id)
    if stack.template_key is None:
        raise StackNotFound(f"stack {stack_id} has no rendered template yet")
    body = deps.templates.get(stack.template_key)
    if body is None:
        raise StackNotFound(f"the template of stack {stack_id} is gone")
    return body


# --------------------------------------------------------------------------------------------------
# Workflow steps
# --------------------------------------------------------------------------------------------------


class StepOutdated(Exception):
    """The stack moved on to another operation: this execution's step has nothing to do."""


class ChangeSetFailed(Exception):
    """CloudFormation refused the change set (a template CloudFormation cannot apply, a quota...)."""


def _current(deps: StacksDeps, org_id: str, stack_id: str, seq: int) -> Stack:
    stack = deps.stacks.get(org_id, stack_id)
    if stack is None or stack.operation_seq != seq:
        raise StepOutdated(f"stack {stack_id} is no longer at operation {seq}")
    return stack


def _access(deps: StacksDeps, stack: Stack) -> ConnectionAccess:
    access = deps.connections.get(stack.org_id, stack.connection_id)
    if access is None or access.status != "CONNECTED":
        raise CustomerAccessDenied(
            f"the account connection {stack.connection_id} is "
            f"{'gone' if access is None else access.status.lower()}: reconnect the account"
        )
    return access


def start_change(deps: StacksDeps, org_id: str, stack_id: str, seq: int) -> dict[str, Any]:
    """Render, change set, execute (or delete). Returns what the wait needs."""
    stack = _current(deps, org_id, stack_id, seq)
    access = _access(deps, stack)
    customer = deps.customer.stacks(access)
    if stack.operation == "delete":
        if stack.cfn_stack_id:
            customer.delete(stack.cfn_stack_id)
        return {"wait_seconds": deps.wait_first_seconds, "waited": 0, "cfn_stack_id": stack.cfn_stack_id}
    body = deps.render(stack, access)
    key = f"stacks/{org_id}/{stack_id}/template-{seq}.json"
    deps.templates.put(key, body)
    kind = "UPDATE" if stack.operation == "update" and stack.cfn_stack_id else "CREATE"
    change_set = customer.create_change_set(
        stack.cfn_stack_id or stack.cfn_stack_name,
        f"stackpilot-{seq}",
        deps.templates.url(key),
        kind,
        {"stackpilot:stack-id": stack_id, "stackpilot:org-id": org_id, "stackpilot:stage": stack.stage},
    )
    deps.stacks.update(stack, expect_seq=seq, cfn_stack_id=change_set.stack_id, template_key=key)
    if change_set.empty:
        return {"wait_seconds": 0, "waited": 0, "cfn_stack_id": change_set.stack_id, "no_changes": True}
    if change_set.status != "CREATE_COMPLETE":
        raise ChangeSetFailed(change_set.reason or "CloudFormation refused the change set")
    customer.execute_change_set(change_set.change_set_id, change_set.stack_id)
    return {"wait_seconds": deps.wait_first_seconds, "waited": 0, "cfn_stack_id": change_set.stack_id}


def register_wait(deps: StacksDeps, org_id: str, stack_id: str, seq: int, token: str) -> None:
    """Keeps the task token where a forwarded status event finds it, then looks once: the stack may
    have settled before we got here (its event found no token)."""
    stack = _current(deps, org_id, stack_id, seq)
    stack = deps.stacks.update(stack, expect_seq=seq, wait_token=token) or stack
    if stack.cfn_stack_id is None:
        deps.workflow.resume(token, {"settled": True})
        return
    found = deps.customer.stacks(_access(deps, stack)).describe(stack.cfn_stack_id)
    if found is None or cfn.settled(found.status):
        _wake(deps, stack, token)


def _wake(deps: StacksDeps, stack: Stack, token: str) -> None:
    if deps.stacks.update(stack, expect_token=token, wait_token=None) is not None:
        deps.workflow.resume(token, {"settled": True})


def poll(
    deps: StacksDeps, org_id: str, stack_id: str, seq: int, waited: int, wait_seconds: int
) -> dict[str, Any]:
    """No event came within ``wait_seconds``: look, and if CloudFormation is still working, wait
    twice as long (up to the cap) for an event before looking again."""
    stack = _current(deps, org_id, stack_id, seq)
    waited += wait_seconds
    found = (
        deps.customer.stacks(_access(deps, stack)).describe(stack.cfn_stack_id)
        if stack.cfn_stack_id
        else None
    )
    if found is not None and not cfn.settled(found.status):
        _observe(deps, stack, found.status, found.reason, source="poll")
        if waited >= deps.give_up_seconds:
            return {"settled": True, "gave_up": True, "waited": waited, "wait_seconds": 0}
        return {
            "settled": False,
            "waited": waited,
            "wait_seconds": min(wait_seconds * 2, deps.wait_max_seconds),
        }
    return {"settled": True, "waited": waited, "wait_seconds": 0}


def finish(
    deps: StacksDeps, org_id: str, stack_id: str, seq: int, error: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Records how the operation ended: outputs, or the root cause; the event; the audit entry."""
    stack = _current(deps, org_id, stack_id, seq)
    if error is not None:
        return _fail(deps, stack, None, _error_reason(error), None)
    customer = deps.customer.stacks(_access(deps, stack))
    found = customer.describe(stack.cfn_stack_id) if stack.cfn_stack_id else None
    if found is None:
        if stack.operation == "delete":
            return _settle(deps, stack, StackStatus.DELETED, "DELETE_COMPLETE", "deleted", {})
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
        return _settle(
            deps, stack, StackStatus.READY, found.status, f"{stack.operation} complete", found.outputs
        )
    if verdict.outcome is cfn.Outcome.DELETED:
        return _settle(deps, stack, StackStatus.DELETED, found.status, "deleted", {})
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


def _error_reason(error: dict[str, Any]) -> str:
    kind = str(error.get("Error") or "")
    cause = str(error.get("Cause") or "")
    try:
        import json

        cause = str(json.loads(cause).get("errorMessage") or cause)
    except (ValueError, AttributeError):
        pass
    return f"{kind}: {cause}"[:1000] if cause else kind or "the workflow failed"


def _settle(
    deps: StacksDeps, stack: Stack, to: StackStatus, cfn_status: str, message: str, outputs: dict[str, str]
) -> dict[str, Any]:
    now = deps.clock()
    updated = deps.stacks.update(
        stack,
        expect_seq=stack.operation_seq,
        status=to,
        cfn_status=cfn_status,
        reason=None,
        failure=None,
        outputs=outputs,
        wait_token=None,
        updated_at=now,
        status_changed_at=now,
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
    events: list[StackEventBase] = [_status_changed(stack, to, cfn_status, "workflow")]
    if to is StackStatus.DELETED:
        events.append(StackDeleted(**_event_ids(stack)))
    else:
        events.append(StackReady(**_event_ids(stack), operation=stack.operation, outputs=outputs))
    deps.events.publish(events)
    return {"status": to.value}


def _fail(
    deps: StacksDeps,
    stack: Stack,
    cfn_status: str | None,
    reason: str,
    failure: FailedResource | None,
    health: StackStatus = StackStatus.FAILED,
) -> dict[str, Any]:
    now = deps.clock()
    updated = deps.stacks.update(
        stack,
        expect_seq=stack.operation_seq,
        status=health,
        cfn_status=cfn_status or stack.cfn_status,
        reason=reason,
        failure=failure,
        wait_token=None,
        updated_at=now,
        status_changed_at=now,
        event=StackEvent(
            at=now, kind="failed", status=health, cfn_status=cfn_status, message=reason, actor="workflow"
        ),
        audit=_outcome_audit(stack, "failed", reason, now),
    )
    if updated is None:
        raise StepOutdated(f"stack {stack.stack_id} moved on")
    deps.events.publish(
        [
            _status_changed(stack, health, cfn_status, "workflow"),
            StackFailed(
                **_event_ids(stack),
                operation=stack.operation,
                cfn_status=cfn_status,
                reason=reason,
                failed_resource=failure.logical_id if failure else None,
            ),
        ]
    )
    return {"status": health.value, "reason": reason}


def _outcome_audit(stack: Stack, result: Result, reason: str, now: Any) -> AuditDraft:
    return service_draft(
        org_id=stack.org_id,
        service="provision-stack",
        action=f"stack.{stack.operation}.outcome",
        target=f"stack:{stack.stack_id}",
        result=result,
        reason=reason[:500],
        time=now,
    )


# --------------------------------------------------------------------------------------------------
# Status from the customer's account (forwarded events, polls, the reconcile sweep)
# --------------------------------------------------------------------------------------------------


def on_status_event(
    deps: StacksDeps, account: str, region: str, cfn_stack_id: str, status: str, reason: str | None
) -> str:
    """A forwarded 'CloudFormation Stack Status Change'. Anyone may put such events on our bus, so
    the stack must be ours and the event's account the stack's own; otherwise it is ignored."""
    stack = deps.stacks.find_by_cfn_stack_id(cfn_stack_id)
    if stack is None:
        return "unknown stack"
    if stack.aws_account_id != account or stack.region != region or f":{account}:" not in cfn_stack_id:
        return "account mismatch"
    try:
        cfn.classify(status)
    except cfn.UnknownStatus:
        return "unknown status"
    _observe(deps, stack, status, reason, source="event")
    if cfn.settled(status) and stack.wait_token:
        _wake(deps, stack, stack.wait_token)
        return "resumed"
    return "recorded"


def _observe(deps: StacksDeps, stack: Stack, status: str, reason: str | None, source: str) -> None:
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
    deps.stacks.update(
        stack,
        cfn_status=status,
        status=our,
        updated_at=now,
        event=StackEvent(
            at=now,
            kind="status",
            status=our,
            cfn_status=status,
            message=f"{status}{': ' + reason if reason else ''}"[:500],
            actor=f"{source}",
        ),
    )
    deps.events.publish([_status_changed(stack, our, status, source)])


def _status_changed(stack: Stack, to: StackStatus, cfn_status: str | None, source: str) -> StackStatusChanged:
    return StackStatusChanged(
        **_event_ids(stack),
        status=to.value,
        previous_status=stack.status.value,
        cfn_status=cfn_status,
        source_of_truth=source,
    )


def _event_ids(stack: Stack) -> dict[str, Any]:
    return {
        "org_id": stack.org_id,
        "stack_id": stack.stack_id,
        "connection_id": stack.connection_id,
        "aws_account_id": stack.aws_account_id,
        "region": stack.region,
        "name": stack.name,
        "stage": stack.stage,
    }


def require_not_busy(stack: Stack) -> None:
    if stack.status in BUSY:
        raise StackConflict(f"stack {stack.stack_id} is {stack.status.lower()}; wait until it settles")


__all__ = ["CustomerAwsFailure", "StacksDeps", "request_create"]
