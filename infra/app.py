"""The CDK app: ``python -m infra.app [--outdir DIR] [--check] [-c key=value ...]``.

Builds the home-region stack and one ``CallbackTopicStack`` per supported region, checks them with
cdk-nag (any unacknowledged finding fails synthesis), synthesizes, and with ``--check`` runs
cfn-lint on every template of the assembly. The CDK CLI runs it through ``cdk.json``.

Context (``-c key=value`` here, or the CDK CLI's ``-c`` / ``cdk.json``):
- ``stage`` (default ``dev``). Precedence: ``-c`` given to this script, then ``STACKPILOT_STAGE``,
  then CDK CLI context / ``cdk.json``. (The CLI merges ``cdk.json`` and its own ``-c`` into one,
  so the environment variable must win over both for ``STACKPILOT_STAGE=prod make deploy`` to work.)
- ``jwt_issuer`` (default ``https://example.auth0.com/``), ``jwt_audience`` (``stackpilot-api``);
  the JWKS URL is the issuer's ``.well-known/jwks.json``.
- ``api_rate_limit`` / ``api_burst_limit``: the stage's default throttling.
- ``reserved_concurrency``: per function (default 10; 0 leaves it unset).
- ``layer_dir``: a prebuilt layer directory (holding ``python/``); by default the layer is built
  (or found up to date) by ``infra.layer``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")

import aws_cdk as cdk

from infra import layer
from infra.constructs import nag
from infra.constructs.callback_topics import CallbackTopicStack
from infra.constructs.service_function import CONTEXT_LAYER_DIR
from infra.definitions import HOME_REGION, REPO_ROOT, SUPPORTED_REGIONS, TOPICS
from infra.stack import Settings, StackpilotStack

# Physical names embed the stage; the service bucket's name caps it at 16 characters.
_STAGE = re.compile(r"^[a-z][a-z0-9-]{0,15}$")


def project_context() -> dict[str, object]:
    """``cdk.json``'s context (feature flags, defaults), so a direct run synthesizes what the CLI does."""
    return dict(json.loads((REPO_ROOT / "cdk.json").read_text()).get("context", {}))


def settings_from(app: cdk.App, stage: str | None = None) -> Settings:
    def context(key: str, default: object) -> object:
        value = app.node.try_get_context(key)
        return default if value is None or value == "" else value

    defaults = Settings()
    stage = stage or os.environ.get("STACKPILOT_STAGE") or str(context("stage", defaults.stage))
    if not _STAGE.match(stage):
        raise ValueError(f"stage {stage!r} must match {_STAGE.pattern}")
    return Settings(
        stage=stage,
        jwt_issuer=str(context("jwt_issuer", defaults.jwt_issuer)),
        jwt_audience=str(context("jwt_audience", defaults.jwt_audience)),
        api_rate_limit=int(str(context("api_rate_limit", defaults.api_rate_limit))),
        api_burst_limit=int(str(context("api_burst_limit", defaults.api_burst_limit))),
    )


def build_app(app: cdk.App, *, stage: str | None = None) -> list[cdk.Stack]:
    """Add stackpilot's stacks (and the cdk-nag packs) to ``app``; returns [home stack, topic stacks...]."""
    settings = settings_from(app, stage)
    account = os.environ.get("CDK_DEFAULT_ACCOUNT")  # set by the CDK CLI; otherwise a token
    nag.add_packs(app)
    home = StackpilotStack(
        app,
        f"stackpilot-{settings.stage}",
        settings=settings,
        description=f"stackpilot {settings.stage}: control plane (API, workflows, tables, bus)",
        env=cdk.Environment(account=account, region=HOME_REGION),
    )
    stacks: list[cdk.Stack] = [home]
    for topic in TOPICS:
        for region in topic.regions:
            topic_stack = CallbackTopicStack(
                app,
                f"stackpilot-{settings.stage}-{topic.key}-{region}",
                topic=topic,
                stage=settings.stage,
                region=region,
                home_region=HOME_REGION,
                account=account,
            )
            topic_stack.add_stack_dependency(home, "the subscription delivers to the home region's function")
            stacks.append(topic_stack)
    return stacks


def cfn_lint(templates: list[Path]) -> int:
    executable = Path(sys.executable).parent / "cfn-lint"
    command = str(executable) if executable.exists() else shutil.which("cfn-lint")
    if command is None:
        print("error: cfn-lint not found", file=sys.stderr)
        return 1
    result = subprocess.run(
        [
            command,
            "--non-zero-exit-code",
            "error",
            "--regions",
            *SUPPORTED_REGIONS,
            "--",
            *map(str, templates),
        ],
        check=False,
    )
    return result.returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.app", description="Synthesize the stackpilot CDK app"
    )
    parser.add_argument("--outdir", default=None, help="cloud assembly directory (default: cdk.out)")
    parser.add_argument("--check", action="store_true", help="also run cfn-lint on every template")
    parser.add_argument("-c", "--context", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args(argv)
    explicit: dict[str, object] = dict(item.split("=", 1) for item in args.context)
    # Under the CDK CLI the output directory comes from CDK_OUTDIR; by hand, from --outdir.
    outdir = args.outdir or os.environ.get("CDK_OUTDIR") or "cdk.out"
    app = cdk.App(outdir=outdir, context={**project_context(), **explicit})
    if not app.node.try_get_context(CONTEXT_LAYER_DIR):
        layer.build(log=lambda line: print(line, file=sys.stderr))  # a no-op when up to date
    try:
        build_app(app, stage=str(explicit["stage"]) if explicit.get("stage") else None)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        assembly = app.synth()
    except RuntimeError as error:  # jsii surfaces cdk-nag's ValidationFailed as RuntimeError
        print(f"synthesis failed: {error}", file=sys.stderr)
        for line in _violations(Path(outdir) / "validation-report.json"):
            print(f"  {line}", file=sys.stderr)
        return 1
    templates = [Path(stack.template_full_path) for stack in assembly.stacks]
    print(f"synthesized {len(templates)} templates into {assembly.directory}", file=sys.stderr)
    if args.check:
        return cfn_lint(templates)
    return 0


def _violations(report: Path) -> list[str]:
    if not report.is_file():
        return []
    return [
        f"{violation['ruleName']}  {construct['constructPath']}"
        for plugin in json.loads(report.read_text()).get("pluginReports", [])
        for violation in plugin.get("violations", [])
        for construct in violation["violatingConstructs"]
    ]


if __name__ == "__main__":
    sys.exit(main())
