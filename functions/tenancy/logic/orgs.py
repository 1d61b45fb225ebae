"""Orgs and their members, and the rules that keep an org governable.

- An org always keeps at least one owner (the store checks it in the same transaction).
- Only an owner grants the owner role or changes or removes an owner.
- Nobody raises their own role.
"""

from __future__ import annotations

from dataclasses import dataclass

from functions.shared.errors import Forbidden
from functions.shared.logic.auditing import RequestInfo, draft
from functions.shared.models.ids import new_org_id
from functions.shared.models.principal import Identity, Principal, Role
from functions.tenancy.exceptions import Conflict, NotFound
from functions.tenancy.logic.ports import Clock, TenancyStore
from functions.tenancy.models.api import (
    AddMemberRequest,
    ChangeRoleRequest,
    CreateOrgRequest,
    MemberView,
    OrgView,
    RenameOrgRequest,
)
from functions.tenancy.models.org import Member, Org


@dataclass(frozen=True)
class OrgsDeps:
    store: TenancyStore
    clock: Clock


def create_org(deps: OrgsDeps, identity: Identity, request: CreateOrgRequest, info: RequestInfo) -> OrgView:
    now = deps.clock()
    org = Org(
        org_id=new_org_id(), name=request.name, created_by=identity.user_id, created_at=now, owner_count=1
    )
    owner = Member(
        org_id=org.org_id,
        user_id=identity.user_id,
        role=Role.OWNER,
        added_by=f"user:{identity.user_id}",
        added_at=now,
        updated_at=now,
    )
    founder = Principal(org_id=org.org_id, role=Role.OWNER, user_id=identity.user_id)
    audit = draft(founder, info, action="org.create", target=f"org:{org.org_id}", time=now)
    deps.store.create_org(org, owner, audit)
    return _org_view(org, Role.OWNER)


def current_org(deps: OrgsDeps, principal: Principal) -> OrgView:
    org = deps.store.get_org(principal.org_id)
    if org is None:
        raise NotFound("org not found")
    return _org_view(org, principal.role)


def rename_org(deps: OrgsDeps, principal: Principal, request: RenameOrgRequest, info: RequestInfo) -> OrgView:
    now = deps.clock()
    audit = draft(principal, info, action="org.rename", target=f"org:{principal.org_id}", time=now)
    deps.store.rename_org(principal.org_id, request.name, audit)
    return current_org(deps, principal)


def list_members(deps: OrgsDeps, principal: Principal) -> list[MemberView]:
    members = sorted(deps.store.list_members(principal.org_id), key=lambda m: (m.added_at, m.user_id))
    return [_member_view(m) for m in members]


def add_member(
    deps: OrgsDeps, principal: Principal, request: AddMemberRequest, info: RequestInfo
) -> MemberView:
    if request.role is Role.OWNER and principal.role is not Role.OWNER:
        raise Forbidden("only an owner grants the owner role")
    if not principal.role.at_least(request.role):
        raise Forbidden(f"you cannot grant {request.role}, which is above your own role {principal.role}")
    if request.user_id == principal.user_id:
        raise Conflict("you are already a member of this org")
    now = deps.clock()
    member = Member(
        org_id=principal.org_id,
        user_id=request.user_id,
        role=request.role,
        added_by=principal.actor,
        added_at=now,
        updated_at=now,
    )
    target = f"member:{request.user_id}"
    deps.store.add_member(member, draft(principal, info, action="member.add", target=target, time=now))
    return _member_view(member)


def change_role(
    deps: OrgsDeps, principal: Principal, user_id: str, request: ChangeRoleRequest, info: RequestInfo
) -> MemberView:
    member = _member(deps, principal, user_id)
    to = request.role
    _may_change(principal, member, to)
    if member.role is to:
        return _member_view(member)
    now = deps.clock()
    audit = draft(
        principal,
        info,
        action="member.change_role",
        target=f"member:{user_id}",
        time=now,
        reason=f"{member.role} -> {to}",
    )
    return _member_view(deps.store.change_role(member, to, now, audit))


def remove_member(deps: OrgsDeps, principal: Principal, user_id: str, info: RequestInfo) -> None:
    member = _member(deps, principal, user_id)
    if member.role is Role.OWNER and principal.role is not Role.OWNER:
        raise Forbidden("only an owner removes an owner")
    now = deps.clock()
    audit = draft(
        principal,
        info,
        action="member.remove",
        target=f"member:{user_id}",
        time=now,
        reason=f"was {member.role}",
    )
    deps.store.remove_member(member, audit)


def _may_change(principal: Principal, member: Member, to: Role) -> None:
    if member.role is Role.OWNER and principal.role is not Role.OWNER:
        raise Forbidden("only an owner changes an owner's role")
    if to is Role.OWNER and principal.role is not Role.OWNER:
        raise Forbidden("only an owner grants the owner role")
    if member.user_id == principal.user_id and to.rank > member.role.rank:
        raise Forbidden("nobody raises their own role")
    if not principal.role.at_least(to):
        raise Forbidden(f"you cannot grant {to}, which is above your own role {principal.role}")


def _member(deps: OrgsDeps, principal: Principal, user_id: str) -> Member:
    member = deps.store.get_member(principal.org_id, user_id)
    if member is None:
        raise NotFound(f"member {user_id} not found")
    return member


def _org_view(org: Org, role: Role | None) -> OrgView:
    return OrgView(org_id=org.org_id, name=org.name, created_at=org.created_at, your_role=role)


def _member_view(member: Member) -> MemberView:
    return MemberView(
        user_id=member.user_id,
        role=member.role,
        added_by=member.added_by,
        added_at=member.added_at,
        updated_at=member.updated_at,
    )
