"""Onboarding template v3: what releases need in the customer's account, and nothing more.

The deploy role may run, follow and stop our CodeBuild projects, put sources into our buckets of
this account, read our images' metadata and our build logs; the forwarding rule also carries our
builds' state changes. Everything is held to the ``stackpilot-`` names in this region and account.
"""

from __future__ import annotations

import fnmatch
import json
from typing import Any

import pytest

from functions.shared.logic.customer_names import (
    LEGACY_TEMPLATE_VERSION,
    RELEASES_TEMPLATE_VERSION,
    TEMPLATE_VERSION,
    supports_releases,
)
from tests.unit.test_role_template import (
    SERVICE_ACCOUNT,
    as_list,
    cfn_role_statements,
    deploy_policy,
    make_input,
    render_role_template,
    sub,
)

HERE = "${AWS::Region}:${AWS::AccountId}"
PARTITION = "arn:${AWS::Partition}"

RELEASE_STATEMENTS = {
    "RunStackpilotBuilds": (
        {"codebuild:BatchGetBuilds", "codebuild:StartBuild", "codebuild:StopBuild"},
        {f"{PARTITION}:codebuild:{HERE}:project/stackpilot-*"},
    ),
    "UploadBuildSources": ({"s3:PutObject"}, {f"{PARTITION}:s3:::stackpilot-*/*"}),
    "ReadBuiltImages": ({"ecr:DescribeImages"}, {f"{PARTITION}:ecr:{HERE}:repository/stackpilot-*"}),
    "ReadBuildLogs": (
        {"logs:FilterLogEvents", "logs:GetLogEvents"},
        {
            f"{PARTITION}:logs:{HERE}:log-group:/stackpilot/codebuild/*",
            f"{PARTITION}:logs:{HERE}:log-group:/stackpilot/codebuild/*:log-stream:*",
        },
    ),
}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return json.loads(render_role_template(make_input()))


def test_the_latest_template_is_the_one_releases_need() -> None:
    assert TEMPLATE_VERSION == RELEASES_TEMPLATE_VERSION == "3"
    assert supports_releases(TEMPLATE_VERSION)
    assert not supports_releases(LEGACY_TEMPLATE_VERSION)
    assert not supports_releases(None)  # a record from before versions were kept: v2
    assert supports_releases("10") and not supports_releases("1") and not supports_releases("v3")


@pytest.mark.parametrize("sid", sorted(RELEASE_STATEMENTS))
def test_deploy_role_release_rights_are_exact(template: dict[str, Any], sid: str) -> None:
    actions, resources = RELEASE_STATEMENTS[sid]
    statement = deploy_policy(template)[sid]
    # THEN exactly these actions, allowed, on exactly our names in this region and account
    assert statement["Effect"] == "Allow"
    assert set(as_list(statement["Action"])) == actions
    assert {sub(r) for r in as_list(statement["Resource"])} == resources


def test_release_rights_reach_no_other_builds_buckets_or_logs(template: dict[str, Any]) -> None:
    policy = deploy_policy(template)
    outside = [
        f"arn:aws:codebuild:us-east-1:{SERVICE_ACCOUNT}:project/their-app",
        "arn:aws:s3:::their-bucket/key",
        "arn:aws:s3:::stackpilot-bucket",  # the bucket itself: no bucket-level action
        "arn:aws:ecr:us-east-1:123456789012:repository/their-repo",
        "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/theirs:log-stream:x",
        "arn:aws:logs:us-east-1:123456789012:log-group:/stackpilot/app/x:log-stream:x",
    ]
    for sid in RELEASE_STATEMENTS:
        patterns = [
            sub(r).replace(PARTITION, "arn:aws").replace(HERE, "us-east-1:123456789012")
            for r in as_list(policy[sid]["Resource"])
        ]
        for arn in outside:
            assert not any(fnmatch.fnmatchcase(arn, p) for p in patterns), (sid, arn)


def test_source_uploads_stay_in_this_account(template: dict[str, Any]) -> None:
    # S3 ARNs name no account: a bucket named stackpilot-* elsewhere must not match
    statement = deploy_policy(template)["UploadBuildSources"]
    assert statement["Condition"] == {"StringEquals": {"s3:ResourceAccount": {"Ref": "AWS::AccountId"}}}


def test_the_deploy_role_never_creates_or_changes_a_build_project(template: dict[str, Any]) -> None:
    allowed = {
        action
        for statement in deploy_policy(template).values()
        if statement["Effect"] == "Allow"
        for action in as_list(statement["Action"])
    }
    assert {a for a in allowed if a.startswith("codebuild:")} == {
        "codebuild:BatchGetBuilds",
        "codebuild:StartBuild",
        "codebuild:StopBuild",
    }
    assert not {a for a in allowed if a.split(":")[0] in {"s3", "ecr"}} - {
        "s3:PutObject",
        "ecr:DescribeImages",
    }


def test_build_state_changes_of_our_projects_are_forwarded(template: dict[str, Any]) -> None:
    rule = template["Resources"]["BuildForwardingRule"]
    assert rule["Type"] == "AWS::Events::Rule"
    assert rule["Condition"] == "StatusForwardingEnabled"
    props = rule["Properties"]
    assert "EventBusName" not in props  # the default bus, where CodeBuild publishes
    assert props["EventPattern"] == {
        "source": ["aws.codebuild"],
        "detail-type": ["CodeBuild Build State Change"],
        "detail": {"project-name": [{"prefix": "stackpilot-"}]},
    }
    (target,) = props["Targets"]
    assert target["Arn"] == f"arn:aws:events:us-east-1:{SERVICE_ACCOUNT}:event-bus/stackpilot-prod"
    assert target["RoleArn"] == {"Fn::GetAtt": ["StatusForwardingRole", "Arn"]}


def test_the_forwarding_role_serves_our_two_rules_only(template: dict[str, Any]) -> None:
    role = template["Resources"]["StatusForwardingRole"]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    names = {
        template["Resources"][r]["Properties"]["Name"]
        for r in ("StatusForwardingRule", "BuildForwardingRule")
    }
    assert {sub(arn) for arn in trust["Condition"]["StringEquals"]["aws:SourceArn"]} == {
        f"{PARTITION}:events:{HERE}:rule/{name}" for name in names
    }
    assert names == {"stackpilot-status-3f9a1b2c4d", "stackpilot-builds-3f9a1b2c4d"}


def test_cloudformation_may_build_a_source_stacks_project_and_empty_its_repository_within_our_names(
    template: dict[str, Any],
) -> None:
    # GIVEN the CloudFormation role a stack with a source is created through
    stmts = cfn_role_statements(template)
    # THEN it manages CodeBuild projects named stackpilot-* of this account and region, no others
    projects = stmts["BuildProjects"]
    assert set(as_list(projects["Action"])) == {
        "codebuild:BatchGetProjects",
        "codebuild:CreateProject",
        "codebuild:DeleteProject",
        "codebuild:UpdateProject",
    }
    assert [sub(r) for r in as_list(projects["Resource"])] == [
        f"{PARTITION}:codebuild:{HERE}:project/stackpilot-*"
    ]
    # AND the repository's EmptyOnDelete can list and delete its images, in our repositories only
    emptying = stmts["EmptyImageRepositories"]
    assert {"ecr:BatchDeleteImage", "ecr:ListImages"} <= set(as_list(emptying["Action"]))
    assert [sub(r) for r in as_list(emptying["Resource"])] == [
        f"{PARTITION}:ecr:{HERE}:repository/stackpilot-*"
    ]
