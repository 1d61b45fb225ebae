"""One build's thread: its phases, its log lines in CloudWatch Logs, its image in ECR, its events."""

from __future__ import annotations

import datetime as dt
import io
import logging
import posixpath
import re
import threading
import time
import zipfile
from typing import Any

from infra.local.patches import backends
from infra.local.patches._machinery import _state
from infra.local.patches.codebuild.images import _image, _instructions, _seconds_between, _short
from infra.local.patches.codebuild.state import (
    _LOCK,
    MANIFEST_MEDIA_TYPE,
    MAX_SOURCE_BYTES,
    PHASES,
    _Ended,
    _Fault,
    _faults,
    _now,
    _PhaseFailed,
    _progress,
    _stops,
    build_state_event,
)
from infra.local.patches.eventbridge import put_service_event

# --------------------------------------------------------------------------------------------------
# Running one build
# --------------------------------------------------------------------------------------------------

LOG = logging.getLogger(__name__)


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
