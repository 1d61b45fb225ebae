"""What every CloudFormation module shares: the failure of one resource, the custom resource types,
what counts as an existing resource."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from infra.local.patches import backends

CUSTOM_RESOURCE_TYPE = "AWS::CloudFormation::CustomResource"
STACK_TYPE = "AWS::CloudFormation::Stack"


class _ResourceFailed(Exception):
    """A resource operation failed; `action` is create/update/delete, `evented` says whether its
    *_FAILED resource event was already added."""

    def __init__(
        self, logical_id: str, resource_type: str, reason: str, action: str = "create", evented: bool = False
    ) -> None:
        super().__init__(reason)
        self.logical_id = logical_id
        self.resource_type = resource_type
        self.reason = reason
        self.action = action
        self.evented = evented


def _is_custom_type(resource_type: str) -> bool:
    return resource_type.startswith("Custom::") or resource_type == CUSTOM_RESOURCE_TYPE


def _has_custom_resources(template: Mapping[str, Any] | None) -> bool:
    resources = (template or {}).get("Resources") or {}
    return any(_is_custom_type(str(r.get("Type", ""))) for r in resources.values() if isinstance(r, Mapping))


def _stack_for(stack_id: str, account_id: str, region_name: str) -> Any:
    return backends.cloudformation(account_id, region_name).get_stack(stack_id)


def _error_text(exc: Exception) -> str:
    message = getattr(exc, "message", None) or str(exc)
    return f"{type(exc).__name__}: {message}"


_DeleteItem = tuple[str, Any, Mapping[str, Any]]  # logical id, resource object, resource JSON


def _is_resource(value: Any) -> bool:
    return value is not None and not isinstance(value, str | int | float | list | dict | bool)


def _physical_id(resource: Any) -> str:
    return str(getattr(resource, "physical_resource_id", "") or "")
