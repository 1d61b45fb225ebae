"""Who is calling: verify the bearer token, then allow the caller into the API.

Everything here is refusal by default: a token is trusted only when its shape, header, signature
(RS256 under a key the configured issuer publishes) and claims all check out. Every refusal is an
``InvalidToken``; a key set that cannot be fetched is ``KeySetUnavailable`` (our fault, not theirs).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import jwt
from pydantic import ValidationError

from functions.tenancy.exceptions import InvalidToken
from functions.tenancy.logic.ports import KeyResolver
from functions.tenancy.models.principal import Principal

MAX_TOKEN_CHARS = 16 * 1024
ALGORITHMS = ["RS256"]  # pinned: never derived from the token's own header
REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub"]
# Header parameters that carry or point at a key, or change how the token is read. A token that
# names its own key is not trusted, even though the key always comes from the configured JWKS.
REFUSED_HEADER_PARAMETERS = frozenset({"jku", "x5u", "jwk", "x5c", "crit", "b64"})
MAX_KID_CHARS = 256

_COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_BEARER = re.compile(r"bearer +(\S+) *", re.IGNORECASE)
_AUTHORIZATION = "authorization"


class TokenVerifier:
    """Verifies OIDC access/ID tokens of one issuer and audience."""

    def __init__(self, keys: KeyResolver, *, issuer: str, audience: str, leeway_seconds: int = 10) -> None:
        self._keys = keys
        self._issuer = issuer
        self._audience = audience
        self._leeway = leeway_seconds

    def verify(self, token: str) -> Principal:
        # Cheap shape checks first: junk never reaches the JWKS (an unknown kid forces a refetch).
        if len(token) > MAX_TOKEN_CHARS:
            raise InvalidToken("token too large")
        if not _COMPACT_JWS.fullmatch(token):
            raise InvalidToken("not a compact JWS")
        key = self._keys.public_key(_key_id(token))
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=ALGORITHMS,
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={
                    "verify_signature": True,
                    "verify_exp": True,
                    "verify_nbf": True,
                    "verify_iat": True,
                    "verify_aud": True,
                    "verify_iss": True,
                    "require": REQUIRED_CLAIMS,
                    "enforce_minimum_key_length": True,
                },
            )
        except jwt.PyJWTError as error:
            raise InvalidToken(f"token rejected: {type(error).__name__}") from None
        return _principal(claims)


def authorize(
    headers: Mapping[str, str] | None,
    multi_value_headers: Mapping[str, Sequence[str]] | None,
    method_arn: str,
    verifier: TokenVerifier,
) -> dict[str, Any]:
    """The REQUEST authorizer's answer for a caller with a valid bearer token."""
    principal = verifier.verify(bearer_token(headers, multi_value_headers))
    return allow_policy(principal, method_arn)


def bearer_token(
    headers: Mapping[str, str] | None, multi_value_headers: Mapping[str, Sequence[str]] | None
) -> str:
    """The token of the one ``Authorization: Bearer`` header (names and scheme are case-insensitive)."""
    values = [v for k, vs in (multi_value_headers or {}).items() if k.lower() == _AUTHORIZATION for v in vs]
    if not values:
        values = [v for k, v in (headers or {}).items() if k.lower() == _AUTHORIZATION]
    if len(values) != 1:
        # Absent, or sent twice: with two, which one would a proxy in front of us have checked?
        raise InvalidToken("expected exactly one Authorization header")
    value = values[0]
    if not isinstance(value, str) or len(value) > MAX_TOKEN_CHARS + 16:
        raise InvalidToken("Authorization header too large")
    match = _BEARER.fullmatch(value)
    if match is None:
        raise InvalidToken("Authorization is not a Bearer credential")
    return match.group(1)


def allow_policy(principal: Principal, method_arn: str) -> dict[str, Any]:
    """Allow the caller into every method of this API stage.

    API Gateway may cache an authorizer's answer per token, so the policy must not be narrowed to
    the one method that was called; what the caller may do is decided by the API from ``context``.
    """
    return {
        "principalId": principal.user_id,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": _stage_arn(method_arn)}
            ],
        },
        "context": principal.as_context(),
    }


def _key_id(token: str) -> str:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise InvalidToken("unreadable token header") from None
    if header.get("alg") not in ALGORITHMS:
        raise InvalidToken("algorithm not allowed")
    if REFUSED_HEADER_PARAMETERS.intersection(header):
        raise InvalidToken("token header names its own key or extensions")
    kid = header.get("kid")
    if not isinstance(kid, str) or not 0 < len(kid) <= MAX_KID_CHARS:
        raise InvalidToken("token header has no usable kid")
    return kid


def _principal(claims: Mapping[str, Any]) -> Principal:
    try:
        return Principal(user_id=claims.get("sub"), org_id=claims.get("org_id"), role=claims.get("role"))
    except ValidationError as error:
        fields = sorted({str(e["loc"][0]) for e in error.errors() if e["loc"]})
        raise InvalidToken(f"stackpilot claims invalid: {fields}") from None


def _stage_arn(method_arn: str) -> str:
    """``arn:aws:execute-api:<region>:<account>:<api>/<stage>/<verb>/<path>`` -> ``.../<api>/<stage>/*``."""
    arn = method_arn.split(":", 5)
    if len(arn) != 6 or arn[0] != "arn" or arn[2] != "execute-api":
        raise ValueError("methodArn is not an execute-api ARN")
    api_id, _, rest = arn[5].partition("/")
    stage = rest.partition("/")[0]
    if not api_id or not stage:
        raise ValueError("methodArn names no API stage")
    return f"{':'.join(arn[:5])}:{api_id}/{stage}/*"
