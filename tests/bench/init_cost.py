"""INIT cost of a handler: CPU time of a fresh interpreter importing it, as a ratio to `python -c pass`.

Ratios measured in one run, interleaved, so a noisy machine moves numerator and denominator alike.
Where a handler's INIT goes comes from `python -X importtime` (``breakdown``).
"""

from __future__ import annotations

import os
import re
import resource
import site
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from infra.definitions import REPO_ROOT, function
from infra.local.cloud import LocalCloud

BARE = "pass"
# INIT only: the interpreter ends without tearing down (no module cleanup, no final collection), as
# Lambda's never does at INIT. What `python -c` measures includes that teardown, which rewards what is
# cheap to tear down (what gc.freeze put out of the collector's reach) and is no part of a cold start.
_NO_TEARDOWN = "\nimport os; os._exit(0)"

# What a function written the house way must load, and nothing of ours: a pydantic model, Powertools'
# Logger, and as the function needs them a botocore client (built, as a receiver builds it at INIT),
# pynamodb (with botocore), Powertools' REST resolver with validation, PyJWT with cryptography.
_MODEL = "from pydantic import BaseModel\nclass M(BaseModel):\n    x: int\n"
_LOGGER = "from aws_lambda_powertools import Logger\nLogger('x')\n"
_CLIENT = (
    "import botocore.session\nbotocore.session.get_session().create_client({!r}, region_name='us-east-1')\n"
)
_PYNAMODB = "import pynamodb.models\n"
_REST = (
    "from aws_lambda_powertools.event_handler import APIGatewayRestResolver\n"
    "APIGatewayRestResolver(enable_validation=True)\n"
)
_JWT = "import jwt, jwt.algorithms\n"


@dataclass(frozen=True)
class Floor:
    client: str | None = None  # the botocore client a receiver's main path calls
    writes_dynamodb: bool = False
    rest: bool = False
    jwt: bool = False

    @property
    def label(self) -> str:
        parts = ["pydantic model", "Logger"]
        parts += [f"a built {self.client} client"] if self.client else []
        parts += ["pynamodb"] if self.writes_dynamodb else []
        parts += ["REST resolver (validation)"] if self.rest else []
        parts += ["PyJWT+cryptography"] if self.jwt else []
        return "floor: " + ", ".join(parts)

    @property
    def code(self) -> str:
        return (
            _MODEL
            + _LOGGER
            + (_CLIENT.format(self.client) if self.client else "")
            + (_PYNAMODB if self.writes_dynamodb else "")
            + (_REST if self.rest else "")
            + (_JWT if self.jwt else "")
        )


@dataclass(frozen=True)
class InitCost:
    label: str
    ratio: float
    cpu_ms: float
    init_only_ratio: float | None = None  # without the interpreter's teardown, when asked for


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


def _environment(cloud: LocalCloud | None) -> dict[str, str]:
    env = {**os.environ, **(cloud or LocalCloud()).environment()}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), *site.getsitepackages()])
    if cloud is None:
        env.pop("AWS_ENDPOINT_URL", None)
    return env


def handler_import(function_key: str) -> str:
    module, _, attr = function(function_key).handler.rpartition(".")
    return f"import {module} as m; m.{attr}"


def measure(
    targets: dict[str, str], rounds: int = 9, cloud: LocalCloud | None = None, init_only: Iterable[str] = ()
) -> list[InitCost]:
    """``targets``: label -> python code run in a fresh interpreter. Returns each one's ratio to bare,
    and for the labels in ``init_only`` also its ratio without teardown (to bare without teardown).
    With ``cloud`` (in server mode), the code may call it: its functions' environment and endpoint."""
    env = _environment(cloud)
    without = {f"{label} {_NO_TEARDOWN}": targets[label] + _NO_TEARDOWN for label in init_only}
    runs = {BARE: BARE, **targets, **({_NO_TEARDOWN: _NO_TEARDOWN} if without else {}), **without}
    for code in runs.values():  # warm the .pyc caches and the page cache once
        _cpu_seconds(code, env)
    samples: dict[str, list[float]] = {label: [] for label in runs}
    for _ in range(rounds):
        for label, code in runs.items():
            samples[label].append(_cpu_seconds(code, env))
    # The fastest of N: noise from other processes only ever adds CPU time, never removes it.
    fastest = {label: min(times) for label, times in samples.items()}
    return [
        InitCost(
            label,
            fastest[label] / fastest[BARE],
            fastest[label] * 1000,
            fastest[f"{label} {_NO_TEARDOWN}"] / fastest[_NO_TEARDOWN] if label in init_only else None,
        )
        for label in targets
    ]


