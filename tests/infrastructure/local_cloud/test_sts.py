"""STS evaluates trust policies (infra/local/patches/sts.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.local import patches
from infra.local.patches.sts import _Caller
from tests.infrastructure.local_cloud.support import (
    CUSTOMER,
    EXTERNAL_ID,
    OTHER,
    SERVICE,
    assert_denied,
    assume,
    bootstrap_account,
    client,
)


@pytest.fixture
def trust_setup(aws: None) -> dict[str, Any]:
    """service root -> assumer role (service) -> customer role (trusts assumer + ExternalId)."""
    service_trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{SERVICE}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    assumer = client("iam").create_role(
        RoleName="stackpilot-assumer", AssumeRolePolicyDocument=json.dumps(service_trust)
    )["Role"]["Arn"]
    customer_trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": [f"arn:aws:iam::{SERVICE}:root"]},
                "Action": "sts:AssumeRole",
                "Condition": {
                    "StringEquals": {"sts:ExternalId": EXTERNAL_ID},
                    "ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{SERVICE}:role/stackpilot-*"},
                },
            },
            {
                "Effect": "Deny",
                "Principal": {"AWS": "*"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringLike": {"aws:PrincipalArn": "*:role/stackpilot-blocked"}},
            },
        ],
    }
    admin = bootstrap_account(CUSTOMER)
    customer = client("iam", admin).create_role(
        RoleName="StackpilotAccess", AssumeRolePolicyDocument=json.dumps(customer_trust)
    )["Role"]["Arn"]
    blocked = client("iam").create_role(
        RoleName="stackpilot-blocked", AssumeRolePolicyDocument=json.dumps(service_trust)
    )["Role"]["Arn"]
    return {"assumer": assumer, "customer": customer, "blocked": blocked}


def test_sts_role_chaining_with_external_id_is_allowed(trust_setup: dict[str, Any]) -> None:
    assumer_creds = assume(trust_setup["assumer"])
    customer_creds = assume(trust_setup["customer"], assumer_creds, ExternalId=EXTERNAL_ID)

    assumer_identity = client("sts", assumer_creds).get_caller_identity()
    customer_identity = client("sts", customer_creds).get_caller_identity()
    assert assumer_identity["Account"] == SERVICE
    assert assumer_identity["Arn"] == f"arn:aws:sts::{SERVICE}:assumed-role/stackpilot-assumer/stackpilot"
    assert customer_identity["Account"] == CUSTOMER
    assert customer_identity["Arn"] == f"arn:aws:sts::{CUSTOMER}:assumed-role/StackpilotAccess/stackpilot"


def test_sts_refuses_missing_or_wrong_external_id(trust_setup: dict[str, Any]) -> None:
    assumer_creds = assume(trust_setup["assumer"])
    customer = trust_setup["customer"]

    assert_denied(lambda: assume(customer, assumer_creds), customer)
    assert_denied(lambda: assume(customer, assumer_creds, ExternalId="wrong-external-id"), customer)


def test_sts_refuses_wrong_principal_arn_and_explicit_deny(trust_setup: dict[str, Any]) -> None:
    customer = trust_setup["customer"]
    blocked_creds = assume(trust_setup["blocked"])

    # The service account root is trusted, but aws:PrincipalArn must be a stackpilot-* role.
    assert_denied(lambda: assume(customer, ExternalId=EXTERNAL_ID), customer)
    # stackpilot-blocked matches the Allow, and the explicit Deny wins.
    assert_denied(lambda: assume(customer, blocked_creds, ExternalId=EXTERNAL_ID), customer)


def test_sts_refuses_untrusted_account_and_missing_role(trust_setup: dict[str, Any]) -> None:
    # A look-alike "stackpilot-assumer" role, but in an account the customer does not trust.
    other_creds = bootstrap_account(OTHER)
    client("iam", other_creds).create_role(
        RoleName="stackpilot-assumer", AssumeRolePolicyDocument=trust(allow({"AWS": OTHER}))
    )
    other_session = assume(f"arn:aws:iam::{OTHER}:role/stackpilot-assumer", other_creds)
    missing = f"arn:aws:iam::{CUSTOMER}:role/DoesNotExist"

    assert_denied(
        lambda: assume(trust_setup["customer"], other_session, ExternalId=EXTERNAL_ID),
        trust_setup["customer"],
    )
    assert_denied(lambda: assume(missing), missing)


def trust(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(principal: Any, condition: dict[str, Any] | None = None, effect: str = "Allow") -> dict[str, Any]:
    statement = {"Effect": effect, "Principal": principal, "Action": ["sts:AssumeRole"]}
    if condition:
        statement["Condition"] = condition
    return statement


SESSION = _Caller(
    SERVICE, f"arn:aws:iam::{SERVICE}:role/stackpilot-assumer", f"arn:aws:sts::{SERVICE}:assumed-role/x/y"
)


@pytest.mark.parametrize(
    ("policy", "external_id", "allowed"),
    [
        (trust(allow({"AWS": SESSION.principal_arn})), None, True),
        (trust(allow({"AWS": [f"arn:aws:iam::{OTHER}:root", SERVICE]})), None, True),
        (trust(allow({"AWS": f"arn:aws:iam::{OTHER}:root"})), None, False),
        (trust(allow({"Service": "lambda.amazonaws.com"})), None, False),
        (trust(allow("*", {"StringLike": {"sts:ExternalId": "ext-*"}})), "ext-1", True),
        (trust(allow("*", {"StringEquals": {"sts:ExternalId": ["a", "b"]}})), "b", True),
        (trust(allow("*", {"StringEquals": {"sts:ExternalId": "a"}})), None, False),
        (trust(allow("*", {"ArnEquals": {"aws:PrincipalArn": SESSION.principal_arn}})), None, True),
        (trust(allow("*", {"StringNotEquals": {"sts:ExternalId": "a"}})), "b", False),
        (trust(allow("*", {"StringEquals": {"aws:SourceAccount": SERVICE}})), None, False),
        (trust(allow("*"), allow("*", effect="Deny")), None, False),
        (
            trust(allow("*"), allow("*", {"Bool": {"aws:SecureTransport": "false"}}, effect="Deny")),
            None,
            False,
        ),
    ],
)
def test_trust_policy_evaluation(policy: str, external_id: str | None, allowed: bool) -> None:
    assert patches.trust_policy_allows(policy, SESSION, external_id) is allowed
