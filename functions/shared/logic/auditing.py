"""Building audit drafts from a request: who acted, where from, under which request id."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from functions.shared.models.audit import AuditDraft
from functions.shared.models.principal import Principal

Result = Literal["succeeded", "denied", "failed"]


@dataclass(frozen=True)
class RequestInfo:
    request_id: str | None
    source: str  # the caller's address as API Gateway saw it, or "workflow:<machine>"


def draft(
    principal: Principal,
    request: RequestInfo,
    *,
    action: str,
    target: str,
    time: datetime,
    result: Result = "succeeded",
    reason: str | None = None,
    org_id: str | None = None,
) -> AuditDraft:
    return AuditDraft(
        org_id=org_id or principal.org_id,
        actor=principal.actor,
        actor_type=principal.principal_type,
        action=action,
        target=target,
        result=result,
        reason=reason,
        request_id=request.request_id,
        source=request.source,
        time=time,
    )


def request_info(event: dict[str, Any]) -> RequestInfo:
    """Who sent an API Gateway proxy event, as the audit log records it."""
    context = event.get("requestContext") or {}
    source = (context.get("identity") or {}).get("sourceIp") or "api"
    return RequestInfo(request_id=context.get("requestId"), source=str(source))


def service_draft(
    *,
    org_id: str,
    service: str,
    action: str,
    target: str,
    time: datetime,
    result: Result = "succeeded",
    reason: str | None = None,
) -> AuditDraft:
    """An entry for what a workflow or a scheduled job did on its own (no request behind it)."""
    return AuditDraft(
        org_id=org_id,
        actor=f"service:{service}",
        actor_type="service",
        action=action,
        target=target,
        result=result,
        reason=reason,
        source=f"workflow:{service}",
        time=time,
    )
