"""Quality gates over every variant of the application stack template: cfn-lint, checkov, IAM sanity.

Variants: NAT on/off x alb/api_gateway x database on/off x bastion on/off x new/existing VPC (32),
plus two with a certificate (one in a region whose ALB logs use the log-delivery service principal), plus
four tracking a source (its ECR repository, source bucket and CodeBuild project) across the others.
They are rendered once per module into a temporary directory, and both scanners start right away, side
by side, once over all files (cfn-lint in one process, checkov in another).

checkov runs from its own venv (``<repo>/.venv-checkov``) or from PATH; a missing checkov FAILS the
gate. Any checkov skip lives in the template (resource ``Metadata.checkov.skip`` with a comment): this
module asserts every skip has a reason and is still needed (a skip checkov no longer applies is stale).
"""

from __future__ import annotations

import fnmatch
import itertools
import json
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from functions.stacks.logic.network import SubnetFacts
from functions.stacks.logic.template import StackTemplateInput, render_stack_template, secret_name
from functions.stacks.models.spec import StackSpec

# One worker runs the whole module: the fixture that renders also starts both scanners.
pytestmark = pytest.mark.xdist_group("stack-template-gates")

REPO = Path(__file__).resolve().parents[2]
ACCOUNT = "123456789012"
BOUNDARY = (
    f"arn:aws:iam::{ACCOUNT}:policy/stackpilot-connection/stackpilot-boundary-abcdefghijklmnopqrstuvwxyz"
)
VPC_ID = "vpc-0123abcd"
SUBNETS = {
    "public": ("subnet-0a000001", "subnet-0a000002"),
    "private": ("subnet-0b000001", "subnet-0b000002"),
    "isolated": ("subnet-0c000001", "subnet-0c000002"),
}


def _body(
    region: str, *, nat: bool, front_door: str, database: bool, bastion: bool, vpc: str
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "connection_id": "conn_0123456789abcdefghijklmnop",
        "region": region,
        "name": "shop",
        "stage": "prod",
        "container": {
            "image": f"{ACCOUNT}.dkr.ecr.{region}.amazonaws.com/stackpilot-shop:1.4.2",
            "port": 3000,
            "health_check_path": "/healthz",
            "env": {"LOG_LEVEL": "info"},
            "secret_env": {"API_TOKEN": "value-never-rendered"},
        },
        "nat_instance": nat,
        "front_door": front_door,
    }
    if database:
        body["database"] = {}
    if bastion:
        body["bastion"] = {}
    if vpc == "existing":
        body["network"] = {
            "mode": "existing",
            "vpc_id": VPC_ID,
            "public_subnet_ids": list(SUBNETS["public"]),
            "private_subnet_ids": list(SUBNETS["private"]),
            "isolated_subnet_ids": list(SUBNETS["isolated"]),
        }
    return body


def _input(body: dict[str, Any]) -> StackTemplateInput:
    spec = StackSpec.model_validate(body)
    facts = {
        subnet_id: SubnetFacts(subnet_id, VPC_ID, f"{spec.region}{'ab'[i]}", kind, f"rtb-{kind}")  # type: ignore[arg-type]
        for kind, ids in SUBNETS.items()
        for i, subnet_id in enumerate(ids)
    }
    return StackTemplateInput(
        spec=spec,
        stack_name=spec.stack_name,
        account_id=ACCOUNT,
        permissions_boundary_arn=BOUNDARY,
        secret_arns={
            name: f"arn:aws:secretsmanager:{spec.region}:{ACCOUNT}:secret:{secret_name(spec, name)}-AbC123"
            for name in spec.container.secret_env
        },
        subnets=facts,
    )


