"""The single-use nonce that proves a callback comes from the template we rendered."""

from __future__ import annotations

import hashlib
import hmac
import secrets


def new_nonce() -> str:
    return secrets.token_urlsafe(24)


def hash_nonce(nonce: str) -> str:
    """Only the hash is stored: a leaked table row cannot forge a callback."""
    return hashlib.sha256(nonce.encode()).hexdigest()


def nonce_matches(stored_hash: str, presented: str) -> bool:
    return hmac.compare_digest(stored_hash, hash_nonce(presented))
