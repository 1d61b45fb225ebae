"""Builders for the tenancy use cases: an org with members, in memory."""

from __future__ import annotations

from functions.shared.logic.auditing import RequestInfo
from functions.shared.models.principal import Principal, Role
from functions.tenancy.logic.api_keys import ApiKeysDeps
from functions.tenancy.logic.orgs import OrgsDeps
from functions.tenancy.models.org import Member, Org
from tests.fakes.accounts import FakeClock
from tests.fakes.tenancy import InMemoryTenancy, StaticPepper

ORG = "org_acme"
INFO = RequestInfo(request_id="req-1", source="203.0.113.9")


def org_with(*members: tuple[str, Role], org_id: str = ORG) -> tuple[InMemoryTenancy, FakeClock]:
    store, clock = InMemoryTenancy(), FakeClock()
    now = clock()
    owners = sum(1 for _, role in members if role is Role.OWNER)
    store.orgs[org_id] = Org(
        org_id=org_id, name="Acme", created_by="founder", created_at=now, owner_count=owners
    )
    for user_id, role in members:
        store.members[(org_id, user_id)] = Member(
            org_id=org_id, user_id=user_id, role=role, added_by="test", added_at=now, updated_at=now
        )
    return store, clock


def as_member(store: InMemoryTenancy, user_id: str, org_id: str = ORG) -> Principal:
    role = store.role_of(org_id, user_id)
    assert role is not None
    return Principal(org_id=org_id, role=role, user_id=user_id)


def orgs_deps(store: InMemoryTenancy, clock: FakeClock) -> OrgsDeps:
    return OrgsDeps(store=store, clock=clock)


def keys_deps(store: InMemoryTenancy, clock: FakeClock) -> ApiKeysDeps:
    return ApiKeysDeps(store=store, pepper=StaticPepper(), clock=clock)
