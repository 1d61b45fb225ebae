"""provision_stack / delete_stack, StartChange: render, change set, execute (or a deletion's first phase)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions import startup
from functions.shared.observability import logger
from functions.stacks.handlers import composition
from functions.stacks.logic import steps
from functions.stacks.models.workflow import Operation

log = logger("stacks")
DEPS = composition.step_deps()


@log.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = Operation.model_validate(event)
    return steps.start_change(DEPS, task.org_id, task.stack_id, task.seq, task.connection_id).model_dump(
        mode="json", by_alias=True
    )


startup.ready()  # INIT ends here
