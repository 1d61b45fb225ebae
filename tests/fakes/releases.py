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


@dataclass
class SignedStates:
    """Install states as the adapter makes them, minus the cryptography: a registry of issued ones
    (a state not in it is forged)."""

    issued: dict[str, Any] = field(default_factory=dict)

    def issue(self, intent: Any) -> str:
        state = f"state-{len(self.issued) + 1}"
        self.issued[state] = intent
        return state

    def read(self, state: str, now: datetime) -> Any:
        intent = self.issued.get(state)
        return intent if intent is not None and now < intent.expires_at else None


@dataclass
class GitHubUsers:
    """OAuth codes GitHub would accept, each the installations its user can access."""

    codes: dict[str, dict[int, str]] = field(default_factory=dict)

    def installations(self, code: str) -> dict[int, str]:
        from functions.releases.exceptions import InstallRefused

        if code not in self.codes:
            raise InstallRefused("GitHub refused the authorization code: start again")
        return self.codes.pop(code)  # a code is single-use on GitHub too


@dataclass
class InMemoryLinks:
    links: dict[int, tuple[InstallationLink, str]] = field(default_factory=dict)
    audited: list[Any] = field(default_factory=list)

    def link(self, link: InstallationLink, account_login: str, audit: Any) -> InstallationLink:
        from functions.releases.exceptions import InstallationTaken

        held = self.links.get(link.installation_id)
        if held is not None and held[0].org_id != link.org_id:
            raise InstallationTaken("the installation is linked to another org")
        self.links[link.installation_id] = (link, account_login)
        self.audited.append(audit)
        return link
