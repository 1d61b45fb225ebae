"""The names of a stack's build resources: derived from the stack name (the bucket also from its account
and region, S3 names being global), inside what the onboarding template scopes the deploy role to, and
valid for each AWS service."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from functions.shared.logic.customer_names import (
    STACK_NAME_PREFIX,
    build_log_group_name,
    build_project_name,
    image_repository_name,
    source_bucket_name,
)
from functions.stacks.models.spec import StackSpec

ACCOUNT = "123456789012"
REGION = "eu-west-1"
# S3's rules: 3-63 lower-case letters, digits, '.' or '-', starting and ending with a letter or digit.
S3_BUCKET_RE = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
ECR_NAME_RE = re.compile(r"(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*")
CODEBUILD_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{1,254}")


def test_the_names_of_one_stack() -> None:
    assert image_repository_name("stackpilot-shop-prod") == "stackpilot-shop-prod"
    assert build_project_name("stackpilot-shop-prod") == "stackpilot-shop-prod-build"
    assert build_log_group_name("stackpilot-shop-prod") == "/stackpilot/codebuild/stackpilot-shop-prod"
    bucket = source_bucket_name("stackpilot-shop-prod", account_id=ACCOUNT, region=REGION)
    assert re.fullmatch(r"stackpilot-shop-prod-src-[0-9a-f]{12}", bucket)
    # the same inputs give the same name: releases find the bucket without reading the stack
    assert bucket == source_bucket_name("stackpilot-shop-prod", account_id=ACCOUNT, region=REGION)


@pytest.mark.parametrize(
    "stack_name", ["shop-prod", "stackpilot-", "stackpilot-Shop", "stackpilot-shop/prod", "", "x" * 200]
)
def test_a_name_outside_the_managed_prefix_is_refused(stack_name: str) -> None:
    for name_of in (image_repository_name, build_project_name, build_log_group_name):
        with pytest.raises(ValueError, match="stack_name"):
            name_of(stack_name)
    with pytest.raises(ValueError, match="stack_name"):
        source_bucket_name(stack_name, account_id=ACCOUNT, region=REGION)


def test_the_bucket_needs_a_real_account_and_region() -> None:
    with pytest.raises(ValueError, match="account_id"):
        source_bucket_name("stackpilot-shop-prod", account_id="12345", region=REGION)
    with pytest.raises(ValueError, match="region"):
        source_bucket_name("stackpilot-shop-prod", account_id=ACCOUNT, region="Europe")


@given(
    name=st.from_regex(r"[a-z][a-z0-9-]{0,30}[a-z0-9]", fullmatch=True),
    stage=st.from_regex(r"[a-z][a-z0-9]{0,15}", fullmatch=True),
    account=st.from_regex(r"[0-9]{12}", fullmatch=True),
    region=st.sampled_from(["us-east-1", "eu-central-2", "ap-southeast-4", "us-gov-west-1", "cn-north-1"]),
)
def test_every_stack_a_spec_allows_gets_valid_names_under_the_deploy_roles_scope(
    name: str, stage: str, account: str, region: str
) -> None:
    # GIVEN any stack name a spec allows
    stack_name = StackSpec.model_construct(name=name, stage=stage).stack_name
    bucket = source_bucket_name(stack_name, account_id=account, region=region)
    repository, project = image_repository_name(stack_name), build_project_name(stack_name)
    # THEN each name is valid for its service...
    assert S3_BUCKET_RE.fullmatch(bucket) and ".." not in bucket, bucket
    assert ECR_NAME_RE.fullmatch(repository) and len(repository) <= 256
    assert CODEBUILD_NAME_RE.fullmatch(project)
    # ...and inside what the onboarding template lets the deploy role touch
    assert all(n.startswith(STACK_NAME_PREFIX) for n in (bucket, repository, project))
    assert build_log_group_name(stack_name).startswith("/stackpilot/codebuild/")
