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
