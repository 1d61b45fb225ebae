"""What can go wrong in the stacks domain. Class names are the contract with the state machines'
Retry/Catch; the kind each derives from (``functions/shared/errors.py``) is its answer to an API
caller."""

from __future__ import annotations

from functions.shared.errors import (
    Conflict,
    CustomerRefused,
    DependencyDown,
    InvalidField,
    NotFound,
    StackpilotError,
)


class StacksError(StackpilotError):
    """Base of every stacks error; ``str(e)`` is a reason the user can act on."""


class StackNotFound(StacksError, NotFound):
    """No such stack in the caller's org (another org's stack reads the same)."""


class StackConflict(StacksError, Conflict):
    """The stack exists already, or is busy with another operation."""


class InvalidStackRequest(StacksError, InvalidField):
    """A field of the spec refused by a rule beyond its schema (``field`` dotted: ``network.vpc_id``)."""


class ConnectionUnusable(InvalidStackRequest):
    """The named connection is not this org's, or not CONNECTED."""


class CustomerAccessDenied(StacksError, CustomerRefused):
    """The customer's role refused us (revoked, or its trust changed): the user must reconnect."""


class CustomerAwsFailure(StacksError, DependencyDown):
    """A call into the customer's account failed (throttled, unavailable): retried, then reported."""


class ServiceUnavailable(StacksError, DependencyDown):
    """One of our own dependencies failed; nothing was changed."""


class StepOutdated(StacksError):
    """The stack moved on to another operation: this execution's step has nothing to do."""


class ChangeSetFailed(StacksError):
    """CloudFormation refused the change set (a template CloudFormation cannot apply, a quota...)."""