# Where INIT goes: each module's own import time (-X importtime "self"), charged to the package that
# asked for it. A standard-library module counts for the first package of ours or of a dependency above
# it (asyncio "for aws_lambda_powertools"), or "python" when the interpreter itself loads it. Our
# modules' own time is their pydantic models being built and their module-level work (settings read,
# clients built at INIT).
OURS = "functions"
_PACKAGES = {
    "pydantic_core": "pydantic",
    "annotated_types": "pydantic",
    "typing_inspection": "pydantic",
    "typing_extensions": "pydantic",
    "urllib3": "botocore",
    "dateutil": "botocore",
    "six": "botocore",
    "jmespath": "aws_lambda_powertools",
    "jwt": "jwt+cryptography",
    "cryptography": "jwt+cryptography",
    "cffi": "jwt+cryptography",
    "_cffi_backend": "jwt+cryptography",
}


@dataclass(frozen=True)
class Breakdown:
    total_ms: float
    by_package: list[tuple[str, float]]  # share of the total, largest first
    ours: list[tuple[str, float]]  # our modules' own share, largest first


def _package(module: str) -> str | None:
    top = module.split(".")[0]
    return None if top in sys.stdlib_module_names else _PACKAGES.get(top, top)


def breakdown(code: str, runs: int = 3) -> Breakdown:
    """``python -X importtime`` of ``code``, the run with the least import time of ``runs``."""
    env = _environment(None)
    best: list[tuple[int, int, str]] = []
    for _ in range(runs):
        done = subprocess.run(
            [str(_clean_python()), "-X", "importtime", "-c", code], env=env, capture_output=True, text=True
        )
        rows = []  # (depth, self us, module), children before their parent
        for line in done.stderr.splitlines():
            if line.startswith("import time:") and "self [us]" not in line:
                own, _, name = line.removeprefix("import time:").split("|")
                rows.append(((len(name) - len(name.lstrip())) // 2, int(own), name.strip()))
        if not best or sum(r[1] for r in rows) < sum(r[1] for r in best):
            best = rows
    charged: Counter[str] = Counter()
    ours: Counter[str] = Counter()
    owners: dict[int, str] = {}  # depth -> the package a module at that depth is charged to
    for depth, self_us, name in reversed(best):  # parents first
        package = _package(name) or owners.get(depth - 1, "python")
        owners[depth] = package
        charged[package] += self_us
        if name.startswith(f"{OURS}."):
            ours[name] += self_us
    total = sum(charged.values()) or 1
    return Breakdown(
        total_ms=total / 1000,
        by_package=[(p, us / total) for p, us in charged.most_common()],
        ours=[(m, us / total) for m, us in ours.most_common()],
    )


def instructions(targets: dict[str, str]) -> list[InitCost]:
    """The same ratios by instructions executed (valgrind's count): the same on a busy machine as on
    an idle one, where CPU time moves by 10-15 % from one run to the next. Slow (about 50x)."""
    env = _environment(None)
    command = ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null"]

    def count(code: str) -> int:
        _cpu_seconds(code, env)  # .pyc written first, as measure() does
        done = subprocess.run(
            [*command, str(_clean_python()), "-c", code], env=env, capture_output=True, text=True, check=True
        )
        found = re.search(r"I\s+refs:\s+([\d,]+)", done.stderr)
        if found is None:
            raise RuntimeError(f"no instruction count from valgrind: {done.stderr[-500:]}")
        return int(found.group(1).replace(",", ""))

    bare = count(BARE)
    return [InitCost(label, n / bare, 0.0) for label, n in ((k, count(c)) for k, c in targets.items())]
