"""What the stacks API asks for: create, change (with its preview), delete, and read stacks.

A request that changes a stack claims its next operation, writes its history line and its audit
entry in one conditional write, then starts the operation's workflow; one that ends before its
workflow runs leaves the stack as it was (a new stack FAILED), with the reason.
"""

from __future__ import annotations

import contextlib
import secrets
from dataclasses import asdict, dataclass
from typing import Any

from pydantic import SecretStr

from functions.shared.logic.auditing import RequestInfo, draft
from functions.shared.models.ids import stack_id_for
from functions.shared.models.principal import Principal, Role, require_role
from functions.stacks.exceptions import (
    ConnectionUnusable,
    CustomerAccessDenied,
    CustomerAwsFailure,
    InvalidStackRequest,
    ServiceUnavailable,
    StackConflict,
    StackNotFound,
)
from functions.stacks.logic import change_sets
from functions.stacks.logic import status as cfn
from functions.stacks.logic.changes import ChangedSpec, apply_change, change_summary, same_spec
from functions.stacks.logic.network import classify_subnets, validate_existing_network
from functions.stacks.logic.ports import (
    AuditRecorder,
    Clock,
    ConnectionAccess,
    Connections,
    CustomerAccess,
    Publisher,
    Render,
    StackRepository,
    Templates,
    Workflow,
)
from functions.stacks.logic.records import event_ids, execution_name, operation_input, reachable
from functions.stacks.models.api import StackPreview
from functions.stacks.models.events import StackCreateRequested
from functions.stacks.models.spec import ExistingVpc, StackChange, StackSpec, masked, secret_name
from functions.stacks.models.stack import (
    BUSY,
    Operation,
    Precondition,
    Stack,
    StackChanges,
    StackEvent,
    StackStatus,
)


@dataclass(frozen=True)
class RequestDeps:
    stacks: StackRepository
    connections: Connections
    customer: CustomerAccess
    templates: Templates
    provision: Workflow  # provision_stack: creations and updates
    deletion: Workflow  # delete_stack
    audit: AuditRecorder
    events: Publisher
    clock: Clock
    render: Render


def usable_connection(
    deps: RequestDeps, principal: Principal, connection_id: str, region: str
) -> ConnectionAccess:
    access = deps.connections.get(principal.org_id, connection_id)
    if access is None:
        raise ConnectionUnusable("connection_id", "no such connection in your org")
    if access.status != "CONNECTED":
        raise ConnectionUnusable("connection_id", f"the connection is {access.status.lower()}, not connected")
    if access.region != region:
        raise ConnectionUnusable("region", f"the connection is for {access.region}; stacks go in its region")
    return access


def request_create(deps: RequestDeps, principal: Principal, asked: StackSpec, info: RequestInfo) -> Stack:
    require_role(principal, Role.CONTRIBUTOR, "creating a stack")
    access = usable_connection(deps, principal, asked.connection_id, asked.region)
    subnets = existing_subnets(deps, access, asked)
    now = deps.clock()
    stack_id = stack_id_for(principal.org_id, access.connection_id, access.region, asked.name, asked.stage)
    stack = Stack(
        org_id=principal.org_id,
        stack_id=stack_id,
        connection_id=access.connection_id,
        aws_account_id=access.aws_account_id,
        region=access.region,
        name=asked.name,
        stage=asked.stage,
        cfn_stack_name=asked.stack_name,
        spec=masked(asked),  # secret values go to the customer's Secrets Manager, never to us
        subnets=subnets,
        status=StackStatus.CREATING,
        operation="create",
        operation_seq=1,
        created_by=principal.actor,
        created_at=now,
        updated_at=now,
        status_changed_at=now,
    )
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
    stack = stack.model_copy(update={"execution_arn": deps.provision.execution_arn(execution_name(stack))})
    if not deps.stacks.create(stack, event, audit):
        # The id is taken: by a stack the user may create again (deleted, or failed before anything
        # was made in the account), as a new operation of the same id; or by a live one, a 409.
        existing = deps.stacks.get(principal.org_id, stack_id)
        if existing is None or not replaceable(existing):
            raise StackConflict(
                f"a stack named {stack.name!r} at stage {stack.stage!r} exists already as {stack_id}"
            )
        stack = stack.model_copy(update={"operation_seq": existing.operation_seq + 1})
        stack = stack.model_copy(
            update={"execution_arn": deps.provision.execution_arn(execution_name(stack))}
        )
        if not deps.stacks.create(stack, event, audit, replaces=existing):
            raise StackConflict(f"stack {stack_id} changed meanwhile; read it and try again")
    if asked.container.secret_env:
        arns = _write_secrets(deps, stack, access, dict(asked.container.secret_env), restore=None)
        stack = (
            deps.stacks.update(
                stack, StackChanges(secret_arns=arns), expect=Precondition(seq=stack.operation_seq)
            )
            or stack
        )
    _announce(deps, stack, principal.actor)
    return _start(deps, stack)


