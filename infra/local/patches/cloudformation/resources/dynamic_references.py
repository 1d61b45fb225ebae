"""Dynamic references in resource properties (`{{resolve:secretsmanager:...}}`, `{{resolve:ssm:...}}`,
`{{resolve:ssm-secure:...}}`) and SSM parameter types, resolved from the stack account's backends."""

from __future__ import annotations

import json
import re
from typing import Any

from infra.local.patches import backends
from infra.local.patches._machinery import _replace

_DYNAMIC_REFERENCE = re.compile(r"\{\{resolve:(ssm|ssm-secure|secretsmanager):((?:(?!\}\}).)+)\}\}")


def _resolve_dynamic_references(value: Any, account_id: str, region_name: str) -> Any:
    """`{{resolve:secretsmanager:...}}`, `{{resolve:ssm:...}}`, `{{resolve:ssm-secure:...}}` in
    resource properties, resolved from the stack account's backends (a missing secret, key or
    parameter fails the resource, as in AWS)."""
    if isinstance(value, str):
        if "{{resolve:" not in value:
            return value
        return _DYNAMIC_REFERENCE.sub(
            lambda m: _resolve_reference(m.group(1), m.group(2), account_id, region_name), value
        )
    if isinstance(value, dict):
        return {
            key: _resolve_dynamic_references(item, account_id, region_name) for key, item in value.items()
        }
    if isinstance(value, list):
        return [_resolve_dynamic_references(item, account_id, region_name) for item in value]
    return value


def _resolve_reference(service: str, key: str, account_id: str, region_name: str) -> str:
    if service == "secretsmanager":
        parts = key.split(":")
        secret_id, rest = (
            (":".join(parts[:7]), parts[7:]) if key.startswith("arn:") else (parts[0], parts[1:])
        )
        _kind, json_key, stage, version_id = ([*rest, "", "", "", ""])[:4]
        try:
            secret = backends.secretsmanager(account_id, region_name).get_secret_value(
                secret_id,
                version_id or None,
                stage or None,
            )
        except Exception as exc:
            raise ValueError(f"Secrets Manager can't find the specified secret. ({secret_id})") from exc
        text = str(secret.get("SecretString", ""))
        if not json_key:
            return text
        try:
            return str(json.loads(text)[json_key])
        except (ValueError, KeyError, TypeError):
            raise ValueError(f"Could not find SecretKey {json_key} in secret {secret_id}") from None
    name, _, version = key.partition(":")
    parameter = backends.ssm(account_id, region_name).get_parameter(f"{name}:{version}" if version else name)
    if parameter is None:
        raise ValueError(f"Parameter {name} not found in SSM Parameter Store")
    return str(parameter.value)


def _parse_ssm_parameter(self: Any, value: str, value_type: str) -> Any:
    """ResourceMap.parse_ssm_parameter: AWS's ValidationError for a missing parameter (moto raises
    AttributeError). moto ships AWS's public /aws/service/... parameters in every region."""
    from moto.cloudformation.exceptions import ValidationError

    parameter = backends.ssm(self._account_id, self._region_name).get_parameter(value)
    if parameter is None:
        raise ValidationError(
            message=f"Unable to fetch parameters [{value}] from parameter store for this account."
        )
    if value_type.find("List") > 0:
        return parameter.value.split(",")
    return parameter.value


def patch() -> None:
    from moto.cloudformation import parsing

    _replace(
        parsing.ResourceMap, "parse_ssm_parameter", _parse_ssm_parameter, "cloudformation SSM parameters"
    )
