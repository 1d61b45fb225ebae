"""What can go wrong in the stacks domain, in words the API and the workflow map to answers."""

from __future__ import annotations


class StackNotFound(Exception):
    """No such stack in the caller's org (another org's stack reads the same)."""


class StackConflict(Exception):
    """The stack exists already, or is busy with another operation."""


class InvalidStackRequest(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class ConnectionUnusable(InvalidStackRequest):
    """The named connection is not this org's, or not CONNECTED."""


class CustomerAccessDenied(Exception):
    """The customer's role refused us (revoked, or its trust changed): the user must reconnect."""


class CustomerAwsFailure(Exception):
    """A call into the customer's account failed (throttled, unavailable): retried, then reported."""


class ServiceUnavailable(Exception):
    """One of our own dependencies failed; nothing was changed."""
