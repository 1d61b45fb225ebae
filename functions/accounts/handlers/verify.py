"""connect_account / VerifyRole: assume the customer's role and probe its trust policy."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.accounts.dal import repository
from functions.accounts.integrations.role_probe import StsRoleProbe
from functions.accounts.logic.verification import VerifyDeps, verify_role
from functions.accounts.settings import get_settings
from functions.shared.integrations import aws
from functions.shared.observability import logger

log = logger("accounts")
_s = get_settings()
repository.configure_from(_s)
DEPS = VerifyDeps(
    connections=repository.DynamoConnectionRepository(),
    probe=StsRoleProbe(aws.client("sts"), _s.customer_assumer_role_arn, _s.aws_region),
)


@log.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    account = verify_role(DEPS, event["org_id"], event["connection_id"], event.get("role_arn"))
    return {"account_id": account}
