"""Org-scoped secrets: write (a new version each time), list metadata, delete, and read a value
for stackpilot's own use. No use case returns a value to an API caller."""

from __future__ import annotations

from dataclasses import dataclass

from functions.secrets.exceptions import SecretNotFound
from functions.secrets.logic.envelope import open_sealed, seal
from functions.secrets.logic.ports import Clock, DataKeys, SecretStore
from functions.secrets.models.secret import PutSecretRequest, SecretMetadata
from functions.shared.logic.auditing import RequestInfo, draft
from functions.shared.models.principal import Principal


@dataclass(frozen=True)
class SecretsDeps:
    store: SecretStore
    keys: DataKeys
    clock: Clock


def put_secret(
    deps: SecretsDeps, principal: Principal, name: str, request: PutSecretRequest, info: RequestInfo
) -> SecretMetadata:
    now = deps.clock()
    existing = deps.store.get(principal.org_id, name)
    previous = existing[0] if existing else None
    version = previous.version + 1 if previous else 1
    sealed = seal(deps.keys, principal.org_id, name, version, request.value.get_secret_value())
    metadata = SecretMetadata(
        name=name,
        version=version,
        description=request.description,
        created_at=previous.created_at if previous else now,
        updated_at=now,
        updated_by=principal.actor,
    )
    audit = draft(
        principal, info, action="secret.put", target=f"secret:{name}", time=now, reason=f"version {version}"
    )
    deps.store.put(metadata, sealed, previous.version if previous else None, audit)
    return metadata


def list_secrets(deps: SecretsDeps, principal: Principal) -> list[SecretMetadata]:
    return sorted(deps.store.list(principal.org_id), key=lambda m: m.name)


def delete_secret(deps: SecretsDeps, principal: Principal, name: str, info: RequestInfo) -> None:
    existing = deps.store.get(principal.org_id, name)
    if existing is None:
        raise SecretNotFound(f"secret {name} not found")
    now = deps.clock()
    audit = draft(principal, info, action="secret.delete", target=f"secret:{name}", time=now)
    deps.store.delete(principal.org_id, name, existing[0].version, audit)


def reveal(deps: SecretsDeps, org_id: str, name: str) -> str:
    """The value, for stackpilot's own use (verifying a webhook, handing it to a customer's account)."""
    existing = deps.store.get(org_id, name)
    if existing is None:
        raise SecretNotFound(f"secret {name} not found")
    return open_sealed(deps.keys, existing[1])
