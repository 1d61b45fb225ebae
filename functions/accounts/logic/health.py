"""The scheduled re-check: every connected account's role must still let us in, and only us."""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from functions.accounts.exceptions import AwsUnavailable, ConnectionRejected
from functions.accounts.logic.ports import Clock, ConnectionRepository, EventPublisher, RoleProbe
from functions.accounts.logic.verification import probe_role
from functions.accounts.models.connection import Connection, ConnectionChanges, ConnectionStatus, Health
from functions.accounts.models.events import AccountUnhealthy
from functions.shared.logic.auditing import service_draft


@dataclass(frozen=True)
class HealthDeps:
    connections: ConnectionRepository
    probe: RoleProbe
    events: EventPublisher
    clock: Clock


@dataclass
class HealthReport:
    checked: int = 0
    healthy: int = 0
    unhealthy: list[str] = field(default_factory=list)  # connection ids
    not_checked: list[str] = field(default_factory=list)  # our side failed: checked next time


def check_connection(deps: HealthDeps, connection: Connection) -> Health:
    """Records the result; emits AccountUnhealthy when a healthy connection turns unhealthy.

    Raises AwsUnavailable when our side fails: an outage of ours says nothing about the customer.
    """
    try:
        probe_role(deps.probe, connection, connection.role_arn)
        health, reason = Health.HEALTHY, None
    except ConnectionRejected as rejected:
        health, reason = Health.UNHEALTHY, str(rejected)
    now = deps.clock()
    changed = health is not connection.health
    audit = service_draft(
        org_id=connection.org_id,
        service="account-health",
        action="account.health",
        target=f"connection:{connection.connection_id}",
        time=now,
        result="succeeded" if health is Health.HEALTHY else "failed",
        reason=reason or "healthy",
    )
    recorded = deps.connections.transition(
        connection,
        ConnectionStatus.CONNECTED,
        allowed_from=(ConnectionStatus.CONNECTED,),  # disconnected meanwhile: nothing to record
        audit=audit if changed else None,  # a change of health is an outcome; a re-check is not
        changes=ConnectionChanges(health=health, health_reason=reason, health_checked_at=now),
    )
    if recorded and health is Health.UNHEALTHY and connection.health is not Health.UNHEALTHY:
        deps.events.publish(
            [
                AccountUnhealthy(
                    org_id=connection.org_id,
                    connection_id=connection.connection_id,
                    aws_account_id=connection.aws_account_id,
                    region=connection.region,
                    reason=reason or "unhealthy",
                )
            ]
        )
    return health


def sweep(deps: HealthDeps, connections: Iterable[Connection], concurrency: int = 8) -> HealthReport:
    """Checks every connection, ``concurrency`` at a time (each check is a handful of STS calls)."""
    report = HealthReport()

    def one(connection: Connection) -> tuple[str, Health | None]:
        try:
            return connection.connection_id, check_connection(deps, connection)
        except AwsUnavailable:
            return connection.connection_id, None

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        for connection_id, health in pool.map(one, connections):
            report.checked += 1
            if health is Health.HEALTHY:
                report.healthy += 1
            elif health is Health.UNHEALTHY:
                report.unhealthy.append(connection_id)
            else:
                report.not_checked.append(connection_id)
    return report
