"""Stack deletion: resources deleted in reverse dependency order with resource events, DeletionPolicy
Retain, injected faults, DELETE_FAILED and the retry that retains resources (RetainResources,
DeletionMode FORCE_DELETE_STACK)."""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Mapping
from typing import Any

from infra.local.patches._machinery import _Aborted, _replace, _StackRule
from infra.local.patches.cloudformation._common import (
    _DeleteItem,
    _error_text,
    _is_resource,
    _physical_id,
    _ResourceFailed,
)
from infra.local.patches.cloudformation.operations import (
    _add_failure_event,
    _begin_plan,
    _busy,
    _failure_reason,
    _needs_async,
    _run_operation,
)
from infra.local.patches.cloudformation.resources.moto_fixes import _DELETERS
from infra.local.patches.cloudformation.resources.ordering import _dependency_order
from infra.local.patches.cloudformation.status_events import _add_resource_event, _set_status

LOG = logging.getLogger(__name__)


def _stack_items(stack: Any) -> list[_DeleteItem]:
    """Every existing resource of the stack, in deletion order (reverse dependency order)."""
    resource_map = stack.resource_map
    json_map = resource_map._resource_json_map
    return [
        (logical_id, resource_map._parsed_resources[logical_id], json_map[logical_id])
        for logical_id in reversed(_dependency_order(json_map))
        if _is_resource(resource_map._parsed_resources.get(logical_id))
    ]


def _delete_resources(stack: Any, items: list[_DeleteItem], failure: _StackRule | None) -> None:
    """Delete `items` in order, with DELETE_IN_PROGRESS/DELETE_COMPLETE (DELETE_SKIPPED for Retain).

    An injected failure or a custom resource's refusal stops with _ResourceFailed. moto's own
    delete errors (often dependency order, sometimes moto bugs AWS would not have) are retried in
    later passes, like moto does; what still fails is logged and counted as deleted.
    """
    if failure is not None and failure.logical_id not in [item[0] for item in items]:
        raise _ResourceFailed(failure.logical_id, "", failure.reason, "delete")
    pending, errors, first = list(items), {}, True
    while pending:
        remaining: list[_DeleteItem] = []
        for item in pending:
            error = _delete_item(stack, item, failure, announce=first)
            if error is not None:
                errors[item[0]] = error
                remaining.append(item)
        if len(remaining) == len(pending):
            break
        pending, first = remaining, False
    for logical_id, resource, resource_json in pending:
        LOG.warning(
            "moto could not delete %s of %s (%s); counted as deleted",
            logical_id,
            stack.name,
            errors[logical_id],
        )
        _forget(stack.resource_map, logical_id, resource)
        _add_resource_event(
            stack, logical_id, str(resource_json.get("Type", "")), "DELETE_COMPLETE", _physical_id(resource)
        )


def _delete_item(
    stack: Any, item: _DeleteItem, failure: _StackRule | None, *, announce: bool
) -> Exception | None:
    """Delete one resource; the error when moto could not (to retry), None when done."""
    from moto.cloudformation.custom_model import CustomModel

    logical_id, resource, resource_json = item
    resource_type, physical_id = str(resource_json.get("Type", "")), _physical_id(resource)
    custom = isinstance(resource, CustomModel)  # records its own events
    if resource_json.get("DeletionPolicy") == "Retain":
        _add_resource_event(stack, logical_id, resource_type, "DELETE_SKIPPED", physical_id)
        _forget(stack.resource_map, logical_id, resource)
        return None
    if announce and not custom:
        _add_resource_event(stack, logical_id, resource_type, "DELETE_IN_PROGRESS", physical_id)
    if failure is not None and failure.logical_id == logical_id:
        _add_resource_event(stack, logical_id, resource_type, "DELETE_FAILED", physical_id, failure.reason)
        raise _ResourceFailed(logical_id, resource_type, failure.reason, "delete", evented=True)
    try:
        _delete_resource(stack.resource_map, resource, resource_json)
    except (_ResourceFailed, _Aborted):
        raise
    except Exception as exc:
        if custom or _refused_by_aws(exc):
            raise _ResourceFailed(logical_id, resource_type, _error_text(exc), "delete") from exc
        return exc
    _forget(stack.resource_map, logical_id, resource)
    if not custom:
        _add_resource_event(stack, logical_id, resource_type, "DELETE_COMPLETE", physical_id)
    return None


# moto delete errors that AWS gives too (not ordering or moto quirks): they fail the delete.
_AWS_DELETE_REFUSALS = ("deletion protection", "still contains images")  # ECR without EmptyOnDelete


