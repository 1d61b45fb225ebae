"""What the releases use cases need from the outside world. One adapter each, in dal/ or integrations/."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from functions.releases.models.routing import Route


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
    redelivery window."""

    def claim(self, delivery_id: str, event: str, received_at: datetime) -> bool:
        """Records the delivery unless it was recorded before (a conditional write); False if it was."""
        ...


class ReleaseWorkflow(Protocol):
    def start(self, name: str, payload: dict[str, Any]) -> str:
        """Starts the execution ``name`` (the delivery id); returns its ARN. Starting a name again
        starts nothing and returns the first one's ARN. Raises the domain's ``DependencyDown`` kind if
        Step Functions could not start it."""
        ...
