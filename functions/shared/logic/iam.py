"""IAM policy and ARN building blocks of the CloudFormation templates stackpilot renders: the
onboarding template (``functions/accounts/logic/role_template``) and the application stacks
(``functions/stacks/logic/template``), plus the scanners' skip metadata their resources carry.

Pure: the standard library only. ARNs are ``Fn::Sub`` strings (``ARN``, ``HERE``) that the
templates wrap in ``Sub`` themselves, so importing this module does not import troposphere.
"""

from __future__ import annotations

import re
from typing import Any, Final

#: ``Fn::Sub`` start of an ARN in the partition the stack runs in.
ARN: Final = "arn:${AWS::Partition}"
#: ``Fn::Sub`` region and account fields of an ARN: the stack's own region and account.
HERE: Final = "${AWS::Region}:${AWS::AccountId}"

#: The AWS partitions, as a regular expression over an ARN's partition field.
PARTITION_RE: Final = r"aws(?:-cn|-us-gov)?"
ACCOUNT_ID_RE: Final = re.compile(r"\d{12}")


def iam_arn_re(account_id: str, resource_type: str) -> re.Pattern[str]:
    """``arn:<partition>:iam::<account_id>:<resource_type>/<path and name>`` (to ``fullmatch``), e.g.
    a role or a managed policy of that account."""
    return re.compile(
        rf"arn:{PARTITION_RE}:iam::{re.escape(account_id)}:{resource_type}/[\w+=,.@/-]{{1,512}}"
    )


def partition(region: str) -> str:
    """The partition of ``region`` (``aws``, ``aws-cn`` or ``aws-us-gov``)."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def statement(
    sid: str,
    actions: list[str],
    resources: list[Any] | str,
    *,
    effect: str = "Allow",
    condition: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One policy statement; its actions sorted and deduplicated (deterministic templates)."""
    result: dict[str, Any] = {
        "Sid": sid,
        "Effect": effect,
        "Action": sorted(set(actions)),
        "Resource": resources,
    }
    if condition:
        result["Condition"] = condition
    return result


def policy_document(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def checkov_skips(*checks: tuple[str, str]) -> dict[str, Any]:
    """checkov suppressions (resource ``Metadata``), kept beside the resource they are about, each
    ``(check id, reason)``."""
    return {"checkov": {"skip": [{"id": check, "comment": comment} for check, comment in checks]}}


def cfn_lint_ignores(*checks: str) -> dict[str, Any]:
    """cfn-lint rules to ignore on one resource (resource ``Metadata``)."""
    return {"cfn-lint": {"config": {"ignore_checks": list(checks)}}}
