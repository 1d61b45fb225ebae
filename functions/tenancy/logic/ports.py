"""What the tenancy logic needs from the outside world."""

from __future__ import annotations

from typing import Any, Protocol


class KeyResolver(Protocol):
    def public_key(self, kid: str) -> Any:
        """The RSA public key the issuer publishes under ``kid``.

        Raises ``InvalidToken`` when no such key exists and ``KeySetUnavailable`` when the key set
        cannot be fetched or read.
        """
        ...
