"""Counts, not times, for the wait of one stack creation: state transitions of its provision_stack
execution, DescribeStacks calls, Lambda invocations and AWS calls; with the customer account's
status events (event-driven) and without them (the polling fallback).

The arithmetic of the polling schedule lives here too: the workflow test checks it against a real
execution, then uses it for the 15-minute figure, which would take too long to run in a test.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from infra import definitions
from infra.local import patches, runtime
from infra.local.cloud import fresh_containers
from tests.bench.counters import AwsCallCounter, state_transitions
from tests.workflows.client import Api
from tests.workflows.stack_support import connected_account

EVENT_DRIVEN_GOALS = {"transitions": 5, "describe_stacks": 2, "aws_calls": 25}
POLLING_GOAL_TRANSITIONS = 51
POLLING_GOAL_AWS_CALLS = 60
POLLING_GOAL_MINUTES = 15
# DynamoDB calls of the stacks API function for one request
API_DYNAMODB_GOALS = {"POST /stacks": 3, "GET /stacks/{id}": 1}
# StartChange, NothingToWaitFor, AwaitStatus (resumed), Finish
EVENT_DRIVEN_TRANSITIONS = 4
# AWS calls of a creation that do not depend on how long it waits, without status events: the
# authorizer 1; the API 5 (the connection, the audit chain's tail, the create's transaction,
# PutEvents, StartExecution); StartChange 8 (its stack and connection in one read, two AssumeRole,
# PutObject, Create/Describe/ExecuteChangeSet, one write); Finish 5 (one read, DescribeStacks, the
# chain's tail, the outcome's transaction, PutEvents).
POLLING_FIXED_AWS_CALLS = 19
# Each look: AwaitStatus keeps its token (1 write), Poll reads the stack and its connection (1) and
# describes the stack (1).
POLLING_AWS_CALLS_PER_LOOK = 3


@dataclass(frozen=True)
class WaitSchedule:
    """AwaitStatus's timeouts without events: ``first``, then doubled up to ``cap`` (steps.poll)."""

    first: int
    cap: int

    def looks(self, creation_seconds: float) -> list[int]:
        """The waits before each Poll, up to the first Poll at or after the creation's end."""
        waits = [self.first]
        while sum(waits) < creation_seconds:
            waits.append(min(waits[-1] * 2, self.cap))
        return waits


def polling_aws_calls(looks: int) -> int:
    """AWS calls of a creation whose status events never come, by its number of looks."""
    return POLLING_FIXED_AWS_CALLS + POLLING_AWS_CALLS_PER_LOOK * looks


def polling_transitions(looks: int) -> int:
    """StartChange and NothingToWaitFor; AwaitStatus (timed out), Poll and Settled per look; Finish."""
    return 2 + 3 * looks + 1


def deployed_schedule() -> WaitSchedule:
    """The schedule the CDK app deploys: it calls ``environment()`` without the wait arguments."""
    env = definitions.environment(
        definitions.Names("prod", "000000000000", definitions.HOME_REGION),
        jwt_issuer="",
        jwt_audience="",
        jwks_url="",
    )
    return WaitSchedule(int(env["STACK_WAIT_FIRST_SECONDS"]), int(env["STACK_WAIT_MAX_SECONDS"]))


def local_schedule(local: runtime.LocalStackpilot) -> WaitSchedule:
    """The local cloud's: task timeouts run in real time there, so its waits are scaled (and rounded
    to whole seconds, which TimeoutSecondsPath requires)."""
    env = local.cloud.environment()
    return WaitSchedule(int(env["STACK_WAIT_FIRST_SECONDS"]), int(env["STACK_WAIT_MAX_SECONDS"]))


@contextmanager
def deployed_first_wait() -> Iterator[int]:
    """The stacks functions take the deployed first wait (10 s) in real time, whatever the time scale.

    A scaled first wait is too short for the event-driven count: at scale 0.05 it is 1 s, and a
    loaded 2-CPU machine took 0.35 to 0.93 s from AwaitStatus's start to the event resuming it. The
    local cloud's functions read this process's environment when a container starts: this is a
    redeployment with one variable changed, undone on exit."""
    name, first = "STACK_WAIT_FIRST_SECONDS", deployed_schedule().first
    saved = os.environ[name]
    os.environ[name] = str(first)
    fresh_containers()
    try:
        yield first
    finally:
        os.environ[name] = saved
        fresh_containers()


@dataclass
class _Hold:
    execution: str | None = None
    released: threading.Event = field(default_factory=threading.Event)


