"""Connecting a customer's AWS account, end to end in the local cloud (DESIGN.md workflow 1)."""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from infra.local import customer
from infra.local.runtime import LocalStackpilot
from tests.workflows.client import Api
from tests.workflows.onboarding import CUSTOMER, deploy

pytestmark = [pytest.mark.workflow, pytest.mark.xdist_group("local-cloud")]


def connect(api: Api, account: str = CUSTOMER, region: str = "us-east-1") -> dict[str, Any]:
    reply = api.request("POST", "/accounts", {"aws_account_id": account, "region": region})
    assert reply.status == 201, reply
    return dict(reply.body)


def template_of(local: LocalStackpilot, url: str) -> dict[str, Any]:
    link = customer.parse_quick_create_url(url)
    key = link.template_url.split(".amazonaws.com/", 1)[-1].split("?", 1)[0]
    if "127.0.0.1" in link.template_url:
        key = link.template_url.split("/", 4)[4].split("?", 1)[0]
    body = (
        local.cloud.client("s3").get_object(Bucket=local.cloud.names.service_bucket, Key=key)["Body"].read()
    )
    return dict(json.loads(body))


def execution_history(local: LocalStackpilot, name: str) -> tuple[str, list[dict[str, Any]]]:
    return local.cloud.settled_execution("connect-account", name)


def bus_events(local: LocalStackpilot, connection_id: str) -> list[str]:
    seen = []
    for _ in range(20):
        seen += [e for e in local.cloud.tap_events() if e["detail"].get("connection_id") == connection_id]
        if seen:
            time.sleep(0.1)  # let siblings arrive
            seen += [e for e in local.cloud.tap_events() if e["detail"].get("connection_id") == connection_id]
            break
        time.sleep(0.1)
    return [e["detail-type"] for e in seen]


def test_an_admin_connects_an_account_end_to_end(
    stackpilot: LocalStackpilot, admin: Api, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)  # what the functions log in production
    # GIVEN an admin who asks to connect an account
    created = connect(admin)
    assert created["status"] == "PENDING" and created["quick_create_url"]
    # WHEN the customer deploys the quick-create link in their account
    result = deploy(stackpilot, created["quick_create_url"])
    # THEN their stack completes, the connection is CONNECTED and the bus heard of it
    assert result.status == "CREATE_COMPLETE", result
    connection = admin.wait_for_status(created["connection_id"], {"CONNECTED", "FAILED"})
    assert connection["status"] == "CONNECTED", connection
    assert connection["role_arn"].startswith(f"arn:aws:iam::{CUSTOMER}:role/")
    assert "AccountConnected" in bus_events(stackpilot, created["connection_id"])
    status, history = execution_history(stackpilot, created["connection_id"])
    assert status == "SUCCEEDED"
    # AND no ResponseURL, ExternalId, nonce or task token is in the execution history or the logs
    template = template_of(stackpilot, created["quick_create_url"])
    secrets = [template["Parameters"]["ExternalId"]["Default"], template["Parameters"]["Nonce"]["Default"]]
    logs = [json.dumps(record.__dict__, default=str) for record in caplog.records]
    assert any("callback handled" in line for line in logs)  # the handlers' logs were captured
    written = json.dumps(history, default=str) + "".join(logs)
    assert "cloudformation-custom-resource-response" not in written
    assert "X-Amz-Signature" not in written
    for secret in secrets:
        assert secret not in written


