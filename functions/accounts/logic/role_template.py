"""The CloudFormation template a customer deploys to connect an AWS account (DESIGN.md, workflow 1).

One template is rendered per connection (troposphere, deterministic JSON) and stored immutable and
versioned in the service bucket; the customer launches it from a console quick-create URL.

What the template creates in the customer's account, and why each piece is shaped the way it is:

* **Deploy role** (``DeployRole``) - the only role stackpilot assumes. Its trust names our account
  *and* requires ``sts:ExternalId`` and ``aws:PrincipalArn`` = our dedicated assumer role. It may run
  CloudFormation only on stacks named ``<prefix>*`` in the connection's region, and must hand every
  stack to the CloudFormation service role: it holds no resource permissions itself, with one
  exception since template version 2, the stacks' **app secrets** (``WriteStackSecrets``).
  A stack's ``container.secret_env`` values go straight into this account's Secrets Manager and
  stackpilot keeps no plaintext: the stacks service writes each value through this role as the
  secret ``<stack name>/<ENV_NAME>`` and the stack's task definition references the secret's ARN.
  So the role may create (with tags), overwrite (``PutSecretValue``), describe, delete and restore
  (undo a deletion still in its recovery window) secrets named ``<prefix>*`` in this region and
  account - and nothing else on them. It is **write-only**: no ``GetSecretValue``, so a value put
  in can never be read back through stackpilot (``DescribeSecret`` returns metadata only); no
  resource policies (no sharing with other accounts), no rotation, and no replicas in other regions
  (``CreateSecret`` could add them: a condition refuses ``AddReplicaRegions``). The secrets use the
  account's ``aws/secretsmanager`` key, which every principal of the account may use through
  Secrets Manager, so the role holds no KMS rights. What reads the values stays in the account:
  the stack's task execution role (within the boundary's ``ReadOwnSecrets``) and CloudFormation
  itself. The permissions boundary does not apply to this role (it caps the roles stacks create).
* **CloudFormation service role** (``CloudFormationRole``) - assumable only by CloudFormation in this
  account. It can build what stackpilot stacks contain, scoped to the region/account (and to our
  names where ARNs carry names). It may create IAM roles only under ``/<base>/`` and only when they
  carry the **permissions boundary**, and may never remove or rewrite that boundary.
* **Permissions boundary** (``PermissionsBoundary``) - the ceiling for every role a stackpilot stack
  creates: app runtime needs only, and an explicit deny of IAM, Organizations and account changes.
* ``Custom::StackpilotConnection`` - tells stackpilot (SNS topic in the same region) that the roles
  exist; it depends on every role and policy so the callback never races IAM.
* Optional EventBridge rule forwarding our stacks' status changes to the stackpilot bus.

Naming contract for the stacks stackpilot builds (the CloudFormation role is scoped to it):

* stacks are named ``<prefix>...`` (e.g. ``stackpilot-``); this onboarding stack must NOT be (the
  deploy role is also explicitly denied on it; see :func:`onboarding_stack_name`);
* IAM roles and instance profiles use ``Path: /<base>/`` (``/stackpilot/``) and
  ``PermissionsBoundary:`` :func:`permissions_boundary_arn`; inline policies only (no managed ones);
* S3 buckets, log groups, ECR repositories, secrets and SSM parameters are named ``<prefix>...``
  (CloudFormation-generated names of buckets, log groups and repositories already start with the
  stack name) or live under ``/<base>/``; database credentials live in such a secret (not an
  RDS-managed ``rds!`` secret);
* every CreateStack / UpdateStack / CreateChangeSet passes ``RoleARN`` =
  :func:`cloudformation_role_arn`, in the connection's region.

This module is framework-free: troposphere and the standard library only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

from troposphere import (
    AccountId,
    Equals,
    GetAtt,
    Output,
    Parameter,
    Ref,
    Region,
    StackId,
    Sub,
    Tags,
    Template,
    cloudformation,
    events,
    iam,
)

from functions.shared.logic.customer_names import (
    _CONNECTION_ID_RE,
    _REGION_RE,
    CONTROL_PATH,
    TEMPLATE_VERSION,
    _events_role_name,
    _require,
    _status_rule_name,
    cloudformation_role_arn,
    cloudformation_role_name,
    connection_suffix,
    deploy_role_arn,
    deploy_role_name,
    onboarding_stack_name,
    permissions_boundary_arn,
    permissions_boundary_name,
    quick_create_url,
    workload_path,
)
from functions.shared.logic.iam import (
    ACCOUNT_ID_RE,
    ARN,
    HERE,
    PARTITION_RE,
    cfn_lint_ignores,
    iam_arn_re,
    policy_document,
    statement,
)

__all__ = [
    "CONTROL_PATH",
    "TEMPLATE_VERSION",
    "RoleTemplateInput",
    "cloudformation_role_arn",
    "cloudformation_role_name",
    "connection_suffix",
    "deploy_role_arn",
    "deploy_role_name",
    "onboarding_stack_name",
    "permissions_boundary_arn",
    "permissions_boundary_name",
    "quick_create_url",
    "render_role_template",
]


_EXTERNAL_ID_RE: Final = re.compile(r"[A-Za-z0-9_-]{43,128}")
_NONCE_RE: Final = re.compile(r"[A-Za-z0-9_-]{16,128}")
_PREFIX_RE: Final = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*-")
_VERSION_RE: Final = re.compile(r"[A-Za-z0-9._-]{1,16}")

# Patterns/lengths the template enforces on its own parameters (the console lets the user edit
# them; a mangled value must fail at stack creation, not produce a role with a weird condition).
_PARAM_PATTERN: Final = "^[A-Za-z0-9_-]+$"

_CFN_STATUS_DETAIL_TYPE: Final = "CloudFormation Stack Status Change"


@dataclass(frozen=True)
class RoleTemplateInput:
    connection_id: str  # e.g. "conn_3f9a..."
    external_id: str  # server-generated, url-safe base64, 43+ chars
    nonce: str  # single-use, url-safe
    region: str  # the only region where this stack may be created
    service_account_id: str  # our AWS account (12 digits)
    # arn:aws:iam::<service_account_id>:role/stackpilot-<stage>-customer-assumer
    assumer_role_arn: str
    # arn:aws:sns:<region>:<service_account_id>:stackpilot-<stage>-connection-callbacks (same region)
    callback_topic_arn: str
    # arn:aws:events:<region>:<service_account_id>:event-bus/stackpilot-<stage>
    event_bus_arn: str
    stack_name_prefix: str  # "stackpilot-": customer stacks we manage are named with it
    template_version: str = TEMPLATE_VERSION


# --------------------------------------------------------------------------------------------------
# Deterministic names (stackpilot computes the ARNs it needs without reading the stack's outputs)
# --------------------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------------------
# Public entry points
# --------------------------------------------------------------------------------------------------


def render_role_template(inp: RoleTemplateInput) -> str:
    """Render the onboarding template as JSON text. Same input -> same bytes."""
    _validate(inp)
    return str(_build(inp).to_json(indent=2, sort_keys=True)) + "\n"


# --------------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------------


def _validate(inp: RoleTemplateInput) -> None:
    _require(_CONNECTION_ID_RE, inp.connection_id, "connection_id")
    _require(_EXTERNAL_ID_RE, inp.external_id, "external_id")
    _require(_NONCE_RE, inp.nonce, "nonce")
    _require(_REGION_RE, inp.region, "region")
    _require(ACCOUNT_ID_RE, inp.service_account_id, "service_account_id")
    _require(_PREFIX_RE, inp.stack_name_prefix, "stack_name_prefix")
    _require(_VERSION_RE, inp.template_version, "template_version")
    if len(inp.stack_name_prefix) > 32:
        raise ValueError("invalid stack_name_prefix")
    acct = re.escape(inp.service_account_id)
    # Our own ARNs must belong to our account: a typo here would hand the customer's role to
    # somebody else.
    _require(iam_arn_re(inp.service_account_id, "role"), inp.assumer_role_arn, "assumer_role_arn")
    # A custom resource's ServiceToken must live in the stack's own region.
    _require(
        re.compile(rf"arn:{PARTITION_RE}:sns:{re.escape(inp.region)}:{acct}:[A-Za-z0-9_-]{{1,256}}"),
        inp.callback_topic_arn,
        "callback_topic_arn (must be in the connection's region)",
    )
    _require(
        re.compile(
            rf"arn:{PARTITION_RE}:events:[a-z]{{2}}(?:-[a-z]+)+-\d{{1,2}}:{acct}:event-bus/[\w.-]{{1,256}}"
        ),
        inp.event_bus_arn,
        "event_bus_arn",
    )


# --------------------------------------------------------------------------------------------------
# Policy building blocks
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Names:
    """Everything derived from the input that the policies need."""

    prefix: str  # "stackpilot-"
    base: str  # "stackpilot": IAM path / name-space of workload resources

    @property
    def path(self) -> str:
        return workload_path(self.prefix)


# --------------------------------------------------------------------------------------------------
# Deploy role
# --------------------------------------------------------------------------------------------------


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


def _deploy_policy(inp: RoleTemplateInput, names: _Names) -> dict[str, Any]:
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


# --------------------------------------------------------------------------------------------------
# CloudFormation service role (what stackpilot stacks may contain)
# --------------------------------------------------------------------------------------------------


def _regional(service: str) -> Sub:
    """Every resource of ``service`` in this account and the connection's region (for services
    whose ARNs hold generated ids, not names we control)."""
    return Sub(f"{ARN}:{service}:{HERE}:*")


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
            [_regional("ec2")],
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
            [_regional("ec2"), Sub(f"{ARN}:ec2:${{AWS::Region}}::image/*")],
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


def _compute_policy(names: _Names) -> dict[str, Any]:
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
            [_regional("ecs")],
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
            [_regional("elasticloadbalancing")],
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
                _regional("application-autoscaling"),
                _regional("autoscaling"),
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


def _data_policy(names: _Names) -> dict[str, Any]:
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
            [_regional("rds")],
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


def _iam_policy(names: _Names) -> dict[str, Any]:
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


# --------------------------------------------------------------------------------------------------
# Permissions boundary (the ceiling of every role a stackpilot stack creates)
# --------------------------------------------------------------------------------------------------


def _boundary_policy(names: _Names) -> dict[str, Any]:
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
            [_regional("ec2"), _regional("ecs")],
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


# --------------------------------------------------------------------------------------------------
# Template assembly
# --------------------------------------------------------------------------------------------------


class StackpilotConnection(cloudformation.CustomResource):  # type: ignore[misc]
    """``Custom::StackpilotConnection``: the callback to stackpilot once the roles exist."""

    resource_type = "Custom::StackpilotConnection"
    props = {
        **cloudformation.CustomResource.props,
        "AccountId": (str, True),
        "ConnectionId": (str, True),
        "Nonce": (str, True),
        "Region": (str, True),
        "RoleArn": (str, True),
        "TemplateVersion": (str, True),
    }


def _parameters(t: Template, inp: RoleTemplateInput) -> None:
    # Not NoEcho: the console ignores NoEcho parameters in quick-create URLs, and none of these
    # is a secret towards the customer (the ExternalId is a confused-deputy guard, not a password).
    t.add_parameter(
        Parameter(
            "ExternalId",
            Type="String",
            Default=inp.external_id,
            AllowedPattern=_PARAM_PATTERN,
            MinLength=43,
            MaxLength=128,
            Description="Generated by stackpilot for this connection. Do not change.",
            ConstraintDescription="must be the value generated by stackpilot",
        )
    )
    t.add_parameter(
        Parameter(
            "ConnectionId",
            Type="String",
            Default=inp.connection_id,
            AllowedPattern=_PARAM_PATTERN,
            MinLength=1,
            MaxLength=64,
            Description="stackpilot connection id. Do not change.",
            ConstraintDescription="must be the value generated by stackpilot",
        )
    )
    t.add_parameter(
        Parameter(
            "Nonce",
            Type="String",
            Default=inp.nonce,
            AllowedPattern=_PARAM_PATTERN,
            MinLength=16,
            MaxLength=128,
            Description="Single-use value binding this stack to the connection. Do not change.",
            ConstraintDescription="must be the value generated by stackpilot",
        )
    )
    t.add_parameter(
        Parameter(
            "EnableStatusForwarding",
            Type="String",
            Default="true",
            AllowedValues=["true", "false"],
            Description="Forward status changes of stackpilot stacks to stackpilot (faster updates).",
        )
    )


def _tags(*extra: tuple[str, str]) -> Tags:
    return Tags(
        {
            "stackpilot:connection-id": Ref("ConnectionId"),
            "stackpilot:managed-by": "stackpilot",
            **dict(extra),
        }
    )


def _add_roles(t: Template, inp: RoleTemplateInput, names: _Names) -> list[str]:
    """Roles and policies of the connection; returns their logical ids."""
    cid = inp.connection_id
    boundary = t.add_resource(
        iam.ManagedPolicy(
            "PermissionsBoundary",
            ManagedPolicyName=permissions_boundary_name(cid),
            Path=CONTROL_PATH,
            Description="stackpilot: ceiling of every IAM role a stackpilot stack creates",
            PolicyDocument=_boundary_policy(names),
        )
    )
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
            RoleName=cloudformation_role_name(cid),
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
            Tags=_tags(),
        )
    )
    t.add_resource(
        iam.Role(
            "DeployRole",
            RoleName=deploy_role_name(cid),
            Path=CONTROL_PATH,
            Description="stackpilot: assumed by stackpilot to run stackpilot-* CloudFormation stacks",
            # Short sessions: one workflow step at a time.
            MaxSessionDuration=3600,
            AssumeRolePolicyDocument=_deploy_trust(inp),
            Policies=[iam.Policy(PolicyName="stackpilot-deploy", PolicyDocument=_deploy_policy(inp, names))],
            Tags=_tags(),
        )
    )
    return [boundary.title, *managed, "CloudFormationRole", "DeployRole"]


def _add_status_forwarding(t: Template, inp: RoleTemplateInput, names: _Names) -> None:
    cond = "StatusForwardingEnabled"
    t.add_condition(cond, Equals(Ref("EnableStatusForwarding"), "true"))
    rule_name = _status_rule_name(inp.connection_id)
    t.add_resource(
        iam.Role(
            "StatusForwardingRole",
            Condition=cond,
            RoleName=_events_role_name(inp.connection_id),
            Path=CONTROL_PATH,
            Description="stackpilot: lets EventBridge forward stackpilot stack status events",
            AssumeRolePolicyDocument=policy_document(
                {
                    "Sid": "OnlyTheForwardingRule",
                    "Effect": "Allow",
                    "Principal": {"Service": "events.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                    # Only our rule in this account may use the role (confused-deputy guard).
                    "Condition": {
                        "StringEquals": {
                            "aws:SourceAccount": AccountId,
                            "aws:SourceArn": Sub(f"{ARN}:events:{HERE}:rule/{rule_name}"),
                        }
                    },
                }
            ),
            Policies=[
                iam.Policy(
                    PolicyName="stackpilot-forward-status",
                    # PutEvents on our bus only: the role cannot write anywhere else.
                    PolicyDocument=policy_document(
                        statement("PutOnStackpilotBus", ["events:PutEvents"], [inp.event_bus_arn])
                    ),
                )
            ],
            Tags=_tags(),
        )
    )
    t.add_resource(
        events.Rule(
            "StatusForwardingRule",
            Condition=cond,
            Name=rule_name,
            Description="Forwards status changes of stackpilot stacks to stackpilot",
            State="ENABLED",
            # Only our stacks' events leave the account: the stack ARN must start with our prefix.
            EventPattern={
                "source": ["aws.cloudformation"],
                "detail-type": [_CFN_STATUS_DETAIL_TYPE],
                "detail": {
                    "stack-id": [{"prefix": Sub(f"{ARN}:cloudformation:{HERE}:stack/{names.prefix}")}],
                },
            },
            Targets=[
                events.Target(
                    Id="stackpilot-bus",
                    Arn=inp.event_bus_arn,
                    RoleArn=GetAtt("StatusForwardingRole", "Arn"),
                    # Stale status is worthless (the reconcile sweep catches what is dropped), so
                    # retry for an hour instead of the default 24 h.
                    RetryPolicy=events.RetryPolicy(MaximumEventAgeInSeconds=3600, MaximumRetryAttempts=20),
                )
            ],
        )
    )


def _build(inp: RoleTemplateInput) -> Template:
    names = _Names(prefix=inp.stack_name_prefix, base=inp.stack_name_prefix.rstrip("-"))
    t = Template(
        Description=(
            f"stackpilot account connection {inp.connection_id} (template version {inp.template_version}): "
            "a deploy role stackpilot assumes, a boundary-guarded CloudFormation role, and a callback."
        )
    )
    t.set_version("2010-09-09")
    t.set_metadata(
        {
            "stackpilot": {"ConnectionId": inp.connection_id, "TemplateVersion": inp.template_version},
            "AWS::CloudFormation::Interface": {
                "ParameterGroups": [
                    {
                        "Label": {"default": "Generated by stackpilot (do not change)"},
                        "Parameters": ["ExternalId", "ConnectionId", "Nonce"],
                    },
                    {"Label": {"default": "Options"}, "Parameters": ["EnableStatusForwarding"]},
                ]
            },
        }
    )
    _parameters(t, inp)
    # The callback topic (ServiceToken) is regional: the stack must be created in that region.
    t.add_rule(
        "OnlyInConnectionRegion",
        {
            "Assertions": [
                {
                    "Assert": Equals(Region, inp.region),
                    "AssertDescription": (
                        f"This stackpilot connection must be created in {inp.region}: "
                        "switch the console to that region."
                    ),
                }
            ]
        },
    )
    iam_resources = _add_roles(t, inp, names)
    _add_status_forwarding(t, inp, names)
    t.add_resource(
        StackpilotConnection(
            "StackpilotConnection",
            ServiceToken=inp.callback_topic_arn,
            # Fail fast (instead of the 1-hour default) if stackpilot never answers.
            ServiceTimeout=300,
            ConnectionId=Ref("ConnectionId"),
            Nonce=Ref("Nonce"),
            RoleArn=GetAtt("DeployRole", "Arn"),
            AccountId=AccountId,
            Region=Region,
            TemplateVersion=inp.template_version,
            # The callback must only arrive once every role and policy exists (explicit, even
            # where a GetAtt already implies it, so a refactor cannot silently drop it).
            DependsOn=sorted(iam_resources),
            Metadata=cfn_lint_ignores("W3005"),
        )
    )
    t.add_output(
        [
            Output("DeployRoleArn", Description="Role stackpilot assumes", Value=GetAtt("DeployRole", "Arn")),
            Output("ConnectionId", Description="stackpilot connection id", Value=Ref("ConnectionId")),
            Output(
                "CloudFormationRoleArn",
                Description="Service role of stackpilot stacks",
                Value=GetAtt("CloudFormationRole", "Arn"),
            ),
            Output(
                "PermissionsBoundaryArn",
                Description="Boundary every stackpilot-created role carries",
                Value=Ref("PermissionsBoundary"),
            ),
        ]
    )
    return t
