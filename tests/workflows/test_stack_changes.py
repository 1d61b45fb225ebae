"""A stack's life after creation, end to end in the local cloud: secret env values written straight
into the customer's Secrets Manager, a change previewed then made, a deletion (the database's
protection turned off first), and a failure shown with its resource and reason."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.local import patches
from infra.local.runtime import LocalStackpilot
from tests.workflows.client import Api
from tests.workflows.stack_support import connected_account, spec, wait_settled

pytestmark = [pytest.mark.workflow, pytest.mark.xdist_group("local-cloud")]

CUSTOMER = "161616161616"
ORG = "org_stack_changes"
SECRET = "s3cr3t-value-never-kept"


@pytest.fixture(scope="module")
def connected(stackpilot: LocalStackpilot) -> tuple[Api, str]:
    _, connection_id = connected_account(stackpilot, ORG, CUSTOMER)
    return Api(stackpilot, org_id=ORG, role="contributor"), connection_id


def _ready(api: Api, body: dict[str, Any]) -> dict[str, Any]:
    created = api.request("POST", "/stacks", body)
    assert created.status == 202, created
    stack = wait_settled(api, created.body["stack_id"])
    assert stack["status"] == "READY", (stack["reason"], stack["failure"])
    return stack


def _audit(stackpilot: LocalStackpilot) -> list[dict[str, Any]]:
    owner = Api(stackpilot, org_id=ORG, role="owner")
    return list(owner.request("GET", "/audit/export").body["entries"])


def test_secret_env_values_go_into_the_customers_secrets_manager_and_nowhere_else(
    stackpilot: LocalStackpilot, connected: tuple[Api, str]
) -> None:
    api, connection_id = connected
    body = spec(connection_id, name="vault", database=None)
    body["container"] = dict(body["container"], secret_env={"API_TOKEN": SECRET}, env={"MODE": "x"})
    # WHEN a stack is created with a secret env value
    stack = _ready(api, body)
    # THEN the customer's Secrets Manager holds it, under the stack's name
    sm = stackpilot.cloud.customer_client("secretsmanager", CUSTOMER, "us-east-1")
    value = sm.get_secret_value(SecretId="stackpilot-vault-dev/API_TOKEN")
    assert value["SecretString"] == SECRET
    # AND the task definition references that secret by ARN, never by value
    template = api.request("GET", f"/stacks/{stack['stack_id']}/template").body
    task = next(r for r in template["Resources"].values() if r["Type"] == "AWS::ECS::TaskDefinition")
    secrets = task["Properties"]["ContainerDefinitions"][0]["Secrets"]
    assert {"Name": "API_TOKEN", "ValueFrom": value["ARN"]} in secrets
    # AND stackpilot kept no plaintext: not in the stack, its history, its template or the audit log
    seen = json.dumps(
        [
            api.request("GET", f"/stacks/{stack['stack_id']}").body,
            api.request("GET", f"/stacks/{stack['stack_id']}/events").body,
            template,
            _audit(stackpilot),
        ]
    )
    assert SECRET not in seen
    assert stack["spec"]["container"]["secret_env"] == {"API_TOKEN": "**********"}
    # AND a change of the value goes straight to the customer's account too
    changed = api.request(
        "PATCH", f"/stacks/{stack['stack_id']}", {"container": {"secret_env": {"API_TOKEN": "rotated-value"}}}
    )
    assert changed.status == 202, changed
    assert wait_settled(api, stack["stack_id"])["status"] == "READY"
    assert sm.get_secret_value(SecretId=value["ARN"])["SecretString"] == "rotated-value"
    # AND deleting the stack schedules the secret's deletion (recoverable for 7 days)
    assert api.request("DELETE", f"/stacks/{stack['stack_id']}").status == 202
    assert wait_settled(api, stack["stack_id"])["status"] == "DELETED"
    assert sm.describe_secret(SecretId=value["ARN"]).get("DeletedDate") is not None


def test_a_change_is_previewed_then_made_then_the_stack_is_deleted(
    stackpilot: LocalStackpilot, connected: tuple[Api, str]
) -> None:
    api, connection_id = connected
    stack = _ready(api, spec(connection_id, name="shop"))
    stack_id = stack["stack_id"]
    cfn = stackpilot.cloud.customer_client("cloudformation", CUSTOMER, "us-east-1")
    # WHEN the desired count is previewed
    change = {"container": {"desired_count": 3}}
    preview = api.request("POST", f"/stacks/{stack_id}/preview", change)
    # THEN the answer is the change set CloudFormation made: the ECS service changes, nothing is replaced
    assert preview.status == 200, preview
    assert preview.body["would_change"] is True and preview.body["refused"] is None
    service = [c for c in preview.body["changes"] if c["resource_type"] == "AWS::ECS::Service"]
    assert service and service[0]["action"] == "Modify", preview.body
    # AND nothing changed: the stack is as it was, the preview's change set is gone
    assert api.request("GET", f"/stacks/{stack_id}").body["spec"]["container"]["desired_count"] == 2
    names = [c["ChangeSetName"] for c in cfn.list_change_sets(StackName=stack["cfn_stack_name"])["Summaries"]]
    assert not [n for n in names if n.startswith("stackpilot-preview-")], names
    # WHEN the change is made
    patched = api.request("PATCH", f"/stacks/{stack_id}", change)
    assert patched.status == 202 and patched.body["status"] == "UPDATING", patched
    # THEN the stack settles READY with the new spec, and its history tells the update
    updated = wait_settled(api, stack_id)
    assert updated["status"] == "READY" and updated["cfn_status"] == "UPDATE_COMPLETE", updated
    assert updated["spec"]["container"]["desired_count"] == 3 and updated["operation"] == "update"
    history = api.request("GET", f"/stacks/{stack_id}/events").body["items"]
    assert [h["kind"] for h in history][:1] == ["ready"]
    assert any(h["message"] == "update requested" for h in history)
    # AND in the customer's account the ECS service runs 3 tasks
    resources = cfn.describe_stack_resources(StackName=stack["cfn_stack_name"])["StackResources"]
    cluster = next(r for r in resources if r["ResourceType"] == "AWS::ECS::Cluster")["PhysicalResourceId"]
    service_arn = next(r for r in resources if r["ResourceType"] == "AWS::ECS::Service")["PhysicalResourceId"]
    ecs = stackpilot.cloud.customer_client("ecs", CUSTOMER, "us-east-1")
    assert ecs.describe_services(cluster=cluster, services=[service_arn])["services"][0]["desiredCount"] == 3
    # AND a change that changes nothing starts nothing
    same = api.request("PATCH", f"/stacks/{stack_id}", change)
    assert same.status == 202 and same.body["status"] == "READY", same
    # WHEN it is deleted
    deleted = api.request("DELETE", f"/stacks/{stack_id}")
    assert deleted.status == 202 and deleted.body["status"] == "DELETING", deleted
    # THEN it ends DELETED: the database's deletion protection was turned off first, then the stack went
    gone = wait_settled(api, stack_id)
    assert gone["status"] == "DELETED", (gone["reason"], gone["failure"])
    summaries = cfn.list_stacks()["StackSummaries"]
    assert {s["StackStatus"] for s in summaries if s["StackName"] == stack["cfn_stack_name"]} == {
        "DELETE_COMPLETE"
    }
    rds = stackpilot.cloud.customer_client("rds", CUSTOMER, "us-east-1")
    assert rds.describe_db_instances()["DBInstances"] == []
    # AND every change is in the audit log, by the contributor
    actions = [e["action"] for e in _audit(stackpilot) if e["target"] == f"stack:{stack_id}"]
    for action in ("stack.create", "stack.preview", "stack.update", "stack.delete"):
        assert action in actions, actions


def test_changes_that_cannot_be_made_are_refused_before_anything_happens(
    stackpilot: LocalStackpilot, connected: tuple[Api, str]
) -> None:
    api, connection_id = connected
    stack = _ready(api, spec(connection_id, name="fixed", database=None))
    stack_id = stack["stack_id"]
    # the stack's identity and place never change: a 422 naming the field
    moved = api.request("PATCH", f"/stacks/{stack_id}", {"network": {"mode": "new", "cidr": "10.9.0.0/16"}})
    assert moved.status == 422 and "network" in moved.body["message"], moved
    # a change that makes the whole spec invalid: a 422 naming the field
    crossed = api.request("PATCH", f"/stacks/{stack_id}", {"container": {"desired_count": 9}})
    assert crossed.status == 422 and "desired_count" in crossed.body["message"], crossed
    # a viewer may not change, preview or delete
    viewer = Api(stackpilot, org_id=ORG, role="viewer")
    assert viewer.request("PATCH", f"/stacks/{stack_id}", {"nat_instance": False}).status == 403
    assert viewer.request("POST", f"/stacks/{stack_id}/preview", {}).status == 403
    assert viewer.request("DELETE", f"/stacks/{stack_id}").status == 403
    # another org's stack is not there
    stranger = Api(stackpilot, org_id="org_stack_strangers", role="owner")
    assert stranger.request("DELETE", f"/stacks/{stack_id}").status == 404
    assert stranger.request("PATCH", f"/stacks/{stack_id}", {"bastion": {}}).status == 404
    # a duplicate request has one effect: the second is a 409 while the first runs
    patches.delay_next_stack_update("stackpilot-fixed-", 40)
    first = api.request("PATCH", f"/stacks/{stack_id}", {"container": {"desired_count": 3}})
    again = api.request("PATCH", f"/stacks/{stack_id}", {"container": {"desired_count": 3}})
    assert first.status == 202 and again.status == 409, (first, again)
    assert api.request("DELETE", f"/stacks/{stack_id}").status == 409
    assert wait_settled(api, stack_id)["status"] == "READY"
    # nothing was changed by the refused requests
    after = api.request("GET", f"/stacks/{stack_id}").body
    assert (
        after["spec"]["network"] == stack["spec"]["network"]
        and after["spec"]["container"]["desired_count"] == 3
    )


def test_an_injected_failure_ends_failed_with_the_resource_and_reason(
    stackpilot: LocalStackpilot, connected: tuple[Api, str]
) -> None:
    api, connection_id = connected
    # GIVEN the customer's account will fail to create the database
    patches.fail_next_stack_creation(
        "stackpilot-broken-", "Database", "DB instance quota exceeded (Service: Rds, Status Code: 400)"
    )
    created = api.request("POST", "/stacks", spec(connection_id, name="broken"))
    assert created.status == 202, created
    # THEN GET /stacks/{id} shows FAILED, the resource and CloudFormation's reason
    stack = wait_settled(api, created.body["stack_id"])
    assert stack["status"] == "FAILED", stack
    assert stack["cfn_status"] == "ROLLBACK_COMPLETE"
    assert stack["failure"]["logical_id"] == "Database", stack["failure"]
    assert stack["failure"]["resource_type"] == "AWS::RDS::DBInstance"
    assert "quota exceeded" in stack["failure"]["reason"] and "quota exceeded" in stack["reason"]
    # AND it cannot be updated, only deleted (and then created again)
    refused = api.request("PATCH", f"/stacks/{stack['stack_id']}", {"container": {"desired_count": 3}})
    assert refused.status == 409 and "delete" in refused.body["message"], refused
    assert api.request("DELETE", f"/stacks/{stack['stack_id']}").status == 202
    assert wait_settled(api, stack["stack_id"])["status"] == "DELETED"
    again = api.request("POST", "/stacks", spec(connection_id, name="broken"))
    assert again.status == 202 and again.body["stack_id"] == stack["stack_id"], again
    assert wait_settled(api, stack["stack_id"])["status"] == "READY"


def test_a_connection_revoked_under_a_running_update_ends_it_failed_with_what_to_do(
    stackpilot: LocalStackpilot,
) -> None:
    admin, connection_id = connected_account(stackpilot, ORG, "171717171717")
    stack = _ready(admin, spec(connection_id, name="revoked", database=None))
    # GIVEN an update CloudFormation takes its time over, and no status event will come
    patches.delay_next_stack_update("stackpilot-revoked-", 60)
    patches.suppress_stack_status_events("stackpilot-revoked-")
    try:
        patched = admin.request("PATCH", f"/stacks/{stack['stack_id']}", {"container": {"desired_count": 3}})
        assert patched.status == 202, patched
        # WHEN the account is disconnected meanwhile
        assert admin.request("DELETE", f"/accounts/{connection_id}").status == 200
        # THEN the workflow stops waiting at its next look and says what to do
        ended = wait_settled(admin, stack["stack_id"])
        assert ended["status"] == "FAILED", ended
        assert "reconnect" in ended["reason"], ended["reason"]
        # AND further changes are refused until the account is connected again
        again = admin.request("PATCH", f"/stacks/{stack['stack_id']}", {"container": {"desired_count": 2}})
        # the stack itself is as it was (CREATE_COMPLETE): the refusal is the account's, a 424
        assert again.status == 424 and "reconnect" in again.body["message"], again
        gone = admin.request("DELETE", f"/stacks/{stack['stack_id']}")
        assert gone.status == 424 and "reconnect" in gone.body["message"], gone
    finally:
        patches.clear_stack_hooks()


def test_a_lambda_error_inside_the_workflow_ends_failed_without_internals(
    stackpilot: LocalStackpilot, connected: tuple[Api, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from functions.stacks.logic import steps

    api, connection_id = connected

    def crash(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("simulated crash at 0xdeadbeef")

    monkeypatch.setattr(steps, "start_change", crash)
    created = api.request("POST", "/stacks", spec(connection_id, name="crashed", database=None))
    assert created.status == 202, created
    stack = wait_settled(api, created.body["stack_id"])
    assert stack["status"] == "FAILED", stack
    assert stack["reason"].startswith("internal error while changing the stack (RuntimeError)"), stack
    assert "0xdeadbeef" not in json.dumps(stack)  # internals stay in our logs


def test_a_customer_account_that_keeps_throttling_ends_failed_with_the_reason(
    stackpilot: LocalStackpilot, connected: tuple[Api, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from functions.stacks.exceptions import CustomerAwsFailure
    from functions.stacks.integrations.customer import CloudFormationStacks

    api, connection_id = connected
    calls: list[str] = []

    def throttled(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append("CreateChangeSet")
        raise CustomerAwsFailure("creating a change set failed in the customer's account: Throttling")

    monkeypatch.setattr(CloudFormationStacks, "create_change_set", throttled)
    created = api.request("POST", "/stacks", spec(connection_id, name="throttled", database=None))
    assert created.status == 202, created
    stack = wait_settled(api, created.body["stack_id"])
    # retried with backoff (the first try and 4 more), then FAILED with a reason the user can act on
    assert stack["status"] == "FAILED" and len(calls) == 5, (stack, calls)
    assert stack["reason"] == "creating a change set failed in the customer's account: Throttling"


def test_a_creation_that_failed_before_anything_was_made_can_simply_be_asked_for_again(
    stackpilot: LocalStackpilot, connected: tuple[Api, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from functions.stacks.exceptions import CustomerAwsFailure
    from functions.stacks.integrations.customer import CustomerSecretsManager

    api, connection_id = connected
    body = spec(connection_id, name="retried", database=None)
    body["container"] = dict(body["container"], secret_env={"TOKEN": SECRET})

    def unavailable(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise CustomerAwsFailure("writing a secret failed in the customer's account: ServiceUnavailable")

    # GIVEN the customer's Secrets Manager fails: a 503, and the stack says why
    with monkeypatch.context() as m:
        m.setattr(CustomerSecretsManager, "put", unavailable)
        first = api.request("POST", "/stacks", body)
    assert first.status == 503, first
    (failed,) = [s for s in api.request("GET", "/stacks").body["items"] if s["name"] == "retried"]
    assert failed["status"] == "FAILED" and "ServiceUnavailable" in failed["reason"], failed
    # WHEN the same POST is retried, it is a new attempt (not a 409) and it goes through
    again = api.request("POST", "/stacks", body)
    assert again.status == 202 and again.body["stack_id"] == failed["stack_id"], again
    assert wait_settled(api, failed["stack_id"])["status"] == "READY"
