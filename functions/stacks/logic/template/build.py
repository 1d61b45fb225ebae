"""What a stack that tracks a source builds with (DESIGN.md, workflow 3): its ECR repository, its source
bucket, its CodeBuild project with a log group and a role.

The release workflow puts the commit's sources into the bucket through the deploy role and starts
the project with that object as an S3 source override and ``IMAGE_TAG`` = the commit sha; the build
logs in to ECR, builds ``$CONTEXT/$DOCKERFILE`` and pushes ``$IMAGE_REPO_URI:$IMAGE_TAG``. Every name
derives from the stack name (``functions/shared/logic/customer_names.py``), so the control plane
never reads the stack's outputs to find them.

- Repository: immutable tags (a tag is a commit: a rollback finds the very image it ran), scanned on
  push, the last :data:`KEEP_IMAGES` images kept, AES256 (no customer-managed key: see the package
  docstring), emptied when the stack deletes it (the images are rebuilt from git).
- Bucket: private, versioned, AES256, TLS-only, owner-enforced; sources and old versions expire after
  :data:`SOURCE_DAYS` days (a release needs its sources only while it builds).
- Project: no source of its own (each build names its S3 object), no artifacts, small Linux compute,
  privileged (docker needs it), explicit timeouts, logs only to its log group (retention
  :data:`BUILD_LOG_DAYS` days). Its role, under the workload path and the permissions boundary, may
  read the bucket's objects, push to the repository and write to the log group: nothing else.

The environment variable names and the buildspec are a contract with the local CodeBuild
(``infra/local``) and the release workflow: keep them as they are.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Final

from troposphere import AWSObject, GetAtt, Ref, Sub, codebuild, ecr, logs, s3

from functions.shared.logic.customer_names import (
    build_log_group_name,
    build_project_name,
    image_repository_name,
    source_bucket_name,
)
from functions.shared.logic.iam import ARN, HERE, checkov_skips, policy_document, statement
from functions.stacks.logic.template.buckets import private_bucket, tls_only
from functions.stacks.logic.template.context import Context
from functions.stacks.logic.template.roles import role

KEEP_IMAGES: Final = 30
SOURCE_DAYS: Final = 30
BUILD_LOG_DAYS: Final = 30
BUILD_TIMEOUT_MINUTES: Final = 30
BUILD_QUEUED_TIMEOUT_MINUTES: Final = 60
BUILD_IMAGE: Final = "aws/codebuild/standard:7.0"
BUILD_COMPUTE: Final = "BUILD_GENERAL1_SMALL"

#: Set by the project: the repository's URI, and where the Dockerfile and the build context are.
ENV_IMAGE_REPO_URI: Final = "IMAGE_REPO_URI"
ENV_DOCKERFILE: Final = "DOCKERFILE"
ENV_CONTEXT: Final = "CONTEXT"
#: Set by each StartBuild (environmentVariablesOverride): the tag to push, the commit sha.
ENV_IMAGE_TAG: Final = "IMAGE_TAG"

#: The project's inline buildspec. Every value comes from an environment variable, quoted: nothing
#: from the spec or the push is ever spliced into a command.
BUILDSPEC: Final = """\
version: 0.2
phases:
  pre_build:
    commands:
      - 'test -n "$IMAGE_TAG" || { echo "IMAGE_TAG is not set: each build names the commit to tag"; exit 1; }'
      - 'test -f "$CONTEXT/$DOCKERFILE" || { echo "no Dockerfile at $CONTEXT/$DOCKERFILE"; exit 1; }'
      - 'aws ecr get-login-password | docker login --username AWS --password-stdin "${IMAGE_REPO_URI%%/*}"'
  build:
    commands:
      - 'docker build -f "$CONTEXT/$DOCKERFILE" -t "$IMAGE_REPO_URI:$IMAGE_TAG" "$CONTEXT"'
      - 'docker push "$IMAGE_REPO_URI:$IMAGE_TAG"'
