"""Validation of what the spec cannot know by itself (the account, the secrets' ARNs, existing subnets)."""

from __future__ import annotations

import re
from typing import Final

from functions.shared.logic.iam import ACCOUNT_ID_RE, PARTITION_RE, iam_arn_re
from functions.stacks.logic.network import validate_existing_network
from functions.stacks.logic.template.context import StackTemplateInput
from functions.stacks.models.spec import ECR_IMAGE_RE, secret_name

_ROLE_PATH_RE: Final = re.compile(r"/[a-z][a-z0-9-]*/")


def validate(inp: StackTemplateInput) -> None:
    spec = inp.spec
    if not ACCOUNT_ID_RE.fullmatch(inp.account_id):
        raise ValueError("invalid account_id")
    if inp.stack_name != spec.stack_name:
        raise ValueError(f"stack_name must be {spec.stack_name}")
    if not _ROLE_PATH_RE.fullmatch(inp.role_path):
        raise ValueError("invalid role_path")
    if not iam_arn_re(inp.account_id, "policy").fullmatch(inp.permissions_boundary_arn):
        raise ValueError("permissions_boundary_arn must be a policy of the customer's account")
    if set(inp.secret_arns) != set(spec.container.secret_env):
        raise ValueError("secret_arns must name exactly the secret_env names")
    for env_name, arn in inp.secret_arns.items():
        expected = (
            rf"arn:{PARTITION_RE}:secretsmanager:{re.escape(spec.region)}:{inp.account_id}:"
            rf"secret:{re.escape(secret_name(spec, env_name))}-[A-Za-z0-9]{{6}}"
        )
        if not re.fullmatch(expected, arn):
            raise ValueError(f"secret_arns[{env_name}] must be the ARN of {secret_name(spec, env_name)}")
    ecr = ECR_IMAGE_RE.match(spec.container.image)
    if ecr is not None and ecr["account"] != inp.account_id:
        raise ValueError("container.image: an ECR image must come from the stack's own account")
    problems = validate_existing_network(spec, inp.subnets)
    if problems:
        raise ValueError("; ".join(f"{p.field}: {p.reason}" for p in problems))
