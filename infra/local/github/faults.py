"""Faults a test (or the control API) arms: the next N calls matching a method and a path pattern
answer 5xx or GitHub's rate-limit answers, and the next N webhook deliveries find the target down."""

from __future__ import annotations

import fnmatch
import threading
from dataclasses import dataclass
from typing import Literal

from infra.local.github.errors import GitHubError

FaultKind = Literal["server_error", "rate_limit", "secondary_rate_limit"]
KINDS: tuple[str, ...] = ("server_error", "rate_limit", "secondary_rate_limit")
RATE_LIMIT = 5000


@dataclass
class Fault:
    method: str  # "*" matches any
    path: str  # an fnmatch pattern on the path, e.g. "/repos/*/statuses/*"
    kind: FaultKind
    remaining: int
    status: int = 502
    retry_after: int = 60


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._target_down = 0

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def target_down(self, count: int) -> None:
        with self._lock:
            self._target_down += count

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
            self._target_down = 0

    def take_target_down(self) -> bool:
        with self._lock:
            if self._target_down > 0:
                self._target_down -= 1
                return True
            return False

    def check(self, method: str, path: str, now: float) -> None:
        """Raise the armed answer for this call, if any (each fault fires ``remaining`` times)."""
        with self._lock:
            for fault in self._faults:
                if fault.method in {"*", method.upper()} and fnmatch.fnmatchcase(path, fault.path):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    raise _answer(fault, now)

    def pending(self) -> list[dict[str, object]]:
        with self._lock:
            return [vars(fault).copy() for fault in self._faults] + [{"target_down": self._target_down}]


def _answer(fault: Fault, now: float) -> GitHubError:
    if fault.kind == "server_error":
        return GitHubError(fault.status, "Server Error")
    reset = int(now) + fault.retry_after
    headers = {
        "x-ratelimit-limit": str(RATE_LIMIT),
        "x-ratelimit-remaining": "0",
        "x-ratelimit-used": str(RATE_LIMIT),
        "x-ratelimit-reset": str(reset),
        "x-ratelimit-resource": "core",
    }
    if fault.kind == "secondary_rate_limit":
        headers["retry-after"] = str(fault.retry_after)
        message = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
        return GitHubError(403, message, headers=headers)
    return GitHubError(403, "API rate limit exceeded for installation.", headers=headers)
