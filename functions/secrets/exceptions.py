"""Domain errors. Class names are the contract with the ASL's Retry/Catch; the kind each derives
from (``functions/shared/errors.py``) is its answer to an API caller.

No message ever carries a secret value, a data key or a ciphertext.
"""

from __future__ import annotations

from functions.shared.errors import Conflict, DependencyDown, NotFound, StackpilotError


class SecretsError(StackpilotError):
    """Base class of every secrets error."""


class SecretNotFound(SecretsError, NotFound):
    """No such secret (or version) in the caller's org; another org's secret answers the same (404)."""


class SecretUndecryptable(SecretsError):
    """A stored secret does not open under its own org, name and version: it was moved, altered, or
    sealed under another key. Never retried: the record itself is wrong."""


class KeyServiceUnavailable(SecretsError, DependencyDown):
    """KMS could not serve the request (throttled, 5xx, unreachable, or the key is disabled or not
    usable by us): a 503, and workflows retry. ``code`` is the AWS error code, for operators."""

    def __init__(self, operation: str, code: str) -> None:
        super().__init__(
            "the key service is unavailable; nothing was changed", detail=f"KMS {operation} failed: {code}"
        )
        self.operation = operation
        self.code = code


class SecretConflict(SecretsError, Conflict):
    """Another write of the same secret won the race (a 409)."""
