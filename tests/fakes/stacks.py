"""In-memory fakes of the stacks domain's ports, shared by its unit tests."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from functions.shared.models.audit import AuditDraft
from functions.stacks.logic.ports import ConnectionAccess, StackGroup
from functions.stacks.models.customer import StackSummary
from functions.stacks.models.stack import (
    ANY,
    BUSY,
    Precondition,
    Stack,
    StackChanges,
    StackEvent,
    StackStatus,
)

ACCOUNT = "181818181818"
REGION = "us-east-1"


@dataclass
class InMemoryStacks:
    """The stacks table: the use cases' StackRepository and the sweep's StackGroups, counting calls."""

    items: dict[tuple[str, str], Stack] = field(default_factory=dict)
    history_lines: list[tuple[str, StackEvent]] = field(default_factory=list)
    audit_entries: list[AuditDraft] = field(default_factory=list)  # those written with a change
    calls: Counter[str] = field(default_factory=Counter)

    def put(self, stack: Stack) -> Stack:
        self.items[(stack.org_id, stack.stack_id)] = stack
        return stack

    def create(
        self, stack: Stack, event: StackEvent, audit: AuditDraft, replaces: Stack | None = None
    ) -> bool:
        self.calls["create"] += 1
        current = self.items.get((stack.org_id, stack.stack_id))
        if replaces is None:
            free = current is None
        else:
            free = (
                current is not None
                and current.operation_seq == replaces.operation_seq
                and (
                    current.status is StackStatus.DELETED
                    or (current.status is StackStatus.FAILED and current.cfn_stack_id is None)
                )
            )
        if not free:
            return False
        self.put(stack)
        self.add_history(stack, event)
        self.audit_entries.append(audit)
        return True

    def get(self, org_id: str, stack_id: str) -> Stack | None:
        self.calls["get"] += 1
        return self.items.get((org_id, stack_id))

    def list_for_org(self, org_id: str) -> list[Stack]:
        return [s for (org, _), s in self.items.items() if org == org_id]

    def find_by_cfn_stack_id(self, cfn_stack_id: str) -> Stack | None:
        return next((s for s in self.items.values() if s.cfn_stack_id == cfn_stack_id), None)

    def update(
        self,
        stack: Stack,
        changes: StackChanges,
        *,
        expect: Precondition = ANY,
        event: StackEvent | None = None,
        audit: AuditDraft | None = None,
    ) -> Stack | None:
        self.calls["update"] += 1
        current = self.items.get((stack.org_id, stack.stack_id))
        if (
            current is None
            or (expect.seq is not None and current.operation_seq != expect.seq)
            or (expect.statuses is not None and current.status not in expect.statuses)
            or (expect.wait_token is not None and current.wait_token != expect.wait_token)
            or (expect.no_wait_token and current.wait_token is not None)
        ):
            return None
        updated = self.put(current.model_copy(update=changes.given()))
        if event is not None:
            self.add_history(updated, event)
        if audit is not None:
            self.audit_entries.append(audit)
        # As the DynamoDB adapter answers: the stored record for a change alone, else the stack given
        # with the changes applied (a transaction returns no item).
        return updated if event is None and audit is None else stack.model_copy(update=changes.given())

    def wait_on(self, org_id: str, stack_id: str, seq: int, token: str) -> Stack | None:
        self.calls["wait_on"] += 1
        current = self.items.get((org_id, stack_id))
        if current is None or current.operation_seq != seq or current.status not in BUSY:
            return None
        return self.put(current.model_copy(update={"wait_token": token}))

    def add_history(self, stack: Stack, event: StackEvent) -> None:
        self.history_lines.append((stack.stack_id, event))

    def history(
        self, org_id: str, stack_id: str, limit: int = 100, before: str | None = None
    ) -> list[StackEvent]:
        return [e for sid, e in reversed(self.history_lines) if sid == stack_id][:limit]

    def active_groups(self) -> list[StackGroup]:
        self.calls["active_groups"] += 1
        return [
            StackGroup(s.org_id, s.connection_id, s.region)
            for s in self.items.values()
            if s.status is not StackStatus.DELETED
        ]

    def list_in_group(self, org_id: str, connection_id: str, region: str) -> list[Stack]:
        self.calls["list_in_group"] += 1
        return [
            s
            for s in self.items.values()
            if (s.org_id, s.connection_id, s.region) == (org_id, connection_id, region)
            and s.status is not StackStatus.DELETED
        ]


@dataclass
class FakeConnections:
    items: dict[tuple[str, str], ConnectionAccess] = field(default_factory=dict)

    def add(self, org_id: str, connection_id: str, status: str = "CONNECTED", region: str = REGION) -> None:
        self.items[(org_id, connection_id)] = ConnectionAccess(
            org_id=org_id,
            connection_id=connection_id,
            aws_account_id=ACCOUNT,
            region=region,
            status=status,
            external_id="ext",
            role_arn=None,
        )

    def get(self, org_id: str, connection_id: str) -> ConnectionAccess | None:
        return self.items.get((org_id, connection_id))


@dataclass
class FakeStackWithAccess:
    """A workflow step's one read (the stack and its connection), over the two fakes above."""

    stacks: InMemoryStacks
    connections: FakeConnections

    def read(
        self, org_id: str, stack_id: str, connection_id: str | None
    ) -> tuple[Stack | None, ConnectionAccess | None]:
        self.stacks.calls["read"] += 1
        stack = self.stacks.items.get((org_id, stack_id))
        if stack is None:
            return None, None
        return stack, self.connections.get(org_id, connection_id or stack.connection_id)


@dataclass
class FakeAccountStacks:
    """ListStacks in one customer account and region, paged like CloudFormation's (100 a page)."""

    account: FakeCustomer

    def summaries(self) -> list[StackSummary]:
        listed = list(self.account.listed)
        self.account.pages += max(1, -(-len(listed) // self.account.page_size))
        if self.account.while_listing is not None:
            self.account.while_listing()
        return listed


@dataclass
class FakeCustomer:
    """The customer-access adapter as the sweep uses it: one role assumption per ``stacks()``."""

    listed: list[StackSummary] = field(default_factory=list)
    page_size: int = 100
    refuse: Exception | None = None
    while_listing: Callable[[], object] | None = None
    assumed: int = 0
    pages: int = 0

    def stacks(self, access: ConnectionAccess) -> FakeAccountStacks:
        if self.refuse is not None:
            raise self.refuse
        self.assumed += 1
        return FakeAccountStacks(self)


@dataclass
class FakeWorkflow:
    resumed: list[str] = field(default_factory=list)

    def start(self, *args: Any) -> str:
        raise AssertionError("the sweep never starts a workflow")

    def execution_arn(self, name: str) -> str:
        raise AssertionError("the sweep never starts a workflow")

    def resume(self, token: str, output: dict[str, Any]) -> bool:
        self.resumed.append(token)
        return True
