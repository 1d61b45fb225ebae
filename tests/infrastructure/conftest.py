"""The CDK app, synthesized once per test session (and the scanners started on it right away).

aws_cdk is imported inside the fixtures: other tests in this folder do not pay for jsii.
The layer asset points at a placeholder directory so no test downloads wheels; asset staging is
off, so nothing is copied either (``make synth`` uses the real layer).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.definitions import REPO_ROOT, SUPPORTED_REGIONS
from tests.infrastructure.synthesis import STAGE, Scan, Synthesis

CHECKOV_CANDIDATES = (REPO_ROOT / ".venv-checkov" / "bin" / "checkov", Path("/tmp/probe-checkov/bin/checkov"))


@pytest.fixture(scope="session")
def synthesis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synthesis]:
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    os.environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")
    import aws_cdk as cdk

    from infra.app import build_app, project_context
    from infra.constructs.service_function import CONTEXT_LAYER_DIR

    layer = tmp_path_factory.mktemp("layer")
    (layer / "python").mkdir()
    (layer / "python" / "PLACEHOLDER").write_text("tests do not build the layer\n")
    outdir = tmp_path_factory.mktemp("cdk.out")
    app = cdk.App(
        outdir=str(outdir),
        context={
            **project_context(),
            "aws:cdk:disable-asset-staging": True,
            CONTEXT_LAYER_DIR: str(layer),
        },
    )
    stacks = build_app(app, stage=STAGE)
    error = None
    try:
        app.synth()
    except RuntimeError as exc:  # cdk-nag findings: the templates are still written
        error = str(exc)
    templates = {
        s.stack_name: json.loads((outdir / f"{s.artifact_id}.template.json").read_text()) for s in stacks
    }
    synthesized = Synthesis(
        app=app,
        outdir=outdir,
        error=error,
        templates=templates,
        regions={s.stack_name: s.region for s in stacks},
        home_stack=stacks[0].stack_name,
    )
    # The scanners run side by side while the other tests read the templates.
    synthesized.scans = {
        name: Scan(subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        for name, command in _scanner_commands(synthesized).items()
    }
    yield synthesized
    for scan in synthesized.scans.values():
        if scan.process.poll() is None:
            scan.process.kill()
            scan.process.wait()


def _scanner_commands(synthesis: Synthesis) -> dict[str, list[str]]:
    templates = [str(synthesis.outdir / f"{name}.template.json") for name in synthesis.templates]
    commands = {
        "cfn-lint": [
            str(REPO_ROOT / ".venv" / "bin" / "cfn-lint"),
            "--non-zero-exit-code",
            "error",
            "--format",
            "parseable",
            "--regions",
            *SUPPORTED_REGIONS,
            "--",
            *templates,
        ],
    }
    checkov = next((c for c in CHECKOV_CANDIDATES if c.exists()), None)
    if checkov is not None:
        commands["checkov"] = [
            str(checkov),
            "-d",
            str(synthesis.outdir),
            "--framework",
            "cloudformation",
            "--skip-download",
            "--compact",  # not --quiet: the report must list skipped checks too
            "-o",
            "json",
        ]
    return commands
