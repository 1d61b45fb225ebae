"""The local CodeBuild's constants, module state (never pickled: builds live in moto's own
history as plain dicts), its exceptions, and the shape of the build state change event."""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

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


def _now() -> str:
    from moto.core.utils import iso_8601_datetime_with_milliseconds

    return str(iso_8601_datetime_with_milliseconds())


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