def variants() -> dict[str, StackTemplateInput]:
    out: dict[str, StackTemplateInput] = {}
    for nat, front_door, database, bastion, vpc in itertools.product(
        (True, False), ("alb", "api_gateway"), (True, False), (True, False), ("new", "existing")
    ):
        name = "-".join(
            [
                "nat" if nat else "isolated",
                front_door,
                "db" if database else "nodb",
                "bastion" if bastion else "nobastion",
                vpc,
            ]
        )
        out[name] = _input(
            _body("eu-west-1", nat=nat, front_door=front_door, database=database, bastion=bastion, vpc=vpc)
        )
    for region, nat, vpc in (("eu-west-1", True, "new"), ("eu-central-2", False, "existing")):
        body = _body(region, nat=nat, front_door="alb", database=True, bastion=not nat, vpc=vpc)
        body["certificate_arn"] = (
            f"arn:aws:acm:{region}:{ACCOUNT}:certificate/0a1b2c3d-0000-4000-8000-00000000abcd"
        )
        out[f"certificate-{region}-{vpc}"] = _input(body)
    source = {"provider": "github", "repository": "acme/shop", "branch": "main"}
    nested = {**source, "dockerfile": "app/Dockerfile", "context": "services/web"}
    for nat, front_door, database, vpc in (
        (True, "alb", True, "new"),
        (False, "api_gateway", False, "new"),
        (True, "api_gateway", True, "existing"),
        (False, "alb", False, "existing"),
    ):
        body = _body("eu-west-1", nat=nat, front_door=front_door, database=database, bastion=nat, vpc=vpc)
        body["source"] = nested if nat else source
        name = "-".join(["nat" if nat else "isolated", front_door, "db" if database else "nodb", vpc])
        out[f"source-{name}"] = _input(body)
    return out


# --------------------------------------------------------------------------------------------------
# Rendering once, scanning once
# --------------------------------------------------------------------------------------------------


def _cfn_lint() -> str:
    beside = Path(sys.executable).with_name("cfn-lint")
    found = str(beside) if beside.exists() else shutil.which("cfn-lint")
    if not found:
        pytest.fail("cfn-lint is not installed (make install)")
    return found


def _checkov() -> str:
    local = REPO / ".venv-checkov" / "bin" / "checkov"
    found = str(local) if local.exists() else shutil.which("checkov")
    if not found:
        pytest.fail("checkov is not installed: run `make install` (it builds .venv-checkov)")
    return found


@dataclass
class Scan:
    process: subprocess.Popen[str]
    started: float
    output: tuple[int, str, str] | None = None
    seconds: float = 0.0

    def result(self) -> tuple[int, str, str]:
        if self.output is None:
            stdout, stderr = self.process.communicate(timeout=600)
            self.seconds = time.monotonic() - self.started
            self.output = (self.process.returncode, stdout, stderr)
        return self.output


@dataclass
class Rendered:
    directory: Path
    files: dict[str, Path]
    templates: dict[str, dict[str, Any]]
    regions: dict[str, str]
    render_seconds: float
    scans: dict[str, Scan] = field(default_factory=dict)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rendered]:
    started = time.monotonic()
    directory = tmp_path_factory.mktemp("stack-templates")
    files: dict[str, Path] = {}
    templates: dict[str, dict[str, Any]] = {}
    regions: dict[str, str] = {}
    for name, inp in variants().items():
        regions[name] = inp.spec.region
        text = render_stack_template(inp)
        files[name] = directory / f"{name}.json"
        files[name].write_text(text, encoding="utf-8")
        templates[name] = json.loads(text)
    result = Rendered(directory, files, templates, regions, time.monotonic() - started)
    commands = {
        # Informational findings included; the JSON output carries each finding's level.
        "cfn-lint": [
            _cfn_lint(),
            "--format",
            "json",
            "--include-checks",
            "I",
            "--",
            *map(str, files.values()),
        ],
        # Not --quiet: the report must list the skipped checks too.
        "checkov": [
            _checkov(),
            "-d",
            str(directory),
            "--framework",
            "cloudformation",
            "--skip-download",
            "--compact",
            "-o",
            "json",
        ],
    }
    for scanner, command in commands.items():
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        result.scans[scanner] = Scan(process, time.monotonic())
    yield result
    for scan in result.scans.values():
        if scan.process.poll() is None:
            scan.process.kill()
            scan.process.wait()
    total = max((s.seconds for s in result.scans.values()), default=0.0) + result.render_seconds
    print(
        f"\nstack template gates: {len(files)} variants rendered in {result.render_seconds:.1f}s; "
        + ", ".join(f"{k} {s.seconds:.1f}s" for k, s in result.scans.items())
        + f" (in parallel); ~{total:.1f}s in all"
    )


