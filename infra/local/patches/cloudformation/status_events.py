"""Stack status events: every status change is a stack event and a "CloudFormation Stack Status
Change" event on the stack account's default bus (resource events likewise, as "CloudFormation
Resource Status Change"), delivered to that bus's rules - which may forward them to another account.

Status sequences (each status is a stack event and a "CloudFormation Stack Status Change" event):
  CreateStack:        CREATE_IN_PROGRESS -> CREATE_COMPLETE
  CREATE change set:  REVIEW_IN_PROGRESS (CreateChangeSet) -> CREATE_IN_PROGRESS -> CREATE_COMPLETE
  failed creation:    CREATE_IN_PROGRESS -> ROLLBACK_IN_PROGRESS -> ROLLBACK_COMPLETE | ROLLBACK_FAILED
  update:             UPDATE_IN_PROGRESS -> UPDATE_COMPLETE_CLEANUP_IN_PROGRESS -> UPDATE_COMPLETE
  failed update:      UPDATE_IN_PROGRESS -> UPDATE_ROLLBACK_IN_PROGRESS ->
                      UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS -> UPDATE_ROLLBACK_COMPLETE
                      (or UPDATE_IN_PROGRESS -> UPDATE_ROLLBACK_IN_PROGRESS -> UPDATE_ROLLBACK_FAILED)
  delete:             DELETE_IN_PROGRESS -> DELETE_COMPLETE | DELETE_FAILED
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

from infra.local.patches._machinery import _call_original, _replace, _state
from infra.local.patches.eventbridge import put_service_event

LOG = logging.getLogger(__name__)

STACK_STATUS_DETAIL_TYPE = "CloudFormation Stack Status Change"


def _status_events_silenced(stack_name: str) -> bool:
    with _state.lock:
        return any(stack_name.startswith(prefix) for prefix in _state.silenced_stacks)


def stack_status_event(stack_id: str, status: str, reason: str | None = None) -> dict[str, Any]:
    """The "CloudFormation Stack Status Change" event AWS puts on the stack account's default bus."""
    parts = stack_id.split(":")
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": STACK_STATUS_DETAIL_TYPE,
        "source": "aws.cloudformation",
        "account": parts[4],
        "time": time.time(),
        "region": parts[3],
        "resources": [stack_id],
        "detail": {
            "stack-id": stack_id,
            "status-details": {"status": status, "status-reason": reason or ""},
            "client-request-token": "",
        },
    }


def _stack_add_stack_event(
    self: Any,
    resource_status: str,
    resource_status_reason: str | None = None,
    resource_properties: str | None = None,
) -> None:
    """Stack._add_stack_event, the one place every stack status change goes through (moto's own
    synchronous paths and the patches' operations): the status is set first, then the stack event
    is recorded (and sent to the NotificationARNs, as moto does), then the EventBridge event is
    delivered synchronously to the rules of the account's default bus (targets that run code,
    Lambda and Step Functions, are started asynchronously, so nothing here waits on a consumer)."""
    from moto.cloudformation.models import Stack

    self.status, self.status_reason = resource_status, resource_status_reason
    _call_original(
        Stack, "_add_stack_event", self, resource_status, resource_status_reason, resource_properties
    )
    if _status_events_silenced(self.name):
        return
    try:
        put_service_event(stack_status_event(self.stack_id, resource_status, resource_status_reason))
    except Exception:
        LOG.exception("stack status event of %s not delivered", self.name)


RESOURCE_STATUS_DETAIL_TYPE = "CloudFormation Resource Status Change"


def _resource_status_event(
    stack_id: str,
    logical_id: str,
    resource_type: str,
    status: str,
    physical_id: str | None,
    reason: str | None,
) -> dict[str, Any]:
    """The "CloudFormation Resource Status Change" event AWS puts on the default bus."""
    event = stack_status_event(stack_id, status, reason)
    event["detail-type"] = RESOURCE_STATUS_DETAIL_TYPE
    event["detail"] = {
        "stack-id": stack_id,
        "logical-resource-id": logical_id,
        "physical-resource-id": physical_id or "",
        "status-details": {"status": status, "status-reason": reason or ""},
        "resource-type": resource_type,
        "client-request-token": "",
    }
    return event


def _add_resource_event(
    stack: Any,
    logical_id: str,
    resource_type: str,
    status: str,
    physical_id: str | None = None,
    reason: str | None = None,
) -> None:
    from moto.cloudformation.models import Event

    event = Event(
        stack_id=stack.stack_id,
        stack_name=stack.name,
        logical_resource_id=logical_id,
        physical_resource_id=physical_id or "",
        resource_type=resource_type,
        resource_status=status,
        resource_status_reason=reason,
        resource_properties=None,
    )
    stack.events.append(event)
    if not _status_events_silenced(stack.name):
        put_service_event(
            _resource_status_event(stack.stack_id, logical_id, resource_type, status, physical_id, reason)
        )


def _set_status(stack: Any, status: str, reason: str | None = None) -> None:
    stack._add_stack_event(status, resource_status_reason=reason)


def patch() -> None:
    from moto.cloudformation.models import Stack

    _replace(Stack, "_add_stack_event", _stack_add_stack_event, "cloudformation stack status events")
