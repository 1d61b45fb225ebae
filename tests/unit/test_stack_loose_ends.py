"""Loose ends a user would hit, with in-memory fakes: an event that cannot be published, a workflow
that cannot start, a Finish whose events fail after its outcome is written, and the secrets a change
takes out of the spec (deleted once it settled, kept if it rolled back)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from pydantic import SecretStr

from functions.shared.logic.auditing import RequestInfo
from functions.shared.models.events import DomainEvent
from functions.shared.models.principal import Principal, Role
from functions.shared.models.workflow import StepError
from functions.stacks.exceptions import CustomerAccessDenied, ServiceUnavailable, StackConflict, StepOutdated
from functions.stacks.logic import requests, steps
from functions.stacks.logic.ports import ConnectionAccess
from functions.stacks.models.customer import CfnStack
from functions.stacks.models.spec import StackChange, StackSpec
from functions.stacks.models.stack import StackStatus
from tests.fakes.accounts import FakeClock, RecordingEvents
from tests.fakes.stacks import ACCOUNT, FakeConnections, FakeStackWithAccess, FakeWorkflow, InMemoryStacks
from tests.unit.stacks_builders import CONN, ORG, stack

PRINCIPAL = Principal(org_id=ORG, role=Role.CONTRIBUTOR, user_id="cora")
INFO = RequestInfo(request_id="req-1", source="127.0.0.1")
SPEC = {
    "connection_id": CONN,
    "region": "us-east-1",
    "name": "shop",
    "stage": "dev",
    "container": {"image": "public.ecr.aws/nginx/nginx:1.27"},
}


@dataclass
class Starts:
    """A state machine: records each start (and what was published before it), or refuses."""

    events: RecordingEvents
    down: bool = False
    started: list[tuple[str, dict[str, Any], int]] = field(default_factory=list)

    def start(self, name: str, payload: dict[str, Any]) -> str:
        if self.down:
            raise RuntimeError("Step Functions unavailable")
        self.started.append((name, payload, len(self.events.published)))
        return self.execution_arn(name)

    def execution_arn(self, name: str) -> str:
        return f"arn:aws:states:us-east-1:123456789012:execution:provision-stack:{name}"

    def resume(self, token: str, output: dict[str, Any]) -> bool:
        return True


class DownEvents(RecordingEvents):
    def publish(self, events: Sequence[DomainEvent]) -> None:
        raise RuntimeError("EventBridge unavailable")


@dataclass
class SecretsStore:
    deleted: list[str] = field(default_factory=list)
    written: dict[str, str] = field(default_factory=dict)

    def put(self, name: str, value: SecretStr, tags: dict[str, str]) -> str:
        self.written[name] = value.get_secret_value()
        return f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:{name}-AbCdEf"

    def delete(self, arn: str) -> None:
        self.deleted.append(arn)


@dataclass
class Account:
    """The customer's account as Finish sees it: the stack at one status, and its secrets."""

    status: str = "UPDATE_COMPLETE"
    store: SecretsStore = field(default_factory=SecretsStore)

    def stacks(self, access: ConnectionAccess) -> Account:
        return self

    def secrets(self, access: ConnectionAccess) -> SecretsStore:
        return self.store

    def describe(self, stack_id: str) -> CfnStack:
        return CfnStack(stack_id=stack_id, status=self.status, reason=None, outputs={})

    def events(self, stack_id: str) -> list[dict[str, Any]]:
        return []


def _request_deps(
    stacks: InMemoryStacks, events: RecordingEvents, workflow: Starts, account: Account | None = None
) -> requests.RequestDeps:
    connections = FakeConnections()
    connections.add(ORG, CONN)
    return requests.RequestDeps(
        stacks=stacks,
        connections=connections,
        customer=account or Account(),  # type: ignore[arg-type]
        templates=None,  # type: ignore[arg-type]
        provision=workflow,
        deletion=workflow,
        audit=None,  # type: ignore[arg-type]  # every entry here goes with its change
        events=events,
        clock=FakeClock(),
        render=lambda *a, **k: "",
    )


