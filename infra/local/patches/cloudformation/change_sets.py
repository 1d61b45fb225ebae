"""Change sets: CreateChangeSet checks what AWS checks up front (existing stack, updatable status,
template, parameters, references); ExecuteChangeSet answers at once and runs the same creation or
update as CreateStack/UpdateStack in the background; an empty change set is created FAILED."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from infra.local.patches._machinery import _call_original, _replace
from infra.local.patches.cloudformation.create import _create_stack, _fail_creation
from infra.local.patches.cloudformation.delete import _find_live_stack
from infra.local.patches.cloudformation.operations import _failure_from, _run_operation
from infra.local.patches.cloudformation.resources.ordering import _check_references
from infra.local.patches.cloudformation.status_events import _set_status
from infra.local.patches.cloudformation.update import _check_updatable, _update_stack


def _backend_create_change_set(
    self: Any, stack_name: str, change_set_name: str, template: str, *args: Any, **kwargs: Any
) -> tuple[str, str]:
    """CloudFormationBackend.create_change_set: AWS's checks first (existing stack for CREATE,
    updatable status for UPDATE, template and parameters valid) rather than at execution."""
    from moto.cloudformation.exceptions import AlreadyExistsException
    from moto.cloudformation.models import CloudFormationBackend

    bound = _bind_change_set_args(stack_name, change_set_name, template, *args, **kwargs)
    existing = _find_live_stack(self, stack_name)
    if existing is not None:
        stack_name = existing.name  # a stack id works too (moto matches names only)
    if (
        bound["change_set_type"] == "CREATE"
        and existing is not None
        and existing.status != "REVIEW_IN_PROGRESS"
    ):
        raise AlreadyExistsException(f"Stack [{stack_name}] already exists")
    if bound["change_set_type"] == "UPDATE" and existing is not None:
        _check_updatable(existing)
    _validate_template(self, stack_name, template, bound["parameters"])
    return _call_original(  # type: ignore[no-any-return]
        CloudFormationBackend,
        "create_change_set",
        self,
        stack_name,
        change_set_name,
        template,
        *args,
        **kwargs,
    )


def _bind_change_set_args(
    stack_name: str, change_set_name: str, template: str, *args: Any, **kwargs: Any
) -> dict[str, Any]:
    names = ("parameters", "description", "change_set_type", "notification_arns", "tags", "role_arn")
    bound = dict(zip(names, args, strict=False))
    bound.update(kwargs)
    bound.setdefault("parameters", {})
    bound.setdefault("change_set_type", "CREATE")
    return bound


def _validate_template(backend: Any, stack_name: str, template: str, parameters: Mapping[str, Any]) -> None:
    """Parameters (types, constraints, SSM values, Rules) and references, as CreateChangeSet does."""
    from moto.cloudformation.exceptions import ValidationError
    from moto.cloudformation.models import Stack
    from moto.cloudformation.parsing import ResourceMap
    from moto.cloudformation.utils import generate_stack_id

    try:
        template_dict = Stack.parse_template(template)
    except ValueError as exc:
        raise ValidationError(message=f"Template format error: {exc}") from None
    if not isinstance(template_dict, dict) or not template_dict.get("Resources"):
        raise ValidationError(message="Template format error: At least one Resources member must be defined.")
    _check_references(template_dict)
    stack_id = generate_stack_id(stack_name, backend.region_name, backend.account_id)
    probe = ResourceMap(
        stack_id,
        stack_name,
        dict(parameters or {}),
        {},
        region_name=backend.region_name,
        account_id=backend.account_id,
        template=template_dict,
        cross_stack_resources=backend.exports,
    )
    probe.load()


def _find_change_set(backend: Any, change_set_name: str, stack_name: str | None) -> Any:
    from moto.cloudformation.exceptions import ValidationError

    if change_set_name in backend.change_sets:
        return backend.change_sets[change_set_name]
    for change_set in backend.change_sets.values():
        if change_set.change_set_name == change_set_name and stack_name in (
            None,
            "",
            change_set.stack_name,
            change_set.stack_id,
        ):
            return change_set
    raise ValidationError(message=f"ChangeSet [{change_set_name}] does not exist")


def _backend_execute_change_set(self: Any, change_set_name: str, stack_name: str | None = None) -> None:
    """CloudFormationBackend.execute_change_set: the same operations as CreateStack/UpdateStack
    (resource events, faults, rollback, status events), in the background when needed."""
    from moto.cloudformation.exceptions import ValidationError

    change_set = _find_change_set(self, change_set_name, stack_name)
    if change_set.execution_status != "AVAILABLE":
        raise ValidationError(
            message=f"ChangeSet [{change_set.change_set_id}] cannot be executed in its current execution "
            f"status of [{change_set.execution_status}]"
        )
    stack = self.stacks.get(change_set.stack_id)
    if stack is None:
        raise ValidationError(change_set.stack_id)
    # AWS answers ExecuteChangeSet before anything happens: whoever waits for the stack's status
    # events (a task token stored by the next state) is never overtaken by them.
    background = True
    if change_set.role_arn:
        stack.role_arn = change_set.role_arn
    if change_set.change_set_type == "CREATE":
        if stack.status != "REVIEW_IN_PROGRESS":
            raise ValidationError(message=f"Stack [{stack.name}] already exists")
        change_set.execution_status = "EXECUTE_IN_PROGRESS"
        _set_status(stack, "CREATE_IN_PROGRESS", "User Initiated")
        work = lambda: _execute_create(self, change_set, stack)  # noqa: E731
    else:
        _check_updatable(stack)
        change_set.execution_status = "EXECUTE_IN_PROGRESS"
        _set_status(stack, "UPDATE_IN_PROGRESS", "User Initiated")
        work = lambda: _execute_update(change_set, stack)  # noqa: E731
    _run_operation(stack, "change-set", work, background=background)


def _execute_create(backend: Any, change_set: Any, stack: Any) -> None:
    try:
        stack.template = change_set.template
        stack._parse_template()
        stack.parameters = dict(change_set.parameters or {})
        if change_set.tags:
            stack.tags = change_set.tags
        stack.cross_stack_resources = backend.exports
        stack.resource_map = stack._create_resource_map()
        stack.output_map = stack._create_output_map()
    except Exception as exc:
        change_set.execution_status = "EXECUTE_FAILED"
        _fail_creation(stack, _failure_from(exc, stack))
        return
    _create_stack(stack)
    change_set.execution_status = (
        "EXECUTE_COMPLETE" if stack.status == "CREATE_COMPLETE" else "EXECUTE_FAILED"
    )


def _execute_update(change_set: Any, stack: Any) -> None:
    if change_set.tags:
        stack.tags = change_set.tags
    succeeded = _update_stack(stack, change_set.template, change_set.template_dict, change_set.parameters)
    change_set.execution_status = "EXECUTE_COMPLETE" if succeeded else "EXECUTE_FAILED"


def _validate_different_update(self: Any, incoming_params: Any, stack_body: str, old_stack: Any) -> None:
    """CloudFormationResponse._validate_different_update: a change set without changes is created
    (and FAILED with "The submitted information didn't contain changes..."), as AWS does; only
    UpdateStack answers "No updates are to be performed."."""
    from moto.cloudformation.responses import CloudFormationResponse

    if self._get_action() == "CreateChangeSet":
        return
    _call_original(
        CloudFormationResponse, "_validate_different_update", self, incoming_params, stack_body, old_stack
    )


def patch() -> None:
    from moto.cloudformation.models import CloudFormationBackend
    from moto.cloudformation.responses import CloudFormationResponse

    _replace(
        CloudFormationBackend, "create_change_set", _backend_create_change_set, "cloudformation change set"
    )
    _replace(
        CloudFormationBackend,
        "execute_change_set",
        _backend_execute_change_set,
        "cloudformation change set execution",
    )
    _replace(
        CloudFormationResponse,
        "_validate_different_update",
        _validate_different_update,
        "cloudformation empty change set",
    )
