"""Domain errors. Class names are the contract with the ASL's Retry/Catch and the API's status codes."""

from __future__ import annotations


class AccountsError(Exception):
    """Base class; ``str(e)`` is a reason a user can act on."""


class ConnectionNotFound(AccountsError):
    pass


class ConnectionConflict(AccountsError):
    pass


class InvalidRequest(AccountsError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class ServiceUnavailable(AccountsError):
    """A dependency failed; nothing was left half-written."""


class AwsUnavailable(AccountsError):
    """A transient AWS failure (throttling, 5xx); workflows retry it."""


# --- verification outcomes: anything a ConnectionRejected says goes to the user as the reason.
class ConnectionRejected(AccountsError):
    pass


class RoleNotAssumableYet(ConnectionRejected):
    """AssumeRole was refused; IAM may still be propagating (the workflow retries with backoff)."""


class RoleTrustTooBroad(ConnectionRejected):
    pass


class RoleAccountMismatch(ConnectionRejected):
    pass


class ConnectionClosed(ConnectionRejected):
    """The connection was disconnected while the workflow ran."""


# --- callbacks
class CallbackRejected(AccountsError):
    """A custom-resource request that must be answered FAILED; the connection is untouched."""


class WaiterNotReady(AccountsError):
    """The workflow has not registered its task token yet: the delivery is retried."""


class ResponseDeliveryFailed(AccountsError):
    """The answer to CloudFormation could not be delivered (transient; retried)."""
