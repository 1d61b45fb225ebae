"""The account connection as the accounts domain knows it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints, field_validator

from functions.shared.logic.customer_names import LEGACY_TEMPLATE_VERSION, supports_releases
from functions.shared.models.changes import Changes

AwsAccountId = Annotated[str, StringConstraints(pattern=r"^\d{12}$")]


class ConnectionStatus(StrEnum):
    PENDING = "PENDING"
    CONNECTED = "CONNECTED"
    FAILED = "FAILED"
    DISCONNECTED = "DISCONNECTED"


class Health(StrEnum):
    HEALTHY = "HEALTHY"
    UNHEALTHY = "UNHEALTHY"


#: A live connection holds its org's claim on its account and region: one at a time.
LIVE_STATUSES = frozenset({ConnectionStatus.PENDING, ConnectionStatus.CONNECTED})


class ConnectionKey(BaseModel):
    """What names a connection and what it claims while it is live: fixed when it is created, so a
    step that was given these (a workflow's input) can change the connection without reading it."""

    model_config = ConfigDict(frozen=True)

    org_id: str
    connection_id: str
    aws_account_id: str
    region: str


class Connection(ConnectionKey):
    status: ConnectionStatus
    external_id: str
    nonce_hash: str | None  # sha256 of the single-use nonce; None once burnt
    nonce_expires_at: datetime
    template_key: str
    created_at: datetime
    updated_at: datetime
    created_by: str
    role_arn: str | None = None
    stack_id: str | None = None
    reason: str | None = None
    connected_at: datetime | None = None
    execution_arn: str | None = None
    task_token: str | None = None  # the waiting execution's token; never leaves the domain
    health: Health | None = None  # the last scheduled re-check of a CONNECTED connection
    health_reason: str | None = None
    health_checked_at: datetime | None = None
    # The onboarding template the customer's stack runs: set when it is created, and by an Update
    # of the stack that re-verified (an upgrade). Records from before it was kept ran v2.
    template_version: str = LEGACY_TEMPLATE_VERSION

    @field_validator("template_version", mode="before")
    @classmethod
    def _legacy_version(cls, value: object) -> object:
        return LEGACY_TEMPLATE_VERSION if value is None else value

    @property
    def supports_releases(self) -> bool:
        return supports_releases(self.template_version)

    def changed(self, to: ConnectionStatus, changes: ConnectionChanges) -> Connection:
        """This connection as a transition to ``to`` with ``changes`` leaves it."""
        return self.model_copy(update={"status": to, **changes.given()})


class ConnectionChanges(Changes):
    """What one write changes on a connection besides its status: only the fields given are
    written, and a field given as ``None`` is removed (``model_fields_set`` tells the two apart)."""

    role_arn: str | None = None
    stack_id: str | None = None
    reason: str | None = None
    connected_at: datetime | None = None
    nonce_hash: str | None = None
    nonce_expires_at: datetime | None = None
    task_token: str | None = None
    template_version: str | None = None
    updated_at: datetime | None = None
    health: Health | None = None
    health_reason: str | None = None
    health_checked_at: datetime | None = None


class CallbackStatus(StrEnum):
    RECEIVED = "RECEIVED"  # stored; the workflow has not been resumed yet
    DISPATCHED = "DISPATCHED"  # the workflow owns it and will answer
    ANSWERED = "ANSWERED"  # CloudFormation has its answer


class CallbackRequest(BaseModel):
    """One custom-resource request from a customer's CloudFormation, kept out of band.

    It holds the ResponseURL, which must never reach logs or a workflow's history.
    """

    model_config = ConfigDict(frozen=True)

    request_key: str
    connection_id: str
    org_id: str | None
    request_type: str
    stack_id: str
    request_id: str
    logical_resource_id: str
    physical_resource_id: str | None
    response_url: str
    region: str
    status: CallbackStatus
    received_at: datetime
