"""The release workflow's input and its Tasks' inputs and outputs (the Tasks come with the state
machine)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from functions.shared.models.ids import OrgId, StackId


class ReleaseRequest(BaseModel):
    """A release execution's input: one push to a tracked branch, for the stacks tracking it. Named
    by ``delivery_id``. Carries no token and nothing secret (it is in the execution's history)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    org_id: OrgId
    delivery_id: str = Field(pattern=r"^[A-Za-z0-9-]{1,80}$")
    installation_id: int = Field(gt=0)
    repository: str = Field(min_length=3, max_length=140)
    repository_id: int = Field(gt=0)
    branch: str = Field(min_length=1, max_length=512)
    commit: str = Field(pattern=r"^[0-9a-f]{40}$")
    message: str = Field(default="", max_length=1000)
    author: str = Field(default="", max_length=255)
    sender: str = Field(min_length=1, max_length=100)
    stack_ids: tuple[StackId, ...] = Field(min_length=1)