def _step_deps(stacks: InMemoryStacks, account: Account, events: RecordingEvents) -> steps.StepDeps:
    connections = FakeConnections()
    connections.add(ORG, CONN)
    return steps.StepDeps(
        stacks=stacks,
        reads=FakeStackWithAccess(stacks, connections),
        customer=account,  # type: ignore[arg-type]
        templates=None,  # type: ignore[arg-type]
        workflow=FakeWorkflow(),
        events=events,
        clock=FakeClock(),
        render=lambda *a, **k: "",
    )


def test_stack_create_requested_goes_out_once_before_the_workflow_starts() -> None:
    stacks, events = InMemoryStacks(), RecordingEvents()
    workflow = Starts(events)
    created = requests.request_create(
        _request_deps(stacks, events, workflow), PRINCIPAL, StackSpec.model_validate(SPEC), INFO
    )
    assert events.types() == ["StackCreateRequested"]
    # published before the start: nothing after the start can fail the request
    [(name, payload, published_before)] = workflow.started
    assert published_before == 1
    # AND the execution's ARN was written with the stack: nothing is written after the start
    assert name == f"{created.stack_id}-1" and created.execution_arn == workflow.execution_arn(name)
    assert payload == {"org_id": ORG, "stack_id": created.stack_id, "seq": 1, "connection_id": CONN}
    assert stacks.calls["update"] == 0 and len(stacks.audit_entries) == 1


def test_an_event_that_cannot_be_published_ends_the_creation_before_anything_ran() -> None:
    stacks, events = InMemoryStacks(), DownEvents()
    workflow = Starts(events)
    with pytest.raises(ServiceUnavailable) as refused:
        requests.request_create(
            _request_deps(stacks, events, workflow), PRINCIPAL, StackSpec.model_validate(SPEC), INFO
        )
    # THEN no workflow started, the stack is FAILED with the reason, and creating it again is allowed
    assert workflow.started == []
    [failed] = stacks.items.values()
    assert failed.status is StackStatus.FAILED and "could not be announced" in (failed.reason or "")
    assert requests.replaceable(failed)
    # AND the request's one audit entry is the one written with its change: the refusal adds none
    assert refused.value.audited and len(stacks.audit_entries) == 1
    # AND the same request, retried once EventBridge is back, creates it
    events_back = RecordingEvents()
    again = requests.request_create(
        _request_deps(stacks, events_back, Starts(events_back)),
        PRINCIPAL,
        StackSpec.model_validate(SPEC),
        INFO,
    )
    assert again.status is StackStatus.CREATING and again.operation_seq == 2


@pytest.mark.parametrize("operation", ["create", "update", "delete"])
def test_a_workflow_that_cannot_start_leaves_one_audit_entry(operation: str) -> None:
    stacks, events = InMemoryStacks(), RecordingEvents()
    deps = _request_deps(stacks, events, Starts(events, down=True))
    if operation != "create":
        stacks.put(stack("shop"))
    with pytest.raises(ServiceUnavailable) as refused:
        if operation == "create":
            requests.request_create(deps, PRINCIPAL, StackSpec.model_validate(SPEC), INFO)
        elif operation == "update":
            change = StackChange.model_validate({"container": {"desired_count": 3}})
            requests.request_update(deps, PRINCIPAL, "stk_shop", change, INFO)
        else:
            requests.request_delete(deps, PRINCIPAL, "stk_shop", INFO)
    # THEN the entry written with the operation's claim is the request's only one (the answer says
    # so, and the REST layer records no refusal for it: tests/unit/test_rest_audited_failures.py)
    assert refused.value.audited
    assert [d.action for d in stacks.audit_entries] == [f"stack.{operation}"]


def test_a_finish_whose_events_fail_after_its_outcome_never_turns_the_stack_failed() -> None:
    stacks = InMemoryStacks()
    stacks.put(stack("shop", StackStatus.CREATING, "CREATE_IN_PROGRESS"))
    deps = _step_deps(stacks, Account(status="CREATE_COMPLETE"), DownEvents())
    # WHEN Finish writes READY, then cannot publish its events
    with pytest.raises(RuntimeError):
        steps.finish(deps, ORG, "stk_shop", 1, connection_id=CONN)
    # AND the workflow records that failure (RecordFailure), or retries Finish
    error = StepError(Error="RuntimeError", Cause="EventBridge unavailable")
    with pytest.raises(StepOutdated):
        steps.finish(deps, ORG, "stk_shop", 1, error=error, connection_id=CONN)
    with pytest.raises(StepOutdated):
        steps.finish(deps, ORG, "stk_shop", 1, connection_id=CONN)
    # THEN the stack stays READY, with one outcome written
    after = stacks.get(ORG, "stk_shop")
    assert after is not None and after.status is StackStatus.READY
    assert [d.action for d in stacks.audit_entries] == ["stack.create.outcome"]


