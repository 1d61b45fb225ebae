"""A customer account's forwarded 'CloudFormation Stack Status Change' (an EventBridge rule target):
recorded, and the waiting workflow resumed once the stack has settled."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions import startup
from functions.shared.observability import logger
from functions.stacks.handlers import composition
from functions.stacks.logic import account_status

log = logger("stacks")
DEPS = composition.status_deps()


@log.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    detail = event.get("detail") or {}
    status_details = detail.get("status-details") or {}
    outcome = account_status.on_status_event(
        DEPS,
        account=str(event.get("account") or ""),
        region=str(event.get("region") or ""),
        cfn_stack_id=str(detail.get("stack-id") or ""),
        status=str(status_details.get("status") or ""),
        reason=status_details.get("status-reason"),
    )
    log.info("Stack status event", extra={"outcome": outcome, "status": status_details.get("status")})
    return {"outcome": outcome}


startup.ready()  # INIT ends here
