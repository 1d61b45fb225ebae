"""Domain errors. Class names are the contract with the ASL's Retry/Catch and the API's status codes.

No message ever carries a secret value, a data key or a ciphertext.
"""

from __future__ import annotations


class SecretsError(Exception):
    """Base class of every secrets error."""


class SecretNotFound(SecretsError):
    """No such secret (or version) in the caller's org; another org's secret answers the same (404)."""


class SecretUndecryptable(SecretsError):
    """A stored secret does not open under its own org, name and version: it was moved, altered, or
    sealed under another key. Never retried: the record itself is wrong."""


class KeyServiceUnavailable(SecretsError):
    """KMS could not serve the request (throttled, 5xx, unreachable, or the key is disabled or not
    usable by us): a 503, and workflows retry. ``code`` is the AWS error code, for operators."""

    def __init__(self, operation: str, code: str) -> None:
        super().__init__(f"KMS {operation} failed: {code}")
        self.operation = operation
        self.code = code


class SecretConflict(SecretsError):
    """Another write of the same secret won the race (a 409)."""
