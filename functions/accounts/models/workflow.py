"""The connect_account workflow's execution input and Task inputs and outputs. They carry ids and
statuses only: never the ExternalId, the nonce or the ResponseURL (those stay in the tables)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from functions.shared.models.ids import ConnectionId, OrgId
from functions.shared.models.workflow import StepError, Task, TaskModel


class Callback(TaskModel):
    """What the customer's custom-resource request resumes AwaitCallback with (or what a re-verifying
    Update starts the execution with)."""

    request_key: str
    request_type: Literal["Create", "Update", "Delete"]
    stack_id: str
    role_arn: str


class ConnectAccountInput(TaskModel):
    """The execution's input: a new connection waits for its callback; an Update re-verifies."""

    org_id: OrgId
    connection_id: ConnectionId
    connect_window_seconds: int = Field(gt=0)
    mode: Literal["reverify"] | None = None
    callback: Callback | None = None


class Verification(TaskModel):
    account_id: str


class Outcome(TaskModel):
    status: str


class Answer(TaskModel):
    answered: bool


class ConnectAccountState(ConnectAccountInput):
    """The execution's state as AnswerCloudFormation is given it (``"state.$": "$"``): the input
    and what the states before it wrote."""

    verification: Verification | None = None
    outcome: Outcome | None = None
    error: StepError | None = None


class Connection(TaskModel):
    org_id: OrgId
    connection_id: ConnectionId


class RegisterWaiterInput(Connection):
    task_token: str = Field(repr=False)


class RegisterWaiterOutput(TaskModel):
    registered: bool


class VerifyRoleInput(Connection):
    role_arn: str | None = None


class VerifyRoleOutput(TaskModel):
    account_id: str


class RecordOutcomeInput(Connection):
    outcome: Literal["CONNECTED", "FAILED", "EXPIRED"]
    callback: Callback | None = None
    error: StepError | None = None


class RecordOutcomeOutput(TaskModel):
    status: str


class RespondInput(Connection):
    state: ConnectAccountState


class RespondOutput(TaskModel):
    answered: bool
    status: str


TASKS: dict[str, Task] = {
    "functions.accounts.handlers.register_waiter": Task(
        RegisterWaiterInput, RegisterWaiterOutput, resumed_with=Callback
    ),
    "functions.accounts.handlers.verify": Task(VerifyRoleInput, VerifyRoleOutput),
    "functions.accounts.handlers.finalize": Task(RecordOutcomeInput, RecordOutcomeOutput),
    "functions.accounts.handlers.respond": Task(RespondInput, RespondOutput),
}

#: What each of the domain's state machines is started with.
EXECUTIONS: dict[str, type[TaskModel]] = {"connect-account": ConnectAccountInput}
