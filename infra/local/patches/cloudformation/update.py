"""Stack updates: resources added and updated in dependency order (a change propagates to the
resources that reference it), the cleanup phase that deletes what the update made obsolete, and the
rollback that restores the previous template and properties."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from infra.local.patches._machinery import _Aborted, _replace
from infra.local.patches.cloudformation._common import (
    _DeleteItem,
    _error_text,
    _is_custom_type,
    _is_resource,
    _physical_id,
    _ResourceFailed,
)
from infra.local.patches.cloudformation.create import _register_exports
from infra.local.patches.cloudformation.delete import _delete_resources
from infra.local.patches.cloudformation.operations import (
    _add_failure_event,
    _begin_plan,
    _busy,
    _current_plan,
    _failure_from,
    _failure_reason,
    _injected,
    _needs_async,
    _run_operation,
    _take_rule,
    _unused_failure,
)
from infra.local.patches.cloudformation.resources.building import _after_create, _mark, _signature
from infra.local.patches.cloudformation.resources.dynamic_references import _resolve_dynamic_references
from infra.local.patches.cloudformation.resources.moto_fixes import _IN_PLACE_UPDATERS
from infra.local.patches.cloudformation.resources.ordering import _dependency_order, _references
from infra.local.patches.cloudformation.status_events import _add_resource_event, _set_status

LOG = logging.getLogger(__name__)

_UPDATABLE = frozenset(
    {
        "CREATE_COMPLETE",
        "CREATE_FAILED",
        "UPDATE_COMPLETE",
        "UPDATE_FAILED",
        "UPDATE_ROLLBACK_COMPLETE",
        "IMPORT_COMPLETE",
        "IMPORT_ROLLBACK_COMPLETE",
    }
)


def _check_updatable(stack: Any) -> None:
    from moto.cloudformation.exceptions import ValidationError

    if stack.status not in _UPDATABLE or _busy(stack):
        raise ValidationError(
            stack.stack_id,
            message=f"Stack:{stack.stack_id} is in {stack.status} state and can not be updated.",
        )


@dataclass
class _Snapshot:
    """A stack's template, parameters and resource map before an update (to roll back to)."""

    template: Any
    template_dict: dict[str, Any]
    parameters: Any
    map_template: dict[str, Any]
    json_map: dict[str, Any]
    input_parameters: Any
    resolved_parameters: dict[str, Any]
    parsed: dict[str, Any]
    conditions: Any
    output_map: Any

    @classmethod
    def take(cls, stack: Any) -> _Snapshot:
        resource_map = stack.resource_map
        return cls(
            stack.template,
            stack.template_dict,
            stack.parameters,
            resource_map._template,
            resource_map._resource_json_map,
            resource_map.input_parameters,
            dict(resource_map.resolved_parameters),
            dict(resource_map._parsed_resources),
            resource_map.lazy_condition_map,
            stack.output_map,
        )

    def restore(self, stack: Any) -> None:
        resource_map = stack.resource_map
        stack.template, stack.template_dict, stack.parameters = (
            self.template,
            self.template_dict,
            self.parameters,
        )
        resource_map._template, resource_map._resource_json_map = self.map_template, self.json_map
        resource_map.input_parameters = self.input_parameters
        resource_map.resolved_parameters = dict(self.resolved_parameters)
        resource_map._parsed_resources.clear()
        resource_map._parsed_resources.update(self.parsed)
        resource_map.lazy_condition_map = self.conditions
        stack.output_map = self.output_map


@dataclass
class _UpdateLog:
    added: list[str] = field(default_factory=list)
    # logical id, resource before, its JSON before, resource after
    updated: list[tuple[str, Any, Mapping[str, Any], Any]] = field(default_factory=list)
    # resources the update made obsolete (removed, or replaced): deleted during cleanup
    obsolete: list[_DeleteItem] = field(default_factory=list)


