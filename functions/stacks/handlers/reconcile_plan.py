"""reconcile_stacks / Plan: the groups (org, connection, region) that have stacks to sweep."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions import startup
from functions.shared.observability import logger
from functions.stacks.handlers import composition
from functions.stacks.logic import reconcile
from functions.stacks.models.workflow import PlanInput, PlanOutput

log = logger("stacks")
GROUPS = composition.stacks()


@log.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    PlanInput.model_validate(event)
    groups = reconcile.plan(GROUPS)
    log.info("Reconcile planned", extra={"groups": len(groups)})
    return PlanOutput.model_validate({"groups": groups}).model_dump(mode="json", by_alias=True)


startup.ready()  # INIT ends here
