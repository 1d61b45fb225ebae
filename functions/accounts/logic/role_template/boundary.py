"""The permissions boundary (``PermissionsBoundary``): the ceiling of every role a stackpilot stack
creates (README.md, "Permissions boundary").
"""

from __future__ import annotations

from typing import Any

from troposphere import Sub, Template, iam

from functions.accounts.logic.role_template.context import Names, RoleTemplateInput, regional
from functions.shared.logic.customer_names import CONTROL_PATH, permissions_boundary_name
from functions.shared.logic.iam import ARN, HERE, policy_document, statement


def add_boundary(t: Template, inp: RoleTemplateInput, names: Names) -> list[str]:
    """The boundary policy; returns its logical id."""
    boundary = t.add_resource(
        iam.ManagedPolicy(
            "PermissionsBoundary",
            ManagedPolicyName=permissions_boundary_name(inp.connection_id),
            Path=CONTROL_PATH,
            Description="stackpilot: ceiling of every IAM role a stackpilot stack creates",
            PolicyDocument=_boundary_policy(names),
        )
    )
    return [boundary.title]


def _boundary_policy(names: Names) -> dict[str, Any]:
    prefix, base = names.prefix, names.base
    return policy_document(
        statement(
            "WriteOwnLogs",
            [
                "logs:CreateLogGroup",
                "logs:CreateLogStream",
                "logs:DescribeLogStreams",
                "logs:PutLogEvents",
            ],
            [
                Sub(f"{ARN}:logs:{HERE}:log-group:{prefix}*"),
                Sub(f"{ARN}:logs:{HERE}:log-group:/{base}/*"),
            ],
        ),
        statement(
            "ImagesPullAndBuild",
            [
                "ecr:BatchCheckLayerAvailability",
                "ecr:BatchGetImage",
                "ecr:CompleteLayerUpload",
                "ecr:GetDownloadUrlForLayer",
                "ecr:InitiateLayerUpload",
                "ecr:PutImage",
                "ecr:UploadLayerPart",
            ],
            [Sub(f"{ARN}:ecr:{HERE}:repository/{prefix}*")],
        ),
        statement(
            "ReadOwnSecrets",
            ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"],
            [
                Sub(f"{ARN}:secretsmanager:{HERE}:secret:{prefix}*"),
                Sub(f"{ARN}:secretsmanager:{HERE}:secret:/{base}/*"),
            ],
        ),
        statement(
            "ReadOwnParameters",
            ["ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath"],
            [
                Sub(f"{ARN}:ssm:{HERE}:parameter/{base}/*"),
                Sub(f"{ARN}:ssm:{HERE}:parameter/{prefix}*"),
            ],
        ),
        statement(
            "OwnBuckets",
            ["s3:DeleteObject", "s3:GetBucketLocation", "s3:GetObject", "s3:ListBucket", "s3:PutObject"],
            [Sub(f"{ARN}:s3:::{prefix}*"), Sub(f"{ARN}:s3:::{prefix}*/*")],
        ),
        # ECS container instances (EC2 launch type), the NAT instance configuring itself and the
        # SSM agent registering its instance.
        statement(
            "ContainerInstancesAndNat",
            [
                "ec2:CreateRoute",
                "ec2:ModifyInstanceAttribute",
                "ec2:ReplaceRoute",
                "ecs:DeregisterContainerInstance",
                "ecs:Poll",
                "ecs:RegisterContainerInstance",
                "ecs:StartTelemetrySession",
                "ecs:SubmitContainerStateChange",
                "ecs:SubmitTaskStateChange",
                "ecs:UpdateContainerInstancesState",
                "ssm:UpdateInstanceInformation",
            ],
            [regional("ec2"), regional("ecs")],
        ),
        statement(
            "SessionManagerAndRuntimeBasics",
            [
                "ec2:DescribeInstances",
                "ec2:DescribeRouteTables",
                "ec2messages:AcknowledgeMessage",
                "ec2messages:DeleteMessage",
                "ec2messages:FailMessage",
                "ec2messages:GetEndpoint",
                "ec2messages:GetMessages",
                "ec2messages:SendReply",
                "ecr:GetAuthorizationToken",
                "ecs:DiscoverPollEndpoint",
                "ssmmessages:CreateControlChannel",
                "ssmmessages:CreateDataChannel",
                "ssmmessages:OpenControlChannel",
                "ssmmessages:OpenDataChannel",
            ],
            "*",  # No resource-level permissions for these calls.
        ),
        # Whatever a workload role is granted, it can never touch identity, the organization or
        # the account settings.
        statement("NeverIdentityOrAccount", ["account:*", "iam:*", "organizations:*"], "*", effect="Deny"),
    )
