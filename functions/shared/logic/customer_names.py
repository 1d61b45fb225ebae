"""Names, ARNs and links of what a connection puts in the customer's account: the contract between
the onboarding template (accounts) and the stacks stackpilot builds through it (stacks) - the managed
stack-name prefix, the IAM paths, the roles' names and ARNs.

stackpilot computes the ARNs it needs from the connection id (it never reads the stack's outputs);
the API builds quick-create links from here on every read, and only connecting imports the
template renderer (``role_template``).
"""

from __future__ import annotations

import hashlib
import re
from typing import Final
from urllib.parse import quote

TEMPLATE_VERSION: Final = "3"

#: What a connection whose record predates ``template_version`` runs (those were all rendered at v2).
LEGACY_TEMPLATE_VERSION: Final = "2"

#: Since v3 the deploy role may build in the customer's account (CodeBuild, ECR, the source bucket,
#: the build logs) and the forwarding rule carries the builds' state changes: releases need it.
RELEASES_TEMPLATE_VERSION: Final = "3"


def supports_releases(template_version: str | None) -> bool:
    """Whether a connection running onboarding template ``template_version`` (None: a record from
    before versions were kept, so v2) can carry releases; an older one must update its stack first."""
    version = template_version or LEGACY_TEMPLATE_VERSION
    return version.isdigit() and int(version) >= int(RELEASES_TEMPLATE_VERSION)


#: Every stack stackpilot manages in a customer's account is named with this prefix, and so is what
#: those stacks name after themselves (secrets ``<stack name>/<ENV_NAME>``, ECR repositories,
#: CloudFormation-generated bucket names). The onboarding template scopes the deploy role, the
#: CloudFormation role and the permissions boundary to it; the onboarding stack itself is outside it
#: (:func:`onboarding_stack_name`).
STACK_NAME_PREFIX: Final = "stackpilot-"


def workload_path(stack_name_prefix: str) -> str:
    """The IAM path of the roles and instance profiles that stacks named ``stack_name_prefix...``
    create, and the name-space of their log groups, secrets and parameters: ``/stackpilot/`` for
    ``stackpilot-``. The CloudFormation role may create, pass and manage roles under it only."""
    return f"/{stack_name_prefix.rstrip('-')}/"


#: :func:`workload_path` of :data:`STACK_NAME_PREFIX`: where every stackpilot stack puts its roles,
#: instance profiles and log groups.
WORKLOAD_PATH: Final = workload_path(STACK_NAME_PREFIX)

#: IAM path of the roles/policies the onboarding template creates. It is deliberately NOT
#: ``/stackpilot/`` (:data:`WORKLOAD_PATH`): the CloudFormation role may pass and manage roles under
#: ``/stackpilot/`` only, so it can never touch (or pass) the control-plane roles.
CONTROL_PATH: Final = "/stackpilot-connection/"

_CONNECTION_ID_RE: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")
_REGION_RE: Final = re.compile(r"[a-z]{2}(?:-[a-z]+)+-\d{1,2}")
_STACK_NAME_RE: Final = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,127}")
_PARAM_KEY_RE: Final = re.compile(r"[A-Za-z0-9]{1,255}")
# https, or plain http to the local cloud's loopback S3 (a laptop has no console to open it anyway).
_TEMPLATE_URL_RE: Final = re.compile(
    r"https://[^/?#@\\]+/|http://(?:127\.0\.0\.1|localhost|\[::1\])(?::\d+)?/"
)


def _require(pattern: re.Pattern[str], value: object, what: str) -> None:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise ValueError(f"invalid {what}")


# --------------------------------------------------------------------------------------------------
# What a stack that tracks a source adds (stacks' template) and the releases use (through the deploy
# role, scoped by the onboarding template to these names: projects and repositories ``stackpilot-*``,
# buckets whose names start with ``stackpilot-``, log groups ``/stackpilot/codebuild/*``).
# --------------------------------------------------------------------------------------------------

_STACK_RE: Final = re.compile(rf"{re.escape(STACK_NAME_PREFIX)}[a-z0-9-]{{1,116}}")
_ACCOUNT_RE: Final = re.compile(r"\d{12}")
_BUCKET_MAX_CHARS: Final = 63
_BUCKET_HASH_CHARS: Final = 12


def image_repository_name(stack_name: str) -> str:
    """The stack's ECR repository: the stack name (ECR names are lower-case; stack names already are).
    One per account and region, like the stack itself."""
    _require(_STACK_RE, stack_name, "stack_name")
    return stack_name.lower()


def build_project_name(stack_name: str) -> str:
    """The stack's CodeBuild project: ``<stack name>-build``."""
    _require(_STACK_RE, stack_name, "stack_name")
    return f"{stack_name}-build"


def build_log_group_name(stack_name: str) -> str:
    """The CodeBuild project's log group: ``/stackpilot/codebuild/<stack name>`` (under
    :data:`WORKLOAD_PATH`, the log name-space the permissions boundary lets workload roles write)."""
    _require(_STACK_RE, stack_name, "stack_name")
    return f"{WORKLOAD_PATH}codebuild/{stack_name}"


