"""Quality gates over the rendered onboarding templates: cfn-lint, checkov, and IAM sanity checks.

Rendered variants: two regions x status forwarding on / off ("off" = the parameter's default
flipped to "false", as a customer who opts out deploys it; cfn-lint also evaluates both condition
scenarios of every variant). A separate check resolves the condition to false the way
CloudFormation does and proves nothing unconditional refers to the forwarding resources.

checkov runs from its own venv (``<repo>/.venv-checkov``, built by the Makefile; it pins a boto3
that conflicts with ours) or from PATH; a missing checkov FAILS the gate rather than skipping it.
Any checkov skip must live in the template itself (resource Metadata ``checkov.skip`` with a
comment) - there are none today.
"""

from __future__ import annotations

import copy
import fnmatch
import json
import re
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from functions.accounts.logic.role_template import RoleTemplateInput, render_role_template

REPO = Path(__file__).resolve().parents[2]
SERVICE_ACCOUNT = "111122223333"
REGIONS = ("us-east-1", "ap-southeast-2")


def _input(region: str) -> RoleTemplateInput:
    return RoleTemplateInput(
        connection_id="conn_7d41c0ffee",
        external_id="Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2FycGx5",
        nonce="bm9uY2Utbm9uY2Utbm9uY2U",
        region=region,
        service_account_id=SERVICE_ACCOUNT,
        assumer_role_arn=f"arn:aws:iam::{SERVICE_ACCOUNT}:role/stackpilot-prod-customer-assumer",
        callback_topic_arn=f"arn:aws:sns:{region}:{SERVICE_ACCOUNT}:stackpilot-prod-connection-callbacks",
        event_bus_arn=f"arn:aws:events:us-east-1:{SERVICE_ACCOUNT}:event-bus/stackpilot-prod",
        stack_name_prefix="stackpilot-",
    )


def _forwarding_default_off(template: dict[str, Any]) -> dict[str, Any]:
    variant = copy.deepcopy(template)
    variant["Parameters"]["EnableStatusForwarding"]["Default"] = "false"
    return variant


def _references(value: Any) -> set[str]:
    if isinstance(value, list):
        return set().union(*map(_references, value)) if value else set()
    if not isinstance(value, dict):
        return set()
    found: set[str] = set()
    for key, inner in value.items():
        if key == "Ref":
            found.add(inner)
        elif key == "Fn::GetAtt":
            found.add(inner[0] if isinstance(inner, list) else inner.split(".")[0])
        elif key == "Fn::Sub" and isinstance(inner, str):
            found |= {m for m in re.findall(r"\$\{([^}!.]+)", inner)}
        found |= _references(inner)
    return found


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("role-templates")
    files: dict[str, Path] = {}
    for region in REGIONS:
        text = render_role_template(_input(region))
        off = json.dumps(_forwarding_default_off(json.loads(text)), indent=2, sort_keys=True)
        variants = {"forwarding-on": text, "forwarding-off": off}
        for variant, body in variants.items():
            path = out / f"{region}-{variant}.json"
            path.write_text(body, encoding="utf-8")
            files[f"{region}-{variant}"] = path
    return files


def _cfn_lint() -> list[str]:
    beside = Path(sys.executable).with_name("cfn-lint")
    found = str(beside) if beside.exists() else shutil.which("cfn-lint")
    if not found:
        pytest.fail("cfn-lint is not installed (make install)")
    return [found]


def _checkov() -> str:
    local = REPO / ".venv-checkov" / "bin" / "checkov"
    found = str(local) if local.exists() else shutil.which("checkov")
    if not found:
        pytest.fail("checkov is not installed: run `make install` (it builds .venv-checkov)")
    return found


