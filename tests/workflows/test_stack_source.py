"""A stack that tracks a GitHub branch, end to end in the local cloud: created with a source, its build
resources are in the customer's account under the names releases derive from the stack name; until
a release the service runs the spec's image; a bad source is a 422 naming the field; a PATCH
``source: null`` takes the build resources away."""

from __future__ import annotations

from typing import Any

import pytest

from functions.shared.logic.customer_names import (
    build_log_group_name,
    build_project_name,
    image_repository_name,
    source_bucket_name,
)
from infra.local.runtime import LocalStackpilot
from tests.workflows.client import Api
from tests.workflows.stack_support import connected_account, spec, wait_settled

pytestmark = [pytest.mark.workflow, pytest.mark.xdist_group("local-cloud")]

CUSTOMER = "171717171717"
REGION = "us-east-1"
ORG = "org_stack_source"
SOURCE = {"provider": "github", "repository": "acme/shop", "branch": "main", "context": "web"}


@pytest.fixture(scope="module")
def connected(stackpilot: LocalStackpilot) -> tuple[Api, str]:
    _, connection_id = connected_account(stackpilot, ORG, CUSTOMER)
    return Api(stackpilot, org_id=ORG, role="contributor"), connection_id


def _resources(stackpilot: LocalStackpilot, stack_name: str) -> dict[str, dict[str, Any]]:
    cfn = stackpilot.cloud.customer_client("cloudformation", CUSTOMER, REGION)
    listed = cfn.describe_stack_resources(StackName=stack_name)["StackResources"]
    return {r["LogicalResourceId"]: r for r in listed}


def test_a_stack_tracking_a_branch_gets_its_build_resources_named_from_the_stack(
    stackpilot: LocalStackpilot, connected: tuple[Api, str]
) -> None:
    api, connection_id = connected
    body = spec(connection_id, name="built", database=None, source=SOURCE)
    # WHEN a stack is created with a source
    created = api.request("POST", "/stacks", body)
    assert created.status == 202, created
    stack = wait_settled(api, created.body["stack_id"])
    # THEN it is READY, its spec shows the source with its defaults
    assert stack["status"] == "READY", (stack["reason"], stack["failure"])
    assert stack["spec"]["source"] == {**SOURCE, "dockerfile": "Dockerfile"}
    name = stack["cfn_stack_name"]
    # AND the customer's account holds its repository, source bucket and project, named from the stack
    ecr = stackpilot.cloud.customer_client("ecr", CUSTOMER, REGION)
    (repository,) = ecr.describe_repositories(repositoryNames=[image_repository_name(name)])["repositories"]
    assert repository["imageTagMutability"] == "IMMUTABLE"
    assert repository["imageScanningConfiguration"] == {"scanOnPush": True}
    s3 = stackpilot.cloud.customer_client("s3", CUSTOMER, REGION)
    s3.head_bucket(Bucket=source_bucket_name(name, account_id=CUSTOMER, region=REGION))
    codebuild = stackpilot.cloud.customer_client("codebuild", CUSTOMER, REGION)
    (project,) = codebuild.batch_get_projects(names=[build_project_name(name)])["projects"]
    env = {v["name"]: v["value"] for v in project["environment"]["environmentVariables"]}
    assert env == {
        "IMAGE_REPO_URI": repository["repositoryUri"],
        "DOCKERFILE": "Dockerfile",
        "CONTEXT": "web",
    }
    assert project["environment"]["privilegedMode"] is True
    assert project["logsConfig"]["cloudWatchLogs"]["groupName"] == build_log_group_name(name)
    # AND until a release the ECS service runs the spec's image
    template = api.request("GET", f"/stacks/{stack['stack_id']}/template").body
    task = next(r for r in template["Resources"].values() if r["Type"] == "AWS::ECS::TaskDefinition")
    assert task["Properties"]["ContainerDefinitions"][0]["Image"] == body["container"]["image"]
    # WHEN a PATCH names a bad branch
    bad = api.request("PATCH", f"/stacks/{stack['stack_id']}", {"source": {**SOURCE, "branch": "a..b"}})
    # THEN a 422 names the field, and nothing changed
    assert bad.status == 422 and "source.branch" in bad.body["message"], bad
    # WHEN the source is removed (previewed first)
    preview = api.request("POST", f"/stacks/{stack['stack_id']}/preview", {"source": None})
    assert preview.status == 200 and preview.body["would_change"] is True, preview
    removed = {c["logical_id"] for c in preview.body["changes"] if c["action"] == "Remove"}
    assert {"ImageRepository", "SourceBucket", "BuildProject", "BuildRole"} <= removed, preview.body
    patched = api.request("PATCH", f"/stacks/{stack['stack_id']}", {"source": None})
    assert patched.status == 202, patched
    # THEN the stack settles READY without a source, and the build resources are gone
    after = wait_settled(api, stack["stack_id"])
    assert after["status"] == "READY" and after["spec"]["source"] is None, (after["reason"], after["failure"])
    left = set(_resources(stackpilot, name))
    assert not left & {"ImageRepository", "SourceBucket", "BuildLogGroup", "BuildRole", "BuildProject"}, left
    assert codebuild.batch_get_projects(names=[build_project_name(name)])["projects"] == []
    assert ecr.describe_repositories()["repositories"] == []