def _announce(deps: RequestDeps, stack: Stack, requested_by: str) -> None:
    """StackCreateRequested goes out before the workflow starts, from here, once. Published any later
    (once the stack is in fact CREATING), a failure to publish could only be swallowed - the event
    lost - or answered as an error for a stack being created; from the workflow, a retried step
    would publish it again. Here a failure ends the creation before anything ran: FAILED with the
    reason, a 503 to try again, nothing made in the account."""
    try:
        deps.events.publish([StackCreateRequested(**event_ids(stack), requested_by=requested_by)])
    except Exception as exc:  # the publisher's failure, whatever its kind: the workflow was not started
        _abandon(deps, stack, None, "the stack could not be announced; nothing was done in your account")
        raise ServiceUnavailable(
            "the stack creation could not be announced; nothing was changed, try again", audited=True
        ) from exc


def _write_secrets(
    deps: RequestDeps,
    stack: Stack,
    access: ConnectionAccess,
    values: dict[str, SecretStr],
    restore: Stack | None,
) -> dict[str, str]:
    """Writes each value straight into the customer's Secrets Manager; returns all the stack's secret
    ARNs. On failure the operation ends before it started: a new stack FAILED, a changed one back
    where it was (``restore``), with the reason - and the error goes to the caller."""
    store = deps.customer.secrets(access)
    arns = dict(stack.secret_arns)
    tags = {"stackpilot:stack-id": stack.stack_id, "stackpilot:org-id": stack.org_id}
    try:
        for name in sorted(values):
            arns[name] = store.put(secret_name(stack.spec, name), values[name], tags)
    except (CustomerAccessDenied, CustomerAwsFailure) as exc:
        # What was written is recorded, so a deletion of the stack finds it.
        keep = StackChanges() if restore is not None else StackChanges(secret_arns=arns)
        _abandon(deps, stack, restore, f"the secret environment values could not be written: {exc}", keep)
        raise
    return arns


def _abandon(
    deps: RequestDeps, stack: Stack, restore: Stack | None, reason: str, also: StackChanges | None = None
) -> None:
    """An operation that ends before its workflow ran: a new stack is FAILED with the reason; a
    changed or deleted one goes back to how it was (its spec included: nothing was applied)."""
    now = deps.clock()
    back: dict[str, Any] = (
        {
            "status": restore.status,
            "operation": restore.operation,
            "cfn_status": restore.cfn_status,
            "spec": restore.spec,
            "secret_arns": restore.secret_arns,
            "retired_secret_arns": restore.retired_secret_arns,
        }
        if restore is not None
        else {"status": StackStatus.FAILED}
    )
    deps.stacks.update(
        stack,
        StackChanges(reason=reason, updated_at=now, **(back | (also.given() if also else {}))),
        expect=Precondition(seq=stack.operation_seq),
        event=StackEvent(
            at=now, kind="failed", status=back["status"], message=reason[:500], actor="workflow"
        ),
    )


def require_not_busy(stack: Stack) -> None:
    if stack.status in BUSY:
        raise StackConflict(f"stack {stack.stack_id} is {stack.status.lower()}; wait until it settles")


def _require_settled(stack: Stack) -> None:
    if stack.status is StackStatus.DELETED:
        raise StackConflict(f"stack {stack.stack_id} is deleted; create it again instead")
    require_not_busy(stack)


def _require_updatable(stack: Stack) -> None:
    _require_settled(stack)
    verdict = cfn.classify(stack.cfn_status) if stack.cfn_status else None
    if verdict is not None and verdict.outcome is cfn.Outcome.RUNNING:
        # An operation that ended without seeing CloudFormation settle (its account unreachable):
        # the reconcile sweep records where it ends.
        raise StackConflict(
            f"stack {stack.stack_id} was last seen at {stack.cfn_status}; try again once CloudFormation "
            "has settled (the reconcile sweep keeps its status current)"
        )
    if stack.cfn_stack_id is None or verdict is None or verdict.health is not cfn.Health.READY:
        raise StackConflict(
            f"stack {stack.stack_id} cannot be updated from {stack.cfn_status or 'no stack'}"
            f"{': ' + stack.reason if stack.reason else ''}; delete it and create it again"
        )


