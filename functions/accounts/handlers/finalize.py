"""connect_account / Record*: the outcome goes to the table and the bus."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions import startup
from functions.accounts.handlers import composition
from functions.accounts.logic.outcome import record_outcome
from functions.accounts.models.workflow import RecordOutcomeInput, RecordOutcomeOutput
from functions.shared.observability import logger

log = logger("accounts")
DEPS = composition.outcome_deps()


@log.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = RecordOutcomeInput.model_validate(event)
    recorded = record_outcome(
        DEPS,
        task.org_id,
        task.connection_id,
        task.outcome,
        callback=task.callback,
        error=task.error,
        aws_account_id=task.aws_account_id,
        region=task.region,
    )
    log.info("connection outcome recorded", extra={"status": recorded.status.value})
    return RecordOutcomeOutput(status=recorded.status.value, reason=recorded.reason).model_dump(mode="json")


startup.ready()  # INIT ends here
