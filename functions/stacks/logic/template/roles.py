"""IAM roles and instance profiles of the stack: path + boundary + inline policies only (the
onboarding CloudFormation role's contract).
"""

from __future__ import annotations

from typing import Any

from troposphere import AWSObject, Ref, Sub, iam

from functions.shared.logic.iam import ARN, HERE, policy_document
from functions.stacks.logic.template.context import Context


def role(
    ctx: Context,
    title: str,
    service: str,
    purpose: str,
    policy: dict[str, Any] | None,
    *,
    source_arn: Any | None = None,
) -> AWSObject:
    """A role ``service`` assumes; with ``source_arn``, only on behalf of that resource of this
    account (the confused-deputy guard for services acting for one resource, like a CodeBuild project)."""
    trust: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sts:AssumeRole",
    }
    if service == "ecs-tasks.amazonaws.com":
        # Only ECS tasks of this account and region (confused-deputy guard).
        trust["Condition"] = {
            "StringEquals": {"aws:SourceAccount": Ref("AWS::AccountId")},
            "ArnLike": {"aws:SourceArn": Sub(f"{ARN}:ecs:{HERE}:*")},
        }
    elif source_arn is not None:
        trust["Condition"] = {
            "StringEquals": {"aws:SourceAccount": Ref("AWS::AccountId")},
            "ArnLike": {"aws:SourceArn": source_arn},
        }
    return ctx.add(
        iam.Role(
            title,
            Path=ctx.inp.role_path,
            PermissionsBoundary=ctx.inp.permissions_boundary_arn,
            Description=f"{ctx.name}: {purpose}",
            AssumeRolePolicyDocument=policy_document(trust),
            Policies=[iam.Policy(PolicyName=title, PolicyDocument=policy)] if policy else [],
        )
    )


def instance_profile(ctx: Context, title: str, role: AWSObject) -> AWSObject:
    return ctx.add(iam.InstanceProfile(title, Path=ctx.inp.role_path, Roles=[Ref(role)]))
