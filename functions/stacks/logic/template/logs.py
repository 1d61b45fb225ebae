"""Log groups and the logs bucket (the ALB's access logs).

Log groups keep 365 days in every stage (the usual one-year audit horizon; storage is cheap next to
ingestion); the logs bucket is private, versioned, TLS-only, expires objects after 365 days and is
retained when the stack is deleted. Encryption: see the package docstring (AWS-managed keys only).
"""

from __future__ import annotations

from typing import Any, Final

from troposphere import AWSObject, GetAtt, Ref, Sub, logs, s3

from functions.shared.logic.iam import checkov_skips, partition, policy_document
from functions.stacks.logic.template.buckets import private_bucket, tls_only
from functions.stacks.logic.template.context import Context

LOG_RETENTION_DAYS: Final = 365

# Regions that predate the ELB log-delivery service principal: their ELB account writes access logs.
_ELB_LOG_ACCOUNTS: Final = {
    "af-south-1": "098369216593",
    "ap-east-1": "754344448648",
    "ap-northeast-1": "582318560864",
    "ap-northeast-2": "600734575887",
    "ap-northeast-3": "383597477331",
    "ap-south-1": "718504428378",
    "ap-southeast-1": "114774131450",
    "ap-southeast-2": "783225319266",
    "ap-southeast-3": "589379963580",
    "ca-central-1": "985666609251",
    "cn-north-1": "638102146993",
    "cn-northwest-1": "037604701340",
    "eu-central-1": "054676820928",
    "eu-north-1": "897822967062",
    "eu-south-1": "635631232127",
    "eu-west-1": "156460612806",
    "eu-west-2": "652711504416",
    "eu-west-3": "009996457667",
    "me-south-1": "076674570225",
    "sa-east-1": "507241528517",
    "us-east-1": "127311923021",
    "us-east-2": "033677994240",
    "us-gov-east-1": "190560391635",
    "us-gov-west-1": "048591011584",
    "us-west-1": "027434742980",
    "us-west-2": "797873946194",
}
_ELB_LOG_SERVICE: Final = "logdelivery.elasticloadbalancing.amazonaws.com"


def log_group(ctx: Context, title: str, suffix: str) -> AWSObject:
    return ctx.add(
        logs.LogGroup(
            title,
            LogGroupName=f"{ctx.inp.role_path}{ctx.spec.name}-{ctx.spec.stage}/{suffix}",
            RetentionInDays=LOG_RETENTION_DAYS,
            # Named log groups: kept ones would collide with a re-created stack of the same name.
            DeletionPolicy="Delete",
            UpdateReplacePolicy="Delete",
            Metadata=checkov_skips(
                (
                    "CKV_AWS_158",
                    "Encrypted at rest by CloudWatch Logs; a customer-managed key is not possible: "
                    "the onboarding CloudFormation role cannot create KMS keys",
                )
            ),
        )
    )


def logs_bucket(ctx: Context) -> AWSObject:
    bucket = ctx.add(
        private_bucket(
            "LogsBucket",
            retain=True,  # access logs outlive the stack (audit evidence)
            expire=s3.LifecycleRule(
                Id="expire-access-logs",
                Status="Enabled",
                ExpirationInDays=LOG_RETENTION_DAYS,
                NoncurrentVersionExpiration=s3.NoncurrentVersionExpiration(NoncurrentDays=30),
                AbortIncompleteMultipartUpload=s3.AbortIncompleteMultipartUpload(DaysAfterInitiation=7),
            ),
            tags=ctx.tags("logs"),
            metadata=checkov_skips(
                ("CKV_AWS_18", "This is the access-log bucket; logging it into itself would loop"),
            ),
        )
    )
    region = ctx.spec.region
    writer: dict[str, Any] = (
        {"AWS": f"arn:{partition(region)}:iam::{_ELB_LOG_ACCOUNTS[region]}:root"}
        if region in _ELB_LOG_ACCOUNTS
        else {"Service": _ELB_LOG_SERVICE}
    )
    bucket_arn = GetAtt(bucket, "Arn")
    ctx.add(
        s3.BucketPolicy(
            "LogsBucketPolicy",
            # Kept with the bucket, so a retained bucket stays TLS-only.
            DeletionPolicy="Retain",
            UpdateReplacePolicy="Retain",
            Bucket=Ref(bucket),
            PolicyDocument=policy_document(
                tls_only(bucket, bucket_arn),
                {
                    "Sid": "LoadBalancerAccessLogs",
                    "Effect": "Allow",
                    "Principal": writer,
                    "Action": "s3:PutObject",
                    "Resource": Sub("${LogsBucket.Arn}/alb/AWSLogs/${AWS::AccountId}/*"),
                },
            ),
        )
    )
    return bucket
