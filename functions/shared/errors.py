"""The one error hierarchy: what went wrong, in kinds every domain shares.

A domain declares its own exceptions in ``functions/<domain>/exceptions.py`` under its own base
class and one of these kinds, e.g. ``class StackNotFound(StacksError, NotFound)``. The class name is
the contract with the state machines' Retry/Catch; the kind decides the HTTP answer, mapped once in
``functions/shared/rest/resolver.py``. ``str(error)`` is a reason the caller can act on: it never
carries a secret, a token or an internal detail (``detail`` is for operators' logs only).
"""

from __future__ import annotations


class StackpilotError(Exception):
    """Base of every error raised on purpose."""


class InvalidField(StackpilotError):
    """A value refused by a rule beyond its schema: a 422 naming the field (dotted for a nested one)."""

    def __init__(self, field: str, message: str, *, location: str = "body") -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.location = location  # body, path or query


class Unauthenticated(StackpilotError):
    """The request carries no verified principal (a misconfigured route, never a client error): 401."""


class Forbidden(StackpilotError):
    """The principal's role does not allow the action: 403."""


class NotFound(StackpilotError):
    """No such object in the caller's org (another org's object reads the same): 404."""


class Conflict(StackpilotError):
    """The change conflicts with the object's current state (exists already, busy, changed meanwhile): 409."""


class CustomerRefused(StackpilotError):
    """The customer's AWS account refused us (its role removed or changed): 424, reconnect the account."""


class DependencyDown(StackpilotError):
    """A dependency failed (ours or the customer's AWS, throttled or unavailable); nothing was left
    half-written: 503, and workflows retry. ``detail`` names what failed, for operators' logs only.
    ``audited``: the request's audit entry is written already (with the change it then undid), so
    answering it records no second one."""

    def __init__(self, message: str, *, detail: str | None = None, audited: bool = False) -> None:
        super().__init__(message)
        self.detail = detail
        self.audited = audited
