"""The reconcile sweep (functions/stacks/logic/reconcile.py) with in-memory fakes: what each group's
sweep records, wakes and skips, and what it costs (one listing per group, writes only for changes)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from functions.shared.audit import AuditDraft
from functions.shared.events import DomainEvent
from functions.stacks.exceptions import CustomerAccessDenied
from functions.stacks.logic import reconcile
from functions.stacks.logic.lifecycle import StacksDeps
from functions.stacks.logic.ports import ConnectionAccess
from functions.stacks.logic.reconcile import StackGroup, StackSummary
from functions.stacks.models.events import StackStatusChanged
from functions.stacks.models.stack import Stack, StackEvent, StackStatus
from tests.fakes.accounts import FakeClock

ORG = "org_reconcile_unit"
CONN = "conn_" + "r" * 26
ACCOUNT = "181818181818"
REGION = "us-east-1"
GROUP = StackGroup(ORG, CONN, REGION)
T0 = datetime(2026, 11, 23, 11, 0, tzinfo=UTC)


# --- fakes ----------------------------------------------------------------------------------------


@dataclass
class InMemoryStacks:
    """The stacks table: the lifecycle's StackRepository and the sweep's StackGroups, counting calls."""

    items: dict[tuple[str, str], Stack] = field(default_factory=dict)
    history_lines: list[tuple[str, StackEvent]] = field(default_factory=list)
    calls: Counter[str] = field(default_factory=Counter)

    def put(self, stack: Stack) -> Stack:
        self.items[(stack.org_id, stack.stack_id)] = stack
        return stack

    def create(self, stack: Stack, event: StackEvent, audit: AuditDraft) -> None:
        self.put(stack)

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
        *,
        expect_seq: int | None = None,
        expect_status: Sequence[StackStatus] | None = None,
        expect_token: str | None = None,
        event: StackEvent | None = None,
        audit: AuditDraft | None = None,
        **changes: Any,
    ) -> Stack | None:
        self.calls["update"] += 1
        current = self.items.get((stack.org_id, stack.stack_id))
        if (
            current is None
            or (expect_seq is not None and current.operation_seq != expect_seq)
            or (expect_status is not None and current.status not in expect_status)
            or (expect_token is not None and current.wait_token != expect_token)
        ):
            return None
        updated = self.put(current.model_copy(update=changes))
        if event is not None:
            self.add_history(updated, event)
        return updated

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

    def resume(self, token: str, output: dict[str, Any]) -> bool:
        self.resumed.append(token)
        return True


@dataclass
class RecordingPublisher:
    published: list[DomainEvent] = field(default_factory=list)

    def publish(self, events: Sequence[DomainEvent]) -> None:
        self.published.extend(events)


@dataclass
class World:
    stacks: InMemoryStacks
    connections: FakeConnections
    customer: FakeCustomer
    workflow: FakeWorkflow
    events: RecordingPublisher
    deps: StacksDeps

    def sweep(self, group: StackGroup = GROUP) -> reconcile.SweepResult:
        return reconcile.sweep(self.deps, self.stacks, self.customer, group)

    def status_changes(self) -> list[StackStatusChanged]:
        return [e for e in self.events.published if isinstance(e, StackStatusChanged)]


def _unused(*_: Any, **__: Any) -> Any:
    raise AssertionError("the sweep does not use this")


@pytest.fixture
def world() -> World:
    stacks, connections, customer = InMemoryStacks(), FakeConnections(), FakeCustomer()
    workflow, events = FakeWorkflow(), RecordingPublisher()
    connections.add(ORG, CONN)
    deps = StacksDeps(
        stacks=stacks,
        connections=connections,
        customer=customer,  # type: ignore[arg-type]  # the sweep lists; the workflow's methods go unused
        templates=_unused,  # type: ignore[arg-type]
        workflow=workflow,
        events=events,
        clock=FakeClock(),
        render=_unused,
        audit=_unused,  # type: ignore[arg-type]
    )
    return World(stacks, connections, customer, workflow, events, deps)


# --- builders -------------------------------------------------------------------------------------


def cfn_id(name: str, account: str = ACCOUNT) -> str:
    return f"arn:aws:cloudformation:{REGION}:{account}:stack/{name}/{name}-0000"


def stack(
    name: str,
    status: StackStatus = StackStatus.READY,
    cfn_status: str | None = "CREATE_COMPLETE",
    *,
    with_id: bool = True,
    wait_token: str | None = None,
    connection_id: str = CONN,
    region: str = REGION,
    org_id: str = ORG,
) -> Stack:
    cfn_name = f"stackpilot-{name}-dev"
    return Stack(
        org_id=org_id,
        stack_id=f"stk_{name}",
        connection_id=connection_id,
        aws_account_id=ACCOUNT,
        region=region,
        name=name,
        stage="dev",
        cfn_stack_name=cfn_name,
        spec={"name": name, "stage": "dev"},
        status=status,
        operation="create",
        cfn_stack_id=cfn_id(cfn_name) if with_id else None,
        cfn_status=cfn_status,
        wait_token=wait_token,
        created_by="user:alice",
        created_at=T0,
        updated_at=T0,
        status_changed_at=T0,
    )


def listed(s: Stack, status: str, reason: str | None = None) -> StackSummary:
    return StackSummary(
        stack_id=s.cfn_stack_id or cfn_id(s.cfn_stack_name),
        name=s.cfn_stack_name,
        status=status,
        reason=reason,
    )


# --- plan -----------------------------------------------------------------------------------------


def test_the_plan_is_each_group_with_live_stacks_once_ids_only(world: World) -> None:
    # GIVEN two stacks on one connection, one on another org's connection, and a deleted one elsewhere
    world.stacks.put(stack("a"))
    world.stacks.put(stack("b", StackStatus.CREATING, None, with_id=False))
    world.stacks.put(stack("c", org_id="org_other", connection_id="conn_other"))
    world.stacks.put(stack("d", StackStatus.DELETED, "DELETE_COMPLETE", connection_id="conn_gone"))
    # WHEN the sweep is planned
    groups = reconcile.plan(world.stacks)
    # THEN each group with a live stack is there once, as ids and nothing else
    assert groups == [
        {"org_id": "org_other", "connection_id": "conn_other", "region": REGION},
        {"org_id": ORG, "connection_id": CONN, "region": REGION},
    ]


# --- drift ----------------------------------------------------------------------------------------


def test_a_stack_deleted_from_the_console_becomes_deleted_and_says_so(world: World) -> None:
    # GIVEN a READY stack the customer deleted by hand (no event reached us)
    shop = world.stacks.put(stack("shop"))
    world.customer.listed = [listed(shop, "DELETE_COMPLETE", "User Initiated")]
    # WHEN its group is swept
    result = world.sweep()
    # THEN it is DELETED, its history says the sweep saw it, and StackStatusChanged tells subscribers
    assert result == reconcile.SweepResult(seen=1, changed=1, woken=0)
    now = world.stacks.items[(ORG, "stk_shop")]
    assert (now.status, now.cfn_status) == (StackStatus.DELETED, "DELETE_COMPLETE")
    ((_, line),) = world.stacks.history_lines
    assert line.actor == "reconcile" and "User Initiated" in line.message
    (changed,) = world.status_changes()
    assert (changed.status, changed.previous_status, changed.source_of_truth) == (
        "DELETED",
        "READY",
        "reconcile",
    )


def test_a_known_stack_no_longer_listed_at_all_is_deleted(world: World) -> None:
    # GIVEN a READY stack that ListStacks does not even list as deleted any more (gone > 90 days)
    world.stacks.put(stack("old"))
    # WHEN its group is swept
    result = world.sweep()
    # THEN it is DELETED, the reason says why
    assert result.changed == 1
    assert world.stacks.items[(ORG, "stk_old")].status is StackStatus.DELETED
    ((_, line),) = world.stacks.history_lines
    assert line.cfn_status == "DELETE_COMPLETE" and "no longer listed" in line.message


@pytest.mark.parametrize(
    ("cfn_status", "health"),
    [
        ("UPDATE_ROLLBACK_COMPLETE", StackStatus.READY),  # a console update failed: the old version runs
        ("DELETE_FAILED", StackStatus.FAILED),
        ("UPDATE_IN_PROGRESS", StackStatus.READY),  # running: recorded, the health waits for the end
    ],
)
def test_console_changes_are_recorded_and_mapped_to_the_stacks_health(
    world: World, cfn_status: str, health: StackStatus
) -> None:
    shop = world.stacks.put(stack("shop"))
    world.customer.listed = [listed(shop, cfn_status)]
    world.sweep()
    now = world.stacks.items[(ORG, "stk_shop")]
    assert (now.cfn_status, now.status) == (cfn_status, health)
    assert [e.cfn_status for e in world.status_changes()] == [cfn_status]


def test_a_stack_without_an_id_yet_is_matched_by_name_never_by_an_older_deleted_one(world: World) -> None:
    # GIVEN a stack being created whose id we have not recorded yet; the account has it, and an older
    # deleted stack of the same name
    new = world.stacks.put(stack("fresh", StackStatus.CREATING, None, with_id=False))
    older = StackSummary(
        cfn_id(new.cfn_stack_name).replace("0000", "old"), new.cfn_stack_name, "DELETE_COMPLETE", None
    )
    world.customer.listed = [older, listed(new, "CREATE_IN_PROGRESS")]
    # WHEN swept
    world.sweep()
    # THEN the live one's status is recorded; the stack stays CREATING (its workflow decides the end)
    now = world.stacks.items[(ORG, "stk_fresh")]
    assert (now.status, now.cfn_status) == (StackStatus.CREATING, "CREATE_IN_PROGRESS")


def test_a_stack_not_made_in_the_account_yet_is_left_to_its_workflow(world: World) -> None:
    world.stacks.put(stack("early", StackStatus.CREATING, None, with_id=False))
    assert world.sweep() == reconcile.SweepResult(seen=1)
    assert not world.stacks.history_lines and not world.events.published


def test_a_status_cloudformation_added_since_is_left_alone(world: World) -> None:
    shop = world.stacks.put(stack("shop"))
    world.customer.listed = [listed(shop, "SOME_NEW_STATUS")]
    assert world.sweep().changed == 0
    assert world.stacks.items[(ORG, "stk_shop")] == shop


# --- missed wake-ups ------------------------------------------------------------------------------


def test_a_workflow_whose_event_was_missed_is_woken_once(world: World) -> None:
    # GIVEN a stack whose workflow waits on a task token, and CloudFormation finished (event lost)
    shop = world.stacks.put(stack("shop", StackStatus.CREATING, "CREATE_IN_PROGRESS", wait_token="tok-1"))
    world.customer.listed = [listed(shop, "CREATE_COMPLETE")]
    # WHEN swept, twice
    first, second = world.sweep(), world.sweep()
    # THEN the workflow is resumed once, the status recorded; the stack stays CREATING: the workflow's
    # own last step records the outcome (outputs, audit)
    assert world.workflow.resumed == ["tok-1"]
    assert (first.changed, first.woken) == (1, 1) and (second.changed, second.woken) == (0, 0)
    now = world.stacks.items[(ORG, "stk_shop")]
    assert (now.status, now.cfn_status, now.wait_token) == (StackStatus.CREATING, "CREATE_COMPLETE", None)


def test_a_workflow_still_waiting_on_a_running_stack_is_not_woken(world: World) -> None:
    shop = world.stacks.put(stack("shop", StackStatus.UPDATING, "UPDATE_IN_PROGRESS", wait_token="tok-2"))
    world.customer.listed = [listed(shop, "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS")]
    result = world.sweep()
    assert (result.changed, result.woken) == (1, 0) and world.workflow.resumed == []
    assert world.stacks.items[(ORG, "stk_shop")].wait_token == "tok-2"


def test_a_stack_being_deleted_that_is_gone_wakes_its_workflow_and_is_not_marked_by_the_sweep(
    world: World,
) -> None:
    # GIVEN a delete workflow waiting, and the stack not listed any more
    world.stacks.put(stack("bye", StackStatus.DELETING, "DELETE_IN_PROGRESS", wait_token="tok-3"))
    # WHEN swept
    result = world.sweep()
    # THEN the workflow is woken to look for itself; the record is the workflow's to settle
    assert (result.changed, result.woken) == (0, 1) and world.workflow.resumed == ["tok-3"]
    assert world.stacks.items[(ORG, "stk_bye")].status is StackStatus.DELETING
    assert not world.events.published


def test_an_event_recorded_while_the_account_was_listed_is_not_undone(world: World) -> None:
    # GIVEN the listing shows UPDATE_IN_PROGRESS, and meanwhile the update's last event is recorded
    shop = world.stacks.put(stack("shop", StackStatus.READY, "CREATE_COMPLETE"))
    world.customer.listed = [listed(shop, "UPDATE_IN_PROGRESS")]
    world.customer.while_listing = lambda: world.stacks.put(
        shop.model_copy(update={"cfn_status": "UPDATE_COMPLETE"})
    )
    # WHEN swept
    result = world.sweep()
    # THEN the newer record stands; the next sweep compares again
    assert result.changed == 0
    assert world.stacks.items[(ORG, "stk_shop")].cfn_status == "UPDATE_COMPLETE"
    assert not world.events.published


# --- skipped groups -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prepare", "reason"),
    [
        (lambda w: w.connections.add(ORG, CONN, status="DISCONNECTED"), "the connection is disconnected"),
        (lambda w: w.connections.items.clear(), "the connection is gone"),
        (
            lambda w: setattr(
                w.customer, "refuse", CustomerAccessDenied("the customer's account refused it")
            ),
            "the customer's account refused it",
        ),
    ],
    ids=["disconnected", "gone", "role-refused"],
)
def test_a_group_that_cannot_be_reached_is_skipped_with_the_reason(
    world: World, prepare: Callable[[World], None], reason: str
) -> None:
    # GIVEN a stack deleted from the console, in a group we cannot reach
    shop = world.stacks.put(stack("shop"))
    world.customer.listed = [listed(shop, "DELETE_COMPLETE")]
    prepare(world)
    # WHEN swept
    result = world.sweep()
    # THEN the group is skipped with why, and nothing is changed
    assert result.skipped == reason and result.changed == 0
    assert world.stacks.items[(ORG, "stk_shop")] == shop and not world.events.published


# --- cost -----------------------------------------------------------------------------------------


def test_one_group_costs_one_role_assumption_every_listing_page_and_writes_for_changes_only(
    world: World,
) -> None:
    # GIVEN 250 of our stacks in one group (3 ListStacks pages), 2 of them changed behind our back
    ours = [world.stacks.put(stack(f"s{i:03d}")) for i in range(250)]
    world.customer.listed = [listed(s, "CREATE_COMPLETE") for s in ours]
    world.customer.listed[7] = listed(ours[7], "DELETE_COMPLETE")
    world.customer.listed[42] = listed(ours[42], "UPDATE_COMPLETE")
    world.stacks.calls.clear()
    # WHEN the group is swept
    result = world.sweep()
    # THEN one assumption and 3 pages; one read of the group, and a re-read and a write per change only
    assert result == reconcile.SweepResult(seen=250, changed=2, woken=0)
    assert (world.customer.assumed, world.customer.pages) == (1, 3)
    assert world.stacks.calls == Counter({"list_in_group": 1, "get": 2, "update": 2})
    assert len(world.events.published) == 2


def test_a_group_with_no_live_stack_left_is_not_listed_at_all(world: World) -> None:
    world.stacks.put(stack("gone", StackStatus.DELETED, "DELETE_COMPLETE"))
    assert world.sweep() == reconcile.SweepResult()
    assert world.customer.assumed == 0
