"""In-memory adapter for the secrets DataKeys port (used by tests/unit/test_secrets_envelope.py).

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

from functions.secrets.exceptions import KeyServiceUnavailable, SecretUndecryptable

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
