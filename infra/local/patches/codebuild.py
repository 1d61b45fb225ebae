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
import datetime as dt
import hashlib
import io
import json
import logging
import posixpath
import re
import threading
import time
import uuid
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from infra.local.patches import backends
from infra.local.patches._machinery import _replace, _spawn, _state
from infra.local.patches.eventbridge import put_service_event

LOG = logging.getLogger(__name__)

BUILD_STATE_DETAIL_TYPE = "CodeBuild Build State Change"
RESTARTED_REASON = "the local cloud restarted"

# Phase -> seconds it lasts before scaling (a small Linux build: provisioning dominates).
PHASES: tuple[tuple[str, float], ...] = (
    ("PROVISIONING", 2.0),
    ("DOWNLOAD_SOURCE", 1.0),
    ("INSTALL", 0.5),
    ("PRE_BUILD", 0.5),
    ("BUILD", 3.0),
    ("POST_BUILD", 1.0),
    ("UPLOAD_ARTIFACTS", 0.2),
    ("FINALIZING", 0.5),
)
FAILABLE_PHASES = tuple(name for name, _ in PHASES if name not in ("FINALIZING",))
SOURCE_TYPES = ("BITBUCKET", "CODECOMMIT", "CODEPIPELINE", "GITHUB", "GITHUB_ENTERPRISE", "NO_SOURCE", "S3")
ENV_VAR_TYPES = ("PLAINTEXT", "PARAMETER_STORE", "SECRETS_MANAGER")
MAX_SOURCE_BYTES = 256 * 1024 * 1024  # unpacked; a bigger source fails DOWNLOAD_SOURCE
DEFAULT_TIMEOUT_MINUTES = 60
MANIFEST_MEDIA_TYPE = "application/vnd.docker.distribution.manifest.v2+json"


@dataclass
class _Fault:
    project_prefix: str
    kind: str  # fail | hang
    phase: str = ""
    message: str = ""


# Module state (not moto's: never pickled). Guarded by _LOCK.
_LOCK = threading.RLock()
_faults: list[_Fault] = []
_stops: dict[str, threading.Event] = {}  # build arn -> set by StopBuild
_progress = [0]  # grows with every change a build thread makes (the snapshots follow it)


class _Ended(Exception):
    """The build ends early: stopped, timed out, or the patches are shutting down."""

    def __init__(self, how: str) -> None:
        super().__init__(how)
        self.how = how  # STOPPED | TIMED_OUT | SHUTDOWN


class _PhaseFailed(Exception):
    def __init__(self, status_code: str, message: str, lines: list[str] | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.lines = lines or []


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


def build_state_event(account_id: str, region_name: str, build: Mapping[str, Any]) -> dict[str, Any]:
    """The "CodeBuild Build State Change" event AWS puts on the build account's default bus."""
    logs = build.get("logs") or {}
    phases = [
        {
            "phase-context": list(p.get("contexts") or []),
            "start-time": p.get("startTime"),
            "end-time": p.get("endTime"),
            "duration-in-seconds": p.get("durationInSeconds"),
            "phase-type": p["phaseType"],
            "phase-status": p.get("phaseStatus"),
        }
        for p in build.get("phases") or []
    ]
    current = (build.get("phases") or [{}])[-1]
    environment = build.get("environment") or {}
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": BUILD_STATE_DETAIL_TYPE,
        "source": "aws.codebuild",
        "account": account_id,
        "time": time.time(),
        "region": region_name,
        "resources": [build["arn"]],
        "detail": {
            "build-status": build["buildStatus"],
            "project-name": build["projectName"],
            "build-id": build["arn"],
            "additional-information": {
                "build-complete": bool(build.get("buildComplete")),
                "initiator": build.get("initiator", ""),
                "build-start-time": build.get("startTime"),
                "timeout-in-minutes": build.get("timeoutInMinutes"),
                "source": build.get("source") or {},
                "source-version": build.get("sourceVersion", ""),
                "environment": {
                    "image": environment.get("image", ""),
                    "privileged-mode": bool(environment.get("privilegedMode")),
                    "compute-type": environment.get("computeType", ""),
                    "type": environment.get("type", ""),
                    "environment-variables": [
                        {"name": v["name"], "type": v.get("type", "PLAINTEXT"), "value": v["value"]}
                        for v in environment.get("environmentVariables") or []
                    ],
                },
                "logs": {
                    "group-name": logs.get("groupName"),
                    "stream-name": logs.get("streamName"),
                    "deep-link": logs.get("deepLink", ""),
                },
                "phases": phases,
            },
            "current-phase": build.get("currentPhase"),
            "current-phase-context": json.dumps(list(current.get("contexts") or [])),
            "version": "1",
        },
    }


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


