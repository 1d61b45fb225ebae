"""The GitHub App's secrets in Secrets Manager (created empty by the CDK app; the operator fills them).

Read on first use and kept for ``max_age`` seconds, so a rotated secret is picked up without a deploy.
A secret with no value yet reads as empty, and is read again on the next request: once the operator
fills it, deliveries are accepted without a restart.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from functions.releases.exceptions import ServiceUnavailable

# What Secrets Manager answers for a secret created without a value (no AWSCURRENT version yet).
_NOT_SET = frozenset({"ResourceNotFoundException"})


class SecretsManagerValue:
    def __init__(
        self,
        client: Any,
        secret_id: str,
        max_age: float = 300.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client, self._secret_id, self._max_age, self._monotonic = client, secret_id, max_age, monotonic
        self._value = b""
        self._read_at: float | None = None

    def value(self) -> bytes:
        """The secret's bytes; empty when it has no value (or no secret is configured at all)."""
        if not self._secret_id:
            return b""
        now = self._monotonic()
        if self._value and self._read_at is not None and now - self._read_at < self._max_age:
            return self._value
        try:
            found = self._client.get_secret_value(SecretId=self._secret_id)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _NOT_SET:
                return b""
            raise ServiceUnavailable("the GitHub App's secret could not be read", detail=str(exc)) from exc
        except BotoCoreError as exc:
            raise ServiceUnavailable("the GitHub App's secret could not be read", detail=str(exc)) from exc
        secret = found.get("SecretString")
        self._value = secret.encode() if isinstance(secret, str) else bytes(found.get("SecretBinary") or b"")
        self._read_at = now
        return self._value
