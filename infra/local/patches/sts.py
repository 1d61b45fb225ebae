"""3. STS: AssumeRole evaluates the target role's trust policy (principal, sts:ExternalId,
aws:PrincipalArn, explicit Deny), so negative probes are real locally. moto enforces nothing."""

from __future__ import annotations

import contextvars
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from infra.local.patches import backends
from infra.local.patches._machinery import SERVICE_ACCESS_KEY, _as_list, _call_original, _replace

# Access key of the STS AssumeRole request being served (set by the response layer, read by the
# backend, which moto does not tell who the caller is).
_caller_access_key: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "stackpilot_sts_caller", default=None
)


@dataclass(frozen=True)
class _Caller:
    account_id: str
    principal_arn: str  # aws:PrincipalArn: role ARN for a role session, user ARN, or account root
    arn: str  # as AWS prints it in AccessDenied (the assumed-role session ARN for sessions)


class _AccessDenied(Exception):
    def __init__(self, caller_arn: str) -> None:
        super().__init__(caller_arn)
        self.caller_arn = caller_arn


def _resolve_caller(access_key: str | None) -> _Caller:
    from moto.iam.models import get_account_id_from

    key = access_key or SERVICE_ACCESS_KEY
    account_id = get_account_id_from(key)
    assumed = backends.sts(account_id).get_assumed_role_from_access_key(key)
    if assumed is not None:
        return _Caller(account_id, _role_arn(account_id, assumed.role_arn), assumed.arn)
    user = backends.iam(account_id).get_user_from_access_key_id(key)
    if user is not None:
        return _Caller(account_id, user.arn, user.arn)
    root = f"arn:aws:iam::{account_id}:root"
    return _Caller(account_id, root, root)


def _role_arn(account_id: str, role_arn: str) -> str:
    """The role's real ARN (with its path) when the role exists."""
    role = _find_role(account_id, role_arn)
    return role.arn if role is not None else role_arn


def _find_role(account_id: str, role_arn: str) -> Any:
    name = role_arn.rsplit("/", 1)[-1]
    for role in backends.iam(account_id).roles.values():
        if role.name == name:
            return role
    return None


def _wildcard_match(pattern: str, value: str) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, flags=re.DOTALL) is not None


def _arn_like(pattern: str, value: str) -> bool:
    pattern_parts, value_parts = pattern.split(":", 5), value.split(":", 5)
    if len(pattern_parts) != 6 or len(value_parts) != 6:
        return False
    return all(_wildcard_match(p, v) for p, v in zip(pattern_parts, value_parts, strict=True))


_CONDITION_OPERATORS: dict[str, Callable[[str, str], bool]] = {
    "StringEquals": lambda expected, actual: expected == actual,
    "StringLike": _wildcard_match,
    "ArnEquals": _arn_like,
    "ArnLike": _arn_like,
}
_CONDITION_KEYS = {"sts:externalid": "sts:ExternalId", "aws:principalarn": "aws:PrincipalArn"}
_ARN_OPERATORS = {"ArnEquals", "ArnLike"}


def _condition_matches(condition: Mapping[str, Any], context: Mapping[str, str | None]) -> bool | None:
    """True/False; None when an operator or key is not supported (callers fail closed)."""
    for operator, clauses in condition.items():
        compare = _CONDITION_OPERATORS.get(operator)
        if compare is None or not isinstance(clauses, Mapping):
            return None
        for raw_key, expected in clauses.items():
            key = _CONDITION_KEYS.get(str(raw_key).lower())
            if key is None or (operator in _ARN_OPERATORS and key != "aws:PrincipalArn"):
                return None
            actual = context.get(key)
            if actual is None or not any(compare(str(e), actual) for e in _as_list(expected)):
                return False
    return True


def _principal_matches(principal: Any, caller: _Caller) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, Mapping):
        return False
    for entry in _as_list(principal.get("AWS")):
        entry = str(entry)
        if entry in ("*", caller.account_id, f"arn:aws:iam::{caller.account_id}:root"):
            return True
        if entry in (caller.principal_arn, caller.arn):
            return True
    return False


