"""Recording how a connection attempt ended, and telling subscribers."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from functions.accounts.exceptions import ConnectionNotFound
from functions.accounts.logic.ports import Clock, ConnectionRepository, EventPublisher
from functions.accounts.models.connection import Connection, ConnectionChanges, ConnectionStatus
from functions.accounts.models.events import AccountConnected, AccountConnectionFailed
from functions.accounts.models.workflow import Callback
from functions.shared.logic.auditing import Result, service_draft
from functions.shared.models.audit import AuditDraft
from functions.shared.models.workflow import StepError

# Errors whose message is written for the user (domain exceptions); anything else is summarised.
USER_FACING_ERRORS = frozenset(
    {
        "ConnectionRejected",
        "RoleNotAssumableYet",
        "RoleTrustTooBroad",
        "RoleAccountMismatch",
        "ConnectionClosed",
    }
)


@dataclass(frozen=True)
class OutcomeDeps:
    connections: ConnectionRepository
    events: EventPublisher
    clock: Clock
    connect_window_seconds: int


def failure_reason(error: StepError | None) -> str:
    """Turns a Step Functions error ({Error, Cause}) into a reason a user can act on."""
    if not error:
        return "the connection failed for an unknown reason"
    name = error.error
    cause = error.cause
    message = ""
    if isinstance(cause, str):
        try:
            parsed = json.loads(cause)
            message = str(parsed.get("errorMessage", "")) if isinstance(parsed, dict) else ""
        except ValueError:
            message = ""
    if name in USER_FACING_ERRORS and message:
        return message[:500]
    if name == "States.Timeout":
        return "verifying the role took too long; try again"
    return (
        f"internal error while connecting ({name or 'unknown'}); "
        "nothing was changed in your account, try again"
    )


def record_outcome(
    deps: OutcomeDeps,
    org_id: str,
    connection_id: str,
    outcome: str,
    callback: Callback | None = None,
    error: StepError | None = None,
) -> ConnectionStatus:
    connection = deps.connections.get(org_id, connection_id)
    if connection is None:
        raise ConnectionNotFound(f"connection {connection_id} not found")
    now = deps.clock()
    if outcome == "CONNECTED":
        updated = deps.connections.transition(
            connection,
            ConnectionStatus.CONNECTED,
            allowed_from=(ConnectionStatus.PENDING, ConnectionStatus.CONNECTED, ConnectionStatus.FAILED),
            audit=_outcome_entry(connection, now, "succeeded", None),
            changes=ConnectionChanges(
                role_arn=(callback.role_arn if callback else None) or connection.role_arn,
                stack_id=(callback.stack_id if callback else None) or connection.stack_id,
                connected_at=connection.connected_at or now,
                nonce_hash=None,  # burnt: the template cannot connect twice
                task_token=None,
                reason=None,
                updated_at=now,
            ),
        )
        if updated is None:
            return _current(deps, org_id, connection_id)
        deps.events.publish(
            [
                AccountConnected(
                    org_id=org_id,
                    connection_id=connection_id,
                    aws_account_id=updated.aws_account_id,
                    region=updated.region,
                    role_arn=updated.role_arn or "",
                )
            ]
        )
        return updated.status

    if outcome == "EXPIRED":
        minutes = max(1, deps.connect_window_seconds // 60)
        reason = f"the role stack did not call back within {minutes} minutes; create a new connection"
    else:
        reason = failure_reason(error)
    updated = deps.connections.transition(
        connection,
        ConnectionStatus.FAILED,
        allowed_from=(ConnectionStatus.PENDING, ConnectionStatus.CONNECTED, ConnectionStatus.FAILED),
        audit=_outcome_entry(connection, now, "failed", reason),
        changes=ConnectionChanges(
            reason=reason,
            nonce_hash=None,
            task_token=None,
            stack_id=(callback.stack_id if callback else None) or connection.stack_id,
            updated_at=now,
        ),
    )
    if updated is None:
        return _current(deps, org_id, connection_id)
    deps.events.publish(
        [
            AccountConnectionFailed(
                org_id=org_id,
                connection_id=connection_id,
                aws_account_id=updated.aws_account_id,
                region=updated.region,
                reason=reason,
            )
        ]
    )
    return updated.status


def _outcome_entry(connection: Connection, now: datetime, result: Result, reason: str | None) -> AuditDraft:
    return service_draft(
        org_id=connection.org_id,
        service="connect-account",
        action="account.connect.outcome",
        target=f"connection:{connection.connection_id}",
        time=now,
        result=result,
        reason=reason,
    )


def _current(deps: OutcomeDeps, org_id: str, connection_id: str) -> ConnectionStatus:
    current = deps.connections.get(org_id, connection_id)
    return current.status if current else ConnectionStatus.DISCONNECTED