@pytest.mark.xdist_group("gates")
def test_cfn_lint_reports_nothing(rendered: dict[str, Path]) -> None:
    # Informational findings included: the templates are expected to be clean, not merely error-free.
    cmd = [
        *_cfn_lint(),
        "--non-zero-exit-code",
        "error",
        "--include-checks",
        "I",
        "--format",
        "parseable",
        "--",
    ]
    proc = subprocess.run([*cmd, *map(str, rendered.values())], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip() == "", f"cfn-lint findings:\n{proc.stdout}"


@pytest.mark.xdist_group("gates")
def test_checkov_finds_no_failed_checks(rendered: dict[str, Path]) -> None:
    cmd = [
        _checkov(),
        "--framework",
        "cloudformation",
        "--skip-download",
        "--compact",
        "--quiet",
        "-o",
        "json",
    ]
    for path in rendered.values():
        cmd += ["-f", str(path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        pytest.fail(
            f"checkov produced no JSON report (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        )
    reports = report if isinstance(report, list) else [report]
    (cfn,) = [r for r in reports if r.get("check_type") == "cloudformation"]
    summary = cfn["summary"]
    failed = [
        f"{c['check_id']} {c['check_name']} {c['resource']} ({Path(c['file_path']).name})"
        for c in cfn.get("results", {}).get("failed_checks", [])
    ]
    assert summary["failed"] == 0 and not failed, "\n".join(failed)
    assert summary["parsing_errors"] == 0
    # every resource was parsed and checked (an unparsed template must not pass vacuously)
    expected = sum(len(json.loads(p.read_text())["Resources"]) for p in rendered.values())
    assert summary["resource_count"] == expected
    assert summary["passed"] > 0
    for skipped in cfn.get("results", {}).get("skipped_checks", []):
        assert (skipped.get("suppress_comment") or "").strip(), (
            f"skip without a reason: {skipped['check_id']}"
        )
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("region", REGIONS)
def test_forwarding_off_leaves_no_dangling_reference(region: str) -> None:
    template = json.loads(render_role_template(_input(region)))
    kept = {
        name: resource
        for name, resource in template["Resources"].items()
        if resource.get("Condition") != "StatusForwardingEnabled"
    }
    assert len(kept) < len(template["Resources"])
    known = (
        set(kept)
        | set(template["Parameters"])
        | {
            "AWS::AccountId",
            "AWS::Partition",
            "AWS::Region",
            "AWS::StackId",
            "AWS::StackName",
            "AWS::URLSuffix",
        }
    )
    for name, resource in kept.items():
        dangling = (_references(resource.get("Properties", {})) | set(resource.get("DependsOn", []))) - known
        assert not dangling, f"{name} refers to {dangling}"
    assert not _references(template["Outputs"]) - known


# --- IAM sanity that neither linter covers ---------------------------------------------------------

WORST = {"AWS::Partition": "aws-us-gov", "AWS::Region": "ap-southeast-2", "AWS::AccountId": "123456789012"}


def _resolve(value: Any, template: dict[str, Any]) -> Any:
    """Intrinsics replaced by representative strings (for sizing and ARN matching)."""
    if isinstance(value, list):
        return [_resolve(v, template) for v in value]
    if not isinstance(value, dict):
        return value
    if "Fn::Sub" in value:
        return re.sub(
            r"\$\{([^}]+)\}", lambda m: WORST.get(m.group(1), "stackpilotconnectionx"), value["Fn::Sub"]
        )
    if "Ref" in value:
        name = value["Ref"]
        if name in WORST:
            return WORST[name]
        if name == "AWS::StackId":
            return "arn:aws:cloudformation:ap-southeast-2:123456789012:stack/StackpilotConnection-x/1"
        if name == "PermissionsBoundary":
            return (
                "arn:aws:iam::123456789012:policy/stackpilot-connection/stackpilot-boundary-0123456789abcdef"
            )
        return template.get("Parameters", {}).get(name, {}).get("Default", "x" * 64)
    if "Fn::GetAtt" in value:
        return (
            f"arn:aws:iam::123456789012:role/stackpilot-connection/{value['Fn::GetAtt'][0]}-0123456789abcdef"
        )
    return {k: _resolve(v, template) for k, v in value.items()}


def _documents(template: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(resource, kind, resolved policy document) for every policy in the template."""
    docs: list[tuple[str, str, dict[str, Any]]] = []
    for name, resource in template["Resources"].items():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::IAM::ManagedPolicy":
            docs.append((name, "managed", _resolve(props["PolicyDocument"], template)))
        elif resource["Type"] == "AWS::IAM::Role":
            docs.append((name, "trust", _resolve(props["AssumeRolePolicyDocument"], template)))
            for policy in props.get("Policies", []):
                docs.append((name, "inline", _resolve(policy["PolicyDocument"], template)))
    return docs


def _size(document: dict[str, Any]) -> int:
    return len(re.sub(r"\s", "", json.dumps(document, separators=(",", ":"))))


@pytest.mark.parametrize("region", REGIONS)
def test_policies_fit_iam_quotas(region: str) -> None:
    template = json.loads(render_role_template(_input(region)))
    inline_per_role: dict[str, int] = {}
    for name, kind, document in _documents(template):
        size = _size(document)
        if kind == "managed":
            assert size <= 6144 - 300, f"{name}: managed policy {size} chars (quota 6144), keep headroom"
        elif kind == "trust":
            assert size <= 2048, f"{name}: trust policy {size} chars (default quota 2048)"
        else:
            inline_per_role[name] = inline_per_role.get(name, 0) + size
    for name, size in inline_per_role.items():
        assert size <= 10240 - 500, f"{name}: inline policies {size} chars (quota 10240)"


@cache
def _iam_reference() -> dict[str, Any]:
    from cfnlint.data import AdditionalSpecs  # the IAM action/resource table cfn-lint ships
    from cfnlint.helpers import load_resource

    return load_resource(AdditionalSpecs, "Policies.json")  # type: ignore[no-any-return]


def _expand(action: str) -> list[tuple[str, dict[str, Any]]]:
    service, _, name = action.partition(":")
    actions = _iam_reference()[service]["Actions"]
    matches = [(a, actions[a]) for a in actions if fnmatch.fnmatchcase(a, name.lower())]
    assert matches, f"unknown IAM action {action}"
    return matches


def _arn_formats(service: str, resource_types: list[str]) -> list[str]:
    table = {k.lower(): v for k, v in _iam_reference()[service]["Resources"].items()}
    return [fmt for rt in resource_types for fmt in table[rt.lower()].get("ARNFormats", [])]


def _overlaps(resource: str, arn_format: str) -> bool:
    """Whether a policy Resource pattern (``*`` wildcards) can match ARNs of ``arn_format``."""
    arn_format = arn_format.replace("${Partition}", "aws")
    resource = re.sub(r"^arn:aws[a-z-]*:", "arn:aws:", resource)
    theirs = re.compile(
        "^" + arn_format.replace("${Region}", "[a-z0-9-]*").replace("${Account}", r"\d*") + "$"
    )
    example = (
        arn_format.replace("${Region}", WORST["AWS::Region"])
        .replace("${Account}", WORST["AWS::AccountId"])
        .replace(".*", "x")
    )
    ours = re.compile("^" + ".*".join(map(re.escape, resource.split("*"))) + "$")
    return bool(ours.match(example) or theirs.match(resource.replace("*", "x")))


@pytest.mark.parametrize("region", REGIONS)
def test_every_action_exists_and_scoped_actions_support_their_resources(region: str) -> None:
    """A scoped statement holding an action without resource-level permissions (or scoped to the
    wrong resource type) is silently useless: AWS answers AccessDenied at deploy time."""
    template = json.loads(render_role_template(_input(region)))
    problems: list[str] = []
    for name, kind, document in _documents(template):
        if kind == "trust":
            continue
        for statement in document["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            resources = (
                statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            )
            for action in actions:
                service = action.split(":")[0]
                if statement["Effect"] == "Deny" and action.endswith(":*"):
                    assert service in _iam_reference(), f"unknown service in {action}"
                    continue
                for expanded, spec in _expand(action):
                    if resources == ["*"] or statement["Effect"] == "Deny":
                        continue
                    types = spec.get("Resources") or []
                    if not types:
                        problems.append(f"{name}/{statement['Sid']}: {service}:{expanded} needs Resource '*'")
                    elif not any(_overlaps(r, f) for r in resources for f in _arn_formats(service, types)):
                        problems.append(
                            f"{name}/{statement['Sid']}: {service}:{expanded} matches none of {resources}"
                        )
    assert not problems, "\n".join(problems)
