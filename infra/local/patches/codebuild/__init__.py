"""CodeBuild builds for real what can be built without Docker (moto 5.2.5's StartBuild runs nothing,
ignores the overrides, and its BatchGetBuilds reports SUCCEEDED and appends 9 canned phases per call).

StartBuild (`CodeBuildResponse.start_build`) records a build IN_PROGRESS and runs it in a background
thread, each phase lasting `seconds * scale`:
  SUBMITTED, QUEUED, PROVISIONING, DOWNLOAD_SOURCE (the zip from the account's S3, unpacked in
  memory), INSTALL, PRE_BUILD, BUILD (the Dockerfile at CONTEXT/DOCKERFILE read and checked: missing,
  outside the source or without FROM fails the phase), POST_BUILD (the image pushed with ECR's own
  put_image: a manifest whose digest derives from the context's bytes and the Dockerfile), then
  UPLOAD_ARTIFACTS, FINALIZING, COMPLETED.
A failed phase ends the build (as a buildspec with `on-failure: ABORT`): FINALIZING and COMPLETED
follow. The buildspec is not interpreted: every build is `docker build -t $IMAGE_REPO_URI:$IMAGE_TAG
-f $CONTEXT/$DOCKERFILE $CONTEXT` then `docker push`, with the project's environment variables and
the StartBuild overrides (source, environment variables, timeout).

The build log (CodeBuild's `[Container]` lines and what docker would print) goes to the account's
CloudWatch Logs group/stream of the project's LogsConfig (stream: the build id's uuid part); a
"CodeBuild Build State Change" event (IN_PROGRESS, then SUCCEEDED | FAILED | STOPPED | TIMED_OUT)
goes on the account's default bus in the build's region. `BatchGetBuilds` returns the recorded
builds as they are (`CodeBuildBackend.batch_get_builds`), `StopBuild` stops a running build
(`CodeBuildBackend.stop_build`). Builds live in moto's own `build_metadata_history` (plain dicts:
they pickle); the threads and stop signals do not survive a restart, `settle_builds()` ends builds
left IN_PROGRESS by one.
"""

from __future__ import annotations

import copy
import threading
import uuid
from collections.abc import Mapping
from typing import Any

from infra.local.patches._machinery import _replace, _spawn
from infra.local.patches.codebuild.run import _partition, _Run, _take_fault
from infra.local.patches.codebuild.state import (
    _LOCK,
    DEFAULT_TIMEOUT_MINUTES,
    ENV_VAR_TYPES,
    FAILABLE_PHASES,
    RESTARTED_REASON,
    SOURCE_TYPES,
    _Fault,
    _faults,
    _now,
    _progress,
    _stops,
)
from infra.local.patches.codebuild.state import BUILD_STATE_DETAIL_TYPE as BUILD_STATE_DETAIL_TYPE  # public
from infra.local.patches.codebuild.state import build_state_event as build_state_event  # public

# --------------------------------------------------------------------------------------------------
# Public: faults, progress, settling after a restart
# --------------------------------------------------------------------------------------------------


def fail_next_build(project_name_prefix: str, phase: str, message: str) -> None:
    """The next build of a project whose name starts with the prefix fails at `phase` (one of
    FAILABLE_PHASES) with `message` (its phase context and its last log line)."""
    if phase not in FAILABLE_PHASES:
        raise ValueError(f"phase must be one of {', '.join(FAILABLE_PHASES)}, got {phase!r}")
    with _LOCK:
        _faults.append(_Fault(project_name_prefix, "fail", phase, message))


def hang_next_build(project_name_prefix: str) -> None:
    """The next build of a matching project never finishes its BUILD phase: it ends only by
    StopBuild (STOPPED) or its timeout (TIMED_OUT)."""
    with _LOCK:
        _faults.append(_Fault(project_name_prefix, "hang"))


def clear_build_faults() -> None:
    with _LOCK:
        _faults.clear()


def progress() -> int:
    return _progress[0]


def settle_builds() -> int:
    """After a restore: every build still IN_PROGRESS (its thread is gone) ends FAILED with the reason
    "the local cloud restarted" in its current phase, its log and its state change event."""
    from moto.codebuild.models import codebuild_backends

    settled = 0
    for regions in list(codebuild_backends.values()):
        for backend in list(regions.values()):
            for builds in list(backend.build_metadata_history.values()):
                for build in builds:
                    if build.get("buildStatus") != "IN_PROGRESS":
                        continue
                    run = _Run(backend.account_id, backend.region_name, build)
                    run.fail_current("CLIENT_ERROR", RESTARTED_REASON)
                    run.finish("FAILED", pause=False)
                    settled += 1
    return settled


