"""provision_stack's task states: one small handler each, all thin over logic/lifecycle.py.

The workflow's input and history carry ids only (org, stack, operation number), never a template,
a secret, or a task token in the clear beyond the one Step Functions itself hands the waiter.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.shared.observability import logger
from functions.stacks.handlers.composition import deps
from functions.stacks.logic import lifecycle

log = logger("stacks")


@log.inject_lambda_context(clear_state=True)
def start_change(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return lifecycle.start_change(deps(), event["org_id"], event["stack_id"], int(event["seq"]))


@log.inject_lambda_context(clear_state=True)
def await_status(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # The token resumes this execution: it goes to the table, never to a log.
    lifecycle.register_wait(
        deps(), event["org_id"], event["stack_id"], int(event["seq"]), event["task_token"]
    )
    return {"registered": True}


@log.inject_lambda_context(clear_state=True)
def poll(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return lifecycle.poll(
        deps(),
        event["org_id"],
        event["stack_id"],
        int(event["seq"]),
        int(event["waited"]),
        int(event["wait_seconds"]),
        event.get("phase"),
    )


@log.inject_lambda_context(clear_state=True)
def finish(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    outcome = lifecycle.finish(
        deps(), event["org_id"], event["stack_id"], int(event["seq"]), event.get("error"), event.get("phase")
    )
    # delete_stack reads these to know whether a next phase waits (its ResultSelector needs them all).
    return {"continue": False, "wait_seconds": 0, "waited": 0, "phase": event.get("phase") or "", **outcome}


@log.inject_lambda_context(clear_state=True)
def status_event(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """A customer account's forwarded 'CloudFormation Stack Status Change' (EventBridge rule target)."""
    detail = event.get("detail") or {}
    status_details = detail.get("status-details") or {}
    outcome = lifecycle.on_status_event(
        deps(),
        account=str(event.get("account") or ""),
        region=str(event.get("region") or ""),
        cfn_stack_id=str(detail.get("stack-id") or ""),
        status=str(status_details.get("status") or ""),
        reason=status_details.get("status-reason"),
    )
    log.info("Stack status event", extra={"outcome": outcome, "status": status_details.get("status")})
    return {"outcome": outcome}
