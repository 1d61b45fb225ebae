"""Custom-resource requests from customers' role stacks.

Every message is unauthenticated: anyone can publish to the callback topic. A request is accepted
only when it matches a PENDING connection's single-use nonce and accounts; everything else is
answered FAILED (so the customer's stack never hangs) and leaves the connection untouched.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from functions.accounts.exceptions import CallbackRejected, WaiterNotReady
from functions.accounts.logic.execution import execution_name, workflow_input
from functions.accounts.logic.nonce import nonce_matches
from functions.accounts.logic.ports import (
    CallbackRepository,
    Clock,
    CloudFormationResponder,
    ConnectionRepository,
    EventPublisher,
    Workflow,
)
from functions.accounts.logic.response_url import ResponseUrlRejected
from functions.accounts.models.callback import CustomResourceRequest
from functions.accounts.models.connection import (
    CallbackRequest,
    CallbackStatus,
    Connection,
    ConnectionChanges,
    ConnectionStatus,
)
from functions.accounts.models.events import AccountDisconnected
from functions.shared.logic.auditing import service_draft
from functions.shared.models.ids import CONNECTION_ID_PATTERN, ORG_ID_PATTERN

log = logging.getLogger(__name__)

ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):role/[\w+=,.@/-]{1,512}$")
STACK_ARN = re.compile(r"^arn:aws[a-z-]*:cloudformation:([a-z0-9-]+):(\d{12}):stack/[\w-]{1,128}/[\w-]+$")
CONNECTION_ID = re.compile(CONNECTION_ID_PATTERN)
ORG_ID = re.compile(ORG_ID_PATTERN)
VERSION = re.compile(r"^\d{1,4}$")


class Outcome(StrEnum):
    DISPATCHED = "DISPATCHED"  # the workflow will verify and answer
    ANSWERED = "ANSWERED"  # answered here (SUCCESS or FAILED)
    DUPLICATE = "DUPLICATE"  # a replay of a request already handled


@dataclass(frozen=True)
class CallbackDeps:
    connections: ConnectionRepository
    callbacks: CallbackRepository
    workflow: Workflow
    responder: CloudFormationResponder
    events: EventPublisher
    clock: Clock
    supported_regions: tuple[str, ...]
    connect_window_seconds: int


def request_key(req: CustomResourceRequest) -> str:
    raw = "|".join((req.StackId, req.LogicalResourceId, req.RequestId, req.RequestType))
    return hashlib.sha256(raw.encode()).hexdigest()


def rejected_physical_id(key: str) -> str:
    """Deterministic, and never a connection id: a rollback's Delete must not disconnect anything."""
    return f"stackpilot-rejected-{key[:20]}"


def handle_request(deps: CallbackDeps, req: CustomResourceRequest, topic_region: str) -> Outcome:
    """``topic_region`` is the region of the topic the message came through."""
    key = request_key(req)
    region = _stack_region(req) or topic_region
    if req.RequestType == "Create":
        try:
            return _create(deps, req, key, region, topic_region)
        except CallbackRejected as rejected:
            return _reject(deps, req, key, region, str(rejected))
    stored = _stored(deps, req, key, region)
    if stored is None:
        return Outcome.DUPLICATE
    try:
        if req.RequestType == "Update":
            return _update(deps, req, stored, topic_region)
        return _delete(deps, req, stored)
    except CallbackRejected as rejected:
        _answer(deps, stored, "FAILED", str(rejected), rejected_physical_id(key))
        return Outcome.ANSWERED


def _record(
    deps: CallbackDeps, req: CustomResourceRequest, key: str, region: str, status: CallbackStatus
) -> CallbackRequest:
    return CallbackRequest(
        request_key=key,
        connection_id=req.ResourceProperties.ConnectionId[:64],
        org_id=None,
        request_type=req.RequestType,
        stack_id=req.StackId,
        request_id=req.RequestId,
        logical_resource_id=req.LogicalResourceId,
        physical_resource_id=req.PhysicalResourceId,
        response_url=req.ResponseURL,
        region=region,
        status=status,
        received_at=deps.clock(),
    )


def _stored(deps: CallbackDeps, req: CustomResourceRequest, key: str, region: str) -> CallbackRequest | None:
    """The request, stored by a conditional put (one write); a request seen before is read: a retry
    of one we could not finish (still RECEIVED) goes on, one further along is a duplicate (None)."""
    record = _record(deps, req, key, region, CallbackStatus.RECEIVED)
    if deps.callbacks.put_new(record):
        return record
    seen = deps.callbacks.get(key)
    return seen if seen is not None and seen.status is CallbackStatus.RECEIVED else None


def _reject(deps: CallbackDeps, req: CustomResourceRequest, key: str, region: str, reason: str) -> Outcome:
    stored = _stored(deps, req, key, region)
    if stored is None:
        return Outcome.DUPLICATE
    _answer(deps, stored, "FAILED", reason, rejected_physical_id(key))
    return Outcome.ANSWERED


