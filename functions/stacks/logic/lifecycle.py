"""Stack use cases: what the API asks for and what each step of the provision_stack workflow does.

A stack's record is the one truth stackpilot keeps: its spec (never secret values), where
CloudFormation is (``cfn_status``), what it means for the user (``status``), and its history. Each
operation (create, update, delete) has a sequence number; every step is conditional on it, so a
late or repeated step of an older operation changes nothing.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from pydantic import SecretStr

from functions.shared.logic.auditing import RequestInfo, Result, draft, service_draft
from functions.shared.models.audit import AuditDraft
from functions.shared.models.ids import stack_id_for
from functions.shared.models.principal import Principal, Role, require_role
from functions.stacks.exceptions import (
    ChangeSetFailed,
    ConnectionUnusable,
    CustomerAccessDenied,
    CustomerAwsFailure,
    InvalidStackRequest,
    ServiceUnavailable,
    StackConflict,
    StackNotFound,
    StepOutdated,
)
from functions.stacks.logic import status as cfn
from functions.stacks.logic.changes import ChangedSpec, apply_change, same_spec
from functions.stacks.logic.network import classify_subnets, validate_existing_network
from functions.stacks.logic.ports import (
    AuditRecorder,
    CfnStack,
    ChangeSet,
    Clock,
    ConnectionAccess,
    Connections,
    CustomerAccess,
    CustomerStacks,
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
from functions.stacks.models.spec import ExistingVpc, StackChange, StackSpec, secret_name
from functions.stacks.models.stack import BUSY, FailedResource, Operation, Stack, StackEvent, StackStatus


@dataclass(frozen=True)
class StacksDeps:
    stacks: StackRepository
    connections: Connections
    customer: CustomerAccess
    templates: Templates
    workflow: Workflow
    events: Publisher
    clock: Clock
    render: Callable[..., str]  # (stack, access, *, deletion_protection=True) -> template JSON
    audit: AuditRecorder
    wait_first_seconds: int = 10
    wait_max_seconds: int = 120
    give_up_seconds: int = 4 * 3600


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
    if existing is not None and not replaceable(existing):
        raise StackConflict(
            f"a stack named {stack.name!r} at stage {stack.stage!r} exists already as {stack_id}"
        )
    if existing is not None:  # deleted, or never made in the account: a new operation number, same id
        stack = stack.model_copy(update={"operation_seq": existing.operation_seq + 1})
    deps.stacks.create(stack, event, audit)
    if asked.container.secret_env:
        arns = _write_secrets(deps, stack, access, dict(asked.container.secret_env), restore=None)
        stack = deps.stacks.update(stack, expect_seq=stack.operation_seq, secret_arns=arns) or stack
    return _start(deps, stack, requested_by=principal.actor)


def _write_secrets(
    deps: StacksDeps,
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
    spec = StackSpec.model_validate(stack.spec, strict=False)
    tags = {"stackpilot:stack-id": stack.stack_id, "stackpilot:org-id": stack.org_id}
    try:
        for name in sorted(values):
            arns[name] = store.put(secret_name(spec, name), values[name], tags)
    except (CustomerAccessDenied, CustomerAwsFailure) as exc:
        # What was written is recorded, so a deletion of the stack finds it.
        keep = {} if restore is not None else {"secret_arns": arns}
        _abandon(deps, stack, restore, f"the secret environment values could not be written: {exc}", **keep)
        raise
    return arns


def _abandon(deps: StacksDeps, stack: Stack, restore: Stack | None, reason: str, **changes: Any) -> None:
    """An operation that ends before its workflow ran: a new stack is FAILED with the reason; a
    changed or deleted one goes back to how it was (its spec included: nothing was applied)."""
    back: dict[str, Any] = (
        {
            "status": restore.status,
            "operation": restore.operation,
            "cfn_status": restore.cfn_status,
            "spec": restore.spec,
            "secret_arns": restore.secret_arns,
        }
        if restore is not None
        else {"status": StackStatus.FAILED}
    )
    now = deps.clock()
    deps.stacks.update(
        stack,
        expect_seq=stack.operation_seq,
        reason=reason,
        updated_at=now,
        event=StackEvent(
            at=now, kind="failed", status=back["status"], message=reason[:500], actor="workflow"
        ),
        **(back | changes),
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
    health = cfn.classify(stack.cfn_status).health if stack.cfn_status else None
    if stack.cfn_stack_id is None or health is not cfn.Health.READY:
        raise StackConflict(
            f"stack {stack.stack_id} cannot be updated from {stack.cfn_status or 'no stack'}"
            f"{': ' + stack.reason if stack.reason else ''}; delete it and create it again"
        )


def _changed(
    deps: StacksDeps, principal: Principal, stack_id: str, change: StackChange
) -> tuple[Stack, ChangedSpec]:
    stack = get_stack(deps, principal, stack_id)
    _require_updatable(stack)
    return stack, apply_change(stack.spec, change)


def request_update(
    deps: StacksDeps, principal: Principal, stack_id: str, change: StackChange, info: RequestInfo
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
    access = _access(deps, stack)
    updated = _begin(
        deps,
        principal,
        info,
        stack,
        "update",
        _change_summary(stack.spec, changed),
        spec=changed.stored,
        secret_arns={k: v for k, v in stack.secret_arns.items() if k in changed.secret_names},
    )
    seq = updated.operation_seq
    if changed.write_secrets:
        arns = _write_secrets(deps, updated, access, changed.write_secrets, restore=stack)
        updated = deps.stacks.update(updated, expect_seq=seq, secret_arns=arns) or updated
    return _start(deps, updated, requested_by=principal.actor, restore=stack)


_BEGINS: dict[str, tuple[StackStatus, str]] = {
    "update": (StackStatus.UPDATING, "update requested"),
    "delete": (StackStatus.DELETING, "deletion requested"),
}


def _begin(
    deps: StacksDeps,
    principal: Principal,
    info: RequestInfo,
    stack: Stack,
    operation: Operation,
    audit_reason: str,
    **changes: Any,
) -> Stack:
    """The next operation claimed on a settled stack, its history line and its audit entry in one
    write, conditional on the stack being as it was read (a concurrent request gets the 409)."""
    status, message = _BEGINS[operation]
    now = deps.clock()
    updated = deps.stacks.update(
        stack,
        expect_seq=stack.operation_seq,
        expect_status=[stack.status],
        status=status,
        operation=operation,
        operation_seq=stack.operation_seq + 1,
        reason=None,
        failure=None,
        updated_at=now,
        status_changed_at=now,
        event=StackEvent(at=now, kind="requested", status=status, message=message, actor=principal.actor),
        audit=draft(
            principal,
            info,
            action=f"stack.{operation}",
            target=f"stack:{stack.stack_id}",
            time=now,
            reason=audit_reason,
        ),
        **changes,
    )
    if updated is None:
        raise StackConflict(f"stack {stack.stack_id} changed meanwhile; read it and try again")
    return updated


def _change_summary(before: dict[str, Any], changed: ChangedSpec) -> str:
    """Which fields the update changes (names only: never a value that might be sensitive)."""
    after = changed.stored
    fields = sorted(
        {f"{k}.{n}" for k in ("container", "database", "bastion") for n in _diff(before.get(k), after.get(k))}
        | {
            k
            for k in after.keys() | before.keys()
            if k not in ("container", "database", "bastion") and before.get(k) != after.get(k)
        }
        | {f"container.secret_env.{n}" for n in changed.write_secrets}
    )
    return "changes " + (", ".join(fields) if fields else "nothing")[:480]


def _diff(a: Any, b: Any) -> set[str]:
    if not isinstance(a, dict) or not isinstance(b, dict):
        return {"*"} if a != b else set()
    return {k for k in a.keys() | b.keys() if a.get(k) != b.get(k)}


def preview(
    deps: StacksDeps, principal: Principal, stack_id: str, change: StackChange, info: RequestInfo
) -> tuple[Stack, ChangeSet]:
    """The change set an update would make, made and described in the customer's account, then
    deleted: nothing changes (secret values are not written; a new secret name previews with a
    stand-in ARN)."""
    require_role(principal, Role.CONTRIBUTOR, "previewing a change")
    stack, changed = _changed(deps, principal, stack_id, change)
    access = _access(deps, stack)
    spec = changed.spec
    stand_in = {
        name: f"arn:aws:secretsmanager:{stack.region}:{stack.aws_account_id}:secret:"
        f"{secret_name(spec, name)}-PREVIW"  # Secrets Manager's 6-character suffix, visibly a stand-in
        for name in changed.secret_names - set(stack.secret_arns)
    }
    arns = {k: v for k, v in stack.secret_arns.items() if k in changed.secret_names} | stand_in
    body = deps.render(stack.model_copy(update={"spec": changed.stored, "secret_arns": arns}), access)
    key = f"stacks/{stack.org_id}/{stack_id}/preview-{secrets.token_hex(8)}.json"
    deps.templates.put(key, body)
    customer = deps.customer.stacks(access)
    assert stack.cfn_stack_id is not None  # _require_updatable
    change_set = customer.create_change_set(
        stack.cfn_stack_id,
        f"stackpilot-preview-{secrets.token_hex(6)}",
        deps.templates.url(key),
        "UPDATE",
        {"stackpilot:stack-id": stack_id, "stackpilot:org-id": stack.org_id, "stackpilot:stage": stack.stage},
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
            reason=_change_summary(stack.spec, changed),
        )
    )
    return stack, change_set


def request_delete(deps: StacksDeps, principal: Principal, stack_id: str, info: RequestInfo) -> Stack:
    """DELETE: the delete_stack workflow (deletion protection off first when there is a database;
    RDS still takes its final snapshot). Its app secrets go once the stack is gone."""
    require_role(principal, Role.CONTRIBUTOR, "deleting a stack")
    stack = get_stack(deps, principal, stack_id)
    _require_settled(stack)
    if stack.cfn_stack_id is not None:
        _access(deps, stack)  # a 424 now, rather than a workflow that cannot reach the account
    reason = f"{stack.cfn_stack_name} in {stack.aws_account_id}/{stack.region}"
    updated = _begin(deps, principal, info, stack, "delete", reason)
    return _start(deps, updated, requested_by=principal.actor, restore=stack)


def replaceable(stack: Stack) -> bool:
    """A record a new creation may take over: the stack was deleted, or its creation failed before
    anything was made in the account (its secrets could not be written, its workflow not started) -
    the user's retry of the same POST is then a new attempt, not a 409."""
    return stack.status is StackStatus.DELETED or (
        stack.status is StackStatus.FAILED and stack.cfn_stack_id is None
    )


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