"""

_LIFECYCLE_POLICY: Final = json.dumps(
    {
        "rules": [
            {
                "rulePriority": 1,
                "description": f"Keep the last {KEEP_IMAGES} images",
                "selection": {
                    "tagStatus": "any",
                    "countType": "imageCountMoreThan",
                    "countNumber": KEEP_IMAGES,
                },
                "action": {"type": "expire"},
            }
        ]
    },
    sort_keys=True,
)

_NO_CMK: Final = (
    "a customer-managed key is not possible: the onboarding CloudFormation role cannot create KMS "
    "keys and the permissions boundary grants workload roles no KMS use"
)


@dataclass(frozen=True)
class BuildResources:
    repository: AWSObject
    bucket: AWSObject
    project: AWSObject


def build(ctx: Context) -> BuildResources:
    """The build resources of a stack whose spec has a source."""
    source = ctx.spec.source
    assert source is not None
    repository = _repository(ctx)
    bucket = _source_bucket(ctx)
    group_name = build_log_group_name(ctx.name)
    group = ctx.add(
        logs.LogGroup(
            "BuildLogGroup",
            LogGroupName=group_name,
            RetentionInDays=BUILD_LOG_DAYS,
            DeletionPolicy="Delete",  # named: a kept one would collide with a re-created stack
            UpdateReplacePolicy="Delete",
            Metadata=checkov_skips(("CKV_AWS_158", f"Encrypted at rest by CloudWatch Logs; {_NO_CMK}")),
        )
    )
    project_name = build_project_name(ctx.name)
    service_role = role(
        ctx,
        "BuildRole",
        "codebuild.amazonaws.com",
        "CodeBuild: read this stack's sources, push its image, write its build logs",
        policy_document(
            statement(
                "ReadSources",
                ["s3:GetObject"],
                [Sub(f"{ARN}:s3:::{_bucket_name(ctx)}/*")],
            ),
            statement(
                "PushImage",
                [
                    "ecr:BatchCheckLayerAvailability",
                    "ecr:CompleteLayerUpload",
                    "ecr:InitiateLayerUpload",
                    "ecr:PutImage",
                    "ecr:UploadLayerPart",
                ],
                [Sub(f"{ARN}:ecr:{HERE}:repository/{image_repository_name(ctx.name)}")],
            ),
            statement("LogInToEcr", ["ecr:GetAuthorizationToken"], "*"),  # no resource-level permission
            statement(
                "WriteBuildLogs",
                ["logs:CreateLogStream", "logs:PutLogEvents"],
                [Sub(f"{ARN}:logs:{HERE}:log-group:{group_name}:*")],
            ),
        ),
        source_arn=Sub(f"{ARN}:codebuild:{HERE}:project/{project_name}"),
    )
    project = ctx.add(
        codebuild.Project(
            "BuildProject",
            Name=project_name,
            Description=f"{ctx.name}: builds {source.repository} ({source.branch}) into its ECR repository",
            Source=codebuild.Source(Type="NO_SOURCE", BuildSpec=BUILDSPEC),
            Artifacts=codebuild.Artifacts(Type="NO_ARTIFACTS"),
            Environment=codebuild.Environment(
                ComputeType=BUILD_COMPUTE,
                Type="LINUX_CONTAINER",
                Image=BUILD_IMAGE,
                ImagePullCredentialsType="CODEBUILD",
                PrivilegedMode=True,
                EnvironmentVariables=[
                    codebuild.EnvironmentVariable(
                        Name=ENV_IMAGE_REPO_URI, Type="PLAINTEXT", Value=GetAtt(repository, "RepositoryUri")
                    ),
                    codebuild.EnvironmentVariable(
                        Name=ENV_DOCKERFILE, Type="PLAINTEXT", Value=source.dockerfile
                    ),
                    codebuild.EnvironmentVariable(Name=ENV_CONTEXT, Type="PLAINTEXT", Value=source.context),
                ],
            ),
            ServiceRole=GetAtt(service_role, "Arn"),
            TimeoutInMinutes=BUILD_TIMEOUT_MINUTES,
            QueuedTimeoutInMinutes=BUILD_QUEUED_TIMEOUT_MINUTES,
            LogsConfig=codebuild.LogsConfig(
                CloudWatchLogs=codebuild.CloudWatchLogs(Status="ENABLED", GroupName=Ref(group)),
                S3Logs=codebuild.S3Logs(Status="DISABLED"),
            ),
            Tags=ctx.tags("build"),
        )
    )
    return BuildResources(repository=repository, bucket=bucket, project=project)


def _repository(ctx: Context) -> AWSObject:
    return ctx.add(
        ecr.Repository(
            "ImageRepository",
            RepositoryName=image_repository_name(ctx.name),
            ImageTagMutability="IMMUTABLE",
            ImageScanningConfiguration=ecr.ImageScanningConfiguration(ScanOnPush=True),
            LifecyclePolicy=ecr.LifecyclePolicy(LifecyclePolicyText=_LIFECYCLE_POLICY),
            EncryptionConfiguration=ecr.EncryptionConfiguration(EncryptionType="AES256"),
            EmptyOnDelete=True,
            Tags=ctx.tags("images"),
            Metadata=checkov_skips(("CKV_AWS_136", f"AES256 (ECR's default encryption); {_NO_CMK}")),
        )
    )


def _bucket_name(ctx: Context) -> str:
    return source_bucket_name(ctx.name, account_id=ctx.inp.account_id, region=ctx.spec.region)


def _source_bucket(ctx: Context) -> AWSObject:
    name = _bucket_name(ctx)
    bucket = ctx.add(
        private_bucket(
            "SourceBucket",
            name=name,
            # Sources are copies of git commits: nothing to keep once the stack is gone.
            retain=False,
            expire=s3.LifecycleRule(
                Id="expire-old-sources",
                Status="Enabled",
                ExpirationInDays=SOURCE_DAYS,
                NoncurrentVersionExpiration=s3.NoncurrentVersionExpiration(NoncurrentDays=SOURCE_DAYS),
                AbortIncompleteMultipartUpload=s3.AbortIncompleteMultipartUpload(DaysAfterInitiation=1),
            ),
            tags=ctx.tags("sources"),
            metadata=checkov_skips(
                (
                    "CKV_AWS_18",
                    "Written only by the release workflow through the deploy role (CloudTrail records "
                    "it) and read only by this stack's build; its objects expire within "
                    f"{SOURCE_DAYS} days",
                ),
            ),
        )
    )
    ctx.add(
        s3.BucketPolicy(
            "SourceBucketPolicy",
            Bucket=Ref(bucket),
            PolicyDocument=policy_document(tls_only(bucket, GetAtt(bucket, "Arn"))),
        )
    )
    return bucket