def _action_matches(statement: Mapping[str, Any]) -> bool:
    return any(
        str(action).lower() in ("sts:assumerole", "sts:*", "*")
        for action in _as_list(statement.get("Action"))
    )


def _statement_verdict(
    statement: Mapping[str, Any], caller: _Caller, context: Mapping[str, str | None]
) -> str:
    """'allow', 'deny' or 'none' for one trust-policy statement."""
    effect = statement.get("Effect")
    if "NotPrincipal" in statement or "NotAction" in statement:
        # Not supported: an Allow never grants, a Deny always applies (fail closed).
        return "deny" if effect == "Deny" else "none"
    if not _action_matches(statement) or not _principal_matches(statement.get("Principal"), caller):
        return "none"
    matched = _condition_matches(statement.get("Condition") or {}, context)
    if matched is None:
        return "deny" if effect == "Deny" else "none"
    if not matched:
        return "none"
    return "deny" if effect == "Deny" else "allow" if effect == "Allow" else "none"


def _load_policy(document: Any) -> Mapping[str, Any]:
    if isinstance(document, Mapping):
        return document
    text = str(document or "{}")
    if text.startswith("%7B") or text.startswith("%7b"):
        text = unquote(text)
    loaded = json.loads(text)
    return loaded if isinstance(loaded, Mapping) else {}


def trust_policy_allows(policy_document: Any, caller: _Caller, external_id: str | None) -> bool:
    """Evaluate a role trust policy for sts:AssumeRole: explicit Deny wins, else any Allow."""
    context = {"sts:ExternalId": external_id, "aws:PrincipalArn": caller.principal_arn}
    verdicts = [
        _statement_verdict(statement, caller, context)
        for statement in _as_list(_load_policy(policy_document).get("Statement"))
        if isinstance(statement, Mapping)
    ]
    return "deny" not in verdicts and "allow" in verdicts


def _check_assume_role(role_arn: str, external_id: str | None, access_key: str | None) -> None:
    caller = _resolve_caller(access_key)
    match = re.match(r"arn:aws[\w-]*:iam::(\d{12}):role/", role_arn or "")
    role = _find_role(match.group(1), role_arn) if match else None
    if role is None or not trust_policy_allows(role.assume_role_policy_document, caller, external_id):
        raise _AccessDenied(caller.arn)


def _sts_assume_role(
    self: Any,
    region_name: str,
    role_session_name: str,
    role_arn: str,
    policy: str,
    duration: int,
    external_id: str,
) -> Any:
    from moto.core.exceptions import AccessDeniedError
    from moto.sts.models import STSBackend

    try:
        _check_assume_role(role_arn, external_id, _caller_access_key.get())
    except _AccessDenied as denied:
        # moto's 403 AccessDenied (as IAM access control raises it): boto3 sees code AccessDenied.
        raise AccessDeniedError(denied.caller_arn, f"sts:AssumeRole on resource: {role_arn}") from None
    return _call_original(
        STSBackend,
        "assume_role",
        self,
        region_name=region_name,
        role_session_name=role_session_name,
        role_arn=role_arn,
        policy=policy,
        duration=duration,
        external_id=external_id,
    )


def _sts_assume_role_with_web_identity(self: Any, **kwargs: Any) -> Any:
    """Web identity has no AWS principal: keep moto's unchecked behaviour."""
    from moto.sts.models import STSBackend

    return _call_original(STSBackend, "assume_role", self, **kwargs)


def _token_response_assume_role(self: Any) -> Any:
    """Remember who is calling: STSBackend.assume_role is not told."""
    from moto.sts.responses import TokenResponse

    token = _caller_access_key.set(self.get_access_key())
    try:
        return _call_original(TokenResponse, "assume_role", self)
    finally:
        _caller_access_key.reset(token)


def patch() -> None:
    from moto.sts.models import STSBackend
    from moto.sts.responses import TokenResponse

    _replace(STSBackend, "assume_role", _sts_assume_role, "sts trust policy evaluation")
    _replace(
        STSBackend,
        "assume_role_with_web_identity",
        _sts_assume_role_with_web_identity,
        "sts trust policy evaluation",
    )
    _replace(TokenResponse, "assume_role", _token_response_assume_role, "sts caller identity")
