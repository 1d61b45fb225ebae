"""The customer-role chain names the account whose role answered from AssumeRole's own answer (no
GetCallerIdentity call), through our assumer role, under moto's STS."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from functions.shared.integrations import aws
from functions.shared.integrations.customer_roles import AssumeRoleChain


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


def test_the_account_whose_role_answered_comes_from_assume_roles_answer(sts: object) -> None:
    chain = AssumeRoleChain(sts, "arn:aws:iam::123456789012:role/stackpilot-assumer", "us-east-1")
    calls: list[str] = []
    chained = chain._assumer_sts()
    chained.meta.events.register("before-call.sts.*", lambda model, **_: calls.append(model.name))

    account = chain.answering_account("arn:aws:iam::210987654321:role/stackpilot-deploy", "ext-1", "org_a")

    assert account == "210987654321"
    assert calls == ["AssumeRole"]
