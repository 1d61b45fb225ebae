"""The stacks workflows' Task inputs and outputs (provision_stack, delete_stack, reconcile_stacks).
They carry ids, counts and statuses only: never a template, a secret or a token beyond the one Step
Functions hands the waiting Task."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from functions.shared.models.ids import ConnectionId, OrgId, StackId
from functions.shared.models.workflow import StepError, Task, TaskModel

Phase = Literal["unprotect", "delete"]


class Operation(TaskModel):
    """Every stack Task is given the operation it belongs to: a step of an older one does nothing.
    The stack's connection lets a step read the stack and its connection in one call (an execution
    started before it was passed has none: the step reads them one after the other)."""

    org_id: OrgId
    stack_id: StackId
    seq: int = Field(ge=1)
    connection_id: ConnectionId | None = None


class StartChangeOutput(TaskModel):
    wait_seconds: int = Field(ge=0, description="0: nothing to wait for")
    waited: int = Field(ge=0)
    cfn_stack_id: str | None = None
    no_changes: bool = False
    phase: Phase | None = None  # a deletion: which phase has started


class AwaitStatusInput(TaskModel):
    org_id: OrgId
    stack_id: StackId
    seq: int = Field(ge=1)
    task_token: str = Field(repr=False)


class AwaitStatusOutput(TaskModel):
    registered: bool


class Resumed(TaskModel):
    """What a settled stack's waiting Task is resumed with (by the status event, a poll or the sweep)."""

    settled: bool


class PollInput(Operation):
    waited: int = Field(ge=0)
    wait_seconds: int = Field(ge=0)
    phase: Phase | None = None


class PollOutput(TaskModel):
    settled: bool
    waited: int = Field(ge=0)
    wait_seconds: int = Field(ge=0)
    phase: Phase | None = None
    gave_up: bool = False


class FinishInput(Operation):
    error: StepError | None = None
    phase: Phase | None = None


class FinishOutput(TaskModel):
    status: str
    reason: str | None = None
    go_on: bool = Field(default=False, alias="continue", description="delete_stack: a next phase waits")
    wait_seconds: int = 0
    waited: int = 0
    phase: Literal["unprotect", "delete", ""] = ""


class PlanInput(TaskModel):
    pass


class StackGroupItem(TaskModel):
    org_id: OrgId
    connection_id: ConnectionId
    region: str


class PlanOutput(TaskModel):
    groups: list[StackGroupItem]


class SweepOutput(TaskModel):
    seen: int = 0
    changed: int = 0
    woken: int = 0
    skipped: str | None = None


TASKS: dict[str, Task] = {
    "functions.stacks.handlers.start_change": Task(Operation, StartChangeOutput),
    "functions.stacks.handlers.await_status": Task(AwaitStatusInput, AwaitStatusOutput, resumed_with=Resumed),
    "functions.stacks.handlers.poll": Task(PollInput, PollOutput),
    "functions.stacks.handlers.finish": Task(FinishInput, FinishOutput),
    "functions.stacks.handlers.reconcile_plan": Task(PlanInput, PlanOutput),
    "functions.stacks.handlers.reconcile_sweep": Task(StackGroupItem, SweepOutput),
}

#: What each of the domain's state machines is started with.
EXECUTIONS: dict[str, type[TaskModel]] = {
    "provision-stack": Operation,
    "delete-stack": Operation,
    "reconcile-stacks": PlanInput,
}