# --------------------------------------------------------------------------------------------------
# The patched moto internals
# --------------------------------------------------------------------------------------------------


def _invalid(message: str) -> Exception:
    from moto.codebuild.exceptions import InvalidInputException

    return InvalidInputException(message)


def _response_start_build(self: Any) -> Any:
    """CodeBuildResponse.start_build: every override honoured, the build run in the background."""
    from moto.codebuild.exceptions import ResourceNotFoundException
    from moto.core.responses import ActionResult
    from moto.utilities.utils import get_partition

    name = self._get_param("projectName")
    if not name:
        raise _invalid("projectName is required")
    backend = self.codebuild_backend
    if name not in backend.codebuild_projects:
        raise ResourceNotFoundException(
            f"Project cannot be found: arn:{get_partition(self.region)}:codebuild:{self.region}:"
            f"{self.current_account}:project/{name}"
        )
    overrides = {
        key: self._get_param(key)
        for key in (
            "sourceVersion",
            "sourceTypeOverride",
            "sourceLocationOverride",
            "buildspecOverride",
            "environmentVariablesOverride",
            "timeoutInMinutesOverride",
            "imageOverride",
            "computeTypeOverride",
            "privilegedModeOverride",
        )
    }
    build = start_build(backend, name, overrides)
    return ActionResult({"build": build})


def _validate_overrides(overrides: Mapping[str, Any]) -> None:
    source_type = overrides.get("sourceTypeOverride")
    if source_type is not None and source_type not in SOURCE_TYPES:
        raise _invalid(f"Invalid type provided: sourceTypeOverride {source_type!r}")
    if source_type == "S3" and not overrides.get("sourceLocationOverride"):
        raise _invalid("sourceLocationOverride is required when sourceTypeOverride is S3")
    timeout = overrides.get("timeoutInMinutesOverride")
    if timeout is not None and not 5 <= int(timeout) <= 2160:
        raise _invalid("timeoutInMinutesOverride must be between 5 and 2160")
    for variable in overrides.get("environmentVariablesOverride") or []:
        if not variable.get("name") or "value" not in variable:
            raise _invalid("environmentVariablesOverride: every variable needs a name and a value")
        if variable.get("type", "PLAINTEXT") not in ENV_VAR_TYPES:
            raise _invalid(f"environmentVariablesOverride: invalid type {variable.get('type')!r}")


