"""A stack as stackpilot records it: what was asked, where CloudFormation is, how it ended."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from functions.shared.models.changes import Changes
from functions.stacks.models.spec import StackSpec


class StackStatus(StrEnum):
    CREATING = "CREATING"
    UPDATING = "UPDATING"
    DELETING = "DELETING"
    READY = "READY"
    FAILED = "FAILED"
    DELETED = "DELETED"


BUSY = frozenset({StackStatus.CREATING, StackStatus.UPDATING, StackStatus.DELETING})

Operation = Literal["create", "update", "delete"]


class FailedResource(BaseModel):
    model_config = ConfigDict(frozen=True)

    logical_id: str = Field(description="The template's name for the resource that failed first")
    resource_type: str
    reason: str = Field(description="CloudFormation's reason, as the customer's account gave it")


class Stack(BaseModel):
    model_config = ConfigDict(frozen=True)

    org_id: str
    stack_id: str
    connection_id: str
    aws_account_id: str
    region: str
    name: str
    stage: str
    cfn_stack_name: str
    spec: StackSpec  # as asked, secret values masked (models.spec.masked): they live in the account
    secret_arns: dict[str, str] = {}
    # Secrets a change took out of the spec: deleted from the customer's Secrets Manager once that
    # change has settled (until then, and after a rollback, a running task definition reads them).
    retired_secret_arns: dict[str, str] = {}
    subnets: dict[str, dict[str, str]] = {}  # existing VPC: each given subnet as the account described it
    status: StackStatus
    operation: Operation
    operation_seq: int = 1  # the n-th operation on this stack: names its workflow execution
    cfn_stack_id: str | None = None
    cfn_status: str | None = None
    reason: str | None = None
    failure: FailedResource | None = None
    outputs: dict[str, str] = {}
    template_key: str | None = None
    execution_arn: str | None = None
    wait_token: str | None = None  # the waiting execution's task token; never leaves the domain
    created_by: str
    created_at: datetime
    updated_at: datetime
    status_changed_at: datetime


class StackEvent(BaseModel):
    """One line of a stack's history (GET /stacks/{id}/events)."""

    model_config = ConfigDict(frozen=True)

    at: datetime
    kind: Literal["requested", "status", "ready", "failed", "deleted", "drift"]
    status: StackStatus
    cfn_status: str | None = None
    message: str
    actor: str = Field(description="user:<id>, key:<id>, or workflow / reconcile / customer-account")


class StackChanges(Changes):
    """What one write changes on a stack record: only the fields given are written, and a field
    given as ``None`` is removed (``model_fields_set`` tells the two apart)."""

    status: StackStatus | None = None
    operation: Operation | None = None
    operation_seq: int | None = None
    spec: StackSpec | None = None
    secret_arns: dict[str, str] | None = None
    retired_secret_arns: dict[str, str] | None = None
    cfn_stack_id: str | None = None
    cfn_status: str | None = None
    reason: str | None = None
    failure: FailedResource | None = None
    outputs: dict[str, str] | None = None
    template_key: str | None = None
    execution_arn: str | None = None
    wait_token: str | None = None
    updated_at: datetime | None = None
    status_changed_at: datetime | None = None


@dataclass(frozen=True)
class Precondition:
    """What a write expects of the stored record; the write changes nothing if it no longer holds
    (a late or repeated step of an older operation, a concurrent request)."""

    seq: int | None = None  # still at this operation
    statuses: tuple[StackStatus, ...] | None = None  # still in one of these statuses
    wait_token: str | None = None  # still waited on with this task token
    no_wait_token: bool = False  # waited on by no task token


ANY = Precondition()
