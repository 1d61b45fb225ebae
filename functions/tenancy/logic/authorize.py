"""Who is calling, and may they call this route: the REQUEST authorizer's decision.

1. Authenticate: an API key (``sp_...``) or an OIDC token. A token is trusted only when its shape,
   header, signature (RS256 under a key the configured issuer publishes) and claims all check out.
   Every refusal is an ``InvalidToken`` (a 401); a key set that cannot be fetched is
   ``KeySetUnavailable`` (our fault, not theirs).
2. Look the caller's role up (a token's own role claim is never trusted), so a role change takes
   effect on the very next request.
3. Apply the route's rule from ``functions.shared.logic.access``. A refusal is an ``AccessDenied`` (a 403),
   and a refused mutation is recorded in the org's audit log.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jwt
from pydantic import BaseModel, ConfigDict, ValidationError

from functions.shared import errors
from functions.shared.logic.access import decide, route_access
from functions.shared.logic.ports import AuditLog
from functions.shared.models.audit import AuditDraft
from functions.shared.models.ids import OrgId
from functions.shared.models.principal import Identity, Principal, UserId
from functions.tenancy.exceptions import AccessDenied, InvalidToken
from functions.tenancy.logic import api_keys
from functions.tenancy.logic.ports import Clock, KeyLookup, KeyResolver, Pepper

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


class VerifiedUser(BaseModel):
    """What a valid token establishes: who the user is, and which org they act in (if any)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    user_id: UserId
    org_id: OrgId | None = None


class TokenVerifier:
    """Verifies OIDC access/ID tokens of one issuer and audience."""

    def __init__(self, keys: KeyResolver, *, issuer: str, audience: str, leeway_seconds: int = 10) -> None:
        self._keys = keys
        self._issuer = issuer
        self._audience = audience
        self._leeway = leeway_seconds

    def verify(self, token: str) -> VerifiedUser:
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


@dataclass(frozen=True)
class AuthorizerDeps:
    verifier: TokenVerifier
    keys: KeyLookup  # members' roles and API keys
    pepper: Pepper
    audit: AuditLog
    clock: Clock


def authorize(event: Mapping[str, Any], deps: AuthorizerDeps) -> dict[str, Any]:
    """The REQUEST authorizer's answer: an Allow policy with the caller in ``context``.

    Raises InvalidToken (401) or AccessDenied (403).
    """
    credential = bearer_token(event.get("headers"), event.get("multiValueHeaders"))
    method, resource = str(event.get("httpMethod") or ""), str(event.get("resource") or "")
    access = route_access(method, resource)
    principal: Principal | None = None
    org_id: str | None = None  # the org the caller acts in, member or not
    if api_keys.looks_like_key(credential):
        principal = api_keys.authenticate(deps.keys, deps.pepper, credential, deps.clock())
        identity = Identity(user_id=principal.user_id, principal_type="api_key")
        org_id = principal.org_id
    else:
        user = deps.verifier.verify(credential)
        identity = Identity(user_id=user.user_id)
        org_id = user.org_id
        role = deps.keys.role_of(user.org_id, user.user_id) if user.org_id else None
        if user.org_id and role:
            principal = Principal(org_id=user.org_id, role=role, user_id=user.user_id)
    decision = decide(access, principal.role if principal else None, identity.principal_type)
    if not decision.allowed:
        unrecorded = None
        if access is not None and access.mutating:
            try:
                _record_refusal(event, deps, access.action, org_id, principal, identity, decision.reason)
            except errors.DependencyDown as down:
                # The answer is still the refusal: nothing changed, and an operator hears of the gap.
                unrecorded = str(down)
        raise AccessDenied(decision.reason, unrecorded=unrecorded)
    context = principal.as_context() if principal else {"user_id": identity.user_id, "principal_type": "user"}
    return policy("Allow", context.get("key_id") or identity.user_id, str(event["methodArn"]), context)


def _record_refusal(
    event: Mapping[str, Any],
    deps: AuthorizerDeps,
    action: str,
    org_id: str | None,
    principal: Principal | None,
    identity: Identity,
    reason: str,
) -> None:
    """A refused mutation goes into the log of the org the caller acted in (a token's org claim,
    even for a non-member: that org's owners want to see who knocked)."""
    if org_id is None:
        return  # no org to attach it to: the log line is all there is
    context = event.get("requestContext") or {}
    actor = principal.actor if principal else f"user:{identity.user_id}"
    deps.audit.record(
        AuditDraft(
            org_id=org_id,
            actor=actor,
            actor_type=identity.principal_type,
            action=action,
            target=str(event.get("path") or ""),
            result="denied",
            reason=reason,
            request_id=context.get("requestId"),
            source=str((context.get("identity") or {}).get("sourceIp") or "api"),
            time=deps.clock(),
        )
    )


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


def policy(effect: str, principal_id: str, method_arn: str, context: Mapping[str, str]) -> dict[str, Any]:
    """A policy for exactly the method called: the answer depends on the route, and is never cached
    (the authorizer's TTL is 0), so a changed role or a revoked key counts on the next request."""
    _stage_arn(method_arn)  # refuses a malformed methodArn
    return {
        "principalId": principal_id,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": method_arn}],
        },
        "context": dict(context),
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


def _principal(claims: Mapping[str, Any]) -> VerifiedUser:
    try:
        return VerifiedUser(user_id=claims.get("sub"), org_id=claims.get("org_id"))
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
