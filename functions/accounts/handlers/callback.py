"""SNS subscriber: CloudFormation custom-resource requests from customers' role stacks."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from functions import startup
from functions.accounts.handlers import composition
from functions.accounts.logic.callback import handle_request
from functions.accounts.models.callback import CustomResourceRequest
from functions.shared.observability import logger

log = logger("accounts")
DEPS = composition.callback_deps()


@log.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    outcomes = []
    for record in event.get("Records", []):
        sns = record.get("Sns", {})
        region = str(sns.get("TopicArn", "")).split(":")[3:4] or [""]
        try:
            request = CustomResourceRequest.model_validate(json.loads(sns.get("Message") or "null"))
        except (ValueError, ValidationError) as exc:
            # Without a well-formed request there is nobody to answer; never echo the message.
            log.warning("dropped a malformed callback message", extra={"errors": _fields(exc)})
            outcomes.append("MALFORMED")
            continue
        log.append_keys(request_type=request.RequestType, logical_resource_id=request.LogicalResourceId)
        outcome = handle_request(DEPS, request, region[0])
        log.info("callback handled", extra={"outcome": outcome.value})
        outcomes.append(outcome.value)
    return {"outcomes": outcomes}


def _fields(exc: Exception) -> list[str]:
    if isinstance(exc, ValidationError):
        return [".".join(str(p) for p in err["loc"]) for err in exc.errors()]
    return ["Message"]


startup.ready()  # INIT ends here
