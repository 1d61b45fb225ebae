"""The GitHub App's secrets read from Secrets Manager (moto): empty until the operator fills them,
then kept for a while and read again for rotation."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from functions.releases.integrations.app_secrets import SecretsManagerValue


class Counting:
    def __init__(self, client: Any) -> None:
        self.client, self.calls = client, 0

    def get_secret_value(self, **kwargs: Any) -> Any:
        self.calls += 1
        return self.client.get_secret_value(**kwargs)


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for var in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        yield boto3.client("secretsmanager", region_name="us-east-1")


def test_a_secret_created_empty_reads_empty_until_filled_then_is_kept_and_reread_after_max_age(
    secrets: Any,
) -> None:
    # GIVEN the secret as the CDK app creates it: no value
    arn = secrets.create_secret(Name="stackpilot/github/webhook-secret")["ARN"]
    clock = [0.0]
    client = Counting(secrets)
    value = SecretsManagerValue(client, arn, max_age=300, monotonic=lambda: clock[0])
    # THEN it reads empty, and is asked again next time (the operator may fill it meanwhile)
    assert value.value() == b""
    secrets.put_secret_value(SecretId=arn, SecretString="first")
    assert value.value() == b"first"
    # AND once read it is kept for max_age ...
    clock[0] = 299
    assert value.value() == b"first"
    assert client.calls == 2
    # ... then read again (a rotation is picked up)
    secrets.put_secret_value(SecretId=arn, SecretString="rotated")
    clock[0] = 301
    assert value.value() == b"rotated"


def test_no_configured_secret_reads_empty_without_a_call(secrets: Any) -> None:
    client = Counting(secrets)
    assert SecretsManagerValue(client, "").value() == b""
    assert client.calls == 0
