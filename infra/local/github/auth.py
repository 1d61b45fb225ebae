"""App JWTs verified as GitHub verifies them, and the opaque tokens it issues (``ghs_`` for an
installation, ``ghu_`` for a user). Only a token's sha256 is kept, so the state file holds none."""

from __future__ import annotations

import hashlib
import secrets
import string
from collections.abc import Mapping
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from infra.local.github.errors import GitHubError

# GitHub allows no skew of its own: an iat in its future, or an exp more than 10 minutes ahead of
# its clock, is a 401 (clients that sign exp = now + 600 fail whenever their clock runs ahead).
# The client leaves the margin: its docs set iat 60 s in the past and exp within 10 minutes.
JWT_MAX_LIFETIME_SECONDS = 600
CLOCK_SKEW_SECONDS = 60
INSTALLATION_TOKEN_SECONDS = 3600
USER_TOKEN_SECONDS = 8 * 3600
OAUTH_CODE_SECONDS = 600
ACCESS_LEVELS = {"read": 1, "write": 2, "admin": 3}
_ALPHABET = string.ascii_letters + string.digits


def new_private_key_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")


def public_key_pem(private_key_pem: str) -> str:
    key = serialization.load_pem_private_key(private_key_pem.encode("ascii"), password=None)
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )


def new_token(prefix: str) -> str:
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(76))


def token_key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def app_jwt(private_key_pem: str, issuer: str | int, now: float, *, lifetime: int = 540) -> str:
    """What a client sends (tests and the CLI use it): iat 60 s back, exp within 10 minutes."""
    issued = int(now) - CLOCK_SKEW_SECONDS
    claims = {"iat": issued, "exp": int(now) + lifetime, "iss": str(issuer)}
    return jwt.encode(claims, private_key_pem, algorithm="RS256")


def verify_app_jwt(token: str, *, public_pem: str, app_id: int, client_id: str, now: float) -> None:
    """RS256 under the App's public key, ``iss`` the client id or app id, iat not in the future,
    exp in the future and at most 10 minutes ahead."""
    try:
        claims: Mapping[str, Any] = jwt.decode(
            token,
            public_pem,
            algorithms=["RS256"],
            options={
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
                "require": ["iat", "exp", "iss"],
            },
        )
    except jwt.PyJWTError as error:
        raise GitHubError(401, "A JSON web token could not be decoded") from error
    iat, exp, iss = claims["iat"], claims["exp"], str(claims["iss"])
    if iss not in {str(app_id), client_id}:
        raise GitHubError(401, "'Issuer' claim ('iss') must be an Integer")
    if not isinstance(iat, int) or iat > now:
        raise GitHubError(
            401, "'Issued at' claim ('iat') must be an Integer representing a time in the past."
        )
    if not isinstance(exp, int) or exp <= now:
        raise GitHubError(
            401,
            "'Expiration time' claim ('exp') must be a numeric value representing the future time "
            "at which the assertion expires.",
        )
    if exp > now + JWT_MAX_LIFETIME_SECONDS:
        raise GitHubError(401, "'Expiration time' claim ('exp') is too far in the future")


def covers(granted: Mapping[str, str], permission: str, level: str) -> bool:
    return ACCESS_LEVELS.get(granted.get(permission, ""), 0) >= ACCESS_LEVELS[level]
