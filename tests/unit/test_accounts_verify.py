"""Verification: the role must let us in with our ExternalId, and only with it."""

from __future__ import annotations

import json

import pytest

from functions.accounts.exceptions import (
    ConnectionClosed,
    RoleAccountMismatch,
    RoleNotAssumableYet,
    RoleTrustTooBroad,
)
from functions.accounts.logic.outcome import OutcomeDeps, failure_reason, record_outcome
from functions.accounts.logic.respond import RespondDeps, answer_cloudformation
from functions.accounts.logic.verification import VerifyDeps, register_waiter, verify_role
from functions.accounts.models.connection import CallbackRequest, CallbackStatus, ConnectionStatus
from functions.accounts.models.workflow import Callback, ConnectAccountState, Outcome
from functions.shared.models.workflow import StepError
from tests.fakes.accounts import (
    FakeClock,
    FakeRoleProbe,
    InMemoryCallbacks,
    InMemoryConnections,
    RecordingEvents,
    RecordingResponder,
)
from tests.unit.accounts_builders import (
    ACCOUNT,
    CONN_ID,
    ORG,
    REGION,
    RESPONSE_URL,
    ROLE_ARN,
    STACK_ID,
    pending_connection,
)


def setup(probe: FakeRoleProbe, **changes: object) -> VerifyDeps:
    connections = InMemoryConnections()
    connections.create(pending_connection(FakeClock(), **changes))
    return VerifyDeps(connections=connections, probe=probe)


EXTERNAL_ID = "ext-" + "x" * 40


def test_a_role_that_demands_our_external_id_verifies() -> None:
    probe = FakeRoleProbe(account=ACCOUNT, external_id=EXTERNAL_ID)
    assert verify_role(setup(probe), ORG, CONN_ID, ROLE_ARN) == ACCOUNT
    # one real assume, then the two negative probes: none and a wrong one
    assert [ext for _, ext in probe.calls][:2] == [EXTERNAL_ID, None]
    assert probe.calls[2][1] not in (None, EXTERNAL_ID)


def test_a_role_without_the_external_id_condition_is_refused() -> None:
    probe = FakeRoleProbe(account=ACCOUNT, external_id=None)
    with pytest.raises(RoleTrustTooBroad, match="role does not require ExternalId"):
        verify_role(setup(probe), ORG, CONN_ID, ROLE_ARN)


def test_iam_propagation_is_a_retryable_refusal() -> None:
    probe = FakeRoleProbe(account=ACCOUNT, external_id=EXTERNAL_ID, propagation_failures=1)
    deps = setup(probe)
    with pytest.raises(RoleNotAssumableYet):
        verify_role(deps, ORG, CONN_ID, ROLE_ARN)
    assert verify_role(deps, ORG, CONN_ID, ROLE_ARN) == ACCOUNT


def test_a_role_in_another_account_is_refused_before_any_call() -> None:
    probe = FakeRoleProbe(account=ACCOUNT, external_id=EXTERNAL_ID)
    with pytest.raises(RoleAccountMismatch):
        verify_role(setup(probe), ORG, CONN_ID, ROLE_ARN.replace(ACCOUNT, "999999999999"))
    assert probe.calls == []


def test_a_role_answering_as_another_account_is_refused() -> None:
    with pytest.raises(RoleAccountMismatch):
        verify_role(
            setup(FakeRoleProbe(account="999999999999", external_id=EXTERNAL_ID)), ORG, CONN_ID, ROLE_ARN
        )


def test_a_disconnected_connection_is_not_verified() -> None:
    probe = FakeRoleProbe(account=ACCOUNT, external_id=EXTERNAL_ID)
    with pytest.raises(ConnectionClosed):
        verify_role(setup(probe, status=ConnectionStatus.DISCONNECTED), ORG, CONN_ID, ROLE_ARN)


def callback(request_key: str = "k1") -> Callback:
    return Callback(request_key=request_key, request_type="Create", stack_id=STACK_ID, role_arn=ROLE_ARN)


def state(request_key: str | None) -> ConnectAccountState:
    """The workflow's state as AnswerCloudFormation gets it: called back with ``request_key``, or never."""
    return ConnectAccountState(
        org_id=ORG,
        connection_id=CONN_ID,
        connect_window_seconds=3600,
        callback=callback(request_key) if request_key else None,
    )


def outcome_deps() -> OutcomeDeps:
    connections = InMemoryConnections()
    connections.create(pending_connection(FakeClock()))
    return OutcomeDeps(
        connections=connections, events=RecordingEvents(), clock=FakeClock(), connect_window_seconds=3600
    )


