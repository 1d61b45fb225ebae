"""Upgrading a connection's onboarding stack to the latest template, end to end in the local cloud:
a v2 connection, POST /accounts/{id}/upgrade, the customer's update, the connection on v3."""

from __future__ import annotations

import json

import pytest

from infra.local import customer
from infra.local.runtime import LocalStackpilot
from tests.workflows.client import Api
from tests.workflows.onboarding import as_record_from_before_v3, deploy
from tests.workflows.test_connect_account import template_of

pytestmark = [pytest.mark.workflow, pytest.mark.xdist_group("local-cloud")]

ACCOUNT = "121212121212"
RELEASE_STATEMENTS = {"RunStackpilotBuilds", "UploadBuildSources", "ReadBuiltImages", "ReadBuildLogs"}


def v2_template(local: LocalStackpilot, quick_create_url: str) -> str:
    """The template this connection would have got before v3: no build rights, no build rule."""
    template = template_of(local, quick_create_url)
    del template["Resources"]["BuildForwardingRule"]
    (policy,) = template["Resources"]["DeployRole"]["Properties"]["Policies"]
    document = policy["PolicyDocument"]
    document["Statement"] = [s for s in document["Statement"] if s["Sid"] not in RELEASE_STATEMENTS]
    template["Resources"]["StackpilotConnection"]["Properties"]["TemplateVersion"] = "2"
    return json.dumps(template)


def deploy_policy(local: LocalStackpilot, stack_id: str) -> set[str]:
    """The statement ids of the deploy role's policy in the template the customer's stack runs (the
    emulator's IAM keeps a role's first inline policy through a stack update; AWS replaces it)."""
    body = local.cloud.customer_client("cloudformation", ACCOUNT).get_template(StackName=stack_id)[
        "TemplateBody"
    ]
    template = body if isinstance(body, dict) else json.loads(body)
    (policy,) = template["Resources"]["DeployRole"]["Properties"]["Policies"]
    return {s["Sid"] for s in policy["PolicyDocument"]["Statement"]}


def update(local: LocalStackpilot, console_url: str) -> customer.DeployResult:
    link = customer.parse_update_url(console_url)
    assert link.account == ACCOUNT
    cfn = local.cloud.customer_client("cloudformation", link.account, link.region)
    return customer.update(cfn, link, timeout_seconds=60)


def test_a_v2_connection_is_upgraded_by_the_customers_update(stackpilot: LocalStackpilot) -> None:
    admin = Api(stackpilot, org_id="org_upgrading", role="admin")
    # GIVEN a connection made before v3: its stack runs the v2 template, its record has no version
    created = admin.request("POST", "/accounts", {"aws_account_id": ACCOUNT, "region": "us-east-1"}).body
    connection_id = created["connection_id"]
    result = deploy(
        stackpilot,
        created["quick_create_url"],
        ACCOUNT,
        template=v2_template(stackpilot, created["quick_create_url"]),
    )
    assert result.status == "CREATE_COMPLETE", result
    connected = admin.wait_for_status(connection_id, {"CONNECTED", "FAILED"})
    assert connected["status"] == "CONNECTED", connected
    as_record_from_before_v3(stackpilot, "org_upgrading", connection_id)
    before = admin.request("GET", f"/accounts/{connection_id}").body
    assert (before["template_version"], before["latest_template_version"], before["supports_releases"]) == (
        "2",
        "3",
        False,
    )
    assert not RELEASE_STATEMENTS & deploy_policy(stackpilot, result.stack_id)
    # AND a contributor may not ask for the upgrade, another org does not even see the connection
    contributor = Api(stackpilot, org_id="org_upgrading", role="contributor")
    assert contributor.request("POST", f"/accounts/{connection_id}/upgrade").status == 403
    stranger = Api(stackpilot, org_id="org_not_upgrading", role="owner")
    assert stranger.request("POST", f"/accounts/{connection_id}/upgrade").status == 404

    # WHEN an admin asks twice, and the customer first runs the older (replaced) link
    replaced = admin.request("POST", f"/accounts/{connection_id}/upgrade")
    assert replaced.status == 200, replaced
    latest = admin.request("POST", f"/accounts/{connection_id}/upgrade").body
    assert latest["stack_id"] == result.stack_id and latest["cli_command"].startswith("aws cloudformation")
    refused = update(stackpilot, replaced.body["console_url"])
    # THEN that update is refused and rolled back; the connection keeps v2 and stays usable
    assert refused.status == "UPDATE_ROLLBACK_COMPLETE", refused
    assert "replaced or already used" in refused.reason
    kept = admin.wait_for_status(connection_id, {"CONNECTED"})
    assert (kept["status"], kept["template_version"]) == ("CONNECTED", "2")

    # WHEN the customer runs the latest link
    updated = update(stackpilot, latest["console_url"])
    # THEN the stack updates, the role re-verified, and the connection shows v3
    assert updated.status == "UPDATE_COMPLETE", updated
    after = admin.wait_for_status(connection_id, {"CONNECTED", "FAILED"})
    assert (after["status"], after["template_version"], after["supports_releases"]) == (
        "CONNECTED",
        "3",
        True,
    )
    assert deploy_policy(stackpilot, result.stack_id) >= RELEASE_STATEMENTS
    rules = stackpilot.cloud.customer_client("events", ACCOUNT).list_rules()["Rules"]
    assert any(r["Name"].startswith("stackpilot-builds-") for r in rules)
    # AND it is still the one connection, and asking again is a conflict
    items = admin.request("GET", "/accounts").body["items"]
    assert [c["connection_id"] for c in items] == [connection_id]
    again = admin.request("POST", f"/accounts/{connection_id}/upgrade")
    assert again.status == 409 and "already runs the latest" in json.dumps(again.body)
    # AND each ask is in the audit log
    audit = admin.request("GET", "/audit").body["items"]
    assert [e["result"] for e in audit if e["action"] == "account.upgrade"].count("succeeded") == 2
