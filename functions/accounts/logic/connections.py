"""Use cases behind the accounts API: connect, list, read, disconnect."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from functions.accounts.exceptions import (
    AccountClaimed,
    ConnectionConflict,
    ConnectionNotFound,
    InvalidRequest,
)
from functions.accounts.logic.execution import execution_name, workflow_input
from functions.accounts.logic.nonce import hash_nonce, new_nonce
from functions.accounts.logic.ports import (
    Clock,
    ConnectionRepository,
    EventPublisher,
    TemplateStore,
    Workflow,
)
from functions.accounts.models.api import ConnectAccountRequest, ConnectionView
from functions.accounts.models.connection import (
    LIVE_STATUSES,
    Connection,
    ConnectionChanges,
    ConnectionStatus,
)
from functions.accounts.models.events import AccountDisconnected
from functions.shared.logic.auditing import RequestInfo, draft
from functions.shared.logic.customer_names import (
    STACK_NAME_PREFIX,
    TEMPLATE_VERSION,
    onboarding_stack_name,
    quick_create_url,
)
from functions.shared.models.audit import AuditDraft
from functions.shared.models.ids import new_connection_id
from functions.shared.models.principal import Principal, Role, require_role

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConnectConfig:
    service_account_id: str
    supported_regions: tuple[str, ...]
    assumer_role_arn: str
    callback_topic_name: str
    event_bus_name: str
    connect_window_seconds: int
    home_region: str  # where the bus lives; customers' status-forwarding rules target it cross-region


@dataclass(frozen=True)
class AccountsApiDeps:
    connections: ConnectionRepository
    templates: TemplateStore
    workflow: Workflow
    events: EventPublisher
    clock: Clock
    config: ConnectConfig


def connect_account(
    deps: AccountsApiDeps, principal: Principal, request: ConnectAccountRequest, info: RequestInfo
) -> ConnectionView:
    require_role(principal, Role.ADMIN, "connecting an AWS account")
    cfg = deps.config
    if request.region not in cfg.supported_regions:
        raise InvalidRequest("region", f"not supported; choose one of {', '.join(cfg.supported_regions)}")
    now = deps.clock()
    connection_id = new_connection_id()
    external_id = secrets.token_urlsafe(32)  # server-generated, never accepted from a client
    nonce = new_nonce()
    template_key = f"connections/{principal.org_id}/{connection_id}/role-v{TEMPLATE_VERSION}.json"
    template = render_template(
        cfg,
        org_id=principal.org_id,
        connection_id=connection_id,
        external_id=external_id,
        nonce=nonce,
        region=request.region,
    )
    deps.templates.put(template_key, template)
    connection = Connection(
        org_id=principal.org_id,
        connection_id=connection_id,
        aws_account_id=request.aws_account_id,
        region=request.region,
        status=ConnectionStatus.PENDING,
        external_id=external_id,
        nonce_hash=hash_nonce(nonce),
        nonce_expires_at=now + timedelta(seconds=cfg.connect_window_seconds),
        template_key=template_key,
        created_at=now,
        updated_at=now,
        created_by=principal.user_id,
        execution_arn=deps.workflow.execution_arn(execution_name(connection_id)),
        template_version=TEMPLATE_VERSION,
    )
    audit = draft(
        principal,
        info,
        action="account.connect",
        target=f"connection:{connection_id}",
        time=now,
        reason=f"account {request.aws_account_id} in {request.region}",
    )
    _create(deps, connection, audit)
    try:
        deps.workflow.start(
            execution_name(connection_id), workflow_input(connection, cfg.connect_window_seconds)
        )
    except Exception:
        # The connection stands, recorded with its one audit entry, and its link works: the
        # customer's callback starts this same execution (by name) when it finds nobody waiting.
        log.exception("the connect workflow could not start; the callback will start it")
    return _view(deps, connection)


def render_template(
    cfg: ConnectConfig,
    *,
    org_id: str,
    connection_id: str,
    external_id: str,
    nonce: str,
    region: str,
    upgrade_token: str = "",
) -> str:
    """The onboarding template of the latest version for this connection (``upgrade_token``: the
    one an upgrade of its stack presents in its Update)."""
    # Only connecting and upgrading render a template: reads never import troposphere (~60 ms).
    from functions.accounts.logic.role_template import RoleTemplateInput, render_role_template

    return render_role_template(
        RoleTemplateInput(
            connection_id=connection_id,
            external_id=external_id,
            nonce=nonce,
            region=region,
            service_account_id=cfg.service_account_id,
            assumer_role_arn=cfg.assumer_role_arn,
            callback_topic_arn=f"arn:aws:sns:{region}:{cfg.service_account_id}:{cfg.callback_topic_name}",
            event_bus_arn=f"arn:aws:events:{cfg.home_region}:{cfg.service_account_id}:event-bus/{cfg.event_bus_name}",
            stack_name_prefix=STACK_NAME_PREFIX,
            org_id=org_id,
            upgrade_token=upgrade_token,
        )
    )


def _create(deps: AccountsApiDeps, connection: Connection, audit: AuditDraft) -> None:
    """Writes the connection with its claim on the account and region; a live connection of the org
    holding them already is a 409 naming it. A claim let go between our write and our read of its
    holder is taken on a second try."""
    for _ in range(2):
        try:
            deps.connections.create(connection, audit)
            return
        except AccountClaimed as claimed:
            holder = deps.connections.get(connection.org_id, claimed.holder) if claimed.holder else None
        if holder is not None and holder.status in LIVE_STATUSES:
            raise ConnectionConflict(
                f"account {connection.aws_account_id} in {connection.region} is already "
                f"{holder.status.value.lower()} as {holder.connection_id}"
            )
    raise ConnectionConflict(
        f"account {connection.aws_account_id} in {connection.region} is being connected by another "
        "request right now; try again"
    )


def list_connections(deps: AccountsApiDeps, principal: Principal) -> list[ConnectionView]:
    items = deps.connections.list_for_org(principal.org_id)
    return [_view(deps, c) for c in sorted(items, key=lambda c: c.created_at, reverse=True)]


def get_connection(deps: AccountsApiDeps, principal: Principal, connection_id: str) -> ConnectionView:
    return _view(deps, _load(deps, principal, connection_id))


def disconnect(
    deps: AccountsApiDeps, principal: Principal, connection_id: str, info: RequestInfo
) -> ConnectionView:
    require_role(principal, Role.ADMIN, "disconnecting an AWS account")
    connection = _load(deps, principal, connection_id)
    if connection.status is ConnectionStatus.DISCONNECTED:
        return _view(deps, connection)
    now = deps.clock()
    changes = ConnectionChanges(
        reason=f"disconnected by {principal.actor}; delete the customer stack to remove the role",
        nonce_hash=None,
        task_token=None,
        updated_at=now,
    )
    if not deps.connections.transition(
        connection,
        ConnectionStatus.DISCONNECTED,
        allowed_from=(ConnectionStatus.PENDING, ConnectionStatus.CONNECTED, ConnectionStatus.FAILED),
        audit=draft(
            principal, info, action="account.disconnect", target=f"connection:{connection_id}", time=now
        ),
        changes=changes,
    ):  # changed under us: report what it is now
        return _view(deps, _load(deps, principal, connection_id))
    updated = connection.changed(ConnectionStatus.DISCONNECTED, changes)
    if connection.status is ConnectionStatus.PENDING and connection.execution_arn:
        deps.workflow.stop(connection.execution_arn, "connection disconnected by a user")
    deps.events.publish(
        [
            AccountDisconnected(
                org_id=updated.org_id,
                connection_id=updated.connection_id,
                aws_account_id=updated.aws_account_id,
                region=updated.region,
                initiated_by=f"user:{principal.user_id}",
            )
        ]
    )
    return _view(deps, updated)


def _load(deps: AccountsApiDeps, principal: Principal, connection_id: str) -> Connection:
    # Keyed by the principal's org: another org's connection is indistinguishable from none.
    connection = deps.connections.get(principal.org_id, connection_id)
    if connection is None:
        raise ConnectionNotFound(f"connection {connection_id} not found")
    return connection


def _view(deps: AccountsApiDeps, connection: Connection) -> ConnectionView:
    url: str | None = None
    expires_at: datetime | None = None
    if connection.status is ConnectionStatus.PENDING:
        expires_at = connection.nonce_expires_at
        remaining = int((expires_at - deps.clock()).total_seconds())
        if remaining > 0:
            url = quick_create_url(
                region=connection.region,
                template_url=deps.templates.presigned_url(connection.template_key, remaining),
                stack_name=onboarding_stack_name(connection.connection_id),
                # The nonce travels only inside the private template (a parameter default).
                parameters={"ConnectionId": connection.connection_id, "ExternalId": connection.external_id},
            )
    return ConnectionView(
        connection_id=connection.connection_id,
        aws_account_id=connection.aws_account_id,
        region=connection.region,
        status=connection.status,
        reason=connection.reason,
        role_arn=connection.role_arn,
        created_at=connection.created_at,
        updated_at=connection.updated_at,
        connected_at=connection.connected_at,
        quick_create_url=url,
        expires_at=expires_at,
        health=connection.health,
        health_reason=connection.health_reason,
        health_checked_at=connection.health_checked_at,
        template_version=connection.template_version,
        latest_template_version=TEMPLATE_VERSION,
        supports_releases=connection.supports_releases,
    )
