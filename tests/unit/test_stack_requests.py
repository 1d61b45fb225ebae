"""A change or a deletion that ends before its workflow runs leaves the stack as it was: its spec,
its secrets' ARNs and its status, with the reason; nothing half-applied is left behind."""

from __future__ import annotations

from typing import Any

import pytest

from functions.shared.logic.auditing import RequestInfo
from functions.shared.models.principal import Principal, Role
from functions.stacks.exceptions import ServiceUnavailable
from functions.stacks.logic import account_status, changes, requests
from functions.stacks.models.spec import StackChange, StackSpec
from functions.stacks.models.stack import StackStatus
from tests.fakes.accounts import FakeClock, RecordingEvents
from tests.fakes.stacks import FakeConnections, InMemoryStacks
from tests.unit.stacks_builders import CONN, ORG, stack

SPEC = {
    "connection_id": CONN,
    "region": "us-east-1",
    "name": "steady",
    "stage": "dev",
    "container": {"image": "public.ecr.aws/nginx/nginx:1.27", "desired_count": 2},
}


class DownWorkflow:
    def start(self, *args: Any) -> str:
        raise RuntimeError("Step Functions unavailable")

    def execution_arn(self, name: str) -> str:
        return f"arn:aws:states:us-east-1:123456789012:execution:provision-stack:{name}"

    def resume(self, token: str, output: dict[str, Any]) -> bool:
        raise AssertionError("nothing waits")


class Audit:
    def __init__(self) -> None:
        self.drafts: list[Any] = []

    def record(self, draft: Any) -> None:
        self.drafts.append(draft)


@pytest.fixture
def stuck() -> tuple[requests.RequestDeps, InMemoryStacks]:
    stacks, connections = InMemoryStacks(), FakeConnections()
    connections.add(ORG, CONN)
    stacks.put(stack("steady").model_copy(update={"spec": StackSpec.model_validate(SPEC)}))
    deps = requests.RequestDeps(
        stacks=stacks,
        connections=connections,
        customer=None,  # type: ignore[arg-type]  # no secret env: the account is not reached
        templates=None,  # type: ignore[arg-type]
        provision=DownWorkflow(),
        deletion=DownWorkflow(),
        audit=Audit(),
        events=RecordingEvents(),
        clock=FakeClock(),
        render=lambda *a, **k: "",
    )
    return deps, stacks


PRINCIPAL = Principal(org_id=ORG, role=Role.CONTRIBUTOR, user_id="cora")
INFO = RequestInfo(request_id="req-1", source="127.0.0.1")


@pytest.mark.parametrize("operation", ["update", "delete"])
def test_a_workflow_that_cannot_start_leaves_the_stack_as_it_was(
    stuck: tuple[requests.RequestDeps, InMemoryStacks], operation: str
) -> None:
    deps, stacks = stuck
    before = stacks.get(ORG, "stk_steady")
    assert before is not None
    with pytest.raises(ServiceUnavailable):
        if operation == "update":
            change = StackChange.model_validate({"container": {"desired_count": 3}})
            requests.request_update(deps, PRINCIPAL, "stk_steady", change, INFO)
        else:
            requests.request_delete(deps, PRINCIPAL, "stk_steady", INFO)
    after = stacks.get(ORG, "stk_steady")
    assert after is not None
    assert after.status is StackStatus.READY and after.operation == before.operation
    assert after.spec == before.spec and after.secret_arns == before.secret_arns
    assert after.reason is not None and "could not be started" in after.reason
    # AND the same request, retried, is a real change again (not "changes nothing")
    assert not changes.same_spec(
        after.spec,
        changes.apply_change(after.spec, StackChange.model_validate({"container": {"desired_count": 3}})),
    )


@pytest.mark.parametrize("stack_id", ["", "stk_steady", "arn:aws:s3:::bucket"])
def test_a_status_event_without_a_stack_arn_is_dropped_before_any_lookup(
    stuck: tuple[requests.RequestDeps, InMemoryStacks], stack_id: str
) -> None:
    deps, stacks = stuck
    lookups = stacks.calls["get"]
    status = account_status.StatusDeps(
        stacks=stacks, workflow=deps.provision, events=deps.events, clock=deps.clock
    )
    outcome = account_status.on_status_event(
        status, "181818181818", "us-east-1", stack_id, "CREATE_COMPLETE", None
    )
    assert outcome == "not a stack id" and stacks.calls["get"] == lookups
