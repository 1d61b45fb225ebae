"""What the stacks use cases need from the outside world, as protocols (adapters live in dal/ and
integrations/; tests use in-memory fakes)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from pydantic import SecretStr

from functions.shared.models.audit import AuditDraft
from functions.shared.models.events import DomainEvent
from functions.stacks.models.customer import CfnStack, ChangeSet, StackSummary
from functions.stacks.models.stack import ANY, Precondition, Stack, StackChanges, StackEvent


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


class StackWithAccess(Protocol):
    """A workflow step's read: its stack and the connection to its account, at once."""

    def read(
        self, org_id: str, stack_id: str, connection_id: str | None
    ) -> tuple[Stack | None, ConnectionAccess | None]: ...


@dataclass(frozen=True, order=True)
class StackGroup:
    """Stacks that one ListStacks call covers: one connection (one account) in one region."""

    org_id: str
    connection_id: str
    region: str


class StackRepository(Protocol):
    def create(
        self, stack: Stack, event: StackEvent, audit: AuditDraft, replaces: Stack | None = None
    ) -> bool:
        """The stack with its first history line and audit entry (all or nothing); False if the id
        is taken (by a record other than ``replaces`` as it was read, or one it may not replace)."""
        ...

    def get(self, org_id: str, stack_id: str) -> Stack | None: ...
    def list_for_org(self, org_id: str) -> list[Stack]: ...
    def find_by_cfn_stack_id(self, cfn_stack_id: str) -> Stack | None: ...
    def update(
        self,
        stack: Stack,
        changes: StackChanges,
        *,
        expect: Precondition = ANY,
        event: StackEvent | None = None,
        audit: AuditDraft | None = None,
    ) -> Stack | None:
        """Writes ``changes`` (with the history line and the audit entry, all or nothing) if the
        stored stack still meets ``expect``; None if it did not. The stack as stored when the change
        is written alone; with a history line or an entry, the stack given with the changes applied."""
        ...

    def wait_on(self, org_id: str, stack_id: str, seq: int, token: str) -> Stack | None:
        """Keeps the task token on a stack still busy with operation ``seq``; the stack as stored
        after that write, or None if it is not at that operation any more."""
        ...

    def history(
        self, org_id: str, stack_id: str, limit: int = 100, before: str | None = None
    ) -> list[StackEvent]: ...


class StackGroups(Protocol):
    """Our stacks, as the reconcile sweep reads them (adapter: the stacks table)."""

    def active_groups(self) -> list[StackGroup]: ...
    def list_in_group(self, org_id: str, connection_id: str, region: str) -> list[Stack]: ...


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


class StackSummaries(Protocol):
    """CloudFormation in one customer account and region, as ListStacks lists it."""

    def summaries(self) -> list[StackSummary]: ...


class StackListing(Protocol):
    """Reaches a connection's account to list its stacks (adapter: the same customer access the
    workflow uses, so the deploy role is assumed once per group and its client reused)."""

    def stacks(self, access: ConnectionAccess) -> StackSummaries: ...


class Templates(Protocol):
    """The service bucket, where rendered templates are kept and read from by CloudFormation."""

    def put(self, key: str, body: str, content_type: str = ...) -> None: ...
    def presigned_url(self, key: str, expires_in: int) -> str: ...
    def get(self, key: str) -> str | None: ...


class Workflow(Protocol):
    """One of the stacks' state machines."""

    def start(self, name: str, payload: dict[str, Any]) -> str:
        """Starts the execution ``name`` (a no-op if it exists); returns its ARN."""
        ...

    def execution_arn(self, name: str) -> str: ...

    def resume(self, task_token: str, output: dict[str, Any]) -> bool:
        """Sends a waiting task its result; False if it is not waiting any more."""
        ...


class AuditRecorder(Protocol):
    def record(self, draft: AuditDraft) -> Any: ...


class Publisher(Protocol):
    def publish(self, events: Sequence[DomainEvent]) -> None: ...


Clock = Callable[[], datetime]
Render = Callable[..., str]  # (stack, access, *, deletion_protection=True) -> template JSON
