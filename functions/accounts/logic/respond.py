"""Answering the customer's CloudFormation once the workflow knows the outcome."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from functions.accounts.logic.callback import rejected_physical_id
from functions.accounts.logic.ports import CallbackRepository, CloudFormationResponder, ConnectionRepository
from functions.accounts.logic.response_url import ResponseUrlRejected
from functions.accounts.models.connection import CallbackStatus, ConnectionStatus
from functions.accounts.models.workflow import ConnectAccountState

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RespondDeps:
    connections: ConnectionRepository
    callbacks: CallbackRepository
    responder: CloudFormationResponder


def answer_cloudformation(
    deps: RespondDeps, org_id: str, connection_id: str, state: ConnectAccountState
) -> tuple[bool, ConnectionStatus]:
    """Returns (answered, the connection's status). Safe to retry: an answered request is not re-sent.
    The outcome step's status and reason, in ``state``, are what the customer is told; the connection
    is read only when that step could not say (it failed)."""
    status, reason = _outcome(deps, org_id, connection_id, state)
    key = state.callback.request_key if state.callback else None
    if key is None:
        return False, status  # nothing ever called back (e.g. expiry): nobody waits for an answer
    request = deps.callbacks.get(key)
    if request is None or request.status is CallbackStatus.ANSWERED:
        return False, status

    if status is ConnectionStatus.CONNECTED:
        body_status, reason, physical_id = "SUCCESS", "stackpilot connected this account", connection_id
    else:
        body_status = "FAILED"
        reason = reason or "the connection was removed"
        # A connection that connected before keeps its physical id so a later Delete finds it.
        physical_id = request.physical_resource_id or rejected_physical_id(key)
    body = {
        "Status": body_status,
        "Reason": reason[:1000],
        "PhysicalResourceId": physical_id,
        "StackId": request.stack_id,
        "RequestId": request.request_id,
        "LogicalResourceId": request.logical_resource_id,
        "NoEcho": False,
        "Data": {"ConnectionId": connection_id} if body_status == "SUCCESS" else {},
    }
    try:
        deps.responder.send(request.response_url, request.region, body)
    except ResponseUrlRejected as refused:
        log.warning("refused to answer a custom-resource request: %s", refused)
        deps.callbacks.set_status(key, CallbackStatus.ANSWERED)
        return False, status
    deps.callbacks.set_status(key, CallbackStatus.ANSWERED)
    return True, status


def _outcome(
    deps: RespondDeps, org_id: str, connection_id: str, state: ConnectAccountState
) -> tuple[ConnectionStatus, str | None]:
    outcome = state.outcome
    if outcome is not None and outcome.status in ConnectionStatus.__members__:
        status = ConnectionStatus(outcome.status)
        if status is ConnectionStatus.CONNECTED or outcome.reason:
            return status, outcome.reason
    connection = deps.connections.get(org_id, connection_id)
    if connection is None:
        return ConnectionStatus.DISCONNECTED, None
    return connection.status, connection.reason
