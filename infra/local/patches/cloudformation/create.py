"""Stack creation: resource events, injected faults, the completion hook, rollback on failure;
resources are created only inside the stack's own operation (never lazily by a Describe)."""

from __future__ import annotations

from typing import Any

from infra.local.patches import backends
from infra.local.patches._machinery import _Aborted, _replace, _state, _tls
from infra.local.patches.cloudformation._common import _error_text, _ResourceFailed
from infra.local.patches.cloudformation.delete import _delete_resources, _stack_items
from infra.local.patches.cloudformation.operations import (
    _add_failure_event,
    _begin_plan,
    _current_plan,
    _failure_from,
    _failure_reason,
    _in_operation_for,
    _injected,
    _needs_async,
    _run_operation,
    _take_rule,
    _unused_failure,
)
from infra.local.patches.cloudformation.resources.building import _create_resource
from infra.local.patches.cloudformation.status_events import _add_resource_event, _set_status


def _stack_create_resources(self: Any) -> None:
    """Stack.create_resources (after moto's CREATE_IN_PROGRESS event): resource events, faults,
    rollback; in the background when custom resources or hooks are involved."""
    _run_operation(self, "create", lambda: _create_stack(self), background=_needs_async(self))


def _create_stack(stack: Any) -> None:
    plan = _begin_plan(stack, "create")
    try:
        stack.resource_map.create(stack.template_dict)
        stack.description = stack.template_dict.get("Description")
        _unused_failure(stack, plan, "create")
        hook = _state.completion_hook
        outcome = hook(stack) if hook is not None else None
        if outcome is not None:
            logical_id, reason = outcome
            resource_json = (stack.template_dict.get("Resources") or {}).get(logical_id) or {}
            raise _ResourceFailed(logical_id, str(resource_json.get("Type", "")), reason)
        stack.output_map = stack._create_output_map()
        _register_exports(stack)
    except _Aborted:
        raise
    except Exception as exc:
        _fail_creation(stack, _failure_from(exc, stack))
        return
    _set_status(stack, "CREATE_COMPLETE")


def _fail_creation(stack: Any, failure: _ResourceFailed) -> None:
    """CREATE_FAILED on the resource, then ROLLBACK_IN_PROGRESS -> ROLLBACK_COMPLETE (or
    ROLLBACK_FAILED); a stack created with rollback disabled stops at CREATE_FAILED."""
    _add_failure_event(stack, failure)
    reason = _failure_reason(failure, "create")
    if getattr(stack, "disable_rollback", False):
        _set_status(stack, "CREATE_FAILED", reason)
        return
    _set_status(stack, "ROLLBACK_IN_PROGRESS", reason + "Rollback requested by user.")
    try:
        _delete_resources(stack, _stack_items(stack), _take_rule("rollback", "fail", stack.name))
    except _ResourceFailed as failed:
        _set_status(stack, "ROLLBACK_FAILED", _failure_reason(failed, "delete"))
        return
    _set_status(stack, "ROLLBACK_COMPLETE")


def _parse_and_create_resource(
    logical_id: str, resource_json: dict[str, Any], resources_map: Any, account_id: str, region_name: str
) -> Any:
    """parsing.parse_and_create_resource: only inside the stack's operation, with resource events.

    Outside its operation a stack never creates resources lazily (moto's ResourceMap creates on
    first access, e.g. from DescribeStacks outputs): that would send a second Create to a custom
    resource, or create resources of a stack that was rolled back.
    """
    if not _in_operation_for(resources_map.stack_id):
        return None
    return _create_with_events(logical_id, resource_json, resources_map, account_id, region_name)


def _create_with_events(
    logical_id: str, resource_json: dict[str, Any], resources_map: Any, account_id: str, region_name: str
) -> Any:
    stack = _tls.stack
    resource_type = str(resource_json.get("Type", ""))
    condition = resource_json.get("Condition")
    if condition and not resources_map.lazy_condition_map[condition]:
        return None
    _add_resource_event(stack, logical_id, resource_type, "CREATE_IN_PROGRESS")
    plan = _current_plan()
    injected = _injected(plan, logical_id, plan.operation if plan else "")
    if injected is not None:
        raise _ResourceFailed(logical_id, resource_type, injected.reason, "create")
    try:
        resource = _create_resource(logical_id, resource_json, resources_map, account_id, region_name)
    except (_ResourceFailed, _Aborted):
        raise
    except Exception as exc:
        raise _ResourceFailed(logical_id, resource_type, _error_text(exc)) from exc
    if resource is not None:
        physical_id = getattr(resource, "physical_resource_id", None)
        _add_resource_event(stack, logical_id, resource_type, "CREATE_COMPLETE", str(physical_id or ""))
    return resource


def _register_exports(stack: Any) -> None:
    """Exports of a complete stack (moto registers them, unresolved, before the resources exist)."""
    backend = backends.cloudformation(stack.account_id, stack.region_name)
    for name in [n for n, e in backend.exports.items() if e.exporting_stack_id == stack.stack_id]:
        del backend.exports[name]
    for export in stack.exports:
        backend.exports[export.name] = export


def patch() -> None:
    from moto.cloudformation import parsing
    from moto.cloudformation.models import Stack

    _replace(
        parsing, "parse_and_create_resource", _parse_and_create_resource, "cloudformation resource events"
    )
    _replace(Stack, "create_resources", _stack_create_resources, "cloudformation create")
