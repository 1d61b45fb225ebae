"""The local cloud in-process, with the API front door on a free port: one per test module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.local import runtime
from tests.workflows.client import Api


@pytest.fixture(scope="module")
def stackpilot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[runtime.LocalStackpilot]:
    state_dir: Path = tmp_path_factory.mktemp("stackpilot-state")
    local = runtime.start(in_process=True, api_port=0, time_scale=0.05, state_dir=state_dir)
    try:
        yield local
    finally:
        local.stop()


@pytest.fixture(scope="module")
def admin(stackpilot: runtime.LocalStackpilot) -> Api:
    return Api(stackpilot, org_id="org_acme", role="admin")