def test_the_connection_is_readable_but_not_changeable_by_viewers_and_invisible_to_other_orgs(
    stackpilot: LocalStackpilot, admin: Api
) -> None:
    created = connect(admin, account="222222222222")
    viewer = Api(stackpilot, org_id="org_acme", role="viewer")
    contributor = Api(stackpilot, org_id="org_acme", role="contributor")
    stranger = Api(stackpilot, org_id="org_other", role="owner")
    path = f"/accounts/{created['connection_id']}"
    assert viewer.request("GET", path).status == 200
    assert viewer.request("DELETE", path).status == 403
    assert (
        contributor.request(
            "POST", "/accounts", {"aws_account_id": "333333333333", "region": "us-east-1"}
        ).status
        == 403
    )
    assert stranger.request("GET", path).status == 404
    assert stranger.request("DELETE", path).status == 404
    assert all(
        c["connection_id"] != created["connection_id"]
        for c in stranger.request("GET", "/accounts").body["items"]
    )
    # the admin disconnects: the waiting workflow stops, the customer would now delete the stack
    assert admin.request("DELETE", path).body["status"] == "DISCONNECTED"
    assert execution_history(stackpilot, created["connection_id"])[0] == "ABORTED"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"aws_account_id": "12345", "region": "us-east-1"}, "aws_account_id"),
        ({"aws_account_id": "abcdefghijkl", "region": "us-east-1"}, "aws_account_id"),
        ({"aws_account_id": "111111111111", "region": "mars-1"}, "region"),
        ({"aws_account_id": "111111111111", "region": "sa-east-1"}, "region"),
        ({"aws_account_id": "111111111111"}, "region"),
        ({"aws_account_id": "111111111111", "region": "us-east-1", "external_id": "mine"}, "external_id"),
    ],
)
def test_bad_input_is_a_422_naming_the_field_and_writes_nothing(
    stackpilot: LocalStackpilot, admin: Api, body: dict[str, Any], field: str
) -> None:
    before = len(admin.request("GET", "/accounts").body["items"])
    reply = admin.request("POST", "/accounts", body)
    assert reply.status == 422, reply
    assert field in [e["field"] for e in reply.body["errors"]] and field in reply.body["message"]
    assert all(e["message"] for e in reply.body["errors"])
    assert len(admin.request("GET", "/accounts").body["items"]) == before


def test_malformed_json_is_a_422_not_a_500(admin: Api) -> None:
    reply = admin.request("POST", "/accounts", raw=b"{not json")
    assert reply.status == 422 and reply.body["errors"][0]["field"] == "body"


def test_a_body_that_is_not_declared_json_is_a_415(admin: Api) -> None:
    body = b'{"aws_account_id": "111111111111", "region": "us-east-1"}'
    reply = admin.request("POST", "/accounts", raw=body, content_type="application/x-www-form-urlencoded")
    assert reply.status == 415 and reply.body["field"] == "Content-Type"


def test_a_role_that_does_not_require_the_external_id_is_refused(stackpilot: LocalStackpilot) -> None:
    api = Api(stackpilot, org_id="org_lax", role="owner")
    created = connect(api, account="444444444444")
    template = template_of(stackpilot, created["quick_create_url"])
    # The customer (or an attacker) strips the ExternalId condition from the deploy role's trust.
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::IAM::Role":
            for statement in resource["Properties"]["AssumeRolePolicyDocument"]["Statement"]:
                statement.get("Condition", {}).get("StringEquals", {}).pop("sts:ExternalId", None)
    result = deploy(
        stackpilot, created["quick_create_url"], account="444444444444", template=json.dumps(template)
    )
    assert result.status == "ROLLBACK_COMPLETE" and "role does not require ExternalId" in result.reason, (
        result
    )
    connection = api.wait_for_status(created["connection_id"], {"FAILED", "CONNECTED"})
    assert connection["status"] == "FAILED" and connection["reason"] == "role does not require ExternalId"
    assert "AccountConnectionFailed" in bus_events(stackpilot, created["connection_id"])


def test_deleting_the_customer_stack_disconnects(stackpilot: LocalStackpilot) -> None:
    api = Api(stackpilot, org_id="org_leaving", role="owner")
    created = connect(api, account="555555555555")
    result = deploy(stackpilot, created["quick_create_url"], account="555555555555")
    assert result.status == "CREATE_COMPLETE", result
    api.wait_for_status(created["connection_id"], {"CONNECTED"})
    cfn = stackpilot.cloud.customer_client("cloudformation", "555555555555")
    cfn.delete_stack(StackName=result.stack_id)
    assert customer.wait(cfn, result.stack_id, timeout_seconds=30).status == "DELETE_COMPLETE"
    assert api.wait_for_status(created["connection_id"], {"DISCONNECTED"})["status"] == "DISCONNECTED"
    assert "AccountDisconnected" in bus_events(stackpilot, created["connection_id"])


