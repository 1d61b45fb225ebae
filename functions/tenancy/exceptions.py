"""Tenancy's domain errors. Class names are the contract; messages are for operators only."""

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


class KeySetUnavailable(TenancyError):
    """The issuer's JWKS could not be fetched or read: our fault, not the caller's (a 5xx)."""
