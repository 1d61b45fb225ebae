"""Counts, not times, for one stack creation (make bench prints them): with the account's status
events, and without them (the polling fallback); and the stacks API's DynamoDB calls per request."""

from __future__ import annotations

import pytest

from infra.local.runtime import LocalStackpilot
from tests.bench.stacks import (
    API_DYNAMODB_GOALS,
    EVENT_DRIVEN_GOALS,
    EVENT_DRIVEN_TRANSITIONS,
    POLLING_GOAL_AWS_CALLS,
    POLLING_GOAL_MINUTES,
    POLLING_GOAL_TRANSITIONS,
    create_stack,
    deployed_first_wait,
    deployed_schedule,
    local_schedule,
    polling_aws_calls,
    polling_transitions,
    read_stack_dynamodb_calls,
)
from tests.workflows.client import Api
from tests.workflows.stack_support import connected_account

pytestmark = [pytest.mark.workflow, pytest.mark.xdist_group("local-cloud")]

CUSTOMER = "141414141414"


@pytest.fixture(scope="module")
def connected(stackpilot: LocalStackpilot) -> tuple[Api, str]:
    return connected_account(stackpilot, "org_waiting", CUSTOMER)


def test_an_event_driven_creation_takes_four_transitions_and_at_most_25_aws_calls(
    stackpilot: LocalStackpilot, connected: tuple[Api, str]
) -> None:
    admin, connection_id = connected
    # GIVEN a stack still creating when the workflow starts waiting (held until AwaitStatus kept its
    # token), and the deployed first wait (10 s, not scaled): however slowly this machine delivers
    # the status event, it comes long before the wait would time out into a poll
    with deployed_first_wait():
        # WHEN its CREATE_COMPLETE status event arrives from the customer's account
        creation = create_stack(stackpilot, admin, connection_id, "evented", events=True)
    # THEN the event resumed the wait, and the stack is READY
    assert creation.execution_status == "SUCCEEDED"
    assert creation.stack_status == "READY"
    assert creation.resumed_by == ["stacks-status-event"]
    # AND it took StartChange, NothingToWaitFor, AwaitStatus, Finish
    assert creation.transitions == EVENT_DRIVEN_TRANSITIONS <= EVENT_DRIVEN_GOALS["transitions"]
    # AND one look at the stack, to record the outcome (the wait reads what the event recorded)
    assert creation.describe_stacks == 1 <= EVENT_DRIVEN_GOALS["describe_stacks"]
    # AND, everything our functions called: the authorizer 1, the API 5, StartChange 8, AwaitStatus 1
    # (its token, read back), the status events 4 (the two in-progress ones cost nothing; the last
    # finds the stack and wakes the workflow), Finish 5
    calls = creation.counter.by_function()
    assert dict(calls) == {
        "tenancy-authorizer": 1,
        "stacks-api": 5,
        "stacks-start-change": 8,
        "stacks-await-status": 1,
        "stacks-status-event": 4,
        "stacks-finish": 5,
    }, creation.counter.calls
    assert creation.aws_calls == 24 <= EVENT_DRIVEN_GOALS["aws_calls"]
    assert creation.counter.by_operation()["dynamodb:GetItem"] == 3
    # AND the POST made 3 DynamoDB calls: the connection, the audit chain's tail, one transaction
    assert creation.api_dynamodb == 3 <= API_DYNAMODB_GOALS["POST /stacks"]
    # AND reading the stack back makes one
    assert read_stack_dynamodb_calls(admin, creation.stack_id) == 1 <= API_DYNAMODB_GOALS["GET /stacks/{id}"]


@pytest.mark.slow
def test_without_status_events_the_wait_polls_on_the_doubling_schedule(
    stackpilot: LocalStackpilot, connected: tuple[Api, str]
) -> None:
    admin, connection_id = connected
    # GIVEN a creation of 150 simulated seconds (7.5 s at the time scale 0.05), whose status events
    # never arrive
    creation_seconds = 150
    looks = local_schedule(stackpilot).looks(creation_seconds * stackpilot.cloud.time_scale)
    assert looks == [1, 2, 4, 6]  # the waits before each look, in real seconds: doubling, then capped
    # WHEN the stack is created
    creation = create_stack(
        stackpilot,
        admin,
        connection_id,
        "polled",
        events=False,
        creation_seconds=creation_seconds,
        waits_begun=len(looks),
    )
    # THEN the workflow looked after each wait of the schedule, and the last look found it created
    assert creation.execution_status == "SUCCEEDED"
    assert creation.stack_status == "READY"
    assert creation.looks == looks
    assert creation.resumed_by == []
    # AND it made exactly the transitions the schedule predicts. A slow machine cannot make it fewer:
    # the creation is held until the 4th wait has begun. Nor more unless it stalls for over 5 s: the
    # creation ends 7.5 s after the request (or as the 4th wait begins, if later), the 4th look
    # comes when that 6 s wait ends, 13 s after the first wait began.
    assert creation.transitions == polling_transitions(len(looks)) == 15
    # AND one DescribeStacks per look (the wait itself does not look), one to record the outcome
    assert creation.describe_stacks == len(looks) + 1
    # AND the AWS calls the arithmetic predicts: a fixed part, and 3 per look
    assert creation.aws_calls == polling_aws_calls(len(looks)) == 31, creation.counter.calls


def test_a_fifteen_minute_creation_without_events_stays_within_51_transitions_and_60_calls() -> None:
    # The same arithmetic as above, on the deployed schedule: 15 minutes would take too long to run
    schedule = deployed_schedule()
    looks = schedule.looks(POLLING_GOAL_MINUTES * 60)
    assert looks == [10, 20, 40, 80, *[120] * 7]  # the last look, at 990 s, finds it created
    assert polling_transitions(len(looks)) == 36 <= POLLING_GOAL_TRANSITIONS
    assert polling_aws_calls(len(looks)) == 52 <= POLLING_GOAL_AWS_CALLS