def _now() -> str:
    from moto.core.utils import iso_8601_datetime_with_milliseconds

    return str(iso_8601_datetime_with_milliseconds())


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


# --------------------------------------------------------------------------------------------------
# Running one build
# --------------------------------------------------------------------------------------------------


def _partition(region_name: str) -> str:
    from moto.utilities.utils import get_partition

    return str(get_partition(region_name))


def _ecr(account_id: str, region_name: str) -> Any:
    from moto.ecr.models import ecr_backends

    return ecr_backends[account_id][region_name]


def _take_fault(project_name: str) -> _Fault | None:
    with _LOCK:
        for fault in _faults:
            if project_name.startswith(fault.project_prefix):
                _faults.remove(fault)
                return fault
    return None


class _Run:
    """One build's thread: phases, log lines, the image, the events."""

    def __init__(
        self,
        account_id: str,
        region_name: str,
        build: dict[str, Any],
        *,
        fault: _Fault | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.account_id = account_id
        self.region_name = region_name
        self.build = build
        self.fault = fault
        self.stop = stop or threading.Event()
        self.generation = _state.generation
        self.started = time.monotonic()
        self.deadline = self.started + float(build["timeoutInMinutes"]) * 60 * _state.time_scale
        self.files: dict[str, bytes] = {}
        self.variables = {
            v["name"]: str(v["value"]) for v in build["environment"].get("environmentVariables") or []
        }
        self.image: dict[str, Any] | None = None
        self.log_ready = False

    # -- the phases --------------------------------------------------------------------------------

    def run(self) -> None:
        try:
            self._run()
        except Exception:  # never leave a build IN_PROGRESS because of a bug here
            LOG.exception("build %s crashed", self.build["id"])
            self.fail_current("CLIENT_ERROR", "internal error of the local CodeBuild")
            self.finish("FAILED")
        finally:
            with _LOCK:
                _stops.pop(self.build["arn"], None)

    def _run(self) -> None:
        self._end_phase("QUEUED", "SUCCEEDED")
        steps = {
            "PROVISIONING": self._provision,
            "DOWNLOAD_SOURCE": self._download_source,
            "BUILD": self._docker_build,
            "POST_BUILD": self._docker_push,
        }
        try:
            for phase, seconds in PHASES:
                if phase == "FINALIZING":
                    break
                self._begin_phase(phase)
                self._pause(seconds)
                if self.fault is not None and self.fault.phase == phase:
                    raise _PhaseFailed("COMMAND_EXECUTION_ERROR", self.fault.message, [self.fault.message])
                step = steps.get(phase)
                if step is not None:
                    step()
                if phase == "BUILD" and self.fault is not None and self.fault.kind == "hang":
                    self._pause(float("inf"))
                self._end_phase(phase, "SUCCEEDED")
        except _PhaseFailed as failed:
            for line in failed.lines:
                self._log(line)
            self.fail_current(failed.status_code, failed.message)
            self.finish("FAILED")
            return
        except _Ended as ended:
            self._ended(ended.how)
            return
        self.finish("SUCCEEDED")

    def _ended(self, how: str) -> None:
        if how == "SHUTDOWN":
            return  # the patches are being torn down (tests): moto is reset after
        if how == "STOPPED":
            self._log("Build was stopped")
            self._end_current("STOPPED", [])
        else:
            self._log("Build has timed out.")
            timed_out = {"statusCode": "BUILD_TIMED_OUT", "message": "Build has timed out."}
            self._end_current("TIMED_OUT", [timed_out])
        self.finish(how)

    def _provision(self) -> None:
        self._container("Running on CodeBuild On-demand")
        self._container("Waiting for agent ping")
        self._container("Waiting for DOWNLOAD_SOURCE")

    def _download_source(self) -> None:
        source = self.build["source"]
        kind = source.get("type")
        if kind == "NO_SOURCE":
            self._container("No source to download")
            return
        if kind != "S3":
            raise _PhaseFailed("CLIENT_ERROR", f"source type {kind} is not available in the local cloud")
        location = str(source.get("location") or "")
        bucket, _, key = location.removeprefix("arn:aws:s3:::").partition("/")
        try:
            stored = backends.s3(self.account_id).get_object(bucket, key)
        except Exception as exc:  # moto's MissingBucket
            message = f"NoSuchBucket: The specified bucket does not exist: {bucket} for primary source"
            raise _PhaseFailed("CLIENT_ERROR", message, [f"CLIENT_ERROR: {message}"]) from exc
        if stored is None:
            message = f"NoSuchKey: The specified key does not exist: {key} for primary source"
            raise _PhaseFailed("CLIENT_ERROR", message, [f"CLIENT_ERROR: {message}"])
        payload = bytes(stored.value)
        try:
            with zipfile.ZipFile(io.BytesIO(payload)) as archive:
                total = 0
                for info in archive.infolist():
                    if info.is_dir():
                        continue
                    total += info.file_size
                    if total > MAX_SOURCE_BYTES:
                        raise _PhaseFailed(
                            "CLIENT_ERROR", f"source larger than {MAX_SOURCE_BYTES} bytes unpacked"
                        )
                    name = posixpath.normpath(info.filename.replace("\\", "/")).lstrip("/")
                    self.files[name] = archive.read(info)
        except zipfile.BadZipFile as exc:
            message = f"zip: not a valid zip file for primary source s3://{bucket}/{key}"
            raise _PhaseFailed("CLIENT_ERROR", message, [f"CLIENT_ERROR: {message}"]) from exc
        self._container(f"Expanding source s3://{bucket}/{key}: {len(self.files)} files")

    def _docker_build(self) -> None:
        context = posixpath.normpath(self.variables.get("CONTEXT") or ".")
        dockerfile_name = self.variables.get("DOCKERFILE") or "Dockerfile"
        dockerfile = posixpath.normpath(posixpath.join(context, dockerfile_name))
        repo_uri, tag = self.variables.get("IMAGE_REPO_URI", ""), self.variables.get("IMAGE_TAG", "")
        command = f"docker build -t {repo_uri}:{tag} -f {dockerfile} {context}"
        self._container(f"Running command {command}")
        failure = f"Error while executing command: {command}. Reason: exit status 1"
        if not repo_uri or not tag:
            missing = "IMAGE_REPO_URI" if not repo_uri else "IMAGE_TAG"
            line = f'ERROR: invalid tag "{repo_uri}:{tag}": {missing} is not set'
            raise _PhaseFailed("COMMAND_EXECUTION_ERROR", failure, [line])
        if context.startswith("..") or dockerfile.startswith(".."):
            line = f"ERROR: failed to solve: {dockerfile}: Dockerfile and context must be inside the source"
            raise _PhaseFailed("COMMAND_EXECUTION_ERROR", failure, [line])
        if dockerfile not in self.files:
            line = (
                f"ERROR: failed to solve: failed to read dockerfile: open {dockerfile}: "
                "no such file or directory"
            )
            raise _PhaseFailed("COMMAND_EXECUTION_ERROR", failure, [line])
        instructions = _instructions(self.files[dockerfile].decode("utf-8", errors="replace"))
        if not instructions:
            raise _PhaseFailed(
                "COMMAND_EXECUTION_ERROR", failure, ["ERROR: failed to solve: file with no instructions"]
            )
        base = next((args for word, args in instructions if word == "FROM"), None)
        first = next((word for word, _ in instructions if word != "ARG"), "")
        if base is None or first != "FROM":
            raise _PhaseFailed(
                "COMMAND_EXECUTION_ERROR",
                failure,
                [f"ERROR: failed to solve: {dockerfile}: no build stage in current context"],
            )
        context_files = {
            name: data
            for name, data in sorted(self.files.items())
            if context == "." or name == context or name.startswith(context + "/")
        }
        self.image = _image(base, self.files[dockerfile], context_files)
        self._log(f"Sending build context to Docker daemon  {sum(len(d) for d in context_files.values())}B")
        for number, (word, args) in enumerate(instructions, start=1):
            self._log(f"Step {number}/{len(instructions)} : {word} {args}")
            self._log(f" ---> {_short(self.image['config_digest'], str(number))}")
        image_id = self.image["config_digest"].removeprefix("sha256:")[:12]
        self._log(f"Successfully built {image_id}")
        self._log(f"Successfully tagged {repo_uri}:{tag}")

    def _docker_push(self) -> None:
        from moto.ecr.exceptions import ImageAlreadyExistsException, RepositoryNotFoundException

        assert self.image is not None
        repo_uri, tag = self.variables["IMAGE_REPO_URI"], self.variables["IMAGE_TAG"]
        command = f"docker push {repo_uri}:{tag}"
        self._container(f"Running command {command}")
        failure = f"Error while executing command: {command}. Reason: exit status 1"
        match = re.fullmatch(r"(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/(.+)", repo_uri)
        if match is None:
            raise _PhaseFailed("COMMAND_EXECUTION_ERROR", failure, [f"invalid reference format: {repo_uri}"])
        registry, region, repository = match.groups()
        self._log(f"The push refers to repository [{repo_uri}]")
        if registry != self.account_id:
            line = f"denied: not authorized to push to {repo_uri} from account {self.account_id}"
            raise _PhaseFailed("COMMAND_EXECUTION_ERROR", failure, [line])
        ecr = _ecr(registry, region)
        for layer in self.image["layers"]:
            self._log(f"{layer['digest'].removeprefix('sha256:')[:12]}: Pushed")
        try:
            pushed = ecr.put_image(
                repository,
                self.image["manifest"],
                tag,
                MANIFEST_MEDIA_TYPE,
                self.image["digest"],
            )
        except ImageAlreadyExistsException as exc:
            line = (
                f"ImageTagAlreadyExistsException: tag invalid: The image tag '{tag}' already exists in the "
                f"'{repository}' repository and cannot be overwritten because the repository is immutable."
            )
            raise _PhaseFailed("COMMAND_EXECUTION_ERROR", failure, [line]) from exc
        except RepositoryNotFoundException as exc:
            line = (
                f"name unknown: The repository with name '{repository}' does not exist in the registry "
                f"with id '{registry}'"
            )
            raise _PhaseFailed("COMMAND_EXECUTION_ERROR", failure, [line]) from exc
        except Exception as exc:
            raise _PhaseFailed("COMMAND_EXECUTION_ERROR", failure, [f"{type(exc).__name__}: {exc}"]) from exc
        self._log(f"{tag}: digest: {pushed.get_image_digest()} size: {len(self.image['manifest'])}")

    # -- recording ---------------------------------------------------------------------------------

    def _pause(self, seconds: float, *, interruptible: bool = True) -> None:
        """Wait seconds*scale; raise _Ended when shut down, or (interruptible) stopped or timed out."""
        end = time.monotonic() + seconds * _state.time_scale
        deadline = self.deadline if interruptible else float("inf")
        while True:
            if self.generation != _state.generation:
                raise _Ended("SHUTDOWN")
            if interruptible and self.stop.is_set():
                raise _Ended("STOPPED")
            now = time.monotonic()
            if now >= deadline:
                raise _Ended("TIMED_OUT")
            if now >= end:
                return
            _state.interrupt.wait(min(end - now, deadline - now, 0.05))

    def _changed(self) -> None:
        _progress[0] += 1

    def _begin_phase(self, phase: str) -> None:
        with _LOCK:
            self.build["phases"].append({"phaseType": phase, "startTime": _now()})
            self.build["currentPhase"] = phase
            self._changed()
        self._container(f"Entering phase {phase}")

    def _end_phase(self, phase: str, status: str, contexts: list[dict[str, str]] | None = None) -> None:
        with _LOCK:
            current = self.build["phases"][-1]
            if current["phaseType"] != phase or "phaseStatus" in current:
                return
            current["phaseStatus"] = status
            current["endTime"] = _now()
            current["durationInSeconds"] = _seconds_between(current["startTime"], current["endTime"])
            if contexts is not None or phase not in ("SUBMITTED", "QUEUED"):
                current["contexts"] = contexts or [{"statusCode": "", "message": ""}]
            self._changed()
        if phase not in ("QUEUED", "SUBMITTED"):
            self._container(f"Phase complete: {phase} State: {status}")
            for context in contexts or []:
                self._container(
                    f"Phase context status code: {context['statusCode']} Message: {context['message']}"
                )

    def _end_current(self, status: str, contexts: list[dict[str, str]]) -> None:
        phase = self.build["phases"][-1]["phaseType"]
        self._end_phase(phase, status, contexts)

    def fail_current(self, status_code: str, message: str) -> None:
        if self.build["phases"][-1].get("phaseStatus") is not None:  # between two phases
            self._begin_phase("FINALIZING")
        self._end_current("FAILED", [{"statusCode": status_code, "message": message}])

    def finish(self, status: str, *, pause: bool = True) -> None:
        """FINALIZING and COMPLETED, the final status, the event."""
        with _LOCK:
            last = self.build["phases"][-1]
            already_finalizing = last["phaseType"] == "FINALIZING"
        if not already_finalizing:
            self._begin_phase("FINALIZING")
            try:
                self._pause(dict(PHASES)["FINALIZING"] if pause else 0.0, interruptible=False)
            except _Ended:
                return  # shut down (tests): moto is reset after
            self._end_phase("FINALIZING", "SUCCEEDED")
        elif "phaseStatus" not in last:
            self._end_phase("FINALIZING", "SUCCEEDED")
        now = _now()
        with _LOCK:
            self.build["phases"].append({"phaseType": "COMPLETED", "startTime": now})
            self.build["currentPhase"] = "COMPLETED"
            self.build["buildStatus"] = status
            self.build["buildComplete"] = True
            self.build["endTime"] = now
            self._changed()
        self.emit()

    def emit(self) -> None:
        with _LOCK:
            event = build_state_event(self.account_id, self.region_name, self.build)
        try:
            put_service_event(event)
        except Exception:
            LOG.exception("build state event of %s not delivered", self.build["id"])

    def _container(self, message: str) -> None:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y/%m/%d %H:%M:%S.%f")
        self._log(f"[Container] {stamp} {message}")

    def _log(self, message: str) -> None:
        logs = self.build.get("logs") or {}
        group, stream = logs.get("groupName"), logs.get("streamName")
        if not group or not stream:
            return
        backend = backends.logs(self.account_id, self.region_name)
        try:
            if not self.log_ready:
                if group not in backend.groups:  # CodeBuild creates the group when its role may
                    backend.create_log_group(group, {})
                if stream not in backend.groups[group].streams:
                    backend.create_log_stream(group, stream)
                self.log_ready = True
            event = {"timestamp": int(time.time() * 1000), "message": message}
            backend.put_log_events(group, stream, [event])
        except Exception:
            LOG.warning("build %s: log line not written to %s/%s", self.build["id"], group, stream)


# --------------------------------------------------------------------------------------------------
# Dockerfiles and images
# --------------------------------------------------------------------------------------------------


def _instructions(text: str) -> list[tuple[str, str]]:
    """A Dockerfile's instructions (word upper-cased, arguments), comments and continuations handled."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1].strip() + " "
            continue
        line = (pending + line).strip()
        pending = ""
        if not line or line.startswith("#"):
            continue
        word, _, args = line.partition(" ")
        instructions.append((word.upper(), args.strip()))
    if pending.strip():
        word, _, args = pending.strip().partition(" ")
        instructions.append((word.upper(), args.strip()))
    return instructions


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _short(digest: str, salt: str) -> str:
    return hashlib.sha256((digest + salt).encode()).hexdigest()[:12]


def _image(base: str, dockerfile: bytes, context_files: Mapping[str, bytes]) -> dict[str, Any]:
    """An image manifest (Docker v2 schema 2): a base layer named by FROM, one layer of the context's
    files (names and bytes), a config holding the Dockerfile; the digest is the manifest's sha256."""
    content = hashlib.sha256()
    for name, data in context_files.items():
        content.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    context_layer = {
        "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
        "size": sum(len(d) for d in context_files.values()) + 512 * len(context_files),
        "digest": "sha256:" + content.hexdigest(),
    }
    base_layer = {
        "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
        "size": 30 * 1024 * 1024,
        "digest": _sha256(f"base:{base}".encode()),
    }
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Labels": {"stackpilot.local.base": base}},
            "rootfs": {"type": "layers", "diff_ids": [base_layer["digest"], context_layer["digest"]]},
            "history": [{"created_by": dockerfile.decode("utf-8", errors="replace")}],
        },
        sort_keys=True,
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": MANIFEST_MEDIA_TYPE,
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": len(config),
                "digest": _sha256(config),
            },
            "layers": [base_layer, context_layer],
        },
        indent=3,
    )
    return {
        "manifest": manifest,
        "digest": _sha256(manifest.encode()),
        "config_digest": _sha256(config),
        "layers": [base_layer, context_layer],
    }


def _seconds_between(start: str, end: str) -> int:
    from moto.core.parse import default_timestamp_parser

    try:
        elapsed = default_timestamp_parser(end) - default_timestamp_parser(start)
        return max(0, round(elapsed.total_seconds()))
    except Exception:
        return 0