def _stack_region(req: CustomResourceRequest) -> str | None:
    """Answers go to the response endpoint of the stack's own region."""
    match = STACK_ARN.match(req.StackId)
    return match.group(1) if match else None


def _create(
    deps: CallbackDeps, req: CustomResourceRequest, key: str, region: str, topic_region: str
) -> Outcome:
    """Checked against the connection first; then stored as DISPATCHED (a conditional put: one
    delivery wins) and the waiting execution resumed. A delivery that finds it DISPATCHED already
    resumes again: only one resume of a waiting token succeeds, so this is a duplicate unless the
    delivery that stored it stopped before resuming (a timeout), and then it is the one that does."""
    props = req.ResourceProperties
    if not CONNECTION_ID.match(props.ConnectionId):
        raise CallbackRejected("ConnectionId is missing or malformed")
    connection = _connection(deps, props.OrgId, props.ConnectionId)
    if connection is None:
        raise CallbackRejected(f"connection {props.ConnectionId} does not exist")
    _check_nonce(connection, props.Nonce, deps.clock())
    _check_origin(connection, req, topic_region)
    if not connection.task_token:
        # Not waiting yet, or never started (POST /accounts could not start it): starting it by its
        # name is a no-op for one that runs, and the redelivery of this request finds it waiting.
        remaining = max(1, int((connection.nonce_expires_at - deps.clock()).total_seconds()))
        deps.workflow.start(execution_name(connection.connection_id), workflow_input(connection, remaining))
        raise WaiterNotReady("the connection workflow is not waiting yet")
    output = {
        "request_key": key,
        "request_type": req.RequestType,
        "stack_id": req.StackId,
        "role_arn": props.RoleArn,
    }
    record = _record(deps, req, key, region, CallbackStatus.DISPATCHED)
    if not deps.callbacks.put_new(record):
        seen = deps.callbacks.get(key)
        if seen is None or seen.status is CallbackStatus.ANSWERED:
            return Outcome.DUPLICATE
        if not deps.workflow.resume(connection.task_token, output):
            return Outcome.DUPLICATE
        if seen.status is CallbackStatus.RECEIVED:
            deps.callbacks.set_status(key, CallbackStatus.DISPATCHED)
        return Outcome.DISPATCHED
    if not deps.workflow.resume(connection.task_token, output):
        reason = "the connection stopped waiting (expired or disconnected); create a new one"
        _answer(deps, record, "FAILED", reason, rejected_physical_id(key))
        return Outcome.ANSWERED
    return Outcome.DISPATCHED


def _update(
    deps: CallbackDeps, req: CustomResourceRequest, stored: CallbackRequest, topic_region: str
) -> Outcome:
    connection = _owned_connection(deps, req)
    if connection is None or connection.status not in (ConnectionStatus.CONNECTED, ConnectionStatus.FAILED):
        raise CallbackRejected("this stack does not hold a connection that can be re-verified")
    _check_origin(connection, req, topic_region)
    upgrade = _upgrade_version(connection, req, deps.clock())
    # An update is proven by re-verification itself: only a role that demands our ExternalId passes.
    deps.workflow.start(
        f"reverify-{connection.connection_id}-{stored.request_key[:16]}",
        {
            **workflow_input(connection, deps.connect_window_seconds),
            "mode": "reverify",
            "callback": {
                "request_key": stored.request_key,
                "request_type": req.RequestType,
                "stack_id": req.StackId,
                "role_arn": req.ResourceProperties.RoleArn,
                **({"template_version": upgrade} if upgrade else {}),
            },
        },
    )
    deps.callbacks.set_status(stored.request_key, CallbackStatus.DISPATCHED)
    return Outcome.DISPATCHED


def _upgrade_version(connection: Connection, req: CustomResourceRequest, now: datetime) -> str | None:
    """The template version an Update moves the connection to, or None when it keeps its version
    (any other update: a rollback, a parameter changed). A newer version counts only with the token
    of the connection's latest upgrade link, unexpired: the properties alone prove nothing, and a
    newer version without it is refused (CloudFormation rolls the stack back to what we recorded)."""
    props = req.ResourceProperties
    if not VERSION.match(props.TemplateVersion) or not VERSION.match(connection.template_version):
        return None  # not a version we issue: nothing to record, the re-verification decides
    if int(props.TemplateVersion) <= int(connection.template_version):
        return None  # the same (or an older stack's, e.g. a rollback): nothing to record
    how = f"ask stackpilot for a new one (POST /accounts/{connection.connection_id}/upgrade)"
    if not props.UpgradeToken:
        raise CallbackRejected(
            f"this template (v{props.TemplateVersion}) was not issued to upgrade this connection; {how}"
        )
    if connection.nonce_hash is None or not nonce_matches(connection.nonce_hash, props.UpgradeToken):
        raise CallbackRejected(f"this upgrade link was replaced or already used; {how}")
    if now >= connection.nonce_expires_at:
        raise CallbackRejected(f"this upgrade link expired; {how}")
    return props.TemplateVersion


