"""The deploy role (``DeployRole``): the only role stackpilot assumes (README.md, "Deploy role")."""

from __future__ import annotations

from typing import Any

from troposphere import AccountId, GetAtt, Ref, StackId, Sub, Template, iam

from functions.accounts.logic.role_template.context import Names, RoleTemplateInput, tags
from functions.shared.logic.customer_names import CONTROL_PATH, deploy_role_name
from functions.shared.logic.iam import ARN, HERE, policy_document, statement


def _deploy_trust(inp: RoleTemplateInput) -> dict[str, Any]:
    partition = inp.assumer_role_arn.split(":", 2)[1]
    return policy_document(
        {
            "Sid": "StackpilotAssumerOnly",
            "Effect": "Allow",
            # The account root as principal keeps the trust valid when our assumer role is
            # recreated (a role-ARN principal is silently replaced by its unique id and breaks)...
            "Principal": {"AWS": f"arn:{partition}:iam::{inp.service_account_id}:root"},
            "Action": "sts:AssumeRole",
            "Condition": {
                # ...the ExternalId condition defeats the confused deputy (another stackpilot
                # customer pointing us at this account)...
                "StringEquals": {"sts:ExternalId": Ref("ExternalId")},
                # ...and the principal-ARN condition narrows ":root" to our one assumer role.
                "ArnEquals": {"aws:PrincipalArn": inp.assumer_role_arn},
            },
        }
    )