def test_every_variant_is_rendered(rendered: Rendered) -> None:
    assert len(rendered.files) == 38
    # spot-check that the variants really differ where they should
    subnets = {
        n: sum(r["Type"] == "AWS::EC2::Subnet" for r in t["Resources"].values())
        for n, t in rendered.templates.items()
    }
    assert subnets["nat-alb-db-bastion-new"] == 9 and subnets["isolated-alb-nodb-nobastion-new"] == 6
    assert subnets["nat-api_gateway-db-bastion-existing"] == 0
    projects = {
        n: sum(r["Type"] == "AWS::CodeBuild::Project" for r in t["Resources"].values())
        for n, t in rendered.templates.items()
    }
    assert {n for n, count in projects.items() if count} == {n for n in projects if n.startswith("source-")}


def test_cfn_lint_reports_no_errors(rendered: Rendered) -> None:
    code, stdout, stderr = rendered.scans["cfn-lint"].result()
    try:
        findings = json.loads(stdout or "[]")
    except json.JSONDecodeError:
        pytest.fail(f"cfn-lint produced no JSON report (exit {code}):\n{stdout}\n{stderr}")
    shown = [
        f"{f['Level']} {f['Rule']['Id']} {Path(f['Filename']).name}:{f['Location']['Start']['LineNumber']} "
        f"{f['Message']}"
        for f in findings
    ]
    if shown:
        print("cfn-lint findings (warnings and informational ones are allowed):", *shown, sep="\n  ")
    errors = [s for s, f in zip(shown, findings, strict=True) if f["Level"] == "Error"]
    assert not errors, "\n".join(errors)
    # A deprecated engine version is only a warning to cfn-lint, but RDS refuses to create it.
    assert not [s for s in shown if " W3691 " in s], "\n".join(shown)
    assert code in (0, 4, 8, 12), stderr  # 2 = errors (bitmask)


def _declared_skips(rendered: Rendered) -> dict[tuple[str, str, str], str]:
    """(file, resource, check) -> comment for every skip the templates declare."""
    skips: dict[tuple[str, str, str], str] = {}
    for name, template in rendered.templates.items():
        for logical_id, resource in template["Resources"].items():
            for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
                skips[(f"{name}.json", logical_id, skip["id"])] = skip.get("comment", "")
    return skips


def test_checkov_finds_no_failed_checks_and_every_skip_is_reasoned(rendered: Rendered) -> None:
    code, stdout, stderr = rendered.scans["checkov"].result()
    try:
        report = json.loads(stdout)
    except json.JSONDecodeError:
        pytest.fail(f"checkov produced no JSON report (exit {code}):\n{stdout}\n{stderr}")
    reports = report if isinstance(report, list) else [report]
    (cfn,) = [r for r in reports if r.get("check_type") == "cloudformation"]
    summary, results = cfn["summary"], cfn.get("results", {})
    failed = [
        f"{c['check_id']} {c['check_name']} {c['resource']} ({Path(c['file_path']).name})"
        for c in results.get("failed_checks", [])
    ]
    assert summary["failed"] == 0 and not failed, "\n".join(failed)
    assert summary["parsing_errors"] == 0
    # every resource of every variant was parsed and checked (nothing passes vacuously)
    assert summary["resource_count"] == sum(len(t["Resources"]) for t in rendered.templates.values())
    assert summary["passed"] > 0
    applied = {
        (Path(c["file_path"]).name, c["resource"].split(".", 1)[1], c["check_id"]): str(
            c["check_result"].get("suppress_comment") or ""
        )
        for c in results.get("skipped_checks", [])
    }
    assert all(comment.strip() for comment in applied.values()), applied
    declared = _declared_skips(rendered)
    assert all(comment.strip() for comment in declared.values())
    # a declared skip checkov did not need is stale (the check is gone or no longer fails)
    assert set(declared) == set(applied), set(declared) ^ set(applied)
    print("checkov skips (check: resources):")
    for check, group in itertools.groupby(sorted({(k[2], k[1]) for k in declared}), key=lambda x: x[0]):
        print(f"  {check}: {', '.join(sorted({r for _, r in group}))}")
    assert code == 0, stderr


# --------------------------------------------------------------------------------------------------
# IAM sanity neither scanner covers: every action exists, and the permissions boundary allows it
# --------------------------------------------------------------------------------------------------


