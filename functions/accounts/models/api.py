"""Bodies of the accounts API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from functions.accounts.models.connection import AwsAccountId, ConnectionStatus, Health

AwsRegion = Annotated[str, StringConstraints(pattern=r"^[a-z]{2}(-gov)?-[a-z]+-\d$")]


class ConnectAccountRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    aws_account_id: AwsAccountId = Field(description="The 12-digit id of the AWS account to connect")
    region: AwsRegion = Field(description="The region the role stack is deployed in (one of the supported)")


class ConnectionView(BaseModel):
    connection_id: str
    aws_account_id: str
    region: str
    status: ConnectionStatus
    reason: str | None = None
    role_arn: str | None = None
    created_at: datetime
    updated_at: datetime
    connected_at: datetime | None = None
    quick_create_url: str | None = Field(
        default=None, description="Open it to deploy the role stack (only while the connection is PENDING)"
    )
    expires_at: datetime | None = Field(default=None, description="When a PENDING connection stops waiting")
    health: Health | None = Field(default=None, description="Result of the last scheduled re-check")
    health_reason: str | None = None
    health_checked_at: datetime | None = None
    template_version: str = Field(description="The onboarding template version the customer's stack runs")
    latest_template_version: str = Field(
        description="The latest version: when newer, POST /accounts/{connection_id}/upgrade says how"
    )
    supports_releases: bool = Field(
        description="False: releases on this connection fail until its onboarding stack is updated"
    )


class UpgradeInstructions(BaseModel):
    """What the customer runs to update their onboarding stack to the latest template. The Update
    re-verifies the role; the connection shows the new version once it passed."""

    connection_id: str
    template_version: str = Field(description="What the customer's stack runs now")
    target_template_version: str = Field(description="What it runs after the update")
    stack_id: str = Field(description="The onboarding stack to update")
    console_url: str = Field(description="Open it to update the stack in the CloudFormation console")
    cli_command: str = Field(description="The same update with the AWS CLI")
    template_url: str = Field(description="The rendered template (a link valid until expires_at)")
    expires_at: datetime = Field(description="After this, ask for a new link (this one is then refused)")


class ConnectionList(BaseModel):
    items: list[ConnectionView]
