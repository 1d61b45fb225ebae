"""The one shape of bucket a stack owns (its access logs, its build sources): private, versioned,
encrypted, owner-enforced, expiring on a lifecycle rule, TLS-only by its policy."""

from __future__ import annotations

from typing import Any

from troposphere import Sub, s3


def private_bucket(
    logical_id: str,
    *,
    retain: bool,
    expire: s3.LifecycleRule,
    tags: Any,
    metadata: dict[str, Any],
    name: str | None = None,
) -> s3.Bucket:
    """``retain``: the bucket outlives the stack (and its replacement); otherwise it goes with it."""
    policy = "Retain" if retain else "Delete"
    return s3.Bucket(
        logical_id,
        **({"BucketName": name} if name is not None else {}),
        DeletionPolicy=policy,
        UpdateReplacePolicy=policy,
        BucketEncryption=s3.BucketEncryption(
            ServerSideEncryptionConfiguration=[
                s3.ServerSideEncryptionRule(
                    ServerSideEncryptionByDefault=s3.ServerSideEncryptionByDefault(SSEAlgorithm="AES256")
                )
            ]
        ),
        VersioningConfiguration=s3.VersioningConfiguration(Status="Enabled"),
        PublicAccessBlockConfiguration=s3.PublicAccessBlockConfiguration(
            BlockPublicAcls=True,
            BlockPublicPolicy=True,
            IgnorePublicAcls=True,
            RestrictPublicBuckets=True,
        ),
        OwnershipControls=s3.OwnershipControls(
            Rules=[s3.OwnershipControlsRule(ObjectOwnership="BucketOwnerEnforced")]
        ),
        LifecycleConfiguration=s3.LifecycleConfiguration(Rules=[expire]),
        Tags=tags,
        Metadata=metadata,
    )


def tls_only(bucket: s3.Bucket, bucket_arn: Any) -> dict[str, Any]:
    """The bucket policy statement refusing any request to the bucket or its objects without TLS."""
    return {
        "Sid": "TlsOnly",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [bucket_arn, Sub(f"${{{bucket.title}.Arn}}/*")],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