@contextmanager
def held_creation(
    local: runtime.LocalStackpilot, stack_name: str, *, seconds: float, waits_begun: int
) -> Iterator[_Hold]:
    """CloudFormation keeps ``stack_name`` CREATE_IN_PROGRESS (its resources made, the status not
    yet CREATE_COMPLETE) for ``seconds`` (simulated: scaled like every local delay), and at least
    until the workflow's ``waits_begun``-th AwaitStatus has registered its token and looked.

    The second condition keeps the count independent of the machine's speed: a slow machine delays
    the workflow's looks, and without it the creation could end before a look that was due before
    its end. Set ``execution`` to the execution's name once it is known."""
    hold = _Hold()
    deadline = time.monotonic() + seconds * local.cloud.time_scale
    sfn = local.cloud.client("stepfunctions")

    def waits_registered(name: str) -> int:
        arn = local.cloud.names.execution_arn("provision-stack", name)
        events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
        # AwaitStatus is the workflow's only waitForTaskToken task: TaskSubmitted follows its Lambda.
        return sum(1 for event in events if event["type"] == "TaskSubmitted")

    def hook(stack: Any) -> None:
        if stack.name != stack_name:
            return
        while not hold.released.wait(0.05):
            if time.monotonic() < deadline or hold.execution is None:
                continue
            if waits_registered(hold.execution) >= waits_begun:
                return

    patches.set_stack_completion_hook(hook)
    try:
        yield hold
    finally:
        hold.released.set()
        patches.set_stack_completion_hook(None)


@dataclass
class Creation:
    stack_id: str
    stack_status: str
    execution_status: str
    transitions: int
    looks: list[int]  # AwaitStatus's timeout each time it was entered, in the cloud's seconds
    resumed_by: list[str]  # functions that sent the task token back
    counter: AwsCallCounter

    api_dynamodb: int  # DynamoDB calls of the stacks API function for the POST

    @property
    def describe_stacks(self) -> int:
        return self.counter.by_operation()["cloudformation:DescribeStacks"]

    @property
    def aws_calls(self) -> int:
        return sum(self.counter.calls.values())


def api_dynamodb_calls(counter: AwsCallCounter) -> int:
    return sum(
        n for (function, service, _), n in counter.calls.items() if (function, service) == API_DYNAMODB
    )


API_DYNAMODB = ("stacks-api", "dynamodb")


def stack_spec(connection_id: str, name: str, stage: str) -> dict[str, Any]:
    return {
        "connection_id": connection_id,
        "region": "us-east-1",
        "name": name,
        "stage": stage,
        "container": {"image": "public.ecr.aws/nginx/nginx:1.27", "port": 80, "desired_count": 1},
        "front_door": "alb",
    }


def create_stack(
    local: runtime.LocalStackpilot,
    api: Api,
    connection_id: str,
    name: str,
    *,
    events: bool,
    creation_seconds: float = 0,
    waits_begun: int = 1,
) -> Creation:
    """POST /stacks, counted until its provision_stack execution ends. ``events=False``: the
    account's status events for this stack are dropped, as if its forwarding rule were missing."""
    stage = "dev"
    stack_name = f"stackpilot-{name}-{stage}"
    if not events:
        patches.suppress_stack_status_events(stack_name)
    schedule = local_schedule(local)
    timeout = sum(schedule.looks(creation_seconds * local.cloud.time_scale)) + 60
    try:
        with (
            held_creation(local, stack_name, seconds=creation_seconds, waits_begun=waits_begun) as hold,
            AwsCallCounter().installed() as counter,
        ):
            reply = api.request("POST", "/stacks", stack_spec(connection_id, name, stage))
            api_dynamodb = api_dynamodb_calls(counter)
            if reply.status != 202 or reply.body["cfn_stack_name"] != stack_name:
                raise RuntimeError(f"POST /stacks: {reply}")
            stack_id = reply.body["stack_id"]
            hold.execution = f"{stack_id}-1"  # <stack_id>-<operation number>: a new stack's first
            execution_status, history = local.cloud.settled_execution(
                "provision-stack", hold.execution, timeout
            )
    finally:
        patches.clear_stack_hooks()
    stack = api.request("GET", f"/stacks/{stack_id}").body
    return Creation(
        stack_id=stack_id,
        stack_status=stack["status"],
        execution_status=execution_status,
        transitions=state_transitions(history),
        looks=[
            json.loads(event["stateEnteredEventDetails"]["input"])["wait"]["wait_seconds"]
            for event in history
            if event["type"] == "TaskStateEntered"
            and event["stateEnteredEventDetails"]["name"] == "AwaitStatus"
        ],
        resumed_by=sorted(
            function for (function, _, operation) in counter.calls if operation == "SendTaskSuccess"
        ),
        counter=counter,
        api_dynamodb=api_dynamodb,
    )


def read_stack_dynamodb_calls(api: Api, stack_id: str) -> int:
    """DynamoDB calls of the stacks API function for one GET /stacks/{id}."""
    with AwsCallCounter().installed() as counter:
        reply = api.request("GET", f"/stacks/{stack_id}")
    if reply.status != 200:
        raise RuntimeError(f"GET /stacks/{stack_id}: {reply}")
    return api_dynamodb_calls(counter)


