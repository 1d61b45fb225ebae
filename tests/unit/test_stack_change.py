"""A change to a stack: merged over the stored spec (RFC 7386), validated whole, secret values kept
apart (what to write, what goes away), the stack's identity and place never changed."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr, ValidationError

from functions.stacks.exceptions import InvalidStackRequest
from functions.stacks.logic.changes import apply_change, change_summary, merge, same_spec
from functions.stacks.models.spec import SECRET_MASK as MASK
from functions.stacks.models.spec import StackChange, StackSpec, masked

CONNECTION = "conn_" + "a" * 26


def stored(**container: Any) -> StackSpec:
    spec = StackSpec.model_validate(
        {
            "connection_id": CONNECTION,
            "region": "us-east-1",
            "name": "shop",
            "stage": "dev",
            "container": {"image": "public.ecr.aws/nginx/nginx:1.27", **container},
            "database": {},
        },
        strict=False,
    )
    return masked(spec)


def js(spec: StackSpec) -> dict[str, Any]:
    """The spec as JSON, as it is stored and shown."""
    return spec.model_dump(mode="json")


def change(body: dict[str, Any]) -> StackChange:
    return StackChange.model_validate(body)


def test_only_what_is_given_changes() -> None:
    before = stored(env={"A": "1", "B": "2"})
    changed = apply_change(before, change({"container": {"desired_count": 3, "env": {"A": None, "C": "3"}}}))
    after = js(changed.stored)
    assert after["container"]["desired_count"] == 3
    assert after["container"]["env"] == {"B": "2", "C": "3"}
    assert {k: v for k, v in after.items() if k != "container"} == {
        k: v for k, v in js(before).items() if k != "container"
    }


def test_null_removes_the_bastion_and_the_certificate_but_never_the_database() -> None:
    before = stored()
    with_bastion = apply_change(before, change({"bastion": {}})).stored
    assert js(with_bastion)["bastion"] == {"instance_type": "t3.micro"}
    assert js(apply_change(with_bastion, change({"bastion": None})).stored)["bastion"] is None
    with pytest.raises(InvalidStackRequest) as refused:
        apply_change(before, change({"database": None}))
    assert refused.value.field == "database"


def test_a_database_added_by_a_change_gets_its_defaults() -> None:
    before = stored().model_copy(update={"database": None})
    after = js(apply_change(before, change({"database": {"instance_class": "db.t3.small"}})).stored)
    assert after["database"]["instance_class"] == "db.t3.small"
    assert after["database"]["allocated_storage_gb"] == 20


@pytest.mark.parametrize("field", ["connection_id", "region", "name", "stage", "network"])
def test_the_stacks_identity_and_place_cannot_be_changed(field: str) -> None:
    with pytest.raises(ValidationError) as refused:
        change({field: "anything"})
    assert refused.value.errors()[0]["loc"] == (field,)


def test_a_change_that_breaks_the_whole_spec_names_the_field() -> None:
    with pytest.raises(InvalidStackRequest) as refused:
        apply_change(stored(), change({"container": {"desired_count": 9}}))
    assert refused.value.field == "container.desired_count"
    assert "max_count" in refused.value.message


def test_secret_values_are_set_apart_masked_in_what_is_kept_and_never_in_an_error() -> None:
    before = stored(secret_env={"OLD": MASK, "GONE": MASK})
    body = {"container": {"secret_env": {"NEW": "v@lue-1", "GONE": None}}}
    changed = apply_change(before, change(body))
    assert changed.write_secrets == {"NEW": SecretStr("v@lue-1")}
    assert changed.removed_secrets == {"GONE"}
    assert js(changed.stored)["container"]["secret_env"] == {"NEW": MASK, "OLD": MASK}
    assert "v@lue-1" not in repr(changed) + str(changed.stored)
    with pytest.raises(InvalidStackRequest) as refused:
        apply_change(before, change({"container": {"secret_env": {"PGHOST": "secret!!"}}}))
    assert "secret!!" not in str(refused.value)


def test_the_same_spec_is_no_change_but_a_new_secret_value_is() -> None:
    before = stored()
    assert same_spec(before, apply_change(before, change({"container": {"desired_count": 2}})))
    assert same_spec(before, apply_change(before, change({})))
    assert not same_spec(before, apply_change(before, change({"container": {"secret_env": {"K": "v"}}})))


SOURCE = {"provider": "github", "repository": "acme/shop", "branch": "main"}


def test_a_source_is_set_replaced_as_a_whole_and_removed_by_null() -> None:
    # GIVEN a stack without a source
    before = stored()
    # WHEN a change sets one
    tracked = apply_change(before, change({"source": SOURCE}))
    # THEN it is kept with its defaults, and the summary names it
    assert js(tracked.stored)["source"] == {**SOURCE, "dockerfile": "Dockerfile", "context": "."}
    assert change_summary(before, tracked) == "changes source.*"
    # WHEN another change gives a source with only another branch and context
    other = {**SOURCE, "branch": "release/2", "context": "web"}
    replaced = apply_change(tracked.stored, change({"source": other}))
    # THEN that is the source, whole (a left-out dockerfile is the default again)
    assert js(replaced.stored)["source"] == {**other, "dockerfile": "Dockerfile"}
    assert change_summary(tracked.stored, replaced) == "changes source.branch, source.context"
    # WHEN a change says source: null  THEN the stack tracks nothing; leaving it out keeps it
    assert js(apply_change(replaced.stored, change({"source": None})).stored)["source"] is None
    assert same_spec(replaced.stored, apply_change(replaced.stored, change({"container": {}})))


@pytest.mark.parametrize(
    ("source", "field"),
    [
        ({**SOURCE, "branch": "refs/heads/main"}, "source.branch"),
        ({**SOURCE, "repository": "acme"}, "source.repository"),
        ({**SOURCE, "dockerfile": "../Dockerfile"}, "source.dockerfile"),
        ({**SOURCE, "context": "/srv"}, "source.context"),
        ({**SOURCE, "provider": "bitbucket"}, "source.provider"),
        ({"provider": "github", "repository": "acme/shop"}, "source.branch"),
    ],
)
def test_a_bad_source_in_a_change_is_refused_naming_the_field(source: dict[str, Any], field: str) -> None:
    # WHEN a change carries a bad source  THEN the error names the field under source
    with pytest.raises(ValidationError) as refused:
        change({"source": source})
    assert ".".join(map(str, refused.value.errors()[0]["loc"])) == field


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=8,
)


@given(target=json_values, patch=json_values)
def test_merge_follows_rfc_7386(target: Any, patch: Any) -> None:
    merged = merge(target, patch)
    if not isinstance(patch, dict):
        assert merged == patch
        return
    assert isinstance(merged, dict)
    for key, value in patch.items():
        if value is None:
            assert key not in merged
        elif not isinstance(value, dict):
            assert merged[key] == value
    if isinstance(target, dict):
        for key in target.keys() - patch.keys():
            assert merged[key] == target[key]
    # applying the same patch twice changes nothing more (idempotent)
    assert merge(merged, patch) == merged
