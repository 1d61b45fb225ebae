"""In-memory adapters for the tenancy ports: the same rules as the DynamoDB store (owner count,
conditional changes, one audit entry per mutation, written with it or not at all)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from functions.shared.errors import DependencyDown
from functions.shared.logic.audit_chain import chain
from functions.shared.models.audit import AuditDraft, AuditEntry
from functions.shared.models.principal import Role
from functions.tenancy.exceptions import Conflict, KeyNameTaken, NotFound
from functions.tenancy.models.org import ApiKey, Member, Org

LAST_OWNER = "an org must keep at least one owner"


@dataclass
class InMemoryAuditLog:
    """``AuditLog`` and ``AuditReader``: a hash chain per org."""

    chains: dict[str, list[AuditEntry]] = field(default_factory=dict)
    fail: bool = False  # the audit table refuses writes
    entries_read: list[int] = field(default_factory=list)  # per call of entries(): how many it yielded

    def record(self, draft: AuditDraft) -> AuditEntry:
        if self.fail:
            raise DependencyDown("audit log unavailable")
        entries = self.chains.setdefault(draft.org_id, [])
        entry = chain(draft, entries[-1] if entries else None)
        entries.append(entry)
        return entry

    def last(self, org_id: str) -> AuditEntry | None:
        entries = self.chains.get(org_id) or []
        return entries[-1] if entries else None

    def entries(self, org_id: str, after_seq: int = 0, limit: int | None = None) -> Iterable[AuditEntry]:
        self.entries_read.append(0)
        for entry in self.chains.get(org_id, []):
            if entry.seq > after_seq:
                if limit is not None and self.entries_read[-1] >= limit:
                    return
                self.entries_read[-1] += 1
                yield entry

    def newest_first(self, org_id: str, before_seq: int | None = None) -> Iterable[AuditEntry]:
        return [e for e in reversed(self.chains.get(org_id, [])) if before_seq is None or e.seq < before_seq]

    def actions(self, org_id: str) -> list[tuple[str, str, str]]:
        return [(e.action, e.target, e.result) for e in self.chains.get(org_id, [])]


@dataclass
class InMemoryTenancy:
    audit: InMemoryAuditLog = field(default_factory=InMemoryAuditLog)
    orgs: dict[str, Org] = field(default_factory=dict)
    members: dict[tuple[str, str], Member] = field(default_factory=dict)
    keys: dict[str, ApiKey] = field(default_factory=dict)
    touched: list[str] = field(default_factory=list)

    def _commit(self, audit: AuditDraft) -> None:
        self.audit.record(audit)  # raises before anything changes: no entry, no change

    def role_of(self, org_id: str, user_id: str) -> Role | None:
        member = self.members.get((org_id, user_id))
        return member.role if member else None

    def get_org(self, org_id: str) -> Org | None:
        return self.orgs.get(org_id)

    def create_org(self, org: Org, owner: Member, audit: AuditDraft) -> None:
        if org.org_id in self.orgs:
            raise Conflict("that org id is taken; try again")
        self._commit(audit)
        self.orgs[org.org_id] = org
        self.members[(org.org_id, owner.user_id)] = owner

    def rename_org(self, org_id: str, name: str, audit: AuditDraft) -> None:
        if org_id not in self.orgs:
            raise NotFound("org not found")
        self._commit(audit)
        self.orgs[org_id] = self.orgs[org_id].model_copy(update={"name": name})

    def get_member(self, org_id: str, user_id: str) -> Member | None:
        return self.members.get((org_id, user_id))

    def list_members(self, org_id: str) -> list[Member]:
        return [m for (org, _), m in self.members.items() if org == org_id]

    def _owners(self, org_id: str) -> int:
        return self.orgs[org_id].owner_count

    def _count(self, org_id: str, delta: int) -> None:
        org = self.orgs[org_id]
        self.orgs[org_id] = org.model_copy(update={"owner_count": org.owner_count + delta})

    def add_member(self, member: Member, audit: AuditDraft) -> None:
        if (member.org_id, member.user_id) in self.members:
            raise Conflict(f"{member.user_id} is already a member of this org")
        self._commit(audit)
        self.members[(member.org_id, member.user_id)] = member
        if member.role is Role.OWNER:
            self._count(member.org_id, +1)

    def change_role(self, member: Member, to: Role, when: datetime, audit: AuditDraft) -> Member:
        self._check(member)
        delta = (to is Role.OWNER) - (member.role is Role.OWNER)
        if delta < 0 and self._owners(member.org_id) <= 1:
            raise Conflict(LAST_OWNER)
        self._commit(audit)
        updated = member.model_copy(update={"role": to, "updated_at": when})
        self.members[(member.org_id, member.user_id)] = updated
        self._count(member.org_id, delta)
        return updated

    def remove_member(self, member: Member, audit: AuditDraft) -> None:
        self._check(member)
        if member.role is Role.OWNER and self._owners(member.org_id) <= 1:
            raise Conflict(LAST_OWNER)
        self._commit(audit)
        del self.members[(member.org_id, member.user_id)]
        if member.role is Role.OWNER:
            self._count(member.org_id, -1)

    def _check(self, member: Member) -> None:
        current = self.members.get((member.org_id, member.user_id))
        if current is None or current.role is not member.role:
            raise Conflict(f"{member.user_id}'s membership changed meanwhile; read it again")

    def create_key(self, key: ApiKey, audit: AuditDraft) -> None:
        if key.key_id in self.keys:
            raise Conflict("key id collision; try again")
        name = key.name.strip().casefold()
        for other in self.keys.values():
            held = other.revoked_at is None and other.expires_at > key.created_at
            if other.org_id == key.org_id and held and other.name.strip().casefold() == name:
                raise KeyNameTaken(key.name)
        self._commit(audit)
        self.keys[key.key_id] = key

    def get_key(self, key_id: str) -> ApiKey | None:
        return self.keys.get(key_id)

    def list_keys(self, org_id: str) -> list[ApiKey]:
        return [k for k in self.keys.values() if k.org_id == org_id]

    def revoke_key(self, key: ApiKey, when: datetime, audit: AuditDraft) -> ApiKey:
        self._commit(audit)
        revoked = key.model_copy(update={"revoked_at": when})
        self.keys[key.key_id] = revoked
        return revoked

    def touch_key(self, key_id: str, when: datetime) -> None:
        self.touched.append(key_id)
        self.keys[key_id] = self.keys[key_id].model_copy(update={"last_used_at": when})


class StaticPepper:
    def __init__(self, value: bytes = b"p" * 32) -> None:
        self._value = value
        self.reads = 0

    def value(self) -> bytes:
        self.reads += 1
        return self._value
