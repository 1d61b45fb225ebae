"""What a push is routed by: the org an installation is linked to, and the stacks that track a
repository's branch. One lookup answers both (the receiver's first DynamoDB call of two)."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from functions.shared.models.ids import OrgId, StackId


class LinkStatus(StrEnum):
    ACTIVE = "ACTIVE"
    SUSPENDED = "SUSPENDED"  # the installation was suspended on GitHub: releases are refused
    DELETED = "DELETED"  # the App was uninstalled: releases are refused


class InstallationLink(BaseModel):
    """An installation of the GitHub App, linked to one org (one installation belongs to one org)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    link_id: str = Field(min_length=1, max_length=64)
    org_id: OrgId
    installation_id: int = Field(gt=0)
    status: LinkStatus = LinkStatus.ACTIVE


class Route(BaseModel):
    """The installation's link (None if no org linked it) and the stacks of that org tracking the
    pushed repository and branch (a repository is visible to one installation of the App only: the
    one on the account that owns it, so its stacks are of that one org)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    link: InstallationLink | None = None
    stack_ids: tuple[StackId, ...] = ()
