"""connect_account / AnswerCloudFormation: the customer's stack gets its answer."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.accounts.dal import repository
from functions.accounts.integrations.cfn_response import responder
from functions.accounts.logic.respond import RespondDeps, answer_cloudformation
from functions.accounts.settings import get_settings
from functions.shared.integrations import aws
from functions.shared.observability import logger

log = logger("accounts")
_s = get_settings()
repository.configure_from(_s)
DEPS = RespondDeps(
    connections=repository.DynamoConnectionRepository(),
    callbacks=repository.DynamoCallbackRepository(),
    responder=responder(_s.response_url_endpoint_override, aws.LazyClient("s3")),  # local cloud only
)


@log.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    answered, status = answer_cloudformation(
        DEPS, event["org_id"], event["connection_id"], event.get("state", {})
    )
    return {"answered": answered, "status": status.value}
