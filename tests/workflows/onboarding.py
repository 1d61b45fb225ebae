"""The customer's side of onboarding, for the workflow tests: deploying a quick-create link's role
stack in their account (by default ``CUSTOMER``), as the customer would."""

from __future__ import annotations

from infra.local import customer
from infra.local.runtime import LocalStackpilot

CUSTOMER = "111111111111"


def deploy(
    local: LocalStackpilot, url: str, account: str = CUSTOMER, template: str | None = None
) -> customer.DeployResult:
    link = customer.parse_quick_create_url(url)
    cfn = local.cloud.customer_client("cloudformation", account, link.region)
    return customer.deploy(cfn, link, timeout_seconds=60, template_body=template)
