"""Recording how a connection attempt ended, and telling subscribers."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from functions.accounts.exceptions import AccountClaimed, ConnectionNotFound
from functions.accounts.logic.ports import Clock, ConnectionRepository, EventPublisher
from functions.accounts.models.connection import ConnectionChanges, ConnectionKey, ConnectionStatus
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
class Recorded:
    """The connection's status after the outcome, and the reason a user reads (what CloudFormation
    is told: the next step needs no read of its own)."""

    status: ConnectionStatus
    reason: str | None = None


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
    *,
    aws_account_id: str | None = None,
    region: str | None = None,
) -> Recorded:
    """One conditional write (with its audit entry) and the event; the connection is read only when
    the execution did not carry its account and region (started before it did), or lost a race."""
    key = _key(deps, org_id, connection_id, aws_account_id, region)
    now = deps.clock()
    if outcome == "CONNECTED":
        from_callback = {"role_arn": callback.role_arn, "stack_id": callback.stack_id} if callback else {}
        upgraded = callback.template_version if callback else None
        if upgraded:  # an upgrade's Update passed: the stack runs that template now
            from_callback["template_version"] = upgraded
        # The nonce (or an upgrade's token) is burnt by what it proved; a plain Update keeps an
        # upgrade link that is still to be used.
        burn = callback is None or callback.request_type != "Update" or upgraded is not None
        try:
            connected = deps.connections.transition(
                key,
                ConnectionStatus.CONNECTED,
                allowed_from=(ConnectionStatus.PENDING, ConnectionStatus.CONNECTED, ConnectionStatus.FAILED),
                audit=_outcome_entry(
                    key, now, "succeeded", f"onboarding template v{upgraded}" if upgraded else None
                ),
                changes=ConnectionChanges(
                    **from_callback,
                    **({"nonce_hash": None} if burn else {}),  # burnt: the template cannot connect twice
                    task_token=None,
                    reason=None,
                    updated_at=now,
                ),
                if_absent=ConnectionChanges(connected_at=now),  # a re-verification keeps the first
            )
        except AccountClaimed as claimed:
            # A connection that failed before, re-verified while another one holds its account.
            reason = (
                f"account {key.aws_account_id} in {key.region} is held by "
                f"{claimed.holder or 'another connection'}; disconnect it to use this one"
            )
            return _failed(deps, key, now, reason, callback)
        if not connected:
            return _current(deps, org_id, connection_id)
        role_arn = callback.role_arn if callback else _role_arn(deps, key)
        deps.events.publish(
            [
                AccountConnected(
                    org_id=org_id,
                    connection_id=connection_id,
                    aws_account_id=key.aws_account_id,
                    region=key.region,
                    role_arn=role_arn,
                )
            ]
        )
        return Recorded(ConnectionStatus.CONNECTED)

    if outcome == "EXPIRED":
        minutes = max(1, deps.connect_window_seconds // 60)
        reason = f"the role stack did not call back within {minutes} minutes; create a new connection"
    else:
        reason = failure_reason(error)
    return _failed(deps, key, now, reason, callback)


def _failed(
    deps: OutcomeDeps, key: ConnectionKey, now: datetime, reason: str, callback: Callback | None
) -> Recorded:
    from_callback = {"stack_id": callback.stack_id} if callback else {}
    if not deps.connections.transition(
        key,
        ConnectionStatus.FAILED,
        allowed_from=(ConnectionStatus.PENDING, ConnectionStatus.CONNECTED, ConnectionStatus.FAILED),
        audit=_outcome_entry(key, now, "failed", reason),
        changes=ConnectionChanges(
            **from_callback, reason=reason, nonce_hash=None, task_token=None, updated_at=now
        ),
    ):
        return _current(deps, key.org_id, key.connection_id)
    deps.events.publish(
        [
            AccountConnectionFailed(
                org_id=key.org_id,
                connection_id=key.connection_id,
                aws_account_id=key.aws_account_id,
                region=key.region,
                reason=reason,
            )
        ]
    )
    return Recorded(ConnectionStatus.FAILED, reason)


def _key(
    deps: OutcomeDeps, org_id: str, connection_id: str, aws_account_id: str | None, region: str | None
) -> ConnectionKey:
    if aws_account_id and region:
        return ConnectionKey(
            org_id=org_id, connection_id=connection_id, aws_account_id=aws_account_id, region=region
        )
    connection = deps.connections.get(org_id, connection_id)
    if connection is None:
        raise ConnectionNotFound(f"connection {connection_id} not found")
    return connection


def _role_arn(deps: OutcomeDeps, key: ConnectionKey) -> str:
    connection = deps.connections.get(key.org_id, key.connection_id)
    return (connection.role_arn if connection else None) or ""


def _outcome_entry(
    connection: ConnectionKey, now: datetime, result: Result, reason: str | None
) -> AuditDraft:
    return service_draft(
        org_id=connection.org_id,
        service="connect-account",
        action="account.connect.outcome",
        target=f"connection:{connection.connection_id}",
        time=now,
        result=result,
        reason=reason,
    )


def _current(deps: OutcomeDeps, org_id: str, connection_id: str) -> Recorded:
    current = deps.connections.get(org_id, connection_id)
    if current is None:
        return Recorded(ConnectionStatus.DISCONNECTED, "the connection was removed")
    return Recorded(current.status, current.reason)
