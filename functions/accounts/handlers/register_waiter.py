"""connect_account / AwaitCallback: keeps the task token so the customer's callback can resume us."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions import startup
from functions.accounts.handlers import composition
from functions.accounts.logic.verification import register_waiter
from functions.accounts.models.workflow import RegisterWaiterInput, RegisterWaiterOutput
from functions.shared.observability import logger

log = logger("accounts")
CONNECTIONS = composition.connections()


@log.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = RegisterWaiterInput.model_validate(event)
    # The token is a credential for this execution: it goes to the table, never to a log.
    register_waiter(CONNECTIONS, task.org_id, task.connection_id, task.task_token)
    return RegisterWaiterOutput(registered=True).model_dump(mode="json")


startup.ready()  # INIT ends here