def _deploy_policy(inp: RoleTemplateInput, names: Names) -> dict[str, Any]:
    stacks = Sub(f"{ARN}:cloudformation:{HERE}:stack/{names.prefix}*/*")
    cfn_role = GetAtt("CloudFormationRole", "Arn")
    return policy_document(
        # Operate stackpilot stacks only (name prefix, this region and account).
        statement(
            "OperateStackpilotStacks",
            [
                "cloudformation:CancelUpdateStack",
                "cloudformation:ContinueUpdateRollback",
                "cloudformation:DeleteChangeSet",
                "cloudformation:DeleteStack",
                "cloudformation:DescribeChangeSet",
                "cloudformation:DescribeStackEvents",
                "cloudformation:DescribeStackResource",
                "cloudformation:DescribeStackResources",
                "cloudformation:DescribeStacks",
                "cloudformation:ExecuteChangeSet",
                "cloudformation:GetTemplate",
                "cloudformation:GetTemplateSummary",
                "cloudformation:ListChangeSets",
                "cloudformation:ListStackResources",
                "cloudformation:RollbackStack",
                "cloudformation:TagResource",
                "cloudformation:UntagResource",
            ],
            [stacks],
        ),
        # Creating or changing a stack requires handing it to the CloudFormation service role:
        # the deploy role itself holds no resource permissions, so a stack can only ever do what
        # that (boundary-guarded) role can do.
        statement(
            "ChangeStacksThroughServiceRoleOnly",
            ["cloudformation:CreateChangeSet", "cloudformation:CreateStack", "cloudformation:UpdateStack"],
            [stacks],
            condition={"StringEquals": {"cloudformation:RoleArn": [cfn_role]}},
        ),
        # These calls have no resource-level permissions (or none when called on a template body).
        # ListStacks returns names and statuses only - no outputs/parameters of other stacks.
        statement(
            "TemplateChecksAndStatusSweep",
            [
                "cloudformation:GetTemplateSummary",
                "cloudformation:ListStacks",
                "cloudformation:ValidateTemplate",
            ],
            "*",
        ),
        statement(
            "PassOnlyTheCloudFormationRole",
            ["iam:PassRole"],
            [cfn_role],
            # ...and only to CloudFormation.
            condition={"StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}},
        ),
        # Validating an existing VPC (subnets, AZs, routes). An explicit list, not ec2:Describe*,
        # which would include e.g. DescribeInstanceAttribute (user data may hold secrets).
        statement(
            "InspectNetworks",
            [
                "ec2:DescribeAvailabilityZones",
                "ec2:DescribeInternetGateways",
                "ec2:DescribeNatGateways",
                "ec2:DescribeRouteTables",
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeSubnets",
                "ec2:DescribeVpcEndpoints",
                "ec2:DescribeVpcs",
            ],
            "*",
        ),
        # The stacks' app secrets (container.secret_env): the stacks service writes each value
        # straight into this account as <stack name>/<ENV_NAME> and the task definition references
        # the secret's ARN. Write-only: no GetSecretValue (stackpilot never reads a value back), no
        # resource policies, no rotation. DescribeSecret returns metadata only; TagResource is what
        # CreateSecret with Tags also requires; RestoreSecret undoes a DeleteSecret still in its
        # recovery window (a stack deleted and created again). The condition refuses replicas in
        # other regions (CreateSecret's AddReplicaRegions), which the stacks service never asks for.
        statement(
            "WriteStackSecrets",
            [
                "secretsmanager:CreateSecret",
                "secretsmanager:DeleteSecret",
                "secretsmanager:DescribeSecret",
                "secretsmanager:PutSecretValue",
                "secretsmanager:RestoreSecret",
                "secretsmanager:TagResource",
            ],
            [Sub(f"{ARN}:secretsmanager:{HERE}:secret:{names.prefix}*")],
            condition={"Null": {"secretsmanager:AddReplicaRegions": "true"}},
        ),
        # Releases (template version 3): build a pushed commit in this account. The deploy role
        # starts, follows and stops our CodeBuild projects only; it never creates or changes one
        # (the stack does that, through the CloudFormation role).
        statement(
            "RunStackpilotBuilds",
            ["codebuild:BatchGetBuilds", "codebuild:StartBuild", "codebuild:StopBuild"],
            [Sub(f"{ARN}:codebuild:{HERE}:project/{names.prefix}*")],
        ),
        # The commit's source archive goes into the stack's source bucket: put objects only (no
        # read, no delete, no bucket settings), and only in buckets of this account (bucket ARNs
        # name no account: without the condition a same-named bucket elsewhere would match).
        statement(
            "UploadBuildSources",
            ["s3:PutObject"],
            [Sub(f"{ARN}:s3:::{names.prefix}*/*")],
            condition={"StringEquals": {"s3:ResourceAccount": AccountId}},
        ),
        # The digest of the image a build pushed (tags are immutable): read image metadata only.
        statement(
            "ReadBuiltImages",
            ["ecr:DescribeImages"],
            [Sub(f"{ARN}:ecr:{HERE}:repository/{names.prefix}*")],
        ),
        # A release's build log (GET /releases/{id}/logs), from our builds' log groups only.
        statement(
            "ReadBuildLogs",
            ["logs:FilterLogEvents", "logs:GetLogEvents"],
            [
                Sub(f"{ARN}:logs:{HERE}:log-group:{names.path}codebuild/*"),
                Sub(f"{ARN}:logs:{HERE}:log-group:{names.path}codebuild/*:log-stream:*"),
            ],
        ),
        # Public AMI ids (AWS::SSM::Parameter::Value<...> parameters) resolved at change-set time.
        statement(
            "ReadPublicAmiParameters",
            ["ssm:GetParameters"],
            [Sub(f"{ARN}:ssm:${{AWS::Region}}::parameter/aws/service/*")],
        ),
        # Never this onboarding stack, whatever it is named: the deploy role must not be able to
        # rewrite its own permissions.
        statement(
            "NeverTheOnboardingStack",
            ["cloudformation:*"],
            [StackId, Sub(f"{ARN}:cloudformation:{HERE}:stack/${{AWS::StackName}}/*")],
            effect="Deny",
        ),
        # No resource import: adopting existing customer resources into a stackpilot stack would
        # let a stack update/delete things stackpilot never created.
        statement(
            "NoResourceImport",
            ["cloudformation:CreateChangeSet"],
            "*",
            effect="Deny",
            condition={"Null": {"cloudformation:ImportResourceTypes": "false"}},
        ),
    )


def add_deploy_role(t: Template, inp: RoleTemplateInput, names: Names) -> list[str]:
    """The deploy role; returns its logical id."""
    t.add_resource(
        iam.Role(
            "DeployRole",
            RoleName=deploy_role_name(inp.connection_id),
            Path=CONTROL_PATH,
            Description="stackpilot: assumed by stackpilot to run stackpilot-* CloudFormation stacks",
            # Short sessions: one workflow step at a time.
            MaxSessionDuration=3600,
            AssumeRolePolicyDocument=_deploy_trust(inp),
            Policies=[iam.Policy(PolicyName="stackpilot-deploy", PolicyDocument=_deploy_policy(inp, names))],
            Tags=tags(),
        )
    )
    return ["DeployRole"]
