"""KMS adapter for the DataKeys port: GenerateDataKey / Decrypt with an EncryptionContext.

Errors are classified by their AWS error code (or HTTP status), never by message text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotocoreConnectionError

from functions.secrets.exceptions import KeyServiceUnavailable, SecretUndecryptable

# The ciphertext, its context or its key do not match: the stored record is wrong, retrying won't help.
UNDECRYPTABLE = {"InvalidCiphertextException", "IncorrectKeyException"}
# KMS cannot serve us right now (or the key is disabled / not ours to use): a 503, retried by workflows.
UNAVAILABLE = {
    "ThrottlingException",
    "Throttling",
    "RequestLimitExceeded",
    "LimitExceededException",
    "TooManyRequestsException",
    "KMSInternalException",
    "InternalFailure",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "DependencyTimeoutException",
    "KeyUnavailableException",
    "DisabledException",
    "KMSInvalidStateException",
    "NotFoundException",
    "AccessDeniedException",
}


class KmsDataKeys:
    def __init__(self, client: Any, key_id: str) -> None:
        self._kms = client
        self._key_id = key_id

    def generate(self, context: Mapping[str, str]) -> tuple[bytes, bytes, str]:
        try:
            result = self._kms.generate_data_key(
                KeyId=self._key_id, KeySpec="AES_256", EncryptionContext=dict(context)
            )
        except (BotocoreConnectionError, HTTPClientError) as exc:
            raise KeyServiceUnavailable("GenerateDataKey", type(exc).__name__) from exc
        except ClientError as exc:
            classified = _classified("GenerateDataKey", exc)
            if classified is None:
                raise
            raise classified from exc
        return bytes(result["Plaintext"]), bytes(result["CiphertextBlob"]), str(result["KeyId"])

    def decrypt(self, encrypted_key: bytes, context: Mapping[str, str], key_id: str) -> bytes:
        try:
            # KeyId pins the wrapping key: a record pointing at another key fails (IncorrectKeyException).
            result = self._kms.decrypt(
                CiphertextBlob=encrypted_key, EncryptionContext=dict(context), KeyId=key_id
            )
        except (BotocoreConnectionError, HTTPClientError) as exc:
            raise KeyServiceUnavailable("Decrypt", type(exc).__name__) from exc
        except ClientError as exc:
            classified = _classified("Decrypt", exc)
            if classified is None:
                raise
            raise classified from exc
        return bytes(result["Plaintext"])


def _classified(operation: str, exc: ClientError) -> Exception | None:
    """The domain error for a KMS error; None for anything else (our bug, e.g. ValidationException: a 500)."""
    code = str(exc.response.get("Error", {}).get("Code", ""))
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    if code in UNDECRYPTABLE:
        return SecretUndecryptable(f"KMS refused the data key ({code}): its context or key does not match")
    if code in UNAVAILABLE or status >= 500:
        return KeyServiceUnavailable(operation, code or f"HTTP {status}")
    return None
