"""What each Lambda loads at INIT (`make bench` measures what it costs): a fresh interpreter imports each
handler as Lambda does, and the modules it loaded are checked. Deterministic: no timing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from functools import cache

import pytest

from infra.definitions import FUNCTIONS, REPO_ROOT, function
from infra.local.cloud import LocalCloud

# Never at INIT in any function: pydantic-settings (~4x a bare interpreter for its import alone: a plain
# model reads the environment), boto3 (botocore clients suffice), troposphere (only the step that
# renders a template imports it).
NEVER = ("pydantic_settings", "boto3", "troposphere")

# A function loads the use case it serves, not its neighbours' (composition builds each lazily).
NOT_LOADED = {
    "tenancy-authorizer": ("functions.tenancy.models.api", "functions.tenancy.logic.orgs"),
    "accounts-api": (
        "functions.accounts.logic.callback",
        "functions.accounts.logic.health",
        "functions.accounts.logic.verification",
        "functions.accounts.integrations.role_probe",
    ),
    "accounts-callback": ("functions.accounts.logic.connections", "functions.accounts.logic.health"),
    "stacks-api": ("functions.stacks.logic.steps", "functions.stacks.logic.reconcile"),
    "stacks-status-event": (
        "functions.stacks.logic.requests",
        "functions.stacks.logic.steps",
        "functions.stacks.integrations.customer",
    ),
}


@cache
def loaded_at_init(function_key: str) -> frozenset[str]:
    module, _, attr = function(function_key).handler.rpartition(".")
    code = f"import json, sys\nimport {module} as m\nm.{attr}\nprint(json.dumps(sorted(sys.modules)))"
    env = {**os.environ, **LocalCloud().environment(), "PYTHONPATH": str(REPO_ROOT)}
    env.pop("AWS_ENDPOINT_URL", None)  # INIT makes no call
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True, cwd=REPO_ROOT
    )
    return frozenset(json.loads(done.stdout.splitlines()[-1]))


@pytest.mark.parametrize("function_key", [f.key for f in FUNCTIONS])
def test_no_function_loads_what_its_init_never_needs(function_key: str) -> None:
    # GIVEN a fresh interpreter WHEN it imports the function's handler THEN none of these came with it
    modules = loaded_at_init(function_key)
    assert [name for name in NEVER if name in modules] == []


@pytest.mark.parametrize("function_key", sorted(NOT_LOADED))
def test_a_function_loads_its_own_use_case_only(function_key: str) -> None:
    modules = loaded_at_init(function_key)
    assert function(function_key).handler.rpartition(".")[0] in modules
    assert [name for name in NOT_LOADED[function_key] if name in modules] == []