def _start(deps: StacksDeps, stack: Stack, requested_by: str, restore: Stack | None = None) -> Stack:
    try:
        arn = deps.workflow.start(
            "delete" if stack.operation == "delete" else "provision",
            execution_name(stack),
            {"org_id": stack.org_id, "stack_id": stack.stack_id, "seq": stack.operation_seq},
        )
    except Exception as exc:  # the adapter's failure, whatever its kind: nothing ran in the account
        _abandon(deps, stack, restore, "the workflow could not be started; nothing was done in your account")
        raise ServiceUnavailable(
            "the stack workflow could not be started; nothing was changed, try again"
        ) from exc
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
        return _start_delete(deps, stack, access)
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


def _start_delete(deps: StacksDeps, stack: Stack, access: ConnectionAccess) -> dict[str, Any]:
    """A stack with a database is first updated with deletion protection off (phase "unprotect"),
    then deleted (phase "delete"); without one, or when it cannot be updated any more, deleted now."""
    nothing = {"wait_seconds": 0, "waited": 0, "phase": "delete"}
    if stack.cfn_stack_id is None:
        return nothing
    customer = deps.customer.stacks(access)
    found = customer.describe(stack.cfn_stack_id)
    if found is None or cfn.classify(found.status).outcome is cfn.Outcome.DELETED:
        return nothing
    verdict = cfn.classify(found.status)
    if stack.spec.get("database") and verdict.health is cfn.Health.READY:
        body = deps.render(stack, access, deletion_protection=False)
        key = f"stacks/{stack.org_id}/{stack.stack_id}/template-{stack.operation_seq}-unprotected.json"
        deps.templates.put(key, body)
        change_set = customer.create_change_set(
            stack.cfn_stack_id,
            f"stackpilot-{stack.operation_seq}-unprotect",
            deps.templates.url(key),
            "UPDATE",
            {
                "stackpilot:stack-id": stack.stack_id,
                "stackpilot:org-id": stack.org_id,
                "stackpilot:stage": stack.stage,
            },
        )
        if not change_set.empty:
            if change_set.status != "CREATE_COMPLETE":
                raise ChangeSetFailed(
                    "deletion protection could not be turned off: "
                    + (change_set.reason or "CloudFormation refused the change set")
                )
            customer.execute_change_set(change_set.change_set_id, change_set.stack_id)
            return {"wait_seconds": deps.wait_first_seconds, "waited": 0, "phase": "unprotect"}
    customer.delete(stack.cfn_stack_id)
    return {"wait_seconds": deps.wait_first_seconds, "waited": 0, "phase": "delete"}


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
        wake(deps, stack, token)


