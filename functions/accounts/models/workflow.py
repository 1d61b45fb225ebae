"""The connect_account workflow's execution input and Task inputs and outputs. They carry ids and
statuses only: never the ExternalId, the nonce or the ResponseURL (those stay in the tables)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from functions.accounts.models.connection import AwsAccountId
from functions.shared.models.ids import ConnectionId, OrgId
from functions.shared.models.workflow import StepError, Task, TaskModel


class Callback(TaskModel):
    """What the customer's custom-resource request resumes AwaitCallback with (or what a re-verifying
    Update starts the execution with)."""

    request_key: str
    request_type: Literal["Create", "Update", "Delete"]
    stack_id: str
    role_arn: str
    # An Update that runs a template our upgrade rendered (its token checked): recorded once the
    # role re-verified. None: a plain Update (or a Create), which changes no version.
    template_version: str | None = Field(default=None, max_length=16)


class ConnectAccountInput(TaskModel):
    """The execution's input: a new connection waits for its callback; an Update re-verifies. The
    account and region (fixed for a connection) let the outcome be written without a read first."""

    org_id: OrgId
    connection_id: ConnectionId
    aws_account_id: AwsAccountId
    region: str = Field(min_length=1, max_length=32)
    connect_window_seconds: int = Field(gt=0)
    mode: Literal["reverify"] | None = None
    callback: Callback | None = None


class Verification(TaskModel):
    account_id: str


class Outcome(TaskModel):
    status: str
    reason: str | None = None  # what CloudFormation is told when it is not CONNECTED


class Answer(TaskModel):
    answered: bool


class ConnectAccountState(ConnectAccountInput):
    """The execution's state as AnswerCloudFormation is given it (``"state.$": "$"``): the input
    and what the states before it wrote."""

    # Absent from the state of executions started before the input carried them.
    aws_account_id: AwsAccountId | None = None  # type: ignore[assignment]
    region: str | None = None  # type: ignore[assignment]
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
    # Absent from the executions started before the input carried them: then the connection is read.
    aws_account_id: AwsAccountId | None = None
    region: str | None = None
    outcome: Literal["CONNECTED", "FAILED", "EXPIRED"]
    callback: Callback | None = None
    error: StepError | None = None


class RecordOutcomeOutput(TaskModel):
    status: str
    reason: str | None = None


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