def _stack_update(
    self: Any,
    template: str,
    role_arn: str | None = None,
    parameters: dict[str, Any] | None = None,
    tags: dict[str, str] | None = None,
) -> None:
    """Stack.update (UpdateStack): resource events, cleanup phase, faults, rollback."""
    from moto.cloudformation.models import Stack

    _check_updatable(self)
    new_template = Stack.parse_template(template) if isinstance(template, str) else template
    background = _needs_async(self) or _needs_async(self, new_template)
    self.role_arn = role_arn or self.role_arn
    if tags is not None:
        self.tags = tags
    _set_status(self, "UPDATE_IN_PROGRESS", "User Initiated")
    _run_operation(
        self, "update", lambda: _update_stack(self, template, new_template, parameters), background=background
    )


def _update_stack(stack: Any, template: Any, template_dict: dict[str, Any], parameters: Any) -> bool:
    """UPDATE_IN_PROGRESS -> [resources] -> UPDATE_COMPLETE_CLEANUP_IN_PROGRESS -> [old resources
    deleted] -> UPDATE_COMPLETE; on failure the update is rolled back. True when it succeeded."""
    plan = _begin_plan(stack, "update")
    snapshot = _Snapshot.take(stack)
    log = _UpdateLog()
    try:
        stack.template, stack.template_dict = template, template_dict
        if parameters:
            stack.parameters = parameters
        _apply_update(stack, template_dict, parameters, log)
        _unused_failure(stack, plan, "update")
        stack.output_map = stack._create_output_map()
        _register_exports(stack)
    except _Aborted:
        raise
    except Exception as exc:
        _roll_back_update(stack, _failure_from(exc, stack), snapshot, log)
        return False
    _set_status(stack, "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS")
    _clean_up(stack, log.obsolete, snapshot.json_map)
    _set_status(stack, "UPDATE_COMPLETE")
    return True


def _apply_update(stack: Any, template: dict[str, Any], parameters: Any, log: _UpdateLog) -> None:
    """Add and update resources in dependency order; a resource is updated when its JSON changed
    or when a resource it references changed and its resolved properties differ (AWS propagates a
    replacement, e.g. a new task definition revision, to the resources that reference it)."""
    resource_map = stack.resource_map
    old_json = dict(resource_map._resource_json_map)
    diff = resource_map.build_resource_diff(template, parameters)
    resource_map._template = template
    if parameters:
        resource_map.input_parameters = parameters
    resource_map.load_mapping()
    resource_map.load_parameters()
    resource_map.load_conditions()
    resource_map._resource_json_map = template["Resources"]
    changed: set[str] = set()
    for logical_id in _dependency_order(resource_map._resource_json_map):
        if _update_one(stack, logical_id, old_json, logical_id in diff["Modify"], changed, log):
            changed.add(logical_id)
    for logical_id in diff["Remove"]:
        existing = resource_map._parsed_resources.pop(logical_id, None)
        if _is_resource(existing):
            log.obsolete.append((logical_id, existing, old_json[logical_id]))


def _update_one(
    stack: Any,
    logical_id: str,
    old_json: Mapping[str, Any],
    modified: bool,
    changed: set[str],
    log: _UpdateLog,
) -> bool:
    """Add, update or drop one resource during an update; True when it changed."""
    resource_map = stack.resource_map
    resource_json = resource_map._resource_json_map[logical_id]
    before_json = old_json.get(logical_id, resource_json)
    existing = resource_map._parsed_resources.get(logical_id)
    condition = resource_json.get("Condition")
    active = not condition or bool(resource_map.lazy_condition_map[condition])
    if not _is_resource(existing):
        if active and resource_map[logical_id] is not None:
            log.added.append(logical_id)
            return True
        return False
    if not active:  # its condition turned false: AWS deletes it
        log.obsolete.append((logical_id, existing, before_json))
        del resource_map._parsed_resources[logical_id]
        return True
    if not modified and not (_references(resource_json) & changed):
        return False
    updated = _update_with_events(stack, logical_id, resource_json, existing)
    if updated is None:
        return False
    resource_map._parsed_resources[logical_id] = updated
    log.updated.append((logical_id, existing, before_json, updated))
    replaced = updated is not existing and _physical_id(updated) != _physical_id(existing)
    if replaced and not _is_custom_type(str(resource_json.get("Type", ""))):  # custom: deleted already
        log.obsolete.append((logical_id, existing, before_json))
    return True


