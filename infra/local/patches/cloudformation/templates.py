"""Templates as CloudFormation reads them: parameter constraints (AllowedPattern, AllowedValues,
lengths), the Rules section, and TemplateURL on the emulator's own endpoint."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from infra.local.patches import backends
from infra.local.patches._machinery import _as_list, _call_original, _replace, _require_version


def _check_parameter(name: str, slot: Mapping[str, Any], value: Any) -> str | None:
    if value is None or isinstance(value, list):
        return None
    text, description = str(value), slot.get("ConstraintDescription")
    pattern = slot.get("AllowedPattern")
    constraint = f"Parameter {name} failed to satisfy constraint: {description}" if description else None
    if pattern is not None and re.fullmatch(str(pattern), text) is None:
        return constraint or f"Parameter '{name}' must match pattern {pattern}"
    allowed = slot.get("AllowedValues")
    if allowed is not None and text not in [str(v) for v in allowed]:
        return constraint or f"Parameter '{name}' must be one of AllowedValues"
    if "MinLength" in slot and len(text) < int(slot["MinLength"]):
        return f"Parameter '{name}' must contain at least {slot['MinLength']} characters"
    if "MaxLength" in slot and len(text) > int(slot["MaxLength"]):
        return f"Parameter '{name}' must contain at most {slot['MaxLength']} characters"
    return None


_UNSUPPORTED = object()


def _rule_value(expression: Any, values: Mapping[str, Any]) -> Any:
    """Evaluate a Rules-section expression; _UNSUPPORTED for functions not implemented here."""
    if not isinstance(expression, Mapping) or len(expression) != 1:
        return expression
    ((function, argument),) = expression.items()
    if function == "Ref":
        return values.get(argument, _UNSUPPORTED)
    args = [_rule_value(a, values) for a in _as_list(argument)]
    if any(a is _UNSUPPORTED for a in args):
        return _UNSUPPORTED
    operations: dict[str, Callable[[list[Any]], Any]] = {
        "Fn::Equals": lambda a: str(a[0]) == str(a[1]),
        "Fn::Not": lambda a: not a[0],
        "Fn::And": all,
        "Fn::Or": any,
        "Fn::Contains": lambda a: str(a[1]) in [str(x) for x in _as_list(a[0])],
        "Fn::EachMemberEquals": lambda a: all(str(x) == str(a[1]) for x in _as_list(a[0])),
        "Fn::EachMemberIn": lambda a: all(str(x) in [str(y) for y in _as_list(a[1])] for x in _as_list(a[0])),
    }
    operation = operations.get(str(function))
    return operation(args) if operation is not None else _UNSUPPORTED


def _check_rules(template: Mapping[str, Any], values: Mapping[str, Any]) -> str | None:
    """First failed assertion of the template's Rules section (unsupported functions are skipped)."""
    for rule_name, rule in (template.get("Rules") or {}).items():
        applies = _rule_value(rule.get("RuleCondition", True), values)
        if applies is _UNSUPPORTED or not applies:
            continue
        for assertion in rule.get("Assertions") or []:
            verdict = _rule_value(assertion.get("Assert"), values)
            if verdict is not _UNSUPPORTED and not verdict:
                return str(assertion.get("AssertDescription") or f"Template error: rule {rule_name} failed")
    return None


def _load_parameters(self: Any) -> None:
    """ResourceMap.load_parameters + AllowedPattern/AllowedValues/Length checks + Rules."""
    from moto.cloudformation.exceptions import ValidationError
    from moto.cloudformation.parsing import ResourceMap

    _call_original(ResourceMap, "load_parameters", self)
    slots = self._template.get("Parameters") or {}
    for name, slot in slots.items():
        problem = _check_parameter(name, slot, self.resolved_parameters.get(name))
        if problem:
            raise ValidationError(message=problem)
    values = {k: v for k, v in self._parsed_resources.items() if isinstance(v, str | int | float | list)}
    problem = _check_rules(self._template, values)
    if problem:
        raise ValidationError(message=problem)


def _template_from_url(template_url: str, account_id: str, partition: str) -> str:
    """TemplateURL as CloudFormation reads it: any S3 URL, including the emulator's own path-style
    presigned URLs (http://127.0.0.1:4566/<bucket>/<key>?...), which moto parses as a bucket "127"."""
    from urllib.parse import unquote, urlsplit

    from moto.cloudformation import utils

    parts = urlsplit(template_url)
    host = (parts.hostname or "").lower()
    if host.endswith("amazonaws.com") or host == "localhost":
        return str(_call_original(utils, "get_stack_from_s3_url", template_url, account_id, partition))
    bucket, _, key = unquote(parts.path).lstrip("/").partition("/")
    # Buckets are global: the template lives in the service account, the stack in the customer's.
    stored = backends.s3(account_id, partition).get_object(bucket, key)
    return str(stored.value.decode("utf-8"))


def _patch_template_urls() -> None:
    from moto.cloudformation import models, responses, utils

    name = "cloudformation TemplateURL on the local endpoint"
    _replace(utils, "get_stack_from_s3_url", _template_from_url, name)
    for module in (models, responses):  # both imported the function by name
        _require_version(name)
        module.get_stack_from_s3_url = _template_from_url  # type: ignore[attr-defined]


def patch() -> None:
    from moto.cloudformation import parsing

    _replace(parsing.ResourceMap, "load_parameters", _load_parameters, "cloudformation parameter constraints")
    _patch_template_urls()