def _refused_by_aws(exc: Exception) -> bool:
    message = str(getattr(exc, "message", None) or exc).lower()
    return any(marker in message for marker in _AWS_DELETE_REFUSALS)


def _forget(resource_map: Any, logical_id: str, resource: Any) -> None:
    if resource_map._parsed_resources.get(logical_id) is resource:
        del resource_map._parsed_resources[logical_id]


def _delete_resource(resource_map: Any, resource: Any, resource_json: Mapping[str, Any]) -> None:
    deleter = _DELETERS.get(str(resource_json.get("Type", "")))
    if deleter is not None:
        deleter(resource, resource_map._account_id, resource_map._region_name)
        return
    resource_map._delete_resource(resource, dict(resource_json))


def _export_names(stack: Any) -> list[str]:
    try:
        return [export.name for export in stack.exports]
    except Exception:
        return []


def _find_live_stack(backend: Any, name_or_stack_id: str) -> Any:
    if name_or_stack_id in backend.stacks:
        return backend.stacks[name_or_stack_id]
    return next((s for s in backend.stacks.values() if s.name == name_or_stack_id), None)


# RetainResources / DeletionMode of the DeleteStack request being served (moto drops both).
_delete_request: contextvars.ContextVar[tuple[frozenset[str], bool]] = contextvars.ContextVar(
    "stackpilot_delete_request", default=(frozenset(), False)
)


def _response_delete_stack(self: Any) -> Any:
    """CloudFormationResponse.delete_stack, passing RetainResources and DeletionMode on."""
    from moto.core.responses import EmptyResult

    retain = frozenset(str(r) for r in self._get_param("RetainResources", []) or [])
    force = self._get_param("DeletionMode") == "FORCE_DELETE_STACK"
    token = _delete_request.set((retain, force))
    try:
        self.cloudformation_backend.delete_stack(self._get_param("StackName"))
    finally:
        _delete_request.reset(token)
    return EmptyResult()


def _backend_delete_stack(self: Any, name_or_stack_id: str) -> None:
    """CloudFormationBackend.delete_stack: resource events, injected faults, DELETE_FAILED; a
    DELETE_FAILED stack may be deleted again retaining resources (RetainResources, or
    DeletionMode FORCE_DELETE_STACK: those that failed to delete)."""
    from moto.cloudformation.exceptions import ValidationError

    stack = _find_live_stack(self, name_or_stack_id)
    if stack is None or stack.status == "DELETE_IN_PROGRESS" or _busy(stack):
        return
    retain, force = _delete_request.get()
    if (retain or force) and stack.status != "DELETE_FAILED":
        raise ValidationError(
            message=f"Invalid operation on stack [{stack.stack_id}]. RetainResources and FORCE_DELETE_STACK "
            "apply only to a stack in DELETE_FAILED state."
        )
    if force:
        retain = retain | _failed_deletes(stack)
    _set_status(stack, "DELETE_IN_PROGRESS", "User Initiated")
    _run_operation(
        stack, "delete", lambda: _delete_stack(self, stack, retain), background=_needs_async(stack)
    )


def _failed_deletes(stack: Any) -> frozenset[str]:
    last: dict[str, str] = {}
    for event in stack.events:
        last[event.logical_resource_id] = event.resource_status
    return frozenset(logical_id for logical_id, status in last.items() if status == "DELETE_FAILED")


def _delete_stack(backend: Any, stack: Any, retain: frozenset[str] = frozenset()) -> None:
    plan = _begin_plan(stack, "delete")
    export_names = _export_names(stack)  # resolvable only while the resources exist
    items = [
        (lid, res, {**json_, "DeletionPolicy": "Retain"} if lid in retain else json_)
        for lid, res, json_ in _stack_items(stack)
    ]
    try:
        _delete_resources(stack, items, plan.failure)
    except _ResourceFailed as failed:
        _add_failure_event(stack, failed)
        _set_status(stack, "DELETE_FAILED", _failure_reason(failed, "delete"))
        return
    backend.deleted_stacks[stack.stack_id] = stack
    backend.stacks.pop(stack.stack_id, None)
    for name in export_names:
        backend.exports.pop(name, None)
    for change_set_id in [k for k, c in backend.change_sets.items() if c.stack_id == stack.stack_id]:
        del backend.change_sets[change_set_id]
    _set_status(stack, "DELETE_COMPLETE")


def patch() -> None:
    from moto.cloudformation.models import CloudFormationBackend
    from moto.cloudformation.responses import CloudFormationResponse

    _replace(CloudFormationBackend, "delete_stack", _backend_delete_stack, "cloudformation delete")
    _replace(CloudFormationResponse, "delete_stack", _response_delete_stack, "cloudformation delete options")