def _publish_forged(local: LocalStackpilot, connection_id: str, **props: str) -> str:
    """An attacker publishes straight to our topic; returns the S3 key the answer would land on."""
    request_id = str(uuid.uuid4())
    stack_id = f"arn:aws:cloudformation:us-east-1:{CUSTOMER}:stack/forged/{uuid.uuid4()}"
    key = f"{stack_id}|StackpilotConnection|{request_id}"
    message = {
        "RequestType": "Create",
        "ResponseURL": (
            "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/"
            + key.replace(":", "%3A").replace("|", "%7C")
            + "?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20261123T120000Z&X-Amz-SignedHeaders=host"
            + "&X-Amz-Expires=7200&X-Amz-Credential=AKIA%2F20261123%2Fus-east-1%2Fs3%2Faws4_request"
            + "&X-Amz-Signature="
            + "ab" * 32
        ),
        "StackId": stack_id,
        "RequestId": request_id,
        "LogicalResourceId": "StackpilotConnection",
        "ResourceType": "Custom::StackpilotConnection",
        "ResourceProperties": {
            "ConnectionId": connection_id,
            "Nonce": "guessed",
            "RoleArn": f"arn:aws:iam::{CUSTOMER}:role/stackpilot-connection/evil",
            "AccountId": CUSTOMER,
            "Region": "us-east-1",
            **props,
        },
    }
    sns = local.cloud.client("sns")
    sns.publish(TopicArn=local.cloud.names.callback_topic_arn("us-east-1"), Message=json.dumps(message))
    return key


def _answer(local: LocalStackpilot, key: str) -> dict[str, Any]:
    s3 = local.cloud.client("s3")
    deadline = time.monotonic() + 10
    while True:
        try:
            return dict(
                json.loads(
                    s3.get_object(Bucket="cloudformation-custom-resource-response-useast1", Key=key)[
                        "Body"
                    ].read()
                )
            )
        except s3.exceptions.NoSuchKey:
            assert time.monotonic() < deadline, "no answer was delivered"
            time.sleep(0.05)


def test_a_forged_callback_is_answered_failed_and_connects_nothing(stackpilot: LocalStackpilot) -> None:
    api = Api(stackpilot, org_id="org_target", role="owner")
    created = connect(api, account=CUSTOMER)
    key = _publish_forged(stackpilot, created["connection_id"])
    answer = _answer(stackpilot, key)
    assert answer["Status"] == "FAILED" and "nonce" in answer["Reason"]
    # replaying it has no further effect, and the real connection still waits for its own stack
    _publish_forged(stackpilot, created["connection_id"])
    assert api.request("GET", f"/accounts/{created['connection_id']}").body["status"] == "PENDING"
    api.request("DELETE", f"/accounts/{created['connection_id']}")


class ExplodingProbe:
    def assume(self, role_arn: str, external_id: str | None, session_name: str) -> str | None:
        raise RuntimeError("simulated crash inside the verify function")


def test_a_lambda_failing_inside_the_workflow_ends_in_a_defined_state(
    stackpilot: LocalStackpilot, monkeypatch: pytest.MonkeyPatch
) -> None:
    from functions.accounts.handlers import verify

    api = Api(stackpilot, org_id="org_unlucky", role="owner")
    created = connect(api, account="666666666666")
    monkeypatch.setattr(verify, "DEPS", dataclasses.replace(verify.DEPS, probe=ExplodingProbe()))
    result = deploy(stackpilot, created["quick_create_url"], account="666666666666")
    connection = api.wait_for_status(created["connection_id"], {"FAILED", "CONNECTED"})
    assert connection["status"] == "FAILED", connection
    assert connection["reason"].startswith("internal error while connecting (RuntimeError)")
    assert "simulated crash" not in connection["reason"]  # internals stay internal
    assert result.status == "ROLLBACK_COMPLETE" and "internal error" in result.reason, result
    assert execution_history(stackpilot, created["connection_id"])[0] == "FAILED"


