"""API keys for CI and scripts: ``sp_<key id>_<secret>``, shown once, stored as a keyed hash.

A key acts with the lower of its own role and its creator's role *now*: demoting the creator
narrows every key they made; removing them from the org revokes those keys (for good: a key older
than its creator's current membership is refused).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from functions.shared.errors import Forbidden
from functions.shared.logic.auditing import RequestInfo, draft
from functions.shared.models.principal import Principal, Role, require_user
from functions.tenancy.exceptions import InvalidToken, NotFound
from functions.tenancy.logic.ports import Clock, KeyLookup, Pepper, TenancyStore
from functions.tenancy.models.org import ApiKey

KEY_PREFIX = "sp_"
_KEY = re.compile(r"sp_([a-z2-7]{12})_([A-Za-z0-9_-]{43})")
# What a caller with an unknown key id is compared against, so a miss costs what a hit costs.
_DECOY_HASH = "0" * 64
TOUCH_INTERVAL = timedelta(minutes=1)

# The API's bodies are built only by the key routes: the authorizer, which authenticates keys on
# every request, never loads the tenancy API's models (INIT time).
if TYPE_CHECKING:
    from functions.tenancy.models.api import ApiKeyView, CreateApiKeyRequest, CreatedApiKey


@dataclass(frozen=True)
class ApiKeysDeps:
    store: TenancyStore
    pepper: Pepper
    clock: Clock


def looks_like_key(credential: str) -> bool:
    return credential.startswith(KEY_PREFIX)


def key_hash(pepper: bytes, key: str) -> str:
    return hmac.new(pepper, key.encode(), hashlib.sha256).hexdigest()


def new_key() -> tuple[str, str]:
    """(key id, the whole key)."""
    key_id = base64.b32encode(secrets.token_bytes(10)).decode().lower()[:12]
    return key_id, f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"


def create_key(
    deps: ApiKeysDeps, principal: Principal, request: CreateApiKeyRequest, info: RequestInfo
) -> CreatedApiKey:
    from functions.tenancy.models.api import CreatedApiKey

    require_user(principal, "creating an API key")
    if not principal.role.at_least(request.role):
        raise Forbidden(
            f"a key's role may not exceed yours: you are {principal.role}, asked for {request.role}"
        )
    now = deps.clock()
    key_id, key = new_key()
    record = ApiKey(
        key_id=key_id,
        org_id=principal.org_id,
        name=request.name,
        role=request.role,
        created_by=principal.user_id,
        key_hash=key_hash(deps.pepper.value(), key),
        created_at=now,
        expires_at=now + timedelta(days=request.expires_in_days),
    )
    audit = draft(
        principal,
        info,
        action="api_key.create",
        target=f"key:{key_id}",
        time=now,
        reason=f"role {request.role}",
    )
    deps.store.create_key(record, audit)
    return CreatedApiKey(**view(record, now).model_dump(), key=key)


def list_keys(deps: ApiKeysDeps, principal: Principal) -> list[ApiKeyView]:
    now = deps.clock()
    keys = sorted(deps.store.list_keys(principal.org_id), key=lambda k: k.created_at, reverse=True)
    return [view(k, now) for k in keys]


def revoke_key(deps: ApiKeysDeps, principal: Principal, key_id: str, info: RequestInfo) -> ApiKeyView:
    now = deps.clock()
    key = deps.store.get_key(key_id)
    if key is None or key.org_id != principal.org_id:
        raise NotFound(f"API key {key_id} not found")
    if key.revoked_at is not None:
        return view(key, now)
    audit = draft(principal, info, action="api_key.revoke", target=f"key:{key_id}", time=now)
    return view(deps.store.revoke_key(key, now, audit), now)


def authenticate(keys: KeyLookup, pepper: Pepper, credential: str, now: datetime) -> Principal:
    """The principal an API key acts as, or InvalidToken. Compares in constant time."""
    match = _KEY.fullmatch(credential)
    if match is None:
        raise InvalidToken("malformed API key")
    key = keys.get_key(match.group(1))
    presented = key_hash(pepper.value(), credential)
    if not hmac.compare_digest(presented, key.key_hash if key else _DECOY_HASH) or key is None:
        raise InvalidToken("unknown API key")
    if key.revoked_at is not None:
        raise InvalidToken("API key revoked")
    if now >= key.expires_at:
        raise InvalidToken("API key expired")
    creator = keys.get_member(key.org_id, key.created_by)
    # Removing the creator revoked the key for good: being added back later does not revive it.
    if creator is None or creator.added_at > key.created_at:
        raise InvalidToken("the key's creator is no longer a member")
    creator_role = creator.role
    if key.last_used_at is None or now - key.last_used_at >= TOUCH_INTERVAL:
        keys.touch_key(key.key_id, now)
    return effective_principal(key, creator_role)


def effective_principal(key: ApiKey, creator_role: Role) -> Principal:
    return Principal(
        org_id=key.org_id,
        role=Role.lowest(key.role, creator_role),
        user_id=key.created_by,
        principal_type="api_key",
        key_id=key.key_id,
    )


def view(key: ApiKey, now: datetime) -> ApiKeyView:
    from functions.tenancy.models.api import ApiKeyView

    status = "revoked" if key.revoked_at else ("expired" if now >= key.expires_at else "active")
    return ApiKeyView(
        key_id=key.key_id,
        name=key.name,
        role=key.role,
        created_by=key.created_by,
        created_at=key.created_at,
        expires_at=key.expires_at,
        revoked_at=key.revoked_at,
        last_used_at=key.last_used_at,
        status=status,
    )
