"""Domain errors. Class names are the contract with the ASL's Retry/Catch; the kind each derives
from (``functions/shared/errors.py``) is its answer to an API caller."""

from __future__ import annotations

from functions.shared.errors import Conflict, DependencyDown, InvalidField, NotFound, StackpilotError


class AccountsError(StackpilotError):
    """Base class; ``str(e)`` is a reason a user can act on."""


class ConnectionNotFound(AccountsError, NotFound):
    pass


class ConnectionConflict(AccountsError, Conflict):
    pass


class AccountClaimed(ConnectionConflict):
    """Another live connection of the org holds this account and region (``holder``: its id, None
    if it let go since)."""

    def __init__(self, holder: str | None) -> None:
        super().__init__(f"the account and region are held by {holder or 'another connection'}")
        self.holder = holder


class InvalidRequest(AccountsError, InvalidField):
    pass


class ServiceUnavailable(AccountsError, DependencyDown):
    """A dependency failed; nothing was left half-written."""


class AwsUnavailable(AccountsError, DependencyDown):
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


class ResponseUrlRejected(AccountsError):
    """The ResponseURL is not one stackpilot may PUT to. The message says why and never contains
    the URL's query (it holds a signature)."""


class ResponseDeliveryFailed(AccountsError):
    """The answer to CloudFormation could not be delivered (transient; retried)."""
