"""Org-scoped secrets: what the API accepts, what it lists, and what gets stored.

A value only ever exists as a ``SecretStr`` (masked in repr, str and dumps) or sealed. Validation
errors of ``PutSecretRequest`` keep the input out of ``str(error)``; ``error.errors()`` still holds it,
so an API answers with ``errors(include_input=False)``.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    StringConstraints,
)
from pydantic_core import PydanticCustomError

MAX_VALUE_CHARS = 65_536
NONCE_BYTES = 12  # the 96-bit nonce AES-GCM is specified for
GCM_TAG_BYTES = 16
ALGORITHM: Literal["AES-256-GCM"] = "AES-256-GCM"

SecretName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"),
]
SecretVersion = Annotated[int, Field(ge=1)]
SecretDescription = Annotated[str, StringConstraints(max_length=256)]

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def value_problem(text: str) -> str | None:
    """Why ``text`` cannot be a secret value, or None. The reason never quotes the value."""
    if not 1 <= len(text) <= MAX_VALUE_CHARS:
        return f"a secret value has 1 to {MAX_VALUE_CHARS} characters"
    if _LONE_SURROGATE.search(text):
        # Not encodable as UTF-8: it could be stored but never read back as the same text.
        return "a secret value must be valid Unicode (no lone surrogates)"
    return None


def _valid_value(value: SecretStr) -> SecretStr:
    problem = value_problem(value.get_secret_value())
    if problem is not None:
        raise PydanticCustomError("secret_value", problem)
    return value


SecretValue = Annotated[SecretStr, AfterValidator(_valid_value)]


class PutSecretRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    value: SecretValue = Field(description="The secret; stored encrypted and never returned by a list")
    description: SecretDescription | None = None


class SecretMetadata(BaseModel):
    """One entry of ``GET /secrets``: everything about a secret except its value."""

    model_config = ConfigDict(frozen=True)

    name: SecretName
    version: SecretVersion
    description: SecretDescription | None = None
    created_at: AwareDatetime
    updated_at: AwareDatetime
    updated_by: str


class SecretList(BaseModel):
    items: list[SecretMetadata]


class SealedSecret(BaseModel):
    """One version of a secret as stored: an AES-GCM ciphertext and its KMS-encrypted data key.

    org_id, name and version are the encryption context; moving the blobs to another record fails.
    """

    model_config = ConfigDict(frozen=True, ser_json_bytes="base64", val_json_bytes="base64")

    org_id: Annotated[str, StringConstraints(min_length=1)]
    name: SecretName
    version: SecretVersion
    key_id: Annotated[str, StringConstraints(min_length=1)] = Field(
        description="The KMS key (ARN) the data key was generated under"
    )
    encrypted_data_key: Annotated[bytes, Field(min_length=1, repr=False)]
    nonce: Annotated[bytes, Field(min_length=NONCE_BYTES, max_length=NONCE_BYTES)]
    ciphertext: Annotated[bytes, Field(min_length=GCM_TAG_BYTES + 1, repr=False)]
    algorithm: Literal["AES-256-GCM"] = ALGORITHM
