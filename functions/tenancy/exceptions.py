"""Tenancy's domain errors. Class names are the contract; messages are for the caller (no secrets).
The kind each derives from (``functions/shared/errors.py``) is its answer to an API caller."""

from __future__ import annotations

from functions.shared import errors


class TenancyError(errors.StackpilotError):
    """Base of every tenancy error."""


class InvalidToken(TenancyError):
    """The caller's credentials were refused (a 401, answered by the authorizer itself).

    ``reason`` names the check that failed, for logs; it never contains the token or its claims.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class AccessDenied(TenancyError):
    """Valid credentials, but the route's rule refuses this caller (a 403, by the authorizer)."""

    def __init__(self, reason: str, *, unrecorded: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.unrecorded = unrecorded  # why the denial's audit entry could not be written, if it was not


class KeySetUnavailable(TenancyError, errors.DependencyDown):
    """The issuer's JWKS (or the API-key pepper) could not be read: our fault, not the caller's."""


class NotFound(TenancyError, errors.NotFound):
    """No such object in the caller's org (another org's object looks exactly the same): a 404."""


class Conflict(TenancyError, errors.Conflict):
    """The change conflicts with the org's current state (a 409)."""


class KeyNameTaken(Conflict):
    """Another active key of the org has this name (names are compared ignoring case)."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"an active API key of this org is already named {name!r}; revoke it or pick another name"
        )
        self.name = name


class InvalidRequest(TenancyError, errors.InvalidField):
    """A query value refused by a rule beyond its schema (a 422 naming it)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(field, message, location="query")
