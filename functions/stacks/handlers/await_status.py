"""provision_stack / delete_stack, AwaitStatus: keeps the task token a forwarded status event resumes."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions import startup
from functions.shared.observability import logger
from functions.stacks.handlers import composition
from functions.stacks.logic import steps
from functions.stacks.models.workflow import AwaitStatusInput, AwaitStatusOutput

log = logger("stacks")
DEPS = composition.step_deps()


@log.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = AwaitStatusInput.model_validate(event)
    # The token resumes this execution: it goes to the table, never to a log.
    steps.register_wait(DEPS, task.org_id, task.stack_id, task.seq, task.task_token)
    return AwaitStatusOutput(registered=True).model_dump(mode="json", by_alias=True)


startup.ready()  # INIT ends here
