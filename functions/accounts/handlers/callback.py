"""SNS subscriber: CloudFormation custom-resource requests from customers' role stacks."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from functions.accounts.dal import repository
from functions.accounts.integrations.cfn_response import responder
from functions.accounts.integrations.workflow import StepFunctionsWorkflow
from functions.accounts.logic.callback import CallbackDeps, handle_request
from functions.accounts.models.callback import CustomResourceRequest
from functions.accounts.settings import get_settings
from functions.shared.clock import now
from functions.shared.integrations import aws
from functions.shared.integrations.eventbridge import EventBridgePublisher
from functions.shared.observability import logger

log = logger("accounts")


def _deps() -> CallbackDeps:
    s = get_settings()
    repository.configure_from(s)
    return CallbackDeps(
        connections=repository.DynamoConnectionRepository(),
        callbacks=repository.DynamoCallbackRepository(),
        workflow=StepFunctionsWorkflow(aws.client("stepfunctions"), s.connect_account_state_machine_arn),
        responder=responder(s.response_url_endpoint_override, aws.LazyClient("s3")),
        events=EventBridgePublisher(aws.LazyClient("events"), s.event_bus_name),  # Delete only
        clock=now,
        supported_regions=s.supported_regions,
        connect_window_seconds=s.connect_window_seconds,
    )


DEPS = _deps()


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
