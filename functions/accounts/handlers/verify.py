"""connect_account / VerifyRole: assume the customer's role and probe its trust policy."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions import startup
from functions.accounts.handlers import composition
from functions.accounts.logic.verification import verify_role
from functions.accounts.models.workflow import VerifyRoleInput, VerifyRoleOutput
from functions.shared.observability import logger

log = logger("accounts")
DEPS = composition.verify_deps()


@log.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = VerifyRoleInput.model_validate(event)
    account = verify_role(DEPS, task.org_id, task.connection_id, task.role_arn)
    return VerifyRoleOutput(account_id=account).model_dump(mode="json")


startup.ready()  # INIT ends here
