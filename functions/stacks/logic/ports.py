"""What the stacks use cases need from the outside world, as protocols (adapters live in dal/ and
integrations/; tests use in-memory fakes)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from pydantic import SecretStr

from functions.shared.models.audit import AuditDraft
from functions.shared.models.events import DomainEvent
from functions.stacks.models.stack import Stack, StackEvent, StackStatus


@dataclass(frozen=True)
class ConnectionAccess:
    org_id: str
    connection_id: str
    aws_account_id: str
    region: str
    status: str
    external_id: str = field(repr=False)
    role_arn: str | None


class Connections(Protocol):
    def get(self, org_id: str, connection_id: str) -> ConnectionAccess | None: ...


class StackRepository(Protocol):
    def create(self, stack: Stack, event: StackEvent, audit: AuditDraft) -> None: ...
    def get(self, org_id: str, stack_id: str) -> Stack | None: ...
    def list_for_org(self, org_id: str) -> list[Stack]: ...
    def find_by_cfn_stack_id(self, cfn_stack_id: str) -> Stack | None: ...
    def update(
        self,
        stack: Stack,
        *,
        expect_seq: int | None = None,
        expect_status: Sequence[StackStatus] | None = None,
        expect_token: str | None = None,
        event: StackEvent | None = None,
        audit: AuditDraft | None = None,
        **changes: Any,
    ) -> Stack | None: ...
    def add_history(self, stack: Stack, event: StackEvent) -> None: ...
    def history(
        self, org_id: str, stack_id: str, limit: int = 100, before: str | None = None
    ) -> list[StackEvent]: ...


@dataclass(frozen=True)
class CfnStack:
    stack_id: str
    status: str
    reason: str | None
    outputs: dict[str, str]


@dataclass(frozen=True)
class ChangeSet:
    change_set_id: str
    stack_id: str
    status: str  # CREATE_COMPLETE | FAILED
    reason: str | None
    changes: list[dict[str, Any]]

    @property
    def empty(self) -> bool:
        return self.status == "FAILED" and "didn't contain changes" in (self.reason or "")


class CustomerStacks(Protocol):
    """CloudFormation in one customer account and region, through the connection's deploy role."""

    def create_change_set(
        self, stack_name: str, change_set_name: str, template_url: str, kind: str, tags: dict[str, str]
    ) -> ChangeSet: ...
    def execute_change_set(self, change_set_id: str, stack_id: str) -> None: ...
    def describe(self, stack_id: str) -> CfnStack | None: ...
    def events(self, stack_id: str) -> list[dict[str, Any]]: ...
    def delete(self, stack_id: str) -> None: ...
    def delete_change_set(self, change_set_id: str) -> None: ...


class CustomerSecrets(Protocol):
    """Secrets Manager in one customer account and region: write-only (stackpilot never reads back)."""

    def put(self, name: str, value: SecretStr, tags: dict[str, str]) -> str:
        """Creates the secret or gives it a new value; returns its ARN."""
        ...

    def delete(self, arn: str) -> None: ...


class CustomerNetworks(Protocol):
    """EC2 in one customer account and region: what an existing VPC is made of."""

    def describe_vpc(self, vpc_id: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The VPC's subnets and route tables (main table included), as DescribeSubnets and
        DescribeRouteTables return them; both empty if there is no such VPC."""
        ...


class CustomerAccess(Protocol):
    def stacks(self, access: ConnectionAccess) -> CustomerStacks: ...
    def networks(self, access: ConnectionAccess) -> CustomerNetworks: ...
    def secrets(self, access: ConnectionAccess) -> CustomerSecrets: ...


class Templates(Protocol):
    def put(self, key: str, body: str) -> None: ...
    def url(self, key: str) -> str: ...
    def get(self, key: str) -> str | None: ...


class Workflow(Protocol):
    def start(self, machine: Literal["provision", "delete"], name: str, payload: dict[str, Any]) -> str: ...
    def resume(self, token: str, output: dict[str, Any]) -> bool: ...


class AuditRecorder(Protocol):
    def record(self, draft: AuditDraft) -> Any: ...


class Publisher(Protocol):
    def publish(self, events: Sequence[DomainEvent]) -> None: ...


Clock = Callable[[], datetime]