def _update_with_events(stack: Any, logical_id: str, resource_json: dict[str, Any], existing: Any) -> Any:
    """Update one resource (UPDATE_IN_PROGRESS -> UPDATE_COMPLETE); None when nothing changed."""
    from moto.cloudformation import parsing

    resource_map = stack.resource_map
    resource_type = str(resource_json.get("Type", ""))
    parsed = parsing.parse_resource_and_generate_name(logical_id, resource_json, resource_map)
    if not parsed:
        return None
    resource_class, cleaned, generated_name = parsed
    custom = _is_custom_type(resource_type)
    if not custom:
        cleaned = _resolve_dynamic_references(cleaned, resource_map._account_id, resource_map._region_name)
    signature = _signature(cleaned)
    if signature == getattr(existing, "stackpilot_signature", None):
        return None
    name = _update_name(resource_type, cleaned, existing, generated_name)
    account_id, region_name = resource_map._account_id, resource_map._region_name
    if custom:  # CustomModel's update sends the request and records its own events
        updated = resource_class.update_from_cloudformation_json(
            original_resource=existing,
            new_resource_name=name,
            cloudformation_json=cleaned,
            account_id=account_id,
            region_name=region_name,
        )
    else:
        physical_id = _physical_id(existing)
        _add_resource_event(stack, logical_id, resource_type, "UPDATE_IN_PROGRESS", physical_id)
        injected = _injected(_current_plan(), logical_id, "update")
        if injected is not None:
            _add_resource_event(
                stack, logical_id, resource_type, "UPDATE_FAILED", physical_id, injected.reason
            )
            raise _ResourceFailed(logical_id, resource_type, injected.reason, "update", evented=True)
        try:
            updated = _update_resource(resource_class, existing, name, cleaned, account_id, region_name)
        except (_ResourceFailed, _Aborted):
            raise
        except Exception as exc:
            reason = _error_text(exc)
            _add_resource_event(stack, logical_id, resource_type, "UPDATE_FAILED", physical_id, reason)
            raise _ResourceFailed(logical_id, resource_type, reason, "update", evented=True) from exc
        _add_resource_event(stack, logical_id, resource_type, "UPDATE_COMPLETE", _physical_id(updated))
    _mark(updated, resource_type, logical_id, signature)
    return updated


def _update_name(resource_type: str, cleaned: Mapping[str, Any], existing: Any, generated: str) -> str:
    """An explicit name property wins; otherwise the resource keeps the name CloudFormation gave it
    (moto would generate a new one on every update, and some of its updaters then replace)."""
    from moto.cloudformation import parsing

    name_property = parsing.resource_name_property_from_type(resource_type)
    properties = cleaned.get("Properties") or {}
    if name_property and properties.get(name_property):
        return str(properties[name_property])
    return str(getattr(existing, "name", None) or _physical_id(existing) or generated)


def _update_resource(
    resource_class: Any, existing: Any, name: str, cleaned: dict[str, Any], account_id: str, region_name: str
) -> Any:
    resource_type = str(cleaned.get("Type", ""))
    in_place = _IN_PLACE_UPDATERS.get(resource_type)
    if in_place is not None:
        in_place(existing, cleaned.get("Properties") or {}, account_id, region_name)
        return existing
    if hasattr(resource_class.update_from_cloudformation_json, "__isabstractmethod__"):
        LOG.info("moto cannot update %s; the change is recorded but not applied", resource_type)
        return existing
    updated = resource_class.update_from_cloudformation_json(
        original_resource=existing,
        new_resource_name=name,
        cloudformation_json=cleaned,
        account_id=account_id,
        region_name=region_name,
    )
    if updated is None:
        return existing
    _after_create(resource_type, updated, cleaned, account_id, region_name)
    return updated


