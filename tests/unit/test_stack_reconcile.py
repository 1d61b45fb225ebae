"""The reconcile sweep (functions/stacks/logic/reconcile.py) with in-memory fakes: what each group's
sweep records, wakes and skips, and what it costs (one listing per group, writes only for changes)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from functions.stacks.exceptions import CustomerAccessDenied
from functions.stacks.logic import reconcile
from functions.stacks.logic.account_status import StatusDeps
from functions.stacks.logic.ports import StackGroup
from functions.stacks.models.customer import StackSummary
from functions.stacks.models.events import StackStatusChanged
from functions.stacks.models.stack import StackStatus
from tests.fakes.accounts import FakeClock, RecordingEvents
from tests.fakes.stacks import REGION, FakeConnections, FakeCustomer, FakeWorkflow, InMemoryStacks
from tests.unit.stacks_builders import CONN, GROUP, ORG, cfn_id, listed, stack


@dataclass
class World:
    stacks: InMemoryStacks
    connections: FakeConnections
    customer: FakeCustomer
    workflow: FakeWorkflow
    events: RecordingEvents
    deps: reconcile.ReconcileDeps

    def sweep(self, group: StackGroup = GROUP) -> reconcile.SweepResult:
        return reconcile.sweep(self.deps, group)

    def status_changes(self) -> list[StackStatusChanged]:
        return [e for e in self.events.published if isinstance(e, StackStatusChanged)]


@pytest.fixture
def world() -> World:
    stacks, connections, customer = InMemoryStacks(), FakeConnections(), FakeCustomer()
    workflow, events = FakeWorkflow(), RecordingEvents()
    connections.add(ORG, CONN)
    deps = reconcile.ReconcileDeps(
        status=StatusDeps(stacks=stacks, workflow=workflow, events=events, clock=FakeClock()),
        connections=connections,
        groups=stacks,
        listing=customer,
    )
    return World(stacks, connections, customer, workflow, events, deps)


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
