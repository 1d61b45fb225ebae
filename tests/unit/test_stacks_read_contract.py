"""The stacks domain reads the accounts domain's connections table through its own narrow model:
it must stay a true subset of the table the accounts domain writes (same keys, names and types)."""

from __future__ import annotations

from functions.accounts.dal.models import ConnectionModel
from functions.stacks.dal.models import ConnectionAccessModel


def test_the_stacks_view_of_connections_is_a_subset_of_the_accounts_table() -> None:
    theirs = ConnectionModel.get_attributes()
    ours = ConnectionAccessModel.get_attributes()
    for name, attribute in ours.items():
        assert name in theirs, f"{name} is not an attribute of the accounts table"
        assert type(attribute) is type(theirs[name]), name
        assert attribute.is_hash_key == theirs[name].is_hash_key, name
        assert attribute.is_range_key == theirs[name].is_range_key, name
        assert attribute.null == theirs[name].null or attribute.null, f"{name}: stricter than the table"
