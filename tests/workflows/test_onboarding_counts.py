"""Counts, not times: state transitions and AWS calls of one onboarding (make bench prints them)."""

from __future__ import annotations

import pytest

from infra.local import customer
from infra.local.runtime import LocalStackpilot
from tests.bench.counters import AwsCallCounter, naming, state_transitions
from tests.workflows.client import Api
from tests.workflows.onboarding import awaiting_callback

pytestmark = [pytest.mark.workflow, pytest.mark.xdist_group("local-cloud")]


def test_one_onboarding_costs_seven_transitions_and_two_dozen_calls(stackpilot: LocalStackpilot) -> None:
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
    # one real AssumeRole through the assumer, two negative probes, one GetCallerIdentity
    assert calls["sts:AssumeRole"] == 4 and calls["sts:GetCallerIdentity"] == 1
    assert calls["stepfunctions:StartExecution"] == 1 and calls["stepfunctions:SendTaskSuccess"] == 1
    assert calls["events:PutEvents"] == 1
    # Two audited changes (the connection, the outcome): each reads its chain's tail once and commits
    # in one transaction with the change; the authorizer reads the caller's membership once.
    assert calls["dynamodb:TransactWriteItems"] == 2
    assert sum(calls.values()) <= 28, calls
