"""The secrets use cases with in-memory adapters: versions, metadata only, audited changes."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from functions.secrets.exceptions import SecretConflict, SecretNotFound
from functions.secrets.logic import secrets
from functions.secrets.logic.secrets import SecretsDeps
from functions.secrets.models.secret import PutSecretRequest
from functions.shared.models.principal import Principal, Role
from tests.fakes.accounts import FakeClock
from tests.fakes.secrets import FakeDataKeys, InMemorySecretStore
from tests.unit.tenancy_builders import INFO

ADMIN = Principal(org_id="org_acme", role=Role.ADMIN, user_id="adam")
KEY = Principal(org_id="org_acme", role=Role.ADMIN, user_id="adam", principal_type="api_key", key_id="a" * 12)


def deps() -> SecretsDeps:
    return SecretsDeps(store=InMemorySecretStore(), keys=FakeDataKeys(), clock=FakeClock())


def put(d: SecretsDeps, value: str, who: Principal = ADMIN, name: str = "github.token") -> int:
    request = PutSecretRequest(value=SecretStr(value))
    return secrets.put_secret(d, who, name, request, INFO).version


def test_each_write_is_a_new_version_and_only_the_latest_is_revealed() -> None:
    d = deps()
    assert [put(d, "one"), put(d, "two", KEY)] == [1, 2]
    assert secrets.reveal(d, "org_acme", "github.token") == "two"
    [meta] = secrets.list_secrets(d, ADMIN)
    assert (meta.version, meta.updated_by) == (2, f"key:{'a' * 12}")
    assert "two" not in meta.model_dump_json()


def test_changes_are_audited_without_their_values() -> None:
    d = deps()
    put(d, "s3cr3t-value")
    secrets.delete_secret(d, ADMIN, "github.token", INFO)
    store = d.store
    assert isinstance(store, InMemorySecretStore)
    assert [(a.action, a.target, a.reason) for a in store.audited] == [
        ("secret.put", "secret:github.token", "version 1"),
        ("secret.delete", "secret:github.token", None),
    ]
    assert all("s3cr3t-value" not in a.model_dump_json() for a in store.audited)


def test_another_orgs_secret_is_not_listed_not_deletable_and_not_revealed() -> None:
    d = deps()
    put(d, "theirs", Principal(org_id="org_other", role=Role.OWNER, user_id="mallory"))
    assert secrets.list_secrets(d, ADMIN) == []
    with pytest.raises(SecretNotFound):
        secrets.delete_secret(d, ADMIN, "github.token", INFO)
    with pytest.raises(SecretNotFound):
        secrets.reveal(d, "org_acme", "github.token")


def test_a_write_that_lost_a_race_changes_nothing() -> None:
    # GIVEN a store whose version moved on between our read and our write
    d = deps()
    put(d, "one")
    store = d.store
    assert isinstance(store, InMemorySecretStore)
    meta, sealed = store.items[("org_acme", "github.token")]
    store.items[("org_acme", "github.token")] = (meta.model_copy(update={"version": 5}), sealed)
    real_get = store.get
    store.get = lambda org, name: (meta, sealed)  # type: ignore[method-assign]
    # WHEN we write THEN it is a conflict, and the stored secret is untouched
    with pytest.raises(SecretConflict):
        put(d, "two")
    store.get = real_get  # type: ignore[method-assign]
    assert store.items[("org_acme", "github.token")][0].version == 5