def test_a_connection_nobody_deploys_expires(stackpilot: LocalStackpilot) -> None:
    api = Api(stackpilot, org_id="org_slow", role="owner")
    created = connect(api, account="777777777777")
    sfn = stackpilot.cloud.client("stepfunctions")
    machine = stackpilot.cloud.names.state_machine_arn("connect-account")
    # The same workflow with a one-second window (the real one waits an hour).
    sfn.stop_execution(
        executionArn=stackpilot.cloud.names.execution_arn("connect-account", created["connection_id"])
    )
    sfn.start_execution(
        stateMachineArn=machine,
        name=f"expiry-{created['connection_id']}",
        input=json.dumps(
            {
                "org_id": "org_slow",
                "connection_id": created["connection_id"],
                "aws_account_id": "777777777777",
                "region": "us-east-1",
                "connect_window_seconds": 1,
            }
        ),
    )
    connection = api.wait_for_status(created["connection_id"], {"FAILED"}, timeout=20)
    assert "did not call back" in connection["reason"]


def _update_connection_resource(
    local: LocalStackpilot, account: str, stack_id: str, weaken_trust: bool = False
) -> customer.DeployResult:
    """The customer updates the role stack in a way that touches the custom resource."""
    cfn = local.cloud.customer_client("cloudformation", account)
    body = cfn.get_template(StackName=stack_id)["TemplateBody"]
    template = body if isinstance(body, dict) else json.loads(body)
    template["Resources"]["StackpilotConnection"]["Properties"]["Touched"] = str(uuid.uuid4())
    if weaken_trust:
        for resource in template["Resources"].values():
            if resource["Type"] == "AWS::IAM::Role":
                for statement in resource["Properties"]["AssumeRolePolicyDocument"]["Statement"]:
                    statement.get("Condition", {}).get("StringEquals", {}).pop("sts:ExternalId", None)
    cfn.update_stack(
        StackName=stack_id,
        TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": p, "UsePreviousValue": True} for p in ("ConnectionId", "ExternalId")],
        Capabilities=["CAPABILITY_NAMED_IAM"],
    )
    return customer.wait(cfn, stack_id, timeout_seconds=60)


def test_an_update_of_the_role_stack_re_verifies(stackpilot: LocalStackpilot) -> None:
    api = Api(stackpilot, org_id="org_updating", role="owner")
    created = connect(api, account="888888888888")
    result = deploy(stackpilot, created["quick_create_url"], account="888888888888")
    assert api.wait_for_status(created["connection_id"], {"CONNECTED"})["status"] == "CONNECTED"
    # WHEN the customer updates the stack and the role still demands the ExternalId
    updated = _update_connection_resource(stackpilot, "888888888888", result.stack_id)
    # THEN the re-verification succeeds and the connection stays CONNECTED
    assert updated.status == "UPDATE_COMPLETE", updated
    assert api.request("GET", f"/accounts/{created['connection_id']}").body["status"] == "CONNECTED"
    # WHEN an update drops the ExternalId condition
    weakened = _update_connection_resource(stackpilot, "888888888888", result.stack_id, weaken_trust=True)
    # THEN the update is refused and the connection says why
    assert weakened.status == "UPDATE_ROLLBACK_COMPLETE", weakened
    connection = api.wait_for_status(created["connection_id"], {"FAILED"})
    assert connection["reason"] == "role does not require ExternalId"


