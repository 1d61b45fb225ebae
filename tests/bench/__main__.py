"""`make bench`: INIT and cold-request cost as ratios measured in one run, and counts for one
onboarding and for the wait of one stack creation. `python -m tests.bench init`: the INIT part only;
`python -m tests.bench init --instructions`: the INIT goals by instructions executed (valgrind)."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from infra.definitions import FUNCTIONS
from infra.local import customer, runtime
from tests.bench.audit import audit_throughput
from tests.bench.authorizer import authorizer_costs
from tests.bench.cold_request import cold_requests
from tests.bench.counters import AwsCallCounter, state_transitions
from tests.bench.init_cost import Floor, breakdown, handler_import, instructions, measure
from tests.bench.stacks import stack_wait_counts
from tests.workflows.client import Api
from tests.workflows.onboarding import awaiting_callback

API_GOAL = 30.0  # every API function and the authorizer, as a ratio to a bare interpreter
RECEIVER_GOAL = 1.15  # every event receiver, as a multiple of its floor
API_FUNCTIONS = ("accounts-api", "stacks-api", "tenancy-api", "secrets-api", "tenancy-authorizer")
# Printed beside the API functions: what they must import, so a goal below it reads as such.
API_FLOORS = {
    "tenancy-authorizer": Floor(writes_dynamodb=True, jwt=True),
    **dict.fromkeys(API_FUNCTIONS[:4], Floor(writes_dynamodb=True, rest=True)),
}
# Each function an event invokes, and the floor of what it must import.
RECEIVERS = {
    "accounts-callback": Floor("stepfunctions", writes_dynamodb=True),  # SNS: a role stack's request
    "stacks-status-event": Floor("stepfunctions", writes_dynamodb=True),  # EventBridge: a stack's status
    "accounts-health": Floor("sts", writes_dynamodb=True),  # EventBridge schedule: re-checks each role
}


def init_costs() -> None:
    floors = {f.label: f.code for f in (*API_FLOORS.values(), *RECEIVERS.values())}
    tasks = [f.key for f in FUNCTIONS if f.key not in API_FUNCTIONS and f.key not in RECEIVERS]
    keys = [*API_FUNCTIONS, *RECEIVERS, *tasks]
    with_goals = [*API_FUNCTIONS, *RECEIVERS, *floors]
    targets = {**{k: handler_import(k) for k in keys}, **floors}
    costs = {c.label: c for c in measure(targets, init_only=with_goals)}
    print("INIT cost: CPU time of a fresh interpreter importing the handler, fastest of 9, as a ratio")
    print("to `python -c pass` measured alternately in the same run (a clean venv, code via PYTHONPATH).")
    print("Goals are judged on the first figure (the method the goals were set with); [INIT only] is the")
    print("same without the interpreter's teardown, which no cold start pays (each over bare, likewise).")
    for key in keys:
        cost = costs[key]
        if key in API_FUNCTIONS:
            floor = costs[API_FLOORS[key].label]
            met = "met" if cost.ratio <= API_GOAL else "NOT met"
            goal = f"goal <= {API_GOAL:.0f}x {met}, floor {floor.ratio:.1f}x [{floor.init_only_ratio:.1f}x]"
        elif key in RECEIVERS:
            floor = costs[RECEIVERS[key].label]
            limit = RECEIVER_GOAL * floor.ratio
            met = "met" if cost.ratio <= limit else "NOT met"
            goal = (
                f"goal <= {RECEIVER_GOAL}x its floor {floor.ratio:.1f}x = {limit:.1f}x {met}"
                f" [{floor.init_only_ratio:.1f}x]"
            )
        else:
            goal = "(a Step Functions task: no goal)"
        init_only = f"[{cost.init_only_ratio:4.1f}x]" if cost.init_only_ratio else " " * 7
        print(f"  {key:26s} {cost.ratio:6.1f}x {init_only} ({cost.cpu_ms:4.0f} ms)  {goal}")
    for label in floors:
        cost = costs[label]
        print(f"  {label:72s} {cost.ratio:6.1f}x [{cost.init_only_ratio:4.1f}x] ({cost.cpu_ms:4.0f} ms)")


def init_breakdown() -> None:
    print("Where INIT goes (-X importtime, each module's own time charged to the package that asked for it;")
    print("ours = our models built, module-level work and clients built at INIT; fastest of 3):")
    floors = {
        "the API floor": API_FLOORS["accounts-api"].code,
        "the authorizer's floor": API_FLOORS["tenancy-authorizer"].code,
    }
    for label, code in [*((k, handler_import(k)) for k in (*API_FUNCTIONS, *RECEIVERS)), *floors.items()]:
        parts = breakdown(code)
        shares = ", ".join(f"{p} {share:.0%}" for p, share in parts.by_package[:6] if share >= 0.01)
        print(f"  {label:22s} {shares}")
        if parts.ours:
            ours = ", ".join(f"{m.removeprefix('functions.')} {share:.0%}" for m, share in parts.ours[:4])
            print(f"  {'':22s}   ours, largest: {ours}")


def onboarding_counts(local: runtime.LocalStackpilot) -> None:
    api = Api(local, org_id="org_bench", role="admin")
    with AwsCallCounter().installed() as counter:
        body = {"aws_account_id": "111111111111", "region": "us-east-1"}
        created = api.request("POST", "/accounts", body).body
        awaiting_callback(local, created["connection_id"])  # a callback that overtakes it is retried
        link = customer.parse_quick_create_url(created["quick_create_url"])
        result = customer.deploy(local.cloud.customer_client("cloudformation", "111111111111"), link)
        status, history = local.cloud.settled_execution("connect-account", created["connection_id"], 60)
    print(f"One onboarding (POST /accounts, customer stack {result.status}, execution {status}):")
    print(f"  state transitions (connect_account)      {state_transitions(history)}")
    invocations = json.dumps(dict(sorted(counter.invocations.items())))
    print(f"  Lambda invocations                       {sum(counter.invocations.values())}  {invocations}")
    print(f"  AWS calls made by our functions          {sum(counter.calls.values())}")
    for function, n in sorted(counter.by_function().items()):
        print(f"    {function:36s} {n}")
    print("  by operation: " + ", ".join(f"{op} {n}" for op, n in sorted(counter.by_operation().items())))


def init_instructions() -> None:
    """`python -m tests.bench init --instructions`: the goals' ratios by instructions (needs valgrind)."""
    floors = {f.label: f.code for f in (*API_FLOORS.values(), *RECEIVERS.values())}
    targets = {**{k: handler_import(k) for k in (*API_FUNCTIONS, *RECEIVERS)}, **floors}
    print("INIT by instructions executed (valgrind), as a ratio to `python -c pass`:")
    for cost in instructions(targets):
        print(f"  {cost.label:72s} {cost.ratio:6.1f}x")


def main() -> int:
    if sys.argv[1:] == ["init", "--instructions"]:
        init_instructions()
        return 0
    init_costs()
    print()
    init_breakdown()
    print()
    if sys.argv[1:] == ["init"]:  # `python -m tests.bench init`: the INIT figures only
        return 0
    cold_requests()
    print()
    audit_throughput()
    print()
    state_dir = Path(tempfile.mkdtemp())
    local = runtime.start(in_process=True, api_port=0, time_scale=0.05, state_dir=state_dir)
    try:
        authorizer_costs(local)
        print()
        onboarding_counts(local)
        print()
        stack_wait_counts(local)
    finally:
        local.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
