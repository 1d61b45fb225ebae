"""reconcile_stacks / SweepGroup: one account and region listed once, every difference recorded.
Input, output and history carry ids and counts only."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions import startup
from functions.shared.observability import logger
from functions.stacks.handlers import composition
from functions.stacks.logic import reconcile
from functions.stacks.logic.ports import StackGroup
from functions.stacks.models.workflow import StackGroupItem, SweepOutput

log = logger("stacks")
DEPS = composition.reconcile_deps()


@log.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = StackGroupItem.model_validate(event)
    group = StackGroup(org_id=task.org_id, connection_id=task.connection_id, region=task.region)
    log.append_keys(org_id=group.org_id, connection_id=group.connection_id, region=group.region)
    result = reconcile.sweep(DEPS, group)
    log.info("Group swept", extra=result.as_dict())
    return SweepOutput.model_validate(result.as_dict()).model_dump(mode="json", by_alias=True)


startup.ready()  # INIT ends here
