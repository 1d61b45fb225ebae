"""GitHub's webhook signature: ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>``
under the App's webhook secret. Checked over the bytes as received, before anything parses them, in
constant time. The legacy ``X-Hub-Signature`` (SHA-1) is never enough on its own.

It carries no timestamp: replay protection is the delivery id's dedupe, not this check.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Final

from functions.releases.exceptions import SignatureRefused, WebhookSecretMissing

HEADER: Final = "X-Hub-Signature-256"
_SIGNATURE: Final = re.compile(r"sha256=([0-9a-f]{64})")


def sign(secret: bytes, body: bytes) -> str:
    """The header value GitHub sends for ``body`` (what the local GitHub and the tests send too)."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify(secret: bytes, body: bytes, signature: str | None) -> None:
    """Returns if ``signature`` is ``body``'s under ``secret``; raises otherwise. The answer says which
    rule failed (missing, malformed, wrong), never what was expected."""
    if not secret:
        raise WebhookSecretMissing("webhook deliveries cannot be verified right now")
    if signature is None or not signature.strip():
        raise SignatureRefused(f"the {HEADER} header is missing (a SHA-1 signature alone is not accepted)")
    found = _SIGNATURE.fullmatch(signature.strip())
    if found is None:
        raise SignatureRefused(f"the {HEADER} header is not sha256= followed by 64 hex digits")
    expected = hmac.new(secret, body, hashlib.sha256).hexdigest().encode("ascii")
    if not hmac.compare_digest(expected, found.group(1).encode("ascii")):
        raise SignatureRefused(f"the {HEADER} signature does not match the body")
