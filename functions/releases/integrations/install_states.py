"""The install flow's ``state``: a JWT (HS256, PyJWT) under a key of ours in Secrets Manager, binding
the org, the user and a nonce, for 10 minutes. Its single use is the nonce's claim (logic)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

import jwt
from pydantic import ValidationError

from functions.releases.exceptions import ServiceUnavailable
from functions.releases.logic.ports import AppSecret
from functions.releases.models.linking import InstallIntent

AUDIENCE: Final = "stackpilot:github-install"
_ALGORITHM: Final = "HS256"
_MIN_KEY_BYTES: Final = 32


class JwtInstallStates:
    def __init__(self, key: AppSecret) -> None:
        self._key = key

    def issue(self, intent: InstallIntent) -> str:
        claims = {
            "aud": AUDIENCE,
            "org": intent.org_id,
            "sub": intent.user_id,
            "nonce": intent.nonce,
            "exp": int(intent.expires_at.timestamp()),
        }
        return jwt.encode(claims, self._signing_key(), algorithm=_ALGORITHM)

    def read(self, state: str, now: datetime) -> InstallIntent | None:
        try:
            claims = jwt.decode(
                state,
                self._signing_key(),
                algorithms=[_ALGORITHM],
                audience=AUDIENCE,
                options={"require": ["exp", "aud", "org", "sub", "nonce"], "verify_exp": False},
            )
            intent = InstallIntent(
                org_id=claims["org"],
                user_id=claims["sub"],
                nonce=claims["nonce"],
                expires_at=datetime.fromtimestamp(int(claims["exp"]), UTC),
            )
        except (jwt.InvalidTokenError, ValidationError, TypeError, ValueError):
            return None
        return intent if now < intent.expires_at else None  # expiry against the caller's clock

    def _signing_key(self) -> bytes:
        key = self._key.value()
        if len(key) < _MIN_KEY_BYTES:
            raise ServiceUnavailable("linking GitHub is not configured yet (no state signing key)")
        return key