def _resolve(value: Any, template: dict[str, Any], region: str) -> str:
    """An IAM Resource entry of the stack template, with its intrinsics resolved like AWS would."""
    if isinstance(value, str):
        return value
    resources = template["Resources"]
    if "Ref" in value:
        name = value["Ref"]
        stand_ins = {"AWS::Partition": "aws", "AWS::Region": region, "AWS::AccountId": ACCOUNT}
        if name in stand_ins:
            return stand_ins[name]
        kind = resources[name]["Type"]
        if kind == "AWS::SecretsManager::Secret":
            secret = resources[name]["Properties"]["Name"]
            return f"arn:aws:secretsmanager:{region}:{ACCOUNT}:secret:{secret}-AbC123"
        if kind == "AWS::ECS::Cluster":
            return str(resources[name]["Properties"]["ClusterName"])
        if kind == "AWS::EC2::RouteTable":
            return "rtb-0123456789abcdef0"
        if kind == "AWS::S3::Bucket":
            return str(resources[name]["Properties"]["BucketName"])
    if "Fn::GetAtt" in value:
        name, attribute = value["Fn::GetAtt"]
        if resources[name]["Type"] == "AWS::Logs::LogGroup" and attribute == "Arn":
            group = resources[name]["Properties"]["LogGroupName"]
            return f"arn:aws:logs:{region}:{ACCOUNT}:log-group:{group}:*"
    if "Fn::Sub" in value:
        text, variables = (value["Fn::Sub"], {}) if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"]
        return re.sub(
            r"\$\{([^}!]+)\}",
            lambda m: _resolve(variables.get(m.group(1), {"Ref": m.group(1)}), template, region),
            text,
        )
    raise AssertionError(f"cannot resolve {value}: teach _resolve about it")


@cache
def _boundary(region: str) -> list[dict[str, Any]]:
    """The permissions boundary every role of the stack carries (from the onboarding template)."""
    from functions.accounts.logic.role_template import RoleTemplateInput, render_role_template

    template = json.loads(
        render_role_template(
            RoleTemplateInput(
                connection_id="conn_abcdefghijklmnopqrstuvwxyz",
                external_id="Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2FycGx5",
                nonce="bm9uY2Utbm9uY2Utbm9uY2U",
                region=region,
                service_account_id="111122223333",
                assumer_role_arn="arn:aws:iam::111122223333:role/stackpilot-prod-customer-assumer",
                callback_topic_arn=f"arn:aws:sns:{region}:111122223333:stackpilot-prod-connection-callbacks",
                event_bus_arn="arn:aws:events:eu-west-1:111122223333:event-bus/stackpilot-prod",
                stack_name_prefix="stackpilot-",
            )
        )
    )
    statements = template["Resources"]["PermissionsBoundary"]["Properties"]["PolicyDocument"]["Statement"]
    for statement in statements:
        resources = (
            statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        )
        statement["Resource"] = [_resolve(r, {"Resources": {}}, region) for r in resources]
    return list(statements)


@cache
def _iam_actions() -> dict[str, set[str]]:
    from cfnlint.data import AdditionalSpecs  # the IAM action table cfn-lint ships
    from cfnlint.helpers import load_resource

    table = load_resource(AdditionalSpecs, "Policies.json")
    return {service: {a.lower() for a in spec["Actions"]} for service, spec in table.items()}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _within_boundary(action: str, resource: str, region: str) -> bool:
    def matches(statement: dict[str, Any]) -> bool:
        acts = any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in _as_list(statement["Action"]))
        return acts and any(fnmatch.fnmatchcase(resource, r) for r in statement["Resource"])

    allowed = any(matches(s) for s in _boundary(region) if s["Effect"] == "Allow")
    return allowed and not any(matches(s) for s in _boundary(region) if s["Effect"] == "Deny")


def test_every_role_action_exists_and_the_boundary_allows_it(rendered: Rendered) -> None:
    problems: set[str] = set()
    for name, template in rendered.templates.items():
        region = rendered.regions[name]
        for role_name, role in template["Resources"].items():
            if role["Type"] != "AWS::IAM::Role":
                continue
            for policy in role["Properties"].get("Policies", []):
                for statement in policy["PolicyDocument"]["Statement"]:
                    assert statement["Effect"] == "Allow"
                    for action in _as_list(statement["Action"]):
                        service, _, verb = action.partition(":")
                        if verb.lower() not in _iam_actions().get(service, set()):
                            problems.add(f"{role_name}: unknown action {action}")
                        for resource in _as_list(statement["Resource"]):
                            arn = _resolve(resource, template, region)
                            if not _within_boundary(action, arn, region):
                                problems.add(
                                    f"{role_name}/{statement['Sid']}: the boundary denies {action} on {arn}"
                                )
    assert not problems, "\n".join(sorted(problems))
