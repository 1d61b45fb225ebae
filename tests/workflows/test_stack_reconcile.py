"""The scheduled reconcile sweep end to end in the local cloud: stacks changed in the customer's
account behind our back (their status events lost) are brought current by the reconcile-stacks
workflow, at a cost of one role assumption and one ListStacks per account and region."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from functions.stacks.logic import reconcile
from infra.local import patches
from infra.local.cloud import fresh_containers
from infra.local.runtime import LocalStackpilot
from tests.bench.counters import AwsCallCounter
from tests.workflows.client import Api
from tests.workflows.stack_support import connected_account, spec, wait_settled

pytestmark = [pytest.mark.workflow, pytest.mark.xdist_group("local-cloud")]

CUSTOMER = "171717171717"
ORG = "org_reconcile"
PREFIX = "stackpilot-drift-"


@pytest.fixture(scope="module")
def connected(stackpilot: LocalStackpilot) -> tuple[Api, str]:
    _, connection_id = connected_account(stackpilot, ORG, CUSTOMER)
    return Api(stackpilot, org_id=ORG, role="contributor"), connection_id


@pytest.fixture
def stack_hooks() -> Iterator[None]:
    """Event suppressions and injected faults end with the test."""
    try:
        yield
    finally:
        patches.clear_stack_hooks()


def _ready(api: Api, connection_id: str, name: str) -> dict[str, Any]:
    created = api.request("POST", "/stacks", spec(connection_id, name=name, database=None))
    assert created.status == 202, created
    stack = wait_settled(api, created.body["stack_id"])
    assert stack["status"] == "READY", (stack["reason"], stack["failure"])
    return stack


def _settled_in_account(cfn: Any, stack_id: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while (status := cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"]).endswith(
        "_IN_PROGRESS"
    ) and time.monotonic() < deadline:
        time.sleep(0.05)
    return str(status)


def _status_changes(stackpilot: LocalStackpilot, stack_ids: set[str]) -> list[dict[str, Any]]:
    return [
        e["detail"]
        for e in stackpilot.cloud.tap_events()
        if e["detail-type"] == "StackStatusChanged" and e["detail"]["stack_id"] in stack_ids
    ]


HISTORY_KEYS = {
    *("version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"),
    *("groups", "org_id", "connection_id", "seen", "changed", "woken", "skipped"),
    *("FunctionName", "Payload"),  # the Lambda task's own parameters (FunctionName: our function's ARN)
    *("ExecutedVersion", "SdkHttpMetadata", "SdkResponseMetadata", "StatusCode"),  # Lambda's answer
}


def _history_keys(stackpilot: LocalStackpilot) -> set[str]:
    """Every key of every input, output and parameter in the latest reconcile-stacks execution."""
    sfn = stackpilot.cloud.client("stepfunctions")
    machine = stackpilot.cloud.names.state_machine_arn("reconcile-stacks")
    latest = max(sfn.list_executions(stateMachineArn=machine)["executions"], key=lambda e: e["startDate"])
    keys: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            keys.update(value)
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    for event in sfn.get_execution_history(executionArn=latest["executionArn"], maxResults=1000)["events"]:
        for details in event.values():
            if isinstance(details, dict):
                for field in ("input", "output", "parameters"):
                    if isinstance(details.get(field), str):
                        walk(json.loads(details[field]))
    return keys


def test_stacks_changed_behind_our_back_are_brought_current_by_the_sweep(
    stackpilot: LocalStackpilot, connected: tuple[Api, str], stack_hooks: None
) -> None:
    api, connection_id = connected
    # GIVEN two READY stacks in the customer's account
    gone, broken = _ready(api, connection_id, "drift-gone"), _ready(api, connection_id, "drift-broken")
    list(stackpilot.cloud.tap_events())  # what creating them published
    # AND the customer deletes one from the console, and fails to delete the other; no event reaches us
    patches.suppress_stack_status_events(PREFIX)
    cfn = stackpilot.cloud.customer_client("cloudformation", CUSTOMER, "us-east-1")
    gone_id, broken_id = (
        cfn.describe_stacks(StackName=s["cfn_stack_name"])["Stacks"][0]["StackId"] for s in (gone, broken)
    )
    cfn.delete_stack(StackName=gone_id)
    template = api.request("GET", f"/stacks/{broken['stack_id']}/template").body
    cluster = next(k for k, r in template["Resources"].items() if r["Type"] == "AWS::ECS::Cluster")
    patches.fail_next_stack_deletion(broken["cfn_stack_name"], cluster, "still in use")
    cfn.delete_stack(StackName=broken_id)
    assert _settled_in_account(cfn, gone_id) == "DELETE_COMPLETE"
    assert _settled_in_account(cfn, broken_id) == "DELETE_FAILED"
    assert api.request("GET", f"/stacks/{gone['stack_id']}").body["status"] == "READY"  # we do not know yet

    live = [s for s in api.request("GET", "/stacks").body["items"] if s["status"] != "DELETED"]

    # WHEN the schedule fires (new containers: the role is assumed as on a cold start)
    fresh_containers()
    with AwsCallCounter().installed() as counter:
        output = stackpilot.cloud.run_schedule("reconcile-stacks")

    # THEN the one group (this org's one connection) was swept, its result counts only
    assert output == {"groups": [{"seen": len(live), "changed": 2, "woken": 0, "skipped": None}]}
    # AND the stacks say what happened, with the sweep as the source in their history
    now_gone = api.request("GET", f"/stacks/{gone['stack_id']}").body
    assert (now_gone["status"], now_gone["cfn_status"]) == ("DELETED", "DELETE_COMPLETE")
    now_broken = api.request("GET", f"/stacks/{broken['stack_id']}").body
    assert (now_broken["status"], now_broken["cfn_status"]) == ("FAILED", "DELETE_FAILED")
    for stack_id, cfn_status in (
        (gone["stack_id"], "DELETE_COMPLETE"),
        (broken["stack_id"], "DELETE_FAILED"),
    ):
        latest = api.request("GET", f"/stacks/{stack_id}/events").body["items"][0]
        assert (latest["kind"], latest["actor"], latest["cfn_status"]) == ("status", "reconcile", cfn_status)
    # AND subscribers heard it
    changes = _status_changes(stackpilot, {gone["stack_id"], broken["stack_id"]})
    assert sorted((c["status"], c["previous_status"], c["source_of_truth"]) for c in changes) == [
        ("DELETED", "READY", "reconcile"),
        ("FAILED", "READY", "reconcile"),
    ]
    # AND it cost one Scan to plan; for the group, one role chain (our assumer, then the deploy role)
    # and one ListStacks, no DescribeStacks; DynamoDB: the connection and the group's stacks read
    # once, then per changed stack a re-read and one transaction (the update with its history line)
    assert counter.invocations == {"stacks-reconcile-plan": 1, "stacks-sweep": 1}
    calls = counter.by_operation()
    assert calls["dynamodb:Scan"] == 1
    assert calls["sts:AssumeRole"] == 2 and calls["cloudformation:ListStacks"] == 1
    assert not [c for c in calls if c.startswith("cloudformation:") and c != "cloudformation:ListStacks"]
    assert calls["dynamodb:Query"] == 1 and calls["events:PutEvents"] == 2
    dynamodb = sum(n for c, n in calls.items() if c.startswith("dynamodb:"))
    assert dynamodb == 1 + 1 + 1 + 2 * 2, calls  # Scan; connection; group; 2 per changed stack

    # AND its whole history holds ids and counts only
    keys = _history_keys(stackpilot)
    assert {"org_id", "connection_id", "seen"} <= keys and keys <= HISTORY_KEYS, keys - HISTORY_KEYS

    # WHEN it fires again
    again = stackpilot.cloud.run_schedule("reconcile-stacks")
    # THEN the failed stack is still seen, nothing changes, nobody is told anything
    assert again == {"groups": [{"seen": len(live) - 1, "changed": 0, "woken": 0, "skipped": None}]}
    assert _status_changes(stackpilot, {gone["stack_id"], broken["stack_id"]}) == []


def test_a_group_whose_sweep_fails_is_recorded_and_the_sweep_succeeds(
    stackpilot: LocalStackpilot, connected: tuple[Api, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    api, connection_id = connected
    _ready(api, connection_id, "steady")

    def broken(*_: Any) -> reconcile.SweepResult:
        raise RuntimeError("our own outage")

    monkeypatch.setattr(reconcile, "sweep", broken)
    # WHEN the schedule fires and the group's sweep fails
    output = stackpilot.cloud.run_schedule("reconcile-stacks")
    # THEN the run still succeeds, the group's result names the error (its class, not its message)
    assert {"seen": 0, "changed": 0, "woken": 0, "skipped": "RuntimeError"} in output["groups"]
