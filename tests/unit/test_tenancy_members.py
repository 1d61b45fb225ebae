"""Orgs and members: the rules that keep an org governable, each change audited with it."""

from __future__ import annotations

import pytest

from functions.shared.errors import DependencyDown, Forbidden
from functions.shared.models.principal import Identity, Role
from functions.tenancy.exceptions import Conflict, NotFound
from functions.tenancy.logic import orgs
from functions.tenancy.models.api import AddMemberRequest, ChangeRoleRequest, CreateOrgRequest
from tests.fakes.tenancy import InMemoryTenancy
from tests.unit.tenancy_builders import INFO, ORG, as_member, org_with, orgs_deps

OW, A, C, V = Role.OWNER, Role.ADMIN, Role.CONTRIBUTOR, Role.VIEWER


def test_the_creator_of_an_org_is_its_first_owner_and_the_chain_starts_there() -> None:
    store, clock = org_with()
    view = orgs.create_org(
        orgs_deps(store, clock), Identity(user_id="ana"), CreateOrgRequest(name="New"), INFO
    )
    assert view.your_role is OW and store.role_of(view.org_id, "ana") is OW
    assert store.orgs[view.org_id].owner_count == 1
    assert store.audit.actions(view.org_id) == [("org.create", f"org:{view.org_id}", "succeeded")]


def test_an_admin_adds_a_viewer_and_the_change_is_audited() -> None:
    store, clock = org_with(("olga", OW), ("adam", A))
    orgs.add_member(
        orgs_deps(store, clock), as_member(store, "adam"), AddMemberRequest(user_id="vic", role=V), INFO
    )
    assert store.role_of(ORG, "vic") is V
    [entry] = store.audit.chains[ORG]
    assert (entry.actor, entry.action, entry.target, entry.source) == (
        "user:adam",
        "member.add",
        "member:vic",
        "203.0.113.9",
    )


@pytest.mark.parametrize(
    ("actor", "action"),
    [
        ("adam", lambda d, p: orgs.add_member(d, p, AddMemberRequest(user_id="x", role=OW), INFO)),
        ("adam", lambda d, p: orgs.change_role(d, p, "olga", ChangeRoleRequest(role=A), INFO)),
        ("adam", lambda d, p: orgs.remove_member(d, p, "olga", INFO)),
        ("adam", lambda d, p: orgs.change_role(d, p, "cora", ChangeRoleRequest(role=OW), INFO)),
        ("adam", lambda d, p: orgs.change_role(d, p, "adam", ChangeRoleRequest(role=OW), INFO)),
        ("cora", lambda d, p: orgs.change_role(d, p, "cora", ChangeRoleRequest(role=A), INFO)),
        ("vic", lambda d, p: orgs.change_role(d, p, "vic", ChangeRoleRequest(role=C), INFO)),
    ],
    ids=[
        "admin-grants-owner",
        "admin-demotes-owner",
        "admin-removes-owner",
        "admin-promotes-to-owner",
        "admin-raises-self",
        "contributor-raises-self",
        "viewer-raises-self",
    ],
)
def test_forbidden_changes_change_nothing_and_write_no_entry(actor: str, action: object) -> None:
    store, clock = org_with(("olga", OW), ("adam", A), ("cora", C), ("vic", V))
    before = dict(store.members)
    with pytest.raises(Forbidden):
        action(orgs_deps(store, clock), as_member(store, actor))  # type: ignore[operator]
    assert store.members == before and store.audit.chains.get(ORG, []) == []


def test_the_last_owner_can_neither_leave_nor_be_demoted() -> None:
    store, clock = org_with(("olga", OW), ("adam", A))
    deps, olga = orgs_deps(store, clock), as_member(store, "olga")
    with pytest.raises(Conflict, match="at least one owner"):
        orgs.change_role(deps, olga, "olga", ChangeRoleRequest(role=A), INFO)
    with pytest.raises(Conflict, match="at least one owner"):
        orgs.remove_member(deps, olga, "olga", INFO)
    assert store.role_of(ORG, "olga") is OW


def test_with_two_owners_one_may_step_down_and_a_demotion_is_effective_at_once() -> None:
    store, clock = org_with(("olga", OW), ("otto", OW), ("adam", A))
    deps = orgs_deps(store, clock)
    orgs.change_role(deps, as_member(store, "olga"), "otto", ChangeRoleRequest(role=V), INFO)
    assert store.role_of(ORG, "otto") is V and store.orgs[ORG].owner_count == 1
    # the very next request of otto's sees the new role: roles are looked up, not carried
    assert as_member(store, "otto").role is V


def test_an_owner_grants_owner_and_lowering_ones_own_role_is_allowed() -> None:
    store, clock = org_with(("olga", OW), ("adam", A))
    deps = orgs_deps(store, clock)
    orgs.change_role(deps, as_member(store, "olga"), "adam", ChangeRoleRequest(role=OW), INFO)
    orgs.change_role(deps, as_member(store, "adam"), "adam", ChangeRoleRequest(role=V), INFO)
    assert store.role_of(ORG, "adam") is V and store.orgs[ORG].owner_count == 1


def test_another_orgs_member_is_not_found() -> None:
    store, clock = org_with(("olga", OW))
    other, _ = org_with(("mallory", OW), org_id="org_other")
    store.orgs.update(other.orgs)
    store.members.update(other.members)
    with pytest.raises(NotFound):
        orgs.remove_member(orgs_deps(store, clock), as_member(store, "olga"), "mallory", INFO)
    assert store.role_of("org_other", "mallory") is OW


def test_a_member_cannot_be_added_twice() -> None:
    store, clock = org_with(("olga", OW), ("vic", V))
    with pytest.raises(Conflict):
        orgs.add_member(
            orgs_deps(store, clock), as_member(store, "olga"), AddMemberRequest(user_id="vic", role=A), INFO
        )


def test_no_audit_entry_no_change() -> None:
    # GIVEN an audit log that refuses writes
    store, clock = org_with(("olga", OW))
    store.audit.fail = True
    # WHEN an owner adds a member THEN the change does not happen
    with pytest.raises(DependencyDown):
        orgs.add_member(
            orgs_deps(store, clock), as_member(store, "olga"), AddMemberRequest(user_id="vic", role=V), INFO
        )
    assert store.role_of(ORG, "vic") is None


def test_an_unknown_org_reads_as_not_found() -> None:
    store = InMemoryTenancy()
    _, clock = org_with()
    from functions.shared.models.principal import Principal

    with pytest.raises(NotFound):
        orgs.current_org(orgs_deps(store, clock), Principal(org_id="org_none", role=V, user_id="u"))
