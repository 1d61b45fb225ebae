"""The accounts domain (``functions/accounts``): its functions, the service bucket for rendered
onboarding templates, the customer-assumer role, and the invoke permissions of the per-region
callback topics (the topics themselves live in ``CallbackTopicStack``, one per region).
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from functions.shared.logic.customer_names import CONTROL_PATH, deploy_role_name
from infra.constructs import nag
from infra.constructs.callback_topics import topic_arn
from infra.constructs.service_function import Platform, ServiceFunction, domain_functions
from infra.definitions import TOPICS, FunctionDef, Grant, Names

DOMAIN = "accounts"
# Customers' deploy roles, created by the onboarding template in their accounts (path and name prefix
# come from the template itself, so the two cannot drift apart).
CUSTOMER_DEPLOY_ROLES = (
    f"arn:aws:iam::*:role{CONTROL_PATH}{deploy_role_name('conn_' + 'x' * 26).removesuffix('x' * 26)}*"
)
ASSUME = Grant("assumer_role", "assume")


class Accounts(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        platform: Platform,
        definitions: Sequence[FunctionDef],
        other_assumers: Sequence[ServiceFunction] = (),
    ) -> None:
        """``other_assumers``: other domains' functions granted ``assumer_role: assume``."""
        super().__init__(scope, construct_id)
        names = platform.names
        self.functions = domain_functions(self, platform, definitions, DOMAIN)
        self.log_bucket, self.bucket = self._buckets(platform)
        self.assumer_role = self._assumer_role(
            platform, [*(self.functions[d.key] for d in definitions if ASSUME in d.grants), *other_assumers]
        )
        self._let_callback_topics_invoke(names)

    def _buckets(self, platform: Platform) -> tuple[s3.Bucket, s3.Bucket]:
        # S3 server access logs can only be delivered to an SSE-S3 bucket, hence not the service key.
        log_bucket = s3.Bucket(
            self,
            "AccessLogBucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[
                s3.LifecycleRule(
                    expiration=Duration.days(365), noncurrent_version_expiration=Duration.days(30)
                )
            ],
            removal_policy=RemovalPolicy.RETAIN,
        )
        nag.checkov_skip(
            log_bucket,
            "CKV_AWS_18",
            "The access-log bucket itself: logging it would log every log delivery, recursively.",
        )
        bucket = s3.Bucket(
            self,
            "ServiceBucket",
            bucket_name=platform.names.service_bucket,
            encryption=s3.BucketEncryption.KMS,
            encryption_key=platform.encryption_key,
            bucket_key_enabled=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=log_bucket,
            server_access_logs_prefix="service-bucket/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    noncurrent_version_expiration=Duration.days(90),
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                )
            ],
            removal_policy=RemovalPolicy.RETAIN,
        )
        return log_bucket, bucket

    def _assumer_role(self, platform: Platform, assumers: Sequence[ServiceFunction]) -> iam.Role:
        """The one principal customers' deploy roles trust (``aws:PrincipalArn``), assumable only by
        the functions whose definition grants ``assumer_role: assume``."""
        if not assumers:
            raise ValueError("no function is granted assumer_role: assume")
        role = iam.Role(
            self,
            "CustomerAssumerRole",
            role_name=platform.names.customer_assumer_role,
            description="Assumes customers' stackpilot-deploy-* roles (they trust this role's ARN)",
            assumed_by=iam.CompositePrincipal(*(iam.ArnPrincipal(fn.role.role_arn) for fn in assumers)),
            max_session_duration=Duration.hours(1),
            inline_policies={
                "AssumeCustomerDeployRoles": iam.PolicyDocument(
                    statements=[
                        iam.PolicyStatement(actions=["sts:AssumeRole"], resources=[CUSTOMER_DEPLOY_ROLES])
                    ]
                )
            },
        )
        nag.acknowledge_wildcard(
            role,
            f"Resource::{CUSTOMER_DEPLOY_ROLES}",
            "Customer accounts are not known at deploy time: any account's stackpilot-deploy-* role; "
            "each of those roles decides itself whether to trust us (ExternalId + aws:PrincipalArn).",
        )
        return role

    def _let_callback_topics_invoke(self, names: Names) -> None:
        """SNS in every supported region may invoke the subscriber: the permission must live with the
        function (this region), while the topics and their subscriptions live in their own regions."""
        for topic in TOPICS:
            subscriber = self.functions.get(topic.subscriber)
            if subscriber is None:
                continue
            for region in topic.regions:
                subscriber.function.add_permission(
                    f"{topic.construct_id}{_pascal(region)}",
                    principal=iam.ServicePrincipal("sns.amazonaws.com"),
                    action="lambda:InvokeFunction",
                    source_arn=topic_arn(names, topic, region),
                )


def _pascal(region: str) -> str:
    return "".join(part.capitalize() for part in region.split("-"))