def test_connected_burns_the_nonce_and_emits_account_connected() -> None:
    deps = outcome_deps()
    recorded = record_outcome(deps, ORG, CONN_ID, "CONNECTED", callback=callback())
    conn = deps.connections.get(ORG, CONN_ID)
    assert recorded.status is ConnectionStatus.CONNECTED and conn is not None
    assert conn.nonce_hash is None and conn.task_token is None and conn.stack_id == STACK_ID
    assert deps.events.types() == ["AccountConnected"]  # type: ignore[attr-defined]


def test_a_user_facing_error_becomes_the_reason() -> None:
    deps = outcome_deps()
    error = StepError(
        Error="RoleTrustTooBroad", Cause=json.dumps({"errorMessage": "role does not require ExternalId"})
    )
    record_outcome(deps, ORG, CONN_ID, "FAILED", error=error)
    conn = deps.connections.get(ORG, CONN_ID)
    assert conn is not None and conn.status is ConnectionStatus.FAILED
    assert conn.reason == "role does not require ExternalId"
    assert deps.events.types() == ["AccountConnectionFailed"]  # type: ignore[attr-defined]


def test_an_internal_error_is_summarised_without_its_details() -> None:
    error = StepError(
        Error="KeyError", Cause=json.dumps({"errorMessage": "'secret-value'", "stackTrace": ["..."]})
    )
    reason = failure_reason(error)
    assert "KeyError" in reason and "secret-value" not in reason


def test_expiry_says_what_to_do() -> None:
    deps = outcome_deps()
    record_outcome(deps, ORG, CONN_ID, "EXPIRED")
    conn = deps.connections.get(ORG, CONN_ID)
    assert conn is not None and conn.status is ConnectionStatus.FAILED and "60 minutes" in (conn.reason or "")


def test_an_outcome_for_a_disconnected_connection_does_not_resurrect_it() -> None:
    deps = outcome_deps()
    conn = deps.connections.get(ORG, CONN_ID)
    deps.connections.transition(conn, ConnectionStatus.DISCONNECTED, allowed_from=[ConnectionStatus.PENDING])  # type: ignore[arg-type]
    recorded = record_outcome(deps, ORG, CONN_ID, "CONNECTED", callback=None)
    assert recorded.status is ConnectionStatus.DISCONNECTED
    assert deps.events.published == []  # type: ignore[attr-defined]


def _respond_deps(status: ConnectionStatus, reason: str | None = None) -> RespondDeps:
    connections = InMemoryConnections()
    connections.create(pending_connection(FakeClock(), status=status, reason=reason))
    callbacks = InMemoryCallbacks()
    callbacks.put_new(
        CallbackRequest(
            request_key="k1",
            connection_id=CONN_ID,
            org_id=ORG,
            request_type="Create",
            stack_id=STACK_ID,
            request_id="req-1",
            logical_resource_id="StackpilotConnection",
            physical_resource_id=None,
            response_url=RESPONSE_URL,
            region="us-east-1",
            status=CallbackStatus.DISPATCHED,
            received_at=FakeClock()(),
        )
    )
    return RespondDeps(connections=connections, callbacks=callbacks, responder=RecordingResponder())


def test_a_connected_account_answers_success_with_the_connection_as_physical_id() -> None:
    deps = _respond_deps(ConnectionStatus.CONNECTED)
    assert answer_cloudformation(deps, ORG, CONN_ID, state("k1")) == (
        True,
        ConnectionStatus.CONNECTED,
    )
    body = deps.responder.sent[0][1]  # type: ignore[attr-defined]
    assert body["Status"] == "SUCCESS" and body["PhysicalResourceId"] == CONN_ID
    # a retry does not send twice
    assert answer_cloudformation(deps, ORG, CONN_ID, state("k1"))[0] is False
    assert len(deps.responder.sent) == 1  # type: ignore[attr-defined]


def test_a_failed_connection_answers_failed_with_its_reason() -> None:
    deps = _respond_deps(ConnectionStatus.FAILED, reason="role does not require ExternalId")
    answer_cloudformation(deps, ORG, CONN_ID, state("k1"))
    body = deps.responder.sent[0][1]  # type: ignore[attr-defined]
    assert body["Status"] == "FAILED" and body["Reason"] == "role does not require ExternalId"
    assert not body["PhysicalResourceId"].startswith("conn_")


