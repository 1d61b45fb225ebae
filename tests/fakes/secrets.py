"""In-memory adapters for the secrets ports: DataKeys and SecretStore.

It behaves like KMS where it matters: data keys are wrapped with AES-GCM under a master key with the
encryption context as associated data, so a key only unwraps under the exact same context and key id.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from functions.secrets.exceptions import (
    KeyServiceUnavailable,
    SecretConflict,
    SecretNotFound,
    SecretUndecryptable,
)
from functions.secrets.models.secret import SealedSecret, SecretMetadata
from functions.shared.models.audit import AuditDraft

FAKE_KEY_ID = "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-4000-8000-000000000001"


@dataclass
class FakeDataKeys:
    key_id: str = FAKE_KEY_ID
    # False: wraps data keys without the context, as if KMS ignored it (proves the AES-GCM AAD binds alone).
    enforce_context: bool = True
    unavailable: bool = False  # True: every call fails as a throttled KMS would
    generated: int = 0
    decrypted: int = 0
    issued_keys: list[bytes] = field(default_factory=list)
    _master: AESGCM = field(default_factory=lambda: AESGCM(AESGCM.generate_key(bit_length=256)), repr=False)

    def generate(self, context: Mapping[str, str]) -> tuple[bytes, bytes, str]:
        if self.unavailable:
            raise KeyServiceUnavailable("GenerateDataKey", "ThrottlingException")
        self.generated += 1
        plaintext = os.urandom(32)
        self.issued_keys.append(plaintext)
        nonce = os.urandom(12)
        return plaintext, nonce + self._master.encrypt(nonce, plaintext, self._aad(context)), self.key_id

    def decrypt(self, encrypted_key: bytes, context: Mapping[str, str], key_id: str) -> bytes:
        if self.unavailable:
            raise KeyServiceUnavailable("Decrypt", "ThrottlingException")
        self.decrypted += 1
        if key_id != self.key_id:
            raise SecretUndecryptable("fake KMS: IncorrectKeyException")
        try:
            return self._master.decrypt(encrypted_key[:12], encrypted_key[12:], self._aad(context))
        except (InvalidTag, ValueError):
            raise SecretUndecryptable("fake KMS: InvalidCiphertextException") from None

    def _aad(self, context: Mapping[str, str]) -> bytes:
        # KMS compares contexts as maps; sorted JSON is an exact, order-free stand-in.
        return json.dumps(dict(context), sort_keys=True).encode() if self.enforce_context else b""


@dataclass
class InMemorySecretStore:
    """``SecretStore``: the same conditional writes as DynamoDB, one audit entry per change."""

    items: dict[tuple[str, str], tuple[SecretMetadata, SealedSecret]] = field(default_factory=dict)
    audited: list[AuditDraft] = field(default_factory=list)

    def get(self, org_id: str, name: str) -> tuple[SecretMetadata, SealedSecret] | None:
        return self.items.get((org_id, name))

    def list(self, org_id: str) -> list[SecretMetadata]:
        return [meta for (org, _), (meta, _) in self.items.items() if org == org_id]

    def put(
        self, metadata: SecretMetadata, sealed: SealedSecret, previous: int | None, audit: AuditDraft
    ) -> None:
        current = self.items.get((sealed.org_id, sealed.name))
        if (current[0].version if current else None) != previous:
            raise SecretConflict(f"secret {sealed.name} changed meanwhile; try again")
        self.audited.append(audit)
        self.items[(sealed.org_id, sealed.name)] = (metadata, sealed)

    def delete(self, org_id: str, name: str, version: int, audit: AuditDraft) -> None:
        current = self.items.get((org_id, name))
        if current is None or current[0].version != version:
            raise SecretNotFound(f"secret {name} not found")
        self.audited.append(audit)
        del self.items[(org_id, name)]
