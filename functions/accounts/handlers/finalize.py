"""connect_account / Record*: the outcome goes to the table and the bus."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.accounts.dal import repository
from functions.accounts.logic.outcome import OutcomeDeps, record_outcome
from functions.accounts.settings import get_settings
from functions.shared.clock import now
from functions.shared.integrations import aws
from functions.shared.integrations.eventbridge import EventBridgePublisher
from functions.shared.observability import logger

log = logger("accounts")
_s = get_settings()
repository.configure_from(_s)
DEPS = OutcomeDeps(
    connections=repository.DynamoConnectionRepository(),
    events=EventBridgePublisher(aws.client("events"), _s.event_bus_name),
    clock=now,
    connect_window_seconds=_s.connect_window_seconds,
)


@log.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    status = record_outcome(
        DEPS,
        event["org_id"],
        event["connection_id"],
        event["outcome"],
        callback=event.get("callback"),
        error=event.get("error"),
    )
    log.info("connection outcome recorded", extra={"status": status.value})
    return {"status": status.value}
