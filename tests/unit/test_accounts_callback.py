"""Custom-resource requests: only the connection's own template can complete it."""

from __future__ import annotations

from typing import Any

import pytest

from functions.accounts.exceptions import WaiterNotReady
from functions.accounts.logic.callback import CallbackDeps, Outcome, handle_request, request_key
from functions.accounts.models.callback import CustomResourceRequest
from functions.accounts.models.connection import CallbackStatus, ConnectionChanges, ConnectionStatus
from tests.fakes.accounts import (
    FakeClock,
)
from tests.unit.accounts_builders import CONN_ID, STACK_ID, callback_deps, custom_resource_request


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def deps(clock: FakeClock) -> CallbackDeps:
    return callback_deps(clock)


def handle(deps: CallbackDeps, request: dict[str, Any], region: str = "us-east-1") -> Outcome:
    return handle_request(deps, CustomResourceRequest.model_validate(request), region)


def failed_reason(deps: CallbackDeps) -> str:
    sent = deps.responder.sent  # type: ignore[attr-defined]
    assert len(sent) == 1 and sent[0][1]["Status"] == "FAILED"
    assert not sent[0][1]["PhysicalResourceId"].startswith("conn_")
    return str(sent[0][1]["Reason"])


def test_a_valid_create_resumes_the_workflow_with_ids_only(deps: CallbackDeps) -> None:
    assert handle(deps, custom_resource_request()) is Outcome.DISPATCHED
    token, output = deps.workflow.resumed[0]  # type: ignore[attr-defined]
    assert token == "token-1"
    assert set(output) == {"request_key", "request_type", "stack_id", "role_arn"}
    assert deps.responder.sent == []  # type: ignore[attr-defined]


def test_a_replayed_callback_has_one_effect(deps: CallbackDeps) -> None:
    request = custom_resource_request()
    handle(deps, request)
    assert handle(deps, request) is Outcome.DUPLICATE
    assert len(deps.workflow.resumed) == 1  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"props": {"Nonce": "wrong-nonce"}}, "nonce does not match"),
        ({"props": {"Nonce": ""}}, "nonce does not match"),
        ({"props": {"ConnectionId": "conn_" + "b" * 26}}, "does not exist"),
        ({"props": {"ConnectionId": "../../etc"}}, "malformed"),
        (
            {"props": {"RoleArn": "arn:aws:iam::999999999999:role/stackpilot-deploy-abc"}},
            "account 111111111111",
        ),
        ({"props": {"AccountId": "999999999999"}}, "account 111111111111"),
        ({"StackId": STACK_ID.replace("111111111111", "999999999999")}, "account 111111111111"),
        ({"props": {"RoleArn": "not-an-arn"}}, "not an IAM role"),
        ({"props": {"Region": "eu-west-1"}}, "us-east-1"),
    ],
)
def test_a_forged_create_is_answered_failed_and_changes_nothing(
    deps: CallbackDeps, changes: dict[str, Any], reason: str
) -> None:
    assert handle(deps, custom_resource_request(**changes)) is Outcome.ANSWERED
    assert reason in failed_reason(deps)
    assert deps.workflow.resumed == []  # type: ignore[attr-defined]
    assert deps.connections.find_by_id(CONN_ID).status is ConnectionStatus.PENDING  # type: ignore[union-attr]


def test_an_expired_nonce_is_refused(deps: CallbackDeps, clock: FakeClock) -> None:
    clock.advance(3601)
    handle(deps, custom_resource_request())
    assert "expired" in failed_reason(deps)


def test_a_used_nonce_is_refused(deps: CallbackDeps) -> None:
    conn = deps.connections.find_by_id(CONN_ID)
    deps.connections.transition(
        conn,
        ConnectionStatus.CONNECTED,
        allowed_from=[ConnectionStatus.PENDING],
        changes=ConnectionChanges(nonce_hash=None),
    )  # type: ignore[arg-type]
    handle(deps, custom_resource_request(RequestId="req-2"))
    assert "CONNECTED, not PENDING" in failed_reason(deps)


def test_a_topic_in_another_region_is_refused(deps: CallbackDeps) -> None:
    handle(deps, custom_resource_request(), region="eu-west-1")
    assert "us-east-1" in failed_reason(deps)


def test_a_callback_before_the_workflow_waits_is_retried_not_lost(deps: CallbackDeps) -> None:
    conn = deps.connections.find_by_id(CONN_ID)
    deps.connections.items[(conn.org_id, CONN_ID)] = conn.model_copy(update={"task_token": None})  # type: ignore[union-attr]
    with pytest.raises(WaiterNotReady):
        handle(deps, custom_resource_request())
    # the workflow is started by its name (a no-op if it runs; the start if POST could not start it),
    # to wait no longer than the connection's nonce lives
    name, payload = deps.workflow.started[-1]  # type: ignore[attr-defined]
    assert name == CONN_ID and payload["connection_id"] == CONN_ID and payload["region"] == conn.region  # type: ignore[union-attr]
    assert 0 < payload["connect_window_seconds"] <= 3600
    # the retry, once the waiter registered, goes through
    deps.connections.set_task_token(conn.org_id, CONN_ID, "token-2")  # type: ignore[union-attr]
    assert handle(deps, custom_resource_request()) is Outcome.DISPATCHED


def test_a_workflow_that_stopped_waiting_gets_the_stack_answered(deps: CallbackDeps) -> None:
    deps.workflow.waiting = False  # type: ignore[attr-defined]
    handle(deps, custom_resource_request())
    assert "stopped waiting" in failed_reason(deps)


