"""connect_account / AnswerCloudFormation: the customer's stack gets its answer."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions import startup
from functions.accounts.handlers import composition
from functions.accounts.logic.respond import answer_cloudformation
from functions.accounts.models.workflow import RespondInput, RespondOutput
from functions.shared.observability import logger

log = logger("accounts")
DEPS = composition.respond_deps()


@log.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = RespondInput.model_validate(event)
    answered, status = answer_cloudformation(DEPS, task.org_id, task.connection_id, task.state)
    return RespondOutput(answered=answered, status=status.value).model_dump(mode="json")


startup.ready()  # INIT ends here
