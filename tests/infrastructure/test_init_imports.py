"""What each Lambda loads at INIT (`make bench` measures what it costs): a fresh interpreter imports each
handler as Lambda does, and the modules it loaded are checked. Deterministic: no timing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from functools import cache
from typing import Any

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
def _init(function_key: str) -> dict[str, Any]:
    """The modules a fresh interpreter loaded importing the handler (in the order it began them), and the
    cyclic garbage collector's state once it is done."""
    module, _, attr = function(function_key).handler.rpartition(".")
    code = (
        f"import gc, json, sys\nimport {module} as m\nm.{attr}\n"
        "state = {'modules': list(sys.modules), 'gc': gc.isenabled(), 'frozen': gc.get_freeze_count()}\n"
        "print(json.dumps(state))"
    )
    env = {**os.environ, **LocalCloud().environment(), "PYTHONPATH": str(REPO_ROOT)}
    env.pop("AWS_ENDPOINT_URL", None)  # INIT makes no call
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True, cwd=REPO_ROOT
    )
    found: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return found


def loaded_at_init(function_key: str) -> frozenset[str]:
    return frozenset(_init(function_key)["modules"])


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


@pytest.mark.parametrize("function_key", [f.key for f in FUNCTIONS])
def test_init_runs_without_the_cyclic_collector_and_ends_with_it_running(function_key: str) -> None:
    # GIVEN a fresh interpreter WHEN it imports the function's handler
    init = _init(function_key)
    # THEN functions.startup was the first of our modules it began (it pauses the collector), after the
    # handler module itself and its packages (empty) ...
    handler = function(function_key).handler.rpartition(".")[0]
    path = {handler.rsplit(".", n)[0] for n in range(handler.count("."))}
    ours = [name for name in init["modules"] if name.startswith("functions.") and name not in path]
    assert ours[0] == "functions.startup"
    # ... and the handler said INIT was over: the collector runs, with what INIT built frozen
    assert init["gc"] is True
    assert init["frozen"] > 10_000


def test_only_the_first_init_in_a_process_pauses_and_freezes() -> None:
    # GIVEN one process (the local cloud's) that imports one handler, then another, then the first anew
    code = (
        "import gc, importlib, sys\n"
        "import functions.stacks.handlers.api\n"
        "first = gc.get_freeze_count()\n"
        "later = []\n"
        "gc.freeze = lambda: later.append(1)\n"
        "import functions.accounts.handlers.api\n"
        "del sys.modules['functions.stacks.handlers.api']\n"
        "import functions.stacks.handlers.api\n"
        "print(first, len(later), gc.isenabled())\n"
    )
    env = {**os.environ, **LocalCloud().environment(), "PYTHONPATH": str(REPO_ROOT)}
    env.pop("AWS_ENDPOINT_URL", None)
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True, cwd=REPO_ROOT
    )
    first, later_freezes, enabled = done.stdout.split()
    # THEN the first froze what it built, the later ones froze nothing (no garbage of the process made
    # permanent), and the collector runs
    assert int(first) > 10_000
    assert later_freezes == "0"
    assert enabled == "True"
