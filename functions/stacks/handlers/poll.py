"""provision_stack / delete_stack, Poll: no event came in time, so look at the stack's status."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions import startup
from functions.shared.observability import logger
from functions.stacks.handlers import composition
from functions.stacks.logic import steps
from functions.stacks.models.workflow import PollInput

log = logger("stacks")
DEPS = composition.step_deps()


@log.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = PollInput.model_validate(event)
    done = steps.poll(
        DEPS,
        task.org_id,
        task.stack_id,
        task.seq,
        task.waited,
        task.wait_seconds,
        task.phase,
        task.connection_id,
    )
    return done.model_dump(mode="json", by_alias=True)


startup.ready()  # INIT ends here
