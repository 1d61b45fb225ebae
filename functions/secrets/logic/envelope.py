"""Envelope encryption of one secret version: a fresh KMS data key per write, AES-256-GCM.

The encryption context (org id, secret name, version) binds twice: KMS only unwraps the data key
under the same context, and the same context, canonically encoded, is the AES-GCM associated data.
Either check alone makes a ciphertext moved to another org, name or version undecryptable.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import TypeAdapter

from functions.secrets.exceptions import SecretUndecryptable
from functions.secrets.logic.ports import DataKeys
from functions.secrets.models.secret import NONCE_BYTES, SealedSecret, SecretName, value_problem

DATA_KEY_BYTES = 32  # AES-256
ORG_KEY = "stackpilot:org_id"
NAME_KEY = "stackpilot:secret_name"
VERSION_KEY = "stackpilot:version"

_NAME: TypeAdapter[str] = TypeAdapter(SecretName)


def encryption_context(org_id: str, name: str, version: int) -> dict[str, str]:
    """The KMS EncryptionContext of a secret version; raises ValueError on an invalid coordinate."""
    if not org_id:
        raise ValueError("org_id must not be empty")
    if isinstance(version, bool) or version < 1:
        raise ValueError("version must be an integer >= 1")
    return {ORG_KEY: org_id, NAME_KEY: _NAME.validate_python(name), VERSION_KEY: str(version)}


def associated_data(context: Mapping[str, str]) -> bytes:
    """The context as AES-GCM associated data: JSON, keys sorted, no whitespace, ASCII-escaped.

    JSON quoting keeps it unambiguous (no two contexts encode alike, unlike plain concatenation).
    """
    return json.dumps(dict(context), sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def seal(keys: DataKeys, org_id: str, name: str, version: int, plaintext: str) -> SealedSecret:
    """Encrypts ``plaintext`` under a new data key; raises ValueError (never quoting it) if invalid."""
    problem = value_problem(plaintext)
    if problem is not None:
        raise ValueError(problem)
    context = encryption_context(org_id, name, version)
    data_key, encrypted_key, key_id = keys.generate(context)
    try:
        if len(data_key) != DATA_KEY_BYTES:
            raise ValueError("the key service returned a data key of the wrong size")
        nonce = os.urandom(NONCE_BYTES)
        ciphertext = AESGCM(data_key).encrypt(nonce, plaintext.encode("utf-8"), associated_data(context))
    finally:
        # Python cannot wipe immutable bytes; dropping the references is the most it allows.
        del data_key
    return SealedSecret(
        org_id=org_id,
        name=name,
        version=version,
        key_id=key_id,
        encrypted_data_key=encrypted_key,
        nonce=nonce,
        ciphertext=ciphertext,
    )


def open_sealed(keys: DataKeys, sealed: SealedSecret) -> str:
    """The plaintext of ``sealed``, under the context recomputed from its own org, name and version.

    Raises ``SecretUndecryptable`` if anything was moved or altered, ``KeyServiceUnavailable`` from KMS.
    """
    context = encryption_context(sealed.org_id, sealed.name, sealed.version)
    data_key = keys.decrypt(sealed.encrypted_data_key, context, sealed.key_id)
    try:
        if len(data_key) != DATA_KEY_BYTES:
            raise SecretUndecryptable("the data key of the stored secret has the wrong size")
        plaintext = AESGCM(data_key).decrypt(sealed.nonce, sealed.ciphertext, associated_data(context))
        return plaintext.decode("utf-8")
    except InvalidTag:
        raise SecretUndecryptable(
            "the stored secret does not authenticate under its org, name and version"
        ) from None
    except UnicodeDecodeError:
        # ``from None``: the UnicodeDecodeError holds the decrypted bytes.
        raise SecretUndecryptable("the stored secret is not UTF-8 text") from None
    finally:
        del data_key
