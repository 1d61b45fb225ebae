"""Build the common Lambda layer without Docker: ``python -m infra.layer [--force]``.

pip downloads the Lambda platform's wheels (``--platform manylinux…_<arch> --only-binary=:all:``)
of ``requirements/runtime.txt`` minus what the runtime already ships (boto3, botocore, s3transfer),
pinned by ``requirements/dev.lock`` so the layer holds the versions the tests ran against. Then a
Python of the Lambda runtime's minor version compiles hash-based ``.pyc`` (a missing or stale
``.pyc`` roughly doubles INIT time, and Lambda cannot write its own). Output:
``layers/common/build/python``. A stamp of the inputs makes a repeated build a no-op.

Runtime and architecture are decided here, once; ``ServiceFunction`` reads them from this module so
functions and layer cannot disagree:
- python3.12: the dev venv is 3.11, but bytecode is per minor version, so the ``.pyc`` are compiled
  by a real 3.12 interpreter (found below) rather than by the venv. 3.12 runs on Amazon Linux 2023
  and is supported by Lambda well past 3.11; the code keeps 3.11 syntax (ruff target py311) so the
  local cloud, which runs handlers in the venv, executes the same source.
- arm64 (Graviton): ~20 % cheaper per GB-second; every runtime dependency ships aarch64 wheels.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from infra.definitions import REPO_ROOT

LAMBDA_PYTHON = "3.12"
LAMBDA_ARCHITECTURE = "arm64"  # or "x86_64"
_MACHINE = {"arm64": "aarch64", "x86_64": "x86_64"}[LAMBDA_ARCHITECTURE]
# manylinux2014 (glibc 2.17) first; manylinux_2_28 too, for wheels that stopped publishing 2014 tags.
# Both run on the python3.12 runtime's Amazon Linux 2023 (glibc 2.34).
PLATFORMS = (f"manylinux2014_{_MACHINE}", f"manylinux_2_28_{_MACHINE}")
PROVIDED_BY_RUNTIME = ("boto3", "botocore", "s3transfer")

REQUIREMENTS = REPO_ROOT / "requirements" / "runtime.txt"
CONSTRAINTS = REPO_ROOT / "requirements" / "dev.lock"
BUILD_DIR = REPO_ROOT / "layers" / "common" / "build"
SITE_DIR = BUILD_DIR / "python"
STAMP = BUILD_DIR / ".stamp.json"  # excluded from the layer asset
RECIPE_VERSION = 1  # bump when the recipe below changes

_PYC_TAG = "cpython-" + LAMBDA_PYTHON.replace(".", "")


class LayerBuildError(RuntimeError):
    pass


def build(*, force: bool = False, log: Callable[[str], object] = print) -> Path:
    """Build the layer unless its inputs are unchanged; return the layer directory."""
    stamp = _stamp()
    if not force and SITE_DIR.is_dir() and STAMP.is_file() and json.loads(STAMP.read_text()) == stamp:
        log(f"layer up to date: {SITE_DIR.relative_to(REPO_ROOT)}")
        return BUILD_DIR
    compiler = find_lambda_python()
    shutil.rmtree(BUILD_DIR, ignore_errors=True)
    SITE_DIR.mkdir(parents=True)
    with tempfile.TemporaryDirectory() as tmp:
        requirements = Path(tmp) / "requirements.txt"
        requirements.write_text("\n".join(_requirements()) + "\n")
        log(f"pip: {', '.join(PLATFORMS)} cp{LAMBDA_PYTHON} -> {SITE_DIR.relative_to(REPO_ROOT)}")
        _run(
            sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
            "--no-compile", "--only-binary=:all:", "--implementation", "cp",
            "--python-version", LAMBDA_PYTHON, *(arg for p in PLATFORMS for arg in ("--platform", p)),
            "--target", str(SITE_DIR), "-r", str(requirements), "-c", str(CONSTRAINTS),
        )  # fmt: skip
    _remove_provided_by_runtime()
    shutil.rmtree(SITE_DIR / "bin", ignore_errors=True)  # console scripts: nothing runs them on Lambda
    log(f"compileall ({compiler}, checked-hash)")
    _run(compiler, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "checked-hash", str(SITE_DIR))
    _remove_foreign_bytecode()
    STAMP.write_text(json.dumps(stamp, indent=2, sort_keys=True))
    log(f"layer built: {_size_mb(SITE_DIR):.1f} MB unzipped")
    return BUILD_DIR


def find_lambda_python() -> str:
    """An interpreter of the Lambda runtime's minor version, to compile bytecode that matches it."""
    candidates = [
        os.environ.get("STACKPILOT_LAYER_PYTHON", ""),
        sys.executable,
        shutil.which(f"python{LAMBDA_PYTHON}") or "",
        *map(
            str,
            sorted(
                (Path.home() / ".pyenv" / "versions").glob(f"{LAMBDA_PYTHON}.*/bin/python{LAMBDA_PYTHON}")
            ),
        ),
        f"/usr/bin/python{LAMBDA_PYTHON}",
        f"/usr/local/bin/python{LAMBDA_PYTHON}",
    ]
    for candidate in filter(None, candidates):
        try:
            out = subprocess.run(
                [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                capture_output=True, text=True, timeout=30, check=False,
            )  # fmt: skip
        except OSError:
            continue
        if out.returncode == 0 and out.stdout.strip() == LAMBDA_PYTHON:
            return candidate
    raise LayerBuildError(
        f"no python{LAMBDA_PYTHON} found to compile the layer's bytecode for the Lambda runtime; "
        f"install one or point STACKPILOT_LAYER_PYTHON at it"
    )


def _requirements() -> list[str]:
    lines = [ln.split("#", 1)[0].strip() for ln in REQUIREMENTS.read_text().splitlines()]
    return [ln for ln in lines if ln and _project_name(ln) not in PROVIDED_BY_RUNTIME]


def _project_name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)
    return re.sub(r"[-_.]+", "-", match.group(0)).lower() if match else ""


def _remove_provided_by_runtime() -> None:
    # Pulled in transitively (pynamodb needs botocore); the runtime's copy is used instead.
    for name in PROVIDED_BY_RUNTIME:
        shutil.rmtree(SITE_DIR / name, ignore_errors=True)
        for dist_info in SITE_DIR.glob(f"{name}-*.dist-info"):
            shutil.rmtree(dist_info)


def _remove_foreign_bytecode() -> None:
    for pyc in SITE_DIR.rglob("*.pyc"):
        if pyc.parent.name != "__pycache__" or f".{_PYC_TAG}." not in pyc.name:
            pyc.unlink()
    for cache in sorted(SITE_DIR.rglob("__pycache__"), reverse=True):
        if not any(cache.iterdir()):
            cache.rmdir()


def _stamp() -> dict[str, object]:
    digest = hashlib.sha256()
    for path in (REQUIREMENTS, CONSTRAINTS):
        digest.update(path.read_bytes())
    return {
        "recipe": RECIPE_VERSION,
        "python": LAMBDA_PYTHON,
        "platforms": list(PLATFORMS),
        "inputs_sha256": digest.hexdigest(),
    }


def _size_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def _run(*cmd: str) -> None:
    result = subprocess.run(cmd, check=False)
    if result.returncode != 0:
        raise LayerBuildError(f"command failed ({result.returncode}): {' '.join(cmd)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.layer", description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="rebuild even if the inputs are unchanged")
    args = parser.parse_args(argv)
    try:
        build(force=args.force)
    except LayerBuildError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
