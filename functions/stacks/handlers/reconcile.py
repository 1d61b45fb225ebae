"""reconcile_stacks's two task states (the workflow the schedule starts): Plan, then Sweep per group.

Input, output and history carry ids and counts only.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.shared.observability import logger
from functions.stacks.dal.repository import DynamoStackRepository
from functions.stacks.handlers.composition import deps
from functions.stacks.integrations.customer import AssumedCustomerAccess
from functions.stacks.logic import reconcile

log = logger("stacks")


@lru_cache
def _groups() -> DynamoStackRepository:
    deps()  # binds the tables
    return DynamoStackRepository()


def _listing() -> reconcile.StackListing:
    # The workflow's own customer access: its assumed-role clients are cached per connection.
    customer = deps().customer
    if not isinstance(customer, AssumedCustomerAccess):
        raise TypeError(f"the sweep lists stacks through AssumedCustomerAccess, not {type(customer)}")
    return customer


@log.inject_lambda_context(clear_state=True)
def plan(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    groups = reconcile.plan(_groups())
    log.info("Reconcile planned", extra={"groups": len(groups)})
    return {"groups": groups}


@log.inject_lambda_context(clear_state=True)
def sweep(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    group = reconcile.StackGroup(
        org_id=str(event["org_id"]), connection_id=str(event["connection_id"]), region=str(event["region"])
    )
    log.append_keys(org_id=group.org_id, connection_id=group.connection_id, region=group.region)
    result = reconcile.sweep(deps(), _groups(), _listing(), group)
    log.info("Group swept", extra=result.as_dict())
    return result.as_dict()
