"""The REQUEST authorizer's answer as API Gateway reads it: principalId, the context (strings only)
and the effect of its IAM policy on the method ARN (explicit Deny wins, else an Allow, else deny)."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from infra.local.front_door.responses import authorizer_failure

log = logging.getLogger("stackpilot.front_door")


def read_policy(output: Any, method_arn: str) -> tuple[str, dict[str, str], str | None]:
    """principalId, the context as API Gateway passes it on (strings), and the policy's effect."""
    if not isinstance(output, dict):
        raise authorizer_failure()
    principal_id = output.get("principalId")
    policy = output.get("policyDocument")
    context = output.get("context") or {}
    if not isinstance(principal_id, str) or not isinstance(policy, dict) or not isinstance(context, dict):
        log.warning("Authorizer answered without principalId/policyDocument")
        raise authorizer_failure()
    flat: dict[str, str] = {}
    for key, value in context.items():
        if isinstance(value, bool):
            flat[key] = "true" if value else "false"
        elif isinstance(value, str | int | float):
            flat[key] = str(value)
        else:  # API Gateway refuses objects and arrays in an authorizer context
            log.warning("Authorizer context %r is not a string, number or boolean", key)
            raise authorizer_failure()
    return principal_id, flat, _policy_effect(policy, method_arn)


def _policy_effect(policy: Mapping[str, Any], method_arn: str) -> str | None:
    """``Deny`` if any statement denies, else ``Allow`` if one allows, else ``None`` (implicit deny)."""
    statements = policy.get("Statement")
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list):
        raise authorizer_failure()
    allowed = False
    for statement in statements:
        if not isinstance(statement, dict):
            raise authorizer_failure()
        actions = _as_list(statement.get("Action"))
        resources = _as_list(statement.get("Resource"))
        if not any(_arn_glob(a, "execute-api:Invoke", ignore_case=True) for a in actions):
            continue
        if not any(_arn_glob(r, method_arn) for r in resources):
            continue
        if statement.get("Effect") == "Deny":
            return "Deny"
        allowed = allowed or statement.get("Effect") == "Allow"
    return "Allow" if allowed else None


def _as_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def _arn_glob(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.IGNORECASE if ignore_case else 0) is not None
