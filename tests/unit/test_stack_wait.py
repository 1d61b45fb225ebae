"""The workflow's wait, with in-memory fakes: the doubling schedule, its cap, and the give-up that
leaves nothing waiting forever."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from functions.stacks.exceptions import StepOutdated
from functions.stacks.logic import steps
from functions.stacks.logic.ports import ConnectionAccess
from functions.stacks.models.customer import CfnStack
from functions.stacks.models.stack import StackStatus
from tests.fakes.accounts import FakeClock, RecordingEvents
from tests.fakes.stacks import FakeConnections, FakeStackWithAccess, FakeWorkflow, InMemoryStacks
from tests.unit.stacks_builders import CONN, ORG, stack


@dataclass
class StuckAccount:
    """A customer account whose stack stays at one status; counts DescribeStacks."""

    status: str = "CREATE_IN_PROGRESS"
    described: int = 0

    def stacks(self, access: ConnectionAccess) -> StuckAccount:
        return self

    def describe(self, stack_id: str) -> CfnStack:
        self.described += 1
        return CfnStack(stack_id=stack_id, status=self.status, reason=None, outputs={})

    def events(self, stack_id: str) -> list[dict[str, Any]]:
        return []


def _unused(*_: Any, **__: Any) -> Any:
    raise AssertionError("not used while waiting")


@pytest.fixture
def waiting() -> tuple[steps.StepDeps, InMemoryStacks, StuckAccount]:
    stacks, connections, account = InMemoryStacks(), FakeConnections(), StuckAccount()
    connections.add(ORG, CONN)
    stacks.put(stack("slow", StackStatus.CREATING, "CREATE_IN_PROGRESS"))
    deps = steps.StepDeps(
        stacks=stacks,
        reads=FakeStackWithAccess(stacks, connections),
        customer=account,  # type: ignore[arg-type]
        templates=_unused,  # type: ignore[arg-type]
        workflow=FakeWorkflow(),
        events=RecordingEvents(),
        clock=FakeClock(),
        render=_unused,
        wait=steps.WaitPolicy(first=10, cap=120, give_up=4 * 3600),
    )
    return deps, stacks, account


def test_each_wait_doubles_up_to_the_cap_and_a_stack_never_settling_is_given_up_on(
    waiting: tuple[steps.StepDeps, InMemoryStacks, StuckAccount],
) -> None:
    deps, stacks, account = waiting
    waits, waited, wait = [], 0, deps.wait.first
    while True:
        looked = steps.poll(deps, ORG, "stk_slow", 1, waited, wait)
        if looked.settled:
            break
        waits.append(looked.wait_seconds)
        waited, wait = looked.waited, looked.wait_seconds
    assert waits[:5] == [20, 40, 80, 120, 120] and set(waits[4:]) == {120}
    assert looked.gave_up is True and looked.waited >= deps.wait.give_up
    assert account.described == len(waits) + 1  # one look per timeout, nothing more
    # AND finishing then records FAILED with a reason, not a wait that never ends
    ended = steps.finish(deps, ORG, "stk_slow", 1)
    assert ended.status == "FAILED"
    recorded = stacks.get(ORG, "stk_slow")
    assert recorded is not None and recorded.status is StackStatus.FAILED
    assert "still at CREATE_IN_PROGRESS" in (recorded.reason or "") and recorded.wait_token is None


def test_a_step_of_an_older_operation_changes_nothing(
    waiting: tuple[steps.StepDeps, InMemoryStacks, StuckAccount],
) -> None:
    deps, stacks, _ = waiting
    current = stacks.get(ORG, "stk_slow")
    assert current is not None
    stacks.put(current.model_copy(update={"operation_seq": 2}))
    with pytest.raises(StepOutdated):
        steps.poll(deps, ORG, "stk_slow", 1, 0, 10)
    with pytest.raises(StepOutdated):
        steps.finish(deps, ORG, "stk_slow", 1)
