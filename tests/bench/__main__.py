"""`make bench`: INIT and cold-request cost as ratios measured in one run, and counts for one
onboarding and for the wait of one stack creation."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from infra.local import customer, runtime
from tests.bench.audit import audit_throughput
from tests.bench.authorizer import authorizer_costs
from tests.bench.cold_request import cold_requests
from tests.bench.counters import AwsCallCounter, state_transitions
from tests.bench.init_cost import handler_import, measure
from tests.bench.stacks import stack_wait_counts
from tests.workflows.client import Api
from tests.workflows.onboarding import awaiting_callback

GOALS = {"accounts-callback": 25.0, "accounts-api": 32.0}


def init_costs() -> None:
    targets = {
        "reference: import boto3 + one client": "import boto3; boto3.client('sts', region_name='us-east-1')",
        "accounts-callback (the receiver)": handler_import("accounts-callback"),
        "accounts-api": handler_import("accounts-api"),
        "tenancy-authorizer": handler_import("tenancy-authorizer"),
        "stacks-api": handler_import("stacks-api"),
        "stacks-status-event (the event receiver)": handler_import("stacks-status-event"),
        "stacks-start-change": handler_import("stacks-start-change"),
    }
    print("INIT cost: CPU time of a fresh interpreter importing the handler, fastest of 9, as a ratio")
    print("to `python -c pass` measured alternately in the same run (a clean venv, code via PYTHONPATH)")
    for result in measure(targets):
        key = next((k for k in GOALS if result.label.startswith(k)), None)
        goal = ""
        if key:
            goal = f"   goal <= {GOALS[key]:.0f}x {'met' if result.ratio <= GOALS[key] else 'NOT met'}"
        print(f"  {result.label:40s} {result.ratio:6.1f}x  ({result.cpu_ms:5.0f} ms){goal}")


# What the receiver cannot do without, cumulatively: where its INIT goes (same run, same baseline).
_RECEIVER = (
    "\n".join(f"import functions.accounts.{m}" for m in ("settings", "models.callback", "models.connection"))
    + "\n"
)
_RUNTIME = (
    "\n".join(
        (
            "import functions.accounts.dal.repository",
            "from functions.shared.observability import logger",
            "logger('x')",
        )
    )
    + "\n"
)
# The least any receiver written the house way loads: a pydantic model, Powertools' Logger and the one
# botocore client its main path calls. Nothing of ours; the receiver's goal is below it.
_FLOOR = (
    "from pydantic import BaseModel\nclass M(BaseModel):\n    x: int\n"
    "from aws_lambda_powertools import Logger\nLogger('x')\n"
    "import botocore.session\n"
    "botocore.session.get_session().create_client('stepfunctions', region_name='us-east-1')"
)
RECEIVER_LAYERS = {
    "  pydantic + one model": "from pydantic import BaseModel\nclass M(BaseModel):\n    x: int",
    "  + the receiver's models and pydantic-settings": _RECEIVER,
    "  + Powertools Logger, pynamodb (botocore)": _RECEIVER + _RUNTIME,
    "  + one botocore client (Step Functions)": _RECEIVER
    + _RUNTIME
    + "from functions.shared.integrations import aws; aws.client('stepfunctions')",
    "  the floor, nothing of ours: pydantic model, Logger, one client": _FLOOR,
}


def receiver_breakdown() -> None:
    print("Where the receiver's INIT goes (cumulative, same method):")
    for result in measure(RECEIVER_LAYERS):
        print(f"  {result.label:64s} {result.ratio:6.1f}x  ({result.cpu_ms:5.0f} ms)")


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


def main() -> int:
    init_costs()
    print()
    receiver_breakdown()
    print()
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