def start_build(backend: Any, project_name: str, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Record a build of `project_name` IN_PROGRESS in moto's backend and run it in the background;
    returns the build as StartBuild answers it."""
    _validate_overrides(overrides)
    project = backend.codebuild_projects[project_name].project_metadata
    account_id, region_name = backend.account_id, backend.region_name
    build_uuid = str(uuid.uuid4())
    build_id = f"{project_name}:{build_uuid}"
    arn = f"arn:{_partition(region_name)}:codebuild:{region_name}:{account_id}:build/{build_id}"

    source = copy.deepcopy(project.get("source") or {"type": "NO_SOURCE"})
    if overrides.get("sourceTypeOverride"):
        source = {"type": overrides["sourceTypeOverride"], "buildspec": source.get("buildspec", "")}
    if overrides.get("sourceLocationOverride"):
        source["location"] = overrides["sourceLocationOverride"]
    if overrides.get("buildspecOverride"):
        source["buildspec"] = overrides["buildspecOverride"]

    environment = copy.deepcopy(project.get("environment") or {})
    variables = {v["name"]: dict(v) for v in environment.get("environmentVariables") or []}
    for variable in overrides.get("environmentVariablesOverride") or []:
        variables[variable["name"]] = {
            "name": variable["name"],
            "value": str(variable["value"]),
            "type": variable.get("type", "PLAINTEXT"),
        }
    environment["environmentVariables"] = list(variables.values())
    for key, target in (
        ("imageOverride", "image"),
        ("computeTypeOverride", "computeType"),
        ("privilegedModeOverride", "privilegedMode"),
    ):
        if overrides.get(key) is not None:
            environment[target] = overrides[key]

    timeout = int(
        overrides.get("timeoutInMinutesOverride")
        or project.get("timeoutInMinutes")
        or DEFAULT_TIMEOUT_MINUTES
    )
    cloudwatch = dict(((project.get("logsConfig") or {}).get("cloudWatchLogs")) or {"status": "ENABLED"})
    group = cloudwatch.get("groupName") or f"/aws/codebuild/{project_name}"
    stream = f"{cloudwatch['streamName']}/{build_uuid}" if cloudwatch.get("streamName") else build_uuid
    logs: dict[str, Any] = {"cloudWatchLogs": cloudwatch, "s3Logs": {"status": "DISABLED"}}
    if cloudwatch.get("status", "ENABLED") == "ENABLED":
        logs.update(
            groupName=group,
            streamName=stream,
            deepLink=(
                f"https://console.aws.amazon.com/cloudwatch/home?region={region_name}"
                f"#logsV2:log-groups/log-group/{group}/log-events/{stream}"
            ),
            cloudWatchLogsArn=(
                f"arn:{_partition(region_name)}:logs:{region_name}:{account_id}:log-group:{group}"
                f":log-stream:{stream}"
            ),
        )

    now = _now()
    history = backend.build_history.setdefault(project_name, [])
    build: dict[str, Any] = {
        "id": build_id,
        "arn": arn,
        "buildNumber": len(history) + 1,
        "startTime": now,
        "currentPhase": "QUEUED",
        "buildStatus": "IN_PROGRESS",
        "sourceVersion": overrides.get("sourceVersion") or project.get("sourceVersion") or "",
        "projectName": project_name,
        "phases": [
            {
                "phaseType": "SUBMITTED",
                "phaseStatus": "SUCCEEDED",
                "startTime": now,
                "endTime": now,
                "durationInSeconds": 0,
            },
            {"phaseType": "QUEUED", "startTime": now},
        ],
        "source": source,
        "secondarySources": [],
        "secondarySourceVersions": [],
        "artifacts": {"location": ""},
        "secondaryArtifacts": [],
        "cache": project.get("cache") or {"type": "NO_CACHE"},
        "environment": environment,
        "serviceRole": project.get("serviceRole", ""),
        "logs": logs,
        "timeoutInMinutes": timeout,
        "queuedTimeoutInMinutes": int(project.get("queuedTimeoutInMinutes") or 480),
        "buildComplete": False,
        "initiator": "stackpilot",
        "encryptionKey": project.get("encryptionKey", ""),
    }
    fault = _take_fault(project_name)
    stop = threading.Event()
    with _LOCK:
        history.append(build_id)
        backend.build_metadata_history[project_name].append(build)
        _stops[arn] = stop
        answer = copy.deepcopy(build)
    run = _Run(account_id, region_name, build, fault=fault, stop=stop)
    run.emit()  # IN_PROGRESS
    _spawn(run.run, f"codebuild-{build_uuid[:8]}")
    return answer


def _batch_get_builds(self: Any, ids: list[str]) -> list[dict[str, Any]]:
    """CodeBuildBackend.batch_get_builds: the builds as recorded (ids or ARNs), nothing invented."""
    wanted = set(ids)
    with _LOCK:
        return [
            copy.deepcopy(build)
            for builds in self.build_metadata_history.values()
            for build in builds
            if build["id"] in wanted or build["arn"] in wanted
        ]


def _stop_build(self: Any, build_id: str) -> dict[str, Any] | None:
    """CodeBuildBackend.stop_build: a running build is told to stop (its thread ends it STOPPED at
    once); a finished one is returned unchanged, as AWS does."""
    with _LOCK:
        for builds in self.build_metadata_history.values():
            for build in builds:
                if build_id in (build["id"], build["arn"]):
                    stop = _stops.get(build["arn"])
                    if build["buildStatus"] == "IN_PROGRESS" and stop is not None:
                        stop.set()
                    return dict(copy.deepcopy(build))
    return None


def patch() -> None:
    from moto.codebuild.models import CodeBuildBackend
    from moto.codebuild.responses import CodeBuildResponse

    _replace(CodeBuildResponse, "start_build", _response_start_build, "codebuild start build")
    _replace(CodeBuildBackend, "batch_get_builds", _batch_get_builds, "codebuild batch get builds")
    _replace(CodeBuildBackend, "stop_build", _stop_build, "codebuild stop build")