def _delete(deps: CallbackDeps, req: CustomResourceRequest, stored: CallbackRequest) -> Outcome:
    connection = _owned_connection(deps, req)
    if connection is not None and connection.status is not ConnectionStatus.DISCONNECTED:
        disconnected = deps.connections.transition(
            connection,
            ConnectionStatus.DISCONNECTED,
            allowed_from=(ConnectionStatus.PENDING, ConnectionStatus.CONNECTED, ConnectionStatus.FAILED),
            audit=service_draft(
                org_id=connection.org_id,
                service="accounts-callback",
                action="account.disconnect",
                target=f"connection:{connection.connection_id}",
                time=deps.clock(),
                reason="the customer deleted the role stack",
            ),
            changes=ConnectionChanges(
                reason="the customer deleted the role stack",
                task_token=None,
                nonce_hash=None,
                updated_at=deps.clock(),
            ),
        )
        if disconnected:
            deps.events.publish(
                [
                    AccountDisconnected(
                        org_id=connection.org_id,
                        connection_id=connection.connection_id,
                        aws_account_id=connection.aws_account_id,
                        region=connection.region,
                        initiated_by="customer-stack",
                    )
                ]
            )
    # Deleting is always allowed to succeed: an unknown or foreign physical id is a no-op.
    _answer(deps, stored, "SUCCESS", "", req.PhysicalResourceId or rejected_physical_id(stored.request_key))
    return Outcome.ANSWERED


def _owned_connection(deps: CallbackDeps, req: CustomResourceRequest) -> Connection | None:
    """The connection this stack created, or None: the physical id alone proves nothing."""
    physical_id = req.PhysicalResourceId or ""
    if not CONNECTION_ID.match(physical_id):
        return None
    connection = _connection(deps, req.ResourceProperties.OrgId, physical_id)
    if connection is None or connection.stack_id is None:
        return None
    if not hmac.compare_digest(connection.stack_id, req.StackId):
        return None
    return connection


def _connection(deps: CallbackDeps, org_id: str, connection_id: str) -> Connection | None:
    """By its key when the template names the org (one consistent read), else through the index.
    The org id is as unauthenticated as the rest: a wrong one finds nothing, and the index decides."""
    found = deps.connections.get(org_id, connection_id) if ORG_ID.match(org_id) else None
    return found or deps.connections.find_by_id(connection_id)


def _check_nonce(connection: Connection, nonce: str, now: datetime) -> None:
    if connection.status is not ConnectionStatus.PENDING:
        raise CallbackRejected(
            f"connection {connection.connection_id} is {connection.status.value}, not PENDING"
        )
    if connection.nonce_hash is None:
        raise CallbackRejected("this template's nonce was already used; create a new connection")
    if not nonce_matches(connection.nonce_hash, nonce):
        raise CallbackRejected("the nonce does not match this connection's template")
    if now >= connection.nonce_expires_at:
        raise CallbackRejected("the nonce expired; create a new connection")


def _check_origin(connection: Connection, req: CustomResourceRequest, topic_region: str) -> None:
    props = req.ResourceProperties
    role = ROLE_ARN.match(props.RoleArn)
    stack = STACK_ARN.match(req.StackId)
    if role is None:
        raise CallbackRejected("RoleArn is not an IAM role ARN")
    if stack is None:
        raise CallbackRejected("StackId is not a CloudFormation stack ARN")
    stack_region, stack_account = stack.groups()
    accounts = {role.group(1), props.AccountId, stack_account}
    if accounts != {connection.aws_account_id}:
        raise CallbackRejected(
            f"the role, the stack and AccountId must all be in account {connection.aws_account_id}"
        )
    if {stack_region, props.Region, topic_region} != {connection.region}:
        raise CallbackRejected(f"the stack must be created in {connection.region}")


def _answer(deps: CallbackDeps, stored: CallbackRequest, status: str, reason: str, physical_id: str) -> None:
    body: dict[str, Any] = {
        "Status": status,
        "Reason": reason[:1000] or "OK",
        "PhysicalResourceId": physical_id,
        "StackId": stored.stack_id,
        "RequestId": stored.request_id,
        "LogicalResourceId": stored.logical_resource_id,
        "NoEcho": False,
        "Data": {},
    }
    try:
        deps.responder.send(stored.response_url, stored.region, body)
    except ResponseUrlRejected as refused:
        # Never fetched; the stack will time out on its own. The URL itself is not logged.
        log.warning("refused to answer a custom-resource request: %s", refused)
    deps.callbacks.set_status(stored.request_key, CallbackStatus.ANSWERED)