def _met(value: int, goal: int) -> str:
    return f"goal <= {goal} {'met' if value <= goal else 'NOT met'}"


def _print_counts(
    creation: Creation, transitions_goal: int, describe_stacks_goal: int | None, calls_goal: int | None
) -> None:
    counter = creation.counter
    describe_goal = (
        "" if describe_stacks_goal is None else _met(creation.describe_stacks, describe_stacks_goal)
    )
    invocations = json.dumps(dict(sorted(counter.invocations.items())))
    transitions_met = _met(creation.transitions, transitions_goal)
    print(f"  state transitions (provision_stack)      {creation.transitions:<4d} {transitions_met}")
    print(
        f"  DescribeStacks calls                     {creation.describe_stacks:<4d} {describe_goal}".rstrip()
    )
    print(f"  Lambda invocations                       {sum(counter.invocations.values())}  {invocations}")
    calls_met = "" if calls_goal is None else _met(creation.aws_calls, calls_goal)
    print(f"  AWS calls made by our functions          {creation.aws_calls:<4d} {calls_met}".rstrip())
    for function, n in sorted(counter.by_function().items()):
        print(f"    {function:38s} {n}")
    print("  by operation: " + ", ".join(f"{op} {n}" for op, n in sorted(counter.by_operation().items())))


def _seconds(waits: Sequence[float]) -> str:
    return " ".join(f"{w:g}" for w in waits) + " s"


_RESUMERS = {"stacks-status-event": "the status event", "stacks-await-status": "AwaitStatus's own look"}


def stack_wait_counts(local: runtime.LocalStackpilot) -> None:
    api, connection_id = connected_account(local, "org_bench_stacks", "151515151515")
    scale, minutes = local.cloud.time_scale, POLLING_GOAL_MINUTES

    # Still creating when the workflow starts waiting: its CREATE_COMPLETE event resumes the wait.
    with deployed_first_wait() as first:
        evented = create_stack(local, api, connection_id, "bench-evented", events=True)
    resumed = ", ".join(_RESUMERS.get(f, f) for f in evented.resumed_by) or "nothing: it timed out"
    print(f"One stack creation, event-driven wait (POST /stacks to {evented.stack_status}):")
    print(f"  wait resumed by                          {resumed} (first wait {first} s, unscaled)")
    _print_counts(
        evented,
        EVENT_DRIVEN_GOALS["transitions"],
        EVENT_DRIVEN_GOALS["describe_stacks"],
        EVENT_DRIVEN_GOALS["aws_calls"],
    )
    reads = read_stack_dynamodb_calls(api, evented.stack_id)
    post_goal, get_goal = API_DYNAMODB_GOALS["POST /stacks"], API_DYNAMODB_GOALS["GET /stacks/{id}"]
    print("DynamoDB calls of the stacks API function, per request:")
    post = evented.api_dynamodb
    print(f"  POST /stacks                             {post:<4d} {_met(post, post_goal)}")
    print(f"  GET /stacks/{{id}}                         {reads:<4d} {_met(reads, get_goal)}")

    # No status events: the workflow looks after each wait of its schedule.
    looks = local_schedule(local).looks(minutes * 60 * scale)
    polled = create_stack(
        local,
        api,
        connection_id,
        "bench-polled",
        events=False,
        creation_seconds=minutes * 60,
        waits_begun=len(looks),
    )
    print(
        f"Polling fallback, no status events: a simulated {minutes}-minute creation "
        f"(time scale {scale:g}, {minutes * 60 * scale:g} s; POST /stacks to {polled.stack_status}):"
    )
    print(f"  waits before each look, simulated        {_seconds([w / scale for w in polled.looks])}")
    _print_counts(polled, POLLING_GOAL_TRANSITIONS, None, POLLING_GOAL_AWS_CALLS)
    expected = polling_aws_calls(len(polled.looks))
    agrees = "as measured" if expected == polled.aws_calls else "NOT as measured"
    print(f"    (the arithmetic for {len(polled.looks)} looks: {expected}, {agrees})")
    deployed = deployed_schedule().looks(minutes * 60)
    transitions = polling_transitions(len(deployed))
    print(f"  the deployed schedule for {minutes} minutes     {_seconds(deployed)}")
    met = _met(transitions, POLLING_GOAL_TRANSITIONS)
    print(f"    -> state transitions (arithmetic)      {transitions:<4d} {met}")
    calls = polling_aws_calls(len(deployed))
    print(f"    -> AWS calls (arithmetic)              {calls:<4d} {_met(calls, POLLING_GOAL_AWS_CALLS)}")
