"""CodeBuild in a customer account (infra/local/patches/codebuild/) and the CloudFormation types a
stack with a source adds (infra/local/patches/cloudformation/resources/codebuild.py): the release's
calls exactly as the contract has them (StartBuild with an S3 source and IMAGE_TAG, the state change
event, BatchGetBuilds, ECR DescribeImages)."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from typing import Any

import pytest
from botocore.exceptions import ClientError

from infra.local import patches
from infra.local.patches import codebuild
from infra.local.patches._machinery import _original
from tests.infrastructure.local_cloud.support import (
    CUSTOMER,
    client,
    drain,
    tap,
    wait_stack,
    wait_until,
)

DOCKERFILE = 'FROM python:3.12-slim\nWORKDIR /app\nCOPY . .\nCMD ["python", "main.py"]\n'
BUILDSPEC = "version: 0.2\nphases:\n  build:\n    commands:\n      - docker build .\n"
LIFECYCLE = {
    "rules": [
        {
            "rulePriority": 1,
            "description": "keep the last 50 images",
            "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 50},
            "action": {"type": "expire"},
        }
    ]
}
BUILD_EVENTS = {"source": ["aws.codebuild", "aws.cloudformation"]}  # (the sentinel is a stack event)
ALL_PHASES = [
    "SUBMITTED",
    "QUEUED",
    "PROVISIONING",
    "DOWNLOAD_SOURCE",
    "INSTALL",
    "PRE_BUILD",
    "BUILD",
    "POST_BUILD",
    "UPLOAD_ARTIFACTS",
    "FINALIZING",
    "COMPLETED",
]


def template(empty_on_delete: bool = False) -> dict[str, Any]:
    """What the stack template adds for a source (the contract), small."""
    return {
        "Resources": {
            "Images": {
                "Type": "AWS::ECR::Repository",
                "Properties": {
                    "ImageTagMutability": "IMMUTABLE",
                    "ImageScanningConfiguration": {"ScanOnPush": True},
                    "LifecyclePolicy": {"LifecyclePolicyText": json.dumps(LIFECYCLE)},
                    "EmptyOnDelete": empty_on_delete,
                },
            },
            "Sources": {
                "Type": "AWS::S3::Bucket",
                "Properties": {"VersioningConfiguration": {"Status": "Enabled"}},
            },
            "BuildLogs": {"Type": "AWS::Logs::LogGroup", "Properties": {"RetentionInDays": 30}},
            "Build": {
                "Type": "AWS::CodeBuild::Project",
                "Properties": {
                    "Source": {
                        "Type": "NO_SOURCE",
                        "BuildSpec": BUILDSPEC,
                    },
                    "Artifacts": {"Type": "NO_ARTIFACTS"},
                    "Environment": {
                        "ComputeType": "BUILD_GENERAL1_SMALL",
                        "Type": "LINUX_CONTAINER",
                        "Image": "aws/codebuild/amazonlinux2-x86_64-standard:5.0",
                        "PrivilegedMode": True,
                        "EnvironmentVariables": [
                            {"Name": "IMAGE_REPO_URI", "Value": {"Fn::GetAtt": ["Images", "RepositoryUri"]}},
                            {"Name": "DOCKERFILE", "Value": "Dockerfile"},
                            {"Name": "CONTEXT", "Value": "."},
                        ],
                    },
                    "TimeoutInMinutes": 20,
                    "ServiceRole": f"arn:aws:iam::{CUSTOMER}:role/stackpilot/build",
                    "LogsConfig": {
                        "CloudWatchLogs": {"Status": "ENABLED", "GroupName": {"Ref": "BuildLogs"}}
                    },
                },
            },
        },
        "Outputs": {
            "Project": {"Value": {"Ref": "Build"}},
            "Bucket": {"Value": {"Ref": "Sources"}},
            "Repository": {"Value": {"Ref": "Images"}},
            "RepositoryUri": {"Value": {"Fn::GetAtt": ["Images", "RepositoryUri"]}},
            "LogGroup": {"Value": {"Ref": "BuildLogs"}},
        },
    }


def create_stack(creds: dict[str, str], name: str = "app-dev", **kwargs: Any) -> tuple[str, dict[str, str]]:
    cfn = client("cloudformation", creds)
    stack_id = cfn.create_stack(StackName=name, TemplateBody=json.dumps(template(**kwargs)))["StackId"]
    stack = wait_stack(cfn, stack_id)
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack
    return stack_id, {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}


def source_zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def start(
    creds: dict[str, str], out: dict[str, str], files: dict[str, str], tag: str, **extra: Any
) -> dict[str, Any]:
    """What a release does: the zip into the source bucket, StartBuild with the S3 override and IMAGE_TAG."""
    key = f"sources/{tag}.zip"
    client("s3", creds).put_object(Bucket=out["Bucket"], Key=key, Body=source_zip(files))
    variables = [{"name": "IMAGE_TAG", "value": tag, "type": "PLAINTEXT"}, *extra.pop("variables", [])]
    return dict(
        client("codebuild", creds).start_build(
            projectName=out["Project"],
            sourceTypeOverride="S3",
            sourceLocationOverride=f"{out['Bucket']}/{key}",
            environmentVariablesOverride=variables,
            **extra,
        )["build"]
    )


def finished(creds: dict[str, str], build_id: str) -> dict[str, Any]:
    codebuild_client = client("codebuild", creds)

    def done() -> dict[str, Any] | None:
        build = codebuild_client.batch_get_builds(ids=[build_id])["builds"][0]
        return None if build["buildStatus"] == "IN_PROGRESS" else dict(build)

    return dict(wait_until(done, 20, f"build {build_id}"))


def log_lines(creds: dict[str, str], build: dict[str, Any]) -> list[str]:
    events = client("logs", creds).get_log_events(
        logGroupName=build["logs"]["groupName"], logStreamName=build["logs"]["streamName"]
    )["events"]
    return [e["message"] for e in events]


def phases(build: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [(p["phaseType"], p.get("phaseStatus")) for p in build["phases"]]


def digest_of(creds: dict[str, str], out: dict[str, str], tag: str) -> str:
    images = client("ecr", creds).describe_images(
        repositoryName=out["Repository"], imageIds=[{"imageTag": tag}]
    )
    return str(images["imageDetails"][0]["imageDigest"])


# --------------------------------------------------------------------------------------------------
# CloudFormation
# --------------------------------------------------------------------------------------------------


def test_a_stack_with_a_source_creates_its_repository_bucket_log_group_and_project(
    customer: dict[str, str],
) -> None:
    # GIVEN/WHEN the resources a source adds, created through CloudFormation in the customer account
    stack_id, out = create_stack(customer)

    # THEN each is the real moto object, with the properties the template gave
    ecr = client("ecr", customer)
    repository = ecr.describe_repositories(repositoryNames=[out["Repository"]])["repositories"][0]
    assert repository["imageTagMutability"] == "IMMUTABLE"
    assert repository["imageScanningConfiguration"] == {"scanOnPush": True}
    assert repository["repositoryUri"] == out["RepositoryUri"]
    assert out["RepositoryUri"] == f"{CUSTOMER}.dkr.ecr.us-east-1.amazonaws.com/{out['Repository']}"
    policy = ecr.get_lifecycle_policy(repositoryName=out["Repository"])["lifecyclePolicyText"]
    assert json.loads(policy) == LIFECYCLE
    client("s3", customer).head_bucket(Bucket=out["Bucket"])
    groups = client("logs", customer).describe_log_groups(logGroupNamePrefix=out["LogGroup"])["logGroups"]
    assert [g["retentionInDays"] for g in groups] == [30]
    project = client("codebuild", customer).batch_get_projects(names=[out["Project"]])["projects"][0]
    assert project["source"]["type"] == "NO_SOURCE"
    assert project["source"]["buildspec"].startswith("version: 0.2")
    assert project["environment"]["privilegedMode"] is True
    assert project["environment"]["computeType"] == "BUILD_GENERAL1_SMALL"
    assert {v["name"]: v["value"] for v in project["environment"]["environmentVariables"]} == {
        "IMAGE_REPO_URI": out["RepositoryUri"],
        "DOCKERFILE": "Dockerfile",
        "CONTEXT": ".",
    }
    assert project["timeoutInMinutes"] == 20
    assert project["logsConfig"]["cloudWatchLogs"] == {"status": "ENABLED", "groupName": out["LogGroup"]}

    # WHEN the stack is deleted
    cfn = client("cloudformation", customer)
    cfn.delete_stack(StackName=stack_id)
    assert wait_stack(cfn, stack_id)["StackStatus"] == "DELETE_COMPLETE"

    # THEN the project and the (empty) repository are gone
    assert client("codebuild", customer).batch_get_projects(names=[out["Project"]])["projects"] == []
    with pytest.raises(ClientError, match="RepositoryNotFoundException"):
        ecr.describe_repositories(repositoryNames=[out["Repository"]])


def test_a_repository_holding_images_is_deleted_only_with_empty_on_delete(customer: dict[str, str]) -> None:
    # GIVEN two stacks whose repositories hold an image, one with EmptyOnDelete
    kept_id, kept = create_stack(customer, "kept")
    emptied_id, emptied = create_stack(customer, "emptied", empty_on_delete=True)
    for out in (kept, emptied):
        build = start(customer, out, {"Dockerfile": DOCKERFILE}, "c0ffee")
        assert finished(customer, build["id"])["buildStatus"] == "SUCCEEDED"

    # WHEN both are deleted
    cfn = client("cloudformation", customer)
    cfn.delete_stack(StackName=kept_id)
    cfn.delete_stack(StackName=emptied_id)

    # THEN the one without EmptyOnDelete fails on its repository, as in AWS; the other is gone
    assert wait_stack(cfn, kept_id)["StackStatus"] == "DELETE_FAILED"
    reasons = [
        e.get("ResourceStatusReason", "")
        for e in cfn.describe_stack_events(StackName=kept_id)["StackEvents"]
        if e["LogicalResourceId"] == "Images" and e["ResourceStatus"] == "DELETE_FAILED"
    ]
    assert reasons and "still contains images" in reasons[0]
    assert wait_stack(cfn, emptied_id)["StackStatus"] == "DELETE_COMPLETE"


# --------------------------------------------------------------------------------------------------
# Builds
# --------------------------------------------------------------------------------------------------


def test_a_zip_with_a_dockerfile_builds_pushes_logs_and_emits_its_state_changes(
    customer: dict[str, str],
) -> None:
    # GIVEN a stack with a source, and a tap on the customer's default bus
    _, out = create_stack(customer)
    queue = tap(customer, BUILD_EVENTS)

    # WHEN a release starts a build of a zip holding a Dockerfile
    started = start(customer, out, {"Dockerfile": DOCKERFILE, "main.py": "print('v1')\n"}, "a1b2c3")
    assert started["buildStatus"] == "IN_PROGRESS"

    # THEN it succeeds with CodeBuild's phases, each once, the overrides applied
    build = finished(customer, started["id"])
    assert build["buildStatus"] == "SUCCEEDED"
    assert phases(build) == [(p, "SUCCEEDED") for p in ALL_PHASES[:-1]] + [("COMPLETED", None)]
    assert build["source"]["type"] == "S3"
    assert build["source"]["location"] == f"{out['Bucket']}/sources/a1b2c3.zip"
    assert {"name": "IMAGE_TAG", "value": "a1b2c3", "type": "PLAINTEXT"} in build["environment"][
        "environmentVariables"
    ]
    assert build["timeoutInMinutes"] == 20
    assert build["logs"]["groupName"] == out["LogGroup"]
    assert build["logs"]["streamName"] == build["id"].split(":", 1)[1]
    # ... a second BatchGetBuilds shows the same build (moto's appended 9 phases per call)
    again = client("codebuild", customer).batch_get_builds(ids=[build["arn"]])["builds"][0]
    assert phases(again) == phases(build)
    # ... the image is in ECR under the tag, its digest the manifest's sha256
    ecr = client("ecr", customer)
    digest = digest_of(customer, out, "a1b2c3")
    manifest = ecr.batch_get_image(repositoryName=out["Repository"], imageIds=[{"imageTag": "a1b2c3"}])[
        "images"
    ][0]["imageManifest"]
    assert digest == "sha256:" + hashlib.sha256(manifest.encode()).hexdigest()
    # ... the log reads like a docker build, down to the pushed digest
    lines = log_lines(customer, build)
    assert any(line.endswith("Entering phase BUILD") for line in lines)
    assert "Step 1/4 : FROM python:3.12-slim" in lines
    assert f"Successfully tagged {out['RepositoryUri']}:a1b2c3" in lines
    assert f"a1b2c3: digest: {digest} size: {len(manifest)}" in lines
    # ... and exactly two state changes reached the default bus: IN_PROGRESS, then SUCCEEDED
    events = [e for e in drain(customer, queue, 2) if e["source"] == "aws.codebuild"]
    assert [e["detail"]["build-status"] for e in events] == ["IN_PROGRESS", "SUCCEEDED"]
    final = events[-1]
    assert final["detail-type"] == "CodeBuild Build State Change"
    assert final["account"] == CUSTOMER and final["resources"] == [build["arn"]]
    assert final["detail"]["project-name"] == out["Project"]
    assert final["detail"]["build-id"] == build["arn"]
    assert final["detail"]["current-phase"] == "COMPLETED"
    info = final["detail"]["additional-information"]
    assert info["logs"]["group-name"] == out["LogGroup"]
    assert info["logs"]["stream-name"] == build["logs"]["streamName"]
    assert [p["phase-type"] for p in info["phases"]] == ALL_PHASES


def test_the_digest_derives_from_the_source_and_the_dockerfile(customer: dict[str, str]) -> None:
    # GIVEN a stack with a source
    _, out = create_stack(customer)

    # WHEN the same source is built under two tags, then a changed source and a changed Dockerfile
    sources = {
        "same-1": {"Dockerfile": DOCKERFILE, "main.py": "print('v1')\n"},
        "same-2": {"Dockerfile": DOCKERFILE, "main.py": "print('v1')\n"},
        "code": {"Dockerfile": DOCKERFILE, "main.py": "print('v2')\n"},
        "docker": {"Dockerfile": DOCKERFILE.replace("3.12", "3.13"), "main.py": "print('v1')\n"},
    }
    for tag, files in sources.items():
        assert finished(customer, start(customer, out, files, tag)["id"])["buildStatus"] == "SUCCEEDED"

    # THEN the same bytes give the same digest, any change another one
    digests = {tag: digest_of(customer, out, tag) for tag in sources}
    assert digests["same-1"] == digests["same-2"]
    assert len({digests["same-1"], digests["code"], digests["docker"]}) == 3


def test_a_missing_dockerfile_fails_the_build_phase_with_a_line_naming_it(customer: dict[str, str]) -> None:
    # GIVEN a stack with a source, and a zip whose Dockerfile is not where the build looks
    _, out = create_stack(customer)
    files = {"Dockerfile": DOCKERFILE, "service/main.py": "print('v1')\n"}
    queue = tap(customer, BUILD_EVENTS)

    # WHEN the build looks for service/Dockerfile (the CONTEXT override)
    context = {"name": "CONTEXT", "value": "service", "type": "PLAINTEXT"}
    build = finished(customer, start(customer, out, files, "d00d", variables=[context])["id"])

    # THEN it failed at BUILD, and its log's last lines name the missing path
    assert build["buildStatus"] == "FAILED"
    assert phases(build)[-3:] == [("BUILD", "FAILED"), ("FINALIZING", "SUCCEEDED"), ("COMPLETED", None)]
    failed = next(p for p in build["phases"] if p["phaseType"] == "BUILD")
    assert failed["contexts"][0]["statusCode"] == "COMMAND_EXECUTION_ERROR"
    lines = log_lines(customer, build)
    missing = "open service/Dockerfile: no such file or directory"
    assert f"ERROR: failed to solve: failed to read dockerfile: {missing}" in lines
    # ... nothing was pushed, and the bus heard FAILED
    with pytest.raises(ClientError, match="ImageNotFoundException"):
        digest_of(customer, out, "d00d")
    events = [e for e in drain(customer, queue, 2) if e["source"] == "aws.codebuild"]
    assert [e["detail"]["build-status"] for e in events] == ["IN_PROGRESS", "FAILED"]


def test_a_dockerfile_without_from_fails_the_build(customer: dict[str, str]) -> None:
    # GIVEN a stack with a source and a Dockerfile with no build stage
    _, out = create_stack(customer)
    files = {"Dockerfile": "# no base image\nRUN echo hello\n"}

    # WHEN it is built
    build = finished(customer, start(customer, out, files, "nofrom")["id"])

    # THEN the build fails at BUILD with BuildKit's line
    assert build["buildStatus"] == "FAILED"
    assert ("BUILD", "FAILED") in phases(build)
    assert "ERROR: failed to solve: Dockerfile: no build stage in current context" in log_lines(
        customer, build
    )


def test_a_missing_source_object_fails_download_source(customer: dict[str, str]) -> None:
    # GIVEN a stack with a source
    _, out = create_stack(customer)

    # WHEN a build is started on an object that is not in the bucket
    started = client("codebuild", customer).start_build(
        projectName=out["Project"],
        sourceTypeOverride="S3",
        sourceLocationOverride=f"{out['Bucket']}/sources/missing.zip",
        environmentVariablesOverride=[{"name": "IMAGE_TAG", "value": "x", "type": "PLAINTEXT"}],
    )["build"]
    build = finished(customer, started["id"])

    # THEN DOWNLOAD_SOURCE failed with CodeBuild's CLIENT_ERROR
    assert build["buildStatus"] == "FAILED"
    assert ("DOWNLOAD_SOURCE", "FAILED") in phases(build)
    context = next(p for p in build["phases"] if p["phaseType"] == "DOWNLOAD_SOURCE")["contexts"][0]
    assert context["statusCode"] == "CLIENT_ERROR" and "NoSuchKey" in context["message"]


def test_an_immutable_tag_pushed_again_fails_the_build(customer: dict[str, str]) -> None:
    # GIVEN a commit already built and pushed
    _, out = create_stack(customer)
    first = start(customer, out, {"Dockerfile": DOCKERFILE, "main.py": "print('v1')\n"}, "beef")
    assert finished(customer, first["id"])["buildStatus"] == "SUCCEEDED"
    digest = digest_of(customer, out, "beef")

    # WHEN another source is built under the same tag
    second = finished(
        customer, start(customer, out, {"Dockerfile": DOCKERFILE, "main.py": "v2"}, "beef")["id"]
    )

    # THEN the push is refused (tags are immutable): FAILED at POST_BUILD, the tag unchanged
    assert second["buildStatus"] == "FAILED"
    assert ("POST_BUILD", "FAILED") in phases(second)
    assert any(
        line.startswith("ImageTagAlreadyExistsException: tag invalid: The image tag 'beef' already exists")
        for line in log_lines(customer, second)
    )
    assert digest_of(customer, out, "beef") == digest


def test_an_injected_failure_fails_the_build_at_that_phase(customer: dict[str, str]) -> None:
    # GIVEN a fault on the next build of the project
    _, out = create_stack(customer)
    patches.fail_next_build(out["Project"], "PRE_BUILD", "npm ERR! network timeout")

    # WHEN two builds run
    failing = finished(customer, start(customer, out, {"Dockerfile": DOCKERFILE}, "f1")["id"])
    passing = finished(customer, start(customer, out, {"Dockerfile": DOCKERFILE}, "f2")["id"])

    # THEN only the first failed, at PRE_BUILD, with the message in its context and its log
    assert failing["buildStatus"] == "FAILED"
    assert phases(failing)[-3:] == [("PRE_BUILD", "FAILED"), ("FINALIZING", "SUCCEEDED"), ("COMPLETED", None)]
    context = next(p for p in failing["phases"] if p["phaseType"] == "PRE_BUILD")["contexts"][0]
    assert context == {"statusCode": "COMMAND_EXECUTION_ERROR", "message": "npm ERR! network timeout"}
    assert "npm ERR! network timeout" in log_lines(customer, failing)
    assert passing["buildStatus"] == "SUCCEEDED"
    with pytest.raises(ValueError, match="phase must be one of"):
        patches.fail_next_build(out["Project"], "COMPLETED", "never")


def test_a_build_that_never_finishes_is_stopped_by_stop_build(customer: dict[str, str]) -> None:
    # GIVEN a build that never finishes
    _, out = create_stack(customer)
    queue = tap(customer, BUILD_EVENTS)
    patches.hang_next_build(out["Project"])
    started = start(customer, out, {"Dockerfile": DOCKERFILE}, "hang")
    codebuild_client = client("codebuild", customer)
    wait_until(
        lambda: (
            codebuild_client.batch_get_builds(ids=[started["id"]])["builds"][0]["currentPhase"] == "BUILD"
        ),
        what="the BUILD phase",
    )

    # WHEN it is stopped
    codebuild_client.stop_build(id=started["id"])

    # THEN it ends STOPPED in BUILD, nothing pushed, and the bus heard STOPPED
    build = finished(customer, started["id"])
    assert build["buildStatus"] == "STOPPED"
    assert phases(build)[-3:] == [("BUILD", "STOPPED"), ("FINALIZING", "SUCCEEDED"), ("COMPLETED", None)]
    with pytest.raises(ClientError, match="ImageNotFoundException"):
        digest_of(customer, out, "hang")
    events = [e for e in drain(customer, queue, 2) if e["source"] == "aws.codebuild"]
    assert [e["detail"]["build-status"] for e in events] == ["IN_PROGRESS", "STOPPED"]
    # ... and stopping a finished build changes nothing
    assert codebuild_client.stop_build(id=started["id"])["build"]["buildStatus"] == "STOPPED"


def test_a_build_that_never_finishes_times_out(customer: dict[str, str]) -> None:
    # GIVEN a build that never finishes, started with the shortest timeout CodeBuild allows
    _, out = create_stack(customer)
    patches.hang_next_build(out["Project"])

    # WHEN its timeout passes (5 minutes, scaled)
    build = finished(
        customer, start(customer, out, {"Dockerfile": DOCKERFILE}, "slow", timeoutInMinutesOverride=5)["id"]
    )

    # THEN it is TIMED_OUT, as CodeBuild reports it
    assert build["timeoutInMinutes"] == 5
    assert build["buildStatus"] == "TIMED_OUT"
    assert phases(build)[-3:] == [("BUILD", "TIMED_OUT"), ("FINALIZING", "SUCCEEDED"), ("COMPLETED", None)]
    assert "Build has timed out." in log_lines(customer, build)


def test_bad_start_build_input_is_a_clear_4xx(customer: dict[str, str]) -> None:
    # GIVEN a stack with a source
    _, out = create_stack(customer)
    codebuild_client = client("codebuild", customer)

    # WHEN StartBuild is called with a timeout out of range, an S3 override without a location, or
    # a project that does not exist
    # THEN each is InvalidInputException / ResourceNotFoundException naming what is wrong
    with pytest.raises(ClientError, match="timeoutInMinutesOverride"):
        codebuild_client.start_build(projectName=out["Project"], timeoutInMinutesOverride=3000)
    with pytest.raises(ClientError, match="sourceLocationOverride"):
        codebuild_client.start_build(projectName=out["Project"], sourceTypeOverride="S3")
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        codebuild_client.start_build(projectName="nope")


# --------------------------------------------------------------------------------------------------
# Restart, and the moto internals patched
# --------------------------------------------------------------------------------------------------


def test_a_restart_ends_a_build_in_flight_failed_and_keeps_builds_and_images(
    customer: dict[str, str],
) -> None:
    from infra.local.persistence.pickling import dump_backends, load_backends

    # GIVEN a pushed image, and a build in flight
    _, out = create_stack(customer)
    done = finished(customer, start(customer, out, {"Dockerfile": DOCKERFILE}, "kept")["id"])
    digest = digest_of(customer, out, "kept")
    patches.hang_next_build(out["Project"])
    in_flight = start(customer, out, {"Dockerfile": DOCKERFILE}, "lost")
    codebuild_client = client("codebuild", customer)
    wait_until(
        lambda: (
            codebuild_client.batch_get_builds(ids=[in_flight["id"]])["builds"][0]["currentPhase"] == "BUILD"
        ),
        what="the BUILD phase",
    )

    # WHEN the world is snapshotted, its threads stop, and it is restored and recovered
    snapshot = dump_backends()
    patches.stop_executions()
    load_backends(snapshot)
    queue = tap(customer, BUILD_EVENTS, name="after-restart")
    assert patches.settle_builds() == 1

    # THEN the finished build and its image are back, and the one in flight ended FAILED, saying why
    builds = {
        b["id"]: b for b in codebuild_client.batch_get_builds(ids=[done["id"], in_flight["id"]])["builds"]
    }
    assert builds[done["id"]]["buildStatus"] == "SUCCEEDED"
    assert digest_of(customer, out, "kept") == digest
    lost = builds[in_flight["id"]]
    assert lost["buildStatus"] == "FAILED"
    assert phases(lost)[-3:] == [("BUILD", "FAILED"), ("FINALIZING", "SUCCEEDED"), ("COMPLETED", None)]
    context = next(p for p in lost["phases"] if p["phaseType"] == "BUILD")["contexts"][0]
    assert context["message"] == "the local cloud restarted"
    events = [e for e in drain(customer, queue, 1) if e["source"] == "aws.codebuild"]
    assert [e["detail"]["build-status"] for e in events] == ["FAILED"]
    assert patches.settle_builds() == 0


def test_the_moto_internals_codebuild_relies_on_are_patched() -> None:
    # GIVEN moto 5.2.5's CodeBuild
    import inspect

    from moto.codebuild.models import CodeBuildBackend
    from moto.codebuild.responses import CodeBuildResponse

    # THEN its three internals are the patches', and the originals have the shapes they replace
    assert CodeBuildResponse.start_build is codebuild._response_start_build
    assert CodeBuildBackend.batch_get_builds is codebuild._batch_get_builds
    assert CodeBuildBackend.stop_build is codebuild._stop_build
    assert list(inspect.signature(_original(CodeBuildResponse, "start_build")).parameters) == ["self"]
    assert list(inspect.signature(_original(CodeBuildBackend, "batch_get_builds")).parameters) == [
        "self",
        "ids",
    ]
    assert list(inspect.signature(_original(CodeBuildBackend, "stop_build")).parameters) == [
        "self",
        "build_id",
    ]
    # ... and what the builds use of moto is still there
    assert {"build_metadata_history", "build_history", "codebuild_projects"} <= set(
        vars(CodeBuildBackend("us-east-1", CUSTOMER))
    )