def test_nothing_to_answer_when_nobody_called_back() -> None:
    deps = _respond_deps(ConnectionStatus.FAILED)
    assert answer_cloudformation(deps, ORG, CONN_ID, state(None)) == (False, ConnectionStatus.FAILED)


def test_the_waiter_keeps_its_token_only_while_the_connection_is_pending() -> None:
    # GIVEN a pending connection, then one disconnected meanwhile
    connections = InMemoryConnections()
    connections.create(pending_connection(FakeClock(), task_token=None))
    # WHEN the workflow registers its wait THEN the token is kept where the callback finds it
    register_waiter(connections, ORG, CONN_ID, "token-2")
    assert connections.get(ORG, CONN_ID).task_token == "token-2"  # type: ignore[union-attr]
    connection = connections.get(ORG, CONN_ID)
    assert connection is not None
    connections.transition(connection, ConnectionStatus.DISCONNECTED, allowed_from=[ConnectionStatus.PENDING])
    # AND a connection no longer pending ends the wait with the reason
    with pytest.raises(ConnectionClosed, match="no longer pending"):
        register_waiter(connections, ORG, CONN_ID, "token-3")


def test_an_outcome_given_the_account_and_region_writes_without_reading() -> None:
    # GIVEN the execution's input names the connection's account and region
    deps = outcome_deps()
    reads = []
    real_get = deps.connections.get
    deps.connections.get = lambda *key: reads.append(key) or real_get(*key)  # type: ignore[method-assign]
    # WHEN it connects THEN the change is written with its entry, and nothing was read first
    recorded = record_outcome(
        deps, ORG, CONN_ID, "CONNECTED", callback=callback(), aws_account_id=ACCOUNT, region=REGION
    )
    assert recorded.status is ConnectionStatus.CONNECTED and reads == []
    conn = real_get(ORG, CONN_ID)
    assert conn is not None and conn.connected_at is not None and conn.role_arn == callback().role_arn
    assert deps.events.types() == ["AccountConnected"]  # type: ignore[attr-defined]


def test_a_reverification_keeps_when_the_account_first_connected() -> None:
    deps = outcome_deps()
    record_outcome(
        deps, ORG, CONN_ID, "CONNECTED", callback=callback(), aws_account_id=ACCOUNT, region=REGION
    )
    first = deps.connections.get(ORG, CONN_ID).connected_at  # type: ignore[union-attr]
    deps.clock.advance(3600)  # type: ignore[attr-defined]
    record_outcome(
        deps, ORG, CONN_ID, "CONNECTED", callback=callback(), aws_account_id=ACCOUNT, region=REGION
    )
    assert deps.connections.get(ORG, CONN_ID).connected_at == first  # type: ignore[union-attr]


def test_a_failed_connection_frees_its_account_and_cannot_take_it_back_from_a_newer_one() -> None:
    # GIVEN a connection that failed, and a newer connection of the same account and region
    deps = outcome_deps()
    assert record_outcome(deps, ORG, CONN_ID, "EXPIRED").status is ConnectionStatus.FAILED
    newer = pending_connection(FakeClock(), connection_id="conn_" + "n" * 26)
    deps.connections.create(newer)  # the account and region were free again
    # WHEN the failed one is re-verified (its customer stack updated)
    recorded = record_outcome(deps, ORG, CONN_ID, "CONNECTED", callback=callback())
    # THEN it stays FAILED, saying which connection holds the account, and the newer one is untouched
    assert recorded.status is ConnectionStatus.FAILED and newer.connection_id in (recorded.reason or "")
    assert deps.connections.get(ORG, CONN_ID).status is ConnectionStatus.FAILED  # type: ignore[union-attr]
    assert deps.connections.get(ORG, newer.connection_id).status is ConnectionStatus.PENDING  # type: ignore[union-attr]


def test_the_answer_takes_the_outcome_steps_status_and_reason_without_reading_the_connection() -> None:
    # GIVEN the outcome step said FAILED and why, and the connection is not read (it is gone here)
    deps = _respond_deps(ConnectionStatus.PENDING)
    deps.connections.items.clear()  # type: ignore[attr-defined]
    told = state("k1").model_copy(
        update={"outcome": Outcome(status="FAILED", reason="role is in another account")}
    )
    # WHEN CloudFormation is answered THEN it reads what the outcome step recorded
    assert answer_cloudformation(deps, ORG, CONN_ID, told) == (True, ConnectionStatus.FAILED)
    body = deps.responder.sent[0][1]  # type: ignore[attr-defined]
    assert body["Status"] == "FAILED" and body["Reason"] == "role is in another account"
