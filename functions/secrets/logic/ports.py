"""What the secrets use cases need from the outside world. One adapter each, in dal/ or integrations/."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Protocol

from functions.secrets.models.secret import SealedSecret, SecretMetadata
from functions.shared.models.audit import AuditDraft


class DataKeys(Protocol):
    """Data keys wrapped by a key service (KMS), each bound to an encryption context."""

    def generate(self, context: Mapping[str, str]) -> tuple[bytes, bytes, str]:
        """A fresh 256-bit data key: (plaintext key, encrypted key, id of the wrapping key).

        Raises ``KeyServiceUnavailable``.
        """
        ...

    def decrypt(self, encrypted_key: bytes, context: Mapping[str, str], key_id: str) -> bytes:
        """The plaintext of a key from ``generate``, only under the same context and wrapping key.

        Raises ``SecretUndecryptable`` (context or key mismatch, tampered key) or ``KeyServiceUnavailable``.
        """
        ...


class SecretStore(Protocol):
    def get(self, org_id: str, name: str) -> tuple[SecretMetadata, SealedSecret] | None: ...
    def list(self, org_id: str) -> list[SecretMetadata]: ...
    def put(
        self, metadata: SecretMetadata, sealed: SealedSecret, previous: int | None, audit: AuditDraft
    ) -> None:
        """Raises SecretConflict if the stored version is no longer ``previous``."""
        ...

    def delete(self, org_id: str, name: str, version: int, audit: AuditDraft) -> None: ...


class Clock(Protocol):
    def __call__(self) -> datetime: ...
