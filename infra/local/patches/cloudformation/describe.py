"""What DescribeStacks and DescribeStackResources show: outputs only once a stack is complete,
only resources that exist, completion through the status hook."""

from __future__ import annotations

import logging
from typing import Any

from infra.local.patches._machinery import _original, _replace
from infra.local.patches.cloudformation._common import _is_resource
from infra.local.patches.cloudformation.status_events import _set_status

LOG = logging.getLogger(__name__)

_OUTPUT_STATUSES = frozenset(
    {
        "CREATE_COMPLETE",
        "UPDATE_IN_PROGRESS",
        "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
        "UPDATE_COMPLETE",
        "UPDATE_ROLLBACK_IN_PROGRESS",
        "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS",
        "UPDATE_ROLLBACK_COMPLETE",
        "UPDATE_ROLLBACK_FAILED",
    }
)


def _stack_outputs(self: Any) -> list[dict[str, Any]] | None:
    """Outputs exist only once a stack is complete (AWS shows none before).

    moto resolves outputs lazily on every Describe; on a stack whose resources were rolled back
    or deleted that would raise, so such stacks simply show no outputs.
    """
    from moto.cloudformation.models import Stack

    if self.status not in _OUTPUT_STATUSES:
        return None
    try:
        return _original(Stack, "outputs").fget(self)  # type: ignore[no-any-return]
    except Exception:
        LOG.debug("outputs of %s not resolvable", self.name, exc_info=True)
        return None


def _stack_resources(self: Any) -> list[Any]:
    """Only resources that exist: moto's lazy map would otherwise create them on a Describe."""
    resource_map = self.resource_map
    parsed = dict(resource_map._parsed_resources)
    return [
        parsed[logical_id]
        for logical_id in list(resource_map._resource_json_map)
        if _is_resource(parsed.get(logical_id))
    ]


def _stack_mark_creation_complete(self: Any) -> None:
    """Stack.mark_creation_complete (moto's verify_readiness): through the status hook."""
    _set_status(self, "CREATE_COMPLETE")


def patch() -> None:
    from moto.cloudformation.models import Stack

    _replace(Stack, "mark_creation_complete", _stack_mark_creation_complete, "cloudformation completion")
    _replace(Stack, "outputs", property(_stack_outputs), "cloudformation outputs when complete")
    _replace(Stack, "stack_resources", property(_stack_resources), "cloudformation existing resources")