def _changed(
    deps: RequestDeps, principal: Principal, stack_id: str, change: StackChange
) -> tuple[Stack, ChangedSpec]:
    stack = get_stack(deps, principal, stack_id)
    try:
        _require_updatable(stack)
    except StackConflict:
        if stack.status not in BUSY and stack.status is not StackStatus.DELETED:
            reachable(deps.connections, stack)  # an account that refuses us is what to act on first
        raise
    return stack, apply_change(stack.spec, change)


def request_update(
    deps: RequestDeps, principal: Principal, stack_id: str, change: StackChange, info: RequestInfo
) -> Stack:
    """PATCH: the change merged over the stack's spec, validated whole, then the same change-set
    workflow as a creation. Nothing to change answers the stack as it is (202), no workflow."""
    require_role(principal, Role.CONTRIBUTOR, "changing a stack")
    stack, changed = _changed(deps, principal, stack_id, change)
    if same_spec(stack.spec, changed) and not changed.removed_secrets:
        deps.audit.record(
            draft(
                principal,
                info,
                action="stack.update",
                target=f"stack:{stack_id}",
                time=deps.clock(),
                reason="changes nothing: no workflow started",
            )
        )
        return stack
    access = reachable(deps.connections, stack)
    updated = _begin(
        deps,
        principal,
        info,
        stack,
        "update",
        change_summary(stack.spec, changed),
        StackChanges(
            spec=changed.stored,
            secret_arns={k: v for k, v in stack.secret_arns.items() if k in changed.secret_names},
            retired_secret_arns=_retired(stack, changed),
        ),
    )
    seq = updated.operation_seq
    if changed.write_secrets:
        arns = _write_secrets(deps, updated, access, changed.write_secrets, restore=stack)
        updated = (
            deps.stacks.update(updated, StackChanges(secret_arns=arns), expect=Precondition(seq=seq))
            or updated
        )
    return _start(deps, updated, restore=stack)


def _retired(stack: Stack, changed: ChangedSpec) -> dict[str, str]:
    """The secrets the change takes out of the spec, with those an earlier change took out and not
    yet deleted: deleted once the change has settled (steps._retire_secrets), not before. A name the
    change brings back is not retired: its secret is written again and used."""
    out = stack.retired_secret_arns | {
        k: v for k, v in stack.secret_arns.items() if k in changed.removed_secrets
    }
    return {k: v for k, v in out.items() if k not in changed.secret_names}


_BEGINS: dict[str, tuple[StackStatus, str]] = {
    "update": (StackStatus.UPDATING, "update requested"),
    "delete": (StackStatus.DELETING, "deletion requested"),
}


def _begin(
    deps: RequestDeps,
    principal: Principal,
    info: RequestInfo,
    stack: Stack,
    operation: Operation,
    audit_reason: str,
    also: StackChanges | None = None,
) -> Stack:
    """The next operation claimed on a settled stack, its history line and its audit entry in one
    write, conditional on the stack being as it was read (a concurrent request gets the 409)."""
    status, message = _BEGINS[operation]
    now = deps.clock()
    workflow = deps.deletion if operation == "delete" else deps.provision
    claim = StackChanges(
        status=status,
        operation=operation,
        operation_seq=stack.operation_seq + 1,
        execution_arn=workflow.execution_arn(f"{stack.stack_id}-{stack.operation_seq + 1}"),
        reason=None,
        failure=None,
        updated_at=now,
        status_changed_at=now,
        **(also.given() if also is not None else {}),
    )
    updated = deps.stacks.update(
        stack,
        claim,
        expect=Precondition(seq=stack.operation_seq, statuses=(stack.status,)),
        event=StackEvent(at=now, kind="requested", status=status, message=message, actor=principal.actor),
        audit=draft(
            principal,
            info,
            action=f"stack.{operation}",
            target=f"stack:{stack.stack_id}",
            time=now,
            reason=audit_reason,
        ),
    )
    if updated is None:
        raise StackConflict(f"stack {stack.stack_id} changed meanwhile; read it and try again")
    return updated


