"""The API-key pepper, read from Secrets Manager once per process, on first use.

Only requests carrying an API key need it: a token-only caller never pays for the call.
"""

from __future__ import annotations

import base64
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from functions.tenancy.exceptions import KeySetUnavailable

MIN_PEPPER_BYTES = 32


class SecretsManagerPepper:
    def __init__(self, client: Any, secret_id: str) -> None:
        self._client = client
        self._secret_id = secret_id
        self._value: bytes | None = None

    def value(self) -> bytes:
        if self._value is None:
            try:
                secret = self._client.get_secret_value(SecretId=self._secret_id)["SecretString"]
            except (ClientError, BotoCoreError) as exc:
                raise KeySetUnavailable("the API-key pepper could not be read") from exc
            pepper = base64.b64decode(secret) if _is_b64(secret) else secret.encode()
            if len(pepper) < MIN_PEPPER_BYTES:
                raise KeySetUnavailable("the API-key pepper is too short")
            self._value = pepper
        return self._value


def _is_b64(value: str) -> bool:
    try:
        return len(base64.b64decode(value, validate=True)) >= MIN_PEPPER_BYTES
    except ValueError:
        return False