@pytest.mark.parametrize(
    "url",
    [
        "http://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/k?X-Amz-Signature=a",
        "https://169.254.169.254/latest/meta-data/",
        "https://127.0.0.1/x",
        "https://evil.example.com/x",
    ],
)
def test_a_hostile_response_url_is_never_fetched(deps: CallbackDeps, url: str) -> None:
    assert handle(deps, custom_resource_request(ResponseURL=url, props={"Nonce": "bad"})) is Outcome.ANSWERED
    assert deps.responder.sent == []  # type: ignore[attr-defined]
    assert (
        deps.callbacks.get(
            request_key(
                CustomResourceRequest.model_validate(
                    custom_resource_request(ResponseURL=url, props={"Nonce": "bad"})
                )
            )
        ).status
        is CallbackStatus.ANSWERED
    )  # type: ignore[union-attr]


def test_deleting_the_stack_disconnects_and_always_succeeds(deps: CallbackDeps) -> None:
    conn = deps.connections.find_by_id(CONN_ID)
    deps.connections.transition(
        conn,
        ConnectionStatus.CONNECTED,
        allowed_from=[ConnectionStatus.PENDING],
        changes=ConnectionChanges(stack_id=STACK_ID),
    )  # type: ignore[arg-type]
    handle(deps, custom_resource_request("Delete", PhysicalResourceId=CONN_ID, RequestId="req-9"))
    assert deps.connections.find_by_id(CONN_ID).status is ConnectionStatus.DISCONNECTED  # type: ignore[union-attr]
    assert deps.events.types() == ["AccountDisconnected"]  # type: ignore[attr-defined]
    assert deps.responder.sent[0][1]["Status"] == "SUCCESS"  # type: ignore[attr-defined]


@pytest.mark.parametrize("physical_id", ["fake-id", "conn_" + "a" * 26, "stackpilot-rejected-123"])
def test_a_delete_that_names_no_connection_of_this_stack_is_a_successful_noop(
    deps: CallbackDeps, physical_id: str
) -> None:
    # the connection exists but was never created by this stack (no stack id recorded)
    handle(deps, custom_resource_request("Delete", PhysicalResourceId=physical_id))
    assert deps.connections.find_by_id(CONN_ID).status is ConnectionStatus.PENDING  # type: ignore[union-attr]
    assert deps.responder.sent[0][1]["Status"] == "SUCCESS"  # type: ignore[attr-defined]
    assert deps.events.published == []  # type: ignore[attr-defined]


def test_an_update_starts_a_reverification(deps: CallbackDeps) -> None:
    conn = deps.connections.find_by_id(CONN_ID)
    deps.connections.transition(
        conn,
        ConnectionStatus.CONNECTED,
        allowed_from=[ConnectionStatus.PENDING],
        changes=ConnectionChanges(stack_id=STACK_ID),
    )  # type: ignore[arg-type]
    assert (
        handle(deps, custom_resource_request("Update", PhysicalResourceId=CONN_ID, RequestId="u1"))
        is Outcome.DISPATCHED
    )
    _, payload = deps.workflow.started[0]  # type: ignore[attr-defined]
    assert (
        payload["mode"] == "reverify" and "ResponseURL" not in str(payload) and "https://" not in str(payload)
    )


def test_an_update_from_a_stranger_stack_is_refused(deps: CallbackDeps) -> None:
    handle(deps, custom_resource_request("Update", PhysicalResourceId=CONN_ID, RequestId="u1"))
    assert "re-verified" in failed_reason(deps)


def test_a_template_naming_its_org_is_read_by_key_and_a_wrong_org_finds_it_through_the_index(
    deps: CallbackDeps,
) -> None:
    # GIVEN the connection-id index is watched
    through_index: list[str] = []
    find = deps.connections.find_by_id
    deps.connections.find_by_id = lambda cid: through_index.append(cid) or find(cid)  # type: ignore[method-assign]
    # WHEN the template names the connection's org THEN one read by key finds it, not the index
    named = custom_resource_request(props={"OrgId": "org_acme"})
    assert handle(deps, named) is Outcome.DISPATCHED and through_index == []
    # AND an org id that is wrong (it is as unauthenticated as the rest) proves nothing: the index decides
    forged = custom_resource_request(props={"OrgId": "org_other"}, RequestId="req-2")
    handle(deps, forged)
    assert through_index == [CONN_ID]


def test_a_delivery_cut_off_before_it_resumed_is_finished_by_the_redelivery(deps: CallbackDeps) -> None:
    # GIVEN a delivery that stored the request as dispatched, then timed out before resuming
    request = custom_resource_request()
    resume = deps.workflow.resume

    def cut_off(token: str, output: dict[str, Any]) -> bool:
        raise TimeoutError("the function timed out")

    deps.workflow.resume = cut_off  # type: ignore[method-assign]
    with pytest.raises(TimeoutError):
        handle(deps, request)
    deps.workflow.resume = resume  # type: ignore[method-assign]
    # WHEN Lambda redelivers it THEN the workflow is resumed, once, and CloudFormation is not told FAILED
    assert handle(deps, request) is Outcome.DISPATCHED
    assert handle(deps, request) is Outcome.DUPLICATE
    assert len(deps.workflow.resumed) == 1 and deps.responder.sent == []  # type: ignore[attr-defined]