def test_the_scheduled_re_check_reports_a_role_that_changed_since(stackpilot: LocalStackpilot) -> None:
    api = Api(stackpilot, org_id="org_drifting", role="owner")
    created = connect(api, account="999999999999")
    deploy(stackpilot, created["quick_create_url"], account="999999999999")
    connection = api.wait_for_status(created["connection_id"], {"CONNECTED"})
    bus_events(stackpilot, created["connection_id"])  # drain
    # GIVEN a re-check while all is well
    stackpilot.cloud.run_schedule("account-health")
    assert api.request("GET", f"/accounts/{created['connection_id']}").body["health"] == "HEALTHY"
    # WHEN someone in the customer's account drops the ExternalId condition from the role
    iam = stackpilot.cloud.customer_client("iam", "999999999999")
    role_name = connection["role_arn"].rsplit("/", 1)[1]
    trust = iam.get_role(RoleName=role_name)["Role"]["AssumeRolePolicyDocument"]
    for statement in trust["Statement"]:
        statement.get("Condition", {}).get("StringEquals", {}).pop("sts:ExternalId", None)
    iam.update_assume_role_policy(RoleName=role_name, PolicyDocument=json.dumps(trust))
    report = stackpilot.cloud.run_schedule("account-health")
    # THEN the next re-check says so, once
    assert created["connection_id"] in report["unhealthy"]
    after = api.request("GET", f"/accounts/{created['connection_id']}").body
    assert after["health"] == "UNHEALTHY" and after["health_reason"] == "role does not require ExternalId"
    stackpilot.cloud.run_schedule("account-health")
    assert bus_events(stackpilot, created["connection_id"]) == ["AccountUnhealthy"]


class UnreachableResponder:
    def send(self, response_url: str, region: str, body: dict[str, Any]) -> None:
        from functions.accounts.exceptions import ResponseDeliveryFailed

        raise ResponseDeliveryFailed("could not reach the response endpoint")


def test_an_answer_that_cannot_be_delivered_does_not_undo_the_connection(
    stackpilot: LocalStackpilot, monkeypatch: pytest.MonkeyPatch
) -> None:
    from functions.accounts.handlers import respond

    api = Api(stackpilot, org_id="org_unanswered", role="owner")
    created = connect(api, account="131313131313")
    monkeypatch.setattr(respond, "DEPS", dataclasses.replace(respond.DEPS, responder=UnreachableResponder()))
    link = customer.parse_quick_create_url(created["quick_create_url"])
    customer.create(stackpilot.cloud.customer_client("cloudformation", "131313131313"), link)
    # the answer is retried, then given up; the execution still ends as the connection did
    status, history = execution_history(stackpilot, created["connection_id"])
    assert status == "SUCCEEDED"
    assert sum(1 for e in history if e["type"] == "TaskFailed") == 5  # the first try and its 4 retries
    assert api.request("GET", f"/accounts/{created['connection_id']}").body["status"] == "CONNECTED"


def test_racing_requests_for_one_account_and_region_make_one_connection(stackpilot: LocalStackpilot) -> None:
    # GIVEN a CI job firing 24 identical POST /accounts at once, for one account and region
    token = stackpilot.token("org_racing_ci", "admin", "admin-user")  # the org and member, made once
    api = Api(stackpilot, org_id="org_racing_ci", role="admin", credential=token)
    body = {"aws_account_id": "242424242424", "region": "us-east-1"}
    barrier = threading.Barrier(24)

    def post(_: int) -> Any:
        barrier.wait()
        return api.request("POST", "/accounts", body)

    with ThreadPoolExecutor(max_workers=24) as pool:
        replies = list(pool.map(post, range(24)))
    # THEN exactly one is created; every other one is a 409 naming it
    created = [r for r in replies if r.status == 201]
    assert len(created) == 1, [(r.status, r.body) for r in replies]
    winner = created[0].body["connection_id"]
    refused = [r for r in replies if r.status != 201]
    assert all(r.status == 409 and winner in r.body["message"] for r in refused), [r.body for r in refused]
    # AND the org lists exactly one PENDING connection for it
    listed = api.request("GET", "/accounts").body["items"]
    live = [c for c in listed if c["aws_account_id"] == "242424242424" and c["status"] == "PENDING"]
    assert [c["connection_id"] for c in live] == [winner]
