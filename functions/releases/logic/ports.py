"""What the releases use cases need from the outside world. One adapter each, in dal/ or integrations/."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from functions.releases.models.linking import InstallIntent
from functions.releases.models.routing import InstallationLink, Route
from functions.shared.models.audit import AuditDraft


class AppSecret(Protocol):
    def value(self) -> bytes:
        """The secret's bytes; empty when none is configured (nothing can then be verified)."""
        ...


class RouteDirectory(Protocol):
    def route(self, installation_id: int, repository_id: int, branch: str) -> Route:
        """The installation's link and the stacks tracking ``repository_id``'s ``branch``, in one read."""
        ...


class DeliveryLog(Protocol):
    """Deliveries received, by GitHub's delivery id (a redelivery keeps it), kept past GitHub's 3-day
    redelivery window; and the install states redeemed, by nonce (each once)."""

    def claim(self, delivery_id: str, event: str, received_at: datetime) -> bool:
        """Records the delivery unless it was recorded before (a conditional write); False if it was."""
        ...


class ReleaseWorkflow(Protocol):
    def start(self, name: str, payload: dict[str, Any]) -> str:
        """Starts the execution ``name`` (the delivery id); returns its ARN. Starting a name again
        starts nothing and returns the first one's ARN. Raises the domain's ``DependencyDown`` kind if
        Step Functions could not start it."""
        ...


class InstallStates(Protocol):
    """The signed ``state`` of the install flow (bound to an org and a user, expiring)."""

    def issue(self, intent: InstallIntent) -> str: ...

    def read(self, state: str, now: datetime) -> InstallIntent | None:
        """The intent a state binds; None if it is forged, malformed or expired."""
        ...


class GitHubUser(Protocol):
    def installations(self, code: str) -> dict[int, str]:
        """Exchanges the OAuth ``code`` for the user's token and answers the installations of the App
        that user can access (id -> account login). Raises ``InstallRefused`` if GitHub refuses the
        code, the domain's ``DependencyDown`` kind if GitHub cannot be reached. The token is used for
        this one call and never kept."""
        ...


class LinkStore(Protocol):
    def link(self, link: InstallationLink, account_login: str, audit: AuditDraft) -> InstallationLink:
        """Links the installation to ``link.org_id`` (again, if it was before), with its audit entry
        in the same write. Raises ``InstallationTaken`` if another org holds it."""
        ...
