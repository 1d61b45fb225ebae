"""Property: no forged custom-resource request ever resumes a connection, and none crashes the receiver."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from functions.accounts.logic.callback import CallbackDeps, Outcome, handle_request
from functions.accounts.models.callback import CustomResourceRequest
from functions.accounts.models.connection import ConnectionStatus
from tests.fakes.accounts import FakeClock
from tests.unit.accounts_builders import (
    ACCOUNT,
    CONN_ID,
    NONCE,
    REGION,
    ROLE_ARN,
    STACK_ID,
    callback_deps,
    custom_resource_request,
)

VALID = {"ConnectionId": CONN_ID, "Nonce": NONCE, "RoleArn": ROLE_ARN, "AccountId": ACCOUNT, "Region": REGION}
texts = st.text(max_size=80)


def fresh_deps() -> CallbackDeps:
    return callback_deps(FakeClock())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    field=st.sampled_from(sorted(VALID)),
    value=texts,
    stack_id=st.one_of(st.just(STACK_ID), texts.filter(bool)),
    request_id=st.text(min_size=1, max_size=40),
    topic_region=st.sampled_from([REGION, "eu-west-1", ""]),
)
def test_only_the_exact_request_resumes_the_connection(
    field: str, value: str, stack_id: str, request_id: str, topic_region: str
) -> None:
    deps = fresh_deps()
    request: dict[str, Any] = custom_resource_request(
        props={field: value}, StackId=stack_id, RequestId=request_id
    )
    outcome = handle_request(deps, CustomResourceRequest.model_validate(request), topic_region)
    exact = value == VALID[field] and stack_id == STACK_ID and topic_region == REGION
    if exact:
        assert outcome is Outcome.DISPATCHED
    else:
        assert outcome is Outcome.ANSWERED
        assert deps.workflow.resumed == []  # type: ignore[attr-defined]
        connection = deps.connections.find_by_id(CONN_ID)
        assert connection is not None and connection.status is ConnectionStatus.PENDING
        for _, body in deps.responder.sent:  # type: ignore[attr-defined]
            assert body["Status"] == "FAILED" and not body["PhysicalResourceId"].startswith("conn_")


@settings(max_examples=200, deadline=None)
@given(request_type=st.sampled_from(["Update", "Delete"]), physical_id=st.one_of(st.none(), texts))
def test_updates_and_deletes_from_strangers_change_nothing(
    request_type: str, physical_id: str | None
) -> None:
    deps = fresh_deps()
    request = custom_resource_request(request_type, PhysicalResourceId=physical_id or None)
    handle_request(deps, CustomResourceRequest.model_validate(request), REGION)
    connection = deps.connections.find_by_id(CONN_ID)
    assert connection is not None and connection.status is ConnectionStatus.PENDING
    assert deps.events.published == [] and deps.workflow.started == []  # type: ignore[attr-defined]
