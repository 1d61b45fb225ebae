"""The customer-role chain names the account whose role answered from AssumeRole's own answer (no
GetCallerIdentity call), through our assumer role, under moto's STS."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from functions.shared.integrations import aws
from functions.shared.integrations.customer_roles import AssumeRoleChain
from infra.local.cloud import customer_client


@pytest.fixture
def sts(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    for var in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    aws.session.cache_clear()
    aws.client.cache_clear()
    with mock_aws():
        yield boto3.client("sts", region_name="us-east-1")
    aws.session.cache_clear()
    aws.client.cache_clear()


def _role(iam: Any, name: str, principal: str, external_id: str | None = None) -> str:
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"AWS": principal},
        "Action": "sts:AssumeRole",
    }
    if external_id:
        statement["Condition"] = {"StringEquals": {"sts:ExternalId": external_id}}
    policy = {"Version": "2012-10-17", "Statement": [statement]}
    return str(iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(policy))["Role"]["Arn"])


def test_the_account_whose_role_answered_comes_from_assume_roles_answer(sts: object) -> None:
    # GIVEN our assumer role, and a customer's role in another account trusting it with an ExternalId
    # (trust policies are evaluated when the local cloud's patches are installed in this process)
    assumer = _role(
        boto3.client("iam", region_name="us-east-1"), "stackpilot-assumer", "arn:aws:iam::123456789012:root"
    )
    _role(customer_client("iam", "210987654321", "us-east-1", None), "stackpilot-deploy", assumer, "ext-1")
    chain = AssumeRoleChain(sts, assumer, "us-east-1")
    calls: list[str] = []
    chained = chain._assumer_sts()
    chained.meta.events.register("before-call.sts.*", lambda model, **_: calls.append(model.name))

    account = chain.answering_account("arn:aws:iam::210987654321:role/stackpilot-deploy", "ext-1", "org_a")

    assert account == "210987654321"
    assert calls == ["AssumeRole"]