def _changed_secrets(stacks: InMemoryStacks, account: Account) -> requests.RequestDeps:
    """A READY stack with secrets OLD and KEEP, then a PATCH that removes OLD."""
    spec = dict(
        SPEC, container={"image": "public.ecr.aws/nginx/nginx:1.27", "secret_env": {"OLD": "x", "KEEP": "y"}}
    )
    events = RecordingEvents()
    deps = _request_deps(stacks, events, Starts(events), account)
    arns = {"OLD": "arn:old", "KEEP": "arn:keep"}
    stacks.put(
        stack("shop").model_copy(
            update={"spec": StackSpec.model_validate(spec).model_copy(), "secret_arns": arns}
        )
    )
    change = StackChange.model_validate({"container": {"secret_env": {"OLD": None}}})
    requests.request_update(deps, PRINCIPAL, "stk_shop", change, INFO)
    return deps


def test_secrets_a_change_removes_are_deleted_once_it_settled_not_before() -> None:
    stacks, account = InMemoryStacks(), Account(status="UPDATE_COMPLETE")
    _changed_secrets(stacks, account)
    # THEN nothing is deleted while the update runs: the running task definition reads OLD
    updating = stacks.get(ORG, "stk_shop")
    assert updating is not None and updating.status is StackStatus.UPDATING
    assert updating.secret_arns == {"KEEP": "arn:keep"}
    assert updating.retired_secret_arns == {"OLD": "arn:old"} and account.store.deleted == []
    # WHEN the update completes
    ended = steps.finish(
        _step_deps(stacks, account, RecordingEvents()), ORG, "stk_shop", 2, connection_id=CONN
    )
    # THEN OLD is deleted from the customer's Secrets Manager, KEEP is not, and nothing is left retired
    assert ended.status == "READY" and account.store.deleted == ["arn:old"]
    after = stacks.get(ORG, "stk_shop")
    assert after is not None and after.retired_secret_arns == {} and after.secret_arns == {"KEEP": "arn:keep"}


def test_secrets_a_rolled_back_change_removed_are_kept() -> None:
    stacks, account = InMemoryStacks(), Account(status="UPDATE_ROLLBACK_COMPLETE")
    _changed_secrets(stacks, account)
    # WHEN the update rolls back: the previous task definition, which reads OLD, runs again
    ended = steps.finish(
        _step_deps(stacks, account, RecordingEvents()), ORG, "stk_shop", 2, connection_id=CONN
    )
    # THEN OLD is not deleted, and stays known (a later settled change, or the deletion, removes it)
    assert ended.status == "READY" and "rolled back" in (ended.reason or "")
    assert account.store.deleted == []
    after = stacks.get(ORG, "stk_shop")
    assert after is not None and after.retired_secret_arns == {"OLD": "arn:old"}


@pytest.mark.parametrize("connected", [True, False])
def test_an_update_that_ended_before_cloudformation_settled_is_refused_with_what_to_do(
    connected: bool,
) -> None:
    # GIVEN an update that ended FAILED while CloudFormation was still at UPDATE_IN_PROGRESS (its
    # account could not be reached any more: the workflow recorded the status its own action began)
    stacks, events = InMemoryStacks(), RecordingEvents()
    stacks.put(stack("shop", StackStatus.FAILED, "UPDATE_IN_PROGRESS"))
    deps = _request_deps(stacks, events, Starts(events))
    if not connected:
        deps.connections.items.clear()  # type: ignore[attr-defined]
    change = StackChange.model_validate({"container": {"desired_count": 3}})
    # WHEN it is changed again
    with pytest.raises(CustomerAccessDenied if not connected else StackConflict) as refused:
        requests.request_update(deps, PRINCIPAL, "stk_shop", change, INFO)
    # THEN the reason is what to act on: reconnect the account, or wait for CloudFormation to settle
    assert ("reconnect" if not connected else "last seen at UPDATE_IN_PROGRESS") in str(refused.value)
