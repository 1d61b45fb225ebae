"""The CloudFormation service role (``CloudFormationRole``): what stackpilot stacks may contain, in
four managed policies (README.md, "CloudFormation service role").
"""

from __future__ import annotations

from typing import Any

from troposphere import AccountId, Ref, Sub, Template, iam

from functions.accounts.logic.role_template.context import Names, RoleTemplateInput, regional, tags
from functions.shared.logic.customer_names import CONTROL_PATH, cloudformation_role_name
from functions.shared.logic.iam import ARN, HERE, policy_document, statement


def add_cloudformation_role(t: Template, inp: RoleTemplateInput, names: Names) -> list[str]:
    """The service role and its managed policies; returns their logical ids."""
    managed = {
        "CloudFormationNetworkPolicy": ("networks", _network_policy()),
        "CloudFormationComputePolicy": ("containers, load balancers, scaling, APIs", _compute_policy(names)),
        "CloudFormationDataPolicy": ("databases, buckets, logs, secrets, parameters", _data_policy(names)),
        "CloudFormationIamPolicy": ("boundary-guarded workload roles", _iam_policy(names)),
    }
    for title, (what, document) in managed.items():
        t.add_resource(
            iam.ManagedPolicy(
                title,
                Path=CONTROL_PATH,
                Description=f"stackpilot CloudFormation service role: {what}",
                PolicyDocument=document,
            )
        )
    t.add_resource(
        iam.Role(
            "CloudFormationRole",
            RoleName=cloudformation_role_name(inp.connection_id),
            Path=CONTROL_PATH,
            Description="stackpilot: the role CloudFormation uses for stackpilot stacks",
            MaxSessionDuration=3600,
            # Only CloudFormation, and only on behalf of this account (confused-deputy guard).
            AssumeRolePolicyDocument=policy_document(
                {
                    "Sid": "CloudFormationInThisAccount",
                    "Effect": "Allow",
                    "Principal": {"Service": "cloudformation.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                    "Condition": {"StringEquals": {"aws:SourceAccount": AccountId}},
                }
            ),
            ManagedPolicyArns=[Ref(title) for title in managed],
            Tags=tags(),
        )
    )
    return [*managed, "CloudFormationRole"]


def _network_policy() -> dict[str, Any]:
    return policy_document(
        # EC2 ARNs carry generated ids, so the scope is this account and region; the resources
        # are reachable only through CloudFormation stacks named with our prefix (the deploy role
        # cannot import existing resources).
        statement(
            "BuildNetworks",
            [
                "ec2:AllocateAddress",
                "ec2:AssociateAddress",
                "ec2:AssociateRouteTable",
                "ec2:AttachInternetGateway",
                "ec2:AuthorizeSecurityGroupEgress",
                "ec2:AuthorizeSecurityGroupIngress",
                "ec2:CreateFlowLogs",
                "ec2:CreateInternetGateway",
                "ec2:CreateRoute",
                "ec2:CreateRouteTable",
                "ec2:CreateSecurityGroup",
                "ec2:CreateSubnet",
                "ec2:CreateTags",
                "ec2:CreateVpc",
                "ec2:CreateVpcEndpoint",
                "ec2:DeleteFlowLogs",
                "ec2:DeleteInternetGateway",
                "ec2:DeleteRoute",
                "ec2:DeleteRouteTable",
                "ec2:DeleteSecurityGroup",
                "ec2:DeleteSubnet",
                "ec2:DeleteTags",
                "ec2:DeleteVpc",
                "ec2:DeleteVpcEndpoints",
                "ec2:DetachInternetGateway",
                "ec2:DisassociateAddress",
                "ec2:DisassociateRouteTable",
                "ec2:ModifySecurityGroupRules",
                "ec2:ModifySubnetAttribute",
                "ec2:ModifyVpcAttribute",
                "ec2:ModifyVpcEndpoint",
                "ec2:ReleaseAddress",
                "ec2:ReplaceRoute",
                "ec2:ReplaceRouteTableAssociation",
                "ec2:RevokeSecurityGroupEgress",
                "ec2:RevokeSecurityGroupIngress",
                "ec2:UpdateSecurityGroupRuleDescriptionsEgress",
                "ec2:UpdateSecurityGroupRuleDescriptionsIngress",
            ],
            [regional("ec2")],
        ),
        # NAT instance, ECS container instances and the bastion (launch templates + ASGs).
        statement(
            "BuildInstances",
            [
                "ec2:CreateLaunchTemplate",
                "ec2:CreateLaunchTemplateVersion",
                "ec2:DeleteLaunchTemplate",
                "ec2:DeleteLaunchTemplateVersions",
                "ec2:ModifyInstanceAttribute",
                "ec2:ModifyLaunchTemplate",
                "ec2:RunInstances",
                "ec2:TerminateInstances",
            ],
            # Public (Amazon-owned) AMIs have no account in their ARN.
            [regional("ec2"), Sub(f"{ARN}:ec2:${{AWS::Region}}::image/*")],
        ),
        statement(
            "DescribeNetworks",
            [
                "ec2:DescribeAccountAttributes",
                "ec2:DescribeAddresses",
                "ec2:DescribeAvailabilityZones",
                "ec2:DescribeFlowLogs",
                "ec2:DescribeImages",
                "ec2:DescribeInstanceTypes",
                "ec2:DescribeInstances",
                "ec2:DescribeInternetGateways",
                "ec2:DescribeLaunchTemplateVersions",
                "ec2:DescribeLaunchTemplates",
                "ec2:DescribeNetworkInterfaces",
                "ec2:DescribePrefixLists",
                "ec2:DescribeRouteTables",
                "ec2:DescribeSecurityGroupRules",
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeSubnets",
                "ec2:DescribeVpcAttribute",
                "ec2:DescribeVpcEndpointServices",
                "ec2:DescribeVpcEndpoints",
                "ec2:DescribeVpcs",
            ],
            "*",  # Describe* calls have no resource-level permissions.
        ),
    )


def _compute_policy(names: Names) -> dict[str, Any]:
    return policy_document(
        statement(
            "BuildContainers",
            [
                "ecs:CreateCapacityProvider",
                "ecs:CreateCluster",
                "ecs:CreateService",
                "ecs:DeleteCapacityProvider",
                "ecs:DeleteCluster",
                "ecs:DeleteService",
                "ecs:DescribeClusters",
                "ecs:DescribeServices",
                "ecs:PutClusterCapacityProviders",
                "ecs:RegisterTaskDefinition",
                "ecs:TagResource",
                "ecs:UntagResource",
                "ecs:UpdateCapacityProvider",
                "ecs:UpdateCluster",
                "ecs:UpdateClusterSettings",
                "ecs:UpdateService",
            ],
            [regional("ecs")],
        ),
        statement(
            "BuildLoadBalancers",
            [
                "elasticloadbalancing:AddListenerCertificates",
                "elasticloadbalancing:AddTags",
                "elasticloadbalancing:CreateListener",
                "elasticloadbalancing:CreateLoadBalancer",
                "elasticloadbalancing:CreateRule",
                "elasticloadbalancing:CreateTargetGroup",
                "elasticloadbalancing:DeleteListener",
                "elasticloadbalancing:DeleteLoadBalancer",
                "elasticloadbalancing:DeleteRule",
                "elasticloadbalancing:DeleteTargetGroup",
                "elasticloadbalancing:ModifyListener",
                "elasticloadbalancing:ModifyListenerAttributes",
                "elasticloadbalancing:ModifyLoadBalancerAttributes",
                "elasticloadbalancing:ModifyRule",
                "elasticloadbalancing:ModifyTargetGroup",
                "elasticloadbalancing:ModifyTargetGroupAttributes",
                "elasticloadbalancing:RemoveListenerCertificates",
                "elasticloadbalancing:RemoveTags",
                "elasticloadbalancing:SetSecurityGroups",
                "elasticloadbalancing:SetSubnets",
            ],
            [regional("elasticloadbalancing")],
        ),
        statement(
            "BuildScaling",
            [
                "application-autoscaling:DeleteScalingPolicy",
                "application-autoscaling:DeregisterScalableTarget",
                "application-autoscaling:PutScalingPolicy",
                "application-autoscaling:RegisterScalableTarget",
                "application-autoscaling:TagResource",
                "application-autoscaling:UntagResource",
                "autoscaling:CreateAutoScalingGroup",
                "autoscaling:CreateOrUpdateTags",
                "autoscaling:DeleteAutoScalingGroup",
                "autoscaling:DeleteLifecycleHook",
                "autoscaling:DeletePolicy",
                "autoscaling:DeleteTags",
                "autoscaling:PutLifecycleHook",
                "autoscaling:PutScalingPolicy",
                "autoscaling:SetInstanceProtection",
                "autoscaling:UpdateAutoScalingGroup",
                # Target tracking creates and removes its alarms with the caller's rights.
                "cloudwatch:DeleteAlarms",
                "cloudwatch:DescribeAlarms",
                "cloudwatch:PutMetricAlarm",
                "cloudwatch:TagResource",
                "cloudwatch:UntagResource",
            ],
            [
                regional("application-autoscaling"),
                regional("autoscaling"),
                Sub(f"{ARN}:cloudwatch:{HERE}:alarm:*"),
            ],
        ),
        statement(
            "BuildImageRepositories",
            [
                "ecr:CreateRepository",
                "ecr:DeleteLifecyclePolicy",
                "ecr:DeleteRepository",
                "ecr:DeleteRepositoryPolicy",
                "ecr:DescribeRepositories",
                "ecr:GetLifecyclePolicy",
                "ecr:GetRepositoryPolicy",
                "ecr:ListTagsForResource",
                "ecr:PutImageScanningConfiguration",
                "ecr:PutImageTagMutability",
                "ecr:PutLifecyclePolicy",
                "ecr:SetRepositoryPolicy",
                "ecr:TagResource",
                "ecr:UntagResource",
            ],
            [Sub(f"{ARN}:ecr:{HERE}:repository/{names.prefix}*")],
        ),
        # A stack that tracks a source builds in this account (template v3): its CodeBuild project,
        # named after the stack. The repository's EmptyOnDelete lists and deletes its images.
        statement(
            "EmptyImageRepositories",
            ["ecr:BatchDeleteImage", "ecr:DescribeImages", "ecr:ListImages"],
            [Sub(f"{ARN}:ecr:{HERE}:repository/{names.prefix}*")],
        ),
        statement(
            "BuildProjects",
            [
                "codebuild:BatchGetProjects",
                "codebuild:CreateProject",
                "codebuild:DeleteProject",
                "codebuild:UpdateProject",
            ],
            [Sub(f"{ARN}:codebuild:{HERE}:project/{names.prefix}*")],
        ),
        statement(
            "BuildApis",
            ["apigateway:DELETE", "apigateway:GET", "apigateway:PATCH", "apigateway:POST", "apigateway:PUT"],
            # API Gateway ARNs have no account field; the scope is the connection's region.
            [Sub(f"{ARN}:apigateway:${{AWS::Region}}::/*")],
        ),
        statement(
            "DescribeCompute",
            [
                "application-autoscaling:DescribeScalableTargets",
                "application-autoscaling:DescribeScalingActivities",
                "application-autoscaling:DescribeScalingPolicies",
                "autoscaling:DescribeAutoScalingGroups",
                "autoscaling:DescribeLifecycleHooks",
                "autoscaling:DescribePolicies",
                "autoscaling:DescribeScalingActivities",
                "ecs:DeregisterTaskDefinition",
                "ecs:DescribeCapacityProviders",
                "ecs:DescribeTaskDefinition",
                "elasticloadbalancing:DescribeListenerAttributes",
                "elasticloadbalancing:DescribeListenerCertificates",
                "elasticloadbalancing:DescribeListeners",
                "elasticloadbalancing:DescribeLoadBalancerAttributes",
                "elasticloadbalancing:DescribeLoadBalancers",
                "elasticloadbalancing:DescribeRules",
                "elasticloadbalancing:DescribeTags",
                "elasticloadbalancing:DescribeTargetGroupAttributes",
                "elasticloadbalancing:DescribeTargetGroups",
                "elasticloadbalancing:DescribeTargetHealth",
            ],
            "*",  # No resource-level permissions for these calls.
        ),
    )


def _data_policy(names: Names) -> dict[str, Any]:
    prefix, base = names.prefix, names.base
    secrets = [
        Sub(f"{ARN}:secretsmanager:{HERE}:secret:{prefix}*"),
        Sub(f"{ARN}:secretsmanager:{HERE}:secret:/{base}/*"),
    ]
    parameters = [
        Sub(f"{ARN}:ssm:{HERE}:parameter/{base}/*"),
        Sub(f"{ARN}:ssm:{HERE}:parameter/{prefix}*"),
    ]
    return policy_document(
        statement(
            "BuildDatabases",
            [
                "rds:AddTagsToResource",
                "rds:CreateDBInstance",
                "rds:CreateDBParameterGroup",
                "rds:CreateDBSnapshot",
                "rds:CreateDBSubnetGroup",
                "rds:DeleteDBInstance",
                "rds:DeleteDBParameterGroup",
                "rds:DeleteDBSubnetGroup",
                "rds:DescribeDBInstances",
                "rds:DescribeDBParameterGroups",
                "rds:DescribeDBParameters",
                "rds:DescribeDBSnapshots",
                "rds:DescribeDBSubnetGroups",
                "rds:ListTagsForResource",
                "rds:ModifyDBInstance",
                "rds:ModifyDBParameterGroup",
                "rds:ModifyDBSubnetGroup",
                "rds:RebootDBInstance",
                "rds:RemoveTagsFromResource",
            ],
            [regional("rds")],
        ),
        # Bucket names are global: scope by our prefix (CloudFormation-generated bucket names
        # start with the stack name, which starts with it).
        statement(
            "BuildBuckets",
            [
                "s3:CreateBucket",
                "s3:DeleteBucket",
                "s3:DeleteBucketPolicy",
                "s3:GetBucketLocation",
                "s3:GetBucketPolicy",
                "s3:GetBucketTagging",
                "s3:GetBucketVersioning",
                "s3:GetEncryptionConfiguration",
                "s3:GetLifecycleConfiguration",
                "s3:PutBucketLogging",
                "s3:PutBucketOwnershipControls",
                "s3:PutBucketPolicy",
                "s3:PutBucketPublicAccessBlock",
                "s3:PutBucketTagging",
                "s3:PutBucketVersioning",
                "s3:PutEncryptionConfiguration",
                "s3:PutLifecycleConfiguration",
            ],
            [Sub(f"{ARN}:s3:::{prefix}*")],
        ),
        statement(
            "BuildLogGroups",
            [
                "logs:AssociateKmsKey",
                "logs:CreateLogGroup",
                "logs:DeleteLogGroup",
                "logs:DeleteRetentionPolicy",
                "logs:DisassociateKmsKey",
                "logs:ListTagsForResource",
                "logs:PutRetentionPolicy",
                "logs:TagResource",
                "logs:UntagResource",
            ],
            [
                Sub(f"{ARN}:logs:{HERE}:log-group:{prefix}*"),
                Sub(f"{ARN}:logs:{HERE}:log-group:/{base}/*"),
            ],
        ),
        statement(
            "BuildSecrets",
            [
                "secretsmanager:CreateSecret",
                "secretsmanager:DeleteResourcePolicy",
                "secretsmanager:DeleteSecret",
                "secretsmanager:DescribeSecret",
                # Resolving {{resolve:secretsmanager:...}} references of our own secrets.
                "secretsmanager:GetSecretValue",
                "secretsmanager:PutResourcePolicy",
                "secretsmanager:TagResource",
                "secretsmanager:UntagResource",
                "secretsmanager:UpdateSecret",
            ],
            secrets,
        ),
        statement(
            "BuildParameters",
            [
                "ssm:AddTagsToResource",
                "ssm:DeleteParameter",
                "ssm:GetParameter",
                "ssm:GetParameters",
                "ssm:ListTagsForResource",
                "ssm:PutParameter",
                "ssm:RemoveTagsFromResource",
            ],
            parameters,
        ),
        statement(
            "ReadPublicAmiParameters",
            ["ssm:GetParameter", "ssm:GetParameters"],
            [Sub(f"{ARN}:ssm:${{AWS::Region}}::parameter/aws/service/*")],
        ),
        # Encrypted RDS storage, EBS volumes and secrets under AWS-managed or existing keys: only
        # when the request comes through those services, never a direct Decrypt.
        statement(
            "UseKeysThroughServices",
            ["kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey*", "kms:ReEncrypt*"],
            [Sub(f"{ARN}:kms:{HERE}:key/*")],
            condition={
                "StringEquals": {
                    "kms:ViaService": [
                        Sub("ec2.${AWS::Region}.amazonaws.com"),
                        Sub("rds.${AWS::Region}.amazonaws.com"),
                        Sub("secretsmanager.${AWS::Region}.amazonaws.com"),
                    ]
                }
            },
        ),
        statement(
            "DescribeData",
            [
                "logs:DescribeLogGroups",
                "rds:DescribeDBEngineVersions",
                "rds:DescribeOrderableDBInstanceOptions",
                "secretsmanager:GetRandomPassword",
                "ssm:DescribeParameters",
            ],
            "*",  # No resource-level permissions for these calls.
        ),
    )


def _iam_policy(names: Names) -> dict[str, Any]:
    workload_roles = Sub(f"{ARN}:iam::${{AWS::AccountId}}:role{names.path}*")
    profiles = Sub(f"{ARN}:iam::${{AWS::AccountId}}:instance-profile{names.path}*")
    boundary = Ref("PermissionsBoundary")
    carries_boundary = {"StringEquals": {"iam:PermissionsBoundary": boundary}}
    return policy_document(
        # TinyStacks' role could grant itself anything. Ours may create and edit roles only
        # under /<base>/ and only while they carry our boundary, which caps what they can do.
        statement(
            "RolesOnlyWithOurBoundary",
            [
                "iam:AttachRolePolicy",
                "iam:CreateRole",
                "iam:DeleteRolePolicy",
                "iam:DetachRolePolicy",
                "iam:PutRolePermissionsBoundary",
                "iam:PutRolePolicy",
            ],
            [workload_roles],
            condition=carries_boundary,
        ),
        statement(
            "ManageWorkloadRoles",
            [
                "iam:DeleteRole",
                "iam:GetRole",
                "iam:GetRolePolicy",
                "iam:ListAttachedRolePolicies",
                "iam:ListInstanceProfilesForRole",
                "iam:ListRolePolicies",
                "iam:ListRoleTags",
                "iam:TagRole",
                "iam:UntagRole",
                "iam:UpdateAssumeRolePolicy",
                "iam:UpdateRole",
                "iam:UpdateRoleDescription",
            ],
            [workload_roles],
        ),
        # Workload roles (task, execution, instance roles) are passed to ECS/EC2/...; they all carry
        # the boundary, so passing them cannot exceed it. No iam:PassedToService condition here:
        # AddRoleToInstanceProfile passes a role without naming a service.
        statement("PassOnlyWorkloadRoles", ["iam:PassRole"], [workload_roles]),
        statement(
            "ManageWorkloadInstanceProfiles",
            [
                "iam:AddRoleToInstanceProfile",
                "iam:CreateInstanceProfile",
                "iam:DeleteInstanceProfile",
                "iam:GetInstanceProfile",
                "iam:RemoveRoleFromInstanceProfile",
                "iam:TagInstanceProfile",
                "iam:UntagInstanceProfile",
            ],
            [profiles],
        ),
        # First use of ECS/ELB/ASG/RDS/... in an account creates their service-linked roles.
        statement(
            "ServiceLinkedRolesOfUsedServices",
            ["iam:CreateServiceLinkedRole"],
            [Sub(f"{ARN}:iam::${{AWS::AccountId}}:role/aws-service-role/*")],
            condition={
                "StringEquals": {
                    "iam:AWSServiceName": [
                        "autoscaling.amazonaws.com",
                        "ecs.amazonaws.com",
                        "ecs.application-autoscaling.amazonaws.com",
                        "elasticloadbalancing.amazonaws.com",
                        "ops.apigateway.amazonaws.com",
                        "rds.amazonaws.com",
                    ]
                }
            },
        ),
        # Guardrails, explicit so that no future Allow can undo them:
        # a role's boundary can never be removed...
        statement("NeverRemoveBoundary", ["iam:DeleteRolePermissionsBoundary"], "*", effect="Deny"),
        # ...nor replaced or created with any other (or no) boundary...
        statement(
            "NeverAnotherBoundary",
            [
                "iam:AttachRolePolicy",
                "iam:CreateRole",
                "iam:PutRolePermissionsBoundary",
                "iam:PutRolePolicy",
            ],
            "*",
            effect="Deny",
            condition={"StringNotEquals": {"iam:PermissionsBoundary": boundary}},
        ),
        # ...and the boundary policy itself can never be rewritten or deleted.
        statement(
            "NeverEditBoundary",
            [
                "iam:CreatePolicyVersion",
                "iam:DeletePolicy",
                "iam:DeletePolicyVersion",
                "iam:SetDefaultPolicyVersion",
            ],
            [boundary],
            effect="Deny",
        ),
    )
