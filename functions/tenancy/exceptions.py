"""Tenancy's domain errors. Class names are the contract; messages are for the caller (no secrets)."""

from __future__ import annotations


class TenancyError(Exception):
    """Base of every tenancy error."""


class InvalidToken(TenancyError):
    """The caller's credentials were refused (a 401).

    ``reason`` names the check that failed, for logs; it never contains the token or its claims.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class AccessDenied(TenancyError):
    """Valid credentials, but the route's rule refuses this caller (a 403)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class KeySetUnavailable(TenancyError):
    """The issuer's JWKS could not be fetched or read: our fault, not the caller's (a 5xx)."""


class NotFound(TenancyError):
    """No such object in the caller's org (another org's object looks exactly the same): a 404."""


class Conflict(TenancyError):
    """The change conflicts with the org's current state (a 409)."""


class InvalidRequest(TenancyError):
    """A field's value is refused by a rule beyond its schema (a 422 naming it)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
