"""Options shared by every tier."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--fuzz-deep",
        action="store_true",
        default=False,
        help="tests/contract/test_api_fuzz.py: many more examples per API operation (make fuzz)",
    )


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under ``-n N --dist loadgroup`` each worker suffixes the node id of an ``xdist_group`` test with
    ``@<group>`` so the scheduler keeps the group on one worker. If this pytest/xdist pair does not
    (pytest 9 with xdist 3.8 does not), the groups split silently and tests that share one local
    cloud or one CDK synth fail by chance: refuse to run instead."""
    if not getattr(config.option, "loadgroup", False):
        return
    marked = [item for item in items if item.get_closest_marker("xdist_group")]
    if marked and not marked[0].nodeid.endswith(
        "@" + str(marked[0].get_closest_marker("xdist_group").args[0])
    ):
        raise pytest.UsageError("xdist_group marks are not honoured by this pytest/pytest-xdist pair")
