"""The reconcile sweep: every stack's status kept current when no event told us (a customer account
without the forwarding rule, a lost event, a change or deletion from the console, a missed wake-up).

The reconcile-stacks workflow plans the groups (org, connection, region) that have live stacks, then
sweeps each group in one invocation: the connection's deploy role assumed once, one ListStacks (every
page), and our stacks of that group compared with what the account says. Only a stack whose status
differs costs DynamoDB writes; nothing here is a per-stack loop of Lambdas or of CloudFormation calls.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from functions.stacks.exceptions import CustomerAccessDenied, CustomerAwsFailure
from functions.stacks.logic import status as cfn
from functions.stacks.logic.account_status import StatusDeps, observe, wake
from functions.stacks.logic.ports import Connections, StackGroup, StackGroups, StackListing
from functions.stacks.models.customer import StackSummary
from functions.stacks.models.stack import BUSY, Stack, StackStatus

SOURCE = "reconcile"
GONE = "DELETE_COMPLETE"
GONE_REASON = "the stack is no longer listed in the account"


@dataclass(frozen=True)
class ReconcileDeps:
    status: StatusDeps  # records what differs, wakes what waits
    connections: Connections
    groups: StackGroups
    listing: StackListing


@dataclass(frozen=True)
class SweepResult:
    """What one group's sweep did, counts only (it is a Map item's output in the workflow history)."""

    seen: int = 0
    changed: int = 0
    woken: int = 0
    skipped: str | None = None

    def as_dict(self) -> dict[str, int | str | None]:
        return asdict(self)


def plan(groups: StackGroups) -> list[dict[str, str]]:
    """The groups to sweep, ids only (the workflow's Map iterates over them)."""
    return [asdict(g) for g in sorted(set(groups.active_groups()))]


def sweep(deps: ReconcileDeps, group: StackGroup) -> SweepResult:
    """One group: our stacks compared with the account's ListStacks; each difference observed (history,
    drift mapped to READY/FAILED/DELETED outside an operation, StackStatusChanged), each settled stack
    whose workflow still waits on a task token woken. A group we cannot reach is skipped, with why."""
    access = deps.connections.get(group.org_id, group.connection_id)
    if access is None:
        return SweepResult(skipped="the connection is gone")
    if access.status != "CONNECTED":
        return SweepResult(skipped=f"the connection is {access.status.lower()}")
    if access.region != group.region:
        return SweepResult(skipped=f"the connection is for {access.region}, not {group.region}")
    # Our stacks are read before the account is listed: a task token seen here was registered after its
    # change was executed, so a settled status in the listing is that change's end, not the one before.
    ours = deps.groups.list_in_group(group.org_id, group.connection_id, group.region)
    if not ours:
        return SweepResult()
    try:
        listed = deps.listing.stacks(access).summaries()
    except (CustomerAccessDenied, CustomerAwsFailure) as exc:
        return SweepResult(seen=len(ours), skipped=str(exc))
    by_id = {s.stack_id: s for s in listed}
    # By name only for a stack that has no id yet; a deleted stack of the same name is an older one.
    by_name = {s.name: s for s in listed if s.status != GONE}
    changed = woken = 0
    for stack in ours:
        found = by_id.get(stack.cfn_stack_id) if stack.cfn_stack_id else by_name.get(stack.cfn_stack_name)
        did_change, did_wake = _reconcile(deps.status, stack, found)
        changed += did_change
        woken += did_wake
    return SweepResult(seen=len(ours), changed=changed, woken=woken)


def _reconcile(deps: StatusDeps, stack: Stack, found: StackSummary | None) -> tuple[bool, bool]:
    if found is not None:
        status, reason = found.status, found.reason
    elif stack.cfn_stack_id is not None:  # known to us, not even listed as deleted any more
        status, reason = GONE, GONE_REASON
    else:
        return False, False  # not made in the account yet: the workflow is on it
    try:
        settled = cfn.settled(status)
    except cfn.UnknownStatus:
        return False, False  # a status CloudFormation added since: nothing sensible to map it to
    busy = stack.status in BUSY
    changed = False
    if status != stack.cfn_status and not (found is None and busy):
        changed = _observe_if_unchanged(deps, stack, status, reason)
    if busy and settled and stack.wait_token:
        # Conditional on the token: a no-op when the event or the poll resumed the workflow first.
        wake(deps, stack, stack.wait_token)
        return changed, True
    return changed, False


def _observe_if_unchanged(deps: StatusDeps, seen: Stack, status: str, reason: str | None) -> bool:
    """Observes from a fresh read, and only if nobody recorded anything since ours: an event or the
    workflow that did is newer than the listing, which must not undo it."""
    fresh = deps.stacks.get(seen.org_id, seen.stack_id)
    if (
        fresh is None
        or fresh.status is StackStatus.DELETED
        or (fresh.operation_seq, fresh.status, fresh.cfn_status, fresh.cfn_stack_id)
        != (seen.operation_seq, seen.status, seen.cfn_status, seen.cfn_stack_id)
    ):
        return False
    observe(deps, fresh, status, reason, source=SOURCE)
    return True
