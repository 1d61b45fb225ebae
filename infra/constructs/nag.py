"""cdk-nag packs, acknowledgments and checkov skips, in one vocabulary.

cdk-nag 3.x runs as a CDK validation plugin: any finding that is not acknowledged fails synthesis.
Acknowledgments are recorded on the construct (metadata ``aws:cdk:acknowledged-rules``) and apply to
it and everything below it, so they are made on the narrowest construct that owns the reason.
Wildcard findings (``AwsSolutions-IAM5[...]``) are acknowledged one finding at a time.

checkov reads skips from the template itself (``Metadata.checkov.skip``), written here per resource.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aws_cdk as cdk
import jsii
from cdk_nag import AwsSolutionsChecks, ServerlessChecks
from constructs import IConstruct

AWS_SOLUTIONS = "AwsSolutions"
SERVERLESS = "Serverless"


def add_packs(app: cdk.App) -> None:
    """Check the whole app with the AWS Solutions and Serverless packs."""
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app), ServerlessChecks(app))


def acknowledge(scope: IConstruct, rule: str, reason: str) -> None:
    """Acknowledge one finding on ``scope`` and below.

    ``rule`` is the pack's rule id as cdk-nag reports it, e.g. ``AwsSolutions-IAM5[Resource::*]`` or
    ``Serverless-LambdaDLQ``; the pack prefix (``AwsSolutions::``) is added here.
    """
    pack = rule.split("-", 1)[0]
    if pack not in (AWS_SOLUTIONS, SERVERLESS):
        raise ValueError(f"unknown cdk-nag pack in rule id {rule!r}")
    cdk.Validations.of(scope).acknowledge(cdk.Acknowledgment(id=f"{pack}::{rule}", reason=reason))


def acknowledge_wildcard(scope: IConstruct, finding: str, reason: str) -> None:
    """Acknowledge one ``AwsSolutions-IAM5`` finding, e.g. ``Resource::*`` or ``Action::kms:ReEncrypt*``."""
    acknowledge(scope, f"AwsSolutions-IAM5[{finding}]", reason)


def ref(scope: IConstruct, attribute: str = "Arn") -> str:
    """How cdk-nag prints ``Fn::GetAtt`` of a resource inside a finding: ``<LogicalId.Arn>``."""
    cfn = _cfn_resource(scope)
    stack = cdk.Stack.of(cfn)
    return f"<{stack.resolve(stack.get_logical_id(cfn))}.{attribute}>"


def printed(scope: IConstruct, value: str) -> str:
    """A string holding tokens as cdk-nag prints it in a finding: ``arn:<AWS::Partition>:...``."""
    resolved = cdk.Stack.of(scope).resolve(value)
    parts = resolved["Fn::Join"][1] if isinstance(resolved, dict) and "Fn::Join" in resolved else [resolved]
    return "".join(_printed_part(part) for part in parts)


def _printed_part(part: object) -> str:
    if isinstance(part, str):
        return part
    if isinstance(part, dict) and "Ref" in part:
        return f"<{part['Ref']}>"
    if isinstance(part, dict) and "Fn::GetAtt" in part:
        logical_id, attribute = part["Fn::GetAtt"]
        return f"<{logical_id}.{attribute}>"
    raise ValueError(f"cannot print {part!r} as cdk-nag does")


@dataclass(frozen=True)
class AcknowledgedRule:
    path: str
    rule: str
    reason: str


def acknowledged_rules(assembly_dir: Path) -> Iterator[AcknowledgedRule]:
    """Every acknowledgment recorded in a synthesized cloud assembly (for tests and reviews)."""
    key = cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY
    for metadata_file in sorted(assembly_dir.glob("*.metadata.json")):
        for path, entries in json.loads(metadata_file.read_text()).items():
            for entry in entries:
                if entry["type"] == key:
                    for rule, reason in entry["data"].items():
                        yield AcknowledgedRule(path.lstrip("/"), rule, reason)


def checkov_skip(scope: IConstruct, check_id: str, comment: str) -> None:
    """Skip one checkov check on the resource behind ``scope``, with the reason in the template."""
    cfn = _cfn_resource(scope)
    metadata = cfn.get_metadata("checkov") or {"skip": []}
    metadata["skip"] = [*metadata["skip"], {"id": check_id, "comment": comment}]
    cfn.add_metadata("checkov", metadata)


@jsii.implements(cdk.IAspect)
class CheckovSkipsByType:
    """Skip checks on every resource of one CloudFormation type (for reasons that hold for all)."""

    def __init__(self, cfn_type: str, skips: dict[str, str]) -> None:
        self._cfn_type = cfn_type
        self._skips = skips

    def visit(self, node: IConstruct) -> None:
        if isinstance(node, cdk.CfnResource) and node.cfn_resource_type == self._cfn_type:
            for check_id, comment in self._skips.items():
                checkov_skip(node, check_id, comment)


def _cfn_resource(scope: IConstruct) -> cdk.CfnResource:
    if isinstance(scope, cdk.CfnResource):
        return scope
    child = scope.node.default_child
    if not isinstance(child, cdk.CfnResource):
        raise TypeError(f"{scope.node.path} has no CloudFormation resource as default child")
    return child


__all__ = [
    "AcknowledgedRule",
    "CheckovSkipsByType",
    "acknowledge",
    "acknowledge_wildcard",
    "acknowledged_rules",
    "add_packs",
    "checkov_skip",
    "printed",
    "ref",
]
