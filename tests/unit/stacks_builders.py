"""Builders shared by the stacks unit tests: a stack in a given state, and ListStacks' line for it."""

from __future__ import annotations

from datetime import UTC, datetime

from functions.stacks.logic.ports import StackGroup
from functions.stacks.models.customer import StackSummary
from functions.stacks.models.spec import StackSpec
from functions.stacks.models.stack import Stack, StackStatus
from tests.fakes.stacks import ACCOUNT, REGION

ORG = "org_reconcile_unit"
CONN = "conn_" + "r" * 26
GROUP = StackGroup(ORG, CONN, REGION)
T0 = datetime(2026, 11, 23, 11, 0, tzinfo=UTC)


def cfn_id(name: str, account: str = ACCOUNT) -> str:
    return f"arn:aws:cloudformation:{REGION}:{account}:stack/{name}/{name}-0000"


def stack(
    name: str,
    status: StackStatus = StackStatus.READY,
    cfn_status: str | None = "CREATE_COMPLETE",
    *,
    with_id: bool = True,
    wait_token: str | None = None,
    connection_id: str = CONN,
    region: str = REGION,
    org_id: str = ORG,
) -> Stack:
    cfn_name = f"stackpilot-{name}-dev"
    return Stack(
        org_id=org_id,
        stack_id=f"stk_{name}",
        connection_id=connection_id,
        aws_account_id=ACCOUNT,
        region=region,
        name=name,
        stage="dev",
        cfn_stack_name=cfn_name,
        spec=StackSpec.model_validate(
            {
                "connection_id": CONN,  # the spec as asked; the record's connection_id is what counts
                "region": region,
                "name": f"s-{name}".lower().replace("_", "-"),  # a valid name (the record's name counts)
                "stage": "dev",
                "container": {"image": "public.ecr.aws/nginx/nginx:1.27"},
            }
        ),
        status=status,
        operation="create",
        cfn_stack_id=cfn_id(cfn_name) if with_id else None,
        cfn_status=cfn_status,
        wait_token=wait_token,
        created_by="user:alice",
        created_at=T0,
        updated_at=T0,
        status_changed_at=T0,
    )


def listed(s: Stack, status: str, reason: str | None = None) -> StackSummary:
    return StackSummary(
        stack_id=s.cfn_stack_id or cfn_id(s.cfn_stack_name),
        name=s.cfn_stack_name,
        status=status,
        reason=reason,
    )
