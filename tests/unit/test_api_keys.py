"""API keys: shown once, stored as a keyed hash, never above their creator's current role."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from functions.shared.errors import Forbidden
from functions.shared.models.principal import Principal, Role
from functions.tenancy.exceptions import InvalidToken, KeyNameTaken, NotFound
from functions.tenancy.logic import api_keys, orgs
from functions.tenancy.models.api import ChangeRoleRequest, CreateApiKeyRequest
from tests.fakes.tenancy import StaticPepper
from tests.unit.tenancy_builders import INFO, ORG, as_member, keys_deps, org_with, orgs_deps

ROLES = list(Role)


def test_a_key_is_shown_once_and_stored_only_as_a_keyed_hash() -> None:
    store, clock = org_with(("olga", Role.OWNER))
    created = api_keys.create_key(
        keys_deps(store, clock),
        as_member(store, "olga"),
        CreateApiKeyRequest(name="ci", role=Role.CONTRIBUTOR),
        INFO,
    )
    assert created.key.startswith(f"sp_{created.key_id}_")
    stored = store.keys[created.key_id]
    assert created.key not in stored.model_dump_json() and stored.key_hash != created.key
    assert stored.key_hash == api_keys.key_hash(StaticPepper().value(), created.key)
    assert "key" not in api_keys.list_keys(keys_deps(store, clock), as_member(store, "olga"))[0].model_dump()
    assert store.audit.actions(ORG) == [("api_key.create", f"key:{created.key_id}", "succeeded")]


def test_a_key_authenticates_as_its_org_at_its_role_and_records_its_use() -> None:
    store, clock = org_with(("olga", Role.OWNER))
    created = api_keys.create_key(
        keys_deps(store, clock),
        as_member(store, "olga"),
        CreateApiKeyRequest(name="ci", role=Role.CONTRIBUTOR),
        INFO,
    )
    principal = api_keys.authenticate(store, StaticPepper(), created.key, clock())
    assert principal == Principal(
        org_id=ORG, role=Role.CONTRIBUTOR, user_id="olga", principal_type="api_key", key_id=created.key_id
    )
    assert principal.actor == f"key:{created.key_id}" and store.touched == [created.key_id]


@pytest.mark.parametrize(
    "mangle",
    [
        lambda k: k[:-1] + ("A" if k[-1] != "A" else "B"),  # one character of the secret
        lambda k: "sp_" + "a" * 12 + k[15:],  # another key id
        lambda k: k + "x",
        lambda k: k.upper(),
        lambda k: "",
        lambda k: "sp_",
    ],
)
def test_a_wrong_key_is_refused(mangle: object) -> None:
    store, clock = org_with(("olga", Role.OWNER))
    created = api_keys.create_key(
        keys_deps(store, clock),
        as_member(store, "olga"),
        CreateApiKeyRequest(name="ci", role=Role.VIEWER),
        INFO,
    )
    with pytest.raises(InvalidToken):
        api_keys.authenticate(store, StaticPepper(), mangle(created.key), clock())  # type: ignore[operator]


def test_a_key_is_refused_once_revoked_or_expired() -> None:
    store, clock = org_with(("olga", Role.OWNER))
    deps, olga = keys_deps(store, clock), as_member(store, "olga")
    revoked = api_keys.create_key(deps, olga, CreateApiKeyRequest(name="a", role=Role.VIEWER), INFO)
    expiring = api_keys.create_key(
        deps, olga, CreateApiKeyRequest(name="b", role=Role.VIEWER, expires_in_days=1), INFO
    )
    api_keys.revoke_key(deps, olga, revoked.key_id, INFO)
    with pytest.raises(InvalidToken, match="revoked"):
        api_keys.authenticate(store, StaticPepper(), revoked.key, clock())
    clock.advance(timedelta(days=1).total_seconds())
    with pytest.raises(InvalidToken, match="expired"):
        api_keys.authenticate(store, StaticPepper(), expiring.key, clock())


def test_a_key_cannot_exceed_its_creator_and_keys_cannot_make_keys() -> None:
    store, clock = org_with(("olga", Role.OWNER), ("adam", Role.ADMIN))
    deps = keys_deps(store, clock)
    with pytest.raises(Forbidden):
        api_keys.create_key(
            deps, as_member(store, "adam"), CreateApiKeyRequest(name="x", role=Role.OWNER), INFO
        )
    created = api_keys.create_key(
        deps, as_member(store, "adam"), CreateApiKeyRequest(name="x", role=Role.ADMIN), INFO
    )
    as_key = api_keys.authenticate(store, StaticPepper(), created.key, clock())
    with pytest.raises(Forbidden):
        api_keys.create_key(deps, as_key, CreateApiKeyRequest(name="y", role=Role.VIEWER), INFO)


def test_another_orgs_key_cannot_be_revoked_and_reads_as_not_found() -> None:
    store, clock = org_with(("olga", Role.OWNER))
    other, _ = org_with(("mallory", Role.OWNER), org_id="org_other")
    store.orgs.update(other.orgs)
    store.members.update(other.members)
    theirs = api_keys.create_key(
        keys_deps(store, clock),
        as_member(store, "mallory", "org_other"),
        CreateApiKeyRequest(name="x", role=Role.VIEWER),
        INFO,
    )
    with pytest.raises(NotFound):
        api_keys.revoke_key(keys_deps(store, clock), as_member(store, "olga"), theirs.key_id, INFO)
    assert store.keys[theirs.key_id].revoked_at is None


def test_a_name_is_one_active_key_of_the_org_until_revoked_or_expired() -> None:
    # GIVEN an active key named "CI deploys"
    store, clock = org_with(("olga", Role.OWNER))
    deps, olga = keys_deps(store, clock), as_member(store, "olga")
    first = api_keys.create_key(deps, olga, CreateApiKeyRequest(name="CI deploys", role=Role.VIEWER), INFO)
    # WHEN another key is asked for under the same name (whatever its case) THEN a 409 names the name
    with pytest.raises(KeyNameTaken, match="ci deploys"):
        api_keys.create_key(deps, olga, CreateApiKeyRequest(name="ci deploys", role=Role.VIEWER), INFO)
    # AND once the first is revoked, the name is free again
    api_keys.revoke_key(deps, olga, first.key_id, INFO)
    second = api_keys.create_key(
        deps, olga, CreateApiKeyRequest(name="CI deploys", role=Role.VIEWER, expires_in_days=1), INFO
    )
    # AND an expired key frees its name too
    clock.advance(timedelta(days=1).total_seconds())
    third = api_keys.create_key(deps, olga, CreateApiKeyRequest(name="CI deploys", role=Role.VIEWER), INFO)
    assert len({first.key_id, second.key_id, third.key_id}) == 3


# -- the ceiling, under random histories -----------------------------------------------------------

STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("create"), st.sampled_from(ROLES)),
        st.tuples(st.just("set_creator_role"), st.sampled_from(ROLES)),
        st.tuples(st.just("remove_creator"), st.none()),
        st.tuples(st.just("re_add_creator"), st.sampled_from(ROLES)),
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(creator_role=st.sampled_from(ROLES), steps=STEPS)
def test_a_key_never_acts_above_its_creators_current_role(
    creator_role: Role, steps: list[tuple[str, Role | None]]
) -> None:
    # GIVEN an org with a fixed owner and a creator at some role
    store, clock = org_with(("olga", Role.OWNER), ("cleo", creator_role))
    deps, odeps = keys_deps(store, clock), orgs_deps(store, clock)
    olga = as_member(store, "olga")
    keys: list[tuple[str, Role]] = []
    revoked_for_good: set[str] = set()  # made before the creator was removed
    for action, role in steps:
        current = store.role_of(ORG, "cleo")
        if action == "create" and current is not None and role is not None:
            try:
                created = api_keys.create_key(
                    deps,
                    as_member(store, "cleo"),
                    CreateApiKeyRequest(name=f"k{len(keys)}", role=role),  # one name per active key
                    INFO,
                )
                keys.append((created.key, role))
                # THEN a key is only ever made at or below the creator's role at that moment
                assert current.at_least(role)
            except Forbidden:
                assert not current.at_least(role)
        elif action == "set_creator_role" and current is not None and role is not None:
            orgs.change_role(odeps, olga, "cleo", ChangeRoleRequest(role=role), INFO)
        elif action == "remove_creator" and current is not None:
            orgs.remove_member(odeps, olga, "cleo", INFO)
            revoked_for_good.update(k for k, _ in keys)
        elif action == "re_add_creator" and current is None and role is not None:
            from functions.tenancy.models.api import AddMemberRequest

            orgs.add_member(odeps, olga, AddMemberRequest(user_id="cleo", role=role), INFO)
        clock.advance(1)
        # AND at every point every key acts at most at its own role and its creator's current role
        now_role = store.role_of(ORG, "cleo")
        for key, key_role in keys:
            if now_role is None or key in revoked_for_good:
                with pytest.raises(InvalidToken):
                    api_keys.authenticate(store, StaticPepper(), key, clock())
                continue
            acting = api_keys.authenticate(store, StaticPepper(), key, clock()).role
            assert acting is Role.lowest(key_role, now_role)
            assert now_role.at_least(acting) and key_role.at_least(acting)
