"""Events the stacks domain publishes (source ``stackpilot.stacks``)."""

from __future__ import annotations

from typing import ClassVar

from functions.shared.models.events import DomainEvent


class StackEventBase(DomainEvent):
    SOURCE: ClassVar[str] = "stackpilot.stacks"

    stack_id: str
    connection_id: str
    aws_account_id: str
    region: str
    name: str
    stage: str


class StackCreateRequested(StackEventBase):
    DETAIL_TYPE: ClassVar[str] = "StackCreateRequested"

    requested_by: str


class StackStatusChanged(StackEventBase):
    DETAIL_TYPE: ClassVar[str] = "StackStatusChanged"

    status: str
    previous_status: str | None
    cfn_status: str | None
    source_of_truth: str  # "event" (forwarded by the account), "poll", "reconcile" or "workflow"


class StackReady(StackEventBase):
    DETAIL_TYPE: ClassVar[str] = "StackReady"

    operation: str
    outputs: dict[str, str]


class StackFailed(StackEventBase):
    DETAIL_TYPE: ClassVar[str] = "StackFailed"

    operation: str
    cfn_status: str | None
    reason: str
    failed_resource: str | None


class StackDeleted(StackEventBase):
    DETAIL_TYPE: ClassVar[str] = "StackDeleted"


STACK_EVENTS: tuple[type[StackEventBase], ...] = (
    StackCreateRequested,
    StackStatusChanged,
    StackReady,
    StackFailed,
    StackDeleted,
)
