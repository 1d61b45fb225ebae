"""Scheduled (EventBridge): re-check every connected account's role."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.accounts.dal import repository
from functions.accounts.integrations.role_probe import StsRoleProbe
from functions.accounts.logic.health import HealthDeps, sweep
from functions.accounts.settings import get_settings
from functions.shared.clock import now
from functions.shared.integrations import aws
from functions.shared.integrations.eventbridge import EventBridgePublisher
from functions.shared.observability import logger

log = logger("accounts")
_s = get_settings()
repository.configure_from(_s)
CONNECTIONS = repository.DynamoConnectionRepository()
DEPS = HealthDeps(
    connections=CONNECTIONS,
    probe=StsRoleProbe(aws.client("sts"), _s.customer_assumer_role_arn, _s.aws_region),
    events=EventBridgePublisher(aws.LazyClient("events"), _s.event_bus_name),
    clock=now,
)


@log.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    report = sweep(DEPS, CONNECTIONS.list_connected())
    log.info("health sweep done", extra=asdict(report))
    return asdict(report)