def source_bucket_name(stack_name: str, *, account_id: str, region: str) -> str:
    """The stack's source bucket: ``<stack name>-src-<12 hex>``, at most 63 characters.

    S3 bucket names are global across every AWS account, so the stack name alone (one per account
    and region) would collide with another customer's, or the same stack in another region: the
    suffix is 12 hex characters of SHA-256 over account, region and stack name. A stack name too
    long for the 63-character limit is cut before ``-src`` (the suffix keeps the name unique). It
    always starts with ``stackpilot-``.
    """
    _require(_STACK_RE, stack_name, "stack_name")
    _require(_ACCOUNT_RE, account_id, "account_id")
    _require(_REGION_RE, region, "region")
    digest = hashlib.sha256(f"{account_id}/{region}/{stack_name}".encode()).hexdigest()[:_BUCKET_HASH_CHARS]
    body = f"{stack_name}-src"[: _BUCKET_MAX_CHARS - _BUCKET_HASH_CHARS - 1].rstrip("-")
    return f"{body}-{digest}"


def connection_suffix(connection_id: str) -> str:
    """Short, IAM-safe, per-connection suffix used in resource names.

    The id body itself when it is at most 26 lower-case alphanumerics (readable in the customer's
    console: stackpilot's ids are ``conn_`` + 26 base32 characters), else 16 hex chars of its
    SHA-256 (IAM names are case-insensitive and length-limited, so a lossy transformation of the
    id could make two connections collide).
    """
    _require(_CONNECTION_ID_RE, connection_id, "connection_id")
    body = connection_id.removeprefix("conn_")
    if re.fullmatch(r"[a-z0-9]{1,26}", body):
        return body
    return hashlib.sha256(connection_id.encode()).hexdigest()[:16]


def deploy_role_name(connection_id: str) -> str:
    return f"stackpilot-deploy-{connection_suffix(connection_id)}"


def cloudformation_role_name(connection_id: str) -> str:
    return f"stackpilot-cfn-{connection_suffix(connection_id)}"


def permissions_boundary_name(connection_id: str) -> str:
    return f"stackpilot-boundary-{connection_suffix(connection_id)}"


def _events_role_name(connection_id: str) -> str:
    return f"stackpilot-events-{connection_suffix(connection_id)}"


def _status_rule_name(connection_id: str) -> str:
    return f"stackpilot-status-{connection_suffix(connection_id)}"


def deploy_role_arn(account_id: str, connection_id: str, *, partition: str = "aws") -> str:
    return f"arn:{partition}:iam::{account_id}:role{CONTROL_PATH}{deploy_role_name(connection_id)}"


def cloudformation_role_arn(account_id: str, connection_id: str, *, partition: str = "aws") -> str:
    """The ``RoleARN`` every CreateStack/UpdateStack/CreateChangeSet of this connection must pass."""
    return f"arn:{partition}:iam::{account_id}:role{CONTROL_PATH}{cloudformation_role_name(connection_id)}"


def permissions_boundary_arn(account_id: str, connection_id: str, *, partition: str = "aws") -> str:
    """The ``PermissionsBoundary`` every IAM role in a stackpilot stack must carry."""
    return f"arn:{partition}:iam::{account_id}:policy{CONTROL_PATH}{permissions_boundary_name(connection_id)}"


def onboarding_stack_name(connection_id: str) -> str:
    """Name for the onboarding stack. Deliberately outside the managed ``stackpilot-`` prefix (ARN
    matching is case-sensitive), so the deploy role's CloudFormation rights never cover it."""
    return f"StackpilotConnection-{connection_suffix(connection_id)}"


def quick_create_url(*, region: str, template_url: str, stack_name: str, parameters: dict[str, str]) -> str:
    """CloudFormation console quick-create link.

    ``param_*`` keys are sorted and every value is percent-encoded. Only plain (non-NoEcho)
    parameters can be prefilled this way: the console ignores NoEcho parameters in the URL.
    """
    _require(_REGION_RE, region, "region")
    _require(_STACK_NAME_RE, stack_name, "stack_name")
    if not _TEMPLATE_URL_RE.match(template_url) or any(c.isspace() or ord(c) < 0x20 for c in template_url):
        raise ValueError("template_url must be an https URL (or http on loopback, for the local cloud)")
    for key in parameters:
        _require(_PARAM_KEY_RE, key, "parameter name")
    query = [("templateURL", template_url), ("stackName", stack_name)]
    query += [(f"param_{key}", parameters[key]) for key in sorted(parameters)]
    fragment = "&".join(f"{k}={quote(v, safe='')}" for k, v in query)
    return (
        f"https://{region}.console.aws.amazon.com/cloudformation/home?region={region}"
        f"#/stacks/quickcreate?{fragment}"
    )
