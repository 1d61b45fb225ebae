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


class ConnectionList(BaseModel):
    items: list[ConnectionView]
