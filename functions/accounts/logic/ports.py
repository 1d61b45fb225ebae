"""What the accounts use cases need from the outside world. One adapter each, in dal/ or integrations/."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Protocol

from functions.accounts.models.connection import (
    CallbackRequest,
    CallbackStatus,
    Connection,
    ConnectionChanges,
    ConnectionKey,
    ConnectionStatus,
)
from functions.shared.models.audit import AuditDraft
from functions.shared.models.events import DomainEvent


class ConnectionRepository(Protocol):
    """Connections, and the claim a live one (PENDING, CONNECTED) holds on its org's account and
    region: one live connection per org, account and region, by a conditional write."""

    def create(self, connection: Connection, audit: AuditDraft | None = None) -> None:
        """With ``audit``, the connection, its claim and its audit entry are written together or not
        at all. Raises ``AccountClaimed`` (naming the holder) if a live connection holds the claim."""
        ...

    def get(self, org_id: str, connection_id: str) -> Connection | None: ...
    def find_by_id(self, connection_id: str) -> Connection | None: ...
    def list_for_org(self, org_id: str) -> list[Connection]: ...
    def list_connected(self) -> Iterable[Connection]: ...
    def set_task_token(self, org_id: str, connection_id: str, task_token: str) -> bool: ...
    def transition(
        self,
        connection: ConnectionKey,
        to: ConnectionStatus,
        *,
        allowed_from: Sequence[ConnectionStatus],
        changes: ConnectionChanges = ...,
        if_absent: ConnectionChanges = ...,
        audit: AuditDraft | None = None,
    ) -> bool:
        """Moves the connection to ``to`` (writing ``changes``, and ``if_absent`` where the field has
        no value yet) if it is still in one of ``allowed_from``; False otherwise. Into a live status
        it takes the claim (``AccountClaimed`` if another connection holds it), out of one it
        releases it, in the same write. With ``audit``, the change and its audit entry are written
        together or not at all (a transition that takes or releases the claim must have one)."""
        ...


class CallbackRepository(Protocol):
    def put_new(self, request: CallbackRequest) -> bool:
        """Stores the request unless one with the same key exists; False if it did."""
        ...

    def get(self, request_key: str) -> CallbackRequest | None: ...
    def set_status(self, request_key: str, status: CallbackStatus) -> None: ...


class TemplateStore(Protocol):
    def put(self, key: str, body: str, content_type: str = ...) -> None: ...
    def presigned_url(self, key: str, expires_in: int) -> str: ...


class Workflow(Protocol):
    def start(self, name: str, payload: dict[str, Any]) -> str:
        """Starts an execution; returns its ARN. Starting an existing name with the same input is a no-op."""
        ...

    def execution_arn(self, name: str) -> str:
        """The ARN of the execution ``name`` (known before it starts)."""
        ...

    def stop(self, execution_arn: str, cause: str) -> None: ...
    def resume(self, task_token: str, output: dict[str, Any]) -> bool:
        """Sends the task's result; False if the task is no longer waiting."""
        ...


class EventPublisher(Protocol):
    def publish(self, events: Sequence[DomainEvent]) -> None: ...


class RoleProbe(Protocol):
    def assume(self, role_arn: str, external_id: str | None, session_name: str) -> str | None:
        """Tries AssumeRole; returns the assumed session's account id, or None if AWS refused it."""
        ...


class CloudFormationResponder(Protocol):
    def send(self, response_url: str, region: str, body: dict[str, Any]) -> None:
        """PUTs the answer; raises ResponseUrlRejected (never fetched) or ResponseDeliveryFailed."""
        ...


class Clock(Protocol):
    def __call__(self) -> datetime: ...