def preview(
    deps: RequestDeps, principal: Principal, stack_id: str, change: StackChange, info: RequestInfo
) -> StackPreview:
    """The change set an update would make, made and described in the customer's account, then
    deleted: nothing changes (secret values are not written; a new secret name previews with a
    stand-in ARN)."""
    require_role(principal, Role.CONTRIBUTOR, "previewing a change")
    stack, changed = _changed(deps, principal, stack_id, change)
    access = reachable(deps.connections, stack)
    # Secrets Manager's 6-character suffix, visibly a stand-in.
    stand_in = {
        name: f"arn:aws:secretsmanager:{stack.region}:{stack.aws_account_id}:secret:"
        f"{secret_name(changed.spec, name)}-PREVIW"
        for name in changed.secret_names - set(stack.secret_arns)
    }
    arns = {k: v for k, v in stack.secret_arns.items() if k in changed.secret_names} | stand_in
    customer = deps.customer.stacks(access)
    change_set = change_sets.make(
        deps.templates,
        customer,
        stack,
        template=deps.render(stack.model_copy(update={"spec": changed.stored, "secret_arns": arns}), access),
        key=f"stacks/{stack.org_id}/{stack_id}/preview-{secrets.token_hex(8)}.json",
        name=f"stackpilot-preview-{secrets.token_hex(6)}",
    )
    # An unexecuted change set is inert, and CloudFormation removes it with the next executed one:
    # the preview's answer is worth more than a 503 for its cleanup.
    with contextlib.suppress(CustomerAccessDenied, CustomerAwsFailure):
        customer.delete_change_set(change_set.change_set_id)
    deps.audit.record(
        draft(
            principal,
            info,
            action="stack.preview",
            target=f"stack:{stack_id}",
            time=deps.clock(),
            reason=change_summary(stack.spec, changed),
        )
    )
    return StackPreview.of(stack.stack_id, change_set)


def request_delete(deps: RequestDeps, principal: Principal, stack_id: str, info: RequestInfo) -> Stack:
    """DELETE: the delete_stack workflow (deletion protection off first when there is a database;
    RDS still takes its final snapshot). Its app secrets go once the stack is gone."""
    require_role(principal, Role.CONTRIBUTOR, "deleting a stack")
    stack = get_stack(deps, principal, stack_id)
    _require_settled(stack)
    if stack.cfn_stack_id is not None:
        reachable(deps.connections, stack)  # a 424 now, rather than a workflow that cannot reach the account
    reason = f"{stack.cfn_stack_name} in {stack.aws_account_id}/{stack.region}"
    updated = _begin(deps, principal, info, stack, "delete", reason)
    return _start(deps, updated, restore=stack)


def replaceable(stack: Stack) -> bool:
    """A record a new creation may take over: the stack was deleted, or its creation failed before
    anything was made in the account (its secrets could not be written, its workflow not started) -
    the user's retry of the same POST is then a new attempt, not a 409."""
    return stack.status is StackStatus.DELETED or (
        stack.status is StackStatus.FAILED and stack.cfn_stack_id is None
    )


def existing_subnets(
    deps: RequestDeps, access: ConnectionAccess, spec: StackSpec
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


def _start(deps: RequestDeps, stack: Stack, restore: Stack | None = None) -> Stack:
    """Starts the operation's workflow. Its execution's ARN is known before (executions are named by
    operation), so it was written with the operation: nothing is written after the start."""
    workflow = deps.deletion if stack.operation == "delete" else deps.provision
    try:
        workflow.start(execution_name(stack), operation_input(stack))
    except Exception as exc:  # the adapter's failure, whatever its kind: nothing ran in the account
        _abandon(deps, stack, restore, "the workflow could not be started; nothing was done in your account")
        # The request's audit entry went with the operation's claim: its refusal adds no second one.
        raise ServiceUnavailable(
            "the stack workflow could not be started; nothing was changed, try again", audited=True
        ) from exc
    return stack


def get_stack(deps: RequestDeps, principal: Principal, stack_id: str) -> Stack:
    stack = deps.stacks.get(principal.org_id, stack_id)
    if stack is None:
        raise StackNotFound(f"no stack {stack_id}")
    return stack


def list_stacks(deps: RequestDeps, principal: Principal) -> list[Stack]:
    return deps.stacks.list_for_org(principal.org_id)


def history(
    deps: RequestDeps, principal: Principal, stack_id: str, limit: int, before: str | None
) -> list[StackEvent]:
    get_stack(deps, principal, stack_id)
    return deps.stacks.history(principal.org_id, stack_id, limit, before)


def template(deps: RequestDeps, principal: Principal, stack_id: str) -> str:
    stack = get_stack(deps, principal, stack_id)
    if stack.template_key is None:
        raise StackNotFound(f"stack {stack_id} has no rendered template yet")
    body = deps.templates.get(stack.template_key)
    if body is None:
        raise StackNotFound(f"the template of stack {stack_id} is gone")
    return body
