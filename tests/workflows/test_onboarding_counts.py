"""Counts, not times: state transitions and AWS calls of one onboarding (make bench prints them)."""

from __future__ import annotations

import pytest

from infra.local import customer
from infra.local.runtime import LocalStackpilot
from tests.bench.counters import AwsCallCounter, naming, state_transitions
from tests.workflows.client import Api
from tests.workflows.onboarding import awaiting_callback

REGION = "us-east-1"
pytestmark = [pytest.mark.workflow, pytest.mark.xdist_group("local-cloud")]


def test_one_onboarding_costs_seven_transitions_and_20_aws_calls(stackpilot: LocalStackpilot) -> None:
    api = Api(stackpilot, org_id="org_counted", role="admin")
    # Only this onboarding's invocations: each names its org (in its event or its caller's token) or
    # the customer account (the custom resource's request); other workflows may still be running.
    with AwsCallCounter(scope=naming("org_counted", "121212121212")).installed() as counter:
        created = api.request(
            "POST", "/accounts", {"aws_account_id": "121212121212", "region": "us-east-1"}
        ).body
        # A customer deploys after the workflow waits for them (as a person does, minutes later): a
        # callback that overtakes it is retried by Lambda, a ninth invocation these counts exclude.
        awaiting_callback(stackpilot, created["connection_id"])
        link = customer.parse_quick_create_url(created["quick_create_url"])
        result = customer.deploy(stackpilot.cloud.customer_client("cloudformation", "121212121212"), link)
        status, history = stackpilot.cloud.settled_execution("connect-account", created["connection_id"])
    assert result.status == "CREATE_COMPLETE"
    assert status == "SUCCEEDED"
    # Choice, AwaitCallback, VerifyRole, RecordSuccess, AnswerCloudFormation, WasConnected, Connected
    assert state_transitions(history) == 7
    assert sum(counter.invocations.values()) == 7
    calls = counter.by_operation()
    # our assumer, the customer's role (whose answer names its account: no GetCallerIdentity), two
    # negative probes
    assert calls["sts:AssumeRole"] == 4 and "sts:GetCallerIdentity" not in calls
    assert calls["stepfunctions:StartExecution"] == 1 and calls["stepfunctions:SendTaskSuccess"] == 1
    assert calls["events:PutEvents"] == 1
    # Two audited changes (the connection with its claim, the outcome): each reads its chain's tail
    # once and commits in one transaction with the change, the outcome from what its input names
    # (no read first); the authorizer reads the caller's membership once.
    assert calls["dynamodb:TransactWriteItems"] == 2 and calls["dynamodb:Query"] == 2
    # Reads: the membership, the connection by its key (callback, verify), the stored request
    # (respond). No read-backs: a transition returns what it wrote; CloudFormation is told what the
    # outcome step said. Writes: the request stored (as dispatched), the waiter, the answer.
    assert calls["dynamodb:GetItem"] == 4, calls
    assert calls["dynamodb:PutItem"] == 1 and calls["dynamodb:UpdateItem"] == 2, calls
    assert sum(calls.values()) == 20, calls  # 28 before; the goal is 20


def test_the_authorizer_makes_one_dynamodb_call_per_request_with_a_jwt(stackpilot: LocalStackpilot) -> None:
    # GIVEN members of one org calling several routes with their JWTs (reads and a write, two roles)
    admin = Api(stackpilot, org_id="org_authz_counted", role="admin")
    viewer = Api(stackpilot, org_id="org_authz_counted", role="viewer")
    with AwsCallCounter(scope=naming("org_authz_counted")).installed() as counter:
        answers = [
            admin.request("GET", "/accounts").status,
            viewer.request("GET", "/accounts").status,
            admin.request("GET", "/members").status,
            admin.request("GET", "/orgs/current").status,
            admin.request(
                "POST", "/accounts", {"aws_account_id": "131313131313", "region": "us-east-1"}
            ).status,
        ]
    assert answers == [200, 200, 200, 200, 201]
    # THEN each request's authorizer invocation read DynamoDB exactly once (the caller's membership:
    # the role comes from the table, never from the token), and made no other AWS call
    authorizer = {op: n for (fn, service, op), n in counter.calls.items() if fn == "tenancy-authorizer"}
    assert counter.invocations["tenancy-authorizer"] == len(answers)
    assert authorizer == {"GetItem": len(answers)}, authorizer
