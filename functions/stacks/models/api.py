"""What the stacks API answers (requests are the StackSpec itself, in models/spec.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from functions.stacks.models.customer import ChangeSet
from functions.stacks.models.stack import FailedResource, Operation, Stack, StackEvent, StackStatus


class StackView(BaseModel):
    stack_id: str
    name: str
    stage: str
    connection_id: str
    aws_account_id: str
    region: str
    cfn_stack_name: str = Field(description="The stack's name in your account")
    status: StackStatus = Field(description="CREATING | UPDATING | DELETING | READY | FAILED | DELETED")
    cfn_status: str | None = Field(description="CloudFormation's own status, as last seen")
    reason: str | None = Field(description="Why it failed (or why an update was rolled back)")
    failure: FailedResource | None = Field(
        description="The first resource that failed, and CloudFormation's reason"
    )
    outputs: dict[str, str] = Field(description="The stack's outputs once READY: endpoint, VPC, database...")
    operation: Operation = Field(description="The latest operation")
    spec: dict[str, Any] = Field(description="What was asked for (secret values are never kept)")
    created_by: str
    created_at: datetime
    updated_at: datetime
    status_changed_at: datetime

    @classmethod
    def of(cls, stack: Stack) -> StackView:
        return cls(**stack.model_dump(mode="json", include=set(cls.model_fields)))


class StackList(BaseModel):
    items: list[StackView]


class StackHistory(BaseModel):
    items: list[StackEvent] = Field(description="Newest first")


class ResourceChange(BaseModel):
    action: str | None = Field(description="Add | Modify | Remove | Import | Dynamic")
    logical_id: str | None = Field(description="The resource's name in the template")
    resource_type: str | None
    replacement: str | None = Field(description="Modify only: True | False | Conditional")


class StackPreview(BaseModel):
    stack_id: str
    would_change: bool = Field(description="False: the update would change nothing in your account")
    changes: list[ResourceChange] = Field(description="What CloudFormation would do, resource by resource")
    refused: str | None = Field(
        description="Why CloudFormation would refuse the update (then nothing else is shown)"
    )

    @classmethod
    def of(cls, stack_id: str, change_set: ChangeSet) -> StackPreview:
        """A change set that would change nothing is not refused; one CloudFormation failed is."""
        refused = None if change_set.status == "CREATE_COMPLETE" or change_set.empty else change_set.reason
        return cls(
            stack_id=stack_id,
            would_change=bool(change_set.changes) and not change_set.empty,
            changes=[ResourceChange(**c) for c in change_set.changes],
            refused=refused,
        )
