"""In-memory fakes of the releases domain's ports, shared by its unit tests."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from functions.releases.exceptions import ServiceUnavailable
from functions.releases.models.routing import InstallationLink, Route


@dataclass(frozen=True)
class FixedSecret:
    secret: bytes

    def value(self) -> bytes:
        return self.secret


@dataclass
class InMemoryRoutes:
    """Links by installation id, and the stacks tracking (repository id, branch)."""

    links: dict[int, InstallationLink] = field(default_factory=dict)
    tracking: dict[tuple[int, str], tuple[str, ...]] = field(default_factory=dict)
    calls: Counter[str] = field(default_factory=Counter)

    def route(self, installation_id: int, repository_id: int, branch: str) -> Route:
        self.calls["route"] += 1
        link = self.links.get(installation_id)
        stacks = self.tracking.get((repository_id, branch), ()) if link else ()
        return Route(link=link, stack_ids=stacks)


@dataclass
class InMemoryDeliveries:
    received: dict[str, tuple[str, datetime]] = field(default_factory=dict)
    calls: Counter[str] = field(default_factory=Counter)

    def claim(self, delivery_id: str, event: str, received_at: datetime) -> bool:
        self.calls["claim"] += 1
        if delivery_id in self.received:
            return False
        self.received[delivery_id] = (event, received_at)
        return True


@dataclass
class RecordingWorkflow:
    """Step Functions as far as starting goes: names are unique; ``fail`` makes the next start fail."""

    started: dict[str, dict[str, Any]] = field(default_factory=dict)
    starts: int = 0
    fail: bool = False

    def start(self, name: str, payload: dict[str, Any]) -> str:
        self.starts += 1
        if self.fail:
            self.fail = False
            raise ServiceUnavailable("could not start the workflow: ThrottlingException")
        self.started.setdefault(name, payload)
        return f"arn:aws:states:us-east-1:123456789012:execution:release:{name}"
