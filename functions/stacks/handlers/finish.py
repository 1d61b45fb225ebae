"""provision_stack / delete_stack, Finish and RecordFailure: how the operation ended, recorded."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions import startup
from functions.shared.observability import logger
from functions.stacks.handlers import composition
from functions.stacks.logic import steps
from functions.stacks.models.workflow import FinishInput

log = logger("stacks")
DEPS = composition.step_deps()


@log.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = FinishInput.model_validate(event)
    outcome = steps.finish(
        DEPS, task.org_id, task.stack_id, task.seq, task.error, task.phase, task.connection_id
    )
    # delete_stack reads them all to know whether a next phase waits.
    return outcome.model_dump(mode="json", by_alias=True)


startup.ready()  # INIT ends here
