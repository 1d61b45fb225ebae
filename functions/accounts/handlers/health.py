"""Scheduled (EventBridge): re-check every connected account's role."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions import startup
from functions.accounts.handlers import composition
from functions.accounts.logic.health import sweep
from functions.shared.observability import logger

log = logger("accounts")
DEPS = composition.health_deps()


@log.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    report = sweep(DEPS, DEPS.connections.list_connected())
    log.info("health sweep done", extra=asdict(report))
    return asdict(report)


startup.ready()  # INIT ends here
