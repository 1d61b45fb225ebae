"""The customer's side of onboarding, for the workflow tests and the bench: deploying a quick-create
link's role stack in their account (by default ``CUSTOMER``), as the customer would, and waiting until
the workflow waits for them."""

from __future__ import annotations

import time

from infra.local import customer
from infra.local.runtime import LocalStackpilot

CUSTOMER = "111111111111"


def deploy(
    local: LocalStackpilot, url: str, account: str = CUSTOMER, template: str | None = None
) -> customer.DeployResult:
    link = customer.parse_quick_create_url(url)
    cfn = local.cloud.customer_client("cloudformation", account, link.region)
    return customer.deploy(cfn, link, timeout_seconds=60, template_body=template)


def awaiting_callback(local: LocalStackpilot, connection_id: str, timeout: float = 20) -> None:
    """Until the connect_account execution has registered its task token (AwaitCallback submitted)."""
    sfn = local.cloud.client("stepfunctions")
    arn = local.cloud.names.execution_arn("connect-account", connection_id)
    deadline = time.monotonic() + timeout
    while not any(
        e["type"] == "TaskSubmitted" for e in sfn.get_execution_history(executionArn=arn)["events"]
    ):
        assert time.monotonic() < deadline, "the workflow never waited for the callback"
        time.sleep(0.05)


def as_record_from_before_v3(local: LocalStackpilot, org_id: str, connection_id: str) -> None:
    """The connection's item as stackpilot stored it before template versions were kept (no
    ``template_version``: every such connection's stack ran v2)."""
    local.cloud.client("dynamodb").update_item(
        TableName=local.cloud.names.table("accounts"),
        Key={"org_id": {"S": org_id}, "connection_id": {"S": connection_id}},
        UpdateExpression="REMOVE template_version",
        ConditionExpression="attribute_exists(connection_id)",
    )
