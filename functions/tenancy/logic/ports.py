"""What the tenancy logic needs from the outside world. One adapter each, in dal/ or integrations/."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Protocol

from functions.shared.models.audit import AuditDraft, AuditEntry
from functions.shared.models.principal import Role
from functions.tenancy.models.org import ApiKey, Member, Org


class KeyResolver(Protocol):
    def public_key(self, kid: str) -> Any:
        """The RSA public key the issuer publishes under ``kid``.

        Raises ``InvalidToken`` when no such key exists and ``KeySetUnavailable`` when the key set
        cannot be fetched or read.
        """
        ...


class MemberLookup(Protocol):
    def role_of(self, org_id: str, user_id: str) -> Role | None: ...


class TenancyStore(MemberLookup, Protocol):
    """Orgs, members and keys. Every mutation commits with its audit entry, or not at all."""

    def get_org(self, org_id: str) -> Org | None: ...
    def create_org(self, org: Org, owner: Member, audit: AuditDraft) -> None: ...
    def rename_org(self, org_id: str, name: str, audit: AuditDraft) -> None: ...

    def get_member(self, org_id: str, user_id: str) -> Member | None: ...
    def list_members(self, org_id: str) -> list[Member]: ...
    def add_member(self, member: Member, audit: AuditDraft) -> None:
        """Raises Conflict if the user is already a member."""
        ...

    def change_role(self, member: Member, to: Role, when: datetime, audit: AuditDraft) -> Member:
        """Raises Conflict if the member changed meanwhile or the org would lose its last owner."""
        ...

    def remove_member(self, member: Member, audit: AuditDraft) -> None:
        """Raises Conflict if the member changed meanwhile or the org would lose its last owner."""
        ...

    def create_key(self, key: ApiKey, audit: AuditDraft) -> None: ...
    def get_key(self, key_id: str) -> ApiKey | None: ...
    def list_keys(self, org_id: str) -> list[ApiKey]: ...
    def revoke_key(self, key: ApiKey, when: datetime, audit: AuditDraft) -> ApiKey: ...
    def touch_key(self, key_id: str, when: datetime) -> None:
        """Records a use (best effort: a failed write never fails the request)."""
        ...


class KeyLookup(MemberLookup, Protocol):
    def get_member(self, org_id: str, user_id: str) -> Member | None: ...
    def get_key(self, key_id: str) -> ApiKey | None: ...
    def touch_key(self, key_id: str, when: datetime) -> None: ...


class Pepper(Protocol):
    def value(self) -> bytes:
        """The service-wide secret API keys are hashed with (from the secret store)."""
        ...


class AuditReader(Protocol):
    def last(self, org_id: str) -> AuditEntry | None: ...
    def entries(self, org_id: str, after_seq: int = 0, limit: int | None = None) -> Iterable[AuditEntry]: ...
    def newest_first(self, org_id: str, before_seq: int | None = None) -> Iterable[AuditEntry]: ...


class Clock(Protocol):
    def __call__(self) -> datetime: ...