def wake(deps: StacksDeps, stack: Stack, token: str) -> None:
    if deps.stacks.update(stack, expect_token=token, wait_token=None) is not None:
        deps.workflow.resume(token, {"settled": True})


def poll(
    deps: StacksDeps,
    org_id: str,
    stack_id: str,
    seq: int,
    waited: int,
    wait_seconds: int,
    phase: str | None = None,
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
        observe(deps, stack, found.status, found.reason, source="poll")
        if waited >= deps.give_up_seconds:
            return {"settled": True, "gave_up": True, "waited": waited, "wait_seconds": 0, "phase": phase}
        return {
            "settled": False,
            "waited": waited,
            "wait_seconds": min(wait_seconds * 2, deps.wait_max_seconds),
            "phase": phase,
        }
    return {"settled": True, "waited": waited, "wait_seconds": 0, "phase": phase}


def finish(
    deps: StacksDeps,
    org_id: str,
    stack_id: str,
    seq: int,
    error: dict[str, Any] | None = None,
    phase: str | None = None,
) -> dict[str, Any]:
    """Records how the operation ended: outputs, or the root cause; the event; the audit entry. For a
    deletion whose protection-off update completed, starts the deletion itself and says to go on."""
    stack = _current(deps, org_id, stack_id, seq)
    if error is not None:
        health = StackStatus.READY if phase == "unprotect" else StackStatus.FAILED
        return _fail(deps, stack, None, _error_reason(error), None, health=health)
    access = _access(deps, stack)
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
        return _settle(
            deps, stack, StackStatus.READY, found.status, f"{stack.operation} complete", found.outputs
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


def _after_unprotect(
    deps: StacksDeps, stack: Stack, found: CfnStack, customer: CustomerStacks
) -> dict[str, Any]:
    verdict = cfn.classify(found.status)
    if verdict.outcome is cfn.Outcome.SUCCEEDED:
        customer.delete(found.stack_id)
        return {
            "status": stack.status.value,
            "continue": True,
            "wait_seconds": deps.wait_first_seconds,
            "waited": 0,
            "phase": "delete",
        }
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


def _deleted(deps: StacksDeps, stack: Stack, access: ConnectionAccess, cfn_status: str) -> dict[str, Any]:
    """The stack is gone: its app secrets go too (Secrets Manager keeps them 7 days, recoverable)."""
    if stack.secret_arns:
        store = deps.customer.secrets(access)
        for arn in sorted(stack.secret_arns.values()):
            store.delete(arn)
    return _settle(deps, stack, StackStatus.DELETED, cfn_status, "deleted", {})


#: Errors whose message is written for the user (ours, and Step Functions' own); any other error's
#: message is an internal detail and stays in our logs.
_TOLD_ERRORS = frozenset({"CustomerAccessDenied", "CustomerAwsFailure", "ChangeSetFailed"})
_STOPPED = "stackpilot stopped this operation (the reconcile sweep keeps the status current); try again"


def _error_reason(error: dict[str, Any]) -> str:
    kind = str(error.get("Error") or "")
    cause = str(error.get("Cause") or "")
    try:
        import json

        cause = str(json.loads(cause).get("errorMessage") or cause)
    except (ValueError, AttributeError):
        pass
    if kind in _TOLD_ERRORS and cause:
        return cause[:1000]
    if kind.startswith("States.") or kind.startswith("Lambda."):
        return f"the workflow could not go on ({kind}); {_STOPPED}"
    return f"internal error while changing the stack ({kind or 'unknown'}); {_STOPPED}"


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


def observe(deps: StacksDeps, stack: Stack, status: str, reason: str | None, source: str) -> None:
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
        expect_seq=stack.operation_seq,
        expect_status=[stack.status],
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
    if recorded is None:
        return  # the stack moved on meanwhile (an outcome, another operation): this look is stale
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
