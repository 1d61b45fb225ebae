"""connect_account / AnswerCloudFormation: the customer's stack gets its answer."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.accounts.handlers import composition
from functions.accounts.logic.respond import answer_cloudformation
from functions.shared.observability import logger

log = logger("accounts")
DEPS = composition.respond_deps()


@log.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    answered, status = answer_cloudformation(
        DEPS, event["org_id"], event["connection_id"], event.get("state", {})
    )
    return {"answered": answered, "status": status.value}