def _clean_up(stack: Any, items: list[_DeleteItem], json_map: Mapping[str, Any]) -> None:
    """*_CLEANUP_IN_PROGRESS: delete obsolete resources; failures are DELETE_FAILED events only."""
    order = {
        logical_id: index for index, logical_id in enumerate(reversed(_dependency_order(dict(json_map))))
    }
    for item in sorted(items, key=lambda i: order.get(i[0], -1)):
        try:
            _delete_resources(stack, [item], None)
        except _ResourceFailed as failed:
            _add_failure_event(stack, failed)
            LOG.warning("cleanup of %s in %s failed: %s", item[0], stack.name, failed.reason)


def _roll_back_update(stack: Any, failure: _ResourceFailed, snapshot: _Snapshot, log: _UpdateLog) -> None:
    """UPDATE_ROLLBACK_IN_PROGRESS -> UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS ->
    UPDATE_ROLLBACK_COMPLETE, or UPDATE_ROLLBACK_FAILED.

    Resources updated in place get their previous properties back (UPDATE events, as AWS); what
    the update created (new resources, replacements) is deleted during the cleanup phase.
    """
    _add_failure_event(stack, failure)
    _set_status(stack, "UPDATE_ROLLBACK_IN_PROGRESS", _failure_reason(failure, failure.action))
    created: list[_DeleteItem] = [
        (
            logical_id,
            stack.resource_map._parsed_resources[logical_id],
            stack.resource_map._resource_json_map[logical_id],
        )
        for logical_id in log.added
        if _is_resource(stack.resource_map._parsed_resources.get(logical_id))
    ]
    created += [
        (logical_id, after, stack.resource_map._resource_json_map.get(logical_id, before_json))
        for logical_id, before, before_json, after in log.updated
        if after is not before and _physical_id(after) != _physical_id(before)
    ]
    new_json_map = dict(stack.resource_map._resource_json_map)
    snapshot.restore(stack)
    rule = _take_rule("rollback", "fail", stack.name)
    try:
        for logical_id, before, before_json, after in reversed(log.updated):
            if rule is not None and rule.logical_id == logical_id:
                break
            if after is before or _physical_id(after) == _physical_id(before):
                _revert(stack, logical_id, dict(before_json), after)
        if rule is not None:
            resource_json = snapshot.json_map.get(rule.logical_id) or new_json_map.get(rule.logical_id) or {}
            resource_type = str(resource_json.get("Type", ""))
            _add_resource_event(stack, rule.logical_id, resource_type, "UPDATE_FAILED", reason=rule.reason)
            raise _ResourceFailed(rule.logical_id, resource_type, rule.reason, "update", evented=True)
    except _ResourceFailed as failed:
        _add_failure_event(stack, failed)
        _set_status(stack, "UPDATE_ROLLBACK_FAILED", _failure_reason(failed, "update"))
        return
    _set_status(stack, "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS")
    _clean_up(stack, created, new_json_map)
    _set_status(stack, "UPDATE_ROLLBACK_COMPLETE")


def _revert(stack: Any, logical_id: str, before_json: dict[str, Any], current: Any) -> None:
    """Apply a resource's previous properties again (the stack's previous template is restored)."""
    if getattr(current, "stackpilot_signature", None) is None:
        return
    current.stackpilot_signature = None  # force the update
    restored = _update_with_events(stack, logical_id, before_json, current)
    if restored is not None:
        stack.resource_map._parsed_resources[logical_id] = restored


def patch() -> None:
    from moto.cloudformation.models import Stack

    _replace(Stack, "update", _stack_update, "cloudformation update")
