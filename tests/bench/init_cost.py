"""INIT cost of a handler: CPU time of a fresh interpreter importing it, as a ratio to `python -c pass`.

Ratios measured in one run, interleaved, so a noisy machine moves numerator and denominator alike.
"""

from __future__ import annotations

import os
import resource
import site
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from infra.definitions import REPO_ROOT, function
from infra.local.cloud import LocalCloud

BARE = "pass"


@dataclass(frozen=True)
class InitCost:
    label: str
    ratio: float
    cpu_ms: float


def _cpu_seconds(code: str, env: dict[str, str]) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([str(_clean_python()), "-c", code], env=env, check=True, stdout=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _clean_python() -> Path:
    """An interpreter with no site hooks of its own, as in Lambda: the project venv's editable-install
    finder (and this machine's sandbox .pth in the base install) cost as much as Python itself.
    Dependencies and the repo come in through PYTHONPATH, as a layer and a function's code do."""
    venv = REPO_ROOT / ".stackpilot" / "bench-venv"
    python = venv / "bin" / "python"
    if not python.exists():
        venv_base = Path(sys.base_prefix) / "bin" / "python3"
        subprocess.run([str(venv_base), "-m", "venv", "--without-pip", str(venv)], check=True)
    return python


def handler_import(function_key: str) -> str:
    module, _, attr = function(function_key).handler.rpartition(".")
    return f"import {module} as m; m.{attr}"


def measure(targets: dict[str, str], rounds: int = 9, cloud: LocalCloud | None = None) -> list[InitCost]:
    """``targets``: label -> python code run in a fresh interpreter. Returns each one's ratio to bare.
    With ``cloud`` (in server mode), the code may call it: its functions' environment and endpoint."""
    env = {**os.environ, **(cloud or LocalCloud()).environment()}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), *site.getsitepackages()])
    if cloud is None:
        env.pop("AWS_ENDPOINT_URL", None)
    for code in targets.values():  # warm the .pyc caches and the page cache once
        _cpu_seconds(code, env)
    samples: dict[str, list[float]] = {label: [] for label in (BARE, *targets)}
    for _ in range(rounds):
        samples[BARE].append(_cpu_seconds(BARE, env))
        for label, code in targets.items():
            samples[label].append(_cpu_seconds(code, env))
    # The fastest of N: noise from other processes only ever adds CPU time, never removes it.
    bare = min(samples[BARE])
    return [InitCost(label, min(samples[label]) / bare, min(samples[label]) * 1000) for label in targets]
