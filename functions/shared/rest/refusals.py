"""The audit entry of a mutating request an API function refused or failed.

A mutation that succeeds is recorded in its own transaction; one the authorizer refuses is
recorded there. What is left, recorded here: a mutating request the function answered with a 4xx
or 5xx (a 404 for another org's object, a 409, a 422, a dependency failure): nothing changed, and
the org's log says who tried what and why it did not happen.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from functions.shared.logic.access import route_access
from functions.shared.logic.ports import AuditLog
from functions.shared.models.audit import AuditDraft

DENIED_STATUSES = frozenset({401, 403, 404})


def record_refusal(
    event: dict[str, Any], response: dict[str, Any], log: AuditLog, clock: Callable[[], datetime]
) -> bool:
    """False if the entry could not be written (the caller logs it; the answer stands: nothing
    changed either way)."""
    try:
        _record(event, response, log, clock)
    except Exception:  # a refused request's answer never turns into a 500
        return False
    return True


def _record(
    event: dict[str, Any], response: dict[str, Any], log: AuditLog, clock: Callable[[], datetime]
) -> None:
    access = route_access(str(event.get("httpMethod") or ""), str(event.get("resource") or ""))
    status = int(response.get("statusCode") or 500)
    if access is None or not access.mutating or status < 400:
        return
    context = event.get("requestContext") or {}
    caller = context.get("authorizer") or {}
    org_id = caller.get("org_id")
    if not org_id:
        return  # a caller of no org (creating one): the log line is all there is
    key_id = caller.get("key_id")
    log.record(
        AuditDraft(
            org_id=org_id,
            actor=f"key:{key_id}" if key_id else f"user:{caller.get('user_id') or 'unknown'}",
            actor_type="api_key" if key_id else "user",
            action=access.action,
            target=str(event.get("path") or ""),
            result="denied" if status in DENIED_STATUSES else "failed",
            reason=f"{status}: {_message(response)}"[:500],
            request_id=context.get("requestId"),
            source=str((context.get("identity") or {}).get("sourceIp") or "api"),
            time=clock(),
        )
    )


def _message(response: dict[str, Any]) -> str:
    try:
        body = json.loads(response.get("body") or "null")
    except ValueError:
        return "unreadable response"
    return str(body.get("message")) if isinstance(body, dict) else "no message"
